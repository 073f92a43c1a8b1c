package interp

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"

	"golang.org/x/arch/x86/x86asm"

	"github.com/aurora-vm/aurora-vm/cpu"
)

// SSE and SSE2. XMM registers are pairs of 64-bit halves; packed integer
// operations work on them lane by lane. Floating-point arithmetic follows
// MXCSR's rounding control (Go's own arithmetic for round-to-nearest,
// math/big otherwise) and x86's NaN rules: a NaN operand comes back quiet,
// the first source's if both are NaN. The exception conditions set MXCSR's
// sticky flags, or raise #XM where unmasked (softfp.go, sseDone).

type sseInfo struct {
	fn  func(*CPU, *inst)
	sub uint8
}

// Element kinds for packed operations (inst.sub low bits).
const (
	elB = 1
	elW = 2
	elD = 4
	elQ = 8
)

var sseOps = map[x86asm.Op]sseInfo{
	x86asm.MOVAPS: {opMov128, 1}, x86asm.MOVAPD: {opMov128, 1}, x86asm.MOVDQA: {opMov128, 1},
	x86asm.MOVNTPS: {opMov128, 1}, x86asm.MOVNTPD: {opMov128, 1}, x86asm.MOVNTDQ: {opMov128, 1},
	x86asm.MOVUPS: {opMov128, 0}, x86asm.MOVUPD: {opMov128, 0}, x86asm.MOVDQU: {opMov128, 0},
	x86asm.MOVSD_XMM: {opMovScalar, 8}, x86asm.MOVSS: {opMovScalar, 4},
	x86asm.MOVQ: {opMovq, 8}, x86asm.MOVD: {opMovq, 4},
	x86asm.MOVHPS: {opMovHalf, 1}, x86asm.MOVHPD: {opMovHalf, 1},
	x86asm.MOVLPS: {opMovHalf, 0}, x86asm.MOVLPD: {opMovHalf, 0},
	x86asm.MOVHLPS: {opMovHL, 0}, x86asm.MOVLHPS: {opMovHL, 1},
	x86asm.MOVMSKPS: {opMovmsk, 4}, x86asm.MOVMSKPD: {opMovmsk, 8}, x86asm.PMOVMSKB: {opMovmsk, 1},
	x86asm.MOVNTI: {opMov, 0},

	x86asm.PAND: {opLogic128, 0}, x86asm.ANDPS: {opLogic128, 0}, x86asm.ANDPD: {opLogic128, 0},
	x86asm.PANDN: {opLogic128, 1}, x86asm.ANDNPS: {opLogic128, 1}, x86asm.ANDNPD: {opLogic128, 1},
	x86asm.POR: {opLogic128, 2}, x86asm.ORPS: {opLogic128, 2}, x86asm.ORPD: {opLogic128, 2},
	x86asm.PXOR: {opLogic128, 3}, x86asm.XORPS: {opLogic128, 3}, x86asm.XORPD: {opLogic128, 3},

	x86asm.PADDB: {opPacked, pAdd<<4 | elB}, x86asm.PADDW: {opPacked, pAdd<<4 | elW},
	x86asm.PADDD: {opPacked, pAdd<<4 | elD}, x86asm.PADDQ: {opPacked, pAdd<<4 | elQ},
	x86asm.PSUBB: {opPacked, pSub<<4 | elB}, x86asm.PSUBW: {opPacked, pSub<<4 | elW},
	x86asm.PSUBD: {opPacked, pSub<<4 | elD}, x86asm.PSUBQ: {opPacked, pSub<<4 | elQ},
	x86asm.PADDUSB: {opPacked, pAddUS<<4 | elB}, x86asm.PADDUSW: {opPacked, pAddUS<<4 | elW},
	x86asm.PADDSB: {opPacked, pAddSS<<4 | elB}, x86asm.PADDSW: {opPacked, pAddSS<<4 | elW},
	x86asm.PSUBUSB: {opPacked, pSubUS<<4 | elB}, x86asm.PSUBUSW: {opPacked, pSubUS<<4 | elW},
	x86asm.PSUBSB: {opPacked, pSubSS<<4 | elB}, x86asm.PSUBSW: {opPacked, pSubSS<<4 | elW},
	x86asm.PCMPEQB: {opPacked, pCmpEq<<4 | elB}, x86asm.PCMPEQW: {opPacked, pCmpEq<<4 | elW},
	x86asm.PCMPEQD: {opPacked, pCmpEq<<4 | elD},
	x86asm.PCMPGTB: {opPacked, pCmpGt<<4 | elB}, x86asm.PCMPGTW: {opPacked, pCmpGt<<4 | elW},
	x86asm.PCMPGTD: {opPacked, pCmpGt<<4 | elD},
	x86asm.PMINUB:  {opPacked, pMinU<<4 | elB}, x86asm.PMAXUB: {opPacked, pMaxU<<4 | elB},
	x86asm.PMINSW: {opPacked, pMinS<<4 | elW}, x86asm.PMAXSW: {opPacked, pMaxS<<4 | elW},
	x86asm.PAVGB: {opPacked, pAvg<<4 | elB}, x86asm.PAVGW: {opPacked, pAvg<<4 | elW},
	x86asm.PMULLW: {opPacked, pMulLo<<4 | elW}, x86asm.PMULHW: {opPacked, pMulHiS<<4 | elW},
	x86asm.PMULHUW: {opPacked, pMulHiU<<4 | elW},
	x86asm.PMULUDQ: {opPmuludq, 0}, x86asm.PMADDWD: {opPmaddwd, 0}, x86asm.PSADBW: {opPsadbw, 0},

	x86asm.PSLLW: {opPshift, 0<<4 | elW}, x86asm.PSLLD: {opPshift, 0<<4 | elD}, x86asm.PSLLQ: {opPshift, 0<<4 | elQ},
	x86asm.PSRLW: {opPshift, 1<<4 | elW}, x86asm.PSRLD: {opPshift, 1<<4 | elD}, x86asm.PSRLQ: {opPshift, 1<<4 | elQ},
	x86asm.PSRAW: {opPshift, 2<<4 | elW}, x86asm.PSRAD: {opPshift, 2<<4 | elD},
	x86asm.PSLLDQ: {opPshiftDQ, 0}, x86asm.PSRLDQ: {opPshiftDQ, 1},

	x86asm.PUNPCKLBW: {opUnpack, 0<<4 | elB}, x86asm.PUNPCKLWD: {opUnpack, 0<<4 | elW},
	x86asm.PUNPCKLDQ: {opUnpack, 0<<4 | elD}, x86asm.PUNPCKLQDQ: {opUnpack, 0<<4 | elQ},
	x86asm.PUNPCKHBW: {opUnpack, 1<<4 | elB}, x86asm.PUNPCKHWD: {opUnpack, 1<<4 | elW},
	x86asm.PUNPCKHDQ: {opUnpack, 1<<4 | elD}, x86asm.PUNPCKHQDQ: {opUnpack, 1<<4 | elQ},
	x86asm.UNPCKLPS: {opUnpack, 0<<4 | elD}, x86asm.UNPCKHPS: {opUnpack, 1<<4 | elD},
	x86asm.UNPCKLPD: {opUnpack, 0<<4 | elQ}, x86asm.UNPCKHPD: {opUnpack, 1<<4 | elQ},
	x86asm.PACKSSWB: {opPack, 0}, x86asm.PACKSSDW: {opPack, 1}, x86asm.PACKUSWB: {opPack, 2},
	x86asm.PSHUFD: {opPshufd, 0}, x86asm.PSHUFLW: {opPshufd, 1}, x86asm.PSHUFHW: {opPshufd, 2},
	x86asm.SHUFPS: {opShufps, 0}, x86asm.SHUFPD: {opShufpd, 0},
	x86asm.PEXTRW: {opPextrw, 0}, x86asm.PINSRW: {opPinsrw, 0},

	x86asm.ADDSS: {opFPArith, fAdd<<4 | fS}, x86asm.ADDSD: {opFPArith, fAdd<<4 | fD},
	x86asm.ADDPS: {opFPArith, fAdd<<4 | fPS}, x86asm.ADDPD: {opFPArith, fAdd<<4 | fPD},
	x86asm.SUBSS: {opFPArith, fSub<<4 | fS}, x86asm.SUBSD: {opFPArith, fSub<<4 | fD},
	x86asm.SUBPS: {opFPArith, fSub<<4 | fPS}, x86asm.SUBPD: {opFPArith, fSub<<4 | fPD},
	x86asm.MULSS: {opFPArith, fMul<<4 | fS}, x86asm.MULSD: {opFPArith, fMul<<4 | fD},
	x86asm.MULPS: {opFPArith, fMul<<4 | fPS}, x86asm.MULPD: {opFPArith, fMul<<4 | fPD},
	x86asm.DIVSS: {opFPArith, fDiv<<4 | fS}, x86asm.DIVSD: {opFPArith, fDiv<<4 | fD},
	x86asm.DIVPS: {opFPArith, fDiv<<4 | fPS}, x86asm.DIVPD: {opFPArith, fDiv<<4 | fPD},
	x86asm.MINSS: {opFPArith, fMin<<4 | fS}, x86asm.MINSD: {opFPArith, fMin<<4 | fD},
	x86asm.MINPS: {opFPArith, fMin<<4 | fPS}, x86asm.MINPD: {opFPArith, fMin<<4 | fPD},
	x86asm.MAXSS: {opFPArith, fMax<<4 | fS}, x86asm.MAXSD: {opFPArith, fMax<<4 | fD},
	x86asm.MAXPS: {opFPArith, fMax<<4 | fPS}, x86asm.MAXPD: {opFPArith, fMax<<4 | fPD},
	x86asm.SQRTSS: {opFPArith, fSqrt<<4 | fS}, x86asm.SQRTSD: {opFPArith, fSqrt<<4 | fD},
	x86asm.SQRTPS: {opFPArith, fSqrt<<4 | fPS}, x86asm.SQRTPD: {opFPArith, fSqrt<<4 | fPD},
	x86asm.CMPSS: {opFPCmp, fS}, x86asm.CMPSD_XMM: {opFPCmp, fD},
	x86asm.CMPPS: {opFPCmp, fPS}, x86asm.CMPPD: {opFPCmp, fPD},
	x86asm.UCOMISS: {opComis, 4}, x86asm.COMISS: {opComis, 4},
	x86asm.UCOMISD: {opComis, 8}, x86asm.COMISD: {opComis, 8},

	x86asm.CVTSI2SD: {opCvtInt2F, 8}, x86asm.CVTSI2SS: {opCvtInt2F, 4},
	x86asm.CVTSD2SI: {opCvtF2Int, 8}, x86asm.CVTTSD2SI: {opCvtF2Int, 8 | 0x80},
	x86asm.CVTSS2SI: {opCvtF2Int, 4}, x86asm.CVTTSS2SI: {opCvtF2Int, 4 | 0x80},
	x86asm.CVTSD2SS: {opCvtF2F, 8}, x86asm.CVTSS2SD: {opCvtF2F, 4},
	x86asm.CVTDQ2PD: {opCvtPacked, 0}, x86asm.CVTDQ2PS: {opCvtPacked, 1},
	x86asm.CVTPS2DQ: {opCvtPacked, 2}, x86asm.CVTTPS2DQ: {opCvtPacked, 3},
	x86asm.CVTPD2DQ: {opCvtPacked, 4}, x86asm.CVTTPD2DQ: {opCvtPacked, 5},
	x86asm.CVTPS2PD: {opCvtPacked, 6}, x86asm.CVTPD2PS: {opCvtPacked, 7},

	x86asm.LDMXCSR: {opLdmxcsr, 0}, x86asm.STMXCSR: {opStmxcsr, 0},
	x86asm.FXSAVE: {opFxsave, 0}, x86asm.FXSAVE64: {opFxsave, 64},
	x86asm.FXRSTOR: {opFxrstor, 0}, x86asm.FXRSTOR64: {opFxrstor, 64},
	x86asm.MASKMOVDQU: {opMaskmovdqu, 0}, x86asm.CLFLUSH: {opClflush, 0},
}

