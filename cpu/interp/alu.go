package interp

import (
	"math/bits"
	"sync/atomic"

	"github.com/aurora-vm/aurora-vm/cpu"
)

// Operand access.

// get reads an operand of the given size.
func (c *CPU) get(o *operand, size uint8) (uint64, bool) {
	switch o.kind {
	case kReg:
		return c.g[o.reg] & sizeMask[size], true
	case kImm:
		return o.disp & sizeMask[size], true
	case kMem:
		return c.rd(c.ea(o), size)
	case kRegH:
		return c.g[o.reg] >> 8 & 0xFF, true
	}
	return 0, true
}

// setReg writes a general register as an instruction of the given size
// does: 32-bit writes clear the upper half, 8- and 16-bit ones merge.
func (c *CPU) setReg(slot uint8, size uint8, v uint64) {
	r := &c.g[slot]
	switch size {
	case 8:
		*r = v
	case 4:
		*r = v & 0xFFFF_FFFF
	case 2:
		*r = *r&^0xFFFF | v&0xFFFF
	case 1:
		*r = *r&^0xFF | v&0xFF
	}
}

// set writes an operand.
func (c *CPU) set(o *operand, size uint8, v uint64) bool {
	switch o.kind {
	case kReg:
		c.setReg(o.reg, size, v)
	case kMem:
		return c.wr(c.ea(o), size, v)
	case kRegH:
		r := &c.g[o.reg]
		*r = *r&^0xFF00 | (v&0xFF)<<8
	}
	return true
}

// getRMW reads a destination that will be written back: memory is
// translated for writing first, so a read-only page faults as a write.
func (c *CPU) getRMW(o *operand, size uint8) (v, addr uint64, ok bool) {
	if o.kind != kMem {
		v, ok = c.get(o, size)
		return v, 0, ok
	}
	addr = c.ea(o)
	if addr&0xFFF <= 0x1000-uint64(size) {
		e := &c.wtlb[(addr>>12)&(tlbSize-1)]
		if e.tag != c.tag(addr) {
			if _, ok := c.xlate(addr, true); !ok {
				return 0, 0, false
			}
		}
	} else if !c.probeWrite(addr, uint64(size)) {
		return 0, 0, false
	}
	v, ok = c.rd(addr, size)
	return v, addr, ok
}

// putRMW writes back a destination read by getRMW.
func (c *CPU) putRMW(o *operand, addr uint64, size uint8, v uint64) {
	if o.kind == kMem {
		c.wr(addr, size, v)
		return
	}
	c.set(o, size, v)
}

// ALU operations, in the order of the x86 opcode groups.
const (
	aluAdd = iota
	aluOr
	aluAdc
	aluSbb
	aluAnd
	aluSub
	aluXor
	aluCmp
)

// alu computes a binary ALU operation and records its flags.
func (c *CPU) alu(op uint8, size uint8, a, b uint64) uint64 {
	m := sizeMask[size]
	var r uint64
	switch op {
	case aluAdd:
		r = (a + b) & m
		c.setLazy(lazyAdd, size, r, a, b)
	case aluOr:
		r = a | b
		c.setLazy(lazyLogic, size, r, a, b)
	case aluAdc:
		cf := c.carry()
		r = (a + b + cf) & m
		c.setLazy(lazyAdc, size, r, a, b)
		c.lcf = cf
	case aluSbb:
		cf := c.carry()
		r = (a - b - cf) & m
		c.setLazy(lazySbb, size, r, a, b)
		c.lcf = cf
	case aluAnd:
		r = a & b
		c.setLazy(lazyLogic, size, r, a, b)
	case aluSub, aluCmp:
		r = (a - b) & m
		c.setLazy(lazySub, size, r, a, b)
	case aluXor:
		r = a ^ b
		c.setLazy(lazyLogic, size, r, a, b)
	}
	return r
}

