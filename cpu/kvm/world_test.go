package kvm

import (
	"runtime"
	"testing"
	"time"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// Tests of forgetPageTables, which stops every vCPU to cycle the memory
// slot.

// spinUntilFlag counts in RAX until the byte at dataVA is non-zero, then
// traps: loop: inc %rax; cmpb $0,(%rbx); je loop; syscall.
var spinUntilFlag = [][]byte{movRBX(dataVA), opIncRAX, {0x80, 0x3B, 0x00}, {0x74, 0xF8}, opSyscall}

type runResult struct {
	ex  cpu.Exit
	err error
}

// thread runs a CPU on a goroutine locked to one OS thread, as a kernel
// thread does: a vCPU is kicked with a signal to the thread that runs it.
type thread chan func()

func newThread(t testing.TB) thread {
	th := make(thread)
	go func() {
		runtime.LockOSThread() // for good: the thread ends with the goroutine
		for f := range th {
			f()
		}
	}()
	t.Cleanup(func() { close(th) })
	return th
}

// run starts c.Run on the thread.
func (th thread) run(c cpu.CPU) <-chan runResult {
	done := make(chan runResult, 1)
	th <- func() {
		ex, err := c.Run()
		done <- runResult{ex, err}
	}
	return done
}

// wait waits for a run started by thread.run, interrupting it if it takes
// too long, so that a failure cannot hang the test.
func wait(t *testing.T, c cpu.CPU, done <-chan runResult) runResult {
	t.Helper()
	select {
	case res := <-done:
		return res
	case <-time.After(20 * time.Second):
	}
	c.Interrupt()
	select {
	case res := <-done:
		t.Fatalf("the vCPU did not come back within 20s (after Interrupt: %+v, %v)", res.ex, res.err)
	case <-time.After(5 * time.Second):
		t.Fatalf("the vCPU did not come back within 20s, nor after Interrupt")
	}
	return runResult{}
}

// TestForgetPageTablesWhileSpinning cycles the memory slot several times
// while a vCPU spins in guest code on another thread: the spinner must be
// paused and resumed without noticing, then see a host write to its RAM and
// trap normally, not as interrupted.
func TestForgetPageTablesWhileSpinning(t *testing.T) {
	g := newGuest(t, spinUntilFlag...)
	done := newThread(t).run(g.cpu)
	time.Sleep(20 * time.Millisecond)
	for i := 0; i < 5; i++ {
		if err := g.eng.forgetPageTables(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case res := <-done:
		t.Fatalf("the spinner stopped before its flag was set: %+v, %v", res.ex, res.err)
	default:
	}
	if err := g.as.WriteAt([]byte{1}, dataVA); err != nil {
		t.Fatal(err)
	}
	res := wait(t, g.cpu, done)
	if res.err != nil || res.ex.Kind != cpu.ExitSyscall {
		t.Fatalf("spinner ended with %+v, %v; want its syscall", res.ex, res.err)
	}
	if rax := g.cpu.Regs().RAX; rax == 0 {
		t.Fatalf("the spinner never ran (RAX %d)", rax)
	}
}

// TestInterruptDuringForgetPageTables interrupts a spinning vCPU while
// another goroutine keeps stopping the world: the interrupt must not be
// lost among the kicks.
func TestInterruptDuringForgetPageTables(t *testing.T) {
	g := newGuest(t, spinUntilFlag...)
	stop := make(chan struct{})
	forgets := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				forgets <- nil
				return
			default:
			}
			if err := g.eng.forgetPageTables(); err != nil {
				forgets <- err
				return
			}
		}
	}()
	th := newThread(t)
	for i := 0; i < 20; i++ {
		done := th.run(g.cpu)
		time.Sleep(time.Duration(i%4) * time.Millisecond)
		g.cpu.Interrupt()
		if res := wait(t, g.cpu, done); res.err != nil || res.ex.Kind != cpu.ExitInterrupted {
			close(stop)
			t.Fatalf("round %d: %+v, %v; want interrupted", i, res.ex, res.err)
		}
	}
	close(stop)
	if err := <-forgets; err != nil {
		t.Fatal(err)
	}
}