func convertSSE(in *inst, x *x86asm.Inst, f sseInfo) error {
	in.fn, in.sub = f.fn, f.sub
	switch x.Op {
	case x86asm.MOVD, x86asm.MOVQ:
		// The GPR side's size decides between MOVD and MOVQ forms.
		for i := 0; i < 2; i++ {
			if r, ok := x.Args[i].(x86asm.Reg); ok {
				if _, _, size, ok := gpr(r); ok {
					in.sub = size
				}
			}
		}
		if x.MemBytes == 4 {
			in.sub = 4
		}
	case x86asm.MOVNTI:
		in.size = uint8(x.MemBytes)
	case x86asm.CVTSI2SD, x86asm.CVTSI2SS:
		in.size = argSize(x, 1)
	case x86asm.CVTSD2SI, x86asm.CVTTSD2SI, x86asm.CVTSS2SI, x86asm.CVTTSS2SI:
		in.size = argSize(x, 0)
	case x86asm.PEXTRW:
		in.size = argSize(x, 0)
	case x86asm.COMISS, x86asm.COMISD:
		in.imm = 1
	case x86asm.MASKMOVDQU:
		in.sub = uint8(x.AddrSize) // RDI, or EDI with a 67 prefix
	case x86asm.CLFLUSH, x86asm.FXSAVE, x86asm.FXSAVE64, x86asm.FXRSTOR, x86asm.FXRSTOR64,
		x86asm.LDMXCSR, x86asm.STMXCSR:
		if err := noSSEPrefix(x); err != nil {
			return err
		}
	}
	for i := 0; i < 3; i++ {
		if k := in.ops[i].kind; k == kReg || k == kRegH {
			// A general register is only an SSE operand in the conversion
			// and transfer forms.
			switch x.Op {
			case x86asm.MOVD, x86asm.MOVQ, x86asm.CVTSI2SD, x86asm.CVTSI2SS, x86asm.CVTSD2SI,
				x86asm.CVTTSD2SI, x86asm.CVTSS2SI, x86asm.CVTTSS2SI, x86asm.MOVMSKPS,
				x86asm.MOVMSKPD, x86asm.PMOVMSKB, x86asm.PEXTRW, x86asm.PINSRW, x86asm.MOVNTI:
			default:
				return errUnsupported("SSE operand")
			}
		}
	}
	if in.ops[0].kind == kImm && x.Op != x86asm.PSLLDQ {
		return errUnsupported("SSE operand")
	}
	return nil
}

