package interp

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/kernel"
	"github.com/aurora-vm/aurora-vm/mmu"
	"github.com/aurora-vm/aurora-vm/syscall"
)

const (
	codeVA  = 0x400000
	dataVA  = 0x600000
	stackVA = 0x7FFFF0000
)

// machine is one interpreted thread with a code page, a data page and a
// stack page.
type machine struct {
	phys *mmu.PhysMem
	as   *mmu.AddressSpace
	c    *CPU
}

func newMachine(t testing.TB, code []byte) *machine {
	t.Helper()
	phys, err := mmu.NewPhysMem(16 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phys.Close() })
	as, err := mmu.NewAddressSpace(phys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(as.Release)
	for _, m := range []struct {
		va   uint64
		perm mmu.Perm
	}{{codeVA, mmu.Read | mmu.Exec}, {dataVA, mmu.Read | mmu.Write}, {stackVA, mmu.Read | mmu.Write}} {
		if err := as.Map(m.va, mmu.PageSize, m.perm, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if err := as.LoadAt(code, codeVA); err != nil {
		t.Fatal(err)
	}
	c := New(phys).NewInterpCPU(as)
	t.Cleanup(func() { c.Close() })
	c.Regs().RIP = codeVA
	c.Regs().RSP = stackVA + mmu.PageSize
	return &machine{phys, as, c}
}

var syscallInsn = []byte{0x0F, 0x05}

// run executes code followed by SYSCALL from the given registers and
// returns the registers at the syscall.
func run(t *testing.T, code []byte, regs cpu.Regs) cpu.Regs {
	t.Helper()
	m := newMachine(t, append(append([]byte(nil), code...), syscallInsn...))
	regs.RIP, regs.RSP = codeVA, stackVA+mmu.PageSize
	if regs.RFLAGS == 0 {
		regs.RFLAGS = 0x202
	}
	*m.c.Regs() = regs
	ex, err := m.c.Run()
	if err != nil {
		t.Fatal(err)
	}
	if ex.Kind != cpu.ExitSyscall {
		t.Fatalf("% x: exit %+v, want a syscall", code, ex)
	}
	return *m.c.Regs()
}

const arith = flagCF | flagPF | flagAF | flagZF | flagSF | flagOF

// TestInstructions checks results and flags of integer instructions
// against the values the x86 manuals define (undefined flags are masked
// out).
func TestInstructions(t *testing.T) {
	for _, tc := range []struct {
		name      string
		code      []byte
		in        cpu.Regs
		rax, rdx  uint64
		flags     uint64 // arithmetic flags after
		checkRDX  bool
		flagsMask uint64 // 0: all of arith
	}{
		{name: "add 64 carry", code: []byte{0x48, 0x01, 0xD8}, in: cpu.Regs{RAX: ^uint64(0), RBX: 1}, rax: 0, flags: flagCF | flagPF | flagAF | flagZF},
		{name: "add 32 overflow", code: []byte{0x01, 0xD8}, in: cpu.Regs{RAX: 0x7FFF_FFFF, RBX: 1}, rax: 0x8000_0000, flags: flagPF | flagAF | flagSF | flagOF},
		{name: "add 8 keeps upper", code: []byte{0x00, 0xD8}, in: cpu.Regs{RAX: 0x1FF, RBX: 1}, rax: 0x100, flags: flagCF | flagPF | flagAF | flagZF},
		{name: "sub borrow", code: []byte{0x48, 0x29, 0xD8}, in: cpu.Regs{RAX: 1, RBX: 2}, rax: ^uint64(0), flags: flagCF | flagPF | flagAF | flagSF},
		{name: "cmp equal", code: []byte{0x48, 0x39, 0xD8}, in: cpu.Regs{RAX: 5, RBX: 5}, rax: 5, flags: flagPF | flagZF},
		{name: "sbb with carry", code: []byte{0xF9, 0x48, 0x19, 0xD8}, in: cpu.Regs{RAX: 5, RBX: 5}, rax: ^uint64(0), flags: flagCF | flagPF | flagAF | flagSF},
		{name: "adc with carry", code: []byte{0xF9, 0x48, 0x11, 0xD8}, in: cpu.Regs{RAX: ^uint64(0), RBX: 0}, rax: 0, flags: flagCF | flagPF | flagAF | flagZF},
		{name: "xor clears upper", code: []byte{0x31, 0xC0}, in: cpu.Regs{RAX: 0xFFFF_FFFF_FFFF_FFFF}, rax: 0, flags: flagPF | flagZF},
		{name: "inc keeps CF", code: []byte{0xF9, 0x48, 0xFF, 0xC0}, in: cpu.Regs{RAX: 0x7FFF_FFFF_FFFF_FFFF}, rax: 1 << 63, flags: flagCF | flagPF | flagAF | flagSF | flagOF},
		{name: "dec to zero", code: []byte{0x48, 0xFF, 0xC8}, in: cpu.Regs{RAX: 1}, rax: 0, flags: flagPF | flagZF},
		{name: "neg", code: []byte{0x48, 0xF7, 0xD8}, in: cpu.Regs{RAX: 1}, rax: ^uint64(0), flags: flagCF | flagPF | flagAF | flagSF},
		{name: "neg zero", code: []byte{0x48, 0xF7, 0xD8}, in: cpu.Regs{RAX: 0}, rax: 0, flags: flagPF | flagZF},
		{name: "shl 1 overflow", code: []byte{0x48, 0xD1, 0xE0}, in: cpu.Regs{RAX: 0x4000_0000_0000_0000}, rax: 1 << 63, flags: flagPF | flagSF | flagOF, flagsMask: arith &^ flagAF},
		{name: "shl count 0 keeps flags", code: []byte{0xF9, 0x48, 0xD3, 0xE0}, in: cpu.Regs{RAX: 3, RCX: 64}, rax: 3, flags: flagCF},
		{name: "shr", code: []byte{0x48, 0xC1, 0xE8, 0x04}, in: cpu.Regs{RAX: 0x18}, rax: 1, flags: flagCF, flagsMask: flagCF | flagZF | flagSF | flagPF},
		{name: "sar negative", code: []byte{0x48, 0xC1, 0xF8, 0x3F}, in: cpu.Regs{RAX: 1 << 63}, rax: ^uint64(0), flags: flagPF | flagSF, flagsMask: flagCF | flagZF | flagSF | flagPF | flagOF},
		{name: "rol 8", code: []byte{0xD0, 0xC0}, in: cpu.Regs{RAX: 0x81}, rax: 0x03, flags: flagCF | flagOF, flagsMask: flagCF | flagOF},
		{name: "mul 64", code: []byte{0x48, 0xF7, 0xE3}, in: cpu.Regs{RAX: 1 << 63, RBX: 4}, rax: 0, rdx: 2, checkRDX: true, flags: flagCF | flagOF, flagsMask: flagCF | flagOF},
		{name: "imul negative", code: []byte{0x48, 0x0F, 0xAF, 0xC3}, in: cpu.Regs{RAX: ^uint64(0), RBX: 3}, rax: ^uint64(2), flags: 0, flagsMask: flagCF | flagOF},
		{name: "imul overflow", code: []byte{0x48, 0x6B, 0xC0, 0x02}, in: cpu.Regs{RAX: 1 << 62}, rax: 1 << 63, flags: flagCF | flagOF, flagsMask: flagCF | flagOF},
		{name: "div", code: []byte{0x48, 0xF7, 0xF3}, in: cpu.Regs{RAX: 7, RDX: 1, RBX: 2}, rax: 1<<63 | 3, rdx: 1, checkRDX: true, flagsMask: 1 << 20},
		{name: "idiv negative", code: []byte{0x48, 0xF7, 0xFB}, in: cpu.Regs{RAX: ^uint64(6), RDX: ^uint64(0), RBX: 2}, rax: ^uint64(2), rdx: ^uint64(0), checkRDX: true, flagsMask: 1 << 20},
		{name: "bsf", code: []byte{0x48, 0x0F, 0xBC, 0xC3}, in: cpu.Regs{RBX: 0x80}, rax: 7, flags: 0, flagsMask: flagZF},
		{name: "bsr zero keeps dest", code: []byte{0x48, 0x0F, 0xBD, 0xC3}, in: cpu.Regs{RAX: 42}, rax: 42, flags: flagZF, flagsMask: flagZF},
		{name: "tzcnt zero", code: []byte{0xF3, 0x48, 0x0F, 0xBC, 0xC3}, in: cpu.Regs{RAX: 42}, rax: 64, flags: flagCF, flagsMask: flagCF | flagZF},
		{name: "lzcnt", code: []byte{0xF3, 0x0F, 0xBD, 0xC3}, in: cpu.Regs{RBX: 1}, rax: 31, flags: 0, flagsMask: flagCF | flagZF},
		{name: "popcnt", code: []byte{0xF3, 0x48, 0x0F, 0xB8, 0xC3}, in: cpu.Regs{RBX: 0xF0F0}, rax: 8, flags: 0},
		{name: "bt", code: []byte{0x48, 0x0F, 0xA3, 0xD8}, in: cpu.Regs{RAX: 4, RBX: 2}, rax: 4, flags: flagCF, flagsMask: flagCF},
		{name: "bts", code: []byte{0x48, 0x0F, 0xAB, 0xD8}, in: cpu.Regs{RAX: 0, RBX: 65}, rax: 2, flags: 0, flagsMask: flagCF},
		{name: "cmov taken", code: []byte{0x48, 0x39, 0xC0, 0x48, 0x0F, 0x44, 0xC3}, in: cpu.Regs{RAX: 1, RBX: 9}, rax: 9, flags: flagZF | flagPF},
		{name: "cmov32 not taken clears upper", code: []byte{0xF8, 0x0F, 0x42, 0xC3}, in: cpu.Regs{RAX: 1<<40 | 5, RBX: 9}, rax: 5, flagsMask: flagCF},
		{name: "setl", code: []byte{0x48, 0x39, 0xD8, 0x0F, 0x9C, 0xC0}, in: cpu.Regs{RAX: ^uint64(0), RBX: 1}, rax: 0xFFFF_FFFF_FFFF_FF01, flags: flagSF | flagPF, flagsMask: flagSF | flagZF | flagCF},
		{name: "movsx byte", code: []byte{0x48, 0x0F, 0xBE, 0xC3}, in: cpu.Regs{RBX: 0x80}, rax: 0xFFFF_FFFF_FFFF_FF80, flagsMask: 1 << 20},
		{name: "movzx ah", code: []byte{0x0F, 0xB6, 0xC4}, in: cpu.Regs{RAX: 0x1234}, rax: 0x12, flagsMask: 1 << 20},
		{name: "cqo", code: []byte{0x48, 0x99}, in: cpu.Regs{RAX: 1 << 63}, rax: 1 << 63, rdx: ^uint64(0), checkRDX: true, flagsMask: 1 << 20},
		{name: "bswap", code: []byte{0x48, 0x0F, 0xC8}, in: cpu.Regs{RAX: 0x0102030405060708}, rax: 0x0807060504030201, flagsMask: 1 << 20},
		{name: "lea", code: []byte{0x48, 0x8D, 0x44, 0x98, 0x10}, in: cpu.Regs{RAX: 0x100, RBX: 2}, rax: 0x118, flagsMask: 1 << 20},
		{name: "xchg", code: []byte{0x48, 0x87, 0xD8}, in: cpu.Regs{RAX: 1, RBX: 2}, rax: 2, flagsMask: 1 << 20},
		{name: "shld", code: []byte{0x48, 0x0F, 0xA4, 0xD8, 0x04}, in: cpu.Regs{RAX: 1, RBX: 0xF000_0000_0000_0000}, rax: 0x1F, flags: 0, flagsMask: flagCF | flagZF | flagSF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, tc.code, tc.in)
			if got.RAX != tc.rax {
				t.Errorf("rax = %#x, want %#x", got.RAX, tc.rax)
			}
			if tc.checkRDX && got.RDX != tc.rdx {
				t.Errorf("rdx = %#x, want %#x", got.RDX, tc.rdx)
			}
			mask := tc.flagsMask
			if mask == 0 {
				mask = arith
			}
			mask &= arith
			if got.RFLAGS&mask != tc.flags&mask {
				t.Errorf("flags = %#x, want %#x (mask %#x)", got.RFLAGS&mask, tc.flags&mask, mask)
			}
			if got.RFLAGS&0x202 != 0x202 {
				t.Errorf("flags %#x lack the fixed bits", got.RFLAGS)
			}
		})
	}
}

