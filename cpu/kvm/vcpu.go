package kvm

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	gokvm "github.com/bobuhiro11/gokvm/kvm"
	"golang.org/x/sys/unix"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// syncRegs is KVM_SYNC_X86_REGS: the general registers travel through
// kvm_run instead of KVM_GET_REGS/KVM_SET_REGS.
const syncRegs = 1 << 0

// runArea overlays the start of struct kvm_run up to the synced registers.
// gokvm's RunData covers the fixed header and the exit union (288 bytes);
// the sync-regs fields that follow are not in gokvm.
type runArea struct {
	gokvm.RunData
	validRegs uint64
	dirtyRegs uint64
	regs      cpu.Regs // kvm_sync_regs.regs
}

// Control-register and MSR bits used to enter long mode at ring 3.
const (
	cr0PE = 1 << 0
	cr0MP = 1 << 1
	cr0ET = 1 << 4
	cr0NE = 1 << 5
	cr0WP = 1 << 16
	cr0PG = 1 << 31

	cr4PAE        = 1 << 5
	cr4OSFXSR     = 1 << 9
	cr4OSXMMEXCPT = 1 << 10
	cr4OSXSAVE    = 1 << 18

	eferSCE = 1 << 0
	eferLME = 1 << 8
	eferLMA = 1 << 10
	eferNXE = 1 << 11

	msrSTAR   = 0xC000_0081
	msrLSTAR  = 0xC000_0082
	msrSFMASK = 0xC000_0084

	// SYSCALL clears TF, DF, IF, AC and NT so the stub starts clean.
	sfmask = 1<<8 | 1<<9 | 1<<10 | 1<<14 | 1<<18

	rflagsReserved = 1 << 1
	rflagsIF       = 1 << 9
	// userRFLAGS keeps IOPL 0, so IN, OUT, CLI and STI fault in ring 3:
	// a program cannot reach the trap ports the ring-0 stubs use.
	userRFLAGS = rflagsReserved | rflagsIF

	exitIntr = 10 // KVM_EXIT_INTR
)

// vcpu is one KVM virtual CPU. It implements cpu.CPU.
type vcpu struct {
	e      *Engine
	as     *mmu.AddressSpace
	id     int
	area   area
	areaVA uint64
	fd     int
	mem    []byte // the mmap'ed kvm_run
	run    *runArea

	// resume says how to get back to ring 3 after the trap being handled.
	resume      resumeFrom
	frameVA     uint64 // ring-0 stack address of the interrupt frame
	resumeRSP   uint64 // ring-0 stack pointer the stub continues with
	resumeRIP   uint64 // stub instruction after the trapping OUT
	tid         atomic.Int32
	interrupted atomic.Bool
	// broken is set when KVM could not be brought to a clean state after
	// a fault; Close then destroys the vCPU instead of pooling it.
	broken bool
	// destroyMu keeps Interrupt, which other goroutines call, from racing
	// with destroy unmapping the kvm_run page.
	destroyMu sync.Mutex
}

// resumeFrom names the ways a trap returns to ring 3. While the kernel
// handles a trap, Regs shows the guest thread's own RIP, RSP and RFLAGS, as
// if the trap instruction had just completed; the engine moves them back into
// the trap's frame before the next entry.
type resumeFrom int

const (
	resumeNone   resumeFrom = iota // not started, or no trap pending
	resumeSysret                   // ring-0 SYSCALL trampoline: RCX/R11 carry RIP/RFLAGS
	resumeIretq                    // an interrupt frame on a ring-0 stack
)

