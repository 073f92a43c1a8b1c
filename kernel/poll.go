package kernel

import (
	"time"

	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

// Waitable is a File whose readiness can be asked and waited for: sockets,
// the console, pipes. Events are poll(2)'s bits (waiter.EventIn is POLLIN).
// A File that is not Waitable is always ready, as regular files are.
type Waitable interface {
	Readiness(mask waiter.EventMask) waiter.EventMask
	EventRegister(e *waiter.Entry)
	EventUnregister(e *waiter.Entry)
}

// PollFD is one entry of poll's array, as struct pollfd lays it out.
type PollFD struct {
	FD      int32
	Events  int16
	Revents int16
}

// Poll bits with a meaning of their own in revents.
const (
	pollErr  = 0x08
	pollHup  = 0x10
	pollNval = 0x20
)

// Poll waits until one of fds is ready for its events, fills in every
// entry's Revents and returns how many are non-zero: 0 when timeout (< 0:
// none) passes first, EINTR when a signal interrupts the wait.
func (p *Process) Poll(fds []PollFD, timeout time.Duration) (int, error) {
	ready := make(chan struct{}, 1)
	entries := make([]waiter.Entry, len(fds))
	files := make([]File, len(fds))
	for i := range fds {
		files[i] = p.file(int(fds[i].FD))
		if w, ok := files[i].(Waitable); ok && fds[i].FD >= 0 {
			mask := waiter.EventMask(uint16(fds[i].Events)) | waiter.EventErr | waiter.EventHUp
			entries[i].Init(waiter.ChannelNotifier(ready), mask)
			w.EventRegister(&entries[i])
			defer w.EventUnregister(&entries[i])
		}
	}
	var expired <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	for {
		if n := scan(fds, files); n > 0 || timeout == 0 {
			return n, nil
		}
		select {
		case <-ready:
		case <-expired:
			return scan(fds, files), nil
		case <-p.Interrupted():
			return -1, errno.EINTR
		}
	}
}

// scan fills in Revents from each file's readiness now.
func scan(fds []PollFD, files []File) int {
	n := 0
	for i := range fds {
		fd := &fds[i]
		fd.Revents = 0
		switch f := files[i].(type) {
		case nil:
			if fd.FD >= 0 { // a negative fd is skipped, as poll(2) says
				fd.Revents = pollNval
			}
		case Waitable:
			mask := waiter.EventMask(uint16(fd.Events)) | waiter.EventErr | waiter.EventHUp
			fd.Revents = int16(f.Readiness(mask) & mask)
		default:
			fd.Revents = fd.Events & int16(waiter.EventIn|waiter.EventOut)
		}
		if fd.Revents != 0 {
			n++
		}
	}
	return n
}
