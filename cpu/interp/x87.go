package interp

import (
	"math"
	"math/big"

	"golang.org/x/arch/x86/x86asm"

	"github.com/aurora-vm/aurora-vm/cpu"
)

// The x87 FPU. Registers hold 80-bit extended values exactly (f80);
// loads and stores convert exactly or round by the control word's
// rounding mode, and arithmetic goes through math/big at the control
// word's precision, setting the exception flags and taking the masked or
// unmasked responses (x87exc.go); the condition codes, the stack and the
// tag bits are kept as the CPU keeps them. Transcendental instructions
// (FSIN, FPATAN, F2XM1...) are not implemented and raise #UD.

// f80 is an 80-bit extended-precision value: an explicit 64-bit
// significand and the sign with the 15-bit biased exponent.
type f80 struct {
	mant uint64
	se   uint16
}

type x87 struct {
	regs [8]f80 // physical registers
	top  uint8
	tags uint8 // bit i set: physical register i holds a value
	cw   uint16
	sw   uint16 // status word without TOP
	// The last non-control instruction: its address, its opcode's low
	// 11 bits and its memory operand's address (x87env.go).
	ip, dp uint64
	op     uint16
	// raised says an instruction raised an unmasked exception since the
	// flags were last cleared or loaded: the pointers are then stored.
	raised bool
}

func (f *x87) st(i int) f80       { return f.regs[(int(f.top)+i)&7] }
func (f *x87) setST(i int, v f80) { f.regs[(int(f.top)+i)&7] = v }

// statusWord is the status word as FNSTSW reads it: ES and B show an
// unmasked exception flag, whichever instruction set the flag or the mask.
func (f *x87) statusWord() uint16 {
	sw := f.sw&^(7<<11|swES|swB) | uint16(f.top)<<11
	if f.pending() {
		sw |= swES | swB
	}
	return sw
}
func (f *x87) valid(i int) bool { return f.tags&(1<<((int(f.top)+i)&7)) != 0 }
func (f *x87) rc() uint32       { return uint32(f.cw>>10) & 3 }
func (f *x87) setC(c3, c2, c1, c0 bool) {
	f.sw &^= 1<<14 | 1<<10 | 1<<9 | 1<<8
	if c3 {
		f.sw |= 1 << 14
	}
	if c2 {
		f.sw |= 1 << 10
	}
	if c1 {
		f.sw |= 1 << 9
	}
	if c0 {
		f.sw |= 1 << 8
	}
}

// Status-word bits.
const (
	swIE = 1 << 0 // invalid operation
	swSF = 1 << 6 // stack fault
	swC1 = 1 << 9
)

// Stack faults (Intel SDM vol. 1, 8.5.1.1): reading an empty register is
// a stack underflow, pushing onto a full stack an overflow. Either sets IE
// and SF, with C1 clear for an underflow and set for an overflow. IE is
// masked (the interpreter raises no x87 exceptions), so the instruction
// goes on as the CPU's masked response has it: a result that depends on
// a missing operand is the QNaN indefinite, in the destination register
// (which becomes valid) or in memory in the destination's format
// (indefinite32, indefinite64, the integer indefinite); a compare reports
// unordered; a pop still pops.

func (f *x87) push(v f80) {
	f.top = (f.top - 1) & 7
	if f.tags&(1<<f.top) != 0 {
		v = f80Indefinite
		f.sw |= swIE | swSF | swC1
	}
	f.regs[f.top] = v
	f.tags |= 1 << f.top
}

// underflow records a stack underflow.
func (f *x87) underflow() { f.sw = f.sw&^swC1 | swIE | swSF }

// has reports whether ST(i) holds a value, recording an underflow when
// it does not.
func (f *x87) has(i int) bool {
	if f.valid(i) {
		return true
	}
	f.underflow()
	return false
}

// has2 is has for two registers; both are checked.
func (f *x87) has2(i, j int) bool {
	a, b := f.has(i), f.has(j)
	return a && b
}

// put sets ST(i) to v and marks it valid.
func (f *x87) put(i int, v f80) {
	f.setST(i, v)
	f.tags |= 1 << ((int(f.top) + i) & 7)
}

// init is FNINIT's reset: the control word's default, every register
// empty. The registers' bits stay, as FNSAVE then shows.
func (f *x87) init() {
	regs := f.regs
	*f = x87{cw: initFCW, regs: regs}
}

func (f *x87) pop() {
	f.tags &^= 1 << f.top
	f.top = (f.top + 1) & 7
}

var f80Indefinite = f80{mant: 0xC000_0000_0000_0000, se: 0xFFFF}

const f80Bias = 16383

func (v f80) neg() bool   { return v.se&0x8000 != 0 }
func (v f80) exp() int    { return int(v.se & 0x7FFF) }
func (v f80) isNaN() bool { return v.exp() == 0x7FFF && v.mant<<1 != 0 }
func (v f80) isInf() bool { return v.exp() == 0x7FFF && v.mant<<1 == 0 }
func (v f80) isZero() bool {
	return v.mant == 0 && v.exp() != 0x7FFF
}

// f80FromFloat64 converts exactly.
func f80FromFloat64(f float64) f80 {
	b := math.Float64bits(f)
	sign := uint16(b>>63) << 15
	e := int(b >> 52 & 0x7FF)
	m := b & (1<<52 - 1)
	switch {
	case e == 0x7FF:
		return f80{mant: 1<<63 | m<<11, se: sign | 0x7FFF}
	case e == 0 && m == 0:
		return f80{se: sign}
	case e == 0:
		// Denormal: normalise.
		shift := 63 - bitLen(m) + 1
		return f80{mant: m << uint(shift), se: sign | uint16(1-1023+f80Bias-(shift-11))}
	}
	return f80{mant: 1<<63 | m<<11, se: sign | uint16(e-1023+f80Bias)}
}

