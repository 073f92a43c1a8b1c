package kvm

import (
	"testing"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// Tests of mmu's page-table contract as the guest sees it: host changes
// to live page tables must reach a running vCPU before it next runs.

// TestForkDowngradeFaultsNextWrite takes write access away from a page the
// vCPU has just written (fork's copy-on-write), and checks that the next
// guest write faults, that resolving the fault lets it complete, and that
// the child still sees the value from before.
func TestForkDowngradeFaultsNextWrite(t *testing.T) {
	t.Parallel()
	// A large page: Fork shares those whatever their state (small pages
	// the parent has written it may copy at once instead).
	const heapVA = 0x10000000
	storeAL := []byte{0x88, 0x03} // mov %al, (%rbx)
	g := newGuest(t, movRBX(heapVA), movEAX(1), storeAL, opSyscall, movEAX(2), storeAL, opSyscall, opUD2)
	if err := g.as.Map(heapVA, mmu.HugePageSize, mmu.Read|mmu.Write, "heap"); err != nil {
		t.Fatal(err)
	}
	g.run(t, cpu.ExitSyscall) // the page is written, so cached writable
	child, err := g.as.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	ex := g.run(t, cpu.ExitFault)
	if ex.Fault.Vector != cpu.VecPageFault || ex.Fault.Addr != heapVA || ex.Fault.ErrorCode&3 != 3 {
		t.Fatalf("fault %v (error code %#x), want a write to the protected page %#x", ex.Fault, ex.Fault.ErrorCode, heapVA)
	}
	if retry, err := g.as.HandleFault(ex.Fault.Addr, true); !retry || err != nil {
		t.Fatalf("HandleFault: %v, %v", retry, err)
	}
	g.run(t, cpu.ExitSyscall)
	var parent, kid [1]byte
	g.as.ReadAt(parent[:], heapVA)
	child.ReadAt(kid[:], heapVA)
	if parent[0] != 2 || kid[0] != 1 {
		t.Errorf("parent reads %d (want 2), child reads %d (want 1)", parent[0], kid[0])
	}
}

// TestKernelWriteAfterForkReachesGuest breaks a copy-on-write share from
// the host (a syscall writing into a buffer) and checks that the guest
// then reads the new frame, not the one it had cached.
func TestKernelWriteAfterForkReachesGuest(t *testing.T) {
	t.Parallel()
	g := newGuest(t, movRBX(dataVA), opLoadBX, opSyscall, opLoadBX, opSyscall, opUD2)
	g.as.WriteAt([]byte{0x11}, dataVA)
	g.run(t, cpu.ExitSyscall)
	if got := byte(g.cpu.Regs().RAX); got != 0x11 {
		t.Fatalf("first load read %#x", got)
	}
	child, err := g.as.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	if err := g.as.WriteAt([]byte{0x55}, dataVA); err != nil {
		t.Fatal(err)
	}
	g.run(t, cpu.ExitSyscall)
	if got := byte(g.cpu.Regs().RAX); got != 0x55 {
		t.Errorf("guest reads %#x after the kernel wrote 0x55: a stale translation survived", got)
	}
	var kid [1]byte
	child.ReadAt(kid[:], dataVA)
	if kid[0] != 0x11 {
		t.Errorf("child reads %#x, want 0x11", kid[0])
	}
}

// TestUnmapOfSharedFrameFaultsNextAccess unmaps a page whose frame another
// address space still holds (a large page shared copy-on-write by fork):
// no frame is freed, so only mmu's Resync makes KVM drop the translation
// the vCPU cached, and the next access must fault.
func TestUnmapOfSharedFrameFaultsNextAccess(t *testing.T) {
	t.Parallel()
	const heapVA = 0x10000000
	g := newGuest(t, movRBX(heapVA), opLoadBX, opSyscall, opLoadBX, opSyscall, opLoadBX, opSyscall, opUD2)
	if err := g.as.Map(heapVA, mmu.HugePageSize, mmu.Read|mmu.Write, "heap"); err != nil {
		t.Fatal(err)
	}
	g.run(t, cpu.ExitSyscall)
	child, err := g.as.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	g.run(t, cpu.ExitSyscall) // read again after the fork: the shared frame's translation is cached
	if err := g.as.Unmap(heapVA, mmu.HugePageSize); err != nil {
		t.Fatal(err)
	}
	ex := g.run(t, cpu.ExitFault)
	if ex.Fault.Vector != cpu.VecPageFault || ex.Fault.Addr != heapVA || ex.Fault.ErrorCode&1 != 0 {
		t.Fatalf("fault %v (error code %#x), want a read of the unmapped page %#x", ex.Fault, ex.Fault.ErrorCode, heapVA)
	}
}
