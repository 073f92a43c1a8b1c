package interp

import (
	"math"
	"math/big"
	"math/bits"
)

// IEEE binary32 and binary64 arithmetic with x86's exception conditions,
// for SSE (MXCSR) and the x87's stores (FSW). The common case, round to
// nearest on normal operands with a normal result, runs on the host's
// float64 arithmetic and finds inexactness from the error term of the
// operation (TwoSum for sums, FMA residuals for products, quotients and
// square roots); everything else is computed exactly on integers and
// rounded by roundFP.

// Exception flags, in the bit positions MXCSR and the x87 status word
// share.
const (
	exIE = 1 << 0 // invalid operation
	exDE = 1 << 1 // denormal operand
	exZE = 1 << 2 // divide by zero
	exOE = 1 << 3 // overflow
	exUE = 1 << 4 // underflow
	exPE = 1 << 5 // precision (inexact)
	// exTiny is not a flag: the result was tiny, which is an underflow
	// when UE is unmasked even if the result is exact.
	exTiny = 1 << 8
	// exWide is not a flag either: the result of an overflow or underflow
	// is inexact at the format's precision with an unbounded exponent,
	// which is what PE reports where that exception is unmasked.
	exWide = 1 << 9

	exPre  = exIE | exDE | exZE // found before computing
	exPost = exOE | exUE | exPE // found in rounding
)

// fpFmt describes a binary interchange format.
type fpFmt struct {
	prec  uint // significand bits, the hidden one included
	ebits uint
}

var (
	fmt32 = &fpFmt{24, 8}
	fmt64 = &fpFmt{53, 11}
)

func (f *fpFmt) bias() int       { return 1<<(f.ebits-1) - 1 }
func (f *fpFmt) emin() int       { return 1 - f.bias() }
func (f *fpFmt) signBit() uint64 { return 1 << (f.prec + f.ebits - 1) }
func (f *fpFmt) expMask() uint64 { return (1<<f.ebits - 1) << (f.prec - 1) }
func (f *fpFmt) fracMask() uint64 {
	return 1<<(f.prec-1) - 1
}
func (f *fpFmt) quietBit() uint64 { return 1 << (f.prec - 2) }
func (f *fpFmt) inf(neg bool) uint64 {
	if neg {
		return f.signBit() | f.expMask()
	}
	return f.expMask()
}

// defaultNaN is the QNaN floating-point indefinite.
func (f *fpFmt) defaultNaN() uint64 { return f.signBit() | f.expMask() | f.quietBit() }
func (f *fpFmt) maxFinite(neg bool) uint64 {
	return f.inf(neg) - 1
}
func (f *fpFmt) isNaN(v uint64) bool    { return v&f.expMask() == f.expMask() && v&f.fracMask() != 0 }
func (f *fpFmt) isSNaN(v uint64) bool   { return f.isNaN(v) && v&f.quietBit() == 0 }
func (f *fpFmt) isInf(v uint64) bool    { return v&^f.signBit() == f.expMask() }
func (f *fpFmt) isZero(v uint64) bool   { return v&^f.signBit() == 0 }
func (f *fpFmt) isDenorm(v uint64) bool { return v&f.expMask() == 0 && v&f.fracMask() != 0 }
func (f *fpFmt) neg(v uint64) bool      { return v&f.signBit() != 0 }
func (f *fpFmt) zero(neg bool) uint64 {
	if neg {
		return f.signBit()
	}
	return 0
}

// unpack splits a finite nonzero v into an integer significand and the
// exponent of its last bit: |v| = m * 2^e.
func (f *fpFmt) unpack(v uint64) (m uint64, e int) {
	be := int(v & f.expMask() >> (f.prec - 1))
	m = v & f.fracMask()
	if be == 0 {
		be = 1
	} else {
		m |= 1 << (f.prec - 1)
	}
	return m, be - f.bias() - int(f.prec) + 1
}