func bitLen(m uint64) int {
	n := 0
	for m != 0 {
		n++
		m >>= 1
	}
	return n
}

func f80FromFloat32(f float32) f80 {
	if f != f {
		b := math.Float32bits(f)
		return f80{mant: 1<<63 | uint64(b&0x7F_FFFF)<<40, se: uint16(b>>31)<<15 | 0x7FFF}
	}
	return f80FromFloat64(float64(f))
}

// toBig converts a finite value exactly.
func (v f80) toBig() *big.Float {
	z := new(big.Float).SetPrec(64).SetUint64(v.mant)
	e := v.exp()
	if e == 0 {
		e = 1 // denormals
	}
	z.SetMantExp(z, e-f80Bias-63)
	if v.neg() {
		z.Neg(z)
	}
	return z
}

// toFloat64 rounds to double precision in mode rc.
func (v f80) toFloat64(rc uint32) float64 {
	switch {
	case v.isNaN():
		return math.Float64frombits(uint64(v.se>>15)<<63 | 0x7FF8_0000_0000_0000 | v.mant<<2>>13)
	case v.isInf():
		return math.Inf(1 - 2*int(v.se>>15))
	case v.isZero():
		if v.neg() {
			return math.Copysign(0, -1)
		}
		return 0
	}
	return math.Float64frombits(roundBig64(v.toBig(), rc))
}

func (v f80) toFloat32(rc uint32) float32 {
	switch {
	case v.isNaN():
		return math.Float32frombits(uint32(v.se>>15)<<31 | 0x7FC0_0000 | uint32(v.mant<<2>>42))
	case v.isInf():
		return float32(math.Inf(1 - 2*int(v.se>>15)))
	case v.isZero():
		if v.neg() {
			return float32(math.Copysign(0, -1))
		}
		return 0
	}
	return math.Float32frombits(roundBig32(v.toBig(), rc))
}

// toInt rounds to an integer of size bytes in mode rc, or the integer
// indefinite value.
func (v f80) toInt(rc uint32, size uint8) uint64 {
	r, _ := v.toIntOK(rc, size)
	return r
}

// toIntOK is toInt, also reporting whether v converted (ok false: the
// indefinite for a NaN, an infinity or a value out of range).
func (v f80) toIntOK(rc uint32, size uint8) (uint64, bool) {
	indef := uint64(1) << (uint(size)*8 - 1)
	if v.isNaN() || v.isInf() || v.unsupported() {
		return indef, false
	}
	if v.isZero() {
		return 0, true
	}
	z := v.toBig()
	var i *big.Int
	switch rc {
	case 0:
		// Round half to even.
		fl, _ := new(big.Float).SetPrec(200).Set(z).Int(nil)
		frac := new(big.Float).SetPrec(200).Sub(z, new(big.Float).SetInt(fl))
		if z.Sign() < 0 {
			// Int truncates toward zero; work on the floor.
			if frac.Sign() < 0 {
				fl.Sub(fl, big.NewInt(1))
				frac.Add(frac, big.NewFloat(1))
			}
		}
		switch frac.Cmp(big.NewFloat(0.5)) {
		case 1:
			fl.Add(fl, big.NewInt(1))
		case 0:
			if fl.Bit(0) == 1 {
				fl.Add(fl, big.NewInt(1))
			}
		}
		i = fl
	default:
		t, _ := z.Int(nil) // toward zero
		back := new(big.Float).SetInt(t)
		if c := z.Cmp(back); c != 0 {
			if rc == 1 && c < 0 {
				t.Sub(t, big.NewInt(1))
			}
			if rc == 2 && c > 0 {
				t.Add(t, big.NewInt(1))
			}
		}
		i = t
	}
	lim := new(big.Int).Lsh(big.NewInt(1), uint(size)*8-1)
	if i.Cmp(lim) >= 0 || i.Cmp(new(big.Int).Neg(lim)) < 0 {
		return indef, false
	}
	return uint64(i.Int64()) & sizeMask[size], true
}

// prec is the significand precision the control word selects.
func (f *x87) prec() uint {
	switch f.cw >> 8 & 3 {
	case 0:
		return 24
	case 2:
		return 53
	}
	return 64
}

// Arithmetic operations.
const (
	xAdd = iota
	xMul
	xCom
	xComp
	xSub
	xSubr
	xDiv
	xDivr
)

// arith computes a op b (the order already resolved for SUBR/DIVR) at
// the control word's precision. The exact result is truncated to 320 bits
// with a sticky bit, which rounds as the exact value would.
func (f *x87) arith(op int, a, b f80, den bool) f80 {
	if r, done := f.invalidOperands(a, b); done {
		return r
	}
	// A division of a finite value by zero is a zero divide alone; any
	// other denormal operand is reported, and an unmasked one stops the
	// operation before it computes.
	if op == xDiv && b.isZero() && !a.isZero() && !a.isInf() {
		f.sw |= exZE
		return f80{mant: 1 << 63, se: 0x7FFF | signIf(a.neg() != b.neg())}
	}
	if den || a.denormal() || b.denormal() {
		f.sw |= exDE
		if f.unmasked(exDE) != 0 {
			return a
		}
	}
	za, zb := specialBig(a), specialBig(b)
	z := new(big.Float).SetPrec(320).SetMode(big.ToZero)
	invalid := false
	switch op {
	case xAdd:
		if za.IsInf() && zb.IsInf() && za.Signbit() != zb.Signbit() {
			invalid = true
		} else {
			z.Add(za, zb)
		}
	case xSub:
		if za.IsInf() && zb.IsInf() && za.Signbit() == zb.Signbit() {
			invalid = true
		} else {
			z.Sub(za, zb)
		}
	case xMul:
		if za.IsInf() && zb.Sign() == 0 || zb.IsInf() && za.Sign() == 0 {
			invalid = true
		} else {
			z.Mul(za, zb)
		}
	case xDiv:
		switch {
		case za.IsInf() && zb.IsInf(), za.Sign() == 0 && zb.Sign() == 0:
			invalid = true
		case zb.Sign() == 0:
			if !za.IsInf() {
				f.sw |= exZE
			}
			z.SetInf(za.Signbit() != zb.Signbit())
		default:
			z.Quo(za, zb)
		}
	}
	if invalid {
		f.sw |= swIE
		return f80Indefinite
	}
	if z.IsInf() {
		return f80{mant: 1 << 63, se: 0x7FFF | signIf(z.Signbit())}
	}
	sticky := z.Acc() != big.Exact
	if z.Sign() == 0 && !sticky {
		// Exact zero: its sign follows IEEE rules.
		neg := false
		switch op {
		case xAdd:
			neg = a.neg() && b.neg() || f.rc() == 1 && a.neg() != b.neg()
		case xSub:
			neg = a.neg() && !b.neg() || f.rc() == 1 && a.neg() == b.neg()
		default:
			neg = a.neg() != b.neg()
		}
		return f80{se: signIf(neg)}
	}
	return f.result(z, sticky, f.prec())
}

