package lockstep

import (
	"encoding/binary"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/aurora-vm/aurora-vm/cpu"
)

// TestFPExceptions runs SSE and x87 instructions that round, compare or
// convert on both engines, with operands chosen at the edges (zeros,
// denormals, the limits of the formats, infinities, NaNs, values that are
// inexact), under several MXCSR and FCW settings, and compares results,
// exception flags and traps. -lockstep.fpall runs every combination;
// the default is a sample that keeps the test short.

var flagFPAll = flag.Bool("lockstep.fpall", false, "TestFPExceptions: run every operand and control combination")

var flagFPShow = flag.Int("lockstep.fpshow", 200, "TestFPExceptions: how many differences to list")

var (
	fpDoubles = []uint64{
		0, 1 << 63, 0x3FF0000000000000, 0xBFF0000000000000, 0x4008000000000000, 0x3FB999999999999A,
		0x0010000000000000, 0x8000000000000001, 0x000FFFFFFFFFFFFF, 0x7FEFFFFFFFFFFFFF,
		0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000, 0x7FF0000000000001, 0xFFF4000000000000,
		0x0170000000000000, 0x7E70000000000000, 0x3FEFFFFFFFFFFFFF, 0x43E0000000000000, 0xC3E0000000000000,
		0x41E0000000000000, 0xC1E0000000100000, 0x36A0000000000001, 0x47EFFFFFE0000000, 0x3E9FFFFFFFFFFFFF,
		0x3FF0000000000001, 0x400921FB54442D18,
	}
	fpSingles = []uint32{
		0, 1 << 31, 0x3F800000, 0xBF800000, 0x40400000, 0x3DCCCCCD, 0x00800000, 0x80000001, 0x007FFFFF,
		0x7F7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0xFFA00000, 0x0D800000, 0x71800000,
		0x3F7FFFFF, 0x4F000000, 0xCF000000, 0x5F000000, 0xDF000001, 0x1F800001, 0x3F800001, 0x40490FDB,
	}
	fpInts = []uint64{
		0, 1, 1<<63 - 1, 1 << 63, 1<<53 + 1, 1<<24 + 1, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0xFFFFFFFF_FFFFFFFF,
		0x12345678_9ABCDEF1,
	}
	mxcsrs = []uint32{0x1F80, 0x9FC0, 0x3F80, 0x5F80, 0x7F80, 0x1FC0, 0x9F80, 0x0000, 0x1E80, 0x1D00, 0x1B80,
		0x1780, 0x0F80, 0x1F3F, 0x8000, 0x0040}
)

type fpInsn struct {
	name string
	code []byte
	// kind: 'd' and 's' operate on doubles and singles in XMM0 and XMM1,
	// 'i' converts RAX, 'x' is an x87 store of ST0 (FCW varies).
	kind byte
}

