package interp

import "encoding/binary"

// The x87 environment: FNSTENV and FLDENV move the control, status and
// tag words and the last instruction's pointers; FNSAVE and FRSTOR move
// them and the eight registers. The 32-bit format (28 bytes) is 64-bit
// mode's default; an operand-size prefix selects the 16-bit one (14
// bytes).
//
// The pointers are the last non-control instruction's address, opcode and
// memory operand. As on AMD's CPUs, FNSTENV, FNSAVE and FXSAVE store them
// only while an exception an instruction raised unmasked, or one an
// environment loaded, is pending: the one case an exception handler needs
// them. Otherwise they store zeros, also where FLDCW has unmasked a flag
// set earlier (which the status word's ES shows all the same). The code
// and data selectors are stored as 0.

// x87Control reports whether the escape and ModRM bytes are a control
// instruction, which leaves the last instruction's pointers alone:
// FNINIT, FNCLEX, FLDCW, FNSTCW, FNSTSW, FLDENV, FNSTENV, FRSTOR, FNSAVE.
func x87Control(esc, modrm byte) bool {
	reg := modrm >> 3 & 7
	switch esc {
	case 0xD9:
		return modrm < 0xC0 && reg >= 4
	case 0xDB:
		return modrm == 0xE2 || modrm == 0xE3
	case 0xDD:
		return modrm < 0xC0 && (reg == 4 || reg == 6 || reg == 7)
	case 0xDF:
		return modrm == 0xE0
	}
	return false
}

// Full tag word values, two bits a register.
const (
	tagValid   = 0
	tagZero    = 1
	tagSpecial = 2
	tagEmpty   = 3
)

// tagWord is the full tag word, physical register 0 in the low bits.
func (f *x87) tagWord() uint16 {
	var w uint16
	for i := range 8 {
		t := uint16(tagEmpty)
		if f.tags&(1<<i) != 0 {
			v := f.regs[i]
			switch {
			case v.isZero():
				t = tagZero
			case v.exp() == 0 || v.exp() == 0x7FFF || v.unsupported():
				t = tagSpecial
			default:
				t = tagValid
			}
		}
		w |= t << (2 * i)
	}
	return w
}

// pointers returns the last instruction's pointers as stored: zeros
// unless an exception is pending.
func (f *x87) pointers() (ip, dp uint64, op uint16) {
	if !f.pending() || !f.raised {
		return 0, 0, 0
	}
	return f.ip, f.dp, f.op
}

// envSize is the size of the environment in the 16- or 32-bit format,
// with the registers for FNSAVE and FRSTOR.
func envSize(short, regs bool) uint64 {
	n := uint64(28)
	if short {
		n = 14
	}
	if regs {
		n += 80
	}
	return n
}

// x87StoreEnv is FNSTENV (regs false) and FNSAVE (regs true) at a.
// FNSTENV then masks every exception; FNSAVE initialises the FPU.
func (c *CPU) x87StoreEnv(a uint64, short, regs bool) {
	f := &c.fpu
	var b [108]byte
	env := b[:envSize(short, regs)]
	le := binary.LittleEndian
	ip, dp, op := f.pointers()
	if short {
		le.PutUint16(env[0:], f.cw)
		le.PutUint16(env[2:], f.statusWord())
		le.PutUint16(env[4:], f.tagWord())
		le.PutUint16(env[6:], uint16(ip))
		le.PutUint16(env[10:], uint16(dp))
	} else {
		// The reserved upper halves read as ones.
		le.PutUint32(env[0:], 0xFFFF_0000|uint32(f.cw))
		le.PutUint32(env[4:], 0xFFFF_0000|uint32(f.statusWord()))
		le.PutUint32(env[8:], 0xFFFF_0000|uint32(f.tagWord()))
		le.PutUint32(env[12:], uint32(ip))
		le.PutUint32(env[16:], uint32(op)<<16)
		le.PutUint32(env[20:], uint32(dp))
		le.PutUint32(env[24:], 0xFFFF_0000)
	}
	if regs {
		o := len(env) - 80
		for i := range 8 {
			v := f.st(i)
			le.PutUint64(env[o+10*i:], v.mant)
			le.PutUint16(env[o+10*i+8:], v.se)
		}
	}
	if !c.probeWrite(a, uint64(len(env))) || !c.wrBytes(a, env) {
		return
	}
	if regs {
		f.init()
	} else {
		f.cw |= 0x3F
	}
}

// x87LoadEnv is FLDENV (regs false) and FRSTOR (regs true) from a.
func (c *CPU) x87LoadEnv(a uint64, short, regs bool) {
	f := &c.fpu
	var b [108]byte
	env := b[:envSize(short, regs)]
	if !c.rdBytes(a, env) {
		return
	}
	le := binary.LittleEndian
	var cw, sw, tw uint16
	if short {
		cw, sw, tw = le.Uint16(env[0:]), le.Uint16(env[2:]), le.Uint16(env[4:])
		f.ip, f.dp, f.op = uint64(le.Uint16(env[6:])), uint64(le.Uint16(env[10:])), 0
	} else {
		cw, sw, tw = le.Uint16(env[0:]), le.Uint16(env[4:]), le.Uint16(env[8:])
		f.ip, f.op, f.dp = uint64(le.Uint32(env[12:])), le.Uint16(env[18:])&0x7FF, uint64(le.Uint32(env[20:]))
	}
	f.cw = cw&fcwBits | 0x40
	f.top = uint8(sw>>11) & 7
	f.sw = sw &^ (7<<11 | swES | swB)
	f.raised = f.pending() // the loaded pointers are the exception's
	f.tags = 0
	for i := range 8 {
		if tw>>(2*i)&3 != tagEmpty {
			f.tags |= 1 << i
		}
	}
	if regs {
		o := len(env) - 80
		for i := range 8 {
			f.setST(i, f80{mant: le.Uint64(env[o+10*i:]), se: le.Uint16(env[o+10*i+8:])})
		}
	}
}
