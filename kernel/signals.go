package kernel

import (
	"encoding/binary"
	"fmt"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/kernel/signal"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// Signals, as Linux handles them for a program that installs handlers with
// signal(2): a handler stays installed once it has run, and its own signal
// is held pending while it runs. A signal is sent by Signal from any
// goroutine; it is delivered by the process's own thread when it is about
// to return to guest code (deliverSignals). A thread computing in guest code
// is interrupted so that this happens at once; one blocked in a syscall is
// woken through Interrupted, and the call returns -1.
//
// A handler runs on the guest stack. Below the red zone the kernel writes a
// frame holding the interrupted registers and points the thread at the
// signal trampoline, a kernel page mapped into every address space:
//
//	fxsave64 (%rdx)   ; x87/SSE state into the frame
//	mov %rdx, %rbx    ; the frame survives the handler in a callee-saved register
//	call *%rsi        ; handler(sig)
//	fxrstor64 (%rbx)
//	mov $SIGRETURN, %eax
//	syscall           ; Sigreturn restores every register from the frame
//
// The frame (16-byte aligned, at the stack pointer when SIGRETURN traps):
//
//	+0    512 bytes  fxsave area, filled by the trampoline
//	+512  8 bytes    frameMagic ^ frame address
//	+520  8 bytes    the blocked set to restore
//	+528  144 bytes  cpu.Regs of the interrupted thread
const (
	// SignalTrampolineVA is the kernel's page in the engines' range above
	// the user stack (see mmu.EngineEnd), the last page of that range.
	SignalTrampolineVA = mmu.EngineEnd - mmu.PageSize

	sysSigreturn = 33 // the SIGRETURN syscall number the trampoline uses
	redZone      = 128
	fxsaveSize   = 512
	regsSize     = 18 * 8
	frameSize    = fxsaveSize + 16 + regsSize
	frameMagic   = 0x41_7572_6F72_6153 // "SaroruA": tells a frame from garbage
)

// trampolineCode assembles the signal trampoline described above.
func trampolineCode() []byte {
	return []byte{
		0x48, 0x0F, 0xAE, 0x02, // fxsave64 (%rdx)
		0x48, 0x89, 0xD3, // mov %rdx, %rbx
		0xFF, 0xD6, // call *%rsi
		0x48, 0x0F, 0xAE, 0x0B, // fxrstor64 (%rbx)
		0xB8, sysSigreturn, 0, 0, 0, // mov $SIGRETURN, %eax
		0x0F, 0x05, // syscall
		0x0F, 0x0B, // ud2: SIGRETURN never returns here
	}
}

// mapKernelPages maps the kernel's user-visible pages into a new address
// space.
func (k *Kernel) mapKernelPages(as *mmu.AddressSpace) error {
	k.trampolineOnce.Do(func() {
		pa, err := k.cfg.Phys.Alloc()
		if err != nil {
			k.trampolineErr = err
			return
		}
		copy(k.cfg.Phys.Page(pa), trampolineCode())
		k.trampoline = pa
	})
	if k.trampolineErr != nil {
		return k.trampolineErr
	}
	return as.MapEngine(SignalTrampolineVA, k.trampoline, mmu.Read|mmu.Exec, true)
}

// Signal sends sig to the process. A signal the process ignores is
// dropped; others are pending until delivered. A process that has ended
// (a zombie) is not affected.
func (p *Process) Signal(sig int) {
	if !signal.Valid(sig) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return
	}
	if sig != signal.SIGKILL && p.ignores(sig) {
		return
	}
	p.pending |= signal.Of(sig)
	if p.deliverable() != 0 {
		if !p.intrClosed {
			close(p.intr)
			p.intrClosed = true
		}
		if p.cpu != nil {
			p.cpu.Interrupt()
		}
	}
}

// ignores reports whether the process's action for sig is to ignore it.
// Called with mu held.
func (p *Process) ignores(sig int) bool {
	h := p.handlers[sig]
	return h == signal.Ignore || h == signal.Default && signal.IgnoredByDefault(sig)
}

// deliverable is the set of pending signals not blocked. Called with mu
// held.
func (p *Process) deliverable() signal.Set {
	return p.pending &^ (p.blocked &^ signal.Of(signal.SIGKILL))
}

