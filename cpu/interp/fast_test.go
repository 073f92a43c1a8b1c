package interp

import (
	"fmt"
	"testing"
	"time"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// The fused entries (fuse.go) run only under Run; Step runs every
// instruction on its own through the generic condition evaluation. These
// tests run the same code both ways and want the same registers, flags
// and exits.

// pair is two machines that run the same code, one with Run and one with
// Step.
type pair struct{ run, step *machine }

func newPair(t *testing.T) pair {
	return pair{newMachine(t, nil), newMachine(t, nil)}
}

// load puts code at codeVA and data at dataVA in both machines.
func (p pair) load(t *testing.T, code, data []byte) {
	t.Helper()
	for _, m := range []*machine{p.run, p.step} {
		if err := m.as.LoadAt(code, codeVA); err != nil {
			t.Fatal(err)
		}
		if data != nil {
			if err := m.as.WriteAt(data, dataVA); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// compare runs the loaded code (which ends in SYSCALL or faults) from
// regs on both machines, and fails the test when the outcomes differ.
func (p pair) compare(t *testing.T, name string, regs cpu.Regs) {
	t.Helper()
	outcome := func(m *machine, step bool) (cpu.Exit, cpu.Regs) {
		r := regs
		r.RIP, r.RSP, r.RFLAGS = codeVA, stackVA+mmu.PageSize, 0x202
		*m.c.Regs() = r
		var ex cpu.Exit
		var err error
		for i := 0; ; i++ {
			if step {
				ex, err = m.c.Step()
			} else {
				ex, err = m.c.Run()
			}
			if err != nil {
				t.Fatal(err)
			}
			if ex.Kind != cpu.ExitStep && ex.Kind != cpu.ExitInterrupted {
				break
			}
			if i > 100 {
				t.Fatalf("%s: no end", name)
			}
		}
		return ex, *m.c.Regs()
	}
	ex1, r1 := outcome(p.run, false)
	ex2, r2 := outcome(p.step, true)
	if ex1 != ex2 || r1 != r2 {
		t.Errorf("%s:\nRun:  %+v %+v\nStep: %+v %+v", name, ex1, r1, ex2, r2)
	}
}

// TestFusedBranches checks every fused compare-and-branch form and
// condition against the unfused instructions, on operands around the
// unsigned and signed boundaries of each size.
func TestFusedBranches(t *testing.T) {
	values := []uint64{0, 1, 0x7F, 0x80, 0xFF, 0x8000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
		0x1_0000_0001, 1<<63 - 1, 1 << 63, ^uint64(0), 0xFFFF_FFFF_0000_0080}
	imms := []byte{0, 1, 0x7F, 0x80, 0xFF}
	// Compares and tests of RBX with RCX, an immediate, or memory at RDI.
	type form struct {
		name string
		code func(imm byte) []byte
	}
	forms := []form{
		{"cmp rbx,rcx", func(byte) []byte { return []byte{0x48, 0x39, 0xCB} }},
		{"cmp ebx,ecx", func(byte) []byte { return []byte{0x39, 0xCB} }},
		{"cmp bx,cx", func(byte) []byte { return []byte{0x66, 0x39, 0xCB} }},
		{"cmp bl,cl", func(byte) []byte { return []byte{0x38, 0xCB} }},
		{"cmp rbx,imm", func(i byte) []byte { return []byte{0x48, 0x83, 0xFB, i} }},
		{"cmp ebx,imm", func(i byte) []byte { return []byte{0x83, 0xFB, i} }},
		{"cmp bl,imm", func(i byte) []byte { return []byte{0x80, 0xFB, i} }},
		{"cmpq (rdi),imm", func(i byte) []byte { return []byte{0x48, 0x83, 0x3F, i} }},
		{"cmpl (rdi),imm", func(i byte) []byte { return []byte{0x83, 0x3F, i} }},
		{"cmpb (rdi),imm", func(i byte) []byte { return []byte{0x80, 0x3F, i} }},
		{"cmp (rdi),rcx", func(byte) []byte { return []byte{0x48, 0x39, 0x0F} }},
		{"cmp rcx,(rdi)", func(byte) []byte { return []byte{0x48, 0x3B, 0x0F} }},
		{"cmp cl,(rdi)", func(byte) []byte { return []byte{0x3A, 0x0F} }},
		{"test rbx,rcx", func(byte) []byte { return []byte{0x48, 0x85, 0xCB} }},
		{"test ebx,ecx", func(byte) []byte { return []byte{0x85, 0xCB} }},
		{"test bl,cl", func(byte) []byte { return []byte{0x84, 0xCB} }},
		{"test rbx,imm", func(i byte) []byte { return []byte{0x48, 0xF7, 0xC3, i, 0, 0, 0x80} }},
		{"test bl,imm", func(i byte) []byte { return []byte{0xF6, 0xC3, i} }},
		{"testb (rdi),imm", func(i byte) []byte { return []byte{0xF6, 0x07, i} }},
		{"test (rdi),rcx", func(byte) []byte { return []byte{0x48, 0x85, 0x0F} }},
		{"test ecx,(rdi)", func(byte) []byte { return []byte{0x85, 0x0F} }},
		// With a register update before them (fused too).
		{"add rbx,rdx; cmp rbx,rcx", func(byte) []byte { return []byte{0x48, 0x01, 0xD3, 0x48, 0x39, 0xCB} }},
		{"add ebx,1; cmp ebx,ecx", func(byte) []byte { return []byte{0x83, 0xC3, 0x01, 0x39, 0xCB} }},
		{"sub rbx,imm; cmp rbx,imm", func(i byte) []byte { return []byte{0x48, 0x83, 0xEB, i, 0x48, 0x83, 0xFB, i} }},
		{"inc rbx; cmp rbx,rcx", func(byte) []byte { return []byte{0x48, 0xFF, 0xC3, 0x48, 0x39, 0xCB} }},
		{"dec ebx; test ebx,ebx", func(byte) []byte { return []byte{0xFF, 0xCB, 0x85, 0xDB} }},
		{"mov rbx,rdx; test rbx,imm", func(i byte) []byte { return []byte{0x48, 0x89, 0xD3, 0x48, 0xF7, 0xC3, i, 0, 0, 0} }},
		{"mov ebx,imm; cmp rbx,rcx", func(i byte) []byte { return []byte{0xBB, i, 0, 0, 0x80, 0x48, 0x39, 0xCB} }},
		{"add rbx,rbx; cmp bl,imm", func(i byte) []byte { return []byte{0x48, 0x01, 0xDB, 0x80, 0xFB, i} }},
		// Register updates whose flags the Jcc reads.
		{"sub rbx,rcx", func(byte) []byte { return []byte{0x48, 0x29, 0xCB} }},
		{"sub ebx,imm", func(i byte) []byte { return []byte{0x83, 0xEB, i} }},
		{"sub bx,cx", func(byte) []byte { return []byte{0x66, 0x29, 0xCB} }},
		{"add rbx,rcx", func(byte) []byte { return []byte{0x48, 0x01, 0xCB} }},
		{"add ebx,imm", func(i byte) []byte { return []byte{0x83, 0xC3, i} }},
		{"and rbx,rcx", func(byte) []byte { return []byte{0x48, 0x21, 0xCB} }},
		{"or ebx,ecx", func(byte) []byte { return []byte{0x09, 0xCB} }},
		{"xor rbx,imm", func(i byte) []byte { return []byte{0x48, 0x83, 0xF3, i} }},
		{"inc rbx", func(byte) []byte { return []byte{0x48, 0xFF, 0xC3} }},
		{"dec ebx", func(byte) []byte { return []byte{0xFF, 0xCB} }},
		{"stc; inc rbx", func(byte) []byte { return []byte{0xF9, 0x48, 0xFF, 0xC3} }},
		{"cmp rcx,rbx; dec rbx", func(byte) []byte { return []byte{0x48, 0x39, 0xD9, 0x48, 0xFF, 0xCB} }},
	}
	p := newPair(t)
	for _, f := range forms {
		for cc := byte(0); cc < 16; cc++ {
			for k, imm := range imms {
				if k > 0 && string(f.code(imm)) == string(f.code(imms[0])) {
					break // no immediate in this form
				}
				// jcc +5 over mov $1,%eax; both paths end in SYSCALL.
				code := append(f.code(imm), 0x70+cc, 5, 0xB8, 1, 0, 0, 0, 0x0F, 0x05)
				for _, a := range values {
					var data [8]byte
					for i := range data {
						data[i] = byte(a >> (8 * i))
					}
					p.load(t, code, data[:])
					for _, b := range values {
						regs := cpu.Regs{RBX: a, RCX: b, RDX: b ^ a<<1, RDI: dataVA, RAX: 7}
						p.compare(t, fmt.Sprintf("%s; j%x, a=%#x b=%#x imm=%#x", f.name, cc, a, b, imm), regs)
					}
				}
				if t.Failed() {
					return
				}
			}
		}
	}
}

// TestFusedFaults checks that a fused entry whose memory operand faults
// reports the compare's address, with the instructions before it in the
// block retired, and that an operand in a page's last bytes is read from
// that page alone.
func TestFusedFaults(t *testing.T) {
	cmpb := []byte{0x48, 0x83, 0xC3, 0x01, 0x80, 0x3F, 0x00, 0x74, 0x05, 0xB8, 1, 0, 0, 0, 0x0F, 0x05}
	p := newPair(t)
	p.load(t, cmpb, nil)
	for _, tc := range []struct {
		name string
		rdi  uint64
	}{
		{"unmapped", 0x1000},
		{"last byte of a page", dataVA + 0xFFF},
		{"non-canonical", 1 << 63},
	} {
		p.compare(t, tc.name, cpu.Regs{RDI: tc.rdi, RAX: 7})
	}
	m := newMachine(t, cmpb)
	m.c.Regs().RDI = 0x1000
	m.c.Regs().RFLAGS = 0x202
	ex, err := m.c.Run()
	want := cpu.Fault{Vector: cpu.VecPageFault, ErrorCode: pfUser, PC: codeVA + 4, Addr: 0x1000}
	if err != nil || ex.Kind != cpu.ExitFault || ex.Fault != want || m.c.Regs().RIP != codeVA+4 || m.c.Regs().RBX != 1 {
		t.Fatalf("exit %+v err %v rip %#x rbx %d, want fault %+v at the cmp after the add", ex, err, m.c.Regs().RIP, m.c.Regs().RBX, want)
	}
	if n := m.c.Executed(); n != 1 {
		t.Errorf("%d instructions executed, want 1", n)
	}
}

// TestFastMemory checks the fast loads and stores inside a page, across
// into the next one (the slow path), and into pages that fault.
func TestFastMemory(t *testing.T) {
	code := []byte{
		0x48, 0x89, 0x0F, // mov %rcx,(%rdi)
		0xC6, 0x47, 0x01, 0x5A, // movb $0x5a,1(%rdi)
		0x48, 0x8B, 0x07, // mov (%rdi),%rax
		0x0F, 0xB6, 0x57, 0x02, // movzbl 2(%rdi),%edx
		0x48, 0x03, 0x37, // add (%rdi),%rsi
		0x4C, 0x8D, 0x44, 0x4F, 0x08, // lea 8(%rdi,%rcx,2),%r8
		0x89, 0x0F, // mov %ecx,(%rdi)
		0x44, 0x8B, 0x0F, // mov (%rdi),%r9d
		0x44, 0x0F, 0xB7, 0x57, 0x01, // movzwl 1(%rdi),%r10d
		0x0F, 0x05, // syscall
	}
	const rcx = 0x1122334455667788
	for _, tc := range []struct {
		rdi   uint64
		fault cpu.Fault // Vector 0: none
	}{
		{rdi: dataVA},
		{rdi: dataVA + 0xFF8},
		{rdi: dataVA + 0xFFC}, // across into the second data page
		{rdi: dataVA + 0xFFF},
		{rdi: dataVA + 0x1FFC, fault: cpu.Fault{Vector: cpu.VecPageFault, ErrorCode: pfUser | pfWrite, PC: codeVA, Addr: dataVA + 0x2000}},
		{rdi: codeVA, fault: cpu.Fault{Vector: cpu.VecPageFault, ErrorCode: pfUser | pfWrite | pfPresent, PC: codeVA, Addr: codeVA}},
		{rdi: 1 << 62, fault: cpu.Fault{Vector: cpu.VecGeneralProt, PC: codeVA}},
	} {
		m := newMachine(t, code)
		if err := m.as.Map(dataVA+mmu.PageSize, mmu.PageSize, mmu.Read|mmu.Write, "data2"); err != nil {
			t.Fatal(err)
		}
		*m.c.Regs() = cpu.Regs{RIP: codeVA, RSP: stackVA + mmu.PageSize, RFLAGS: 0x202, RDI: tc.rdi, RCX: rcx, RSI: 3}
		ex, err := m.c.Run()
		if err != nil {
			t.Fatal(err)
		}
		r := m.c.Regs()
		if tc.fault.Vector != 0 {
			if ex.Kind != cpu.ExitFault || ex.Fault != tc.fault || r.RIP != tc.fault.PC {
				t.Errorf("rdi %#x: exit %+v rip %#x, want fault %+v", tc.rdi, ex, r.RIP, tc.fault)
			}
			continue
		}
		if ex.Kind != cpu.ExitSyscall {
			t.Fatalf("rdi %#x: exit %+v", tc.rdi, ex)
		}
		want := cpu.Regs{RAX: 0x1122334455665A88, RDX: 0x66, RSI: 3 + 0x1122334455665A88,
			R8: tc.rdi + 8 + 2*rcx, R9: 0x55667788, R10: 0x6677, RDI: tc.rdi}
		got := cpu.Regs{RAX: r.RAX, RDX: r.RDX, RSI: r.RSI, R8: r.R8, R9: r.R9, R10: r.R10, RDI: r.RDI}
		if got != want {
			t.Errorf("rdi %#x:\n got %+v\nwant %+v", tc.rdi, got, want)
		}
		var b [8]byte
		m.as.ReadAt(b[:], tc.rdi)
		if b != [8]byte{0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11} {
			t.Errorf("rdi %#x: memory % x", tc.rdi, b)
		}
	}
}

// TestRepStos checks REP STOS's page-at-a-time fill for each element
// size, with a pattern and with zero.
func TestRepStos(t *testing.T) {
	for _, tc := range []struct {
		code []byte
		size int
	}{{[]byte{0xF3, 0xAA}, 1}, {[]byte{0x66, 0xF3, 0xAB}, 2}, {[]byte{0xF3, 0xAB}, 4}, {[]byte{0xF3, 0x48, 0xAB}, 8}} {
		for _, rax := range []uint64{0x1122334455667788, 0} {
			m := newMachine(t, append(append([]byte(nil), tc.code...), syscallInsn...))
			page := make([]byte, mmu.PageSize)
			for i := range page {
				page[i] = 0xEE
			}
			m.as.WriteAt(page, dataVA)
			const n = 301
			*m.c.Regs() = cpu.Regs{RIP: codeVA, RSP: stackVA + mmu.PageSize, RFLAGS: 0x202, RAX: rax, RCX: n, RDI: dataVA + 3}
			if ex, err := m.c.Run(); err != nil || ex.Kind != cpu.ExitSyscall {
				t.Fatalf("exit %+v err %v", ex, err)
			}
			m.as.ReadAt(page, dataVA)
			for i, b := range page {
				want := byte(0xEE)
				if i >= 3 && i < 3+n*tc.size {
					want = byte(rax >> (8 * ((i - 3) % tc.size)))
				}
				if b != want {
					t.Fatalf("size %d rax %#x: byte %d = %#x, want %#x", tc.size, rax, i, b, want)
				}
			}
			if r := m.c.Regs(); r.RDI != dataVA+3+uint64(n*tc.size) { // (SYSCALL has set RCX)
				t.Errorf("size %d: rdi %#x after", tc.size, r.RDI)
			}
		}
	}
}

// flagsCond evaluates condition cc from materialised flags.
func flagsCond(f uint64, cc uint8) bool {
	bit := func(m uint64) bool { return f&m != 0 }
	var r bool
	switch cc >> 1 {
	case 0:
		r = bit(flagOF)
	case 1:
		r = bit(flagCF)
	case 2:
		r = bit(flagZF)
	case 3:
		r = bit(flagCF) || bit(flagZF)
	case 4:
		r = bit(flagSF)
	case 5:
		r = bit(flagPF)
	case 6:
		r = bit(flagSF) != bit(flagOF)
	case 7:
		r = bit(flagZF) || bit(flagSF) != bit(flagOF)
	}
	return r != (cc&1 != 0)
}

// TestCondLazy checks that conditions read from the lazy state agree
// with the flags it materialises, after every kind of lazy operation.
func TestCondLazy(t *testing.T) {
	values := []uint64{0, 1, 0x7F, 0x80, 0xFF, 0x8000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1 << 63, ^uint64(0)}
	for _, size := range []uint8{1, 2, 4, 8} {
		m := sizeMask[size]
		for _, a := range values {
			for _, b := range values {
				for cf := uint64(0); cf < 2; cf++ {
					for op := 0; op < 15; op++ {
						c := new(CPU)
						c.flags = flagsFixed | cf
						switch {
						case op < 8:
							c.alu(uint8(op), size, a&m, b&m)
						case op < 12:
							c.unary(uint8(op-8), size, a&m)
						case size < 4:
							continue
						default: // SHL, SHR, SAR of a by 1 to size*8-1
							c.g[rBX] = a
							in := &inst{size: size, mask: m, ops: [3]operand{{kind: kReg, reg: rBX}, {kind: kImm, disp: b%(uint64(size)*8-1) + 1}}}
							[]func(*CPU, *inst){opShlRI, opShrRI, opSarRI}[op-12](c, in)
						}
						type lazy struct {
							op, sz                  uint8
							flags, res, a, b, carry uint64
						}
						saved := lazy{c.lop, c.lsz, c.flags, c.lres, c.la, c.lb, c.lcf}
						f := c.getFlags()
						for cc := uint8(0); cc < 16; cc++ {
							s := saved
							c.lop, c.lsz, c.flags, c.lres, c.la, c.lb, c.lcf = s.op, s.sz, s.flags, s.res, s.a, s.b, s.carry
							if got, want := c.cond(cc), flagsCond(f, cc); got != want {
								t.Fatalf("size %d op %d a %#x b %#x cf %d: cond %x = %v, flags %#x say %v", size, op, a, b, cf, cc, got, f, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestShiftLazy checks the shifts by an immediate, whose flags are
// lazy, against the generic opShift, flags included.
func TestShiftLazy(t *testing.T) {
	values := []uint64{0, 1, 0x80, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_8000_0001, 1 << 63, ^uint64(0), 0x0123_4567_89AB_CDEF}
	for _, rex := range []byte{0, 0x48} {
		for _, modrm := range []byte{0xE3, 0xEB, 0xF3, 0xFB} { // SHL, SHR, SAL, SAR %ebx/%rbx
			for cnt := 0; cnt < 70; cnt++ {
				raw := []byte{0xC1, modrm, byte(cnt)}
				if cnt == 1 {
					raw = []byte{0xD1, modrm}
				}
				if rex != 0 {
					raw = append([]byte{rex}, raw...)
				}
				var in inst
				padded := append(append([]byte(nil), raw...), make([]byte, 15)...)
				n, err := decodeInst(&in, padded, codeVA)
				if modrm == 0xF3 && err != nil {
					continue // SAL's second encoding: not every decoder takes it
				}
				if n != len(raw) || err != nil {
					t.Fatalf("% x: decoded %d bytes, %v", raw, n, err)
				}
				generic := in
				generic.fn = opShift
				for _, v := range values {
					for _, cf := range []uint64{0, flagCF | flagAF | flagOF} {
						var out [2][2]uint64
						for k, h := range []*inst{&in, &generic} {
							c := new(CPU)
							c.flags = flagsFixed | cf
							c.g[rBX] = v
							h.fn(c, h)
							out[k] = [2]uint64{c.g[rBX], c.getFlags()}
						}
						if out[0] != out[1] {
							t.Fatalf("% x on %#x (flags %#x): fast %#x, generic %#x", raw, v, cf, out[0], out[1])
						}
					}
				}
			}
		}
	}
}

// TestInterruptSelfModifying checks that a loop storing into its own code
// page, which ends a block at every store, still stops on Interrupt.
func TestInterruptSelfModifying(t *testing.T) {
	phys, err := mmu.NewPhysMem(16 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer phys.Close()
	as, _ := mmu.NewAddressSpace(phys)
	defer as.Release()
	as.Map(codeVA, mmu.PageSize, mmu.Read|mmu.Write|mmu.Exec, "code")
	as.Map(stackVA, mmu.PageSize, mmu.Read|mmu.Write, "stack")
	// loop: movb $0x90, 0x100(%rip-relative); jmp loop
	as.LoadAt([]byte{0xC6, 0x05, 0xF9, 0x00, 0x00, 0x00, 0x90, 0xEB, 0xF7}, codeVA)
	c := New(phys).NewInterpCPU(as)
	defer c.Close()
	c.Regs().RIP, c.Regs().RSP, c.Regs().RFLAGS = codeVA, stackVA+mmu.PageSize, 0x202
	go func() {
		time.Sleep(20 * time.Millisecond)
		c.Interrupt()
	}()
	if ex, err := c.Run(); err != nil || ex.Kind != cpu.ExitInterrupted {
		t.Fatalf("exit %+v err %v", ex, err)
	}
}