// TestFaults checks the exceptions and error codes KVM reports.
func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		code   []byte
		regs   cpu.Regs
		vector uint8
		errc   uint64
		addr   uint64
		pc     uint64
	}{
		{"ud2", []byte{0x90, 0x0F, 0x0B}, cpu.Regs{}, cpu.VecInvalidOp, 0, 0, codeVA + 1},
		{"unimplemented", []byte{0x0F, 0x37}, cpu.Regs{}, cpu.VecInvalidOp, 0, 0, codeVA},
		{"divide by zero", []byte{0x48, 0xF7, 0xF3}, cpu.Regs{}, cpu.VecDivide, 0, 0, codeVA},
		{"null write", []byte{0xC6, 0x03, 0x01}, cpu.Regs{}, cpu.VecPageFault, pfUser | pfWrite, 0, codeVA},
		{"null read", []byte{0x8A, 0x03}, cpu.Regs{}, cpu.VecPageFault, pfUser, 0, codeVA},
		{"write to code", []byte{0xC6, 0x03, 0x01}, cpu.Regs{RBX: codeVA}, cpu.VecPageFault, pfUser | pfWrite | pfPresent, codeVA, codeVA},
		{"execute data", []byte{0xFF, 0xE3}, cpu.Regs{RBX: dataVA}, cpu.VecPageFault, pfUser | pfFetch | pfPresent, dataVA, dataVA},
		{"non-canonical", []byte{0x8A, 0x03}, cpu.Regs{RBX: 1 << 63}, cpu.VecGeneralProt, 0, 0, codeVA},
		{"hlt", []byte{0xF4}, cpu.Regs{}, cpu.VecGeneralProt, 0, 0, codeVA},
		{"int 3", []byte{0xCC}, cpu.Regs{}, cpu.VecBreakpoint, 0, 0, codeVA + 1},
		{"int 0x21", []byte{0xCD, 0x21}, cpu.Regs{}, cpu.VecGeneralProt, 0x21<<3 | 2, 0, codeVA},
		{"int 0x1", []byte{0xCD, 0x01}, cpu.Regs{}, cpu.VecGeneralProt, 0x1<<3 | 2, 0, codeVA},
		{"int 0xff with prefix", []byte{0x66, 0xCD, 0xFF}, cpu.Regs{}, cpu.VecGeneralProt, 0xFF<<3 | 2, 0, codeVA},
		{"int $3", []byte{0xCD, 0x03}, cpu.Regs{}, cpu.VecBreakpoint, 0, 0, codeVA + 2},
		{"int $4", []byte{0xCD, 0x04}, cpu.Regs{}, cpu.VecOverflow, 0, 0, codeVA + 2},
		{"icebp", []byte{0xF1}, cpu.Regs{}, cpu.VecDebug, 0, 0, codeVA + 1},
		{"engine page", []byte{0x8A, 0x03}, cpu.Regs{RBX: mmu.UserEnd}, cpu.VecPageFault, pfUser, mmu.UserEnd, codeVA},
		{"movaps misaligned", []byte{0x0F, 0x28, 0x03}, cpu.Regs{RBX: dataVA + 8}, cpu.VecGeneralProt, 0, 0, codeVA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t, tc.code)
			regs := tc.regs
			regs.RIP, regs.RSP, regs.RFLAGS = codeVA, stackVA+mmu.PageSize, 0x202
			*m.c.Regs() = regs
			ex, err := m.c.Run()
			if err != nil {
				t.Fatal(err)
			}
			want := cpu.Fault{Vector: tc.vector, ErrorCode: tc.errc, PC: tc.pc, Addr: tc.addr}
			if ex.Kind != cpu.ExitFault || ex.Fault != want {
				t.Fatalf("exit %+v, want fault %+v", ex, want)
			}
			if m.c.Regs().RIP != tc.pc {
				t.Errorf("RIP %#x, want %#x", m.c.Regs().RIP, tc.pc)
			}
		})
	}
}

