package kernel

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// MaxFDs is the size of a process's file descriptor table.
const MaxFDs = 32

// Process is one Aurora process: an address space, a file descriptor table
// and one thread of guest execution.
type Process struct {
	k     *Kernel
	pid   int
	ppid  int
	name  string
	as    *mmu.AddressSpace
	entry uint64
	sp    uint64

	fds [MaxFDs]File

	// brk is the current program break. The heap is mapped from HeapStart
	// to heapEnd, which runs ahead of the break to the next large-page
	// boundary where memory allows, so that the heap grows in large pages.
	brk, heapEnd uint64

	// exited is set by the exit syscall; the run loop stops after it.
	exited bool
	status ExitStatus

	done     chan struct{} // closed when the process has ended
	kill     chan struct{} // closed by Kill
	killOnce sync.Once
	killSig  int

	mu  sync.Mutex
	cpu cpu.CPU // set while running, for Kill
}

// Pid is the process id.
func (p *Process) Pid() int { return p.pid }

// Ppid is the parent's process id (0 for the first process).
func (p *Process) Ppid() int { return p.ppid }

// Name is the program path the process was started from.
func (p *Process) Name() string { return p.name }

// Memory is the process's address space.
func (p *Process) Memory() *mmu.AddressSpace { return p.as }

// Kernel is the kernel the process runs in.
func (p *Process) Kernel() *Kernel { return p.k }

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Status is how the process ended; valid once Done is closed.
func (p *Process) Status() ExitStatus { return p.status }

// Run executes the process until it exits or is killed, on the calling
// goroutine, which it locks to its OS thread as the engine requires.
func (p *Process) Run() ExitStatus {
	defer close(p.done)
	defer p.as.Release()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	c, err := p.k.cfg.Engine.NewCPU(p.as)
	if err != nil {
		return p.die(cpu.SIGKILL, fmt.Sprintf("cannot create a CPU: %v", err))
	}
	defer c.Close()
	p.mu.Lock()
	p.cpu = c
	killed := p.killSig != 0
	p.mu.Unlock()
	if killed {
		c.Interrupt()
	}
	regs := c.Regs()
	regs.RIP, regs.RSP = p.entry, p.sp

	for !p.exited {
		ex, err := c.Run()
		if err != nil {
			return p.die(cpu.SIGKILL, fmt.Sprintf("engine failure: %v", err))
		}
		switch ex.Kind {
		case cpu.ExitSyscall:
			p.k.cfg.Syscalls(p, regs)
		case cpu.ExitFault:
			return p.die(ex.Fault.Signal(), p.explain(ex.Fault))
		case cpu.ExitInterrupted:
		}
		if sig := p.pendingKill(); sig != 0 && !p.exited {
			return p.die(sig, "")
		}
	}
	return p.status
}

// explain describes a fault in one line, with what the address was to the
// program where that helps: a NULL pointer, the end of the stack, or the
// mapping whose permissions refused the access.
func (p *Process) explain(f cpu.Fault) string {
	line := f.String()
	if f.Vector != cpu.VecPageFault {
		return line
	}
	stackBottom := uint64(StackTop - StackSize)
	switch m, mapped := p.as.Find(f.Addr); {
	case mapped:
		return fmt.Sprintf("%s (%s, %v)", line, m.Name, m.Perm)
	case f.Addr < nullGuard:
		return line + " (NULL pointer)"
	case f.Addr < stackBottom && f.Addr >= stackBottom-StackSize:
		return fmt.Sprintf("%s (stack overflow: the stack is %d MiB)", line, StackSize>>20)
	}
	return line
}

// nullGuard is how far above address 0 an access still counts as through
// a NULL pointer (a field of a struct at NULL, say). Nothing is mapped
// below mmu.UserStart, and programs start at ImageBase.
const nullGuard = 0x10000

// Exit ends the process with an exit code, as the exit syscall does.
func (p *Process) Exit(code int) {
	p.exited = true
	p.status = ExitStatus{Code: code & 0xFF}
}

// die ends the process by a signal.
func (p *Process) die(sig int, reason string) ExitStatus {
	p.exited = true
	p.status = ExitStatus{Signal: sig, Reason: reason}
	return p.status
}

// Kill delivers a terminating signal from another goroutine: the process
// stops at its next trap or, if it is computing, as soon as its CPU is
// interrupted; a blocking syscall returns early.
func (p *Process) Kill(sig int) {
	p.killOnce.Do(func() {
		p.mu.Lock()
		p.killSig = sig
		c := p.cpu
		p.mu.Unlock()
		close(p.kill)
		if c != nil {
			c.Interrupt()
		}
	})
}

func (p *Process) pendingKill() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killSig
}

// Sleep blocks for d or until the process is killed.
func (p *Process) Sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.kill:
	}
}

// Yield gives other goroutines a chance to run.
func (p *Process) Yield() { runtime.Gosched() }