// noSSEPrefix refuses an instruction of the 0F AE group (FXSAVE, FXRSTOR,
// LDMXCSR, STMXCSR, CLFLUSH, the fences) with a 66, F2 or F3 prefix: they
// take none, and with one the encoding is another instruction, of an
// extension CPUID does not offer (CLFLUSHOPT, RDFSBASE...), or none.
func noSSEPrefix(x *x86asm.Inst) error {
	for _, p := range x.Prefix {
		if p == 0 {
			break
		}
		switch byte(p) { // x86asm's flags live in the high bits
		case 0x66, 0xF2, 0xF3:
			return errUnsupported(fmt.Sprintf("%v with a %#x prefix", x.Op, byte(p)))
		}
	}
	return nil
}

// src128 reads a 128-bit source: an XMM register or memory (aligned:
// 16-byte alignment required, as for every legacy SSE memory operand but
// the unaligned moves).
func (c *CPU) src128(o *operand, aligned bool) (lo, hi uint64, ok bool) {
	if o.kind == kXMM {
		return c.xmm[o.reg][0], c.xmm[o.reg][1], true
	}
	return c.rd128(c.ea(o), aligned)
}

// src64 reads the low 64 bits of an XMM register or 8 bytes of memory.
func (c *CPU) src64(o *operand) (uint64, bool) {
	switch o.kind {
	case kXMM:
		return c.xmm[o.reg][0], true
	case kMem:
		return c.rd64(c.ea(o))
	}
	return c.get(o, 8)
}

func (c *CPU) src32(o *operand) (uint64, bool) {
	switch o.kind {
	case kXMM:
		return c.xmm[o.reg][0] & 0xFFFF_FFFF, true
	case kMem:
		return c.rd32(c.ea(o))
	}
	return c.get(o, 4)
}

func opMov128(c *CPU, in *inst) {
	aligned := in.sub == 1
	lo, hi, ok := c.src128(&in.ops[1], aligned)
	if !ok {
		return
	}
	d := &in.ops[0]
	if d.kind == kXMM {
		c.xmm[d.reg] = [2]uint64{lo, hi}
		return
	}
	c.wr128(c.ea(d), lo, hi, aligned)
}

// opMovScalar is MOVSD (sub 8) and MOVSS (sub 4) between XMM registers
// and memory.
func opMovScalar(c *CPU, in *inst) {
	d, s := &in.ops[0], &in.ops[1]
	m := sizeMask[in.sub]
	switch {
	case d.kind == kXMM && s.kind == kXMM:
		c.xmm[d.reg][0] = c.xmm[d.reg][0]&^m | c.xmm[s.reg][0]&m
	case d.kind == kXMM:
		v, ok := c.rd(c.ea(s), in.sub)
		if ok {
			c.xmm[d.reg] = [2]uint64{v, 0}
		}
	default:
		c.wr(c.ea(d), in.sub, c.xmm[s.reg][0]&m)
	}
}

// opMovq is MOVQ (sub 8) and MOVD (sub 4): moves that zero the rest of
// an XMM destination.
func opMovq(c *CPU, in *inst) {
	d, s := &in.ops[0], &in.ops[1]
	size := in.sub
	var v uint64
	var ok bool
	if s.kind == kXMM {
		v, ok = c.xmm[s.reg][0]&sizeMask[size], true
	} else {
		v, ok = c.get(s, size)
	}
	if !ok {
		return
	}
	if d.kind == kXMM {
		c.xmm[d.reg] = [2]uint64{v, 0}
		return
	}
	c.set(d, size, v)
}

// opMovHalf is MOVHPS/MOVHPD (sub 1) and MOVLPS/MOVLPD (sub 0).
func opMovHalf(c *CPU, in *inst) {
	d, s := &in.ops[0], &in.ops[1]
	if d.kind == kXMM {
		if s.kind != kMem {
			c.fault(cpu.VecInvalidOp, 0, 0)
			return
		}
		v, ok := c.rd64(c.ea(s))
		if ok {
			c.xmm[d.reg][in.sub] = v
		}
		return
	}
	c.wr64(c.ea(d), c.xmm[s.reg][in.sub])
}

// opMovHL is MOVHLPS (sub 0) and MOVLHPS (sub 1).
func opMovHL(c *CPU, in *inst) {
	d, s := in.ops[0].reg, in.ops[1].reg
	if in.sub == 0 {
		c.xmm[d][0] = c.xmm[s][1]
	} else {
		c.xmm[d][1] = c.xmm[s][0]
	}
}