// NewCPU implements cpu.Engine. KVM cannot destroy a vCPU before its VM, so
// closed vCPUs wait in a pool and are reset for their next thread.
func (e *Engine) NewCPU(as *mmu.AddressSpace) (cpu.CPU, error) {
	e.mu.Lock()
	var c *vcpu
	if n := len(e.pool); n > 0 {
		c = e.pool[n-1]
		e.pool = e.pool[:n-1]
	}
	e.mu.Unlock()
	if c != nil {
		if err := c.reset(as); err != nil {
			c.destroy()
			return nil, err
		}
		e.register(c)
		return c, nil
	}
	id, a, err := e.allocSlot()
	if err != nil {
		return nil, err
	}
	c = &vcpu{e: e, as: as, id: id, area: a, areaVA: vcpuAreaVA + uint64(id)*vcpuStride, fd: -1}
	if err := c.init(); err != nil {
		c.destroy()
		return nil, err
	}
	e.probe.Do(func() { e.probeErr = c.probeSyscall() })
	if e.probeErr != nil {
		c.destroy()
		return nil, e.probeErr
	}
	e.register(c)
	return c, nil
}

// register records c as live, so that forgetPageTables kicks it. A vCPU
// that joins while the world is being stopped sees stopping in rearm.
func (e *Engine) register(c *vcpu) {
	e.mu.Lock()
	e.live[c] = struct{}{}
	e.mu.Unlock()
	c.rearm()
}

// probeSyscall runs one SYSCALL on a fresh vCPU to learn whether this host
// enters ring 0 on SYSCALL, then puts the vCPU back into its initial state.
func (c *vcpu) probeSyscall() error {
	c.run.regs = cpu.Regs{RIP: trampolineVA + probeOffset, RFLAGS: userRFLAGS}
	c.run.validRegs = syncRegs
	c.run.dirtyRegs = syncRegs
	if err := c.kvmRun(); err != nil {
		return fmt.Errorf("KVM_RUN: %w", err)
	}
	if gokvm.ExitType(c.run.ExitReason) != gokvm.EXITMMIO || !c.mmio().isDoorbellStore() {
		return fmt.Errorf("%w: SYSCALL does not reach the trampoline (exit %v)",
			ErrUnavailable, gokvm.ExitType(c.run.ExitReason))
	}
	// KVM reports an MMIO store at the store (if it exits before
	// executing it) or after it (if it completes it first, as this
	// project's development hosts do). Only the trampoline's own store
	// leaves this RIP.
	switch rip := c.run.regs.RIP; rip {
	case trampolineVA, trampolineVA + doorbellStoreLen:
		c.e.doorbellRIP = rip
	default:
		return fmt.Errorf("%w: the doorbell store is reported at pc 0x%x", ErrUnavailable, rip)
	}
	sregs, err := gokvm.GetSregs(uintptr(c.fd))
	if err != nil {
		return fmt.Errorf("KVM_GET_SREGS: %w", err)
	}
	c.e.syscallStaysInRing3 = sregs.CS.DPL == 3
	if err := gokvm.SetSregs(uintptr(c.fd), c.userSregs()); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	c.run.regs = cpu.Regs{RFLAGS: userRFLAGS}
	return nil
}

// reset prepares a pooled vCPU for a new thread on as: nothing of the
// previous thread may show, neither in registers nor in translations.
func (c *vcpu) reset(as *mmu.AddressSpace) error {
	c.as = as
	if err := c.e.mapSupervisor(as, c.id, c.area); err != nil {
		return err
	}
	// Loading CR3 is enough for translations: mmu never gives a new address
	// space a root frame KVM may still hold a shadow of (see the page-table
	// contract in the mmu package documentation, and forgetPageTables).
	if err := gokvm.SetSregs(uintptr(c.fd), c.userSregs()); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	if err := c.clearState(); err != nil {
		return err
	}
	c.interrupted.Store(false)
	c.tid.Store(0)
	c.run.regs = cpu.Regs{RFLAGS: userRFLAGS}
	c.resume = resumeNone
	return nil
}

