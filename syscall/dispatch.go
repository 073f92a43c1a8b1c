package syscall

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/kernel"
	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/kernel/signal"
)

// Args are a syscall's raw argument words in ABI order.
type Args [6]uint64

// argsX86 decodes the x86-64 Aurora convention: RDI, RSI, RDX, R10, R8, R9.
func argsX86(r *cpu.Regs) Args {
	return Args{r.RDI, r.RSI, r.RDX, r.R10, r.R8, r.R9}
}

// handler carries out one syscall and returns the value for RAX, or an
// error, which makes the call return -1 with the error's errno.
type handler func(p *kernel.Process, a Args) (uint64, error)

// errResult is Aurora's generic failure, -1; filteredResult is -2, what a
// call blocked by the process's syscall filter returns.
const (
	errResult      = ^uint64(0)
	filteredResult = ^uint64(1)
)

// fd, signed and addr decode arguments the way the C prototypes declare
// them: ints are the low 32 bits, sign-extended.
func fd(v uint64) int     { return int(int32(v)) }
func signed(v uint64) int { return int(int32(v)) }

// handlers holds the syscalls implemented so far; every other number in
// Table returns -1 (ENOSYS) until its issue lands.
var handlers = map[int]handler{}

func init() {
	for _, group := range []map[int]handler{processCalls, memoryCalls, fileCalls, netCalls, fsCalls, ipcCalls, shmCalls} {
		for n, h := range group {
			handlers[n] = h
		}
	}
	for n, h := range handlers {
		byNumHandler[n] = h
	}
}

// byNumHandler indexes handlers for the trap path.
var byNumHandler [NumSyscalls]handler

// unfiltered lists the calls the syscall filter never blocks: a process
// can always end, and always come back from a signal handler.
func unfiltered(num uint64) bool { return num == SysExit || num == SysSigreturn }

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
		p.SetErrno(errno.EPERM)
	case h != nil:
		var err error
		if result, err = h(p, args); err != nil {
			result = errResult
			p.SetErrno(errno.Of(err))
		}
	default:
		p.SetErrno(errno.ENOSYS)
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
	case d.Num == SysPipe && result == 0:
		var fds [8]byte
		if p.Memory().ReadAt(fds[:], a[0]) == nil {
			fmt.Fprintf(&b, "0 [%d, %d]", int32(binary.LittleEndian.Uint32(fds[:4])), int32(binary.LittleEndian.Uint32(fds[4:])))
		} else {
			b.WriteString("0")
		}
	case d.Num == SysSignal && result != errResult:
		b.WriteString(formatArg(p, d, 1, Handler, Args{0, result}))
	case d.Num == SysWaitpid && int64(result) > 0 && a[1] != 0:
		var st [4]byte
		if p.Memory().ReadAt(st[:], a[1]) == nil {
			fmt.Fprintf(&b, "%d (status %d)", int64(result), int32(binary.LittleEndian.Uint32(st[:])))
		} else {
			fmt.Fprintf(&b, "%d", int64(result))
		}
	case result == errResult:
		fmt.Fprintf(&b, "-1 %v", p.LastErrno())
	case d.HexResult:
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
	case Long:
		return fmt.Sprint(int64(v))
	case StrVec:
		return formatStrVec(p, v)
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

// formatStrVec renders a NULL-terminated array of string pointers as
// ["a", "b"], eliding after a few entries.
func formatStrVec(p *kernel.Process, addr uint64) string {
	if addr == 0 {
		return "NULL"
	}
	list, err := p.StringVector(addr)
	if err != nil {
		return fmt.Sprintf("%#x", addr)
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		if i == 8 {
			b.WriteString("...")
			break
		}
		b.WriteString(quote([]byte(s), 64))
	}
	b.WriteByte(']')
	return b.String()
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
