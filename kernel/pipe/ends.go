package pipe

import (
	"fmt"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

// Errors of a call on the wrong end: EBADF, as on Linux.
var (
	errNotWritable = fmt.Errorf("the read end of a pipe: %w", errno.EBADF)
	errNotReadable = fmt.Errorf("the write end of a pipe: %w", errno.EBADF)
)

// ReadEnd is the end of a pipe that is read.
type ReadEnd struct {
	p      *pipe
	closed atomic.Bool
}

// Read reads up to len(b) buffered bytes, waiting while the pipe is empty;
// 0 means end of file. It returns EINTR if cancel is closed while it waits.
func (r *ReadEnd) Read(b []byte, cancel <-chan struct{}) (int, error) {
	return r.p.read(b, cancel)
}

// Write fails: this end is not open for writing (EBADF).
func (r *ReadEnd) Write([]byte, <-chan struct{}) (int, error) { return 0, errNotWritable }

// Close closes the end; a second Close does nothing.
func (r *ReadEnd) Close() error {
	if !r.closed.Swap(true) {
		r.p.closeReader()
	}
	return nil
}

// Readiness reports EventIn when a read would not block, with EventHUp
// when that is because no writer is left.
func (r *ReadEnd) Readiness(mask waiter.EventMask) waiter.EventMask {
	return r.p.readReadiness(mask)
}

// EventRegister and EventUnregister add and remove a poller.
func (r *ReadEnd) EventRegister(e *waiter.Entry)   { r.p.q.EventRegister(e) }
func (r *ReadEnd) EventUnregister(e *waiter.Entry) { r.p.q.EventUnregister(e) }

// StatMode is the end's st_mode: a fifo.
func (r *ReadEnd) StatMode() uint32 { return Mode }

// WriteEnd is the end of a pipe that is written.
type WriteEnd struct {
	p      *pipe
	closed atomic.Bool
}

// Write writes all of b, waiting for room as needed (see the package doc
// for atomicity). It returns EPIPE when no read end is left, and stops
// early when cancel is closed: EINTR if nothing was written yet, otherwise
// the count written.
func (w *WriteEnd) Write(b []byte, cancel <-chan struct{}) (int, error) {
	return w.p.write(b, cancel)
}

// Read fails: this end is not open for reading (EBADF).
func (w *WriteEnd) Read([]byte, <-chan struct{}) (int, error) { return 0, errNotReadable }

// Close closes the end; a second Close does nothing.
func (w *WriteEnd) Close() error {
	if !w.closed.Swap(true) {
		w.p.closeWriter()
	}
	return nil
}

// Readiness reports EventOut when a write of AtomicSize bytes would not
// block, and EventErr when no reader is left.
func (w *WriteEnd) Readiness(mask waiter.EventMask) waiter.EventMask {
	return w.p.writeReadiness(mask)
}

// EventRegister and EventUnregister add and remove a poller.
func (w *WriteEnd) EventRegister(e *waiter.Entry)   { w.p.q.EventRegister(e) }
func (w *WriteEnd) EventUnregister(e *waiter.Entry) { w.p.q.EventUnregister(e) }

// StatMode is the end's st_mode: a fifo.
func (w *WriteEnd) StatMode() uint32 { return Mode }