// signIf is the sign bit of an f80's sign and exponent, set if neg.
func signIf(neg bool) uint16 {
	if neg {
		return 0x8000
	}
	return 0
}

// f80FromInt converts an integer exactly.
func f80FromInt(n int64) f80 {
	if n == 0 {
		return f80{}
	}
	var se uint16
	m := uint64(n)
	if n < 0 {
		se, m = 0x8000, -m
	}
	lz := 63 - (bitLen(m) - 1)
	return f80{mant: m << lz, se: se | uint16(f80Bias+63-lz)}
}

func specialBig(v f80) *big.Float {
	if v.isInf() {
		return new(big.Float).SetInf(v.neg())
	}
	if v.isZero() {
		z := new(big.Float)
		if v.neg() {
			z.Neg(z)
		}
		return z
	}
	return v.toBig()
}

// compare returns -1, 0, 1, or 2 for unordered.
func compare80(a, b f80) int {
	if a.isNaN() || b.isNaN() {
		return 2
	}
	return specialBig(a).Cmp(specialBig(b))
}

// x87Escape returns the index of the D8-DF escape byte after the
// prefixes, or -1 when the instruction is not an x87 one.
func x87Escape(raw []byte) int {
	for i, b := range raw {
		switch {
		case b == 0x66 || b == 0x67 || b == 0xF2 || b == 0xF3 || b == 0x2E || b == 0x3E ||
			b == 0x26 || b == 0x36 || b == 0x64 || b == 0x65 || b == 0xF0:
			continue
		case b >= 0x40 && b <= 0x4F:
			continue
		case b >= 0xD8 && b <= 0xDF:
			if i+1 < len(raw) {
				return i
			}
		}
		return -1
	}
	return -1
}

func convertX87(in *inst, x *x86asm.Inst, raw []byte) error {
	i := x87Escape(raw)
	in.x87op = [2]byte{raw[i], raw[i+1]}
	in.fn = opX87
	in.ops = [3]operand{}
	if raw[i+1] < 0xC0 {
		found := false
		for _, a := range x.Args {
			if m, ok := a.(x86asm.Mem); ok {
				o, err := convOperand(m, in.next, x.AddrSize)
				if err != nil {
					return err
				}
				in.ops[0] = o
				found = true
			}
		}
		if !found {
			return errUnsupported("x87 memory operand")
		}
	}
	if x.Op == x86asm.FWAIT {
		in.fn = opNop
	}
	if x.DataSize == 16 {
		in.sub = 16 // the 16-bit environment format
	}
	return nil
}