// opMovmsk gathers the sign bits of the elements (sub: element size).
func opMovmsk(c *CPU, in *inst) {
	x := c.xmm[in.ops[1].reg]
	var m uint64
	n := 16 / int(in.sub)
	for i := 0; i < n; i++ {
		bit := uint(i*int(in.sub)*8 + int(in.sub)*8 - 1)
		m |= (x[bit/64] >> (bit % 64) & 1) << i
	}
	c.setReg(in.ops[0].reg, 8, m)
}

func opLogic128(c *CPU, in *inst) {
	lo, hi, ok := c.src128(&in.ops[1], true)
	if !ok {
		return
	}
	d := &c.xmm[in.ops[0].reg]
	switch in.sub {
	case 0:
		d[0] &= lo
		d[1] &= hi
	case 1:
		d[0] = ^d[0] & lo
		d[1] = ^d[1] & hi
	case 2:
		d[0] |= lo
		d[1] |= hi
	case 3:
		d[0] ^= lo
		d[1] ^= hi
	}
}

// Lane helpers: element i of size sz bytes from a 128-bit value.
func lane(x [2]uint64, sz, i int) uint64 {
	bit := i * sz * 8
	return x[bit/64] >> (bit % 64) & sizeMask[sz]
}

func setLane(x *[2]uint64, sz, i int, v uint64) {
	bit := i * sz * 8
	m := sizeMask[sz] << (bit % 64)
	x[bit/64] = x[bit/64]&^m | (v<<(bit%64))&m
}

// Packed integer operations (inst.sub >> 4).
const (
	pAdd = iota
	pSub
	pAddUS
	pAddSS
	pSubUS
	pSubSS
	pCmpEq
	pCmpGt
	pMinU
	pMaxU
	pMinS
	pMaxS
	pAvg
	pMulLo
	pMulHiS
	pMulHiU
)

func opPacked(c *CPU, in *inst) {
	lo, hi, ok := c.src128(&in.ops[1], true)
	if !ok {
		return
	}
	s := [2]uint64{lo, hi}
	d := &c.xmm[in.ops[0].reg]
	sz := int(in.sub & 15)
	op := in.sub >> 4
	bitsN := uint(sz * 8)
	m := sizeMask[sz]
	smax, smin := int64(m>>1), -int64(m>>1)-1
	for i := 0; i < 16/sz; i++ {
		a, b := lane(*d, sz, i), lane(s, sz, i)
		sa, sb := int64(signExtend(a, uint8(sz))), int64(signExtend(b, uint8(sz)))
		var r uint64
		switch op {
		case pAdd:
			r = a + b
		case pSub:
			r = a - b
		case pAddUS:
			r = min(a+b, m)
		case pSubUS:
			if a > b {
				r = a - b
			}
		case pAddSS:
			r = uint64(max(min(sa+sb, smax), smin))
		case pSubSS:
			r = uint64(max(min(sa-sb, smax), smin))
		case pCmpEq:
			if a == b {
				r = m
			}
		case pCmpGt:
			if sa > sb {
				r = m
			}
		case pMinU:
			r = min(a, b)
		case pMaxU:
			r = max(a, b)
		case pMinS:
			r = uint64(min(sa, sb))
		case pMaxS:
			r = uint64(max(sa, sb))
		case pAvg:
			r = (a + b + 1) >> 1
		case pMulLo:
			r = a * b
		case pMulHiS:
			r = uint64(sa*sb) >> bitsN
		case pMulHiU:
			r = a * b >> bitsN
		}
		setLane(d, sz, i, r&m)
	}
}

func opPmuludq(c *CPU, in *inst) {
	lo, hi, ok := c.src128(&in.ops[1], true)
	if !ok {
		return
	}
	d := &c.xmm[in.ops[0].reg]
	d[0] = (d[0] & 0xFFFF_FFFF) * (lo & 0xFFFF_FFFF)
	d[1] = (d[1] & 0xFFFF_FFFF) * (hi & 0xFFFF_FFFF)
}

func opPmaddwd(c *CPU, in *inst) {
	lo, hi, ok := c.src128(&in.ops[1], true)
	if !ok {
		return
	}
	s := [2]uint64{lo, hi}
	d := &c.xmm[in.ops[0].reg]
	var r [2]uint64
	for i := 0; i < 4; i++ {
		var sum int64
		for j := 0; j < 2; j++ {
			a := int64(int16(lane(*d, 2, 2*i+j)))
			b := int64(int16(lane(s, 2, 2*i+j)))
			sum += a * b
		}
		setLane(&r, 4, i, uint64(sum))
	}
	*d = r
}

func opPsadbw(c *CPU, in *inst) {
	lo, hi, ok := c.src128(&in.ops[1], true)
	if !ok {
		return
	}
	s := [2]uint64{lo, hi}
	d := &c.xmm[in.ops[0].reg]
	var r [2]uint64
	for h := 0; h < 2; h++ {
		var sum uint64
		for i := 0; i < 8; i++ {
			a, b := lane(*d, 1, 8*h+i), lane(s, 1, 8*h+i)
			if a > b {
				sum += a - b
			} else {
				sum += b - a
			}
		}
		r[h] = sum
	}
	*d = r
}

// opPshift: sub>>4 is 0 left, 1 logical right, 2 arithmetic right; the
// count is an immediate or the low 64 bits of an XMM register or memory.
func opPshift(c *CPU, in *inst) {
	var cnt uint64
	if in.ops[1].kind == kImm {
		cnt = in.ops[1].disp & 0xFF
	} else {
		lo, _, ok := c.src128(&in.ops[1], true)
		if !ok {
			return
		}
		cnt = lo
	}
	sz := int(in.sub & 15)
	bitsN := uint64(sz * 8)
	d := &c.xmm[in.ops[0].reg]
	for i := 0; i < 16/sz; i++ {
		a := lane(*d, sz, i)
		var r uint64
		switch in.sub >> 4 {
		case 0:
			if cnt < bitsN {
				r = a << cnt
			}
		case 1:
			if cnt < bitsN {
				r = a >> cnt
			}
		case 2:
			n := min(cnt, bitsN-1)
			r = uint64(int64(signExtend(a, uint8(sz))) >> n)
		}
		setLane(d, sz, i, r)
	}
}