// TestSyscallRegs checks SYSCALL's register contract and int $0x80.
func TestSyscallRegs(t *testing.T) {
	m := newMachine(t, []byte{0x0F, 0x05, 0xCD, 0x80, 0x0F, 0x05})
	m.c.Regs().RFLAGS = 0x202 | flagCF
	ex, _ := m.c.Run()
	r := m.c.Regs()
	if ex.Kind != cpu.ExitSyscall || ex.Int80 || r.RIP != codeVA+2 || r.RCX != codeVA+2 || r.R11 != 0x203 {
		t.Fatalf("syscall: exit %+v regs %+v", ex, r)
	}
	ex, _ = m.c.Run()
	if ex.Kind != cpu.ExitSyscall || !ex.Int80 || r.RIP != codeVA+4 {
		t.Fatalf("int 0x80: exit %+v rip %#x", ex, r.RIP)
	}
}

// TestCOWRetry checks that a write fault on a page the kernel then makes
// writable is retried and completes.
func TestCOWRetry(t *testing.T) {
	m := newMachine(t, []byte{0xC6, 0x03, 0x2A})
	child, err := m.as.Fork() // makes the data page copy-on-write
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	m.c.Regs().RBX = dataVA
	ex, _ := m.c.Run()
	if ex.Kind != cpu.ExitFault || ex.Fault.ErrorCode != pfUser|pfWrite|pfPresent {
		t.Fatalf("exit %+v, want a write fault on a present page", ex)
	}
	if ok, err := m.as.HandleFault(ex.Fault.Addr, true); !ok || err != nil {
		t.Fatalf("HandleFault: %v %v", ok, err)
	}
	var b [1]byte
	// The retry runs into the end of the code: a zero page decodes as
	// ADD, which faults on RAX = 0, after the store.
	m.c.Run()
	m.as.ReadAt(b[:], dataVA)
	if b[0] != 0x2A {
		t.Fatalf("the store did not happen after the retry")
	}
	child.ReadAt(b[:], dataVA)
	if b[0] != 0 {
		t.Fatalf("the store reached the other address space")
	}
}

