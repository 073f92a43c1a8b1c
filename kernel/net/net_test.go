package net

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

var localhost = [4]byte{127, 0, 0, 1}

func newStack(t *testing.T) *Stack {
	t.Helper()
	st, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func mustSocket(t *testing.T, st *Stack, udp bool) *Socket {
	t.Helper()
	s, err := st.NewSocket(udp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// pair returns a connected client and server socket on port.
func pair(t *testing.T, st *Stack, port uint16) (client, server *Socket) {
	t.Helper()
	l := mustSocket(t, st, false)
	if err := l.Bind(port); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(); err != nil {
		t.Fatal(err)
	}
	client = mustSocket(t, st, false)
	if err := client.Connect(Addr{localhost, port}, nil); err != nil {
		t.Fatal(err)
	}
	server, peer, err := l.Accept(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	if local, _ := client.LocalAddr(); peer != local {
		t.Errorf("accept saw %v, client is %v", peer, local)
	}
	return client, server
}

func TestStreamCarriesEveryByteThenEOF(t *testing.T) {
	st := newStack(t)
	client, server := pair(t, st, 8000)
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	go func() {
		for sent := 0; sent < len(data); {
			n, err := client.Send(data[sent:], nil, nil)
			if err != nil {
				t.Error(err)
				return
			}
			sent += n
		}
		client.Shutdown(1)
	}()
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, _, err := server.Recv(buf, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("received %d bytes, not the %d sent", len(got), len(data))
	}
}

func TestErrors(t *testing.T) {
	st := newStack(t)
	s := mustSocket(t, st, false)
	if err := s.Connect(Addr{localhost, 1}, nil); !errors.Is(err, errno.ECONNREFUSED) {
		t.Errorf("connect to a closed port: %v, want ECONNREFUSED", err)
	}
	s2 := mustSocket(t, st, false)
	if err := s2.Connect(Addr{[4]byte{93, 184, 216, 34}, 80}, nil); !errors.Is(err, errno.ENETUNREACH) {
		t.Errorf("connect with no route: %v, want ENETUNREACH", err)
	}
	unbound := mustSocket(t, st, false)
	if err := unbound.Listen(); !errors.Is(err, errno.EINVAL) {
		t.Errorf("listen unbound: %v, want EINVAL", err)
	}
	a, b, c := mustSocket(t, st, false), mustSocket(t, st, false), mustSocket(t, st, false)
	a.Bind(9000)
	a.Listen()
	if err := b.Bind(9000); !errors.Is(err, errno.EADDRINUSE) {
		t.Errorf("bind to a listening port: %v, want EADDRINUSE", err)
	}
	// A port is in use as soon as a socket has bound it, listening or not,
	// and free again once that socket is closed.
	d := mustSocket(t, st, false)
	c.Bind(9001)
	if err := d.Bind(9001); !errors.Is(err, errno.EADDRINUSE) {
		t.Errorf("bind to a bound port: %v, want EADDRINUSE", err)
	}
	c.Close()
	if err := d.Bind(9001); err != nil {
		t.Errorf("bind after the holder closed: %v", err)
	}
}

func TestWaitsEndEarly(t *testing.T) {
	st := newStack(t)
	_, server := pair(t, st, 8001)
	buf := make([]byte, 10)

	server.SetNonblocking(true)
	if _, _, err := server.Recv(buf, nil); !errors.Is(err, errno.EAGAIN) {
		t.Errorf("non-blocking recv: %v, want EAGAIN", err)
	}
	server.SetNonblocking(false)

	server.SetTimeout(false, 20*time.Millisecond)
	start := time.Now()
	if _, _, err := server.Recv(buf, nil); !errors.Is(err, errno.EAGAIN) || time.Since(start) < 20*time.Millisecond {
		t.Errorf("recv with a timeout: %v after %v, want EAGAIN after 20ms", err, time.Since(start))
	}
	server.SetTimeout(false, 0)

	cancel := make(chan struct{})
	go func() { time.Sleep(10 * time.Millisecond); close(cancel) }()
	if _, _, err := server.Recv(buf, cancel); !errors.Is(err, errno.EINTR) {
		t.Errorf("cancelled recv: %v, want EINTR", err)
	}
}

func TestDatagrams(t *testing.T) {
	st := newStack(t)
	rx, tx := mustSocket(t, st, true), mustSocket(t, st, true)
	if err := rx.Bind(5000); err != nil {
		t.Fatal(err)
	}
	const count = 1000
	for i := 0; i < count; i++ {
		if _, err := tx.Send([]byte{byte(i), byte(i >> 8)}, &Addr{localhost, 5000}, nil); err != nil {
			t.Fatal(err)
		}
	}
	from, _ := tx.LocalAddr()
	buf := make([]byte, 16)
	for i := 0; i < count; i++ {
		n, sender, err := rx.Recv(buf, nil)
		if err != nil || n != 2 || int(buf[0])|int(buf[1])<<8 != i {
			t.Fatalf("datagram %d: %d bytes %v, %v", i, n, buf[:n], err)
		}
		if sender.Port != from.Port || sender.IP != localhost {
			t.Fatalf("sender %v, want %v", sender, from)
		}
	}
}

func TestOpenSocketsCountsCloses(t *testing.T) {
	st := newStack(t)
	s, _ := st.NewSocket(false)
	if st.OpenSockets() != 1 {
		t.Fatalf("%d open sockets, want 1", st.OpenSockets())
	}
	s.Close()
	s.Close()
	if st.OpenSockets() != 0 {
		t.Fatalf("%d open sockets after close, want 0", st.OpenSockets())
	}
}
