package syscall

// ipcCalls are pipes and message queues.
var ipcCalls = map[int]handler{}
