// Package kvm runs guest code at native speed in a KVM virtual machine.
//
// Each vCPU sits in 64-bit long mode at ring 3 on the page tables of an
// mmu.AddressSpace. SYSCALL lands on a trampoline whose one store to a
// doorbell page (guest-physical memory with no RAM behind it) makes KVM exit
// to the host; int $0x80 and CPU exceptions enter tiny ring-0 stubs whose
// only job is an OUT instruction (see layout.go). Registers travel through
// KVM's shared sync-regs area, so a syscall costs one exit and no register
// ioctls. Exceptions come back as cpu.ExitFault, resumable at the faulting
// instruction. Pooled vCPUs are reset to a clean state for each thread
// (state.go), and forgetPageTables makes KVM drop every shadow page table
// for mmu's page-table contract (world.go).
//
// KVM ioctls are made through gokvm's kvm package; this package adds only
// what gokvm lacks (the sync-regs layout of struct kvm_run, KVM_SET_FPU,
// KVM_SET_XSAVE, a KVM_SET_MSRS that reports refused MSRs).
package kvm

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	gokvm "github.com/bobuhiro11/gokvm/kvm"
	"golang.org/x/sys/unix"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// DevicePath is the KVM device node.
const DevicePath = "/dev/kvm"

// Addresses KVM needs for its own use on Intel hosts; they must lie outside
// guest RAM, which is why RAM is limited to MaxMemory.
const (
	tssAddr        = 0xFFFB_D000
	identityMapAdr = 0xFFFB_C000
	// MaxMemory is the largest guest RAM the engine accepts. The doorbell
	// page sits right above it.
	MaxMemory = 3 << 30
)

// ErrUnavailable wraps every reason KVM cannot be used on this host.
var ErrUnavailable = errors.New("KVM is not available")

// Engine is a KVM virtual machine whose RAM is a mmu.PhysMem.
type Engine struct {
	phys    *mmu.PhysMem
	kvmFile *os.File
	vmFd    uintptr
	runSize int
	cpuid   *gokvm.CPUID
	// xcr0 is the XSAVE feature mask given to every vCPU, 0 where the host
	// has no XSAVE (then only x87 and SSE state exist).
	xcr0 uint64

	// Engine pages shared by every vCPU.
	trampolinePA, stubsPA, idtPA uint64

	// syscallStaysInRing3 is set on hosts where SYSCALL jumps to LSTAR
	// without entering ring 0 (see layout.go); probeSyscall finds out.
	syscallStaysInRing3 bool
	// doorbellRIP is the RIP KVM reports for the trampoline's doorbell
	// store: the store's own address or the next instruction's, depending
	// on the host (probeSyscall finds out).
	doorbellRIP uint64
	probe       sync.Once
	probeErr    error

	// memslot is guest RAM as registered with KVM.
	memslot gokvm.UserspaceMemoryRegion
	// cleanXSAVE is the XSAVE image every vCPU starts from, nil where
	// KVM has no KVM_SET_XSAVE.
	cleanXSAVE []byte

	// world is read-held around every KVM_RUN and write-held while
	// forgetPageTables cycles the memory slot (see world.go).
	world    sync.RWMutex
	forgetMu sync.Mutex
	stopping atomic.Bool
	forgets  atomic.Int64 // completed forgetPageTables calls

	mu       sync.Mutex
	pool     []*vcpu            // closed vCPUs, ready for reuse
	live     map[*vcpu]struct{} // vCPUs handed out by NewCPU and not closed
	nextSlot int
}

