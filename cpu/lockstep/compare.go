package lockstep

import (
	"fmt"
	"strings"

	"golang.org/x/arch/x86/x86asm"

	"github.com/aurora-vm/aurora-vm/cpu"
)

// RFLAGS bits compared: the arithmetic flags and DF. TF is the engines'
// own business (the KVM engine steps with it), IF and the rest are fixed.
const (
	flagCF = 1 << 0
	flagPF = 1 << 2
	flagAF = 1 << 4
	flagZF = 1 << 6
	flagSF = 1 << 7
	flagTF = 1 << 8 // not compared; the program may set it (POPF)
	flagDF = 1 << 10
	flagOF = 1 << 11

	flagsArith    = flagCF | flagPF | flagAF | flagZF | flagSF | flagOF
	flagsCompared = flagsArith | flagDF
)

// Diff is one field that differs.
type Diff struct {
	Field          string
	Oracle, Tested string
}

var gprNames = [...]string{"RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RSP", "RBP",
	"R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15", "RIP"}

func gprs(r *cpu.Regs) [17]uint64 {
	return [17]uint64{r.RAX, r.RBX, r.RCX, r.RDX, r.RSI, r.RDI, r.RSP, r.RBP,
		r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15, r.RIP}
}

func hex(v uint64) string { return fmt.Sprintf("0x%x", v) }

// describeExit names an exit for a report.
func describeExit(ex cpu.Exit) string {
	switch ex.Kind {
	case cpu.ExitStep:
		return "step"
	case cpu.ExitSyscall:
		if ex.Int80 {
			return "syscall (int $0x80)"
		}
		return "syscall"
	case cpu.ExitFault:
		return fmt.Sprintf("fault: %v (vector %d, error code 0x%x, address 0x%x)", ex.Fault, ex.Fault.Vector, ex.Fault.ErrorCode, ex.Fault.Addr)
	case cpu.ExitInterrupted:
		return "interrupted"
	}
	return fmt.Sprintf("exit kind %d", ex.Kind)
}

// compare lists the differences between two states at the same meeting
// point.
func compare(o, t *State) []Diff {
	var d []Diff
	add := func(field, a, b string) { d = append(d, Diff{field, a, b}) }
	if o.Phase != t.Phase {
		add("where", o.where(), t.where())
		return d
	}
	if o.Phase == phaseStep || o.Phase == phaseTrap {
		if a, b := describeExit(o.Exit), describeExit(t.Exit); a != b {
			add("exit", a, b)
		}
	}
	if o.Created != t.Created {
		add("threads made", fmt.Sprint(o.Created), fmt.Sprint(t.Created))
	}
	og, tg := gprs(&o.Regs), gprs(&t.Regs)
	for i := range og {
		if og[i] != tg[i] {
			add(gprNames[i], hex(og[i]), hex(tg[i]))
		}
	}
	if a, b := o.Regs.RFLAGS&flagsCompared, t.Regs.RFLAGS&flagsCompared; a != b {
		add("RFLAGS", flagString(a), flagString(b))
	}
	if o.Phase == phaseEnd || o.noFP || t.noFP {
		return d
	}
	for i := range o.XMM {
		if o.XMM[i] != t.XMM[i] {
			add(fmt.Sprintf("XMM%d", i), xmmString(o.XMM[i]), xmmString(t.XMM[i]))
		}
	}
	if o.MXCSR != t.MXCSR {
		add("MXCSR", fmt.Sprintf("0x%04x", o.MXCSR), fmt.Sprintf("0x%04x", t.MXCSR))
	}
	ox, tx := &o.X87, &t.X87
	if ox.FCW != tx.FCW {
		add("FCW", fmt.Sprintf("0x%04x", ox.FCW), fmt.Sprintf("0x%04x", tx.FCW))
	}
	if a, b := ox.FSW&fswCompared, tx.FSW&fswCompared; a != b {
		add("FSW", fmt.Sprintf("0x%04x", a), fmt.Sprintf("0x%04x (compared bits 0x%04x)", b, fswCompared))
	}
	if ox.FTW != tx.FTW {
		add("FTW", fmt.Sprintf("0x%02x", ox.FTW), fmt.Sprintf("0x%02x", tx.FTW))
	} else {
		top := int(ox.FSW>>11) & 7
		for i := range ox.ST {
			if ox.FTW&(1<<((top+i)&7)) != 0 && ox.ST[i] != tx.ST[i] {
				add(fmt.Sprintf("ST%d", i), fmt.Sprintf("% x", ox.ST[i]), fmt.Sprintf("% x", tx.ST[i]))
			}
		}
	}
	return d
}

func xmmString(x [2]uint64) string { return fmt.Sprintf("%016x_%016x", x[1], x[0]) }