// SetHandler installs a handler (signal.Default, signal.Ignore or a guest
// function address) for sig and returns the previous one; EINVAL for a
// signal that cannot be caught.
func (p *Process) SetHandler(sig int, h uint64) (prev uint64, err error) {
	if !signal.Catchable(sig) {
		return 0, errno.EINVAL
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	prev, p.handlers[sig] = p.handlers[sig], h
	if p.ignores(sig) {
		p.pending &^= signal.Of(sig) // POSIX: ignoring discards a pending one
	}
	return prev, nil
}

// deliverSignals acts on every deliverable pending signal before the thread
// returns to guest code: it ends the process, drops the signal, or sets up
// a handler frame (one above the other when several are pending, so the
// lowest-numbered runs last).
func (p *Process) deliverSignals(c cpu.CPU) {
	for !p.exited {
		p.mu.Lock()
		set := p.deliverable()
		if set == 0 {
			if p.intrClosed {
				p.intr = make(chan struct{})
				p.intrClosed = false
			}
			p.mu.Unlock()
			return
		}
		sig := set.Lowest()
		if set.Has(signal.SIGKILL) {
			sig = signal.SIGKILL
		}
		p.pending &^= signal.Of(sig)
		h := p.handlers[sig]
		ignored := p.ignores(sig)
		p.mu.Unlock()
		if ignored && sig != signal.SIGKILL {
			continue
		}
		switch {
		case sig == signal.SIGKILL || h == signal.Default:
			p.die(sig, "")
		default:
			if !p.enterHandler(c, sig, h) {
				p.die(signal.SIGSEGV, fmt.Sprintf("no room on the stack to run the %s handler", signal.Name(sig)))
			}
		}
	}
}

// enterHandler writes a signal frame below the guest's stack pointer and
// points the thread at the trampoline, which calls handler(sig). It reports
// false when the stack cannot take the frame.
func (p *Process) enterHandler(c cpu.CPU, sig int, handler uint64) bool {
	regs := c.Regs()
	frame := (regs.RSP - redZone - frameSize) &^ 15
	if frame > regs.RSP {
		return false // the stack pointer was near zero
	}
	p.mu.Lock()
	blocked := p.blocked
	p.mu.Unlock()
	var b [frameSize - fxsaveSize]byte
	binary.LittleEndian.PutUint64(b[0:], frameMagic^frame)
	binary.LittleEndian.PutUint64(b[8:], uint64(blocked))
	putRegs(b[16:], regs)
	if p.as.WriteAt(b[:], frame+fxsaveSize) != nil {
		return false
	}
	p.mu.Lock()
	p.blocked |= signal.Of(sig)
	p.frames++
	p.mu.Unlock()
	p.tracef("--- %s: handler 0x%x", signal.Name(sig), handler)
	regs.RIP = SignalTrampolineVA
	regs.RSP = frame
	regs.RDI, regs.RSI, regs.RDX = uint64(sig), handler, frame
	regs.RFLAGS &^= rflagsDF | rflagsTF // the ABI's flags at a call
	return true
}

// Flags a program may set in RFLAGS: the arithmetic flags and DF. The rest
// (TF, IOPL, AC, ...) stay as the engine runs every thread.
const (
	rflagsTF       = 1 << 8
	rflagsDF       = 1 << 10
	rflagsUserMask = 0xCD5 // CF PF AF ZF SF DF OF
)

// Sigreturn restores the registers saved in the signal frame at the stack
// pointer, after a handler has returned through the trampoline, and
// returns the restored RAX (the syscall's result register). With no valid
// frame (a program calling SIGRETURN itself) it ends the process with
// SIGSEGV.
func (p *Process) Sigreturn() uint64 {
	c := p.cpu
	regs := c.Regs()
	frame := regs.RSP
	var b [frameSize - fxsaveSize]byte
	p.mu.Lock()
	inHandler := p.frames > 0
	p.mu.Unlock()
	if !inHandler || p.as.ReadAt(b[:], frame+fxsaveSize) != nil ||
		binary.LittleEndian.Uint64(b[0:]) != frameMagic^frame {
		p.die(signal.SIGSEGV, "sigreturn without a signal frame")
		return regs.RAX
	}
	flags := regs.RFLAGS
	var saved cpu.Regs
	getRegs(b[16:], &saved)
	if saved.RIP >= 1<<47 {
		// Not a user address: no CPU could even enter it.
		p.die(signal.SIGSEGV, fmt.Sprintf("sigreturn to bad address 0x%x", saved.RIP))
		return regs.RAX
	}
	*regs = saved
	regs.RFLAGS = flags&^rflagsUserMask | regs.RFLAGS&rflagsUserMask
	p.mu.Lock()
	p.blocked = signal.Set(binary.LittleEndian.Uint64(b[8:]))
	p.frames--
	p.mu.Unlock()
	c.RestoreAll()
	return regs.RAX
}

func putRegs(b []byte, r *cpu.Regs) {
	for i, v := range regWords(r) {
		binary.LittleEndian.PutUint64(b[8*i:], *v)
	}
}

func getRegs(b []byte, r *cpu.Regs) {
	for i, v := range regWords(r) {
		*v = binary.LittleEndian.Uint64(b[8*i:])
	}
}

func regWords(r *cpu.Regs) []*uint64 {
	return []*uint64{&r.RAX, &r.RBX, &r.RCX, &r.RDX, &r.RSI, &r.RDI, &r.RSP, &r.RBP,
		&r.R8, &r.R9, &r.R10, &r.R11, &r.R12, &r.R13, &r.R14, &r.R15, &r.RIP, &r.RFLAGS}
}

// KillPid sends sig to process pid (> 0) for the kill syscall; sig 0 only
// checks that it exists.
func (p *Process) KillPid(pid, sig int) error {
	if sig < 0 || sig >= signal.NSIG || pid <= 0 {
		return errno.EINVAL
	}
	target := p.k.lookup(pid)
	if target == nil {
		return errno.ESRCH
	}
	if sig != 0 {
		target.Signal(sig)
	}
	return nil
}