// TestSelfModifyingCode checks that code written after it was decoded
// runs in its new form.
func TestSelfModifyingCode(t *testing.T) {
	phys, _ := mmu.NewPhysMem(16 << 20)
	defer phys.Close()
	as, _ := mmu.NewAddressSpace(phys)
	defer as.Release()
	as.Map(codeVA, mmu.PageSize, mmu.Read|mmu.Write|mmu.Exec, "code")
	as.Map(stackVA, mmu.PageSize, mmu.Read|mmu.Write, "stack")
	// mov $1, %eax; movb $2, 1(%rip) patches the next instruction's
	// immediate; mov $3, %eax becomes mov $2...; syscall.
	code := []byte{
		0xB8, 1, 0, 0, 0, // mov $1, %eax
		0xC6, 0x05, 0x00, 0x00, 0x00, 0x00, 0x02, // movb $2, 0(%rip) -> next insn's opcode+0? see below
	}
	// Patch the byte right after the movb: the immediate of the mov below.
	code[7] = 1 // disp32 = 1: the address after movb plus 1 = the mov's imm8
	code = append(code, 0xB8, 3, 0, 0, 0, 0x0F, 0x05)
	as.LoadAt(code, codeVA)
	c := New(phys).NewInterpCPU(as)
	defer c.Close()
	c.Regs().RIP, c.Regs().RSP = codeVA, stackVA+mmu.PageSize
	// Run once to decode everything, then rewind and change the code
	// from the kernel side too.
	if ex, _ := c.Run(); ex.Kind != cpu.ExitSyscall || c.Regs().RAX != 2 {
		t.Fatalf("self-modified: exit %+v rax %d, want 2", ex, c.Regs().RAX)
	}
	as.LoadAt([]byte{7}, codeVA+13)
	c.Regs().RIP = codeVA + 12
	if ex, _ := c.Run(); ex.Kind != cpu.ExitSyscall || c.Regs().RAX != 7 {
		t.Fatalf("kernel-modified: exit %+v rax %d, want 7", ex, c.Regs().RAX)
	}
}

