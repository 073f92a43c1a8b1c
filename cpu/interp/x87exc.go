package interp

import (
	"math/big"

	"github.com/aurora-vm/aurora-vm/cpu"
)

// x87 exceptions (Intel SDM vol. 1, 8.4 to 8.7). An instruction that
// meets an exception condition sets the status word's flag. When the
// control word masks it, the instruction completes with the masked
// response (an indefinite, an infinity, a denormal). When it does not:
//
//   - the status word's ES and B bits show a pending exception;
//   - an invalid operation, a denormal operand or a division by zero
//     (found before computing) leaves the stack as it was and writes no
//     memory (a compare still sets its condition codes or EFLAGS, and an
//     FLD of a denormal still loads it);
//   - an overflow or underflow into a register stores the result with its
//     exponent biased by 24576 towards the middle of the range; into
//     memory it writes nothing and leaves the stack alone;
//   - an inexact result is delivered as usual.
//
// The exception itself (#MF) is raised by the next waiting instruction:
// any x87 instruction but the no-wait controls, or FWAIT.

// Status-word bits beyond the exception flags.
const (
	swES = 1 << 7  // an unmasked exception is pending
	swC0 = 1 << 8  // condition codes
	swC2 = 1 << 10 //
	swC3 = 1 << 14 //
	swB  = 1 << 15 // busy, a copy of ES
)

// x87Rebias is the bias an unmasked overflow or underflow applies to a
// register result's exponent: 3 * 2^13.
const x87Rebias = 24576

// The exponent range of normal double-extended values: 2^x87Emin is the
// smallest, and a value of 2^(x87Emax+1) overflows.
const (
	x87Emin = 1 - f80Bias
	x87Emax = f80Bias
)

// pending reports an unmasked exception flag: the next waiting
// instruction raises #MF.
func (f *x87) pending() bool { return f.sw&^f.cw&0x3F != 0 }

// unmasked reports which of the exception flags in bits are set and
// unmasked. Once a waiting instruction has started, these were raised by
// that instruction: any earlier one would have raised #MF instead.
func (f *x87) unmasked(bits uint16) uint16 { return f.sw &^ f.cw & bits }

// canStore reports whether a memory destination may be written: no
// unmasked exception but the inexact one has been raised.
func (f *x87) canStore() bool { return f.unmasked(exIE|exDE|exZE|exOE|exUE) == 0 }

// x87NoWait reports whether the escape and ModRM bytes are one of the
// controls that do not check for a pending exception: FNCLEX, FNINIT,
// FNSTSW, FNSTCW, FNSTENV and FNSAVE (FNENI, FNDISI and FNSETPM never
// reach opX87).
func x87NoWait(esc, modrm byte) bool {
	reg := modrm >> 3 & 7
	switch esc {
	case 0xDB:
		return modrm == 0xE2 || modrm == 0xE3
	case 0xDF:
		return modrm == 0xE0
	case 0xD9:
		return modrm < 0xC0 && (reg == 6 || reg == 7)
	case 0xDD:
		return modrm < 0xC0 && (reg == 6 || reg == 7)
	}
	return false
}

// x87KeepsC1 reports whether the instruction leaves the status word's C1
// alone: the controls, FNOP, FFREE and FFREEP. The others clear it, or set
// it for a result rounded up, a stack overflow, or the sign FXAM finds.
func x87KeepsC1(esc, modrm byte) bool {
	reg := modrm >> 3 & 7
	switch esc {
	case 0xD9:
		return modrm < 0xC0 && reg >= 4 || modrm == 0xD0
	case 0xDB:
		return modrm == 0xE2
	case 0xDD:
		return modrm < 0xC0 && reg >= 4 || modrm >= 0xC0 && reg == 0
	case 0xDF:
		return modrm == 0xE0 || modrm >= 0xC0 && reg == 0
	}
	return false
}

// opX87 executes an x87 instruction: #MF first when an unmasked exception
// is pending and the instruction waits, then the instruction with the
// masked responses, then the unmasked responses undone where they differ.
func opX87(c *CPU, in *inst) {
	f := &c.fpu
	esc, modrm := in.x87op[0], in.x87op[1]
	if f.pending() && !x87NoWait(esc, modrm) {
		c.fault(cpu.VecX87, 0, 0)
		return
	}
	if !x87KeepsC1(esc, modrm) {
		f.sw &^= swC1 // set again for a result rounded up or a stack overflow
	}
	faulted := c.stop&stopFault != 0
	control := x87Control(esc, modrm)
	if f.cw&0x3F == 0x3F || control {
		// Every exception masked, the common case; or a control
		// instruction, which raises none (FLDENV and FRSTOR may load
		// flags the control word they load unmasks).
		x87Exec(c, in)
	} else {
		saved := *f
		x87Exec(c, in)
		pre := uint16(exIE | exDE | exZE)
		if (esc == 0xD9 || esc == 0xDD) && modrm < 0xC0 && modrm>>3&7 == 0 {
			pre = exIE // FLD of a denormal single or double loads it all the same
		}
		if f.unmasked(pre) != 0 {
			f.regs, f.tags, f.top = saved.regs, saved.tags, saved.top
		}
		if f.pending() {
			f.raised = true
		}
	}
	if !control && (faulted || c.stop&stopFault == 0) {
		f.ip, f.op, f.dp = in.pc, uint16(esc&7)<<8|uint16(modrm), 0
		if modrm < 0xC0 {
			f.dp = c.ea(&in.ops[0])
		}
	}
}

// unsupported reports a value in none of the formats the x87 computes
// with: an unnormal, a pseudo-infinity or a pseudo-NaN (a nonzero
// exponent without the integer bit). Arithmetic on one is invalid.
func (v f80) unsupported() bool { return v.exp() != 0 && v.mant>>63 == 0 }

// denormal reports a denormal or pseudo-denormal.
func (v f80) denormal() bool { return v.exp() == 0 && v.mant != 0 }

func (v f80) isSNaN() bool { return v.isNaN() && v.mant&(1<<62) == 0 }

// quiet returns the NaN v made quiet.
func (v f80) quiet() f80 { v.mant |= 1 << 62; return v }

// operands checks the operands of an arithmetic instruction in the order
// of the architecture's exception priority: an unsupported format or a
// signalling NaN is invalid, a NaN is the result (made quiet), and only
// then does a denormal count. It
// returns the result when the operands decide it.
func (f *x87) operands(vs ...f80) (f80, bool) {
	if r, done := f.invalidOperands(vs...); done {
		return r, true
	}
	for _, v := range vs {
		if v.denormal() {
			f.sw |= exDE
		}
	}
	return f80{}, false
}

// invalidOperands is operands without the denormal check.
func (f *x87) invalidOperands(vs ...f80) (f80, bool) {
	var nan *f80
	for i := range vs {
		v := &vs[i]
		if v.unsupported() {
			f.sw |= swIE
			return f80Indefinite, true
		}
		if v.isNaN() {
			if v.isSNaN() {
				f.sw |= swIE
			}
			// Of two NaNs a quiet one wins over a signalling one, and
			// of two alike the larger significand; of equal ones the
			// positive.
			switch {
			case nan == nil:
				nan = v
			case nan.isSNaN() != v.isSNaN():
				if nan.isSNaN() {
					nan = v
				}
			case v.mant > nan.mant || v.mant == nan.mant && v.se < nan.se:
				nan = v
			}
		}
	}
	if nan != nil {
		return nan.quiet(), true
	}
	return f80{}, false
}

// bigParts returns |z|, a finite nonzero value, as m * 2^e.
func bigParts(z *big.Float) (*big.Int, int) {
	mant := new(big.Float)
	exp := z.MantExp(mant)
	prec := int(z.MinPrec())
	mant.SetMantExp(mant, prec)
	m, _ := mant.Int(nil)
	return m.Abs(m), exp - prec
}

// result rounds z, plus a positive amount below its last bit if sticky,
// to the precision prec in the control word's rounding mode, as an
// instruction with a register destination delivers it: it sets PE, UE,
// OE and C1 (rounded up) and applies the masked or unmasked response to
// an overflow or underflow. z must be finite.
func (f *x87) result(z *big.Float, sticky bool, prec uint) f80 {
	var sign uint16
	if z.Signbit() {
		sign = 0x8000
	}
	if z.Sign() == 0 {
		return f80{se: sign}
	}
	m, e := bigParts(z)
	v, fl, up := roundF80(sign != 0, m, e, sticky, f.rc(), int(prec), f.cw)
	f.sw = f.sw&^swC1 | uint16(fl&0x3F)
	if up {
		f.sw |= swC1
	}
	return v
}

// roundF80 rounds (-1)^neg * m * 2^e (plus a positive amount below m's
// last bit if sticky) to p significant bits in mode rc. Tininess is
// detected after rounding, as for SSE. It returns the value, the flags,
// and whether the magnitude was rounded up.
func roundF80(neg bool, m *big.Int, e int, sticky bool, rc uint32, p int, cw uint16) (f80, uint32, bool) {
	top := e + m.BitLen() - 1 // the exponent of the leading bit
	var fl uint32
	if top < x87Emin {
		u, _ := roundBits(m, top-p+1-e, sticky, neg, rc)
		if top < x87Emin-1 || u.BitLen() <= p {
			if cw&exUE == 0 {
				// Unmasked: the biased result, flagged even when exact.
				v, f, up := roundF80(neg, m, e+x87Rebias, sticky, rc, p, cw|exUE)
				if v.exp() == 0 {
					v = f80{se: v.se & 0x8000} // still tiny: massive underflow
				}
				return v, f&^exTiny | exUE, up
			}
			fl |= exTiny
		}
	}
	lsb := max(top, x87Emin) - p + 1 // the exponent of the result's last bit
	q, inexact := roundBits(m, lsb-e, sticky, neg, rc)
	up := false
	if inexact {
		fl |= exPE
		if fl&exTiny != 0 {
			fl |= exUE
		}
		trunc := new(big.Int)
		if d := lsb - e; d > 0 {
			trunc.Rsh(m, uint(d))
		} else {
			trunc.Lsh(m, uint(-d))
		}
		up = q.Cmp(trunc) > 0
	}
	var sign uint16
	if neg {
		sign = 0x8000
	}
	n := q.BitLen()
	if n == 0 {
		return f80{se: sign}, fl, up
	}
	msb := lsb + n - 1
	if msb > x87Emax {
		if cw&exOE == 0 {
			v, f, up := roundF80(neg, m, e-x87Rebias, sticky, rc, p, cw|exOE)
			if v.exp() == 0x7FFF || f&exOE != 0 {
				v = f80{mant: 1 << 63, se: sign | 0x7FFF} // massive overflow
			}
			return v, f&^exTiny | exOE, up
		}
		fl = exOE | exPE
		if rc == 0 || rc == 1 && neg || rc == 2 && !neg {
			return f80{mant: 1 << 63, se: sign | 0x7FFF}, fl, true
		}
		return f80{mant: ^uint64(0) << (64 - p), se: sign | 0x7FFE}, fl, false
	}
	if msb < x87Emin {
		// A denormal: exponent field 0, the significand scaled to
		// 2^(x87Emin-63).
		mant := new(big.Int).Lsh(q, uint(lsb-(x87Emin-63))).Uint64()
		return f80{mant: mant, se: sign}, fl, up
	}
	var mant uint64
	if n > 64 {
		mant = new(big.Int).Rsh(q, uint(n-64)).Uint64() // a carry out of 64 bits
	} else {
		mant = q.Uint64() << (64 - n)
	}
	return f80{mant: mant, se: sign | uint16(msb+f80Bias)}, fl, up
}