func (c *vcpu) init() error {
	copy(c.e.phys.Page(c.area[0]), gdtTSSPage(c.areaVA))
	if err := c.e.mapSupervisor(c.as, c.id, c.area); err != nil {
		return err
	}
	fd, err := gokvm.CreateVCPU(c.e.vmFd, c.id)
	if err != nil {
		return fmt.Errorf("KVM_CREATE_VCPU: %w", err)
	}
	c.fd = int(fd)
	c.mem, err = unix.Mmap(c.fd, 0, c.e.runSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mapping kvm_run: %w", err)
	}
	c.run = (*runArea)(unsafe.Pointer(&c.mem[0]))
	if err := gokvm.SetCPUID2(uintptr(c.fd), c.e.cpuid); err != nil {
		return fmt.Errorf("KVM_SET_CPUID2: %w", err)
	}
	if err := gokvm.SetSregs(uintptr(c.fd), c.userSregs()); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	if c.e.xcr0 != 0 {
		xcrs := &gokvm.XCRS{NrXRCS: 1}
		xcrs.Registers[0].Value = c.e.xcr0 // XCR0 is register 0
		if err := gokvm.SetXCRS(uintptr(c.fd), xcrs); err != nil {
			return fmt.Errorf("KVM_SET_XCRS: %w", err)
		}
	}
	if err := c.clearState(); err != nil {
		return err
	}
	c.run.validRegs = syncRegs
	c.run.regs = cpu.Regs{RFLAGS: userRFLAGS}
	return nil
}

// userSregs is the segment and control state of a thread at ring 3.
func (c *vcpu) userSregs() *gokvm.Sregs {
	code := gokvm.Segment{Limit: 0xFFFFFFFF, Selector: selUserCode, Typ: 11, Present: 1, DPL: 3, S: 1, L: 1, G: 1}
	data := gokvm.Segment{Limit: 0xFFFFFFFF, Selector: selUserData, Typ: 3, Present: 1, DPL: 3, S: 1, DB: 1, G: 1}
	return &gokvm.Sregs{
		CS: code, SS: data, DS: data, ES: data, FS: data, GS: data,
		TR:   gokvm.Segment{Base: c.areaVA + tssOffset, Limit: tssLimit, Selector: selTSS, Typ: 11, Present: 1},
		LDT:  gokvm.Segment{Typ: 2, Present: 1, Unusable: 1},
		GDT:  gokvm.Descriptor{Base: c.areaVA + gdtOffset, Limit: gdtLimit},
		IDT:  gokvm.Descriptor{Base: idtVA, Limit: 0xFFF},
		CR0:  cr0PE | cr0MP | cr0ET | cr0NE | cr0WP | cr0PG,
		CR3:  c.as.Root(),
		CR4:  c.cr4(),
		EFER: eferSCE | eferLME | eferLMA | eferNXE,
	}
}

// cr4 enables SSE always, and XSAVE (so AVX state) where the host has it.
func (c *vcpu) cr4() uint64 {
	cr4 := uint64(cr4PAE | cr4OSFXSR | cr4OSXMMEXCPT)
	if c.e.xcr0 != 0 {
		cr4 |= cr4OSXSAVE
	}
	return cr4
}

// Regs implements cpu.CPU. The registers live in the kvm_run page itself.
func (c *vcpu) Regs() *cpu.Regs { return &c.run.regs }