func opALU(c *CPU, in *inst) {
	size := in.size
	d := &in.ops[0]
	b, ok := c.get(&in.ops[1], size)
	if !ok {
		return
	}
	if d.kind == kReg {
		a := c.g[d.reg] & sizeMask[size]
		r := c.alu(in.sub, size, a, b)
		if in.sub != aluCmp {
			c.setReg(d.reg, size, r)
		}
		return
	}
	if in.sub == aluCmp {
		a, ok := c.get(d, size)
		if ok {
			c.alu(aluCmp, size, a, b)
		}
		return
	}
	if in.rep&lockPrefix != 0 && d.kind == kMem {
		c.lockedRMW(in, b)
		return
	}
	a, addr, ok := c.getRMW(d, size)
	if !ok {
		return
	}
	c.putRMW(d, addr, size, c.alu(in.sub, size, a, b))
}

// lockPrefix is kept in inst.rep's high bit.
const lockPrefix = 0x80

// lockedRMW performs a LOCK-prefixed ALU operation atomically on guest
// RAM, which other processes' threads may share (shared memory).
func (c *CPU) lockedRMW(in *inst, b uint64) {
	size := in.size
	addr := c.ea(&in.ops[0])
	t, ok := c.atomicTarget(addr, size)
	if !ok {
		return
	}
	for {
		old := c.atomicLoad(t)
		r := c.alu(in.sub, size, old, b)
		if c.atomicCAS(t, old, r) {
			return
		}
	}
}

// atomicRef is a locked operand: its frame address, and its virtual
// address for one that crosses a page (split).
type atomicRef struct {
	pa, va uint64
	size   uint8
	split  bool
}

// atomicTarget translates a locked operand for writing. An operand that
// crosses a page is a split lock, not atomic on hardware either: it is
// read and written through the page tables, as its two pages' frames need
// not be adjacent.
func (c *CPU) atomicTarget(addr uint64, size uint8) (atomicRef, bool) {
	if !c.probeWrite(addr, uint64(size)) {
		return atomicRef{}, false
	}
	pa, ok := c.xlate(addr, true)
	if !ok {
		return atomicRef{}, false
	}
	split := addr&0xFFF > 0x1000-uint64(size)
	if !split {
		c.noteWrite(pa)
	}
	return atomicRef{pa: pa, va: addr, size: size, split: split}, true
}

func (c *CPU) atomicLoad(t atomicRef) uint64 {
	if t.split {
		v, _ := c.rd(t.va, t.size) // both pages were checked
		return v
	}
	switch t.size {
	case 1:
		return uint64(*(*uint8)(c.ptr(t.pa)))
	case 2:
		return uint64(*(*uint16)(c.ptr(t.pa)))
	case 4:
		return uint64(atomic.LoadUint32((*uint32)(c.ptr(t.pa))))
	}
	return atomic.LoadUint64((*uint64)(c.ptr(t.pa)))
}

// atomicCAS stores new at t if it still holds old. 8- and 16-bit
// operands are compared and swapped within their aligned 32-bit word.
func (c *CPU) atomicCAS(t atomicRef, old, new uint64) bool {
	pa, size := t.pa, t.size
	switch {
	case t.split:
		c.wr(t.va, size, new)
		return true
	case size <= 2 && pa&3+uint64(size) > 4:
		// Crosses a word within the page: not atomic, a plain store.
		for i := uint64(0); i < uint64(size); i++ {
			c.mem[pa+i] = byte(new >> (8 * i))
		}
		return true
	}
	switch size {
	case 1, 2:
		w := (*uint32)(c.ptr(pa &^ 3))
		sh := (pa & 3) * 8
		m := uint32(sizeMask[size]) << sh
		cur := atomic.LoadUint32(w)
		if (cur&m)>>sh != uint32(old) {
			return false
		}
		return atomic.CompareAndSwapUint32(w, cur, cur&^m|uint32(new)<<sh&m)
	case 4:
		return atomic.CompareAndSwapUint32((*uint32)(c.ptr(pa)), uint32(old), uint32(new))
	}
	return atomic.CompareAndSwapUint64((*uint64)(c.ptr(pa)), old, new)
}

func opTest(c *CPU, in *inst) {
	size := in.size
	a, ok := c.get(&in.ops[0], size)
	if !ok {
		return
	}
	b, ok := c.get(&in.ops[1], size)
	if !ok {
		return
	}
	r := a & b
	c.setLazy(lazyLogic, size, r, a, b)
}

// Unary operations (inst.sub).
const (
	unInc = iota
	unDec
	unNeg
	unNot
)

