package kernel

import (
	"fmt"
	"io"
	"sync"

	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/kernel/signal"
	"github.com/aurora-vm/aurora-vm/kernel/vfs"
)

// File is an open file description: what a file descriptor refers to.
type File interface {
	// Read reads into b, and Write writes b. A call that has to wait
	// gives up with errInterrupted (EINTR) when cancel is closed: a signal
	// is pending (see Process.Interrupted). Errors carry an errno code.
	Read(b []byte, cancel <-chan struct{}) (int, error)
	Write(b []byte, cancel <-chan struct{}) (int, error)
	Close() error
}

// console is one of the host's standard streams. Host reads happen on a
// helper goroutine, one at a time: a reader that is killed stops waiting,
// and what the host read for it is kept for the next reader.
type console struct {
	r io.Reader
	w io.Writer

	// q tells pollers that input arrived.
	q waiter.Queue

	mu       sync.Mutex
	pending  []byte        // input read from the host, not yet handed out
	eof      bool          // the host read returned end of file; reported once
	err      error         // the host read failed
	inflight chan struct{} // closed when the outstanding host read completes
}

// Read implements File.
func (c *console) Read(b []byte, cancel <-chan struct{}) (int, error) {
	if c.r == nil {
		return 0, errNotReadable
	}
	if len(b) == 0 {
		return 0, nil
	}
	for {
		c.mu.Lock()
		switch {
		case len(c.pending) > 0:
			n := copy(b, c.pending)
			c.pending = c.pending[n:]
			c.mu.Unlock()
			return n, nil
		case c.eof:
			c.eof = false // a terminal can go on after ^D
			c.mu.Unlock()
			return 0, nil
		case c.err != nil:
			err := c.err
			c.mu.Unlock()
			return 0, err
		}
		done := c.inflight
		if done == nil {
			done = make(chan struct{})
			c.inflight = done
			go c.fill(len(b), done)
		}
		c.mu.Unlock()
		select {
		case <-done:
		case <-cancel:
			return 0, errInterrupted
		}
	}
}

// fill performs one host read of up to n bytes.
func (c *console) fill(n int, done chan struct{}) {
	buf := make([]byte, n)
	got, err := c.r.Read(buf)
	c.mu.Lock()
	c.pending = append(c.pending, buf[:got]...)
	switch {
	case err == io.EOF && got == 0:
		c.eof = true
	case err != nil && err != io.EOF:
		c.err = err
	}
	c.inflight = nil
	c.mu.Unlock()
	close(done)
	c.q.Notify(waiter.EventIn)
}

// Readiness implements Waitable. Asking whether input is there starts a
// host read when none is under way, so that a poller learns of input as a
// reader would.
func (c *console) Readiness(mask waiter.EventMask) waiter.EventMask {
	var ready waiter.EventMask
	if c.w != nil {
		ready |= waiter.EventOut
	}
	if c.r != nil && mask&waiter.EventIn != 0 {
		c.mu.Lock()
		switch {
		case len(c.pending) > 0 || c.eof || c.err != nil:
			ready |= waiter.EventIn
		case c.inflight == nil:
			c.inflight = make(chan struct{})
			go c.fill(4096, c.inflight)
		}
		c.mu.Unlock()
	}
	return ready & mask
}

// EventRegister and EventUnregister implement Waitable.
func (c *console) EventRegister(e *waiter.Entry)   { c.q.EventRegister(e) }
func (c *console) EventUnregister(e *waiter.Entry) { c.q.EventUnregister(e) }

func (c *console) Write(b []byte, _ <-chan struct{}) (int, error) {
	if c.w == nil {
		return 0, errNotWritable
	}
	return c.w.Write(b)
}

func (c *console) Close() error { return nil }

// StatMode gives fstat the console's type: a character device.
func (c *console) StatMode() uint32 { return vfs.S_IFCHR | 0o620 }

// Errors of the console; errInterrupted is what every blocking call
// returns when a signal cuts it short.
var (
	errNotReadable = fmt.Errorf("not open for reading: %w", errno.EBADF)
	errNotWritable = fmt.Errorf("not open for writing: %w", errno.EBADF)
	errInterrupted = errno.EINTR
)

// maxIO bounds the bytes one read or write moves, so a huge length cannot
// make the host allocate without limit; callers see a short count.
const maxIO = 1 << 20

// Write writes n bytes at guest address buf to fd.
func (p *Process) Write(fd int, buf, n uint64) (int64, error) {
	f := p.file(fd)
	if f == nil {
		return -1, errno.EBADF
	}
	data := p.ioBuffer(n)
	if err := p.as.ReadAt(data, buf); err != nil {
		return -1, errno.EFAULT
	}
	written, err := f.Write(data, p.Interrupted())
	if err != nil && written == 0 {
		return -1, p.fileError(err)
	}
	return int64(written), nil
}

// Read reads up to n bytes from fd into guest address buf.
func (p *Process) Read(fd int, buf, n uint64) (int64, error) {
	f := p.file(fd)
	if f == nil {
		return -1, errno.EBADF
	}
	n = min(n, maxIO)
	// Check the destination before blocking, so a bad pointer fails at once
	// and no input is consumed for it.
	if err := p.as.Access(buf, n, true, func([]byte) {}); err != nil {
		return -1, errno.EFAULT
	}
	data := p.ioBuffer(n)
	got, err := f.Read(data, p.Interrupted())
	if err != nil && got == 0 {
		return -1, p.fileError(err)
	}
	if err := p.as.WriteAt(data[:got], buf); err != nil {
		return -1, errno.EFAULT
	}
	return int64(got), nil
}

// ioBuffer returns a buffer of min(n, maxIO) bytes for one read or write:
// the process's own, reused from call to call (only its goroutine makes
// calls, and no File keeps the slice after returning), so streaming
// through a pipe or socket does not allocate per call.
func (p *Process) ioBuffer(n uint64) []byte {
	n = min(n, maxIO)
	if uint64(cap(p.iobuf)) < n {
		p.iobuf = make([]byte, n)
	}
	return p.iobuf[:n]
}

// fileError is what a failed file operation reports to the program. A
// write to a connection or pipe nobody will read raises SIGPIPE, as on
// Linux; the call returns -1 (EPIPE) if the program survives it.
func (p *Process) fileError(err error) error {
	if errno.Of(err) == errno.EPIPE {
		p.Signal(signal.SIGPIPE)
	}
	return err
}

func (p *Process) file(fd int) File { return p.fds.Get(fd) }

// FDs is the process's file descriptor table.
func (p *Process) FDs() *FDTable { return p.fds }