// opPshiftDQ is PSLLDQ (sub 0) and PSRLDQ (sub 1): byte shifts of the
// whole register.
func opPshiftDQ(c *CPU, in *inst) {
	n := uint(in.ops[1].disp & 0xFF)
	d := &c.xmm[in.ops[0].reg]
	if n > 15 {
		*d = [2]uint64{}
		return
	}
	lo, hi := d[0], d[1]
	sh := n * 8
	if in.sub == 0 {
		if sh >= 64 {
			*d = [2]uint64{0, lo << (sh - 64)}
		} else if sh > 0 {
			*d = [2]uint64{lo << sh, hi<<sh | lo>>(64-sh)}
		}
	} else {
		if sh >= 64 {
			*d = [2]uint64{hi >> (sh - 64), 0}
		} else if sh > 0 {
			*d = [2]uint64{lo>>sh | hi<<(64-sh), hi >> sh}
		}
	}
}

// opUnpack interleaves the low (sub>>4 == 0) or high halves' elements.
func opUnpack(c *CPU, in *inst) {
	lo, hi, ok := c.src128(&in.ops[1], true)
	if !ok {
		return
	}
	s := [2]uint64{lo, hi}
	d := &c.xmm[in.ops[0].reg]
	sz := int(in.sub & 15)
	n := 16 / sz / 2
	base := 0
	if in.sub>>4 == 1 {
		base = n
	}
	var r [2]uint64
	for i := 0; i < n; i++ {
		setLane(&r, sz, 2*i, lane(*d, sz, base+i))
		setLane(&r, sz, 2*i+1, lane(s, sz, base+i))
	}
	*d = r
}

// opPack is PACKSSWB (0), PACKSSDW (1) and PACKUSWB (2).
func opPack(c *CPU, in *inst) {
	lo, hi, ok := c.src128(&in.ops[1], true)
	if !ok {
		return
	}
	s := [2]uint64{lo, hi}
	d := &c.xmm[in.ops[0].reg]
	from := 2
	if in.sub == 1 {
		from = 4
	}
	to := from / 2
	n := 16 / from
	var r [2]uint64
	for i := 0; i < 2*n; i++ {
		src := *d
		j := i
		if i >= n {
			src, j = s, i-n
		}
		v := int64(signExtend(lane(src, from, j), uint8(from)))
		var out int64
		if in.sub == 2 {
			out = max(min(v, 255), 0)
		} else {
			lim := int64(sizeMask[to] >> 1)
			out = max(min(v, lim), -lim-1)
		}
		setLane(&r, to, i, uint64(out))
	}
	*d = r
}

// opPshufd is PSHUFD (0), PSHUFLW (1) and PSHUFHW (2).
func opPshufd(c *CPU, in *inst) {
	lo, hi, ok := c.src128(&in.ops[1], true)
	if !ok {
		return
	}
	s := [2]uint64{lo, hi}
	imm := in.ops[2].disp
	r := s
	switch in.sub {
	case 0:
		for i := 0; i < 4; i++ {
			setLane(&r, 4, i, lane(s, 4, int(imm>>(2*i)&3)))
		}
	case 1:
		for i := 0; i < 4; i++ {
			setLane(&r, 2, i, lane(s, 2, int(imm>>(2*i)&3)))
		}
	case 2:
		for i := 0; i < 4; i++ {
			setLane(&r, 2, 4+i, lane(s, 2, 4+int(imm>>(2*i)&3)))
		}
	}
	c.xmm[in.ops[0].reg] = r
}

func opShufps(c *CPU, in *inst) {
	lo, hi, ok := c.src128(&in.ops[1], true)
	if !ok {
		return
	}
	s := [2]uint64{lo, hi}
	d := c.xmm[in.ops[0].reg]
	imm := in.ops[2].disp
	var r [2]uint64
	setLane(&r, 4, 0, lane(d, 4, int(imm&3)))
	setLane(&r, 4, 1, lane(d, 4, int(imm>>2&3)))
	setLane(&r, 4, 2, lane(s, 4, int(imm>>4&3)))
	setLane(&r, 4, 3, lane(s, 4, int(imm>>6&3)))
	c.xmm[in.ops[0].reg] = r
}

func opShufpd(c *CPU, in *inst) {
	lo, hi, ok := c.src128(&in.ops[1], true)
	if !ok {
		return
	}
	s := [2]uint64{lo, hi}
	d := c.xmm[in.ops[0].reg]
	imm := in.ops[2].disp
	c.xmm[in.ops[0].reg] = [2]uint64{d[imm&1], s[imm>>1&1]}
}

func opPextrw(c *CPU, in *inst) {
	x := c.xmm[in.ops[1].reg]
	c.setReg(in.ops[0].reg, in.size, lane(x, 2, int(in.ops[2].disp&7)))
}

func opPinsrw(c *CPU, in *inst) {
	v, ok := c.get(&in.ops[1], 2)
	if !ok {
		return
	}
	setLane(&c.xmm[in.ops[0].reg], 2, int(in.ops[2].disp&7), v)
}

// rounding is MXCSR's rounding control.
func (c *CPU) rounding() uint32 { return c.mxcsr >> 13 & 3 }

var bigModes = [4]big.RoundingMode{big.ToNearestEven, big.ToNegativeInf, big.ToPositiveInf, big.ToZero}

// roundBig64 rounds an exact value to double precision in mode rc.
func roundBig64(z *big.Float, rc uint32) uint64 {
	z.SetMode(bigModes[rc])
	z.SetPrec(53)
	f, _ := z.Float64()
	if math.IsInf(f, 0) {
		// Overflow in a directed mode gives the largest finite value
		// where the mode rounds toward zero from it.
		neg := f < 0
		if rc == 3 || rc == 1 && !neg || rc == 2 && neg {
			f = math.Copysign(math.MaxFloat64, f)
		}
	}
	return math.Float64bits(f)
}

func roundBig32(z *big.Float, rc uint32) uint32 {
	z.SetMode(bigModes[rc])
	z.SetPrec(24)
	f, _ := z.Float32()
	if math.IsInf(float64(f), 0) {
		neg := f < 0
		if rc == 3 || rc == 1 && !neg || rc == 2 && neg {
			f = float32(math.Copysign(math.MaxFloat32, float64(f)))
		}
	}
	return math.Float32bits(f)
}