func opUnary(c *CPU, in *inst) {
	size := in.size
	d := &in.ops[0]
	if in.rep&lockPrefix != 0 && d.kind == kMem {
		addr := c.ea(d)
		t, ok := c.atomicTarget(addr, size)
		if !ok {
			return
		}
		for {
			old := c.atomicLoad(t)
			if c.atomicCAS(t, old, c.unary(in.sub, size, old)) {
				return
			}
		}
	}
	a, addr, ok := c.getRMW(d, size)
	if !ok {
		return
	}
	c.putRMW(d, addr, size, c.unary(in.sub, size, a))
}

func (c *CPU) unary(op, size uint8, a uint64) uint64 {
	m := sizeMask[size]
	switch op {
	case unInc:
		cf := c.carry()
		r := (a + 1) & m
		c.setLazy(lazyInc, size, r, a, 1)
		c.lcf = cf
		return r
	case unDec:
		cf := c.carry()
		r := (a - 1) & m
		c.setLazy(lazyDec, size, r, a, 1)
		c.lcf = cf
		return r
	case unNeg:
		r := (-a) & m
		c.setLazy(lazyNeg, size, r, 0, a)
		return r
	}
	return ^a & m
}

func opMov(c *CPU, in *inst) {
	v, ok := c.get(&in.ops[1], in.size)
	if ok {
		c.set(&in.ops[0], in.size, v)
	}
}

// opMovRR is MOV between 64-bit registers.
func opMovRR(c *CPU, in *inst) { c.g[in.ops[0].reg] = c.g[in.ops[1].reg] }

// opMovzx: in.sub is the source size.
func opMovzx(c *CPU, in *inst) {
	v, ok := c.get(&in.ops[1], in.sub)
	if ok {
		c.set(&in.ops[0], in.size, v)
	}
}

func signExtend(v uint64, size uint8) uint64 {
	sh := 64 - uint(size)*8
	return uint64(int64(v<<sh) >> sh)
}

// opMovsx: in.sub is the source size.
func opMovsx(c *CPU, in *inst) {
	v, ok := c.get(&in.ops[1], in.sub)
	if ok {
		c.set(&in.ops[0], in.size, signExtend(v, in.sub)&sizeMask[in.size])
	}
}

func opLea(c *CPU, in *inst) { c.setReg(in.ops[0].reg, in.size, c.ea(&in.ops[1])) }

func opXchg(c *CPU, in *inst) {
	size := in.size
	a, b := &in.ops[0], &in.ops[1]
	if a.kind != kMem && b.kind == kMem {
		a, b = b, a
	}
	if a.kind == kMem {
		addr := c.ea(a)
		t, ok := c.atomicTarget(addr, size)
		if !ok {
			return
		}
		v, _ := c.get(b, size)
		for {
			old := c.atomicLoad(t)
			if c.atomicCAS(t, old, v) {
				c.set(b, size, old)
				return
			}
		}
	}
	x, _ := c.get(a, size)
	y, _ := c.get(b, size)
	c.set(a, size, y)
	c.set(b, size, x)
}

func opCmpxchg(c *CPU, in *inst) {
	size := in.size
	d := &in.ops[0]
	src, _ := c.get(&in.ops[1], size)
	acc := c.g[rAX] & sizeMask[size]
	if d.kind == kMem {
		addr := c.ea(d)
		t, ok := c.atomicTarget(addr, size)
		if !ok {
			return
		}
		for {
			old := c.atomicLoad(t)
			c.alu(aluCmp, size, acc, old)
			if old != acc {
				// The CPU writes the old value back; it is unchanged.
				c.setReg(rAX, size, old)
				return
			}
			if c.atomicCAS(t, old, src) {
				return
			}
		}
	}
	old, _ := c.get(d, size)
	c.alu(aluCmp, size, acc, old)
	if old == acc {
		c.set(d, size, src)
	} else {
		c.setReg(rAX, size, old)
	}
}

