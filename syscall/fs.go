package syscall

// fsCalls are the calls on paths and the file system: open, stat, fstat, lseek, getdents, mkdir, unlink.
var fsCalls = map[int]handler{}
