package kvm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
	"time"

	gokvm "github.com/bobuhiro11/gokvm/kvm"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

const (
	codeVA  = 0x400000
	dataVA  = 0x600000
	stackVA = 0x7FFFF0000
)

// x86-64 encodings used by the hand-assembled guests below.
var (
	opSyscall = []byte{0x0F, 0x05}
	opInt80   = []byte{0xCD, 0x80}
	opUD2     = []byte{0x0F, 0x0B}
	opJmpSelf = []byte{0xEB, 0xFE}
	opIncRAX  = []byte{0x48, 0xFF, 0xC0}                   // inc %rax
	opStoreBX = []byte{0xC6, 0x03, 0x01}                   // movb $1, (%rbx)
	opLoadBX  = []byte{0x8A, 0x03}                         // mov (%rbx), %al
	opStore0  = []byte{0xC6, 0x04, 0x25, 0, 0, 0, 0, 0x01} // movb $1, 0x0
)

func movEAX(v uint32) []byte { return binary.LittleEndian.AppendUint32([]byte{0xB8}, v) }
func movRBX(v uint64) []byte { return binary.LittleEndian.AppendUint64([]byte{0x48, 0xBB}, v) }

// guest is a minimal machine: one code page, one data page and a stack.
type guest struct {
	phys *mmu.PhysMem
	as   *mmu.AddressSpace
	eng  *Engine
	cpu  cpu.CPU
}

func newGuest(t testing.TB, code ...[]byte) *guest {
	t.Helper()
	return newGuestOf(t, 16<<20, code...)
}

// newGuestOf is newGuest with ramSize bytes of guest RAM.
func newGuestOf(t testing.TB, ramSize uint64, code ...[]byte) *guest {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	phys, err := mmu.NewPhysMem(ramSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phys.Close() })
	eng, err := New(phys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	as, err := mmu.NewAddressSpace(phys)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		va   uint64
		perm mmu.Perm
	}{{codeVA, mmu.Read | mmu.Exec}, {dataVA, mmu.Read | mmu.Write}, {stackVA, mmu.Read | mmu.Write}} {
		if err := as.Map(m.va, mmu.PageSize, m.perm, "test"); err != nil {
			t.Fatal(err)
		}
	}
	pa, _ := as.Translate(codeVA, false)
	copy(phys.Page(pa), bytes.Join(code, nil))
	c, err := eng.NewCPU(as)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := c.Regs()
	r.RIP = codeVA
	r.RSP = stackVA + mmu.PageSize
	return &guest{phys, as, eng, c}
}

func (g *guest) run(t testing.TB, want cpu.ExitKind) cpu.Exit {
	t.Helper()
	ex, err := g.cpu.Run()
	if err != nil {
		t.Fatal(err)
	}
	if ex.Kind != want {
		t.Fatalf("exit %+v (error code %#x), want kind %d", ex, ex.Fault.ErrorCode, want)
	}
	return ex
}

func TestSyscallRoundTrip(t *testing.T) {
	g := newGuest(t, movEAX(7), opSyscall, opIncRAX, opSyscall, opInt80, opIncRAX, opSyscall, opUD2)
	r := g.cpu.Regs()
	r.RBX, r.R12 = 0x1111, 0x2222

	g.run(t, cpu.ExitSyscall)
	if r.RAX != 7 {
		t.Fatalf("RAX = %d at first syscall, want 7", r.RAX)
	}
	if r.RIP != codeVA+7 {
		t.Errorf("RIP = %#x, want return address %#x", r.RIP, codeVA+7)
	}
	r.RAX = 100
	g.run(t, cpu.ExitSyscall)
	if r.RAX != 101 {
		t.Fatalf("RAX = %d after result 100 and inc, want 101", r.RAX)
	}
	if r.RBX != 0x1111 || r.R12 != 0x2222 {
		t.Errorf("callee registers changed: RBX=%#x R12=%#x", r.RBX, r.R12)
	}
	r.RAX = 5
	ex := g.run(t, cpu.ExitSyscall)
	if !ex.Int80 || r.RAX != 5 {
		t.Fatalf("int $0x80: exit %+v RAX %d", ex, r.RAX)
	}
	r.RAX = 200
	g.run(t, cpu.ExitSyscall)
	if r.RAX != 201 {
		t.Fatalf("RAX = %d after int $0x80 result 200 and inc, want 201", r.RAX)
	}
	ex = g.run(t, cpu.ExitFault)
	if ex.Fault.Vector != cpu.VecInvalidOp || ex.Fault.Signal() != cpu.SIGILL {
		t.Fatalf("ud2 gave %+v", ex.Fault)
	}
}