// Available reports why KVM cannot be used here, or nil if it can.
func Available() error {
	f, err := os.OpenFile(DevicePath, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	f.Close()
	return nil
}

// New creates a VM with phys as its RAM.
func New(phys *mmu.PhysMem) (*Engine, error) {
	if phys.Size() > MaxMemory {
		return nil, fmt.Errorf("guest memory of %d MiB exceeds the KVM engine's limit of %d MiB",
			phys.Size()>>20, MaxMemory>>20)
	}
	f, err := os.OpenFile(DevicePath, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	e := &Engine{phys: phys, kvmFile: f, live: map[*vcpu]struct{}{}}
	if err := e.init(); err != nil {
		e.Close()
		return nil, err
	}
	phys.SetRootRecycler(e.forgetPageTables)
	return e, nil
}

func (e *Engine) init() error {
	kvmFd := e.kvmFile.Fd()
	if v, err := gokvm.GetAPIVersion(kvmFd); err != nil || v != 12 {
		return fmt.Errorf("%w: unexpected KVM API version %d (%v)", ErrUnavailable, v, err)
	}
	for _, c := range []struct {
		cap  gokvm.Capability
		need uintptr
		name string
	}{
		{gokvm.CapSyncRegs, syncRegs, "KVM_CAP_SYNC_REGS"},
		{gokvm.CapImmediateExit, 1, "KVM_CAP_IMMEDIATE_EXIT"},
	} {
		if have, err := gokvm.CheckExtension(kvmFd, c.cap); err != nil || have&c.need != c.need {
			return fmt.Errorf("%w: the host kernel lacks %s", ErrUnavailable, c.name)
		}
	}
	vmFd, err := gokvm.CreateVM(kvmFd)
	if err != nil {
		return fmt.Errorf("%w: creating a VM: %v", ErrUnavailable, err)
	}
	e.vmFd = vmFd
	if err := gokvm.SetTSSAddr(vmFd, tssAddr); err != nil {
		return fmt.Errorf("KVM_SET_TSS_ADDR: %w", err)
	}
	if err := gokvm.SetIdentityMapAddr(vmFd, identityMapAdr); err != nil {
		return fmt.Errorf("KVM_SET_IDENTITY_MAP_ADDR: %w", err)
	}
	mem := e.phys.Bytes()
	e.memslot = gokvm.UserspaceMemoryRegion{
		Slot:          0,
		GuestPhysAddr: 0,
		MemorySize:    uint64(len(mem)),
		UserspaceAddr: uint64(sliceAddr(mem)),
	}
	if err := gokvm.SetUserMemoryRegion(vmFd, &e.memslot); err != nil {
		return fmt.Errorf("KVM_SET_USER_MEMORY_REGION: %w", err)
	}
	size, err := gokvm.GetVCPUMMmapSize(kvmFd)
	if err != nil {
		return fmt.Errorf("KVM_GET_VCPU_MMAP_SIZE: %w", err)
	}
	e.runSize = int(size)

	e.cpuid = guestCPUID()
	e.xcr0 = userXCR0(e.cpuid)
	if have, err := gokvm.CheckExtension(kvmFd, capXSAVE); err == nil && have != 0 {
		size, err := gokvm.CheckExtension(kvmFd, capXSAVE2)
		if err != nil {
			size = 0 // older hosts: struct kvm_xsave's 4096 bytes
		}
		e.cleanXSAVE = cleanXSAVE(int(size))
	}

	if e.trampolinePA, err = e.supervisorPage(trampolinePage()); err != nil {
		return err
	}
	if e.stubsPA, err = e.supervisorPage(stubPage()); err != nil {
		return err
	}
	if e.idtPA, err = e.supervisorPage(idtPage()); err != nil {
		return err
	}
	return nil
}

// supervisorPage allocates a frame and fills it with contents.
func (e *Engine) supervisorPage(contents []byte) (uint64, error) {
	pa, err := e.phys.Alloc()
	if err != nil {
		return 0, err
	}
	copy(e.phys.Page(pa), contents)
	return pa, nil
}

// Name implements cpu.Engine.
func (e *Engine) Name() string { return "kvm" }

// Close implements cpu.Engine.
func (e *Engine) Close() error {
	if e.vmFd != 0 {
		// Without KVM nothing holds stale page tables.
		e.phys.SetRootRecycler(nil)
	}
	e.mu.Lock()
	for _, c := range e.pool {
		c.destroy()
	}
	e.pool = nil
	// e.mu, not the world lock, guards vmFd here: a vCPU left running
	// must not keep Close waiting.
	if e.vmFd != 0 {
		unix.Close(int(e.vmFd))
		e.vmFd = 0
	}
	e.mu.Unlock()
	if e.kvmFile != nil {
		e.kvmFile.Close()
		e.kvmFile = nil
	}
	return nil
}

// area is the frames of one vCPU's supervisor pages, in address order.
type area [vcpuPages]uint64

// allocSlot reserves a vCPU id and its supervisor area.
func (e *Engine) allocSlot() (int, area, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var a area
	for i := range a {
		pa, err := e.phys.Alloc()
		if err != nil {
			for _, f := range a[:i] {
				e.phys.Free(f)
			}
			return 0, a, err
		}
		a[i] = pa
	}
	id := e.nextSlot
	e.nextSlot++
	return id, a, nil
}

// mapSupervisor maps the shared pages and vCPU id's area into as.
func (e *Engine) mapSupervisor(as *mmu.AddressSpace, id int, a area) error {
	areaVA := vcpuAreaVA + uint64(id)*vcpuStride
	type page struct {
		va, pa uint64
		perm   mmu.Perm
		user   bool
	}
	maps := []page{
		{trampolineVA, e.trampolinePA, mmu.Read | mmu.Exec, true},
		{doorbellVA, doorbellGPA, mmu.Read | mmu.Write, true},
		{stubsVA, e.stubsPA, mmu.Read | mmu.Exec, false},
		{idtVA, e.idtPA, mmu.Read, false},
	}
	for i, pa := range a {
		maps = append(maps, page{areaVA + uint64(i)*mmu.PageSize, pa, mmu.Read | mmu.Write, false})
	}
	for _, m := range maps {
		if err := as.MapEngine(m.va, m.pa, m.perm, m.user); err != nil {
			return err
		}
	}
	return nil
}

var _ cpu.Engine = (*Engine)(nil)

// XCR0 bits for the register state user programs may use: x87, SSE, AVX
// and AVX-512 (opmask, upper ZMM halves, ZMM16-31). gcc -march=native code
// needs them; supervisor-only and PKRU state stay off.
const (
	xcr0X87    = 1 << 0
	xcr0SSE    = 1 << 1
	xcr0AVX    = 1 << 2
	xcr0AVX512 = 7 << 5
)

// userXCR0 picks the user state components from those KVM supports (CPUID
// leaf 0xD, subleaf 0). AVX-512 state is all or nothing, as XSETBV demands.
func userXCR0(cpuid *gokvm.CPUID) uint64 {
	var hasXSAVE bool
	var supported uint64
	for _, e := range cpuid.Entries[:cpuid.Nent] {
		switch {
		case e.Function == 1:
			hasXSAVE = e.Ecx&(1<<26) != 0
		case e.Function == 0xD && e.Index == 0:
			supported = uint64(e.Edx)<<32 | uint64(e.Eax)
		}
	}
	if !hasXSAVE || supported&(xcr0X87|xcr0SSE) != xcr0X87|xcr0SSE {
		return 0
	}
	xcr0 := uint64(xcr0X87 | xcr0SSE)
	if supported&xcr0AVX != 0 {
		xcr0 |= xcr0AVX
		if supported&xcr0AVX512 == xcr0AVX512 {
			xcr0 |= xcr0AVX512
		}
	}
	return xcr0
}