func fpInsns() []fpInsn {
	var l []fpInsn
	ops := []struct {
		name string
		op   byte
	}{{"add", 0x58}, {"mul", 0x59}, {"sub", 0x5C}, {"min", 0x5D}, {"div", 0x5E}, {"max", 0x5F}, {"sqrt", 0x51}}
	for _, o := range ops {
		l = append(l,
			fpInsn{o.name + "ss", []byte{0xF3, 0x0F, o.op, 0xC1}, 's'},
			fpInsn{o.name + "sd", []byte{0xF2, 0x0F, o.op, 0xC1}, 'd'},
			fpInsn{o.name + "ps", []byte{0x0F, o.op, 0xC1}, 's'},
			fpInsn{o.name + "pd", []byte{0x66, 0x0F, o.op, 0xC1}, 'd'})
	}
	for p := byte(0); p < 8; p++ {
		l = append(l,
			fpInsn{fmt.Sprintf("cmpss%d", p), []byte{0xF3, 0x0F, 0xC2, 0xC1, p}, 's'},
			fpInsn{fmt.Sprintf("cmpsd%d", p), []byte{0xF2, 0x0F, 0xC2, 0xC1, p}, 'd'},
			fpInsn{fmt.Sprintf("cmpps%d", p), []byte{0x0F, 0xC2, 0xC1, p}, 's'},
			fpInsn{fmt.Sprintf("cmppd%d", p), []byte{0x66, 0x0F, 0xC2, 0xC1, p}, 'd'})
	}
	l = append(l,
		fpInsn{"ucomiss", []byte{0x0F, 0x2E, 0xC1}, 's'},
		fpInsn{"comiss", []byte{0x0F, 0x2F, 0xC1}, 's'},
		fpInsn{"ucomisd", []byte{0x66, 0x0F, 0x2E, 0xC1}, 'd'},
		fpInsn{"comisd", []byte{0x66, 0x0F, 0x2F, 0xC1}, 'd'},
		fpInsn{"cvtsi2sdq", []byte{0xF2, 0x48, 0x0F, 0x2A, 0xC0}, 'i'},
		fpInsn{"cvtsi2ssq", []byte{0xF3, 0x48, 0x0F, 0x2A, 0xC0}, 'i'},
		fpInsn{"cvtsi2sdl", []byte{0xF2, 0x0F, 0x2A, 0xC0}, 'i'},
		fpInsn{"cvtsi2ssl", []byte{0xF3, 0x0F, 0x2A, 0xC0}, 'i'},
		fpInsn{"cvtsd2siq", []byte{0xF2, 0x48, 0x0F, 0x2D, 0xC1}, 'd'},
		fpInsn{"cvttsd2siq", []byte{0xF2, 0x48, 0x0F, 0x2C, 0xC1}, 'd'},
		fpInsn{"cvtsd2sil", []byte{0xF2, 0x0F, 0x2D, 0xC1}, 'd'},
		fpInsn{"cvttsd2sil", []byte{0xF2, 0x0F, 0x2C, 0xC1}, 'd'},
		fpInsn{"cvtss2siq", []byte{0xF3, 0x48, 0x0F, 0x2D, 0xC1}, 's'},
		fpInsn{"cvttss2siq", []byte{0xF3, 0x48, 0x0F, 0x2C, 0xC1}, 's'},
		fpInsn{"cvtss2sil", []byte{0xF3, 0x0F, 0x2D, 0xC1}, 's'},
		fpInsn{"cvttss2sil", []byte{0xF3, 0x0F, 0x2C, 0xC1}, 's'},
		fpInsn{"cvtsd2ss", []byte{0xF2, 0x0F, 0x5A, 0xC1}, 'd'},
		fpInsn{"cvtss2sd", []byte{0xF3, 0x0F, 0x5A, 0xC1}, 's'},
		fpInsn{"cvtdq2pd", []byte{0xF3, 0x0F, 0xE6, 0xC1}, 'i'},
		fpInsn{"cvtdq2ps", []byte{0x0F, 0x5B, 0xC1}, 'i'},
		fpInsn{"cvtps2dq", []byte{0x66, 0x0F, 0x5B, 0xC1}, 's'},
		fpInsn{"cvttps2dq", []byte{0xF3, 0x0F, 0x5B, 0xC1}, 's'},
		fpInsn{"cvtpd2dq", []byte{0xF2, 0x0F, 0xE6, 0xC1}, 'd'},
		fpInsn{"cvttpd2dq", []byte{0x66, 0x0F, 0xE6, 0xC1}, 'd'},
		fpInsn{"cvtps2pd", []byte{0x0F, 0x5A, 0xC1}, 's'},
		fpInsn{"cvtpd2ps", []byte{0x66, 0x0F, 0x5A, 0xC1}, 'd'},
	)
	// x87: load a double from the data page into ST0 and store it as a
	// single or double, keeping it or popping it; also the integer stores.
	for _, st := range []struct {
		name string
		code []byte
	}{
		{"fsts", []byte{0xD9, 0x53, 0x08}}, {"fstps", []byte{0xD9, 0x5B, 0x08}},
		{"fstl", []byte{0xDD, 0x53, 0x08}}, {"fstpl", []byte{0xDD, 0x5B, 0x08}},
		{"fists", []byte{0xDF, 0x53, 0x08}}, {"fistl", []byte{0xDB, 0x53, 0x08}},
		{"fistpll", []byte{0xDF, 0x7B, 0x08}}, {"fisttpl", []byte{0xDB, 0x4B, 0x08}},
		{"fldl-fstpt", []byte{0xDB, 0x7B, 0x08}},
		// Arithmetic into a register, the result stored whole with
		// fstpt 8(%rbx).
		{"fmul-square", []byte{0xD8, 0xC8, 0xDB, 0x7B, 0x08}},
		{"fsqrt", []byte{0xD9, 0xFA, 0xDB, 0x7B, 0x08}},
		{"frndint", []byte{0xD9, 0xFC, 0xDB, 0x7B, 0x08}},
		{"fdiv-zero", []byte{0xD9, 0xEE, 0xDE, 0xF9, 0xDB, 0x7B, 0x08}},
		{"fadd-one", []byte{0xD9, 0xE8, 0xDE, 0xC1, 0xDB, 0x7B, 0x08}},
		{"fscale-self", []byte{0xD9, 0xC0, 0xD9, 0xFD, 0xDB, 0x7B, 0x08}},
		{"fdiv-three", []byte{0xD9, 0xE8, 0xD9, 0xE8, 0xDE, 0xC1, 0xD8, 0xC1, 0xDE, 0xF9, 0xDB, 0x7B, 0x08}},
		// The same left on the stack, for C1 (rounded up) in FNSTSW.
		{"fmul-square-c1", []byte{0xD8, 0xC8}},
		{"fsqrt-c1", []byte{0xD9, 0xFA}},
		{"frndint-c1", []byte{0xD9, 0xFC}},
		{"fdiv-three-c1", []byte{0xD9, 0xE8, 0xD9, 0xE8, 0xDE, 0xC1, 0xD8, 0xC1, 0xDE, 0xF9}},
		// FPREM and FPREM1 by pi (partial for large values) and by the
		// value itself; FXTRACT.
		{"fprem-pi", []byte{0xD9, 0xEB, 0xD9, 0xC9, 0xD9, 0xF8, 0xDB, 0x7B, 0x08}},
		{"fprem1-pi", []byte{0xD9, 0xEB, 0xD9, 0xC9, 0xD9, 0xF5, 0xDB, 0x7B, 0x08}},
		{"fprem-three", []byte{0xD9, 0xE8, 0xD9, 0xE8, 0xDE, 0xC1, 0xD8, 0xC0, 0xD9, 0xC9, 0xD9, 0xF8, 0xDB, 0x7B, 0x08}},
		{"fprem1-three", []byte{0xD9, 0xE8, 0xD9, 0xE8, 0xDE, 0xC1, 0xD8, 0xC0, 0xD9, 0xC9, 0xD9, 0xF5, 0xDB, 0x7B, 0x08}},
		{"fprem-self", []byte{0xD9, 0xC0, 0xD9, 0xF8, 0xDB, 0x7B, 0x08}},
		{"fxtract", []byte{0xD9, 0xF4, 0xDB, 0x7B, 0x08, 0xDB, 0x7B, 0x10}},
		// The indefinite (0/0) minus the double: the NaN rules.
		{"findef-fsubl", []byte{0xD9, 0xEE, 0xD9, 0xEE, 0xDE, 0xF9, 0xDC, 0x23, 0xDB, 0x7B, 0x08}},
		// Compares.
		{"fcompp-zero", []byte{0xD9, 0xEE, 0xDE, 0xD9}},
		{"fucompp-self", []byte{0xD9, 0xC0, 0xDA, 0xE9}},
		{"fcomi-self", []byte{0xD9, 0xC0, 0xDB, 0xF1}},
		{"fucomip-zero", []byte{0xD9, 0xEE, 0xDF, 0xE9}},
		{"ftst", []byte{0xD9, 0xE4}},
	} {
		// fldl (%rbx); the instructions; fnstsw %ax; fwait, which
		// raises #MF for an unmasked exception still pending.
		code := append([]byte{0xDD, 0x03}, st.code...)
		l = append(l, fpInsn{st.name, append(code, 0xDF, 0xE0, 0x9B), 'x'})
	}
	return l
}