// TestSSE checks a few floating-point operations and MXCSR rounding.
func TestSSE(t *testing.T) {
	// addsd %xmm1, %xmm0; cvtsd2si %xmm0, %rax
	code := []byte{0xF2, 0x0F, 0x58, 0xC1, 0xF2, 0x48, 0x0F, 0x2D, 0xC0}
	for _, tc := range []struct {
		mxcsr uint32
		a, b  float64
		want  uint64
	}{
		{0x1F80, 1.5, 1.0, 2},        // 2.5 rounds to even
		{0x1F80 | 1<<13, 1.5, 1, 2},  // down
		{0x1F80 | 2<<13, 1.25, 1, 3}, // up
		{0x1F80 | 3<<13, -2.5, 0, ^uint64(1)},
		{0x1F80, math.NaN(), 0, 1 << 63},
	} {
		m := newMachine(t, append(append([]byte(nil), code...), syscallInsn...))
		m.c.mxcsr = tc.mxcsr
		m.c.SetXMM(0, math.Float64bits(tc.a), 0)
		m.c.SetXMM(1, math.Float64bits(tc.b), 0)
		m.c.Regs().RFLAGS = 0x202
		m.c.Run()
		if got := m.c.Regs().RAX; got != tc.want {
			t.Errorf("mxcsr %#x: %v+%v -> %#x, want %#x", tc.mxcsr, tc.a, tc.b, got, tc.want)
		}
	}
}