// MXCSR's DAZ (denormal inputs are zero) and FTZ (denormal results are
// zero) bits.
const (
	mxcsrDAZ = 1 << 6
	mxcsrFTZ = 1 << 15
)

// fpEnv is MXCSR's control for one instruction.
type fpEnv struct {
	rc       uint32
	daz, ftz bool
	masks    uint32 // the exception masks, as flags
}

// env reads MXCSR's controls. FTZ applies only while underflow is masked.
func (c *CPU) env() fpEnv {
	m := c.mxcsr
	return fpEnv{rc: m >> mxRCShift & 3, daz: m&mxcsrDAZ != 0, ftz: m&mxcsrFTZ != 0 && m&(exUE<<mxMaskSh) != 0,
		masks: m >> mxMaskSh & 0x3F}
}

// sseDone takes the exception flags an instruction's elements raised (as
// for masked exceptions, with exTiny) into MXCSR. Where one is unmasked it
// raises #XM instead, and the destination must be left alone (false): an
// unmasked exception found before computing (IE, DE, ZE) reports those
// conditions only, one found in rounding (OE, UE, PE) reports them all.
func (c *CPU) sseDone(fl uint32) bool {
	if fl == 0 {
		return true
	}
	masks := c.mxcsr >> mxMaskSh & 0x3F
	if pre := fl & exPre; pre&^masks != 0 {
		c.mxcsr |= pre
		c.fault(cpu.VecSIMD, 0, 0)
		return false
	}
	fl &= 0x3F
	c.mxcsr |= fl
	if fl&^masks != 0 {
		c.fault(cpu.VecSIMD, 0, 0)
		return false
	}
	return true
}

// Floating point: operation (sub >> 4) and format (sub & 15).
const (
	fAdd = iota
	fSub
	fMul
	fDiv
	fMin
	fMax
	fSqrt
)

const (
	fS  = 0 // scalar single
	fD  = 1 // scalar double
	fPS = 2
	fPD = 3
)

// fpOps maps the instructions' operations to fpArith's.
var fpOps = [...]int{fAdd: fpAdd, fSub: fpSub, fMul: fpMul, fDiv: fpDiv, fSqrt: fpSqrt}

// sseElem computes one element of an SSE arithmetic instruction.
func sseElem(op uint8, a, b uint64, f *fpFmt, e fpEnv) (uint64, uint32) {
	if op != fMin && op != fMax {
		r, fl := fpArith(fpOps[op], a, b, f, e.rc, e.daz, e.ftz)
		return e.result(r, fl, f)
	}
	// MIN and MAX return the second operand if either is a NaN (an
	// invalid operation even for a QNaN) or both are zeros.
	if e.daz {
		if f.isDenorm(a) {
			a &= f.signBit()
		}
		if f.isDenorm(b) {
			b &= f.signBit()
		}
	}
	if f.isNaN(a) || f.isNaN(b) {
		return b, exIE
	}
	var fl uint32
	if f.isDenorm(a) || f.isDenorm(b) {
		fl = exDE
	}
	fa, fb := fpValue(a, f), fpValue(b, f)
	if fa == 0 && fb == 0 {
		return b, fl
	}
	if op == fMin && fa < fb || op == fMax && fa > fb {
		return a, fl
	}
	return b, fl
}

// result completes an element's floating-point result. A denormal result
// is tiny even where it came out exact without rounding (an operand passed
// through: x + 0), and FTZ flushes it to zero, which is then an underflow
// and inexact. Where overflow or underflow is unmasked, the element's
// exception reports no precision loss.
func (e fpEnv) result(r uint64, fl uint32, f *fpFmt) (uint64, uint32) {
	if f.isDenorm(r) {
		fl |= exTiny
		if e.ftz {
			r &= f.signBit()
			fl |= exUE | exPE
		}
	}
	if fl&exTiny != 0 && e.masks&exUE == 0 {
		fl |= exUE
	}
	if fl&(exOE|exUE)&^e.masks != 0 {
		fl &^= exPE
		if fl&exWide != 0 {
			fl |= exPE
		}
	}
	return r, fl
}

// cvt converts between single and double precision.
func (e fpEnv) cvt(v uint64, from, to *fpFmt) (uint64, uint32) {
	r, fl := fpToFP(v, from, to, e.rc, e.daz, e.ftz)
	return e.result(r, fl, to)
}

// fpValue is a non-NaN single or double as a float64.
func fpValue(v uint64, f *fpFmt) float64 {
	if f == fmt64 {
		return math.Float64frombits(v)
	}
	return float64(math.Float32frombits(uint32(v)))
}

func opFPArith(c *CPU, in *inst) {
	op, form := in.sub>>4, in.sub&15
	d := &c.xmm[in.ops[0].reg]
	e := c.env()
	switch form {
	case fD:
		b, ok := c.src64(&in.ops[1])
		if ok {
			r, fl := sseElem(op, d[0], b, fmt64, e)
			if c.sseDone(fl) {
				d[0] = r
			}
		}
	case fS:
		b, ok := c.src32(&in.ops[1])
		if ok {
			r, fl := sseElem(op, d[0]&0xFFFF_FFFF, b, fmt32, e)
			if c.sseDone(fl) {
				d[0] = d[0]&^0xFFFF_FFFF | r
			}
		}
	case fPD:
		lo, hi, ok := c.src128(&in.ops[1], true)
		if ok {
			r0, f0 := sseElem(op, d[0], lo, fmt64, e)
			r1, f1 := sseElem(op, d[1], hi, fmt64, e)
			if c.sseDone(f0 | f1) {
				*d = [2]uint64{r0, r1}
			}
		}
	case fPS:
		lo, hi, ok := c.src128(&in.ops[1], true)
		if ok {
			s := [2]uint64{lo, hi}
			var r [2]uint64
			var fl uint32
			for i := 0; i < 4; i++ {
				v, f := sseElem(op, lane(*d, 4, i), lane(s, 4, i), fmt32, e)
				setLane(&r, 4, i, v)
				fl |= f
			}
			if c.sseDone(fl) {
				*d = r
			}
		}
	}
}

