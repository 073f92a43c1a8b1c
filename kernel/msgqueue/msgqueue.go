// Package msgqueue implements Aurora's message queues: every process has
// one queue of up to MaxMessages messages of at most MaxSize bytes, which
// any process may send to by pid and only its owner receives from.
//
// The semantics follow Linux's msgsnd and msgrcv (without IPC_NOWAIT or
// MSG_NOERROR), adapted to a queue per process:
//
//   - Send copies a message in, first in first out. It blocks while the
//     queue is full. A message longer than MaxSize is refused (EINVAL); an
//     empty one is a message like any other, as Linux allows.
//   - Receive hands over the oldest message whole and blocks while the
//     queue is empty. If the oldest message is longer than the receiver's
//     buffer, Receive fails with E2BIG and leaves it queued.
//   - Both give up with EINTR when their cancel channel is closed (a
//     signal or a kill).
//   - Close, when the owner ends, drops the messages and fails every
//     waiting and later Send with ESRCH: the process is gone.
package msgqueue

import (
	"sync"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

const (
	// MaxMessages is how many messages a queue holds.
	MaxMessages = 32
	// MaxSize is the largest message, in bytes.
	MaxSize = 256
)

// message is one queued message, held in place so that queueing one
// allocates nothing.
type message struct {
	n    int
	data [MaxSize]byte
}

// Queue is one process's message queue. Its zero value is not usable;
// call New.
type Queue struct {
	mu     sync.Mutex
	msgs   [MaxMessages]message // a ring: msgs[head] is the oldest
	head   int
	n      int
	closed bool
	// notEmpty and notFull are made by a receiver or sender that must
	// wait and closed (then forgotten) by the change it waits for.
	notEmpty, notFull chan struct{}
}

// New makes an empty queue.
func New() *Queue { return &Queue{} }

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

// Send queues a copy of data, waiting while the queue is full. It fails
// with EINVAL when data is longer than MaxSize, ESRCH when the queue is
// closed (before or while it waits) and EINTR when cancel is closed while
// it waits.
func (q *Queue) Send(data []byte, cancel <-chan struct{}) error {
	if len(data) > MaxSize {
		return errno.EINVAL
	}
	q.mu.Lock()
	for !q.closed && q.n == MaxMessages {
		ready := waitOn(&q.notFull)
		q.mu.Unlock()
		select {
		case <-ready:
		case <-cancel:
			return errno.EINTR
		}
		q.mu.Lock()
	}
	defer q.mu.Unlock()
	if q.closed {
		return errno.ESRCH
	}
	m := &q.msgs[(q.head+q.n)%MaxMessages]
	m.n = copy(m.data[:], data)
	q.n++
	wake(&q.notEmpty)
	return nil
}

// Receive waits for a message and passes it to deliver, which copies it
// out (to a program's memory). The message leaves the queue only if
// deliver succeeds; otherwise Receive returns deliver's error and the
// message stays first. A message longer than max is not delivered: E2BIG,
// and it stays first too. Receive returns the message's length, or EINTR
// when cancel is closed while it waits, or ESRCH once the queue is closed.
func (q *Queue) Receive(max int, cancel <-chan struct{}, deliver func(msg []byte) error) (int, error) {
	q.mu.Lock()
	for !q.closed && q.n == 0 {
		ready := waitOn(&q.notEmpty)
		q.mu.Unlock()
		select {
		case <-ready:
		case <-cancel:
			return 0, errno.EINTR
		}
		q.mu.Lock()
	}
	defer q.mu.Unlock()
	if q.closed {
		return 0, errno.ESRCH
	}
	m := &q.msgs[q.head]
	if m.n > max {
		return 0, errno.E2BIG
	}
	// Delivering under the lock keeps the message first until it is
	// safely out; deliver only copies, so senders wait no longer than a
	// copy.
	if err := deliver(m.data[:m.n]); err != nil {
		return 0, err
	}
	n := m.n
	q.head = (q.head + 1) % MaxMessages
	q.n--
	wake(&q.notFull)
	return n, nil
}

// Len is the number of queued messages.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// Close drops the queued messages and wakes every waiting sender and
// receiver, who fail with ESRCH, as every later Send and Receive does.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.n = 0
	wake(&q.notFull)
	wake(&q.notEmpty)
}
