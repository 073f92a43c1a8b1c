package lockstep

import (
	"golang.org/x/arch/x86/x86asm"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/cpu/interp"
)

// undefinedFlags returns the arithmetic flags the architecture leaves
// undefined after inst, given the count register's low byte before it
// (Intel SDM vol. 2 and AMD APM vol. 3 agree on these):
//
//	MUL, IMUL            SF ZF AF PF (CF and OF say whether the result fits)
//	DIV, IDIV            all six
//	AND OR XOR TEST      AF
//	SHL SHR SAR          AF when the masked count is not 0; OF when it is over 1
//	ROL ROR RCL RCR      OF when the masked count is over 1
//	SHLD SHRD            AF, OF when the count is over 1, and all when it
//	                     exceeds the operand size
//	BSF BSR              CF OF SF AF PF (ZF says whether the source was 0);
//	                     with an F3 prefix these are TZCNT and LZCNT, which
//	                     leave OF SF AF PF undefined (CF and ZF defined)
//	BT BTS BTR BTC       OF SF AF PF
//
// A count of 0 leaves the flags alone, which is defined.
func undefinedFlags(inst x86asm.Inst, cl uint8) uint64 {
	count := func(arg x86asm.Arg) (uint64, bool) {
		switch a := arg.(type) {
		case x86asm.Imm:
			return uint64(a), true
		case x86asm.Reg:
			if a == x86asm.CL {
				return uint64(cl), true
			}
		}
		return 0, false
	}
	mask := uint64(0x1F)
	if inst.DataSize == 64 {
		mask = 0x3F
	}
	switch inst.Op {
	case x86asm.MUL, x86asm.IMUL:
		return flagSF | flagZF | flagAF | flagPF
	case x86asm.DIV, x86asm.IDIV:
		return flagsArith
	case x86asm.AND, x86asm.OR, x86asm.XOR, x86asm.TEST:
		return flagAF
	case x86asm.SHL, x86asm.SHR, x86asm.SAR:
		n, ok := count(inst.Args[1])
		if !ok {
			return flagAF | flagOF
		}
		switch n &= mask; {
		case n == 0:
			return 0
		case n == 1:
			return flagAF
		}
		return flagAF | flagOF
	case x86asm.ROL, x86asm.ROR, x86asm.RCL, x86asm.RCR:
		n, ok := count(inst.Args[1])
		if !ok || n&mask > 1 {
			return flagOF
		}
		return 0
	case x86asm.SHLD, x86asm.SHRD:
		n, ok := count(inst.Args[2])
		if !ok {
			return flagsArith
		}
		switch n &= mask; {
		case n == 0:
			return 0
		case n == 1:
			return flagAF
		case n > uint64(inst.DataSize):
			return flagsArith
		}
		return flagAF | flagOF
	case x86asm.LZCNT, x86asm.TZCNT:
		return flagOF | flagSF | flagAF | flagPF
	case x86asm.BSF, x86asm.BSR:
		if hasPrefix(inst, x86asm.PrefixREP) {
			return flagOF | flagSF | flagAF | flagPF
		}
		return flagCF | flagOF | flagSF | flagAF | flagPF
	case x86asm.BT, x86asm.BTS, x86asm.BTR, x86asm.BTC:
		return flagOF | flagSF | flagAF | flagPF
	}
	return 0
}

func hasPrefix(inst x86asm.Inst, p x86asm.Prefix) bool {
	for _, q := range inst.Prefix {
		if q == 0 {
			break
		}
		if q&0xFF == p&0xFF {
			return true
		}
	}
	return false
}

// readsCounter reports whether inst reads the time-stamp counter, whose
// value differs between any two runs.
func readsCounter(inst x86asm.Inst) bool {
	return inst.Op == x86asm.RDTSC || inst.Op == x86asm.RDTSCP
}

// classify decodes the instruction about to run from regs: the flags it
// leaves undefined, and whether it reads the time-stamp counter.
func classify(insn []byte, regs *cpu.Regs) (undefined uint64, counter bool) {
	inst, err := x86asm.Decode(interp.Canonical(insn), 64)
	if err != nil {
		return 0, false
	}
	return undefinedFlags(inst, uint8(regs.RCX)), readsCounter(inst)
}

// mask makes the tested side's state t agree with the oracle's o where
// they may legitimately differ (flags left undefined, the time-stamp
// counter, a volatile syscall's result): in t and, when own is not nil
// (the tested side's own thread), in own too. volatileTrap says the trap
// being resumed from was a syscall whose result depends on when it ran.
// It reports whether it changed anything.
func mask(o, t *State, own *cpu.Regs, volatileTrap bool) bool {
	var changed bool
	adopt := func(field func(*cpu.Regs) *uint64, v uint64) {
		if p := field(&t.Regs); *p != v {
			changed = true
			*p = v
		}
		if own != nil {
			*field(own) = v
		}
	}
	rflags := func(r *cpu.Regs) *uint64 { return &r.RFLAGS }
	rax := func(r *cpu.Regs) *uint64 { return &r.RAX }
	rcx := func(r *cpu.Regs) *uint64 { return &r.RCX }
	rdx := func(r *cpu.Regs) *uint64 { return &r.RDX }
	switch o.Phase {
	case phaseStep:
		if o.undefined != 0 && o.Exit == t.Exit {
			adopt(rflags, t.Regs.RFLAGS&^o.undefined|o.Regs.RFLAGS&o.undefined)
		}
		if o.counter && o.Exit == t.Exit {
			adopt(rax, o.Regs.RAX)
			adopt(rdx, o.Regs.RDX)
			if o.Regs.RCX>>32 == 0 && t.Regs.RCX>>32 == 0 {
				adopt(rcx, o.Regs.RCX) // RDTSCP's TSC_AUX
			}
		}
	case phaseTrap:
		// The thread ran freely to the trap: the instruction that last
		// wrote the arithmetic flags ran unobserved and may have left
		// them undefined (a shift before a copy-on-write fault, say),
		// so they are not compared here; stepped instructions check
		// them. SYSCALL saved them in R11 as well.
		arith := func(v, from uint64) uint64 { return v&^flagsArith | from&flagsArith }
		adopt(rflags, arith(t.Regs.RFLAGS, o.Regs.RFLAGS))
		if o.Exit.Kind == cpu.ExitSyscall && t.Exit.Kind == cpu.ExitSyscall {
			r11 := func(r *cpu.Regs) *uint64 { return &r.R11 }
			adopt(r11, arith(t.Regs.R11, o.Regs.R11))
		}
	case phaseResume:
		if volatileTrap {
			adopt(rax, o.Regs.RAX)
		}
	}
	return changed
}