// fpCompare compares a and b (after DAZ) for CMPxx predicate p (0-7, or
// -1 for COMIS, -2 for UCOMIS): the outcome as -1, 0, 1 or 2 (unordered),
// and the flags. Predicates LT, LE, NLT, NLE and COMIS signal on any NaN,
// the others only on an SNaN.
func fpCompare(a, b uint64, f *fpFmt, p int, daz bool) (int, uint32) {
	if f.isNaN(a) || f.isNaN(b) {
		if f.isSNaN(a) || f.isSNaN(b) || p == -1 || p == 1 || p == 2 || p == 5 || p == 6 {
			return 2, exIE
		}
		return 2, 0
	}
	var fl uint32
	if f.isDenorm(a) || f.isDenorm(b) {
		if !daz {
			fl = exDE
		}
		if daz && f.isDenorm(a) {
			a &= f.signBit()
		}
		if daz && f.isDenorm(b) {
			b &= f.signBit()
		}
	}
	fa, fb := fpValue(a, f), fpValue(b, f)
	switch {
	case fa < fb:
		return -1, fl
	case fa > fb:
		return 1, fl
	}
	return 0, fl
}

// cmpTrue tells CMPxx predicate p's result from fpCompare's outcome.
func cmpTrue(p int, o int) bool {
	switch p {
	case 0:
		return o == 0
	case 1:
		return o == -1
	case 2:
		return o == -1 || o == 0
	case 3:
		return o == 2
	case 4:
		return o != 0
	case 5:
		return o != -1
	case 6:
		return o == 1 || o == 2
	}
	return o != 2
}

func opFPCmp(c *CPU, in *inst) {
	// Without VEX only the low three bits of the immediate choose the
	// predicate; the CPU ignores the rest.
	pi := int(in.ops[2].disp & 7)
	d := &c.xmm[in.ops[0].reg]
	daz := c.mxcsr&mxcsrDAZ != 0
	elem := func(a, b uint64, f *fpFmt, size uint8) (uint64, uint32) {
		o, fl := fpCompare(a, b, f, pi, daz)
		return boolMask(cmpTrue(pi, o), size), fl
	}
	switch in.sub {
	case fD:
		b, ok := c.src64(&in.ops[1])
		if ok {
			r, fl := elem(d[0], b, fmt64, 8)
			if c.sseDone(fl) {
				d[0] = r
			}
		}
	case fS:
		b, ok := c.src32(&in.ops[1])
		if ok {
			r, fl := elem(d[0]&0xFFFF_FFFF, b, fmt32, 4)
			if c.sseDone(fl) {
				d[0] = d[0]&^0xFFFF_FFFF | r
			}
		}
	case fPD:
		lo, hi, ok := c.src128(&in.ops[1], true)
		if ok {
			r0, f0 := elem(d[0], lo, fmt64, 8)
			r1, f1 := elem(d[1], hi, fmt64, 8)
			if c.sseDone(f0 | f1) {
				*d = [2]uint64{r0, r1}
			}
		}
	case fPS:
		lo, hi, ok := c.src128(&in.ops[1], true)
		if ok {
			s := [2]uint64{lo, hi}
			var r [2]uint64
			var fl uint32
			for i := 0; i < 4; i++ {
				v, f := elem(lane(*d, 4, i), lane(s, 4, i), fmt32, 4)
				setLane(&r, 4, i, v)
				fl |= f
			}
			if c.sseDone(fl) {
				*d = r
			}
		}
	}
}

func boolMask(b bool, size uint8) uint64 {
	if b {
		return sizeMask[size]
	}
	return 0
}

// opComis is (U)COMISS/(U)COMISD: ZF, PF, CF from the comparison, the
// other arithmetic flags cleared. in.imm is 1 for COMIS, which signals
// on any NaN.
func opComis(c *CPU, in *inst) {
	var a, b uint64
	f := fmt32
	if in.sub == 8 {
		v, ok := c.src64(&in.ops[1])
		if !ok {
			return
		}
		a, b, f = c.xmm[in.ops[0].reg][0], v, fmt64
	} else {
		v, ok := c.src32(&in.ops[1])
		if !ok {
			return
		}
		a, b = c.xmm[in.ops[0].reg][0]&0xFFFF_FFFF, v
	}
	p := -2
	if in.imm == 1 {
		p = -1
	}
	o, fl := fpCompare(a, b, f, p, c.mxcsr&mxcsrDAZ != 0)
	if !c.sseDone(fl) {
		return
	}
	var r uint64
	switch o {
	case 2:
		r = flagZF | flagPF | flagCF
	case -1:
		r = flagCF
	case 0:
		r = flagZF
	}
	c.setArith(r)
}

// opCvtInt2F is CVTSI2SD (sub 8) and CVTSI2SS (sub 4); in.size is the
// integer size.
func opCvtInt2F(c *CPU, in *inst) {
	v, ok := c.get(&in.ops[1], in.size)
	if !ok {
		return
	}
	iv := int64(signExtend(v, in.size))
	d := &c.xmm[in.ops[0].reg]
	if in.sub == 8 {
		r, fl := intToFP(iv, fmt64, c.rounding())
		if c.sseDone(fl) {
			d[0] = r
		}
		return
	}
	r, fl := intToFP(iv, fmt32, c.rounding())
	if c.sseDone(fl) {
		d[0] = d[0]&^0xFFFF_FFFF | r
	}
}

// opCvtF2Int is CVT(T)SD2SI and CVT(T)SS2SI: sub is the float size, with
// 0x80 for truncation.
func opCvtF2Int(c *CPU, in *inst) {
	var v uint64
	var ok bool
	f := fmt32
	if in.sub&0x7F == 8 {
		v, ok = c.src64(&in.ops[1])
		f = fmt64
	} else {
		v, ok = c.src32(&in.ops[1])
	}
	if !ok {
		return
	}
	rc := uint32(3)
	if in.sub&0x80 == 0 {
		rc = c.rounding()
	}
	r, fl := fpToInt(v, f, in.size, rc, c.mxcsr&mxcsrDAZ != 0)
	if c.sseDone(fl) {
		c.setReg(in.ops[0].reg, in.size, r)
	}
}

// opCvtF2F is CVTSD2SS (sub 8) and CVTSS2SD (sub 4).
func opCvtF2F(c *CPU, in *inst) {
	d := &c.xmm[in.ops[0].reg]
	e := c.env()
	if in.sub == 4 {
		v, ok := c.src32(&in.ops[1])
		if !ok {
			return
		}
		r, fl := e.cvt(v, fmt32, fmt64)
		if c.sseDone(fl) {
			d[0] = r
		}
		return
	}
	v, ok := c.src64(&in.ops[1])
	if !ok {
		return
	}
	r, fl := e.cvt(v, fmt64, fmt32)
	if c.sseDone(fl) {
		d[0] = d[0]&^0xFFFF_FFFF | r
	}
}

