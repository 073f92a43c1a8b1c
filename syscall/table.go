// Package syscall owns the Aurora system call ABI: the table of syscall
// numbers, names and C signatures (the single source of truth for both the Go
// kernel and the guest headers), the decoding of arguments from an engine's
// register file, the strace-style trace line, and the dispatch of each call
// into package kernel.
//
// The guest's <aurora/syscalls.h> and its wrapper functions are generated from
// Table by `go run ./syscall/gen` (see gen.go); TestGuestHeadersMatchTable
// fails when the committed files drift from the table, so a corrected number
// is a one-line change here followed by `make generate`.
package syscall

// ArgKind says how an argument is shown in a trace line and, for buffers,
// which other argument carries its length.
type ArgKind int

const (
	// Int is a signed decimal integer (fds, pids, statuses).
	Int ArgKind = iota
	// Uint is an unsigned decimal integer (lengths, ports, milliseconds).
	Uint
	// Hex is an address or bit pattern, shown in hexadecimal.
	Hex
	// Str is a NUL-terminated guest string such as a path.
	Str
	// OutBuf is a buffer the guest hands to the kernel (write, send); the
	// next argument is its length, and a trace shows its leading bytes.
	OutBuf
	// InBuf is a buffer the kernel fills (read, recv); a trace shows the
	// address only.
	InBuf
	// IPv4 is an IPv4 address in network byte order, shown dotted.
	IPv4
	// Sig is a signal number, shown by name (SIGTERM).
	Sig
	// Handler is a signal handler: SIG_DFL, SIG_IGN or an address.
	Handler
	// Long is a signed 64-bit integer (file offsets).
	Long
	// StrVec is a NULL-terminated array of guest strings (execve's argv),
	// shown as a list.
	StrVec
)

// Arg is one parameter of a syscall as the guest C prototype declares it.
type Arg struct {
	CType string // C type in the prototype, e.g. "const void *"
	Name  string
	Kind  ArgKind
}

// Source records whether a number comes from Aurora's documentation or was
// fixed by aurora-vm where the documentation is silent.
type Source string

const (
	Doc Source = "doc"
	VM  Source = "vm"
)

// Desc describes one syscall.
type Desc struct {
	Num    int
	Name   string // lower case; the guest wrapper is Name + "_syscall"
	Ret    string // C return type of the wrapper
	Args   []Arg
	Source Source
	// HexResult shows the result in hexadecimal in traces (addresses).
	HexResult bool
	// NoReturn marks calls that never return to the caller (exit).
	NoReturn bool
	// NoFlush marks calls that never need pending guest stdio output
	// flushed first: pure queries and memory management, which stay on the
	// fast path.
	NoFlush bool
}

// Syscall numbers. Aurora's own range is 0-39; 64 and up is free for
// aurora-vm extensions.
const (
	SysExit      = 0
	SysWrite     = 1
	SysGetpid    = 2
	SysFork      = 3
	SysExecve    = 4
	SysWaitpid   = 5
	SysOpen      = 6
	SysClose     = 7
	SysRead      = 8
	SysStat      = 9
	SysFstat     = 10
	SysLseek     = 11
	SysGetdents  = 12
	SysMmap      = 13
	SysMunmap    = 14
	SysYield     = 15
	SysPipe      = 16
	SysDup2      = 17
	SysKill      = 18
	SysMsgsnd    = 19
	SysMsgrcv    = 20
	SysShmget    = 21
	SysShmat     = 22
	SysShmdt     = 23
	SysSocket    = 24
	SysBind      = 25
	SysConnect   = 26
	SysSend      = 27
	SysRecv      = 28
	SysMkdir     = 29
	SysUnlink    = 30
	SysBrk       = 31
	SysSignal    = 32
	SysSigreturn = 33
	SysSleep     = 34
	SysUptime    = 35
	SysSetfilter = 36
	SysGetppid   = 37
	SysListen    = 38
	SysAccept    = 39

	// aurora-vm extensions.
	SysSendto       = 64
	SysRecvfrom     = 65
	SysGetpeername  = 66
	SysGetsockname  = 67
	SysShutdown     = 68
	SysSetnonblock  = 69
	SysSettimeout   = 70
	SysPoll         = 71
	SysLasterror    = 72
	SysSetErrnoAddr = 73

	// NumSyscalls bounds the table; numbers at or above it are unknown.
	NumSyscalls = 256
)

func a(ctype, name string, kind ArgKind) Arg { return Arg{CType: ctype, Name: name, Kind: kind} }