// opCmpxchg16b is CMPXCHG16B (in.size 16) or CMPXCHG8B (8).
func opCmpxchg16b(c *CPU, in *inst) {
	addr := c.ea(&in.ops[0])
	if in.size == 16 {
		if addr&15 != 0 {
			c.fault(cpu.VecGeneralProt, 0, 0)
			return
		}
		if !c.probeWrite(addr, 16) {
			return
		}
		lo, _ := c.rd64(addr)
		hi, _ := c.rd64(addr + 8)
		if lo == c.g[rAX] && hi == c.g[rDX] {
			c.wr64(addr, c.g[rBX])
			c.wr64(addr+8, c.g[rCX])
			c.setArith(c.getFlags() | flagZF)
		} else {
			c.g[rAX], c.g[rDX] = lo, hi
			c.setArith(c.getFlags() &^ flagZF)
		}
		return
	}
	if !c.probeWrite(addr, 8) {
		return
	}
	v, _ := c.rd64(addr)
	want := c.g[rDX]<<32 | c.g[rAX]&0xFFFF_FFFF
	if v == want {
		c.wr64(addr, c.g[rCX]<<32|c.g[rBX]&0xFFFF_FFFF)
		c.setArith(c.getFlags() | flagZF)
	} else {
		c.g[rAX], c.g[rDX] = v&0xFFFF_FFFF, v>>32
		c.setArith(c.getFlags() &^ flagZF)
	}
}

func opXadd(c *CPU, in *inst) {
	size := in.size
	d, s := &in.ops[0], &in.ops[1]
	b, _ := c.get(s, size)
	if d.kind == kMem {
		t, ok := c.atomicTarget(c.ea(d), size)
		if !ok {
			return
		}
		for {
			old := c.atomicLoad(t)
			r := (old + b) & sizeMask[size]
			if c.atomicCAS(t, old, r) {
				c.setLazy(lazyAdd, size, r, old, b)
				c.set(s, size, old)
				return
			}
		}
	}
	a, _ := c.get(d, size)
	r := c.alu(aluAdd, size, a, b)
	c.set(s, size, a)
	c.set(d, size, r)
}

func opBswap(c *CPU, in *inst) {
	r := in.ops[0].reg
	switch in.size {
	case 8:
		c.g[r] = bits.ReverseBytes64(c.g[r])
	case 4:
		c.g[r] = uint64(bits.ReverseBytes32(uint32(c.g[r])))
	default:
		c.g[r] &^= 0xFFFF // BSWAP of a 16-bit register: undefined; zero as hardware does
	}
}

// opCbw covers CBW, CWDE and CDQE: sign-extend the low half of the
// accumulator (in.size is the destination size).
func opCbw(c *CPU, in *inst) {
	half := in.size / 2
	c.setReg(rAX, in.size, signExtend(c.g[rAX]&sizeMask[half], half))
}

// opXlat is XLAT: AL = the byte at RBX (EBX with an address-size prefix)
// plus AL, unsigned.
func opXlat(c *CPU, in *inst) {
	o := &in.ops[0]
	a := o.disp + c.g[o.base] + c.g[rAX]&0xFF
	if o.a32 {
		a &= 0xFFFF_FFFF
	}
	v, ok := c.rd8(a)
	if !ok {
		return
	}
	c.setReg(rAX, 1, v)
}

// opCwd covers CWD, CDQ and CQO: fill the data register with the
// accumulator's sign.
func opCwd(c *CPU, in *inst) {
	v := c.g[rAX] & sizeMask[in.size]
	var d uint64
	if v>>(uint(in.size)*8-1) != 0 {
		d = ^uint64(0)
	}
	c.setReg(rDX, in.size, d)
}

// Multiplication and division.

// opMul1 is the one-operand MUL (sub 0) and IMUL (sub 1).
func opMul1(c *CPU, in *inst) {
	size := in.size
	src, ok := c.get(&in.ops[0], size)
	if !ok {
		return
	}
	a := c.g[rAX] & sizeMask[size]
	var lo, hi uint64
	var over bool
	if in.sub == 0 {
		switch size {
		case 8:
			hi, lo = bits.Mul64(a, src)
		default:
			p := a * src
			lo, hi = p&sizeMask[size], p>>(uint(size)*8)
		}
		over = hi != 0
	} else {
		sa, ss := int64(signExtend(a, size)), int64(signExtend(src, size))
		switch size {
		case 8:
			h, l := bits.Mul64(uint64(sa), uint64(ss))
			// Signed high half from the unsigned product.
			if sa < 0 {
				h -= uint64(ss)
			}
			if ss < 0 {
				h -= uint64(sa)
			}
			lo, hi = l, h
			over = hi != uint64(int64(lo)>>63)
		default:
			p := sa * ss
			lo, hi = uint64(p)&sizeMask[size], uint64(p>>(uint(size)*8))&sizeMask[size]
			over = p != int64(signExtend(uint64(p)&sizeMask[size], size))
		}
	}
	if size == 1 {
		c.setReg(rAX, 2, hi<<8|lo)
	} else {
		c.setReg(rAX, size, lo)
		c.setReg(rDX, size, hi)
	}
	c.mulFlags(size, lo, over)
}