// opCvtPacked: 0 CVTDQ2PD, 1 CVTDQ2PS, 2 CVTPS2DQ, 3 CVTTPS2DQ,
// 4 CVTPD2DQ, 5 CVTTPD2DQ, 6 CVTPS2PD, 7 CVTPD2PS.
func opCvtPacked(c *CPU, in *inst) {
	var s [2]uint64
	var ok bool
	if in.sub == 0 || in.sub == 6 {
		// These read only 64 bits from memory.
		s[0], ok = c.src64(&in.ops[1])
	} else {
		s[0], s[1], ok = c.src128(&in.ops[1], true)
	}
	if !ok {
		return
	}
	e := c.env()
	var r [2]uint64
	var fl uint32
	switch in.sub {
	case 0:
		r[0] = math.Float64bits(float64(int32(lane(s, 4, 0))))
		r[1] = math.Float64bits(float64(int32(lane(s, 4, 1))))
	case 1:
		for i := 0; i < 4; i++ {
			v, f := intToFP(int64(int32(lane(s, 4, i))), fmt32, e.rc)
			setLane(&r, 4, i, v)
			fl |= f
		}
	case 2, 3:
		m := e.rc
		if in.sub == 3 {
			m = 3
		}
		for i := 0; i < 4; i++ {
			v, f := fpToInt(lane(s, 4, i), fmt32, 4, m, e.daz)
			setLane(&r, 4, i, v)
			fl |= f
		}
	case 4, 5:
		m := e.rc
		if in.sub == 5 {
			m = 3
		}
		for i := 0; i < 2; i++ {
			v, f := fpToInt(s[i], fmt64, 4, m, e.daz)
			setLane(&r, 4, i, v)
			fl |= f
		}
	case 6:
		for i := 0; i < 2; i++ {
			v, f := e.cvt(lane(s, 4, i), fmt32, fmt64)
			r[i] = v
			fl |= f
		}
	case 7:
		for i := 0; i < 2; i++ {
			v, f := e.cvt(s[i], fmt64, fmt32)
			setLane(&r, 4, i, v)
			fl |= f
		}
	}
	if c.sseDone(fl) {
		c.xmm[in.ops[0].reg] = r
	}
}

func opLdmxcsr(c *CPU, in *inst) {
	v, ok := c.rd32(c.ea(&in.ops[0]))
	if !ok {
		return
	}
	if v&^mxcsrMask != 0 {
		c.fault(cpu.VecGeneralProt, 0, 0)
		return
	}
	c.mxcsr = uint32(v)
}

func opStmxcsr(c *CPU, in *inst) { c.wr32(c.ea(&in.ops[0]), uint64(c.mxcsr)) }

// opFxsave stores the 512-byte FXSAVE area (16-byte aligned, #GP
// otherwise); bytes 464-511 are left as they were, as the CPU leaves them.
// opMaskmovdqu is MASKMOVDQU: the bytes of ops[0] whose byte in ops[1]
// has its top bit set are stored at RDI. The 16 bytes there are checked
// as one write first, whatever the mask, as the CPU checks them.
func opMaskmovdqu(c *CPU, in *inst) {
	src, mask := c.xmm[in.ops[0].reg], c.xmm[in.ops[1].reg]
	a := c.g[rDI]
	if in.sub == 32 {
		a &= 0xFFFF_FFFF
	}
	if !c.probeWrite(a, 16) {
		return
	}
	for i := uint64(0); i < 16; i++ {
		if mask[i/8]>>(8*(i%8)+7)&1 != 0 {
			c.wr8(a+i, src[i/8]>>(8*(i%8)))
		}
	}
}

// opClflush is CLFLUSH: no cache to flush, but the address is checked as a
// byte read would check it.
func opClflush(c *CPU, in *inst) {
	c.xlate(c.ea(&in.ops[0]), false)
}

func opFxsave(c *CPU, in *inst) {
	a := c.ea(&in.ops[0])
	if a&15 != 0 {
		c.fault(cpu.VecGeneralProt, 0, 0)
		return
	}
	var b [512]byte
	if !c.rdBytesN(a, b[:]) {
		return
	}
	c.fxsave(b[:])
	if in.sub != 64 {
		// The 32-bit layout: offsets and selectors (0).
		ip, dp := le64(b[8:]), le64(b[16:])
		clear(b[8:24])
		binary.LittleEndian.PutUint32(b[8:], uint32(ip))
		binary.LittleEndian.PutUint32(b[16:], uint32(dp))
	}
	c.wrBytesN(a, b[:464])
}

func opFxrstor(c *CPU, in *inst) {
	a := c.ea(&in.ops[0])
	if a&15 != 0 {
		c.fault(cpu.VecGeneralProt, 0, 0)
		return
	}
	var b [512]byte
	if !c.rdBytesN(a, b[:]) {
		return
	}
	if uint32(b[xsMXCSR])|uint32(b[xsMXCSR+1])<<8|uint32(b[xsMXCSR+2])<<16|uint32(b[xsMXCSR+3])<<24 > mxcsrMask {
		c.fault(cpu.VecGeneralProt, 0, 0)
		return
	}
	c.fxrstor(b[:])
	if in.sub != 64 {
		c.fpu.ip, c.fpu.dp = c.fpu.ip&0xFFFF_FFFF, c.fpu.dp&0xFFFF_FFFF
	}
}

// rdBytesN and wrBytesN move buffers of any length, page by page; a
// write checks every page before writing any.
func (c *CPU) rdBytesN(a uint64, b []byte) bool {
	for len(b) > 0 {
		n := min(uint64(len(b)), 0x1000-a&0xFFF)
		if !c.rdBytes(a, b[:n]) {
			return false
		}
		a += n
		b = b[n:]
	}
	return true
}

func (c *CPU) wrBytesN(a uint64, b []byte) bool {
	for p := a &^ 0xFFF; p < a+uint64(len(b)); p += 0x1000 {
		if _, ok := c.xlate(max(p, a), true); !ok {
			return false
		}
	}
	for len(b) > 0 {
		n := min(uint64(len(b)), 0x1000-a&0xFFF)
		if !c.wrBytes(a, b[:n]) {
			return false
		}
		a += n
		b = b[n:]
	}
	return true
}
