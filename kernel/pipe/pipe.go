// Package pipe implements Aurora's pipes: a bounded buffer of Capacity
// bytes with a read end and a write end, each an open file description in
// the kernel's fd table.
//
// The semantics are Linux's:
//
//   - Read returns what is buffered, up to the length asked for, and
//     blocks while the pipe is empty; it returns 0 (end of file) once the
//     pipe is empty and every write end is closed.
//   - Write blocks while there is no room, and returns only when every byte
//     is written. A write of at most AtomicSize bytes (POSIX's PIPE_BUF)
//     goes in as one piece, never interleaved with other writers' bytes; a
//     longer one may be split, and other writers' bytes may come between
//     the pieces.
//   - A write with no read end left fails with EPIPE; the kernel then
//     raises SIGPIPE in the writer (see kernel.Process.fileError).
//   - Both sides give up when their cancel channel is closed (a signal or
//     a kill): EINTR when nothing was transferred, otherwise the count
//     transferred so far.
//
// The ends are kernel Files by their method set alone (this package does
// not import the kernel): Read(b, cancel), Write(b, cancel) and Close, the
// poll interface (Readiness, EventRegister, EventUnregister) and StatMode,
// which fstat reports. The kernel closes a description once, when its last
// descriptor goes (across fork and dup2), so Close on an end means that
// end is gone.
package pipe

import (
	"sync"

	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

const (
	// Capacity is the most bytes a pipe holds, Linux's default.
	Capacity = 64 << 10
	// AtomicSize is PIPE_BUF: writes of at most this many bytes are
	// atomic.
	AtomicSize = 4096
	// Mode is the st_mode of both ends: a fifo (S_IFIFO), readable and
	// writable by its owner, as Linux reports a pipe.
	Mode = 0o010000 | 0o600
)

// pipe is the state both ends share.
type pipe struct {
	mu   sync.Mutex
	ring ring
	// readers and writers count the open ends.
	readers, writers int
	// readWait and writeWait are made by a reader or writer that must wait
	// and closed (then forgotten) by whatever may let it go on: a channel
	// is allocated only when somebody actually blocks.
	readWait, writeWait chan struct{}

	// q tells pollers of both ends about changes.
	q waiter.Queue
}

// New makes a pipe and returns its two ends.
func New() (*ReadEnd, *WriteEnd) {
	p := &pipe{readers: 1, writers: 1}
	return &ReadEnd{p: p}, &WriteEnd{p: p}
}

// waitOn returns the channel *ch, making it first if need be. Called with
// mu held.
func waitOn(ch *chan struct{}) <-chan struct{} {
	if *ch == nil {
		*ch = make(chan struct{})
	}
	return *ch
}

// wake releases everyone waiting on *ch. Called with mu held.
func wake(ch *chan struct{}) {
	if *ch != nil {
		close(*ch)
		*ch = nil
	}
}

// read implements ReadEnd.Read.
func (p *pipe) read(b []byte, cancel <-chan struct{}) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p.mu.Lock()
	for p.ring.len() == 0 {
		if p.writers == 0 {
			p.mu.Unlock()
			return 0, nil
		}
		ready := waitOn(&p.readWait)
		p.mu.Unlock()
		select {
		case <-ready:
		case <-cancel:
			return 0, errno.EINTR
		}
		p.mu.Lock()
	}
	n := p.ring.read(b)
	wake(&p.writeWait)
	p.mu.Unlock()
	p.q.Notify(waiter.EventOut)
	return n, nil
}

// write implements WriteEnd.Write.
func (p *pipe) write(b []byte, cancel <-chan struct{}) (int, error) {
	if len(b) == 0 {
		return 0, nil // as on Linux, even with no reader left
	}
	done := 0
	p.mu.Lock()
	for {
		if p.readers == 0 {
			p.mu.Unlock()
			return done, errno.EPIPE
		}
		// A small write waits until it fits whole (that is what makes it
		// atomic); a large one takes whatever room there is.
		free := p.ring.free()
		wrote := false
		if free > 0 && (len(b) > AtomicSize || free >= len(b)) {
			done += p.ring.write(b[done:])
			wake(&p.readWait)
			wrote = true
			if done == len(b) {
				p.mu.Unlock()
				p.q.Notify(waiter.EventIn)
				return done, nil
			}
		}
		ready := waitOn(&p.writeWait)
		p.mu.Unlock()
		if wrote {
			p.q.Notify(waiter.EventIn)
		}
		select {
		case <-ready:
		case <-cancel:
			if done > 0 {
				return done, nil // a partial write, as Linux reports it
			}
			return 0, errno.EINTR
		}
		p.mu.Lock()
	}
}

// closeReader drops one read end. With none left the buffered bytes can
// never be read, so they go, and writers learn of it (EPIPE).
func (p *pipe) closeReader() {
	p.mu.Lock()
	p.readers--
	if p.readers == 0 {
		p.ring.release()
		wake(&p.writeWait)
	}
	p.mu.Unlock()
	p.q.Notify(waiter.EventOut | waiter.EventErr)
}

// closeWriter drops one write end. With none left, readers see end of
// file once the buffer is drained.
func (p *pipe) closeWriter() {
	p.mu.Lock()
	p.writers--
	if p.writers == 0 {
		wake(&p.readWait)
	}
	p.mu.Unlock()
	p.q.Notify(waiter.EventIn | waiter.EventHUp)
}

// readReadiness is the read end's poll state: readable when there are
// bytes, or when no writer is left (read returns 0 at once; POLLHUP says
// why).
func (p *pipe) readReadiness(mask waiter.EventMask) waiter.EventMask {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ready waiter.EventMask
	if p.ring.len() > 0 {
		ready |= waiter.EventIn
	}
	if p.writers == 0 {
		ready |= waiter.EventIn | waiter.EventHUp
	}
	return ready & mask
}

// writeReadiness is the write end's poll state: writable when a write of
// AtomicSize bytes would not block (Linux's test is a free page of its
// buffer, the same amount), and an error when no reader is left.
func (p *pipe) writeReadiness(mask waiter.EventMask) waiter.EventMask {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ready waiter.EventMask
	if p.readers == 0 {
		ready |= waiter.EventErr | waiter.EventOut // a write fails at once
	} else if p.ring.free() >= AtomicSize {
		ready |= waiter.EventOut
	}
	return ready & mask
}