// Run implements cpu.CPU.
func (c *vcpu) Run() (cpu.Exit, error) {
	if c.tid.Load() == 0 {
		c.tid.Store(int32(unix.Gettid()))
	}
	if err := c.prepareResume(); err != nil {
		return cpu.Exit{}, err
	}
	for {
		c.run.dirtyRegs = syncRegs
		// KVM leaves exit_reason alone when immediate_exit stops it before
		// entering the guest; preset it so that case reads as an interrupt.
		c.run.ExitReason = exitIntr
		if err := c.kvmRun(); err != nil {
			return cpu.Exit{}, fmt.Errorf("KVM_RUN: %w", err)
		}
		switch gokvm.ExitType(c.run.ExitReason) {
		case gokvm.EXITMMIO:
			if m := c.mmio(); m.isDoorbellStore() && c.run.regs.RIP == c.e.doorbellRIP {
				return c.syscallFromTrampoline(), nil
			}
			return c.strayMMIO()
		case gokvm.EXITIO:
			_, _, port, _, _ := c.run.IO()
			switch port {
			case portInt80:
				return c.syscallFromFrame(c.run.regs.RSP, stubsVA+stubInt80+outLen, 0)
			case portException:
				return c.exception()
			case portBareExit:
				continue
			}
			// A port no stub uses; programs reach none (IOPL 0, no I/O
			// bitmap).
			return c.abort(cpu.Fault{Vector: cpu.VecGeneralProt, PC: c.run.regs.RIP})
		case exitIntr:
			if c.interrupted.Swap(false) {
				c.rearm()
				return cpu.Exit{Kind: cpu.ExitInterrupted}, nil
			}
			// A kick from forgetPageTables or a signal meant for the Go
			// runtime: carry on.
			c.rearm()
			continue
		case gokvm.EXITSHUTDOWN:
			return c.abort(cpu.Fault{Vector: cpu.VecShutdown, PC: c.run.regs.RIP})
		case gokvm.EXITINTERNALERROR:
			// KVM could not emulate what the guest did (fxsave to the
			// doorbell page, say) or deliver an event it raised: the only
			// code it runs besides the engine's fixed stubs is the
			// program's, so the program is at fault. RIP is at the
			// instruction, which KVM did not execute.
			return c.abort(cpu.Fault{Vector: cpu.VecGeneralProt, PC: c.run.regs.RIP})
		default:
			return cpu.Exit{}, fmt.Errorf("unexpected KVM exit %v at pc 0x%x",
				gokvm.ExitType(c.run.ExitReason), c.run.regs.RIP)
		}
	}
}

// mmioExit is struct kvm_run's mmio member.
type mmioExit struct {
	gpa   uint64
	len   uint32
	write bool
}

func (c *vcpu) mmio() mmioExit {
	d := &c.run.Data
	return mmioExit{gpa: d[0], len: uint32(d[2]), write: d[2]>>32&0xFF != 0}
}

// isDoorbellStore reports whether the access looks like the trampoline's
// store; the caller checks RIP too, since any code can reach the page.
func (m mmioExit) isDoorbellStore() bool {
	return m.write && m.len == 1 && m.gpa == doorbellGPA
}

// Page-fault error code bits.
const (
	pfPresent = 1 << 0
	pfWrite   = 1 << 1
	pfUser    = 1 << 2
)

// strayMMIO turns an access to the doorbell page by anything but the
// trampoline's store into the page fault a program expects from a page it
// may not touch. On hosts that complete an MMIO store before exiting (see
// probeSyscall) the PC of a store is that of the next instruction.
func (c *vcpu) strayMMIO() (cpu.Exit, error) {
	m, pc := c.mmio(), c.run.regs.RIP
	if m.gpa < c.e.phys.Size() {
		return cpu.Exit{}, fmt.Errorf("MMIO exit on guest RAM at 0x%x (pc 0x%x)", m.gpa, pc)
	}
	if m.gpa-doorbellGPA >= mmu.PageSize {
		return c.abort(cpu.Fault{Vector: cpu.VecGeneralProt, PC: pc})
	}
	code := uint64(pfPresent | pfUser)
	if m.write {
		code |= pfWrite
	}
	return c.abort(cpu.Fault{Vector: cpu.VecPageFault, ErrorCode: code, PC: pc, Addr: doorbellVA + m.gpa - doorbellGPA})
}