// TestVectorStateSurvivesTraps checks that XMM registers live through an
// exit, and that AVX, which the CPU every engine shows does not have, is an
// invalid opcode here as on the interpreter, wherever KVM controls it (see
// guestCPUID for the hosts where it cannot).
func TestVectorStateSurvivesTraps(t *testing.T) {
	pcmpeqdXMM1 := []byte{0x66, 0x0F, 0x76, 0xC9}  // pcmpeqd %xmm1,%xmm1 (all ones)
	movmskpsXMM1 := []byte{0x0F, 0x50, 0xC1}       // movmskps %xmm1,%eax (sign bit of each lane)
	vpcmpeqdYMM1 := []byte{0xC5, 0xF5, 0x76, 0xC9} // vpcmpeqd %ymm1,%ymm1,%ymm1
	g := newGuest(t, pcmpeqdXMM1, opSyscall, movmskpsXMM1, opSyscall, vpcmpeqdYMM1)
	sregs, err := gokvm.GetSregs(uintptr(g.cpu.(*vcpu).fd))
	if err != nil {
		t.Fatal(err)
	}
	if sregs.CR4&cr4OSXSAVE != 0 || g.eng.xcr0 != 0 {
		t.Fatalf("CR4.OSXSAVE set or XCR0 %#x: the guest's CPUID has no XSAVE", g.eng.xcr0)
	}
	r := g.cpu.Regs()
	g.run(t, cpu.ExitSyscall)
	r.RAX = 0
	g.run(t, cpu.ExitSyscall)
	if r.RAX != 0xF {
		t.Fatalf("movmskps after a trap gave %#x, want 0xf (all four lanes set)", r.RAX)
	}
	if g.eng.syscallStaysInRing3 {
		t.Log("the guest's ring 3 runs on the host's: AVX follows the host's XCR0, not the guest's")
		return
	}
	if f := g.run(t, cpu.ExitFault).Fault; f.Vector != cpu.VecInvalidOp {
		t.Fatalf("an AVX instruction gave %v, want an invalid opcode", f)
	}
}

// TestCPUIDIsTheSharedTable checks that a program's CPUID sees package
// cpu's table, the CPU the interpreter shows too, and not the host's.
func TestCPUIDIsTheSharedTable(t *testing.T) {
	opCPUID := []byte{0x0F, 0xA2}
	g := newGuest(t, opCPUID, opSyscall, opCPUID, opSyscall, opCPUID, opSyscall)
	r := g.cpu.Regs()
	for _, leaf := range []uint32{0, 1, 0x8000_0001} {
		r.RAX, r.RCX = uint64(leaf), 0
		g.run(t, cpu.ExitSyscall)
		a, b, c, d := cpu.CPUID(leaf, 0)
		got := [4]uint32{uint32(r.RAX), uint32(r.RBX), uint32(r.RCX), uint32(r.RDX)}
		want := [4]uint32{a, b, c, d}
		switch {
		case got == want:
		case g.eng.syscallStaysInRing3:
			t.Logf("the guest's ring 3 runs on the host's, where CPUID is not intercepted: leaf %#x gives the host's %#x", leaf, got)
			return
		default:
			t.Errorf("CPUID leaf %#x = %#x, want %#x", leaf, got, want)
		}
	}
}

func TestPageFault(t *testing.T) {
	g := newGuest(t, opStore0)
	ex := g.run(t, cpu.ExitFault)
	f := ex.Fault
	if f.Vector != cpu.VecPageFault || f.Addr != 0 || f.PC != codeVA || f.Signal() != cpu.SIGSEGV {
		t.Fatalf("fault %+v (%v)", f, f)
	}
	if got, want := f.String(), "page fault: write to unmapped address 0x0 at pc 0x400000"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}