// TestForgetPageTablesAfterRootReuse reuses a former root frame as a root:
// the case shadow-paging KVM gets wrong (shared/host-kvm.md). Address space
// A runs and its vCPU is closed; C, another live address space, runs on
// that vCPU; B's page tables are then written into A's root frame from the
// host and a vCPU runs B on it. Without forgetPageTables a shadow-paging
// KVM may still run A's translations; with it, B must run its own code,
// and C must be unharmed.
func TestForgetPageTablesAfterRootReuse(t *testing.T) {
	g := newGuest(t, movEAX(0xA), opSyscall)
	r := g.cpu.Regs()
	g.run(t, cpu.ExitSyscall)
	if r.RAX != 0xA {
		t.Fatalf("A: RAX %#x", r.RAX)
	}
	g.cpu.Close()

	cC := g.newCPU(t, g.newSpace(t, movEAX(0xC), opSyscall))
	if runCPU(t, cC, cpu.ExitSyscall); cC.Regs().RAX != 0xC {
		t.Fatalf("C: RAX %#x", cC.Regs().RAX)
	}

	b := g.newSpace(t, movEAX(0xB), opSyscall)
	cB := g.newCPU(t, b)
	rootA := g.as.Root()
	saved := append([]byte(nil), g.phys.Page(rootA)...)
	copy(g.phys.Page(rootA), g.phys.Page(b.Root()))
	t.Cleanup(func() { copy(g.phys.Page(rootA), saved) }) // before A is released
	vB := cB.(*vcpu)
	sregs := vB.userSregs()
	sregs.CR3 = rootA
	if err := setSregs(vB, sregs); err != nil {
		t.Fatal(err)
	}

	// On its own thread: if the stale translations make it spin, it can
	// be interrupted.
	th := newThread(t)
	res := wait(t, cB, th.run(cB))
	switch {
	case res.err != nil:
		t.Fatal(res.err)
	case res.ex.Kind == cpu.ExitSyscall && cB.Regs().RAX == 0xB:
		t.Log("without forgetPageTables B already ran its own code: this host's KVM did not keep A's root")
	default:
		t.Logf("without forgetPageTables B ran on stale translations: exit %+v, RAX %#x", res.ex, cB.Regs().RAX)
	}

	if err := g.eng.forgetPageTables(); err != nil {
		t.Fatal(err)
	}
	if err := setSregs(vB, sregs); err != nil {
		t.Fatal(err)
	}
	vB.resume = resumeNone
	*cB.Regs() = cpu.Regs{RIP: codeVA, RSP: stackVA + mmu.PageSize, RFLAGS: userRFLAGS}
	res = wait(t, cB, th.run(cB))
	if res.err != nil || res.ex.Kind != cpu.ExitSyscall || cB.Regs().RAX != 0xB {
		t.Fatalf("B on A's former root after forgetPageTables: exit %+v (%v), RAX %#x, want a syscall with 0xb", res.ex, res.err, cB.Regs().RAX)
	}

	*cC.Regs() = cpu.Regs{RIP: codeVA, RSP: stackVA + mmu.PageSize, RFLAGS: userRFLAGS}
	if runCPU(t, cC, cpu.ExitSyscall); cC.Regs().RAX != 0xC {
		t.Fatalf("C after forgetPageTables: RAX %#x, want 0xc", cC.Regs().RAX)
	}
}

// TestForgetPageTablesRegisteredWithMMU checks the engine is the
// recycler of its RAM: once every free frame has been a root, making
// another address space has KVM forget its page tables.
func TestForgetPageTablesRegisteredWithMMU(t *testing.T) {
	g := newGuest(t, movEAX(1), opSyscall)
	before := g.eng.forgets.Load()
	// Hold every frame but a few, and cycle roots through what is left.
	var held []uint64
	t.Cleanup(func() { g.phys.Free(held...) })
	for {
		pa, err := g.phys.Alloc()
		if err != nil {
			break
		}
		held = append(held, pa)
	}
	g.phys.Free(held[len(held)-8:]...)
	held = held[:len(held)-8]
	for i := 0; i < 16 && g.eng.forgets.Load() == before; i++ {
		as, err := mmu.NewAddressSpace(g.phys)
		if err != nil {
			t.Fatal(err)
		}
		as.Release()
	}
	if g.eng.forgets.Load() == before {
		t.Fatal("mmu reused former roots without calling the engine's recycler")
	}
	g.run(t, cpu.ExitSyscall)
	if r := g.cpu.Regs(); r.RAX != 1 {
		t.Fatalf("RAX %#x after the recycle", r.RAX)
	}
}

// BenchmarkForgetPageTables measures one memory-slot cycle with the world
// stopped, with no vCPU running and with one spinning in guest code (which
// then pays for refaulting its pages, not measured here).
func BenchmarkForgetPageTables(b *testing.B) {
	b.Run("idle", func(b *testing.B) {
		g := newGuest(b, opSyscall)
		for i := 0; i < b.N; i++ {
			if err := g.eng.forgetPageTables(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("spinning", func(b *testing.B) {
		g := newGuest(b, spinUntilFlag...)
		done := newThread(b).run(g.cpu)
		time.Sleep(10 * time.Millisecond)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := g.eng.forgetPageTables(); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		g.as.WriteAt([]byte{1}, dataVA)
		if res := <-done; res.err != nil || res.ex.Kind != cpu.ExitSyscall {
			b.Fatalf("spinner: %+v, %v", res.ex, res.err)
		}
	})
}