// roundFP rounds (-1)^neg * m * 2^e, plus a positive amount below m's
// last bit if sticky, to format f in rounding mode rc (MXCSR's and FCW's
// encoding), flushing tiny results to zero if ftz. m must not be zero. It
// returns the result and exOE, exUE, exPE and exTiny as they apply with
// overflow and underflow masked. Tininess is detected after rounding, as
// x86 does: a result is tiny if rounding it to the format's precision with
// an unbounded exponent gives a magnitude below the smallest normal.
func roundFP(neg bool, m *big.Int, e int, sticky bool, f *fpFmt, rc uint32, ftz bool) (uint64, uint32) {
	n := m.BitLen()
	top := e + n - 1 // exponent of the leading bit
	emin := f.emin()
	p := int(f.prec)
	q, inexact := roundBits(m, (max(top, emin)-p+1)-e, sticky, neg, rc)
	var fl uint32
	tiny := false
	if top < emin {
		// Rounding with an unbounded exponent may carry up to the
		// smallest normal.
		u, ix := roundBits(m, (top-p+1)-e, sticky, neg, rc)
		tiny = top < emin-1 || u.BitLen() <= p
		if ix {
			fl |= exWide
		}
	}
	if tiny {
		fl |= exTiny
		if ftz {
			return f.zero(neg), fl | exUE | exPE
		}
		if inexact {
			fl |= exUE
		}
	}
	if inexact {
		fl |= exPE
	}
	// The biased exponent minus one, shifted, plus the significand with
	// its leading bit: a carry out of the significand moves the exponent.
	// An exponent far beyond the format's (an x87 value stored as a
	// double) would not fit the shift: it overflows as it is.
	huge := top > f.bias()
	r := uint64(max(top, emin)-emin)<<(p-1) + q.Uint64()
	if huge || r >= f.expMask() {
		fl = exOE | exPE
		if inexact {
			fl |= exWide
		}
		return overflowResult(neg, f, rc), fl
	}
	if neg {
		r |= f.signBit()
	}
	return r, fl
}

// overflowResult is the masked overflow's result: infinity or the largest
// finite value, as the rounding direction says.
func overflowResult(neg bool, f *fpFmt, rc uint32) uint64 {
	if rc == 0 || rc == 1 && neg || rc == 2 && !neg {
		return f.inf(neg)
	}
	return f.maxFinite(neg)
}

// roundBits drops the low drop bits of m (a negative drop appends zeros)
// rounding in mode rc, and reports whether anything nonzero was dropped.
func roundBits(m *big.Int, drop int, sticky, neg bool, rc uint32) (*big.Int, bool) {
	if drop <= 0 {
		// Nothing dropped but the sticky amount, less than half a unit.
		q := new(big.Int).Lsh(m, uint(-drop))
		if sticky && (rc == 1 && neg || rc == 2 && !neg) {
			q.Add(q, bigOne)
		}
		return q, sticky
	}
	q := new(big.Int).Rsh(m, uint(drop))
	half := m.Bit(drop-1) == 1
	below := sticky
	if !below {
		// Any bit under the half bit.
		if tz := m.TrailingZeroBits(); int(tz) < drop-1 {
			below = true
		}
	}
	inexact := half || below
	up := false
	switch rc {
	case 0:
		up = half && (below || q.Bit(0) == 1)
	case 1:
		up = inexact && neg
	case 2:
		up = inexact && !neg
	}
	if up {
		q.Add(q, bigOne)
	}
	return q, inexact
}

var bigOne = big.NewInt(1)

// Operations of fpArith.
const (
	fpAdd = iota
	fpSub
	fpMul
	fpDiv
	fpSqrt
)

// mxcsr bits.
const (
	mxRCShift = 13
	mxMaskSh  = 7 // the masks are the flags shifted left by 7
)