// mulFlags sets CF and OF for a multiplication; SF, ZF and PF follow the
// low half of the result and AF is cleared, as on the hosts KVM runs on.
func (c *CPU) mulFlags(size uint8, lo uint64, over bool) {
	var f uint64
	if over {
		f |= flagCF | flagOF
	}
	f |= (lo >> (uint(size)*8 - 1) & 1) << 7
	f |= parity(lo)
	if lo == 0 {
		f |= flagZF
	}
	c.setArith(f)
}

// opImul is the two- and three-operand IMUL: ops[0] = ops[1] * ops[2].
func opImul(c *CPU, in *inst) {
	size := in.size
	a, ok := c.get(&in.ops[1], size)
	if !ok {
		return
	}
	b, ok := c.get(&in.ops[2], size)
	if !ok {
		return
	}
	sa, sb := int64(signExtend(a, size)), int64(signExtend(b, size))
	var lo uint64
	var over bool
	if size == 8 {
		h, l := bits.Mul64(uint64(sa), uint64(sb))
		if sa < 0 {
			h -= uint64(sb)
		}
		if sb < 0 {
			h -= uint64(sa)
		}
		lo = l
		over = h != uint64(int64(l)>>63)
	} else {
		p := sa * sb
		lo = uint64(p) & sizeMask[size]
		over = p != int64(signExtend(lo, size))
	}
	c.setReg(in.ops[0].reg, size, lo)
	c.mulFlags(size, lo, over)
}

// opDiv is DIV (sub 0) and IDIV (sub 1); #DE on a zero divisor or a
// quotient that does not fit.
func opDiv(c *CPU, in *inst) {
	size := in.size
	d, ok := c.get(&in.ops[0], size)
	if !ok {
		return
	}
	if d == 0 {
		c.fault(cpu.VecDivide, 0, 0)
		return
	}
	var hiIn, loIn uint64
	if size == 1 {
		hiIn, loIn = c.g[rAX]>>8&0xFF, c.g[rAX]&0xFF
	} else {
		hiIn, loIn = c.g[rDX]&sizeMask[size], c.g[rAX]&sizeMask[size]
	}
	var q, r uint64
	if in.sub == 0 {
		if size == 8 {
			if hiIn >= d {
				c.fault(cpu.VecDivide, 0, 0)
				return
			}
			q, r = bits.Div64(hiIn, loIn, d)
		} else {
			n := hiIn<<(uint(size)*8) | loIn
			q, r = n/d, n%d
			if q > sizeMask[size] {
				c.fault(cpu.VecDivide, 0, 0)
				return
			}
		}
	} else {
		sd := int64(signExtend(d, size))
		if size == 8 {
			neg := int64(hiIn) < 0
			// |dividend| as 128 bits.
			ah, al := hiIn, loIn
			if neg {
				al = -loIn
				ah = ^hiIn
				if al == 0 {
					ah++
				}
			}
			ad := uint64(sd)
			if sd < 0 {
				ad = uint64(-sd)
			}
			if ah >= ad {
				c.fault(cpu.VecDivide, 0, 0)
				return
			}
			uq, ur := bits.Div64(ah, al, ad)
			qneg := neg != (sd < 0)
			if qneg && uq > 1<<63 || !qneg && uq > 1<<63-1 {
				c.fault(cpu.VecDivide, 0, 0)
				return
			}
			q, r = uq, ur
			if qneg {
				q = -uq
			}
			if neg {
				r = -ur
			}
		} else {
			n := int64(signExtend(hiIn<<(uint(size)*8)|loIn, size*2))
			sq, sr := n/sd, n%sd
			if sq != int64(signExtend(uint64(sq)&sizeMask[size], size)) {
				c.fault(cpu.VecDivide, 0, 0)
				return
			}
			q, r = uint64(sq)&sizeMask[size], uint64(sr)&sizeMask[size]
		}
	}
	if size == 1 {
		c.setReg(rAX, 2, r<<8|q&0xFF)
	} else {
		c.setReg(rAX, size, q)
		c.setReg(rDX, size, r)
	}
}