// x87Exec executes an x87 instruction from its escape byte and ModRM,
// with the masked responses to exceptions.
func x87Exec(c *CPU, in *inst) {
	f := &c.fpu
	esc, modrm := in.x87op[0], in.x87op[1]
	reg := int(modrm >> 3 & 7)
	if modrm < 0xC0 {
		c.x87Mem(in, esc, reg)
		return
	}
	i := int(modrm & 7)
	switch esc {
	case 0xD8, 0xDC:
		op := reg
		if op == xCom || op == xComp {
			c.x87Compare2(0, i, op == xComp, false, true)
			return
		}
		if esc == 0xD8 {
			if !f.has2(0, i) {
				f.put(0, f80Indefinite)
				return
			}
			f.setST(0, f.binop(op, f.st(0), f.st(i), false))
			return
		}
		if !f.has2(0, i) {
			f.put(i, f80Indefinite)
			return
		}
		// DC: ST(i) = ST(i) op ST(0), with SUB/SUBR and DIV/DIVR swapped
		// in the encoding.
		switch op {
		case xSub:
			op = xSubr
		case xSubr:
			op = xSub
		case xDiv:
			op = xDivr
		case xDivr:
			op = xDiv
		}
		f.setST(i, f.binop(op, f.st(i), f.st(0), false))
	case 0xDE:
		switch {
		case reg == xComp && i == 1: // FCOMPP
			c.x87Compare2(0, 1, true, false, true)
			f.pop()
			return
		case reg == xCom || reg == xComp:
			c.fault(cpu.VecInvalidOp, 0, 0)
			return
		}
		op := reg
		switch op {
		case xSub:
			op = xSubr
		case xSubr:
			op = xSub
		case xDiv:
			op = xDivr
		case xDivr:
			op = xDiv
		}
		if f.has2(0, i) {
			f.setST(i, f.binop(op, f.st(i), f.st(0), false))
		} else {
			f.put(i, f80Indefinite)
		}
		f.pop()
	case 0xD9:
		switch {
		case reg == 0: // FLD ST(i)
			v := f80Indefinite
			if f.has(i) {
				v = f.st(i)
			}
			f.push(v)
		case reg == 1: // FXCH: C0, C2 and C3 stay
			for _, k := range [2]int{0, i} {
				if !f.has(k) {
					f.put(k, f80Indefinite)
				}
			}
			a, b := f.st(0), f.st(i)
			f.setST(0, b)
			f.setST(i, a)
		case modrm == 0xD0: // FNOP
		case (modrm == 0xE0 || modrm == 0xE1 || modrm == 0xFA || modrm == 0xFC ||
			modrm == 0xFD || modrm == 0xE4) && !f.has(0):
			// FCHS, FABS, FSQRT, FRNDINT, FSCALE and FTST of an empty
			// ST(0).
			if modrm == 0xE4 {
				f.setC(true, true, false, true)
			} else {
				f.put(0, f80Indefinite)
			}
		case modrm == 0xFD && !f.has(1): // FSCALE with ST(1) empty
			f.put(0, f80Indefinite)
		case modrm == 0xE0:
			v := f.st(0)
			v.se ^= 0x8000
			f.setST(0, v)
		case modrm == 0xE1:
			v := f.st(0)
			v.se &^= 0x8000
			f.setST(0, v)
		case modrm == 0xE4: // FTST
			c.x87Compare(f.st(0), f80{}, false, false, true)
		case modrm == 0xE5: // FXAM
			v := f.st(0)
			sign := v.neg()
			switch {
			case !f.valid(0):
				f.setC(true, false, sign, true)
			case v.unsupported():
				f.setC(false, false, sign, false)
			case v.isNaN():
				f.setC(false, false, sign, true)
			case v.isInf():
				f.setC(false, true, sign, true)
			case v.isZero():
				f.setC(true, false, sign, false)
			case v.exp() == 0:
				f.setC(true, true, sign, false)
			default:
				f.setC(false, true, sign, false)
			}
		case modrm >= 0xE8 && modrm <= 0xEE:
			f.push(x87Constant(modrm, f.rc()))
		case modrm == 0xF8 || modrm == 0xF5: // FPREM, FPREM1
			if !f.has2(0, 1) {
				f.put(0, f80Indefinite)
				f.sw &^= swC2 // complete, C0 and C3 as they were
				break
			}
			f.setST(0, f.remainder(f.st(0), f.st(1), modrm == 0xF5))
		case modrm == 0xF4: // FXTRACT
			f.extract()
		case modrm == 0xF6:
			f.top = (f.top - 1) & 7
		case modrm == 0xF7:
			f.top = (f.top + 1) & 7
		case modrm == 0xFA: // FSQRT
			f.setST(0, f.sqrt(f.st(0)))
		case modrm == 0xFC: // FRNDINT
			f.setST(0, f.roundInt(f.st(0)))
		case modrm == 0xFD: // FSCALE
			f.setST(0, f.scale(f.st(0), f.st(1)))
		default:
			c.fault(cpu.VecInvalidOp, 0, 0)
		}
	case 0xDA:
		switch {
		case modrm == 0xE9: // FUCOMPP
			c.x87Compare2(0, 1, true, false, false)
			f.pop()
		case reg < 4:
			conds := [4]uint8{ccB, ccE, ccBE, ccP}
			if !f.has2(0, i) {
				f.put(0, f80Indefinite) // whatever the condition
			} else if c.cond(conds[reg]) {
				f.setST(0, f.st(i))
			}
		default:
			c.fault(cpu.VecInvalidOp, 0, 0)
		}
	case 0xDB:
		switch {
		case reg < 4:
			conds := [4]uint8{ccAE, ccNE, ccA, ccNP}
			if !f.has2(0, i) {
				f.put(0, f80Indefinite)
			} else if c.cond(conds[reg]) {
				f.setST(0, f.st(i))
			}
		case modrm == 0xE2: // FNCLEX
			f.sw &^= 0xFF
			f.raised = false
		case modrm == 0xE3: // FNINIT
			f.init()
		case reg == 5 || reg == 6: // FUCOMI, FCOMI
			c.x87Compare2(0, i, false, true, reg == 6)
		default:
			c.fault(cpu.VecInvalidOp, 0, 0)
		}
	case 0xDD:
		switch reg {
		case 0: // FFREE
			f.tags &^= 1 << ((int(f.top) + i) & 7)
		case 2, 3: // FST ST(i), FSTP ST(i)
			v := f80Indefinite
			if f.has(0) {
				v = f.st(0)
			}
			f.put(i, v)
			if reg == 3 {
				f.pop()
			}
		case 4: // FUCOM
			c.x87Compare2(0, i, false, false, false)
		case 5: // FUCOMP
			c.x87Compare2(0, i, true, false, false)
		default:
			c.fault(cpu.VecInvalidOp, 0, 0)
		}
	case 0xDF:
		switch {
		case modrm == 0xE0: // FNSTSW AX
			c.g[rAX] = c.g[rAX]&^0xFFFF | uint64(f.statusWord())
		case reg == 0: // FFREEP: FFREE ST(i), then pop
			f.tags &^= 1 << ((int(f.top) + i) & 7)
			f.pop()
		case reg == 5 || reg == 6: // FUCOMIP, FCOMIP
			c.x87Compare2(0, i, true, true, reg == 6)
		default:
			c.fault(cpu.VecInvalidOp, 0, 0)
		}
	}
}

