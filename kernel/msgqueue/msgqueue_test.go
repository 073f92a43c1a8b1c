package msgqueue

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

var never = make(chan struct{})

// into returns a deliver function that copies a message into *dst.
func into(dst *[]byte) func([]byte) error {
	return func(m []byte) error {
		*dst = append((*dst)[:0], m...)
		return nil
	}
}

// blocked runs f on a goroutine, fails the test if it returns within a
// short while, and returns a channel that receives f's error when it does.
func blocked(t *testing.T, f func() error) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		t.Fatalf("returned %v instead of blocking", err)
	case <-time.After(50 * time.Millisecond):
	}
	return done
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("still blocked")
		return nil
	}
}

func TestMessagesComeOutWholeAndInOrder(t *testing.T) {
	q := New()
	for _, m := range []string{"one", "", "three", string(make([]byte, MaxSize))} {
		if err := q.Send([]byte(m), never); err != nil {
			t.Fatalf("send %q: %v", m, err)
		}
	}
	var got []byte
	for _, want := range []string{"one", "", "three", string(make([]byte, MaxSize))} {
		n, err := q.Receive(MaxSize, never, into(&got))
		if err != nil || n != len(want) || string(got) != want {
			t.Fatalf("receive: %d %q %v, want %q", n, got, err, want)
		}
	}
	if q.Len() != 0 {
		t.Fatalf("%d messages left", q.Len())
	}
}

func TestTooLongMessages(t *testing.T) {
	q := New()
	if err := q.Send(make([]byte, MaxSize+1), never); !errors.Is(err, errno.EINVAL) {
		t.Fatalf("send of %d bytes: %v, want EINVAL", MaxSize+1, err)
	}
	q.Send([]byte("0123456789"), never)
	var got []byte
	if _, err := q.Receive(4, never, into(&got)); !errors.Is(err, errno.E2BIG) {
		t.Fatalf("receive into 4 bytes: %v, want errno.E2BIG", err)
	}
	if n, err := q.Receive(10, never, into(&got)); n != 10 || err != nil || string(got) != "0123456789" {
		t.Fatalf("the message did not stay after errno.E2BIG: %d %q %v", n, got, err)
	}
}

func TestFailedDeliveryKeepsTheMessage(t *testing.T) {
	q := New()
	q.Send([]byte("keep"), never)
	bad := errors.New("bad address")
	if _, err := q.Receive(MaxSize, never, func([]byte) error { return bad }); err != bad {
		t.Fatalf("receive: %v, want deliver's error", err)
	}
	if q.Len() != 1 {
		t.Fatal("the message was lost")
	}
}

func TestReceiveBlocksUntilASend(t *testing.T) {
	q := New()
	var got []byte
	done := blocked(t, func() error {
		_, err := q.Receive(MaxSize, never, into(&got))
		return err
	})
	q.Send([]byte("wake"), never)
	if err := wait(t, done); err != nil || string(got) != "wake" {
		t.Fatalf("receive: %q %v", got, err)
	}
}

func TestFullQueueBlocksSenders(t *testing.T) {
	q := New()
	for i := 0; i < MaxMessages; i++ {
		if err := q.Send([]byte{byte(i)}, never); err != nil {
			t.Fatal(err)
		}
	}
	done := blocked(t, func() error { return q.Send([]byte{MaxMessages}, never) })
	var got []byte
	q.Receive(MaxSize, never, into(&got))
	if err := wait(t, done); err != nil {
		t.Fatalf("send after room was made: %v", err)
	}
	for i := 1; i <= MaxMessages; i++ {
		if _, err := q.Receive(MaxSize, never, into(&got)); err != nil || got[0] != byte(i) {
			t.Fatalf("message %d: %v %v", i, got, err)
		}
	}
}

func TestCancel(t *testing.T) {
	q := New()
	cancel := make(chan struct{})
	done := blocked(t, func() error {
		_, err := q.Receive(MaxSize, cancel, func([]byte) error { return nil })
		return err
	})
	close(cancel)
	if err := wait(t, done); !errors.Is(err, errno.EINTR) {
		t.Fatalf("receive: %v, want EINTR", err)
	}
	for i := 0; i < MaxMessages; i++ {
		q.Send(nil, never)
	}
	cancel = make(chan struct{})
	done = blocked(t, func() error { return q.Send(nil, cancel) })
	close(cancel)
	if err := wait(t, done); !errors.Is(err, errno.EINTR) {
		t.Fatalf("send: %v, want EINTR", err)
	}
}

func TestCloseFailsSendersWithESRCH(t *testing.T) {
	q := New()
	for i := 0; i < MaxMessages; i++ {
		q.Send(nil, never)
	}
	var senders []<-chan error
	for i := 0; i < 3; i++ {
		senders = append(senders, blocked(t, func() error { return q.Send([]byte("x"), never) }))
	}
	q.Close()
	for _, done := range senders {
		if err := wait(t, done); !errors.Is(err, errno.ESRCH) {
			t.Fatalf("blocked send: %v, want ESRCH", err)
		}
	}
	if err := q.Send(nil, never); !errors.Is(err, errno.ESRCH) {
		t.Fatalf("send after close: %v, want ESRCH", err)
	}
	if _, err := q.Receive(MaxSize, never, func([]byte) error { return nil }); !errors.Is(err, errno.ESRCH) {
		t.Fatalf("receive after close: %v, want ESRCH", err)
	}
	if q.Len() != 0 {
		t.Fatal("messages kept after close")
	}
}

// TestManySenders has senders race against one receiver: every message
// arrives once, and each sender's in the order it sent them.
func TestManySenders(t *testing.T) {
	q := New()
	const senders, each = 4, 500
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := q.Send([]byte(fmt.Sprintf("%d %d", s, i)), never); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	next := make([]int, senders)
	var got []byte
	for i := 0; i < senders*each; i++ {
		if _, err := q.Receive(MaxSize, never, into(&got)); err != nil {
			t.Fatal(err)
		}
		var s, n int
		fmt.Sscanf(string(got), "%d %d", &s, &n)
		if n != next[s] {
			t.Fatalf("sender %d: message %d came after %d", s, n, next[s]-1)
		}
		next[s]++
	}
	wg.Wait()
}

func TestSteadyStateAllocatesNothing(t *testing.T) {
	q := New()
	msg := make([]byte, MaxSize)
	discard := func([]byte) error { return nil }
	allocs := testing.AllocsPerRun(100, func() {
		q.Send(msg, never)
		q.Receive(MaxSize, never, discard)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per send and receive", allocs)
	}
}