// fpArith computes a op b (b alone for fpSqrt) in format f, with x86's
// NaN rules and exception conditions; daz and ftz are MXCSR's. Flags come
// back as for masked exceptions, plus exTiny.
func fpArith(op int, a, b uint64, f *fpFmt, rc uint32, daz, ftz bool) (uint64, uint32) {
	var fl uint32
	if daz {
		if f.isDenorm(a) {
			a &= f.signBit()
		}
		if f.isDenorm(b) {
			b &= f.signBit()
		}
	}
	if op == fpSqrt {
		a = b
	}
	if f.isNaN(a) || f.isNaN(b) {
		if f.isSNaN(a) || f.isSNaN(b) {
			fl |= exIE
		}
		if f.isNaN(a) {
			return a | f.quietBit(), fl
		}
		return b | f.quietBit(), fl
	}
	if f.isDenorm(a) || f.isDenorm(b) {
		fl |= exDE
	}
	na, nb := f.neg(a), f.neg(b)
	if op == fpSub {
		nb = !nb
		op = fpAdd
	}
	ia, ib, za, zb := f.isInf(a), f.isInf(b), f.isZero(a), f.isZero(b)
	switch op {
	case fpAdd:
		switch {
		case ia && ib && na != nb:
			return f.defaultNaN(), fl | exIE
		case ia:
			return f.inf(na), fl
		case ib:
			return f.inf(nb), fl
		case za && zb:
			return f.zero(na && nb || na != nb && rc == 1), fl
		case za:
			return b&^f.signBit() | f.zero(nb), fl
		case zb:
			return a, fl
		}
	case fpMul:
		switch {
		case ia && zb || za && ib:
			return f.defaultNaN(), fl | exIE
		case ia || ib:
			return f.inf(na != nb), fl
		case za || zb:
			return f.zero(na != nb), fl
		}
	case fpDiv:
		switch {
		case ia && ib || za && zb:
			return f.defaultNaN(), fl | exIE
		case ia:
			return f.inf(na != nb), fl
		case ib:
			return f.zero(na != nb), fl
		case zb:
			return f.inf(na != nb), exZE // not a denormal operand as well
		case za:
			return f.zero(na != nb), fl
		}
	case fpSqrt:
		switch {
		case za:
			return a, fl
		case na:
			return f.defaultNaN(), exIE // not a denormal operand as well
		case ia:
			return a, fl
		}
	}
	if rc == 0 && !ftz && fl == 0 {
		if r, rf, ok := fastArith(op, a, b, nb, f); ok {
			return r, rf
		}
	}
	ma, ea := f.unpack(a)
	mb, eb := f.unpack(b)
	var m *big.Int
	var e int
	sticky := false
	neg := na != nb
	switch op {
	case fpAdd:
		e = min(ea, eb)
		x := new(big.Int).Lsh(new(big.Int).SetUint64(ma), uint(ea-e))
		y := new(big.Int).Lsh(new(big.Int).SetUint64(mb), uint(eb-e))
		if na {
			x.Neg(x)
		}
		if nb {
			y.Neg(y)
		}
		m = x.Add(x, y)
		if m.Sign() == 0 {
			return f.zero(rc == 1), fl
		}
		neg = m.Sign() < 0
		m.Abs(m)
	case fpMul:
		hi, lo := bits.Mul64(ma, mb)
		m = new(big.Int).SetUint64(hi)
		m.Lsh(m, 64).Or(m, new(big.Int).SetUint64(lo))
		e = ea + eb
	case fpDiv:
		k := int(f.prec) + 3 + bits.Len64(mb) - bits.Len64(ma)
		x := new(big.Int).Lsh(new(big.Int).SetUint64(ma), uint(k))
		r := new(big.Int)
		m, r = x.QuoRem(x, new(big.Int).SetUint64(mb), r)
		sticky = r.Sign() != 0
		e = ea - eb - k
	case fpSqrt:
		neg = false
		x := new(big.Int).SetUint64(ma)
		if ea&1 != 0 {
			x.Lsh(x, 1)
			ea--
		}
		k := max(0, (2*int(f.prec)+6-x.BitLen()+1)/2)
		x.Lsh(x, uint(2*k))
		m = new(big.Int).Sqrt(x)
		sticky = new(big.Int).Mul(m, m).Cmp(x) != 0
		e = (ea - 2*k) / 2
	}
	r, rf := roundFP(neg, m, e, sticky, f, rc, ftz)
	return r, fl | rf
}

// fastArith is fpArith's common case: finite nonzero normal operands,
// round to nearest, and a normal result well away from underflow. ok is
// false when the case does not apply.
func fastArith(op int, a, b uint64, nb bool, f *fpFmt) (uint64, uint32, bool) {
	if f == fmt64 {
		fa, fb := math.Float64frombits(a), math.Float64frombits(b)
		if nb != f.neg(b) {
			fb = -fb
		}
		var r float64
		var exact bool
		switch op {
		case fpAdd:
			r = fa + fb
			t := r - fa
			exact = (fa-(r-t))+(fb-t) == 0
		case fpMul:
			r = fa * fb
			exact = math.FMA(fa, fb, -r) == 0
		case fpDiv:
			if a&f.expMask() < 128<<52 {
				return 0, 0, false
			}
			r = fa / fb
			exact = math.FMA(-r, fb, fa) == 0
		case fpSqrt:
			if b&f.expMask() < 128<<52 {
				return 0, 0, false
			}
			r = math.Sqrt(fb)
			exact = math.FMA(-r, r, fb) == 0
		}
		rb := math.Float64bits(r)
		if be := rb & f.expMask(); be < 128<<52 || be == f.expMask() {
			return 0, 0, false
		}
		if exact {
			return rb, 0, true
		}
		return rb, exPE, true
	}
	// Singles: the operation in double precision, then rounded to single.
	// Double rounding is innocuous for these operations (53 >= 2*24+2),
	// and the result is exact only if both steps are.
	da := float64(math.Float32frombits(uint32(a)))
	db := float64(math.Float32frombits(uint32(b)))
	if nb != f.neg(b) {
		db = -db
	}
	var r float64
	exact := true
	switch op {
	case fpAdd:
		r = da + db
		t := r - da
		exact = (da-(r-t))+(db-t) == 0
	case fpMul:
		r = da * db
	case fpDiv:
		r = da / db
		exact = math.FMA(-r, db, da) == 0
	case fpSqrt:
		r = math.Sqrt(db)
		exact = math.FMA(-r, r, db) == 0
	}
	s := float32(r)
	sb := math.Float32bits(s)
	if be := uint64(sb) & f.expMask(); be < 2<<23 || be == f.expMask() {
		return 0, 0, false
	}
	if exact && float64(s) == r {
		return uint64(sb), 0, true
	}
	return uint64(sb), exPE, true
}

