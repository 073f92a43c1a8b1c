package syscall

// shmCalls are shared memory segments.
var shmCalls = map[int]handler{}
