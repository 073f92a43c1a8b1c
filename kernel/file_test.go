package kernel

import (
	"errors"
	"io"
	"testing"
	"time"
)

func TestConsoleReadGivesWayToCancel(t *testing.T) {
	r, w := io.Pipe()
	c := &console{r: r}
	cancel := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 8), cancel)
		result <- err
	}()
	select {
	case err := <-result:
		t.Fatalf("read returned %v with no input", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(cancel)
	select {
	case err := <-result:
		if !errors.Is(err, errInterrupted) {
			t.Fatalf("cancelled read returned %v, want errInterrupted", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled read did not return")
	}

	// The host read started for the cancelled reader completes later; its
	// input goes to the next reader instead of being lost.
	go func() {
		w.Write([]byte("abc"))
		w.Close()
	}()
	b := make([]byte, 8)
	n, err := c.Read(b, nil)
	if err != nil || string(b[:n]) != "abc" {
		t.Fatalf("next read got %q, %v; want the input written after the cancel", b[:n], err)
	}
	if n, err := c.Read(b, nil); n != 0 || err != nil {
		t.Fatalf("read at end of input = %d, %v; want 0, nil", n, err)
	}
}

func TestConsoleReadsInPieces(t *testing.T) {
	r, w := io.Pipe()
	c := &console{r: r}
	go w.Write([]byte("hello"))
	var got []byte
	for len(got) < 5 {
		b := make([]byte, 2)
		n, err := c.Read(b, nil)
		if err != nil || n == 0 {
			t.Fatalf("read = %d, %v after %q", n, err, got)
		}
		got = append(got, b[:n]...)
	}
	if string(got) != "hello" {
		t.Fatalf("got %q, want hello", got)
	}
}

func TestConsoleWithoutReaderRefusesReads(t *testing.T) {
	c := &console{}
	if _, err := c.Read(make([]byte, 1), nil); !errors.Is(err, errNotReadable) {
		t.Fatalf("read from an output console: %v", err)
	}
}
