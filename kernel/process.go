package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/kernel/msgqueue"
	"github.com/aurora-vm/aurora-vm/kernel/signal"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// Process is one Aurora process: an address space, a file descriptor table,
// signal state and one thread of guest execution, which runs on a goroutine
// of its own locked to an OS thread (the engine's CPU belongs to it).
//
// Fields without a note belong to the process's own goroutine (or to its
// creator before it starts).
type Process struct {
	k    *Kernel
	pid  int
	name string
	as   *mmu.AddressSpace
	// start is the register file the thread begins with, and startFP its
	// x87/SSE state (nil: a clean one).
	start   cpu.Regs
	startFP []byte

	fds *FDTable

	// brk is the current program break; the heap is mapped from HeapStart
	// to heapEnd, the break rounded up to a page.
	brk, heapEnd uint64

	// filter is the syscall filter: a set bit blocks that syscall number.
	filter [32]byte
	// lastErr is the errno of the last failed call; errnoAddr, if set,
	// is where the program wants it written (the libc's errno).
	lastErr   errno.Errno
	errnoAddr uint64

	// iobuf is the buffer reads and writes move data through (ioBuffer).
	iobuf []byte

	// exec is the image a successful execve switches to when the call
	// returns.
	exec *execImage

	// exited is set once the thread must stop; status says how it ended.
	exited bool
	status ExitStatus

	// The process tree, guarded by k.mu.
	parent   *Process
	children map[*Process]bool
	zombie   bool          // ended, waiting to be reaped
	childEv  chan struct{} // closed when a child ends; waitpid waits on it
	done     chan struct{} // closed when the process has ended
	// msgq is the process's message queue, made by its first use and
	// closed when the process ends (see ipc.go).
	msgq *msgqueue.Queue

	// Signal state, guarded by mu.
	mu       sync.Mutex
	cpu      cpu.CPU // set while the thread runs, for Signal
	ended    bool    // signals have no effect any more
	handlers [signal.NSIG]uint64
	pending  signal.Set
	blocked  signal.Set
	// intr is closed while a signal that must cut a blocking call short is
	// pending; blocking calls select on it (see Interrupted).
	intr       chan struct{}
	intrClosed bool
	// frames counts signal frames on the guest stack that SIGRETURN may
	// still unwind.
	frames int
}

// Pid is the process id.
func (p *Process) Pid() int { return p.pid }

// Ppid is the parent's process id (0 for the first process).
func (p *Process) Ppid() int {
	p.k.mu.Lock()
	defer p.k.mu.Unlock()
	if p.parent == nil {
		return 0
	}
	return p.parent.pid
}

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

// run executes the process on the calling goroutine until it ends. ready
// receives nil once the CPU exists, or the reason there is none (the process
// then never runs).
func (p *Process) run(ready chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, err := p.k.cfg.Engine.NewCPU(p.as)
	if err != nil {
		ready <- err
		return
	}
	*c.Regs() = p.start
	if err := c.SetFPState(p.startFP); err != nil {
		c.Close()
		ready <- err
		return
	}
	p.startFP = nil
	p.mu.Lock()
	p.cpu = c
	// A signal sent before the CPU existed could not interrupt it.
	wake := p.deliverable() != 0
	p.mu.Unlock()
	if wake {
		c.Interrupt()
	}
	ready <- nil

	c = p.loop(c)

	p.mu.Lock()
	p.cpu = nil
	p.ended = true
	p.mu.Unlock()
	if c != nil {
		c.Close()
	}
	if p.status.Signal != 0 {
		p.tracef("+++ killed by %s +++", signal.Name(p.status.Signal))
	} else {
		p.tracef("+++ exited with %d +++", p.status.Code)
	}
	p.finish()
}

// tracef writes a line about the process to the trace, strace-style, when
// tracing is on.
func (p *Process) tracef(format string, args ...any) {
	if w := p.k.cfg.Trace; w != nil {
		fmt.Fprintf(w, "[%d] %s\n", p.pid, fmt.Sprintf(format, args...))
	}
}

// loop runs guest code and serves its traps until the process ends. It
// returns the CPU the thread ended on (execve moves it to a new one), or
// nil when none is left to close.
func (p *Process) loop(c cpu.CPU) cpu.CPU {
	regs := c.Regs()
	for !p.exited {
		ex, err := c.Run()
		if err != nil {
			p.die(signal.SIGKILL, fmt.Sprintf("engine failure: %v", err))
			return c
		}
		switch ex.Kind {
		case cpu.ExitSyscall:
			p.k.cfg.Syscalls(p, regs)
			if p.exec != nil {
				if c = p.switchImage(c); c == nil {
					return nil
				}
				regs = c.Regs()
			}
		case cpu.ExitFault:
			p.fault(c, ex.Fault)
		case cpu.ExitInterrupted:
		}
		if !p.exited {
			p.deliverSignals(c)
		}
	}
	return c
}

