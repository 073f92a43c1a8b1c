package syscall

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/kernel"
	"github.com/aurora-vm/aurora-vm/kernel/signal"
)

// Args are a syscall's raw argument words in ABI order.
type Args [6]uint64

// argsX86 decodes the x86-64 Aurora convention: RDI, RSI, RDX, R10, R8, R9.
func argsX86(r *cpu.Regs) Args {
	return Args{r.RDI, r.RSI, r.RDX, r.R10, r.R8, r.R9}
}

// handler carries out one syscall and returns the value for RAX.
type handler func(p *kernel.Process, a Args) uint64

// errResult is Aurora's generic failure, -1; filteredResult is -2, what a
// call blocked by the process's syscall filter returns.
const (
	errResult      = ^uint64(0)
	filteredResult = ^uint64(1)
)

func ok(v int64) uint64 { return uint64(v) }

// handlers holds the syscalls implemented so far; every other number in
// Table returns -1 until its issue lands.
var handlers = map[int]handler{
	SysExit: func(p *kernel.Process, a Args) uint64 {
		p.Exit(int(a[0]))
		return 0
	},
	SysWrite: func(p *kernel.Process, a Args) uint64 {
		return ok(p.Write(int(int32(a[0])), a[1], a[2]))
	},
	SysRead: func(p *kernel.Process, a Args) uint64 {
		return ok(p.Read(int(int32(a[0])), a[1], a[2]))
	},
	SysGetpid:  func(p *kernel.Process, a Args) uint64 { return uint64(p.Pid()) },
	SysGetppid: func(p *kernel.Process, a Args) uint64 { return uint64(p.Ppid()) },
	SysBrk:     func(p *kernel.Process, a Args) uint64 { return p.Brk(a[0]) },
	SysMmap:    func(p *kernel.Process, a Args) uint64 { return p.Mmap(a[0], a[1]) },
	SysMunmap:  func(p *kernel.Process, a Args) uint64 { return ok(p.Munmap(a[0], a[1])) },
	SysYield: func(p *kernel.Process, a Args) uint64 {
		p.Yield()
		return 0
	},
	SysSleep: func(p *kernel.Process, a Args) uint64 {
		if !p.Sleep(time.Duration(min(a[0], uint64(1<<40))) * time.Millisecond) {
			return errResult // cut short by a signal
		}
		return 0
	},
	SysFork: func(p *kernel.Process, a Args) uint64 {
		return ok(p.Fork(p.Regs()))
	},
	SysWaitpid: waitpid,
	SysClose: func(p *kernel.Process, a Args) uint64 {
		if !p.FDs().Close(int(int32(a[0]))) {
			return errResult
		}
		return 0
	},
	SysDup2: func(p *kernel.Process, a Args) uint64 {
		if !p.FDs().Dup2(int(int32(a[0])), int(int32(a[1]))) {
			return errResult
		}
		return a[1] & 0xFFFFFFFF
	},
	SysKill: func(p *kernel.Process, a Args) uint64 {
		pid := int(int32(a[0]))
		if pid <= 0 || !p.KillPid(pid, int(int32(a[1]))) {
			return errResult
		}
		return 0
	},
	SysSignal: func(p *kernel.Process, a Args) uint64 {
		prev, valid := p.SetHandler(int(int32(a[0])), a[1])
		if !valid {
			return errResult
		}
		return prev
	},
	SysSigreturn: func(p *kernel.Process, a Args) uint64 { return p.Sigreturn() },
	SysSetfilter: func(p *kernel.Process, a Args) uint64 {
		var bitmap [32]byte
		if p.Memory().ReadAt(bitmap[:], a[0]) != nil {
			return errResult
		}
		p.SetFilter(bitmap)
		return 0
	},
	SysUptime: func(p *kernel.Process, a Args) uint64 {
		return uint64(p.Kernel().Uptime().Milliseconds())
	},
}

// waitpid reaps a child and stores its status (the exit code, or 128 plus
// the signal) at a[1] unless that is NULL. A status pointer the process
// cannot write fails the call and leaves the child unreaped.
func waitpid(p *kernel.Process, a Args) uint64 {
	statusAddr := a[1]
	writable := func() bool {
		return statusAddr == 0 || p.Memory().Access(statusAddr, 4, true, func([]byte) {}) == nil
	}
	pid, st := p.Waitpid(int(int32(a[0])), writable)
	if pid < 0 {
		return errResult
	}
	if statusAddr != 0 {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(st.WaitStatus()))
		p.Memory().WriteAt(b[:], statusAddr)
	}
	return uint64(pid)
}

// unfiltered lists the calls the syscall filter never blocks: a process
// can always end, and always come back from a signal handler.
func unfiltered(num uint64) bool { return num == SysExit || num == SysSigreturn }