// TestFPState checks the XSAVE image round trip.
func TestFPState(t *testing.T) {
	m := newMachine(t, syscallInsn)
	m.c.mxcsr = 0x7F80
	m.c.fpu.cw = 0xF7F
	m.c.SetXMM(3, 1, 2)
	b, _ := m.c.FPState()
	if binary.LittleEndian.Uint32(b[24:]) != 0x7F80 || binary.LittleEndian.Uint16(b[0:]) != 0xF7F ||
		binary.LittleEndian.Uint64(b[160+48:]) != 1 || binary.LittleEndian.Uint64(b[512:]) != 3 {
		t.Fatalf("FPState layout wrong")
	}
	n := newMachine(t, syscallInsn)
	if err := n.c.SetFPState(b); err != nil {
		t.Fatal(err)
	}
	if n.c.mxcsr != 0x7F80 || n.c.fpu.cw != 0xF7F || n.c.xmm[3] != [2]uint64{1, 2} {
		t.Fatalf("SetFPState did not load the state")
	}
}

// TestInterrupt checks that a spinning thread stops.
func TestInterrupt(t *testing.T) {
	m := newMachine(t, []byte{0xEB, 0xFE})
	go func() {
		time.Sleep(20 * time.Millisecond)
		m.c.Interrupt()
	}()
	ex, err := m.c.Run()
	if err != nil || ex.Kind != cpu.ExitInterrupted {
		t.Fatalf("exit %+v err %v", ex, err)
	}
}

