package kernel

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/kernel/msgqueue"
	"github.com/aurora-vm/aurora-vm/kernel/pipe"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// withHeap gives a test process one writable heap page at HeapStart.
func withHeap(t *testing.T, p *Process) uint64 {
	t.Helper()
	if p.Brk(HeapStart+mmu.PageSize) != HeapStart+mmu.PageSize {
		t.Fatal("no heap")
	}
	return HeapStart
}

func TestPipeInstallsBothEnds(t *testing.T) {
	p := newTestProcess(t, 16<<20)
	heap := withHeap(t, p)
	if err := p.Pipe(heap); err != nil {
		t.Fatal(err)
	}
	var fds [8]byte
	p.as.ReadAt(fds[:], heap)
	rfd, wfd := int(binary.LittleEndian.Uint32(fds[0:])), int(binary.LittleEndian.Uint32(fds[4:]))
	if rfd != 3 || wfd != 4 {
		t.Fatalf("descriptors %d and %d, want 3 and 4", rfd, wfd)
	}
	if _, ok := p.file(rfd).(*pipe.ReadEnd); !ok {
		t.Fatalf("fd %d is %T, want the read end", rfd, p.file(rfd))
	}
	if _, ok := p.file(wfd).(*pipe.WriteEnd); !ok {
		t.Fatalf("fd %d is %T, want the write end", wfd, p.file(wfd))
	}
	// Through the process's read and write calls, guest memory to guest
	// memory.
	p.as.WriteAt([]byte("ping"), heap+64)
	if n, err := p.Write(wfd, heap+64, 4); n != 4 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	if n, err := p.Read(rfd, heap+128, 16); n != 4 || err != nil {
		t.Fatalf("read: %d, %v", n, err)
	}
	got := make([]byte, 4)
	p.as.ReadAt(got, heap+128)
	if string(got) != "ping" {
		t.Fatalf("read %q", got)
	}
	if _, err := p.Read(wfd, heap, 1); !errors.Is(err, errno.EBADF) {
		t.Errorf("read from the write end: %v, want EBADF", err)
	}
}

func TestPipeFailuresLeakNoDescriptor(t *testing.T) {
	p := newTestProcess(t, 16<<20)
	heap := withHeap(t, p)
	if err := p.Pipe(0); !errors.Is(err, errno.EFAULT) {
		t.Fatalf("pipe(NULL): %v, want EFAULT", err)
	}
	if err := p.Pipe(ImageBase); !errors.Is(err, errno.EFAULT) {
		t.Fatalf("pipe into the read-only image: %v, want EFAULT", err)
	}
	// Leave one descriptor free: too few for a pipe.
	for fd := 3; fd < MaxFDs-1; fd++ {
		if got, _ := p.fds.Install(&console{}); got != fd {
			t.Fatalf("descriptor %d, want %d: a failed pipe left one installed", got, fd)
		}
	}
	if err := p.Pipe(heap); !errors.Is(err, errno.EMFILE) {
		t.Fatalf("pipe with one free descriptor: %v, want EMFILE", err)
	}
	if got, _ := p.fds.Install(&console{}); got != MaxFDs-1 {
		t.Fatalf("descriptor %d, want %d: the failed pipe kept it", got, MaxFDs-1)
	}
}

func TestMessageQueueEndsWithItsProcess(t *testing.T) {
	sender := newTestProcess(t, 32<<20)
	k := sender.k
	img, _ := ParseELF(goodELF().bytes())
	target, err := k.Spawn(img, []string{"target"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	heap := withHeap(t, sender)

	if err := sender.Msgsnd(target.pid, heap, msgqueue.MaxSize+1); !errors.Is(err, errno.EINVAL) {
		t.Fatalf("msgsnd of %d bytes: %v, want EINVAL", msgqueue.MaxSize+1, err)
	}
	if err := sender.Msgsnd(9999, heap, 1); !errors.Is(err, errno.ESRCH) {
		t.Fatalf("msgsnd to no process: %v, want ESRCH", err)
	}
	for i := 0; i < msgqueue.MaxMessages; i++ {
		if err := sender.Msgsnd(target.pid, heap, 8); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- sender.Msgsnd(target.pid, heap, 8) }()
	select {
	case err := <-done:
		t.Fatalf("msgsnd to a full queue returned %v", err)
	case <-time.After(50 * time.Millisecond):
	}

	target.finish() // it never ran; this ends it all the same
	select {
	case err := <-done:
		if !errors.Is(err, errno.ESRCH) {
			t.Fatalf("blocked msgsnd: %v, want ESRCH", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the blocked sender was not woken when the target ended")
	}
	k.mu.Lock()
	freed := target.msgq == nil
	k.mu.Unlock()
	if !freed {
		t.Error("the zombie still holds its queue")
	}
	if err := sender.Msgsnd(target.pid, heap, 1); !errors.Is(err, errno.ESRCH) {
		t.Fatalf("msgsnd to a zombie: %v, want ESRCH", err)
	}
}

func TestMsgrcvLeavesWhatItCannotDeliver(t *testing.T) {
	p := newTestProcess(t, 16<<20)
	heap := withHeap(t, p)
	p.as.WriteAt([]byte("0123456789"), heap)
	if err := p.Msgsnd(p.pid, heap, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Msgrcv(heap+512, 4); !errors.Is(err, errno.E2BIG) {
		t.Fatalf("msgrcv into 4 bytes: %v, want E2BIG", err)
	}
	if _, err := p.Msgrcv(ImageBase, 100); !errors.Is(err, errno.EFAULT) {
		t.Fatalf("msgrcv into read-only memory: %v, want EFAULT", err)
	}
	if n, err := p.Msgrcv(heap+512, 1000); n != 10 || err != nil {
		t.Fatalf("msgrcv: %d, %v", n, err)
	}
	got := make([]byte, 10)
	p.as.ReadAt(got, heap+512)
	if string(got) != "0123456789" {
		t.Fatalf("received %q", got)
	}
}