func TestWriteToReadOnlyCode(t *testing.T) {
	g := newGuest(t, movRBX(codeVA), opStoreBX)
	f := g.run(t, cpu.ExitFault).Fault
	if f.Vector != cpu.VecPageFault || f.Addr != codeVA || f.ErrorCode&1 == 0 {
		t.Fatalf("fault %+v", f)
	}
}

func TestPrivilegedInstructionsFault(t *testing.T) {
	for name, code := range map[string][]byte{
		"hlt":        {0xF4},
		"out":        {0xE6, portInt80},
		"cli":        {0xFA},
		"in":         {0xE4, portException},
		"int 0x81":   {0xCD, 0x81},
		"mov to cr3": {0x0F, 0x22, 0xD8},
	} {
		t.Run(name, func(t *testing.T) {
			g := newGuest(t, code)
			f := g.run(t, cpu.ExitFault).Fault
			// Paravirtual hosts refuse a stray int $n with #UD rather
			// than #GP; either kills the program.
			if f.Vector != cpu.VecGeneralProt && !(name == "int 0x81" && f.Vector == cpu.VecInvalidOp) || f.PC != codeVA {
				t.Fatalf("fault %+v", f)
			}
		})
	}
}

func TestUnmapFlushesGuestTLB(t *testing.T) {
	// Touch the data page, trap, let the host unmap it, touch it again: the
	// second access must fault even though the guest TLB had the page.
	g := newGuest(t, movRBX(dataVA), opStoreBX, opSyscall, opLoadBX, opSyscall)
	g.run(t, cpu.ExitSyscall)
	if err := g.as.Unmap(dataVA, mmu.PageSize); err != nil {
		t.Fatal(err)
	}
	g.cpu.Regs().RAX = 77
	f := g.run(t, cpu.ExitFault).Fault
	if f.Vector != cpu.VecPageFault || f.Addr != dataVA {
		t.Fatalf("fault %+v", f)
	}
}

func TestUnmapInsideLargePage(t *testing.T) {
	// The guest writes to a page of a large page and to its neighbour; the
	// host then unmaps just the first. The neighbour must keep its
	// contents and the unmapped page must fault, whatever translation the
	// guest or KVM held for the large page.
	const big = 0x4000_0000
	hole := uint64(big + 5*mmu.PageSize)
	storeNext := []byte{0xC6, 0x83, 0x00, 0x10, 0x00, 0x00, 0x01} // movb $1, 0x1000(%rbx)
	loadNext := []byte{0x8A, 0x83, 0x00, 0x10, 0x00, 0x00}        // mov 0x1000(%rbx), %al
	g := newGuest(t, movRBX(hole), opStoreBX, storeNext, opSyscall, loadNext, opSyscall, opLoadBX, opSyscall)
	if err := g.as.Map(big, mmu.HugePageSize, mmu.Read|mmu.Write, "big"); err != nil {
		t.Fatal(err)
	}
	first, _ := g.as.Translate(big, false)
	last, _ := g.as.Translate(big+mmu.HugePageSize-1, false)
	if first%mmu.HugePageSize != 0 || last != first+mmu.HugePageSize-1 {
		t.Fatalf("frames %#x..%#x: the mapping did not get a large page", first, last)
	}
	g.run(t, cpu.ExitSyscall)
	if err := g.as.Unmap(hole, mmu.PageSize); err != nil {
		t.Fatal(err)
	}
	r := g.cpu.Regs()
	r.RAX = 0
	g.run(t, cpu.ExitSyscall)
	if r.RAX&0xFF != 1 {
		t.Fatalf("neighbour of the unmapped page reads %#x, want 1", r.RAX&0xFF)
	}
	f := g.run(t, cpu.ExitFault).Fault
	if f.Vector != cpu.VecPageFault || f.Addr != hole {
		t.Fatalf("access to the unmapped page: fault %+v, want a page fault at %#x", f, hole)
	}
}

func TestUnmapWhileRunningFreesOnlyThatPage(t *testing.T) {
	// The stack stays usable across the unmap of another page.
	g := newGuest(t, opSyscall, opIncRAX, opSyscall)
	g.run(t, cpu.ExitSyscall)
	r := g.cpu.Regs()
	sp := r.RSP
	g.as.Unmap(dataVA, mmu.PageSize)
	r.RAX = 41
	g.run(t, cpu.ExitSyscall)
	if r.RAX != 42 || r.RSP != sp {
		t.Fatalf("RAX=%d RSP=%#x, want 42 and %#x", r.RAX, r.RSP, sp)
	}
}

