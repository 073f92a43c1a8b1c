package kernel

import (
	"encoding/binary"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/kernel/msgqueue"
	"github.com/aurora-vm/aurora-vm/kernel/pipe"
)

// The interprocess calls: pipes (package pipe) and message queues
// (package msgqueue). Both block through the kernel's one primitive, the
// Interrupted channel, so signals and kills cut them short.

// Pipe makes a pipe, installs its read end and its write end at the two
// lowest free descriptors, and writes the two descriptors as int32s at
// guest address fdsAddr. On failure (a bad pointer: EFAULT; fewer than two
// free descriptors: EMFILE) no descriptor stays installed and the pipe is
// gone.
func (p *Process) Pipe(fdsAddr uint64) error {
	// Checked first: afterwards the only way to fail is a full table.
	if p.as.Access(fdsAddr, 8, true, func([]byte) {}) != nil {
		return errno.EFAULT
	}
	r, w := pipe.New()
	rfd, err := p.fds.Install(r) // closes r if the table is full
	if err != nil {
		w.Close()
		return err
	}
	wfd, err := p.fds.Install(w)
	if err != nil {
		p.fds.Close(rfd)
		return err
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(rfd))
	binary.LittleEndian.PutUint32(b[4:], uint32(wfd))
	if p.as.WriteAt(b[:], fdsAddr) != nil {
		p.fds.Close(rfd)
		p.fds.Close(wfd)
		return errno.EFAULT
	}
	return nil
}

// Msgsnd sends the n bytes at guest address addr to process pid's message
// queue, waiting while it is full. EINVAL when n exceeds msgqueue.MaxSize,
// EFAULT for a bad pointer, ESRCH when pid names no live process (or it
// ends while the sender waits), EINTR when a signal cuts the wait short.
func (p *Process) Msgsnd(pid int, addr, n uint64) error {
	if n > msgqueue.MaxSize {
		return errno.EINVAL
	}
	var buf [msgqueue.MaxSize]byte
	data := buf[:n]
	if p.as.ReadAt(data, addr) != nil {
		return errno.EFAULT
	}
	q, err := p.k.msgQueue(pid)
	if err != nil {
		return err
	}
	return q.Send(data, p.Interrupted())
}

// Msgrcv takes the oldest message off the caller's queue into guest
// address addr (at most max bytes), waiting while the queue is empty, and
// returns its length. A message longer than max stays queued and the call
// fails with E2BIG; one that cannot be written to addr stays queued too
// (EFAULT).
func (p *Process) Msgrcv(addr, max uint64) (int, error) {
	q, err := p.k.msgQueue(p.pid)
	if err != nil {
		return -1, err
	}
	return q.Receive(int(min(max, msgqueue.MaxSize)), p.Interrupted(), func(msg []byte) error {
		if p.as.WriteAt(msg, addr) != nil {
			return errno.EFAULT
		}
		return nil
	})
}

// msgQueue returns the message queue of process pid, making it on first
// use: ESRCH when there is no such process or it has ended (a zombie has
// no queue).
func (k *Kernel) msgQueue(pid int) (*msgqueue.Queue, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	t := k.procs[pid]
	if t == nil || t.zombie {
		return nil, errno.ESRCH
	}
	if t.msgq == nil {
		t.msgq = msgqueue.New()
	}
	return t.msgq, nil
}

// endMsgQueue frees the queue of a process that has ended or never ran:
// its messages go, and senders waiting on it fail with ESRCH. Called with
// k.mu held, once the process can no longer be given a new queue (it is a
// zombie or out of the table).
func (p *Process) endMsgQueue() {
	if p.msgq != nil {
		p.msgq.Close()
		p.msgq = nil
	}
}