// Shifts and rotates (inst.sub, the ModRM reg field of group 2).
const (
	shRol = 0
	shRor = 1
	shRcl = 2
	shRcr = 3
	shShl = 4
	shShr = 5
	shSal = 6
	shSar = 7
)

// opShift: ops[1] is the count (an immediate or CL).
func opShift(c *CPU, in *inst) {
	size := in.size
	cnt, _ := c.get(&in.ops[1], 1)
	if size == 8 {
		cnt &= 63
	} else {
		cnt &= 31
	}
	d := &in.ops[0]
	a, addr, ok := c.getRMW(d, size)
	if !ok {
		return
	}
	if cnt == 0 {
		c.shiftedByZero(d, size, a)
		return
	}
	bitsN := uint64(size) * 8
	m := sizeMask[size]
	msb := bitsN - 1
	f := c.getFlags() & flagsArith
	var r uint64
	setSZP := func(r uint64) {
		f &^= flagSF | flagZF | flagPF | flagAF
		f |= (r >> msb & 1) << 7
		f |= parity(r)
		if r == 0 {
			f |= flagZF
		}
	}
	setCF := func(b uint64) { f = f&^flagCF | b&1 }
	setOF := func(b uint64) { f = f&^flagOF | (b&1)<<11 }
	switch in.sub {
	case shShl, shSal:
		if cnt > bitsN {
			r = 0
			setCF(0)
		} else {
			r = a << cnt & m
			setCF(a >> (bitsN - cnt))
		}
		setSZP(r)
		setOF(r>>msb ^ f&flagCF)
	case shShr:
		if cnt > bitsN {
			r = 0
			setCF(0)
		} else {
			r = a >> cnt
			setCF(a >> (cnt - 1))
		}
		setSZP(r)
		setOF(a >> msb)
	case shSar:
		sa := int64(signExtend(a, size))
		if cnt >= bitsN {
			r = uint64(sa>>63) & m
			setCF(uint64(sa >> 63))
		} else {
			r = uint64(sa>>cnt) & m
			setCF(uint64(sa >> (cnt - 1)))
		}
		setSZP(r)
		setOF(0)
	case shRol:
		n := cnt % bitsN
		r = (a<<n | a>>((bitsN-n)%bitsN)) & m
		setCF(r)
		setOF(r>>msb ^ r)
	case shRor:
		n := cnt % bitsN
		r = (a>>n | a<<((bitsN-n)%bitsN)) & m
		setCF(r >> msb)
		setOF(r>>msb ^ r>>(msb-1))
	case shRcl, shRcr:
		n := cnt
		if size < 4 {
			n = cnt % (bitsN + 1)
		}
		cf := f & flagCF
		r = a
		for i := uint64(0); i < n; i++ {
			if in.sub == shRcl {
				out := r >> msb & 1
				r = (r<<1 | cf) & m
				cf = out
			} else {
				out := r & 1
				r = r>>1 | cf<<msb
				cf = out
			}
		}
		if in.sub == shRcl {
			setOF(r>>msb ^ cf)
		} else {
			setOF(r>>msb ^ r>>(msb-1))
		}
		setCF(cf)
	}
	c.putRMW(d, addr, size, r)
	c.setArith(f)
}

// shiftedByZero finishes a shift by a masked count of 0: flags and value
// stay, but a 32-bit register is written all the same, its upper half
// cleared as by any 32-bit write.
func (c *CPU) shiftedByZero(d *operand, size uint8, a uint64) {
	if d.kind == kReg && size == 4 {
		c.setReg(d.reg, 4, a)
	}
}