// flagString shows flags as their letters: "OF SF ZF ..", lower case when
// clear.
func flagString(f uint64) string {
	var b strings.Builder
	for _, n := range []struct {
		bit  uint64
		name string
	}{{flagOF, "OF"}, {flagDF, "DF"}, {flagSF, "SF"}, {flagZF, "ZF"}, {flagAF, "AF"}, {flagPF, "PF"}, {flagCF, "CF"}} {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if f&n.bit != 0 {
			b.WriteString(n.name)
		} else {
			b.WriteString(strings.ToLower(n.name))
		}
	}
	return b.String()
}

// Divergence is the first difference between the two sides of a thread.
type Divergence struct {
	Names [2]string
	// Thread names the thread and how it was made (see ThreadStats).
	Thread         string
	Oracle, Tested *State
	Diffs          []Diff
	// Before is the oracle's state at the last trap before the
	// difference, if any.
	Before *State
}

// Disassemble shows an instruction in AT&T syntax, or why it cannot.
func Disassemble(code []byte, pc uint64) string {
	inst, err := x86asm.Decode(code, 64)
	if err != nil {
		return fmt.Sprintf("(cannot decode: %v)", err)
	}
	return x86asm.GNUSyntax(inst, pc, nil)
}

func (d *Divergence) String() string {
	var b strings.Builder
	o, t := d.Oracle, d.Tested
	fmt.Fprintf(&b, "%s and %s diverge", d.Names[Oracle], d.Names[Tested])
	if d.Thread != "" {
		fmt.Fprintf(&b, " in thread %s", d.Thread)
	}
	fmt.Fprintf(&b, " at %s %d (trap %d)\n", o.Phase, o.Step, o.Trap)
	switch o.Phase {
	case phaseStart:
		fmt.Fprintf(&b, "  where the thread starts: the kernels made it with different registers\n")
	case phaseStep:
		n := len(o.Insn)
		if inst, err := x86asm.Decode(o.Insn, 64); err == nil {
			n = inst.Len
		}
		fmt.Fprintf(&b, "  after the instruction at 0x%x: % x    %s\n", o.PC, o.Insn[:n], Disassemble(o.Insn, o.PC))
	case phaseTrap:
		fmt.Fprintf(&b, "  at a trap reached by running freely from 0x%x (first instruction: %s); step through this stretch (raise Steps) to find the instruction\n",
			o.PC, Disassemble(o.Insn, o.PC))
	case phaseResume:
		fmt.Fprintf(&b, "  where the kernels resume the thread after a trap (the syscall's result or a signal delivery differs)\n")
		if d.Before != nil {
			fmt.Fprintf(&b, "  the trap: %s at pc 0x%x with RAX 0x%x\n", describeExit(d.Before.Exit), d.Before.PC, d.Before.Regs.RAX)
		}
	case phaseEnd:
		fmt.Fprintf(&b, "  where the thread ended on one engine\n")
	}
	fmt.Fprintf(&b, "  %-8s %-40s %s\n", "", d.Names[Oracle], d.Names[Tested])
	for _, x := range d.Diffs {
		fmt.Fprintf(&b, "  %-8s %-40s %s\n", x.Field, x.Oracle, x.Tested)
	}
	for side, s := range []*State{o, t} {
		fmt.Fprintf(&b, "  %s registers", d.Names[side])
		if s.Phase == phaseStep || s.Phase == phaseTrap {
			// Other phases have no exit.
			fmt.Fprintf(&b, " (%s)", describeExit(s.Exit))
		}
		b.WriteString(":\n")
		writeRegs(&b, s)
	}
	if len(o.Recent) > 0 {
		fmt.Fprintf(&b, "  instructions stepped before it:")
		for _, pc := range o.Recent {
			fmt.Fprintf(&b, " 0x%x", pc)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func writeRegs(b *strings.Builder, s *State) {
	g := gprs(&s.Regs)
	for i := range g {
		fmt.Fprintf(b, "    %-3s %016x", gprNames[i], g[i])
		if i%4 == 3 {
			b.WriteByte('\n')
		}
	}
	fmt.Fprintf(b, "    RFLAGS %s\n", flagString(s.Regs.RFLAGS))
	if s.noFP {
		return
	}
	fmt.Fprintf(b, "    MXCSR %04x FCW %04x FSW %04x FTW %02x\n", s.MXCSR, s.X87.FCW, s.X87.FSW, s.X87.FTW)
	for i := range s.XMM {
		if s.XMM[i] != [2]uint64{} {
			fmt.Fprintf(b, "    XMM%-2d %s\n", i, xmmString(s.XMM[i]))
		}
	}
}