// sqrt is FSQRT's result, at the control word's precision.
func (f *x87) sqrt(v f80) f80 {
	if r, done := f.invalidOperands(v); done {
		return r
	}
	switch {
	case v.isZero():
		return v
	case v.neg():
		f.sw |= swIE
		return f80Indefinite
	case v.isInf():
		return v
	}
	if v.denormal() {
		f.sw |= exDE
		if f.unmasked(exDE) != 0 {
			return v
		}
	}
	x := v.toBig()
	z := new(big.Float).SetPrec(320).SetMode(big.ToZero).Sqrt(x)
	sq := new(big.Float).SetPrec(700).Mul(z, z)
	return f.result(z, sq.Cmp(x) != 0, f.prec())
}

// roundInt is FRNDINT's result: v rounded to an integer in the control
// word's rounding mode.
func (f *x87) roundInt(v f80) f80 {
	if r, done := f.operands(v); done || f.unmasked(exDE) != 0 {
		return r
	}
	if v.isInf() || v.isZero() || v.exp() >= f80Bias+63 {
		return v // already an integer
	}
	r := f80FromInt(int64(v.toInt(f.rc(), 8)))
	if r.isZero() {
		r.se = v.se & 0x8000
	}
	if r != v {
		f.sw |= exPE
		if roundedUp(r, v) {
			f.sw |= swC1
		}
	}
	return r
}

// scale is FSCALE's result: v times 2 to the power of s truncated.
func (f *x87) scale(v, s f80) f80 {
	if r, done := f.operands(v, s); done || f.unmasked(exDE) != 0 {
		return r
	}
	switch {
	case s.isInf():
		switch {
		case v.isZero() && !s.neg(), v.isInf() && s.neg():
			f.sw |= swIE
			return f80Indefinite
		case v.isZero() || v.isInf():
			return v
		case s.neg():
			return f80{se: v.se & 0x8000}
		}
		return f80{mant: 1 << 63, se: v.se&0x8000 | 0x7FFF}
	case v.isZero() || v.isInf():
		return v
	}
	n := int64(1 << 20) // beyond any result's range
	if s.exp() < f80Bias+20 {
		n = int64(s.toInt(3, 8))
	}
	if s.neg() && n > 0 {
		n = -n
	}
	z := v.toBig()
	z.SetMantExp(z, int(n))
	return f.result(z, false, 64)
}

// parts returns |v|, finite and nonzero, as m * 2^e with m's top bit
// at bit 63 (a denormal is normalised).
func (v f80) parts() (uint64, int) {
	e := v.exp()
	if e == 0 {
		e = 1
	}
	lz := 64 - bitLen(v.mant)
	return v.mant << lz, e - f80Bias - 63 - lz
}

// remainder is FPREM's partial remainder of a by b (FPREM1's when
// nearest: the quotient rounded to nearest, not truncated). When the
// exponents differ by 64 or more it reduces a's exponent by 32 to 63,
// a number of the difference's own (32 plus the difference modulo 32),
// and sets C2 to ask to be run again; otherwise it completes and puts the
// quotient's low three bits in C0, C3 and C1. The result is exact.
func (f *x87) remainder(a, b f80, nearest bool) f80 {
	// Without a quotient (an invalid operation or a NaN) C2 is cleared
	// and C0 and C3 stay.
	f.sw &^= swC2
	if r, done := f.invalidOperands(a, b); done {
		return r
	}
	if a.isInf() || b.isZero() {
		f.sw |= swIE
		return f80Indefinite
	}
	if a.denormal() || b.denormal() {
		f.sw |= exDE
		if f.unmasked(exDE) != 0 {
			return a
		}
	}
	if a.isZero() || b.isInf() {
		f.setC(false, false, false, false) // a quotient of 0
		return a
	}
	ma, ea := a.parts()
	mb, eb := b.parts()
	d := ea - eb
	partial := d >= 64
	if partial {
		eb += d - (32 + d%32) // divide by b * 2^(d-n)
	}
	// |a| / |b'| as integers over 2^min(ea, eb).
	lo := min(ea, eb)
	num := new(big.Int).Lsh(new(big.Int).SetUint64(ma), uint(ea-lo))
	den := new(big.Int).Lsh(new(big.Int).SetUint64(mb), uint(eb-lo))
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	neg := a.neg()
	if nearest && !partial {
		twice := new(big.Int).Lsh(r, 1)
		if c := twice.Cmp(den); c > 0 || c == 0 && q.Bit(0) == 1 {
			q.Add(q, bigOne)
			r.Sub(den, r)
			neg = !neg
		}
	}
	if partial {
		f.sw |= swC2
	} else {
		f.setC(q.Bit(1) == 1, false, q.Bit(0) == 1, q.Bit(2) == 1)
	}
	if r.Sign() == 0 {
		return f80{se: a.se & 0x8000}
	}
	v, fl, _ := roundF80(neg, r, lo, false, f.rc(), 64, f.cw)
	f.sw |= uint16(fl & 0x3F)
	return v
}

// extract is FXTRACT: ST(0) is replaced by its unbiased exponent and its
// significand (with exponent 0) pushed above it. Zero's exponent is -inf,
// a division by zero.
func (f *x87) extract() {
	if !f.has(0) {
		f.put(0, f80Indefinite)
		f.push(f80Indefinite)
		return
	}
	v := f.st(0)
	var exp, sig f80
	switch {
	case v.unsupported():
		f.sw |= swIE
		exp, sig = f80Indefinite, f80Indefinite
	case v.isNaN():
		if v.isSNaN() {
			f.sw |= swIE
		}
		exp, sig = v.quiet(), v.quiet()
	case v.isInf():
		exp, sig = f80{mant: 1 << 63, se: 0x7FFF}, v
	case v.isZero():
		f.sw |= exZE
		exp, sig = f80{mant: 1 << 63, se: 0xFFFF}, v
	default:
		if v.denormal() {
			f.sw |= exDE
		}
		m, e := v.parts()
		exp = f80FromInt(int64(e + 63))
		sig = f80{mant: m, se: v.se&0x8000 | f80Bias}
	}
	f.setST(0, exp)
	f.push(sig)
}

// binop is arith for an encoding's operation, SUBR and DIVR swapping
// the operands; den says b came from a denormal in memory.
func (f *x87) binop(op int, a, b f80, den bool) f80 {
	switch op {
	case xSubr:
		return f.arith(xSub, b, a, den)
	case xDivr:
		return f.arith(xDiv, b, a, den)
	}
	return f.arith(op, a, b, den)
}

// x87Compare2 compares ST(i) with ST(j) as x87Compare does; when either
// is empty the result is unordered.
func (c *CPU) x87Compare2(i, j int, pop, eflags, ordered bool) {
	f := &c.fpu
	if !f.has2(i, j) {
		c.x87Unordered(pop, eflags)
		return
	}
	c.x87Compare(f.st(i), f.st(j), pop, eflags, ordered)
}

// x87Compare compares a with b, setting C3 C2 C0 (or, for FCOMI, ZF PF
// CF), and pops when pop is set. Any NaN is invalid for an ordered
// compare (FCOM, FCOMI, FTST), a signalling one only for an unordered one
// (FUCOM, FUCOMI); an unsupported format for both.
func (c *CPU) x87Compare(a, b f80, pop, eflags, ordered bool) {
	f := &c.fpu
	for _, v := range [2]f80{a, b} {
		if v.unsupported() || v.isNaN() && (ordered || v.isSNaN()) {
			f.sw |= swIE
		}
	}
	if a.unsupported() || b.unsupported() || a.isNaN() || b.isNaN() {
		c.x87Unordered(pop, eflags)
		return
	}
	if a.denormal() || b.denormal() {
		f.sw |= exDE
	}
	r := compare80(a, b)
	c.x87Set(r == -1, r == 0, false, pop, eflags)
}

// x87Unordered records an unordered compare.
func (c *CPU) x87Unordered(pop, eflags bool) { c.x87Set(false, false, true, pop, eflags) }

// x87Set sets a compare's outcome in C3 C2 C0 or in ZF PF CF, and pops.
func (c *CPU) x87Set(lt, eq, un, pop, eflags bool) {
	f := &c.fpu
	if eflags {
		var fl uint64
		switch {
		case un:
			fl = flagZF | flagPF | flagCF
		case lt:
			fl = flagCF
		case eq:
			fl = flagZF
		}
		c.setArith(fl)
		f.sw &^= swC1
	} else {
		f.setC(eq || un, un, false, lt || un)
	}
	if pop {
		f.pop()
	}
}

// x87Constant is the value FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2
// or FLDZ loads in rounding mode rc: the constant's first 64 significant
// bits, plus one unit when the mode rounds it up. None of them is a tie
// (the bit after the 64th and those after it are never 1 and 0s).
func x87Constant(modrm byte, rc uint32) f80 {
	var c struct {
		mant    uint64 // truncated
		se      uint16
		nearest bool // round to nearest goes up
	}
	switch modrm {
	case 0xE8:
		return f80{mant: 1 << 63, se: f80Bias}
	case 0xEE:
		return f80{}
	case 0xE9: // log2(10) = 0xD49A784BCD1B8AFE 492B...
		c.mant, c.se = 0xD49A_784B_CD1B_8AFE, f80Bias+1
	case 0xEA: // log2(e) = 0xB8AA3B295C17F0BB BE87...
		c.mant, c.se, c.nearest = 0xB8AA_3B29_5C17_F0BB, f80Bias, true
	case 0xEB: // pi = 0xC90FDAA22168C234 C4C6...
		c.mant, c.se, c.nearest = 0xC90F_DAA2_2168_C234, f80Bias+1, true
	case 0xEC: // log10(2) = 0x9A209A84FBCFF798 8F89...
		c.mant, c.se, c.nearest = 0x9A20_9A84_FBCF_F798, f80Bias-2, true
	case 0xED: // ln(2) = 0xB17217F7D1CF79AB C9E3...
		c.mant, c.se, c.nearest = 0xB172_17F7_D1CF_79AB, f80Bias-1, true
	}
	if rc == 0 && c.nearest || rc == 2 {
		c.mant++ // no carry out: none ends in all ones
	}
	return f80{mant: c.mant, se: c.se}
}

// fcwBits are the control word's bits the CPU keeps: the exception
// masks, precision and rounding control, and the infinity bit; bit 6
// reads as 1, the rest as 0.
const fcwBits = 0x1F3F

// The QNaN indefinite in the binary32 and binary64 formats.
const (
	indefinite32 = 0xFFC0_0000
	indefinite64 = 0xFFF8_0000_0000_0000
)

// storeInt converts ST(0) for FIST, FISTP or FISTTP (rounding by rc) to a
// size-byte integer. An empty ST(0), a NaN, an infinity or a value out of
// range is an invalid operation, whose masked result is the integer
// indefinite (only the sign bit set).
func (f *x87) storeInt(rc uint32, size uint8) uint64 {
	if !f.has(0) {
		return uint64(1) << (uint(size)*8 - 1)
	}
	v, ok := f.st(0).toIntOK(rc, size)
	if !ok {
		f.sw |= swIE
	} else {
		f.inexactInt(v, size)
	}
	return v
}

// inexactInt sets PE, and C1 when the magnitude was rounded up, if v,
// ST(0) converted to a size-byte integer, differs from ST(0).
func (f *x87) inexactInt(v uint64, size uint8) {
	sh := 64 - 8*uint(size)
	r, x := f80FromInt(int64(v<<sh)>>sh), f.st(0)
	if r == x || r.isZero() && x.isZero() {
		return
	}
	f.sw |= exPE
	if roundedUp(r, x) {
		f.sw |= swC1
	}
}

// roundedUp reports whether r, v rounded, is larger in magnitude than v:
// C1 after an inexact result.
func roundedUp(r, v f80) bool {
	r.se &^= 0x8000
	v.se &^= 0x8000
	return compare80(r, v) > 0
}

// opFwait is FWAIT: #MF when an unmasked x87 exception is pending (an
// exception flag whose mask bit is clear), otherwise nothing.
func opFwait(c *CPU, in *inst) {
	if c.fpu.sw&^c.fpu.cw&0x3F != 0 {
		c.fault(cpu.VecX87, 0, 0)
	}
}

// x87CanStore reports whether an x87 store of n bytes at a may be
// written: when an unmasked exception keeps the destination, it is not,
// but a page fault the store would take still comes first.
func (c *CPU) x87CanStore(a, n uint64) bool {
	if c.fpu.canStore() {
		return true
	}
	c.probeWrite(a, n)
	return false
}

// x87Mem executes the memory forms. A memory fault leaves the status word
// as it was: the CPU reports the page fault before any exception flag the
// store would have raised (an empty ST(0), an inexact result).
func (c *CPU) x87Mem(in *inst, esc byte, reg int) {
	sw, faulted := c.fpu.sw, c.stop&stopFault != 0
	c.x87MemOp(in, esc, reg)
	if !faulted && c.stop&stopFault != 0 {
		c.fpu.sw = sw
	}
}

func (c *CPU) x87MemOp(in *inst, esc byte, reg int) {
	f := &c.fpu
	a := c.ea(&in.ops[0])
	switch esc {
	case 0xD8, 0xDC, 0xDA, 0xDE:
		var v f80
		den := false // a denormal single or double, normal as an f80
		switch esc {
		case 0xD8:
			x, ok := c.rd32(a)
			if !ok {
				return
			}
			v, den = memOperand(x, fmt32)
		case 0xDC:
			x, ok := c.rd64(a)
			if !ok {
				return
			}
			v, den = memOperand(x, fmt64)
		case 0xDA:
			x, ok := c.rd32(a)
			if !ok {
				return
			}
			v = f80FromInt(int64(int32(x)))
		case 0xDE:
			x, ok := c.rd16(a)
			if !ok {
				return
			}
			v = f80FromInt(int64(int16(x)))
		}
		if !f.has(0) {
			// The stack underflow is the one exception: the operand's
			// own (a denormal, a signalling NaN) is not raised.
			f.underflow()
			if reg == xCom || reg == xComp {
				c.x87Unordered(reg == xComp, false)
			} else {
				f.put(0, f80Indefinite)
			}
			return
		}
		st := f.st(0)
		if reg == xCom || reg == xComp {
			c.x87Compare(st, v, reg == xComp, false, true)
			if den && !st.isNaN() && !st.unsupported() {
				f.sw |= exDE
			}
			return
		}
		f.setST(0, f.binop(reg, st, v, den))
	case 0xD9:
		switch reg {
		case 0:
			x, ok := c.rd32(a)
			if ok {
				f.pushLoad(x, fmt32)
			}
		case 2, 3:
			v := uint64(indefinite32)
			if f.has(0) {
				v = f.store(fmt32)
			}
			if c.x87CanStore(a, 4) && c.wr32(a, v) && reg == 3 {
				f.pop()
			}
		case 5: // FLDCW
			x, ok := c.rd16(a)
			if ok {
				f.cw = uint16(x)&fcwBits | 0x40
			}
		case 7: // FNSTCW
			c.wr16(a, uint64(f.cw))
		case 4: // FLDENV
			c.x87LoadEnv(a, in.sub == 16, false)
		case 6: // FNSTENV
			c.x87StoreEnv(a, in.sub == 16, false)
		default:
			c.fault(cpu.VecInvalidOp, 0, 0)
		}
	case 0xDB:
		switch reg {
		case 0:
			x, ok := c.rd32(a)
			if ok {
				f.push(f80FromInt(int64(int32(x))))
			}
		case 1, 2, 3:
			rc := f.rc()
			if reg == 1 {
				rc = 3
			}
			if v := f.storeInt(rc, 4); c.x87CanStore(a, 4) && c.wr32(a, v) && reg != 2 {
				f.pop()
			}
		case 5:
			var b [10]byte
			if c.rdBytes(a, b[:]) {
				f.push(f80{mant: le64(b[:8]), se: uint16(b[8]) | uint16(b[9])<<8})
			}
		case 7:
			v := f80Indefinite
			if f.has(0) {
				v = f.st(0)
			}
			var b [10]byte
			for k := 0; k < 8; k++ {
				b[k] = byte(v.mant >> (8 * k))
			}
			b[8], b[9] = byte(v.se), byte(v.se>>8)
			if c.x87CanStore(a, 10) && c.wrBytes(a, b[:]) {
				f.pop()
			}
		default:
			c.fault(cpu.VecInvalidOp, 0, 0)
		}
	case 0xDD:
		switch reg {
		case 0:
			x, ok := c.rd64(a)
			if ok {
				f.pushLoad(x, fmt64)
			}
		case 1:
			if v := f.storeInt(3, 8); c.x87CanStore(a, 8) && c.wr64(a, v) {
				f.pop()
			}
		case 2, 3:
			v := uint64(indefinite64)
			if f.has(0) {
				v = f.store(fmt64)
			}
			if c.x87CanStore(a, 8) && c.wr64(a, v) && reg == 3 {
				f.pop()
			}
		case 7: // FNSTSW m16
			c.wr16(a, uint64(f.statusWord()))
		case 4: // FRSTOR
			c.x87LoadEnv(a, in.sub == 16, true)
		case 6: // FNSAVE
			c.x87StoreEnv(a, in.sub == 16, true)
		default:
			c.fault(cpu.VecInvalidOp, 0, 0)
		}
	case 0xDF:
		switch reg {
		case 0:
			x, ok := c.rd16(a)
			if ok {
				f.push(f80FromInt(int64(int16(x))))
			}
		case 1, 2, 3:
			rc := f.rc()
			if reg == 1 {
				rc = 3
			}
			if v := f.storeInt(rc, 2); c.x87CanStore(a, 2) && c.wr16(a, v) && reg != 2 {
				f.pop()
			}
		case 5:
			x, ok := c.rd64(a)
			if ok {
				f.push(f80FromInt(int64(x)))
			}
		case 7:
			if v := f.storeInt(f.rc(), 8); c.x87CanStore(a, 8) && c.wr64(a, v) {
				f.pop()
			}
		case 4: // FBLD
			var b [10]byte
			if c.rdBytes(a, b[:]) {
				f.push(f80FromInt(fromBCD(b)))
			}
		case 6: // FBSTP
			b := bcdIndefinite
			if f.has(0) {
				v, ok := f.st(0).toIntOK(f.rc(), 8)
				if n := int64(v); ok && n < maxBCD && n > -maxBCD {
					f.inexactInt(v, 8)
					b = toBCD(n)
					if f.st(0).se&0x8000 != 0 {
						b[9] = 0x80 // -0 too keeps its sign
					}
				} else {
					f.sw |= swIE
				}
			}
			if c.x87CanStore(a, 10) && c.wrBytes(a, b[:]) {
				f.pop()
			}
		}
	}
}

