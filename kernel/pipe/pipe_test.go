package pipe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

// never is a cancel channel that is never closed.
var never = make(chan struct{})

// blocked runs f on a goroutine and fails the test if it returns within a
// short while; the returned channel receives f's results when it does.
func blocked(t *testing.T, f func() (int, error)) <-chan result {
	t.Helper()
	done := make(chan result, 1)
	go func() {
		n, err := f()
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("returned (%d, %v) instead of blocking", r.n, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	return done
}

type result struct {
	n   int
	err error
}

func wait(t *testing.T, done <-chan result) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("still blocked")
		return result{}
	}
}

func TestBytesComeOutInOrder(t *testing.T) {
	r, w := New()
	if n, err := w.Write([]byte("hello, "), never); n != 7 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	w.Write([]byte("pipe"), never)
	buf := make([]byte, 5)
	var got []byte
	for len(got) < 11 {
		n, err := r.Read(buf, never)
		if err != nil || n == 0 {
			t.Fatalf("read: %d, %v", n, err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "hello, pipe" {
		t.Fatalf("read %q", got)
	}
}

func TestRingWrapsAround(t *testing.T) {
	r, w := New()
	src := make([]byte, 3*Capacity+123)
	rand.New(rand.NewSource(1)).Read(src)
	var got []byte
	buf := make([]byte, 40000) // not a divisor of Capacity: reads straddle the end
	for off := 0; off < len(src); {
		n, _ := w.Write(src[off:min(off+30000, len(src))], never)
		off += n
		m, _ := r.Read(buf, never)
		got = append(got, buf[:m]...)
	}
	w.Close()
	for {
		m, _ := r.Read(buf, never)
		if m == 0 {
			break
		}
		got = append(got, buf[:m]...)
	}
	if !bytes.Equal(got, src) {
		t.Fatal("bytes changed on the way through")
	}
}

func TestReadBlocksUntilData(t *testing.T) {
	r, w := New()
	buf := make([]byte, 10)
	done := blocked(t, func() (int, error) { return r.Read(buf, never) })
	w.Write([]byte("abc"), never)
	if res := wait(t, done); res.n != 3 || res.err != nil || string(buf[:3]) != "abc" {
		t.Fatalf("read %d, %v, %q", res.n, res.err, buf[:res.n])
	}
}

func TestEndOfFileWhenWritersClose(t *testing.T) {
	r, w := New()
	w.Write([]byte("last"), never)
	w.Close()
	buf := make([]byte, 10)
	if n, _ := r.Read(buf, never); n != 4 {
		t.Fatalf("buffered bytes lost at close: read %d", n)
	}
	if n, err := r.Read(buf, never); n != 0 || err != nil {
		t.Fatalf("read after the writer closed: %d, %v; want end of file", n, err)
	}

	// A reader already waiting is woken with end of file.
	r2, w2 := New()
	done := blocked(t, func() (int, error) { return r2.Read(buf, never) })
	w2.Close()
	if res := wait(t, done); res.n != 0 || res.err != nil {
		t.Fatalf("blocked read: %d, %v; want end of file", res.n, res.err)
	}
}

func TestWriteWithoutReaderFailsWithEPIPE(t *testing.T) {
	r, w := New()
	r.Close()
	if n, err := w.Write([]byte("x"), never); n != 0 || !errors.Is(err, errno.EPIPE) {
		t.Fatalf("write: %d, %v; want EPIPE", n, err)
	}
	if n, err := w.Write(nil, never); n != 0 || err != nil {
		t.Fatalf("empty write: %d, %v; want 0 as on Linux", n, err)
	}

	// A writer blocked on a full pipe learns of the reader's end.
	r2, w2 := New()
	w2.Write(make([]byte, Capacity), never)
	done := blocked(t, func() (int, error) { return w2.Write([]byte("more"), never) })
	r2.Close()
	if res := wait(t, done); res.n != 0 || !errors.Is(res.err, errno.EPIPE) {
		t.Fatalf("blocked write: %d, %v; want EPIPE", res.n, res.err)
	}
}

func TestWriteBlocksWhenFull(t *testing.T) {
	r, w := New()
	if n, _ := w.Write(make([]byte, Capacity-10), never); n != Capacity-10 {
		t.Fatalf("wrote %d", n)
	}
	// 20 bytes do not fit in 10: a small write waits to go in whole.
	done := blocked(t, func() (int, error) { return w.Write(make([]byte, 20), never) })
	r.Read(make([]byte, 5), never)
	select {
	case res := <-done:
		t.Fatalf("a %d-byte write went in with 15 bytes free: atomicity broken", res.n)
	case <-time.After(30 * time.Millisecond):
	}
	r.Read(make([]byte, 5), never)
	if res := wait(t, done); res.n != 20 || res.err != nil {
		t.Fatalf("write: %d, %v", res.n, res.err)
	}
}

func TestLargeWriteReturnsWhenAllIsWritten(t *testing.T) {
	r, w := New()
	src := make([]byte, 5*Capacity/2)
	rand.New(rand.NewSource(2)).Read(src)
	done := blocked(t, func() (int, error) { return w.Write(src, never) })
	var got []byte
	buf := make([]byte, 8192)
	for len(got) < len(src) {
		n, _ := r.Read(buf, never)
		got = append(got, buf[:n]...)
	}
	if res := wait(t, done); res.n != len(src) || res.err != nil {
		t.Fatalf("write: %d, %v", res.n, res.err)
	}
	if !bytes.Equal(got, src) {
		t.Fatal("bytes changed on the way through")
	}
}

func TestCancelInterruptsBlockedCalls(t *testing.T) {
	r, w := New()
	cancel := make(chan struct{})
	done := blocked(t, func() (int, error) { return r.Read(make([]byte, 1), cancel) })
	close(cancel)
	if res := wait(t, done); res.n != 0 || !errors.Is(res.err, errno.EINTR) {
		t.Fatalf("read: %d, %v; want EINTR", res.n, res.err)
	}

	// A full pipe: a write that has written nothing gets EINTR.
	w.Write(make([]byte, Capacity), never)
	cancel = make(chan struct{})
	done = blocked(t, func() (int, error) { return w.Write([]byte("x"), cancel) })
	close(cancel)
	if res := wait(t, done); res.n != 0 || !errors.Is(res.err, errno.EINTR) {
		t.Fatalf("write: %d, %v; want EINTR", res.n, res.err)
	}

	// A large write cut short after some bytes reports them.
	r.Read(make([]byte, 1000), never)
	cancel = make(chan struct{})
	done = blocked(t, func() (int, error) { return w.Write(make([]byte, 2*Capacity), cancel) })
	close(cancel)
	if res := wait(t, done); res.n != 1000 || res.err != nil {
		t.Fatalf("write: %d, %v; want the 1000 bytes that fitted", res.n, res.err)
	}

	// Data ready is returned even with cancel closed: nothing had to wait.
	if n, err := r.Read(make([]byte, 10), cancel); n != 10 || err != nil {
		t.Fatalf("read with data and cancel closed: %d, %v", n, err)
	}
}

func TestWrongEndIsEBADF(t *testing.T) {
	r, w := New()
	if _, err := r.Write([]byte("x"), never); !errors.Is(err, errno.EBADF) {
		t.Errorf("write on the read end: %v", err)
	}
	if _, err := w.Read(make([]byte, 1), never); !errors.Is(err, errno.EBADF) {
		t.Errorf("read on the write end: %v", err)
	}
	if r.StatMode() != 0o010600 || w.StatMode() != 0o010600 {
		t.Errorf("modes %o %o, want a fifo", r.StatMode(), w.StatMode())
	}
}

func TestCloseTwiceCountsOnce(t *testing.T) {
	r, w := New()
	r.Close()
	r.Close()
	w.Close()
	w.Close()
	if r.p.readers != 0 || r.p.writers != 0 {
		t.Fatalf("readers %d, writers %d after closing each end twice", r.p.readers, r.p.writers)
	}
}

// TestSmallWritesAreAtomic has writers race to write records of up to
// AtomicSize bytes, each filled with its writer's id and ending in its own
// length, through a pipe read in odd-sized pieces: every record must come
// out whole.
func TestSmallWritesAreAtomic(t *testing.T) {
	r, w := New()
	const writers, records = 4, 400
	var wg sync.WaitGroup
	for id := 1; id <= writers; id++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(id)))
			for i := 0; i < records; i++ {
				rec := bytes.Repeat([]byte{byte(id)}, 8+rng.Intn(AtomicSize-8))
				binary.LittleEndian.PutUint32(rec, uint32(len(rec)))
				if n, err := w.Write(rec, never); n != len(rec) || err != nil {
					t.Errorf("write: %d, %v", n, err)
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); w.Close() }()

	var stream []byte
	buf := make([]byte, 777)
	for {
		n, err := r.Read(buf, never)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		stream = append(stream, buf[:n]...)
	}
	count := 0
	for len(stream) > 0 {
		size := int(binary.LittleEndian.Uint32(stream))
		if size < 8 || size > len(stream) {
			t.Fatalf("record %d: bad length %d", count, size)
		}
		id := stream[4]
		for _, c := range stream[4:size] {
			if c != id {
				t.Fatalf("record %d of writer %d has a byte of writer %d in it", count, id, c)
			}
		}
		stream = stream[size:]
		count++
	}
	if count != writers*records {
		t.Fatalf("%d records, want %d", count, writers*records)
	}
}

func TestReadiness(t *testing.T) {
	r, w := New()
	all := waiter.EventIn | waiter.EventOut | waiter.EventErr | waiter.EventHUp
	check := func(what string, got, want waiter.EventMask) {
		t.Helper()
		if got != want {
			t.Errorf("%s: readiness %#x, want %#x", what, got, want)
		}
	}
	check("empty, read end", r.Readiness(all), 0)
	check("empty, write end", w.Readiness(all), waiter.EventOut)

	entry, ch := waiter.NewChannelEntry(waiter.EventIn)
	r.EventRegister(&entry)
	defer r.EventUnregister(&entry)
	w.Write([]byte("x"), never)
	select {
	case <-ch:
	default:
		t.Error("a poller of the read end was not told of the write")
	}
	check("with data, read end", r.Readiness(all), waiter.EventIn)
	check("with data, mask without EventIn", r.Readiness(waiter.EventOut), 0)

	w.Write(make([]byte, Capacity-AtomicSize), never)
	check("almost full, write end", w.Readiness(all), 0)
	r.Read(make([]byte, 1), never)
	check("PIPE_BUF free, write end", w.Readiness(all), waiter.EventOut)

	w.Close()
	check("no writer, read end", r.Readiness(all), waiter.EventIn|waiter.EventHUp)

	r2, w2 := New()
	r2.Close()
	check("no reader, write end", w2.Readiness(all), waiter.EventOut|waiter.EventErr)
}

// TestSteadyStateAllocatesNothing: once a pipe's buffer exists, moving
// bytes through it allocates nothing.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	r, w := New()
	in, out := make([]byte, 4096), make([]byte, 4096)
	w.Write(in, never)
	r.Read(out, never)
	allocs := testing.AllocsPerRun(100, func() {
		w.Write(in, never)
		r.Read(out, never)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per write and read", allocs)
	}
}

// BenchmarkThroughput streams 64 KiB writes to a reader on another
// goroutine.
func BenchmarkThroughput(b *testing.B) {
	r, w := New()
	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if n, _ := r.Read(buf, never); n == 0 {
				return
			}
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Write(chunk, never)
	}
	w.Close()
}