// opShd is SHLD (sub 0) and SHRD (sub 1): ops[0] shifted with bits from
// ops[1], count in ops[2].
func opShd(c *CPU, in *inst) {
	size := in.size
	cnt, _ := c.get(&in.ops[2], 1)
	if size == 8 {
		cnt &= 63
	} else {
		cnt &= 31
	}
	d := &in.ops[0]
	a, addr, ok := c.getRMW(d, size)
	if !ok {
		return
	}
	if cnt == 0 {
		c.shiftedByZero(d, size, a)
		return
	}
	b, _ := c.get(&in.ops[1], size)
	bitsN := uint64(size) * 8
	msb := bitsN - 1
	m := sizeMask[size]
	var r, cf uint64
	if size == 2 && cnt > 16 {
		// Undefined result; hardware shifts through the 32-bit
		// concatenation. Use that.
		cat := a<<16 | b
		if in.sub == 1 {
			cat = b<<16 | a
		}
		cat |= cat << 32
		if in.sub == 0 {
			r = cat >> (32 - cnt) & m
			cf = cat >> (32 - cnt + 16 - 1) & 1
		} else {
			r = cat >> cnt & m
			cf = cat >> (cnt - 1) & 1
		}
	} else if in.sub == 0 {
		r = (a<<cnt | b>>(bitsN-cnt)) & m
		cf = a >> (bitsN - cnt) & 1
	} else {
		r = (a>>cnt | b<<(bitsN-cnt)) & m
		cf = a >> (cnt - 1) & 1
	}
	f := cf
	f |= (r >> msb & 1) << 7
	f |= parity(r)
	if r == 0 {
		f |= flagZF
	}
	if (r^a)>>msb&1 != 0 {
		f |= flagOF
	}
	c.putRMW(d, addr, size, r)
	c.setArith(f)
}

// Bit tests (inst.sub).
const (
	btTest = iota
	btSet
	btReset
	btComplement
)

func opBt(c *CPU, in *inst) {
	size := in.size
	d := &in.ops[0]
	off, _ := c.get(&in.ops[1], size)
	bitsN := uint64(size) * 8
	var v, addr uint64
	var ok bool
	var bit uint64
	if d.kind == kMem && in.ops[1].kind != kImm {
		// A register bit offset can reach beyond the operand: it is
		// signed, in units of the operand size.
		so := int64(signExtend(off, size))
		addr = c.ea(d) + uint64((so>>(3+bits.TrailingZeros64(uint64(size))))*int64(size))
		bit = uint64(so) & (bitsN - 1)
		o := operand{kind: kMem, base: regZero, index: regZero, disp: addr}
		if in.sub == btTest {
			v, ok = c.get(&o, size)
		} else {
			v, addr, ok = c.getRMW(&o, size)
		}
		if !ok {
			if d.ss && c.nonCanonical && c.exit.Fault.Vector == cpu.VecGeneralProt {
				// Still the operand's segment, however far the
				// offset took the address.
				c.exit.Fault.Vector, c.nonCanonical = cpu.VecStackFault, false
			}
			return
		}
		d = &o
	} else {
		bit = off & (bitsN - 1)
		if in.sub == btTest {
			v, ok = c.get(d, size)
		} else {
			v, addr, ok = c.getRMW(d, size)
		}
		if !ok {
			return
		}
	}
	f := c.getFlags()
	c.flags = f&^flagCF | v>>bit&1
	switch in.sub {
	case btSet:
		v |= 1 << bit
	case btReset:
		v &^= 1 << bit
	case btComplement:
		v ^= 1 << bit
	default:
		return
	}
	c.putRMW(d, addr, size, v)
}

// opBsf is BSF (sub 0) and BSR (sub 1). With a zero source the
// destination keeps its value and ZF is set.
func opBsf(c *CPU, in *inst) {
	size := in.size
	v, ok := c.get(&in.ops[1], size)
	if !ok {
		return
	}
	f := c.getFlags() &^ flagsArith
	if v == 0 {
		c.flags = f | flagZF
		return
	}
	var r uint64
	if in.sub == 0 {
		r = uint64(bits.TrailingZeros64(v))
	} else {
		r = uint64(63 - bits.LeadingZeros64(v))
	}
	c.flags = f | parity(r)
	c.setReg(in.ops[0].reg, size, r)
}