// TestStep checks single-stepping.
func TestStep(t *testing.T) {
	m := newMachine(t, []byte{0x48, 0xFF, 0xC0, 0x48, 0xFF, 0xC0, 0x0F, 0x05})
	for i := 1; i <= 2; i++ {
		ex, _ := m.c.Step()
		if ex.Kind != cpu.ExitStep || m.c.Regs().RAX != uint64(i) || m.c.Regs().RIP != codeVA+3*uint64(i) {
			t.Fatalf("step %d: exit %+v regs %+v", i, ex, m.c.Regs())
		}
	}
	if ex, _ := m.c.Step(); ex.Kind != cpu.ExitSyscall {
		t.Fatalf("step 3: exit %+v", ex)
	}
}

// The images tests run real programs through the kernel.

func imagesDir(t testing.TB) string {
	dir, _ := filepath.Abs("../../testimages")
	cmd := exec.Command("make", "-s", "-C", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the test images: %v\n%s", err, out)
	}
	return dir
}

// runImage runs a test image on the interpreter and returns its output
// and exit status.
func runImage(t testing.TB, dir, name string, args ...string) (string, kernel.ExitStatus) {
	t.Helper()
	img, err := kernel.LoadProgram(filepath.Join(dir, "build", name+".elf"))
	if err != nil {
		t.Fatal(err)
	}
	phys, err := mmu.NewPhysMem(256 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer phys.Close()
	var out bytes.Buffer
	k := kernel.New(kernel.Config{Engine: New(phys), Phys: phys, Syscalls: syscall.Dispatch,
		MaxProcs: kernel.DefaultMaxProcs, Stdout: &out, Stderr: &out})
	p, err := k.Spawn(img, append([]string{name}, args...), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Start(p); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not finish", name)
	}
	k.Shutdown(time.Second)
	return out.String(), p.Status()
}

func TestImages(t *testing.T) {
	dir := imagesDir(t)
	for _, name := range []string{"hello", "printf", "sieve", "fork_fpstate", "signal_regs"} {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, name+".stdout"))
			if err != nil {
				t.Fatal(err)
			}
			var args []string
			if b, err := os.ReadFile(filepath.Join(dir, name+".args")); err == nil {
				args = strings.Fields(string(b))
			}
			got, st := runImage(t, dir, name, args...)
			if got != string(want) || st.Signal != 0 {
				t.Fatalf("output %q status %+v, want %q", got, st, want)
			}
		})
	}
}

// BenchmarkSieve runs the CPU-heavy test image (sieve 2e6 x5).
func BenchmarkSieve(b *testing.B) {
	dir := imagesDir(b)
	for i := 0; i < b.N; i++ {
		runImage(b, dir, "sieve", "2000000", "5")
	}
}

// BenchmarkLoop measures the interpreter's inner loop on a counted loop
// of ALU and memory instructions, and shows it allocates nothing.
func BenchmarkLoop(b *testing.B) {
	// loop: add (%rbx),%rax; add $1,%rdx; mov %rax,8(%rbx); cmp %rcx,%rdx; jne loop; syscall
	code := []byte{
		0x48, 0x03, 0x03,
		0x48, 0x83, 0xC2, 0x01,
		0x48, 0x89, 0x43, 0x08,
		0x48, 0x39, 0xCA,
		0x75, 0xF1,
		0x0F, 0x05,
	}
	m := newMachine(b, code)
	const iters = 1 << 16
	start := func() {
		r := m.c.Regs()
		*r = cpu.Regs{RIP: codeVA, RSP: stackVA + mmu.PageSize, RBX: dataVA, RCX: iters, RFLAGS: 0x202}
		if ex, err := m.c.Run(); err != nil || ex.Kind != cpu.ExitSyscall {
			b.Fatalf("exit %+v err %v", ex, err)
		}
	}
	start() // decode the blocks before measuring
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(iters*5), "ns/insn")
}