// byNumHandler indexes handlers for the trap path.
var byNumHandler [NumSyscalls]handler

func init() {
	for n, h := range handlers {
		byNumHandler[n] = h
	}
}

// Dispatch serves the syscall in regs for p: it is the kernel's
// SyscallHandler for x86-64 engines.
func Dispatch(p *kernel.Process, regs *cpu.Regs) {
	num, args := regs.RAX, argsX86(regs)
	var h handler
	if num < NumSyscalls {
		h = byNumHandler[num]
	}
	filtered := p.Filtered(num) && !unfiltered(num)
	result := errResult
	switch {
	case filtered:
		result = filteredResult
	case h != nil:
		result = h(p, args)
	}
	regs.RAX = result
	if w := p.Kernel().Trace(); w != nil {
		outcome := done
		switch {
		case filtered:
			outcome = blocked
		case h == nil:
			outcome = missing
		}
		fmt.Fprintln(w, TraceLine(p, num, args, result, outcome))
	}
}

// outcome says how a traced call went.
type outcome int

const (
	done    outcome = iota // it ran
	missing                // not implemented
	blocked                // the syscall filter blocked it
)

// TraceLine formats one syscall strace-style:
//
//	[1] write(1, "hi\n", 3) = 3
func TraceLine(p *kernel.Process, num uint64, a Args, result uint64, how outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%d] ", p.Pid())
	d := Lookup(num)
	if d == nil {
		fmt.Fprintf(&b, "syscall_%d(%#x, %#x, %#x, %#x) = -1 (unknown syscall)", num, a[0], a[1], a[2], a[3])
		return b.String()
	}
	b.WriteString(d.Name)
	b.WriteByte('(')
	for i, arg := range d.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(formatArg(p, d, i, arg.Kind, a))
	}
	b.WriteString(") = ")
	switch {
	case how == blocked:
		b.WriteString("-2 (filtered)")
	case d.NoReturn:
		b.WriteString("?")
	case how == missing:
		b.WriteString("-1 (not implemented)")
	case d.Num == SysSignal && result != errResult:
		b.WriteString(formatArg(p, d, 1, Handler, Args{0, result}))
	case d.Num == SysWaitpid && int64(result) > 0 && a[1] != 0:
		var st [4]byte
		if p.Memory().ReadAt(st[:], a[1]) == nil {
			fmt.Fprintf(&b, "%d (status %d)", int64(result), int32(binary.LittleEndian.Uint32(st[:])))
		} else {
			fmt.Fprintf(&b, "%d", int64(result))
		}
	case d.HexResult && result != errResult:
		fmt.Fprintf(&b, "%#x", result)
	default:
		fmt.Fprintf(&b, "%d", int64(result))
	}
	return b.String()
}

func formatArg(p *kernel.Process, d *Desc, i int, kind ArgKind, a Args) string {
	v := a[i]
	switch kind {
	case Int:
		return fmt.Sprint(int32(v))
	case Uint:
		return fmt.Sprint(v)
	case Str:
		s, err := p.Memory().ReadString(v, 256)
		if err != nil {
			return fmt.Sprintf("%#x", v)
		}
		return quote([]byte(s), 256)
	case OutBuf:
		n := min(a[i+1], 32)
		buf := make([]byte, n)
		if err := p.Memory().ReadAt(buf, v); err != nil {
			return fmt.Sprintf("%#x", v)
		}
		s := quote(buf, 32)
		if a[i+1] > n {
			s += "..."
		}
		return s
	case IPv4:
		return fmt.Sprintf("%d.%d.%d.%d", byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	case Sig:
		if sig := int(int32(v)); sig > 0 && sig < signal.NSIG {
			return signal.Name(sig)
		}
		return fmt.Sprint(int32(v))
	case Handler:
		switch v {
		case signal.Default:
			return "SIG_DFL"
		case signal.Ignore:
			return "SIG_IGN"
		}
		return fmt.Sprintf("%#x", v)
	default:
		return fmt.Sprintf("%#x", v)
	}
}

// quote renders bytes as a C string literal.
func quote(b []byte, max int) string {
	var s strings.Builder
	s.WriteByte('"')
	for i, c := range b {
		if i == max {
			break
		}
		switch {
		case c == '\n':
			s.WriteString(`\n`)
		case c == '\t':
			s.WriteString(`\t`)
		case c == '\r':
			s.WriteString(`\r`)
		case c == '"' || c == '\\':
			s.WriteByte('\\')
			s.WriteByte(c)
		case c < 0x20 || c >= 0x7F:
			fmt.Fprintf(&s, `\x%02x`, c)
		default:
			s.WriteByte(c)
		}
	}
	s.WriteByte('"')
	return s.String()
}