// fcws are x87 control words: precision and rounding with every
// exception masked, one with the reserved bit 6 clear, and then each
// exception unmasked in turn, and all of them.
var fcws = []uint16{0x37F, 0x77F, 0xB7F, 0xF7F, 0x27F, 0x07F, 0x33F, 0x1B7F,
	0x37E, 0x37D, 0x37B, 0x377, 0x36F, 0x35F, 0x340, 0xF40, 0x2D7}

func TestFPExceptions(t *testing.T) {
	requireKVM(t)
	insns := fpInsns()
	step := 1
	if !*flagFPAll {
		step = 29
	}
	var fails []string
	n := 0
	for _, in := range insns {
		var as, bs []uint64
		switch in.kind {
		case 'd', 'x':
			as = fpDoubles
		case 's':
			for _, v := range fpSingles {
				as = append(as, uint64(v))
			}
		case 'i':
			as = fpInts
		}
		bs = as
		if in.kind == 'i' || in.kind == 'x' || strings.HasPrefix(in.name, "cvt") || strings.HasPrefix(in.name, "sqrt") {
			bs = as[:1]
		}
		ctl := len(mxcsrs)
		if in.kind == 'x' {
			ctl = len(fcws)
		}
		t.Run(in.name, func(t *testing.T) {
			k := 0
			for i, a := range as {
				for j, b := range bs {
					for m := 0; m < ctl; m++ {
						k++
						if (k+len(in.name))%step != 0 {
							continue
						}
						n++
						a, b, m, i, j := a, b, m, i, j
						setup := func(regs *cpu.Regs, fp []byte) {
							le := binary.LittleEndian
							x0, x1 := fpLanes(in.kind, a, b, as, i, j)
							le.PutUint64(fp[xsXMM:], x0[0])
							le.PutUint64(fp[xsXMM+8:], x0[1])
							le.PutUint64(fp[xsXMM+16:], x1[0])
							le.PutUint64(fp[xsXMM+24:], x1[1])
							regs.RAX = a
							regs.RBX = fuzzDataVA + 64
							if in.kind == 'x' {
								le.PutUint16(fp[xsFCW:], fcws[m])
							} else {
								le.PutUint32(fp[xsMXCSR:], mxcsrs[m])
							}
						}
						code := in.code
						if in.kind == 'x' {
							// The double to load goes to the data page
							// through a store from RAX first.
							code = append([]byte{0x48, 0x89, 0x03}, code...)
						}
						fuzzRunWith(t, 1, code, fuzzHooks{setup: setup, diverged: func(d *Divergence) {
							var s strings.Builder
							ctlName := "mxcsr"
							ctlVal := uint64(0)
							if in.kind == 'x' {
								ctlName, ctlVal = "fcw", uint64(fcws[m])
							} else {
								ctlVal = uint64(mxcsrs[m])
							}
							fmt.Fprintf(&s, "%s a=%#x b=%#x %s=%#x:", in.name, a, b, ctlName, ctlVal)
							for _, x := range d.Diffs {
								fmt.Fprintf(&s, " %s %s / %s;", x.Field, x.Oracle, x.Tested)
							}
							fails = append(fails, s.String())
						}})
					}
				}
			}
		})
	}
	for i, f := range fails {
		if i == *flagFPShow {
			t.Errorf("... and %d more", len(fails)-i)
			break
		}
		t.Error(f)
	}
	t.Logf("%d combinations, %d differ", n, len(fails))
}

// fpLanes fills XMM0 and XMM1 for an operation on a and b: the low lanes
// get a and b, the others mix them with neighbours in the list.
func fpLanes(kind byte, a, b uint64, l []uint64, i, j int) (x0, x1 [2]uint64) {
	next := func(k int) uint64 { return l[(k+1)%len(l)] }
	switch kind {
	case 'd', 'x':
		return [2]uint64{a, next(j)}, [2]uint64{b, next(i)}
	case 's':
		return [2]uint64{a | next(j)<<32, next(i) | 0x3F800000<<32}, [2]uint64{b | next(i+3)<<32, 0x40400000 | next(j+5)<<32}
	}
	// Integers: two 32-bit lanes each from a, then b.
	return [2]uint64{a, b}, [2]uint64{a ^ 0x80000000, next(i)}
}