// BenchmarkSyscallTrap measures one trapped syscall round trip through
// Run: SYSCALL, exit, and re-entry.
func BenchmarkSyscallTrap(b *testing.B) {
	m := newMachine(b, []byte{0x0F, 0x05, 0xEB, 0xFC})
	m.c.Regs().RFLAGS = 0x202
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if ex, err := m.c.Run(); err != nil || ex.Kind != cpu.ExitSyscall {
			b.Fatalf("exit %+v err %v", ex, err)
		}
	}
}

// TestSplitLock runs locked operations on an operand that crosses into a
// page whose frame is not the next one: they must reach both pages
// through the page tables (written to the frame after the first page's,
// the second page would keep its old bytes).
func TestSplitLock(t *testing.T) {
	for _, tc := range []struct {
		name string
		code []byte
	}{
		{"xchg", []byte{0x87, 0x03}},                  // xchg %eax,(%rbx)
		{"lock xadd", []byte{0xF0, 0x0F, 0xC1, 0x03}}, // lock xadd %eax,(%rbx)
		{"lock add", []byte{0xF0, 0x01, 0x03}},        // lock add %eax,(%rbx)
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t, append(append([]byte(nil), tc.code...), syscallInsn...))
			// The frame after the data page's goes to another page first.
			const filler, next = 0x900000, dataVA + mmu.PageSize
			if err := m.as.Map(filler, mmu.PageSize, mmu.Read|mmu.Write, "filler"); err != nil {
				t.Fatal(err)
			}
			if err := m.as.Map(next, mmu.PageSize, mmu.Read|mmu.Write, "next"); err != nil {
				t.Fatal(err)
			}
			m.as.WriteAt([]byte{0, 0}, filler) // back the filler page with a frame
			m.as.WriteAt([]byte{0x11, 0x22, 0x33, 0x44}, next-2)
			pa1, _ := m.as.Translate(dataVA, false)
			pa2, _ := m.as.Translate(next, false)
			if pa2 == pa1+mmu.PageSize {
				t.Fatalf("the pages' frames are adjacent (0x%x, 0x%x): the test proves nothing", pa1, pa2)
			}
			m.c.Regs().RAX, m.c.Regs().RBX = 0x01010101, next-2
			if ex, err := m.c.Run(); err != nil || ex.Kind != cpu.ExitSyscall {
				t.Fatalf("exit %+v, %v", ex, err)
			}
			var got [4]byte
			m.as.ReadAt(got[:], next-2)
			want := [4]byte{0x12, 0x23, 0x34, 0x45} // the sum
			if tc.name == "xchg" {
				want = [4]byte{1, 1, 1, 1}
			}
			if got != want {
				t.Errorf("memory % x, want % x", got, want)
			}
			if tc.name != "lock add" && m.c.Regs().RAX != 0x44332211 {
				t.Errorf("RAX %#x, want the old value 0x44332211", m.c.Regs().RAX)
			}
		})
	}
}

// TestStoreHugeLongDouble stores long doubles far beyond a double's range
// (and a single's) as FST does: masked, an infinity or the largest finite
// value by the rounding mode, with OE and PE.
func TestStoreHugeLongDouble(t *testing.T) {
	huge := f80{mant: 0xE950_4BEA_6BED_E63D, se: 0x5CC8} // about 2^7369
	for _, tc := range []struct {
		cw   uint16
		ft   *fpFmt
		want uint64
	}{
		{0x37F, fmt64, 0x7FF0_0000_0000_0000}, // nearest: +inf
		{0xF7F, fmt64, 0x7FEF_FFFF_FFFF_FFFF}, // toward zero: the largest double
		{0x37F, fmt32, 0x7F80_0000},           // +inf
		{0x77F, fmt32, 0x7F7F_FFFF},           // down: the largest single
	} {
		f := &x87{cw: tc.cw, tags: 1}
		f.regs[0] = huge
		if got := f.store(tc.ft); got != tc.want || f.sw&0x3F != exOE|exPE {
			t.Errorf("cw %#x: stored %#x with flags %#x, want %#x with OE and PE", tc.cw, got, f.sw&0x3F, tc.want)
		}
	}
}
