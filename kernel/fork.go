package kernel

import (
	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

// Fork creates a child process: a copy-on-write copy of the address space,
// the same open files (shared descriptions, as in POSIX), the signal
// handlers and the syscall filter. The child starts from regs with 0 as the
// syscall's result. Fork returns the child's pid, or -1 when the process
// table (EAGAIN, as Linux says at its process limit) or guest memory
// (ENOMEM) is full.
func (p *Process) Fork(regs *cpu.Regs) (int, error) {
	if p.k.Processes() >= p.k.cfg.MaxProcs {
		return -1, errno.EAGAIN // checked again under the lock; this spares the copy
	}
	as, err := p.as.Fork()
	if err != nil {
		return -1, errno.ENOMEM
	}
	if err := p.k.mapKernelPages(as); err != nil {
		as.Release()
		return -1, errno.ENOMEM
	}
	child := p.k.newProcess(as, p.name)
	child.start = *regs
	child.start.RAX = 0
	if child.startFP, err = p.cpu.FPState(); err != nil {
		as.Release()
		return -1, errno.EIO
	}
	child.brk, child.heapEnd = p.brk, p.heapEnd
	child.filter = p.filter
	child.errnoAddr = p.errnoAddr
	child.fds = p.fds.Fork()
	p.mu.Lock()
	child.handlers = p.handlers
	// A child forked inside a handler returns through the same frames.
	child.blocked, child.frames = p.blocked, p.frames
	p.mu.Unlock()
	if err := p.k.register(child, p); err != nil {
		as.Release()
		child.fds.CloseAll()
		return -1, errno.EAGAIN
	}
	if err := p.k.Start(child); err != nil {
		child.fds.CloseAll()
		return -1, errno.ENOMEM
	}
	return child.pid, nil
}