func TestInterruptStopsBusyGuest(t *testing.T) {
	g := newGuest(t, opJmpSelf)
	go func() {
		time.Sleep(20 * time.Millisecond)
		g.cpu.Interrupt()
	}()
	g.run(t, cpu.ExitInterrupted)
}

func TestInterruptBeforeRun(t *testing.T) {
	g := newGuest(t, opJmpSelf)
	g.cpu.Interrupt()
	g.run(t, cpu.ExitInterrupted)
}

func TestPooledCPUStartsClean(t *testing.T) {
	g := newGuest(t, movEAX(3), opSyscall)
	g.run(t, cpu.ExitSyscall)
	g.cpu.Close()
	c, err := g.eng.NewCPU(g.as)
	if err != nil {
		t.Fatal(err)
	}
	g.cpu = c
	c.Regs().RIP = codeVA
	c.Regs().RSP = stackVA + mmu.PageSize
	g.run(t, cpu.ExitSyscall)
	if c.Regs().RAX != 3 {
		t.Fatalf("RAX = %d", c.Regs().RAX)
	}
}

// BenchmarkBareExit measures the floor of any exit: one KVM_RUN round trip
// through a ring-0 loop of OUT instructions, with no guest work and no Go
// kernel work.
func BenchmarkBareExit(b *testing.B) {
	g := newGuest(b, opJmpSelf)
	c := g.cpu.(*vcpu)
	c.run.regs.RIP = stubsVA + stubBareExit
	c.resume = resumeNone
	sregs := c.userSregs()
	sregs.CS.Selector, sregs.CS.DPL = selKernelCode, 0
	sregs.SS.Selector, sregs.SS.DPL = selKernelData, 0
	if err := setSregs(c, sregs); err != nil {
		b.Fatal(err)
	}
	c.run.dirtyRegs = syncRegs
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := runOnce(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareExitRing3 measures the floor of an exit taken at the
// privilege level programs run at: a ring-3 loop that stores to the doorbell
// page, with no SYSCALL, no guest work and no Go kernel work. On hardware
// virtualisation it costs about what BenchmarkBareExit does; paravirtual
// hosts that run ring 3 on the host's ring 3 charge more for leaving it.
func BenchmarkBareExitRing3(b *testing.B) {
	store := binary.LittleEndian.AppendUint64([]byte{0x48, 0xA2}, doorbellVA) // movabs %al, doorbell
	g := newGuest(b, store, []byte{0xEB, byte(-(len(store) + 2))})            // jmp back to it
	c := g.cpu.(*vcpu)
	c.run.regs.RIP = codeVA
	c.run.dirtyRegs = syncRegs
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.run.ExitReason = exitIntr
		for c.run.ExitReason == exitIntr {
			if err := gokvm.Run(uintptr(c.fd)); err != nil {
				b.Fatal(err)
			}
		}
		if !c.doorbellRang() {
			b.Fatalf("unexpected exit %v at pc 0x%x", gokvm.ExitType(c.run.ExitReason), c.run.regs.RIP)
		}
	}
}

func setSregs(c *vcpu, s *gokvm.Sregs) error { return gokvm.SetSregs(uintptr(c.fd), s) }

func runOnce(c *vcpu) error {
	c.run.ExitReason = exitIntr
	for c.run.ExitReason == exitIntr {
		if err := gokvm.Run(uintptr(c.fd)); err != nil {
			return err
		}
	}
	if _, _, port, _, _ := c.run.IO(); gokvm.ExitType(c.run.ExitReason) != gokvm.EXITIO || port != portBareExit {
		return fmt.Errorf("unexpected exit %v", gokvm.ExitType(c.run.ExitReason))
	}
	return nil
}

// BenchmarkSyscallTrap measures one guest SYSCALL trapped to the host and
// resumed, without any kernel work: the engine's share of a syscall.
func BenchmarkSyscallTrap(b *testing.B) {
	g := newGuest(b, opSyscall, []byte{0xEB, 0xFC}) // syscall; jmp back to it
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g.run(b, cpu.ExitSyscall)
	}
}