// fault handles a CPU exception: a copy-on-write page is copied and the
// instruction retried; anything else raises the fault's signal, which kills
// the process unless it has a handler for it.
func (p *Process) fault(c cpu.CPU, f cpu.Fault) {
	if f.Vector == cpu.VecPageFault && f.ErrorCode&1 != 0 {
		retry, err := p.as.HandleFault(f.Addr, f.ErrorCode&2 != 0)
		if errors.Is(err, mmu.ErrNoMemory) {
			p.die(signal.SIGKILL, "out of guest memory copying a page on write")
			return
		}
		if retry {
			return
		}
	}
	sig := f.Signal()
	p.mu.Lock()
	h := p.handlers[sig]
	caught := h > signal.Ignore && !p.blocked.Has(sig)
	p.mu.Unlock()
	if !caught || !p.enterHandler(c, sig, h) {
		p.die(sig, p.explain(f))
	}
}

// explain describes a fault in one line, with what the address was to the
// program where that helps: a NULL pointer, the end of the stack, or the
// mapping whose permissions refused the access.
func (p *Process) explain(f cpu.Fault) string {
	line := f.String()
	if f.Vector == cpu.VecInvalidOp {
		return line + p.codeBytes(f.PC)
	}
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

// codeBytes shows the bytes at pc, so that an instruction an engine does
// not know can be looked up: " (bytes 0f 0b ...)", up to the longest x86
// instruction or the first byte that cannot be read.
func (p *Process) codeBytes(pc uint64) string {
	var b strings.Builder
	var one [1]byte
	for i := uint64(0); i < 15 && p.as.ReadAt(one[:], pc+i) == nil; i++ {
		if i == 8 {
			b.WriteString(" ...")
			break
		}
		fmt.Fprintf(&b, " %02x", one[0])
	}
	if b.Len() == 0 {
		return ""
	}
	return " (bytes" + b.String() + ")"
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
func (p *Process) die(sig int, reason string) {
	p.exited = true
	p.status = ExitStatus{Signal: sig, Reason: reason}
}

// Kill sends sig to the process, as the kill syscall does; the host uses
// it for --timeout (SIGKILL) and to pass on Ctrl-C.
func (p *Process) Kill(sig int) { p.Signal(sig) }

// Interrupted returns a channel that is closed while a signal is pending
// that must cut a blocking call short: blocking calls select on it and
// return -1 (the kernel's one blocking primitive, see block).
func (p *Process) Interrupted() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.intr
}

// block waits until ready is closed and reports true, or until a signal
// interrupts the wait and reports false.
func (p *Process) block(ready <-chan struct{}) bool {
	select {
	case <-ready:
		return true
	case <-p.Interrupted():
		return false
	}
}

// Sleep blocks for d, or until a signal cuts it short (EINTR).
func (p *Process) Sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-p.Interrupted():
		return errno.EINTR
	}
}

// Yield gives other goroutines a chance to run.
func (p *Process) Yield() { runtime.Gosched() }

// SetErrno records why the last call failed and writes the code to the
// program's errno, if it registered one (SetErrnoAddr).
func (p *Process) SetErrno(e errno.Errno) {
	p.lastErr = e
	if p.errnoAddr != 0 {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(e))
		if p.as.WriteAt(b[:], p.errnoAddr) != nil {
			p.errnoAddr = 0 // no longer writable: stop trying
		}
	}
}

// LastErrno is the errno of the last failed call.
func (p *Process) LastErrno() errno.Errno { return p.lastErr }

// SetErrnoAddr registers the guest address of the program's errno; 0
// unregisters it.
func (p *Process) SetErrnoAddr(addr uint64) error {
	if addr != 0 && p.as.Access(addr, 4, true, func([]byte) {}) != nil {
		return errno.EFAULT
	}
	p.errnoAddr = addr
	return nil
}

// SetFilter replaces the syscall filter.
func (p *Process) SetFilter(bitmap [32]byte) { p.filter = bitmap }

// Filtered reports whether the syscall filter has the bit for num set.
func (p *Process) Filtered(num uint64) bool {
	return num < 256 && p.filter[num/8]&(1<<(num%8)) != 0
}

// Regs is the thread's register file; valid on the process's own goroutine
// while it serves a trap.
func (p *Process) Regs() *cpu.Regs { return p.cpu.Regs() }
