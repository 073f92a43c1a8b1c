package interp

import "math/bits"

// Lazy flags. Most instructions that set the arithmetic flags have them
// read, if at all, by the next conditional jump; so an instruction records
// the operation, its operands and result (all masked to the operand size),
// and the flags are computed when something asks.
const (
	lazyNone  = iota // c.flags holds every flag
	lazyAdd          // la + lb = lres
	lazyAdc          // la + lb + lcf = lres
	lazySub          // la - lb = lres
	lazySbb          // la - lb - lcf = lres
	lazyLogic        // CF = OF = AF = 0
	lazyInc          // la + 1; CF kept in lcf
	lazyDec          // la - 1; CF kept in lcf
	lazyNeg          // 0 - lb
	// Shifts of a 32- or 64-bit operand la by a count lb between 1 and
	// the operand's bits less one; AF is clear.
	lazyShl
	lazyShr
	lazySar
)

var sizeMask = [9]uint64{1: 0xFF, 2: 0xFFFF, 4: 0xFFFF_FFFF, 8: ^uint64(0)}

// setLazy records an arithmetic result.
func (c *CPU) setLazy(op uint8, size uint8, res, a, b uint64) {
	c.lop, c.lsz, c.lres, c.la, c.lb = op, size, res, a, b
}

// parity is PF for the low byte of v.
func parity(v uint64) uint64 {
	return uint64(^bits.OnesCount8(uint8(v))&1) << 2
}

// lazyFlags computes the arithmetic flags of the recorded operation.
func (c *CPU) lazyFlags() uint64 {
	size := c.lsz
	msb := uint(size)*8 - 1
	res, a, b := c.lres, c.la, c.lb
	var f uint64
	if res == 0 {
		f |= flagZF
	}
	f |= (res >> msb & 1) << 7
	f |= parity(res)
	switch c.lop {
	case lazyAdd:
		if res < a {
			f |= flagCF
		}
		f |= ((a ^ res) & (b ^ res) >> msb & 1) << 11
		f |= (a ^ b ^ res) & flagAF
	case lazyAdc:
		if res < a || c.lcf != 0 && res == a {
			f |= flagCF
		}
		f |= ((a ^ res) & (b ^ res) >> msb & 1) << 11
		f |= (a ^ b ^ res) & flagAF
	case lazySub:
		if a < b {
			f |= flagCF
		}
		f |= ((a ^ b) & (a ^ res) >> msb & 1) << 11
		f |= (a ^ b ^ res) & flagAF
	case lazySbb:
		if a < b || c.lcf != 0 && a == b {
			f |= flagCF
		}
		f |= ((a ^ b) & (a ^ res) >> msb & 1) << 11
		f |= (a ^ b ^ res) & flagAF
	case lazyLogic:
	case lazyInc:
		f |= c.lcf
		if res == 1<<msb {
			f |= flagOF
		}
		if res&0xF == 0 {
			f |= flagAF
		}
	case lazyDec:
		f |= c.lcf
		if res == 1<<msb-1 {
			f |= flagOF
		}
		if res&0xF == 0xF {
			f |= flagAF
		}
	case lazyNeg:
		if res != 0 {
			f |= flagCF
		}
		if res == 1<<msb {
			f |= flagOF
		}
		f |= (b ^ res) & flagAF
	case lazyShl: // OF: the result's top bit xor CF
		cf := a >> (uint(size)*8 - uint(b)) & 1
		f |= cf | (res>>msb^cf)<<11
	case lazyShr: // OF: the operand's top bit
		f |= a>>(b-1)&1 | (a>>msb&1)<<11
	case lazySar: // OF clear
		f |= uint64(int64(signExtend(a, size))>>(b-1)) & 1
	}
	return f
}

// getFlags returns RFLAGS with the arithmetic flags computed.
func (c *CPU) getFlags() uint64 {
	if c.lop != lazyNone {
		c.flags = c.flags&^flagsArith | c.lazyFlags()
		c.lop = lazyNone
	}
	return c.flags
}

// setArith replaces the arithmetic flags.
func (c *CPU) setArith(f uint64) {
	c.getFlags()
	c.flags = c.flags&^flagsArith | f&flagsArith
}

// carry returns CF as 0 or 1.
func (c *CPU) carry() uint64 {
	switch c.lop {
	case lazyNone:
		return c.flags & flagCF
	case lazyLogic:
		return 0
	case lazyAdd:
		if c.lres < c.la {
			return 1
		}
		return 0
	case lazySub:
		if c.la < c.lb {
			return 1
		}
		return 0
	case lazyInc, lazyDec:
		return c.lcf
	}
	return c.getFlags() & flagCF
}

// Condition codes, as the low nibble of Jcc/SETcc/CMOVcc opcodes.
const (
	ccO = iota
	ccNO
	ccB
	ccAE
	ccE
	ccNE
	ccBE
	ccA
	ccS
	ccNS
	ccP
	ccNP
	ccL
	ccGE
	ccLE
	ccG
)

// cond evaluates a condition code.
func (c *CPU) cond(cc uint8) bool {
	if c.lop != lazyNone {
		// Every lazy operation keeps its result, masked: ZF and SF follow.
		switch cc {
		case ccE:
			return c.lres == 0
		case ccNE:
			return c.lres != 0
		case ccS:
			return c.lres>>(uint(c.lsz)*8-1)&1 != 0
		case ccNS:
			return c.lres>>(uint(c.lsz)*8-1)&1 == 0
		}
	}
	switch c.lop {
	case lazySub:
		a, b := c.la, c.lb
		switch cc {
		case ccE:
			return a == b
		case ccNE:
			return a != b
		case ccB:
			return a < b
		case ccAE:
			return a >= b
		case ccBE:
			return a <= b
		case ccA:
			return a > b
		case ccL, ccGE, ccLE, ccG:
			sh := 64 - uint(c.lsz)*8
			sa, sb := int64(a<<sh), int64(b<<sh)
			switch cc {
			case ccL:
				return sa < sb
			case ccGE:
				return sa >= sb
			case ccLE:
				return sa <= sb
			}
			return sa > sb
		}
	case lazyLogic:
		r := c.lres
		switch cc {
		case ccE:
			return r == 0
		case ccNE:
			return r != 0
		case ccS, ccL:
			return r>>(uint(c.lsz)*8-1) != 0
		case ccNS, ccGE:
			return r>>(uint(c.lsz)*8-1) == 0
		case ccLE:
			return r == 0 || r>>(uint(c.lsz)*8-1) != 0
		case ccG:
			return r != 0 && r>>(uint(c.lsz)*8-1) == 0
		case ccB, ccO:
			return false
		case ccAE, ccNO:
			return true
		case ccBE:
			return r == 0
		case ccA:
			return r != 0
		}
	}
	f := c.getFlags()
	var r bool
	switch cc >> 1 {
	case 0:
		r = f&flagOF != 0
	case 1:
		r = f&flagCF != 0
	case 2:
		r = f&flagZF != 0
	case 3:
		r = f&(flagCF|flagZF) != 0
	case 4:
		r = f&flagSF != 0
	case 5:
		r = f&flagPF != 0
	case 6:
		r = (f&flagSF != 0) != (f&flagOF != 0)
	case 7:
		r = f&flagZF != 0 || (f&flagSF != 0) != (f&flagOF != 0)
	}
	return r != (cc&1 != 0)
}
