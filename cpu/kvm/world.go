package kvm

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	gokvm "github.com/bobuhiro11/gokvm/kvm"
	"golang.org/x/sys/unix"
)

// Stopping the world. A shadow-paging KVM keeps its copy of a page table
// that the host rewrites through its own view of guest RAM, and nothing
// done to the table's frame drops it; deleting and re-adding the memory slot
// does (see shared/host-kvm.md and the page-table contract in the mmu
// package). No vCPU may be inside KVM_RUN meanwhile: it would take MMIO
// exits on its own RAM. So every KVM_RUN holds e.world for reading, and
// forgetPageTables kicks the running vCPUs out and takes it for writing.

// kvmRun enters the guest once, holding the world lock only around the
// ioctl.
func (c *vcpu) kvmRun() error {
	c.e.world.RLock()
	err := gokvm.Run(uintptr(c.fd))
	c.e.world.RUnlock()
	return err
}

// forgetPageTables makes every vCPU forget all cached translations and
// shadow page tables, by cycling the memory slot with every vCPU outside
// KVM_RUN. mmu's PhysMem calls it (SetRootRecycler) before it reuses a
// frame that has been a root. Running vCPUs resume afterwards as if nothing
// happened; each page they touch next costs KVM a fault (3-4 us here).
//
// Measured on the development host (PVM, 2 cores, BenchmarkForgetPageTables):
// 35-120 us with no vCPU running, 120-180 us with one spinning in guest code
// (kick, wait for it to leave KVM_RUN, cycle), before those refaults; the
// syscall path pays nothing measurable for the read lock.
func (e *Engine) forgetPageTables() error {
	e.forgetMu.Lock()
	defer e.forgetMu.Unlock()
	// stopping keeps kicked vCPUs from clearing immediate_exit before the
	// write lock is ours (see rearm).
	e.stopping.Store(true)
	e.mu.Lock()
	for c := range e.live {
		c.kick()
	}
	e.mu.Unlock()
	e.world.Lock()
	err := e.cycleMemslot()
	e.stopping.Store(false)
	e.world.Unlock()
	if err == nil {
		e.forgets.Add(1)
	}
	return err
}

// cycleMemslot deletes guest RAM's memory slot and adds it again.
func (e *Engine) cycleMemslot() error {
	e.mu.Lock() // against Close
	defer e.mu.Unlock()
	if e.vmFd == 0 {
		return nil // closed: no KVM left to hold stale tables
	}
	region := e.memslot
	region.MemorySize = 0
	if err := gokvm.SetUserMemoryRegion(e.vmFd, &region); err != nil {
		return fmt.Errorf("deleting the memory slot: %w", err)
	}
	if err := gokvm.SetUserMemoryRegion(e.vmFd, &e.memslot); err != nil {
		return fmt.Errorf("re-adding the memory slot: %w", err)
	}
	return nil
}

// immediateExit is the word of kvm_run holding request_interrupt_window
// (byte 0, always 0 here) and immediate_exit (byte 1). Other threads set it
// (Interrupt, kicks), so it is written with atomic stores: on amd64 those
// are full barriers, which rearm's store-then-load relies on.
func (c *vcpu) immediateExit() *uint32 {
	return (*uint32)(unsafe.Pointer(&c.run.RequestInterruptWindow))
}

func (c *vcpu) setImmediateExit() { atomic.StoreUint32(c.immediateExit(), 1<<8) }

// rearm clears immediate_exit unless an Interrupt is pending or the world
// is being stopped. It clears first and checks afterwards, so a concurrent
// Interrupt or kick, which set the flag after their own state, cannot be
// lost between the two.
func (c *vcpu) rearm() {
	atomic.StoreUint32(c.immediateExit(), 0)
	if c.interrupted.Load() || c.e.stopping.Load() {
		c.setImmediateExit()
	}
}

// kick makes the vCPU leave KVM_RUN soon, or not enter it: immediate_exit
// covers a vCPU about to enter the guest, and a signal one already inside.
func (c *vcpu) kick() {
	c.destroyMu.Lock()
	defer c.destroyMu.Unlock()
	if c.run == nil {
		return
	}
	c.setImmediateExit()
	if tid := c.tid.Load(); tid != 0 {
		// SIGURG is the Go runtime's own preemption signal: harmless to
		// the process, and it makes KVM_RUN return.
		unix.Tgkill(os.Getpid(), int(tid), unix.SIGURG)
	}
}