// Table lists every Aurora syscall in number order: Aurora's own 0-39,
// then aurora-vm's extensions from 64. It is the only place numbers and
// signatures are written down.
var Table = []Desc{
	{Num: SysExit, Name: "exit", Ret: "void", Source: Doc, NoReturn: true,
		Args: []Arg{a("int", "status", Int)}},
	{Num: SysWrite, Name: "write", Ret: "long", Source: Doc,
		Args: []Arg{a("int", "fd", Int), a("const void *", "buf", OutBuf), a("size_t", "n", Uint)}},
	{Num: SysGetpid, Name: "getpid", Ret: "int", Source: VM, NoFlush: true},
	{Num: SysFork, Name: "fork", Ret: "int", Source: Doc},
	{Num: SysExecve, Name: "execve", Ret: "int", Source: Doc,
		Args: []Arg{a("const char *", "path", Str), a("char *const *", "argv", StrVec), a("char *const *", "envp", Hex)}},
	{Num: SysWaitpid, Name: "waitpid", Ret: "int", Source: VM,
		Args: []Arg{a("int", "pid", Int), a("int *", "status", Hex)}},
	{Num: SysOpen, Name: "open", Ret: "int", Source: Doc,
		Args: []Arg{a("const char *", "path", Str), a("int", "flags", Hex)}},
	{Num: SysClose, Name: "close", Ret: "int", Source: Doc,
		Args: []Arg{a("int", "fd", Int)}},
	{Num: SysRead, Name: "read", Ret: "long", Source: Doc,
		Args: []Arg{a("int", "fd", Int), a("void *", "buf", InBuf), a("size_t", "n", Uint)}},
	{Num: SysStat, Name: "stat", Ret: "int", Source: Doc,
		Args: []Arg{a("const char *", "path", Str), a("struct stat *", "st", Hex)}},
	{Num: SysFstat, Name: "fstat", Ret: "int", Source: VM,
		Args: []Arg{a("int", "fd", Int), a("struct stat *", "st", Hex)}},
	{Num: SysLseek, Name: "lseek", Ret: "long", Source: VM,
		Args: []Arg{a("int", "fd", Int), a("long", "off", Long), a("int", "whence", Int)}},
	{Num: SysGetdents, Name: "getdents", Ret: "long", Source: VM,
		Args: []Arg{a("int", "fd", Int), a("void *", "buf", InBuf), a("size_t", "n", Uint)}},
	{Num: SysMmap, Name: "mmap", Ret: "void *", Source: Doc, HexResult: true, NoFlush: true,
		Args: []Arg{a("void *", "addr", Hex), a("size_t", "len", Uint), a("int", "prot", Hex), a("int", "flags", Hex)}},
	{Num: SysMunmap, Name: "munmap", Ret: "int", Source: Doc, NoFlush: true,
		Args: []Arg{a("void *", "addr", Hex), a("size_t", "len", Uint)}},
	{Num: SysYield, Name: "yield", Ret: "int", Source: VM},
	{Num: SysPipe, Name: "pipe", Ret: "int", Source: VM,
		Args: []Arg{a("int *", "fds", Hex)}},
	{Num: SysDup2, Name: "dup2", Ret: "int", Source: VM,
		Args: []Arg{a("int", "oldfd", Int), a("int", "newfd", Int)}},
	{Num: SysKill, Name: "kill", Ret: "int", Source: VM,
		Args: []Arg{a("int", "pid", Int), a("int", "sig", Sig)}},
	{Num: SysMsgsnd, Name: "msgsnd", Ret: "int", Source: Doc,
		Args: []Arg{a("int", "pid", Int), a("const void *", "data", OutBuf), a("size_t", "len", Uint)}},
	{Num: SysMsgrcv, Name: "msgrcv", Ret: "int", Source: Doc,
		Args: []Arg{a("void *", "buf", InBuf), a("size_t", "max", Uint)}},
	{Num: SysShmget, Name: "shmget", Ret: "int", Source: Doc,
		Args: []Arg{a("size_t", "size", Uint)}},
	{Num: SysShmat, Name: "shmat", Ret: "void *", Source: VM, HexResult: true,
		Args: []Arg{a("int", "id", Int)}},
	{Num: SysShmdt, Name: "shmdt", Ret: "int", Source: VM,
		Args: []Arg{a("void *", "addr", Hex)}},
	{Num: SysSocket, Name: "socket", Ret: "int", Source: Doc,
		Args: []Arg{a("int", "domain", Int), a("int", "type", Int), a("int", "protocol", Int)}},
	{Num: SysBind, Name: "bind", Ret: "int", Source: Doc,
		Args: []Arg{a("int", "fd", Int), a("uint16_t", "port", Uint)}},
	{Num: SysConnect, Name: "connect", Ret: "int", Source: Doc,
		Args: []Arg{a("int", "fd", Int), a("uint32_t", "addr", IPv4), a("uint16_t", "port", Uint)}},
	{Num: SysSend, Name: "send", Ret: "long", Source: Doc,
		Args: []Arg{a("int", "fd", Int), a("const void *", "buf", OutBuf), a("size_t", "n", Uint)}},
	{Num: SysRecv, Name: "recv", Ret: "long", Source: Doc,
		Args: []Arg{a("int", "fd", Int), a("void *", "buf", InBuf), a("size_t", "n", Uint)}},
	{Num: SysMkdir, Name: "mkdir", Ret: "int", Source: VM,
		Args: []Arg{a("const char *", "path", Str)}},
	{Num: SysUnlink, Name: "unlink", Ret: "int", Source: VM,
		Args: []Arg{a("const char *", "path", Str)}},
	{Num: SysBrk, Name: "brk", Ret: "unsigned long", Source: Doc, HexResult: true, NoFlush: true,
		Args: []Arg{a("unsigned long", "new_break", Hex)}},
	{Num: SysSignal, Name: "signal", Ret: "sighandler_t", Source: VM, HexResult: true,
		Args: []Arg{a("int", "sig", Sig), a("sighandler_t", "handler", Handler)}},
	{Num: SysSigreturn, Name: "sigreturn", Ret: "int", Source: VM},
	{Num: SysSleep, Name: "sleep", Ret: "int", Source: VM,
		Args: []Arg{a("uint64_t", "ms", Uint)}},
	{Num: SysUptime, Name: "uptime", Ret: "uint64_t", Source: VM, NoFlush: true},
	{Num: SysSetfilter, Name: "setfilter", Ret: "int", Source: VM,
		Args: []Arg{a("const uint8_t *", "bitmap", Hex)}},
	{Num: SysGetppid, Name: "getppid", Ret: "int", Source: VM, NoFlush: true},
	{Num: SysListen, Name: "listen", Ret: "int", Source: Doc,
		Args: []Arg{a("int", "fd", Int)}},
	{Num: SysAccept, Name: "accept", Ret: "int", Source: Doc,
		Args: []Arg{a("int", "fd", Int)}},

	{Num: SysSendto, Name: "sendto", Ret: "long", Source: VM,
		Args: []Arg{a("int", "fd", Int), a("const void *", "buf", OutBuf), a("size_t", "n", Uint),
			a("uint32_t", "addr", IPv4), a("uint16_t", "port", Uint)}},
	{Num: SysRecvfrom, Name: "recvfrom", Ret: "long", Source: VM,
		Args: []Arg{a("int", "fd", Int), a("void *", "buf", InBuf), a("size_t", "n", Uint),
			a("uint32_t *", "addr", Hex), a("uint16_t *", "port", Hex)}},
	{Num: SysGetpeername, Name: "getpeername", Ret: "int", Source: VM,
		Args: []Arg{a("int", "fd", Int), a("uint32_t *", "addr", Hex), a("uint16_t *", "port", Hex)}},
	{Num: SysGetsockname, Name: "getsockname", Ret: "int", Source: VM,
		Args: []Arg{a("int", "fd", Int), a("uint32_t *", "addr", Hex), a("uint16_t *", "port", Hex)}},
	{Num: SysShutdown, Name: "shutdown", Ret: "int", Source: VM,
		Args: []Arg{a("int", "fd", Int), a("int", "how", Int)}},
	{Num: SysSetnonblock, Name: "setnonblock", Ret: "int", Source: VM,
		Args: []Arg{a("int", "fd", Int), a("int", "on", Int)}},
	{Num: SysSettimeout, Name: "settimeout", Ret: "int", Source: VM,
		Args: []Arg{a("int", "fd", Int), a("int", "which", Int), a("uint64_t", "ms", Uint)}},
	{Num: SysPoll, Name: "poll", Ret: "int", Source: VM,
		Args: []Arg{a("struct pollfd *", "fds", Hex), a("int", "n", Int), a("int", "timeout_ms", Int)}},
	{Num: SysLasterror, Name: "lasterror", Ret: "int", Source: VM, NoFlush: true},
	{Num: SysSetErrnoAddr, Name: "set_errno_addr", Ret: "int", Source: VM, NoFlush: true,
		Args: []Arg{a("int *", "addr", Hex)}},
}

// byNum indexes Table by number; nil entries are unknown numbers.
var byNum [NumSyscalls]*Desc

func init() {
	for i := range Table {
		d := &Table[i]
		if i > 0 && d.Num <= Table[i-1].Num || byNum[d.Num] != nil {
			panic("syscall: Table out of order at " + d.Name)
		}
		byNum[d.Num] = d
	}
}

// Lookup returns the description of syscall number n, or nil if n is not an
// Aurora syscall.
func Lookup(n uint64) *Desc {
	if n >= NumSyscalls {
		return nil
	}
	return byNum[n]
}