// Packed BCD, FBLD's and FBSTP's format: 18 decimal digits, two a byte
// from the least significant, then a sign byte. The indefinite is what
// an invalid FBSTP stores.
const maxBCD = 1_000_000_000_000_000_000

var bcdIndefinite = [10]byte{7: 0xC0, 8: 0xFF, 9: 0xFF}

func toBCD(n int64) [10]byte {
	var b [10]byte
	if n < 0 {
		b[9], n = 0x80, -n
	}
	for i := 0; i < 9; i++ {
		b[i] = byte(n%10) | byte(n/10%10)<<4
		n /= 100
	}
	return b
}

// fromBCD reads packed BCD; digits above 9 count with their binary value,
// as the CPU's conversion does not check them.
func fromBCD(b [10]byte) int64 {
	var n int64
	for i := 8; i >= 0; i-- {
		n = n*100 + int64(b[i]>>4)*10 + int64(b[i]&0xF)
	}
	if b[9]&0x80 != 0 {
		n = -n
	}
	return n
}

// pushLoad is FLD of a single or double: on a stack overflow that is the
// one exception, the operand's own (a denormal, a signalling NaN) are not
// raised.
func (f *x87) pushLoad(x uint64, ft *fpFmt) {
	if f.tags&(1<<((f.top-1)&7)) != 0 {
		f.push(f80Indefinite) // overflows
		return
	}
	f.push(f.load(x, ft))
}

// memOperand converts a single or double arithmetic operand exactly,
// keeping a signalling NaN signalling, for arith to raise IE on it; den
// reports a denormal, which is normal as an f80.
func memOperand(v uint64, ft *fpFmt) (f80, bool) {
	snan := ft.isSNaN(v)
	if snan {
		v |= ft.quietBit()
	}
	var r f80
	if ft == fmt32 {
		r = f80FromFloat32(math.Float32frombits(uint32(v)))
	} else {
		r = f80FromFloat64(math.Float64frombits(v))
	}
	if snan {
		r.mant &^= 1 << 62
	}
	return r, ft.isDenorm(v)
}

// load converts a single or double memory operand exactly: an SNaN is an
// invalid operation and comes back quiet, a denormal is a denormal operand.
func (f *x87) load(v uint64, ft *fpFmt) f80 {
	switch {
	case ft.isSNaN(v):
		f.sw |= swIE
		v |= ft.quietBit()
	case ft.isDenorm(v):
		f.sw |= exDE
	}
	if ft == fmt32 {
		return f80FromFloat32(math.Float32frombits(uint32(v)))
	}
	return f80FromFloat64(math.Float64frombits(v))
}

// store rounds ST(0) to a single or double for FST and FSTP in the
// control word's rounding mode, setting IE for an SNaN (stored quiet), and
// OE, UE and PE (exceptions masked: UE only for an inexact tiny result).
func (f *x87) store(ft *fpFmt) uint64 {
	v := f.st(0)
	neg := v.neg()
	switch {
	case v.unsupported():
		f.sw |= swIE
		return ft.defaultNaN()
	case v.isNaN():
		if v.mant&(1<<62) == 0 {
			f.sw |= swIE
		}
		return ft.expMask() | ft.quietBit() | v.mant<<1>>(64-ft.prec+1)&ft.fracMask() | ft.zero(neg)
	case v.isInf():
		return ft.inf(neg)
	case v.isZero():
		return ft.zero(neg)
	}
	e := v.exp()
	if e == 0 {
		e = 1
	}
	r, fl := roundFP(neg, new(big.Int).SetUint64(v.mant), e-f80Bias-63, false, ft, f.rc(), false)
	switch {
	case fl&exOE != 0 && f.cw&exOE == 0:
		fl = exOE // unmasked: nothing is stored, so nothing was rounded
	case fl&exTiny != 0 && f.cw&exUE == 0:
		fl = exUE
	case fl&exPE != 0:
		// C1 says whether the magnitude was rounded up.
		var back f80
		if ft == fmt32 {
			back = f80FromFloat32(math.Float32frombits(uint32(r)))
		} else {
			back = f80FromFloat64(math.Float64frombits(r))
		}
		if roundedUp(back, v) {
			f.sw |= swC1
		}
	}
	f.sw |= uint16(fl & 0x3F)
	return r
}
