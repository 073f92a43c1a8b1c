package syscall

import (
	"fmt"
	"strings"
	"time"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/kernel"
)

// Args are a syscall's raw argument words in ABI order.
type Args [6]uint64

// argsX86 decodes the x86-64 Aurora convention: RDI, RSI, RDX, R10, R8, R9.
func argsX86(r *cpu.Regs) Args {
	return Args{r.RDI, r.RSI, r.RDX, r.R10, r.R8, r.R9}
}

// handler carries out one syscall and returns the value for RAX.
type handler func(p *kernel.Process, a Args) uint64

// errResult is Aurora's generic failure, -1.
const errResult = ^uint64(0)

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
		p.Sleep(time.Duration(min(a[0], uint64(1<<40))) * time.Millisecond)
		return 0
	},
	SysUptime: func(p *kernel.Process, a Args) uint64 {
		return uint64(p.Kernel().Uptime().Milliseconds())
	},
}

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
	result := errResult
	if h != nil {
		result = h(p, args)
	}
	regs.RAX = result
	if w := p.Kernel().Trace(); w != nil {
		fmt.Fprintln(w, TraceLine(p, num, args, result, h != nil))
	}
}

// TraceLine formats one syscall strace-style:
//
//	[1] write(1, "hi\n", 3) = 3
func TraceLine(p *kernel.Process, num uint64, a Args, result uint64, implemented bool) string {
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
	case d.NoReturn:
		b.WriteString("?")
	case !implemented:
		b.WriteString("-1 (not implemented)")
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
