package kernel

import (
	"github.com/aurora-vm/aurora-vm/cpu"
)

// Fork creates a child process: a copy-on-write copy of the address space,
// the same open files (shared descriptions, as in POSIX), the signal
// handlers and the syscall filter. The child starts from regs with 0 as the
// syscall's result. Fork returns the child's pid, or -1 when the process
// table or guest memory is full.
func (p *Process) Fork(regs *cpu.Regs) int64 {
	if p.k.Processes() >= p.k.cfg.MaxProcs {
		return -1 // checked again under the lock; this spares the copy
	}
	as, err := p.as.Fork()
	if err != nil {
		return -1
	}
	if err := p.k.mapKernelPages(as); err != nil {
		as.Release()
		return -1
	}
	child := p.k.newProcess(as, p.name)
	child.start = *regs
	child.start.RAX = 0
	if child.startFP, err = p.cpu.FPState(); err != nil {
		as.Release()
		return -1
	}
	child.brk, child.heapEnd = p.brk, p.heapEnd
	child.filter = p.filter
	child.fds = p.fds.Fork()
	p.mu.Lock()
	child.handlers = p.handlers
	// A child forked inside a handler returns through the same frames.
	child.blocked, child.frames = p.blocked, p.frames
	p.mu.Unlock()
	if err := p.k.register(child, p); err != nil {
		as.Release()
		return -1
	}
	if err := p.k.Start(child); err != nil {
		return -1
	}
	return int64(child.pid)
}