// opTzcnt is TZCNT (sub 0) and LZCNT (sub 1).
func opTzcnt(c *CPU, in *inst) {
	size := in.size
	v, ok := c.get(&in.ops[1], size)
	if !ok {
		return
	}
	bitsN := uint64(size) * 8
	var r uint64
	if in.sub == 0 {
		r = bitsN
		if v != 0 {
			r = uint64(bits.TrailingZeros64(v))
		}
	} else {
		r = uint64(bits.LeadingZeros64(v)) - (64 - bitsN)
	}
	f := c.getFlags() &^ flagsArith
	if v == 0 {
		f |= flagCF
	}
	if r == 0 {
		f |= flagZF
	}
	c.flags = f
	c.setReg(in.ops[0].reg, size, r)
}

func opPopcnt(c *CPU, in *inst) {
	size := in.size
	v, ok := c.get(&in.ops[1], size)
	if !ok {
		return
	}
	f := c.getFlags() &^ flagsArith
	if v == 0 {
		f |= flagZF
	}
	c.flags = f
	c.setReg(in.ops[0].reg, size, uint64(bits.OnesCount64(v)))
}

func opCmov(c *CPU, in *inst) {
	v, ok := c.get(&in.ops[1], in.size)
	if !ok {
		return
	}
	if c.cond(in.sub) {
		c.setReg(in.ops[0].reg, in.size, v)
	} else if in.size == 4 {
		c.g[in.ops[0].reg] &= 0xFFFF_FFFF // a 32-bit CMOV always writes
	}
}

func opSetcc(c *CPU, in *inst) {
	var v uint64
	if c.cond(in.sub) {
		v = 1
	}
	c.set(&in.ops[0], 1, v)
}

// Flag instructions (inst.sub).
const (
	flClc = iota
	flStc
	flCmc
	flCld
	flStd
	flLahf
	flSahf
)

func opFlag(c *CPU, in *inst) {
	f := c.getFlags()
	switch in.sub {
	case flClc:
		f &^= flagCF
	case flStc:
		f |= flagCF
	case flCmc:
		f ^= flagCF
	case flCld:
		f &^= flagDF
	case flStd:
		f |= flagDF
	case flLahf:
		c.g[rAX] = c.g[rAX]&^0xFF00 | (f&0xFF|2)<<8
	case flSahf:
		ah := c.g[rAX] >> 8 & 0xFF
		f = f&^(flagSF|flagZF|flagAF|flagPF|flagCF) | ah&(flagSF|flagZF|flagAF|flagPF|flagCF)
	}
	c.flags = f
}

// Specialised forms of common instructions, chosen at decode time: they
// skip the operand-kind dispatch of get and set. Those with a 64-bit
// address size have faster forms still in fast.go; these take the rest
// (32-bit addresses, through ea).

// opCmpMI compares memory with an immediate.
func opCmpMI(c *CPU, in *inst) {
	size := in.size
	a, ok := c.rd(c.ea(&in.ops[0]), size)
	if ok {
		m := sizeMask[size]
		c.setLazy(lazySub, size, (a-in.ops[1].disp)&m, a, in.ops[1].disp&m)
	}
}

// opMovMI stores an immediate.
func opMovMI(c *CPU, in *inst) {
	c.wr(c.ea(&in.ops[0]), in.size, in.ops[1].disp&sizeMask[in.size])
}

// opMovRI loads an immediate into a register of 4 or 8 bytes.
func opMovRI(c *CPU, in *inst) { c.g[in.ops[0].reg] = in.ops[1].disp & sizeMask[in.size] }

// opMovRR32 is a 32-bit register move (zero-extending).
func opMovRR32(c *CPU, in *inst) { c.g[in.ops[0].reg] = c.g[in.ops[1].reg] & 0xFFFF_FFFF }

// opMovRM32 loads a 32-bit register from memory.
func opMovRM32(c *CPU, in *inst) {
	if v, ok := c.rd32(c.ea(&in.ops[1])); ok {
		c.g[in.ops[0].reg] = v
	}
}

// opTestRR is TEST of two registers of 4 or 8 bytes.
func opTestRR(c *CPU, in *inst) {
	m := sizeMask[in.size]
	r := c.g[in.ops[0].reg] & c.g[in.ops[1].reg] & m
	c.setLazy(lazyLogic, in.size, r, r, r)
}
