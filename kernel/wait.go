package kernel

import (
	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/kernel/signal"
)

// finish turns the process into a zombie once its thread has stopped: its
// memory and files go, its children are given to process 1, and its parent
// learns of the end (SIGCHLD, and a wake-up for waitpid). When process 1
// ends, every other process is killed: the machine ends with it.
func (p *Process) finish() {
	p.as.Release()
	// After the release, which detached the process's segments: the ones
	// it created go now unless others are attached.
	p.k.shm.Exited(p.pid)
	p.fds.CloseAll()
	k := p.k
	k.mu.Lock()
	p.zombie = true
	p.endMsgQueue()
	init := k.init
	for c := range p.children {
		delete(p.children, c)
		if init == nil || init == p || init.zombie {
			c.parent = nil
			continue
		}
		c.parent = init
		init.children[c] = true
		if c.zombie {
			init.wakeWaiters()
		}
	}
	parent := p.parent
	if parent != nil {
		parent.mu.Lock()
		autoReap := parent.handlers[signal.SIGCHLD] == signal.Ignore
		parent.mu.Unlock()
		if autoReap {
			// POSIX: with SIGCHLD ignored, children leave no zombies.
			delete(parent.children, p)
			delete(k.procs, p.pid)
		}
		parent.wakeWaiters()
	}
	k.mu.Unlock()
	close(p.done)
	if parent != nil {
		parent.Signal(signal.SIGCHLD)
	}
	if p == init {
		k.killAll()
	}
}

// wakeWaiters wakes the process's waitpid calls. Called with k.mu held.
func (p *Process) wakeWaiters() {
	if p.childEv != nil {
		close(p.childEv)
		p.childEv = nil
	}
}

// Waitpid waits for a child to end and reaps it: pid > 0 names the child,
// pid <= 0 means any child (Aurora has no process groups). check is called
// with the child chosen, before it is reaped, and may refuse it (a bad
// status pointer); the child then stays a zombie. Waitpid returns the
// child's pid and status, or -1 when there is no matching child, check
// refused, or a signal interrupted the wait.
func (p *Process) Waitpid(pid int, check func() bool) (int, ExitStatus, error) {
	k := p.k
	for {
		k.mu.Lock()
		found := false
		for c := range p.children {
			if pid > 0 && c.pid != pid {
				continue
			}
			found = true
			if !c.zombie {
				continue
			}
			k.mu.Unlock()
			if !check() {
				return -1, ExitStatus{}, errno.EFAULT
			}
			k.mu.Lock()
			if !p.children[c] { // reaped meanwhile by another waiter
				k.mu.Unlock()
				return -1, ExitStatus{}, errno.ECHILD
			}
			delete(p.children, c)
			delete(k.procs, c.pid)
			k.mu.Unlock()
			return c.pid, c.status, nil
		}
		if !found {
			k.mu.Unlock()
			return -1, ExitStatus{}, errno.ECHILD
		}
		if p.childEv == nil {
			p.childEv = make(chan struct{})
		}
		ev := p.childEv
		k.mu.Unlock()
		if !p.block(ev) {
			return -1, ExitStatus{}, errno.EINTR
		}
	}
}