// fpToFP converts v from format from to format to (rounding in mode rc
// when narrowing), with x86's NaN conversion and exception conditions.
func fpToFP(v uint64, from, to *fpFmt, rc uint32, daz, ftz bool) (uint64, uint32) {
	neg := from.neg(v)
	switch {
	case from.isNaN(v):
		var fl uint32
		if from.isSNaN(v) {
			fl = exIE
		}
		payload := v & from.fracMask()
		if to.prec > from.prec {
			payload <<= to.prec - from.prec
		} else {
			payload >>= from.prec - to.prec
		}
		return to.expMask() | to.quietBit() | payload&to.fracMask() | to.zero(neg), fl
	case from.isInf(v):
		return to.inf(neg), 0
	case from.isZero(v) || daz && from.isDenorm(v):
		return to.zero(neg), 0
	}
	var fl uint32
	if from.isDenorm(v) {
		fl = exDE
	}
	m, e := from.unpack(v)
	r, rf := roundFP(neg, new(big.Int).SetUint64(m), e, false, to, rc, ftz)
	return r, fl | rf
}

// intToFP converts a signed integer to format f, rounding in mode rc.
func intToFP(iv int64, f *fpFmt, rc uint32) (uint64, uint32) {
	if iv == 0 {
		return 0, 0
	}
	neg := iv < 0
	u := uint64(iv)
	if neg {
		u = -u
	}
	if bits.Len64(u) <= int(f.prec) {
		// Exact: the host converts it.
		if f == fmt64 {
			return math.Float64bits(float64(iv)), 0
		}
		return uint64(math.Float32bits(float32(iv))), 0
	}
	r, fl := roundFP(neg, new(big.Int).SetUint64(u), 0, false, f, rc, false)
	return r, fl &^ exTiny
}

// fpToInt converts v in format f to a signed integer of size bytes,
// rounding in mode rc (3 truncates): a NaN or a value out of range is an
// invalid operation giving the integer indefinite; a value that is not an
// integer is inexact.
func fpToInt(v uint64, f *fpFmt, size uint8, rc uint32, daz bool) (uint64, uint32) {
	indef := uint64(1) << (uint(size)*8 - 1)
	if f.isNaN(v) || f.isInf(v) {
		return indef, exIE
	}
	if f.isZero(v) || daz && f.isDenorm(v) {
		return 0, 0
	}
	neg := f.neg(v)
	m, e := f.unpack(v)
	var q uint64
	inexact := false
	switch {
	case e >= 0:
		if e >= 64 || bits.Len64(m)+e > 64 {
			return indef, exIE
		}
		q = m << uint(e)
	default:
		drop := -e
		if drop > 64 {
			// Below one half: only the sign and the mode matter.
			q, inexact = 0, true
			if rc == 1 && neg || rc == 2 && !neg {
				q = 1
			}
			break
		}
		bm := new(big.Int).SetUint64(m)
		r, ix := roundBits(bm, drop, false, neg, rc)
		if r.BitLen() > 64 {
			return indef, exIE
		}
		q, inexact = r.Uint64(), ix
	}
	lim := indef
	if q > lim || q == lim && !neg {
		return indef, exIE
	}
	r := q
	if neg {
		r = -q
	}
	r &= sizeMask[size]
	if inexact {
		return r, exPE
	}
	return r, 0
}
