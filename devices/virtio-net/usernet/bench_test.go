package usernet

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// Bulk TCP through the backend and the test's guest stack, 64 KB per
// operation. The figures include the guest stack's own work (a second
// netstack in this process), so they are a floor for what the device path
// will see, not the backend's cost alone.

const benchChunk = 64 << 10

func BenchmarkHostToGuest(b *testing.B) {
	be := newBackend(b, Config{Forwards: []Forward{{GuestPort: 5001}}})
	g := newGuest(b, be, guestOptions{})
	l := g.listen(b, 5001)
	host, err := net.Dial("tcp", be.ForwardAddrs()[0].String())
	if err != nil {
		b.Fatal(err)
	}
	defer host.Close()
	gc, err := l.accept(10 * time.Second)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan int64)
	go func() {
		n, _ := io.Copy(io.Discard, gc)
		done <- n
	}()
	buf := make([]byte, benchChunk)
	b.SetBytes(benchChunk)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := host.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	host.(*net.TCPConn).CloseWrite()
	if n := <-done; n != int64(b.N)*benchChunk {
		b.Fatalf("guest got %d bytes, want %d", n, int64(b.N)*benchChunk)
	}
	b.StopTimer()
	gc.Close()
}

func BenchmarkGuestToHost(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchGuestToHost(b, guestOptions{}) })
	b.Run("offload", func(b *testing.B) { benchGuestToHost(b, guestOptions{offload: true}) })
}

func benchGuestToHost(b *testing.B, o guestOptions) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan int64)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- -1
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		done <- n
	}()
	be := newBackend(b, Config{})
	g := newGuest(b, be, o)
	c, err := g.dial(fmt.Sprintf("%v:%d", GatewayAddr, hostPort(ln.Addr())))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, benchChunk)
	b.SetBytes(benchChunk)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	c.CloseWrite()
	if n := <-done; n != int64(b.N)*benchChunk {
		b.Fatalf("host got %d bytes, want %d", n, int64(b.N)*benchChunk)
	}
	b.StopTimer()
	c.Close()
}