// abort ends a trap that KVM took outside the engine's stubs as a fault of
// the program. It lets KVM finish the instruction (settle), puts the
// registers back as they were at the exit, and reloads ring 3's segments in
// case the exit came from ring 0, so a thread resumed after the fault (by a
// signal handler, say) runs as a program again.
func (c *vcpu) abort(f cpu.Fault) (cpu.Exit, error) {
	regs := c.run.regs
	if err := c.settle(); err != nil {
		return cpu.Exit{}, err
	}
	c.run.regs = regs
	if err := gokvm.SetSregs(uintptr(c.fd), c.userSregs()); err != nil {
		return cpu.Exit{}, fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	return c.fault(f), nil
}

// maxSettle bounds the KVM_RUNs settle spends on one instruction. A string
// instruction takes one per MMIO access, and KVM goes back to the guest
// (here: returns) at least every 1024 iterations.
const maxSettle = 4096

// settle lets KVM finish the instruction behind an MMIO or port exit that
// will not be resumed. KVM completes such an instruction at the next
// KVM_RUN, writing a load's register and RIP from what it decoded back then;
// left pending, that would land in whatever thread the vCPU runs next.
// immediate_exit keeps the guest itself from running; loads read zeros.
func (c *vcpu) settle() error {
	c.run.dirtyRegs = 0
	defer c.rearm()
	for range maxSettle {
		switch gokvm.ExitType(c.run.ExitReason) {
		case gokvm.EXITMMIO:
			c.run.Data[1] = 0 // the data a load reads
		case gokvm.EXITIO:
		default:
			return nil
		}
		c.setImmediateExit()
		c.run.ExitReason = exitIntr
		if err := c.kvmRun(); err != nil {
			return fmt.Errorf("KVM_RUN: %w", err)
		}
	}
	c.broken = true
	return nil
}

// fault ends the current trap as a fault of the program.
func (c *vcpu) fault(f cpu.Fault) cpu.Exit {
	c.resume = resumeNone
	return cpu.Exit{Kind: cpu.ExitFault, Fault: f}
}

// Flags a thread may carry across a syscall in R11: the arithmetic flags,
// TF, DF, AC and ID. IOPL, NT and the rest are the engine's to set.
const userFlags = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 1<<8 | 1<<10 | 1<<11 | 1<<18 | 1<<21

// syscallReturn sets RIP and RFLAGS to the return address and flags of a
// SYSCALL (RCX and R11) and reports whether the thread may continue there.
// A real SYSCALL leaves the address after it: in user space, or in the
// user-visible pages below mmu.EngineEnd (the kernel's signal trampoline
// lives there). A jump into the trampoline can leave anything, and the
// thread must not resume in this engine's trampoline or doorbell page, the
// upper half, or at a non-canonical address.
func (c *vcpu) syscallReturn() bool {
	r := &c.run.regs
	r.RIP, r.RFLAGS = r.RCX, r.R11&userFlags|userRFLAGS
	return r.RCX < mmu.EngineEnd && (r.RCX < trampolineVA || r.RCX >= doorbellVA+mmu.PageSize)
}

// syscallFromTrampoline handles a SYSCALL that reached the trampoline's
// doorbell store: the return address and flags are in RCX and R11. Where
// SYSCALL stayed in ring 3 the thread simply continues there, with no
// SYSRETQ. A return address the thread cannot continue at is a fault
// there; the syscall is not made.
func (c *vcpu) syscallFromTrampoline() cpu.Exit {
	ok := c.syscallReturn()
	c.resume = resumeSysret
	if c.e.syscallStaysInRing3 {
		c.resume = resumeNone
	}
	if !ok {
		return cpu.Exit{Kind: cpu.ExitFault, Fault: cpu.Fault{Vector: cpu.VecGeneralProt, PC: c.run.regs.RIP}}
	}
	return cpu.Exit{Kind: cpu.ExitSyscall}
}

// syscallFromFrame handles a syscall that arrived as an interrupt frame at
// frameVA (int $0x80 through its gate, or an exception standing for a
// syscall). The thread continues at the frame's RIP plus skip.
func (c *vcpu) syscallFromFrame(frameVA, resumeRIP, skip uint64) (cpu.Exit, error) {
	var f [5]uint64 // RIP, CS, RFLAGS, RSP, SS
	if err := c.readStack(frameVA, f[:]); err != nil {
		return cpu.Exit{}, err
	}
	r := &c.run.regs
	c.resume, c.frameVA, c.resumeRSP, c.resumeRIP = resumeIretq, frameVA, r.RSP, resumeRIP
	r.RIP, r.RFLAGS, r.RSP = f[0]+skip, f[2], f[3]
	return cpu.Exit{Kind: cpu.ExitSyscall, Int80: true}, nil
}

// exception decodes the frame an exception stub left on the IST stack.
func (c *vcpu) exception() (cpu.Exit, error) {
	frameVA := c.run.regs.RSP
	var f [7]uint64 // vector, error code, RIP, CS, RFLAGS, RSP, SS
	if err := c.readStack(frameVA, f[:]); err != nil {
		return cpu.Exit{}, err
	}
	vector, errorCode, rip, cs := f[0], f[1], f[2], f[3]
	fromUser := cs&3 == 3
	resumeRIP := exceptionStubOut(vector) + outLen
	switch {
	case vector == cpu.VecGeneralProt && fromUser && rip == trampolineVA:
		// SYSCALL left us in ring 3 at the trampoline (see layout.go).
		ex, err := c.syscallFromFrame(frameVA+16, resumeRIP, 0)
		if err == nil && !c.syscallReturn() {
			return cpu.Exit{Kind: cpu.ExitFault, Fault: cpu.Fault{Vector: cpu.VecGeneralProt, PC: c.run.regs.RIP}}, nil
		}
		ex.Int80 = false
		return ex, err
	}
	skip := uint64(0)
	switch {
	case vector == cpu.VecInvalidOp && fromUser:
		// These hosts refuse INT imm8 with #UD (see layout.go), but for
		// int3 and into's vectors. int $0x80 is a syscall; any other
		// vector has no gate a program may use and is the #GP a ring-3
		// INT through a DPL-0 gate raises, with the IDT error code.
		if n, size, ok := c.intAt(rip); ok {
			if n == 0x80 {
				return c.syscallFromFrame(frameVA+16, resumeRIP, size)
			}
			vector, errorCode = cpu.VecGeneralProt, uint64(n)<<3|2
		}
	case vector == cpu.VecDebug && fromUser && f[4]&rflagsTF == 0:
		// ICEBP raises #DB as a trap, after the instruction; these
		// hosts report it at the instruction.
		if size, ok := c.icebpAt(rip); ok {
			skip = size
			rip += size
		}
	}
	flt := cpu.Fault{Vector: uint8(vector), ErrorCode: errorCode, PC: rip}
	if vector == cpu.VecPageFault {
		sregs, err := gokvm.GetSregs(uintptr(c.fd))
		if err != nil {
			return cpu.Exit{}, fmt.Errorf("KVM_GET_SREGS: %w", err)
		}
		flt.Addr = sregs.CR2
	}
	c.resume = resumeNone
	if fromUser {
		// Regs show the faulting instruction's context, and the next Run
		// retries it through the stub's IRETQ.
		if _, err := c.syscallFromFrame(frameVA+16, resumeRIP, skip); err != nil {
			return cpu.Exit{}, err
		}
	}
	return cpu.Exit{Kind: cpu.ExitFault, Fault: flt}, nil
}

// intAt decodes the instruction at rip if it is INT imm8 (CD ib) after
// prefixes other than LOCK: its vector and length.
func (c *vcpu) intAt(rip uint64) (n byte, size uint64, ok bool) {
	i, op, ok := c.skipPrefixes(rip)
	if !ok || op != 0xCD {
		return 0, 0, false
	}
	var b [1]byte
	if c.as.ReadAt(b[:], rip+i+1) != nil {
		return 0, 0, false
	}
	return b[0], i + 2, true
}

// icebpAt reports whether the instruction at rip is ICEBP (F1) after
// prefixes other than LOCK, and its length.
func (c *vcpu) icebpAt(rip uint64) (size uint64, ok bool) {
	i, op, ok := c.skipPrefixes(rip)
	if !ok || op != 0xF1 {
		return 0, false
	}
	return i + 1, true
}

// skipPrefixes reads the instruction at rip up to its opcode byte: how
// many prefix bytes come first, and the opcode. A LOCK prefix, which
// makes INT and ICEBP #UD, fails it.
func (c *vcpu) skipPrefixes(rip uint64) (uint64, byte, bool) {
	var b [1]byte
	for i := range uint64(15) { // up to 14 prefixes, then the opcode
		if c.as.ReadAt(b[:], rip+i) != nil {
			return 0, 0, false
		}
		switch {
		case b[0] == 0x66 || b[0] == 0x67 || b[0] == 0xF2 || b[0] == 0xF3 || b[0] == 0x2E || b[0] == 0x36 ||
			b[0] == 0x3E || b[0] == 0x26 || b[0] == 0x64 || b[0] == 0x65 || b[0]&0xF0 == 0x40:
		default:
			return i, b[0], b[0] != 0xF0
		}
	}
	return 0, 0, false
}

// prepareResume moves the thread's RIP, RSP and RFLAGS from Regs back to
// where the pending trap's return instruction expects them.
func (c *vcpu) prepareResume() error {
	r := &c.run.regs
	switch c.resume {
	case resumeSysret:
		r.RCX, r.R11 = r.RIP, r.RFLAGS
		r.RIP = trampolineVA + trampolineRet
	case resumeIretq:
		f := [5]uint64{r.RIP, selUserCode, r.RFLAGS, r.RSP, selUserData}
		if err := c.writeStack(c.frameVA, f[:]); err != nil {
			return err
		}
		r.RSP, r.RIP = c.resumeRSP, c.resumeRIP
	}
	c.resume = resumeNone
	return nil
}

// readStack reads words from the vCPU's ring-0 stacks at va.
func (c *vcpu) readStack(va uint64, words []uint64) error {
	for i := range words {
		b, err := c.stackWord(va + 8*uint64(i))
		if err != nil {
			return err
		}
		words[i] = binary.LittleEndian.Uint64(b)
	}
	return nil
}

func (c *vcpu) writeStack(va uint64, words []uint64) error {
	for i, w := range words {
		b, err := c.stackWord(va + 8*uint64(i))
		if err != nil {
			return err
		}
		binary.LittleEndian.PutUint64(b, w)
	}
	return nil
}

// stackWord returns the 8 host bytes behind a ring-0 stack address.
func (c *vcpu) stackWord(va uint64) ([]byte, error) {
	off := va - c.areaVA
	if va < c.areaVA || off+8 > vcpuPages*mmu.PageSize || off%8 != 0 {
		return nil, fmt.Errorf("trap stub stack pointer 0x%x is outside its stacks", va)
	}
	page := c.e.phys.Page(c.area[off/mmu.PageSize])
	return page[off%mmu.PageSize : off%mmu.PageSize+8], nil
}

// Interrupt implements cpu.CPU. interrupted is set before the kick, which
// rearm relies on.
func (c *vcpu) Interrupt() {
	c.interrupted.Store(true)
	c.kick()
}

// Close implements cpu.CPU: the vCPU goes back to the engine's pool.
func (c *vcpu) Close() error {
	c.as = nil
	c.e.mu.Lock()
	delete(c.e.live, c)
	if !c.broken {
		c.e.pool = append(c.e.pool, c)
	}
	c.e.mu.Unlock()
	if c.broken {
		c.destroy()
	}
	return nil
}

// destroy releases the vCPU's host resources for good.
func (c *vcpu) destroy() {
	c.destroyMu.Lock()
	defer c.destroyMu.Unlock()
	if c.mem != nil {
		unix.Munmap(c.mem)
		c.mem, c.run = nil, nil
	}
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}

func sliceAddr(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }
