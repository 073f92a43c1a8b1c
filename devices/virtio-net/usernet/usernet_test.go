package usernet

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/waiter"

	virtionet "github.com/aurora-vm/aurora-vm/devices/virtio-net"
)

// (a) A host client reaches a guest listener through a forward; bytes flow
// both ways and each side's FIN arrives while the other keeps writing.
func TestForwardTCPHalfClose(t *testing.T) {
	noLeaks(t)
	b := newBackend(t, Config{Forwards: []Forward{{HostPort: 0, GuestPort: 80}}, dial: loopbackOnly(t)})
	g := newGuest(t, b, guestOptions{})
	l := g.listen(t, 80)

	host, err := net.Dial("tcp", b.ForwardAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	gc, err := l.accept(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	if got := gc.RemoteAddr().String(); !strings.HasPrefix(got, GatewayAddr.String()+":") {
		t.Errorf("the guest sees the connection from %s, want the gateway", got)
	}

	// Host writes and half-closes; the guest reads to EOF.
	if _, err := host.Write([]byte("request from the host")); err != nil {
		t.Fatal(err)
	}
	host.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(gc)
	if err != nil || string(got) != "request from the host" {
		t.Fatalf("guest read %q, %v", got, err)
	}
	// The guest, its reading side at EOF, still writes; then half-closes.
	if _, err := gc.Write([]byte("reply after the host's FIN")); err != nil {
		t.Fatal(err)
	}
	gc.CloseWrite()
	host.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err = io.ReadAll(host)
	if err != nil || string(got) != "reply after the host's FIN" {
		t.Fatalf("host read %q, %v", got, err)
	}

	// The other order: the guest half-closes first.
	host2, err := net.Dial("tcp", b.ForwardAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer host2.Close()
	gc2, err := l.accept(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer gc2.Close()
	gc2.Write([]byte("banner"))
	gc2.CloseWrite()
	host2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := io.ReadAll(host2); err != nil || string(got) != "banner" {
		t.Fatalf("host read %q, %v", got, err)
	}
	host2.Write([]byte("late words"))
	host2.(*net.TCPConn).CloseWrite()
	if got, err := io.ReadAll(gc2); err != nil || string(got) != "late words" {
		t.Fatalf("guest read %q, %v", got, err)
	}
}

// Resets cross a forward both ways, and a forward to a guest port nobody
// listens on resets the host client.
func TestForwardTCPResets(t *testing.T) {
	noLeaks(t)
	b := newBackend(t, Config{Forwards: []Forward{{GuestPort: 80}, {GuestPort: 81}}, dial: loopbackOnly(t)})
	g := newGuest(t, b, guestOptions{})
	l := g.listen(t, 80)
	addr := b.ForwardAddrs()[0].String()

	// Host resets: the guest's read fails instead of seeing EOF.
	host, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	gc, err := l.accept(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	host.Write([]byte("x"))
	host.(*net.TCPConn).SetLinger(0)
	host.Close()
	gc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(gc)
	if err == nil || !strings.Contains(err.Error(), "reset") {
		t.Fatalf("guest read %q, %v after the host's reset; want a reset", got, err)
	}
	gc.Close()

	// Guest resets: the host's read fails with ECONNRESET.
	host, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	gc, err = l.accept(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	gc.Write([]byte("y"))
	gc.ep.Abort()
	gc.Close()
	host.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err = io.ReadAll(host)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("host read %q, %v after the guest's reset; want ECONNRESET", got, err)
	}

	// Nothing on guest port 81: the reset may beat the host's connect.
	host, err = net.Dial("tcp", b.ForwardAddrs()[1].String())
	if err == nil {
		defer host.Close()
		host.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = host.Read(make([]byte, 1))
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("connection to a closed guest port: %v; want ECONNRESET", err)
	}
}

// (b) The guest reaches a host listener on 127.0.0.1:P at 10.0.2.2:P, with
// half-close both ways; a port nothing listens on is refused.
func TestGatewayReachesHostLoopback(t *testing.T) {
	noLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		if !strings.HasPrefix(c.RemoteAddr().String(), "127.0.0.1:") {
			served <- fmt.Errorf("connection from %v", c.RemoteAddr())
			return
		}
		req, err := io.ReadAll(c) // to the guest's FIN
		if err != nil {
			served <- err
			return
		}
		_, err = c.Write(append([]byte("echo: "), req...))
		served <- err
	}()
	b := newBackend(t, Config{dial: loopbackOnly(t)})
	g := newGuest(t, b, guestOptions{})
	port := hostPort(ln.Addr())

	c, err := g.dial(fmt.Sprintf("%v:%d", GatewayAddr, port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("to the host"))
	c.CloseWrite()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "echo: to the host" {
		t.Fatalf("guest read %q, %v", got, err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}

	// A closed host port: connection refused, promptly.
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := hostPort(closed.Addr())
	closed.Close()
	start := time.Now()
	if _, err := g.dial(fmt.Sprintf("%v:%d", GatewayAddr, closedPort)); !isRefused(err) {
		t.Fatalf("dial to a closed host port: %v; want connection refused", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusal took %v", d)
	}
}

// (c) A map sends the docs' HTTP client's fixed destination to the test's
// own server on the loopback.
func TestMapRedirects(t *testing.T) {
	noLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "page for %s %s", r.Host, r.URL.Path)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	m, err := ParseMap("93.184.216.34:80=" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := newBackend(t, Config{Maps: []Map{m}, dial: loopbackOnly(t)})
	g := newGuest(t, b, guestOptions{})

	c, err := g.dial("93.184.216.34:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.RemoteAddr().String(); got != "93.184.216.34:80" {
		t.Errorf("guest connected to %s", got)
	}
	fmt.Fprintf(c, "GET /index.html HTTP/1.0\r\nHost: example.com\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "page for example.com /index.html" {
		t.Fatalf("got %s %q", resp.Status, body)
	}
	// The same address on another port is not mapped.
	if _, err := g.dial("93.184.216.34:81"); !isRefused(err) {
		t.Fatalf("unmapped port: %v; want connection refused", err)
	}
}

// (d) Without Outbound every other destination is refused (TCP) or dropped
// (UDP) and nothing is dialled; with it, the backend dials the real
// destination (here a dial hook catches it, so nothing leaves the machine).
func TestOtherDestinations(t *testing.T) {
	noLeaks(t)
	b := newBackend(t, Config{dial: loopbackOnly(t)})
	g := newGuest(t, b, guestOptions{})
	for _, dst := range []string{"198.51.100.7:80", "10.0.2.99:22", "10.0.2.3:53"} {
		if _, err := g.dial(dst); !isRefused(err) {
			t.Errorf("dial %s: %v; want connection refused", dst, err)
		}
	}
	u := g.udp(t, 0)
	if _, err := u.WriteTo([]byte("query"), udpAddr("198.51.100.7:53")); err != nil {
		t.Fatal(err)
	}
	u.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _, err := u.ReadFrom(make([]byte, 100)); err == nil {
		t.Fatalf("a reply of %d bytes from a refused UDP destination", n)
	}

	// Outbound: the dial hook stands in for the world.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("hello from far away"))
			c.Close()
		}
	}()
	var mu sync.Mutex
	var dialled []string
	ob := newBackend(t, Config{Outbound: true, dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialled = append(dialled, network+" "+addr)
		mu.Unlock()
		return (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())
	}})
	og := newGuest(t, ob, guestOptions{})
	c, err := og.dial("198.51.100.7:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := io.ReadAll(c); err != nil || string(got) != "hello from far away" {
		t.Fatalf("read %q, %v", got, err)
	}
	// Still refused with Outbound: the virtual segment's other addresses.
	if _, err := og.dial("10.0.2.99:22"); !isRefused(err) {
		t.Errorf("dial 10.0.2.99:22 with Outbound: %v; want connection refused", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialled) != 1 || dialled[0] != "tcp 198.51.100.7:80" {
		t.Fatalf("dialled %q, want [tcp 198.51.100.7:80]", dialled)
	}
}

// (e) UDP: a forward keeps a flow per host client; guest datagrams to the
// gateway reach the host's loopback and the replies come back from the
// gateway; idle flows end.
func TestUDP(t *testing.T) {
	noLeaks(t)
	b := newBackend(t, Config{Forwards: []Forward{{GuestPort: 53, UDP: true}}, dial: loopbackOnly(t), udpIdle: 500 * time.Millisecond})
	g := newGuest(t, b, guestOptions{})

	// A guest echo server on port 53.
	srv := g.udp(t, 53)
	go func() {
		buf := make([]byte, 2000)
		for {
			n, from, err := srv.ReadFrom(buf)
			if err != nil {
				return
			}
			srv.WriteTo(append([]byte("echo "+from.String()+" "), buf[:n]...), from)
		}
	}()
	fwd := b.ForwardAddrs()[0].(*net.UDPAddr)
	var replies []string
	for i := 0; i < 2; i++ {
		c, err := net.DialUDP("udp", nil, fwd)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		msg := fmt.Sprintf("client %d", i)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 2000)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no reply through the UDP forward: %v", err)
		}
		reply := string(buf[:n])
		if !strings.HasPrefix(reply, "echo "+GatewayAddr.String()+":") || !strings.HasSuffix(reply, " "+msg) {
			t.Fatalf("reply %q", reply)
		}
		replies = append(replies, reply)
	}
	if replies[0][:len(replies[0])-1] == replies[1][:len(replies[1])-1] {
		t.Errorf("two host clients share one guest-side flow: %q", replies)
	}

	// Guest to the gateway: the host's 127.0.0.1.
	hostSrv, err := net.ListenUDP("udp", udpAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer hostSrv.Close()
	go func() {
		buf := make([]byte, 2000)
		for {
			n, from, err := hostSrv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			hostSrv.WriteToUDPAddrPort(append([]byte("host got "), buf[:n]...), from)
		}
	}()
	port := hostPort(hostSrv.LocalAddr())
	u := g.udp(t, 0)
	if _, err := u.WriteTo([]byte("ping"), udpAddr(fmt.Sprintf("%v:%d", GatewayAddr, port))); err != nil {
		t.Fatal(err)
	}
	u.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 2000)
	n, from, err := u.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no reply from the host: %v", err)
	}
	if string(buf[:n]) != "host got ping" || from.String() != fmt.Sprintf("%v:%d", GatewayAddr, port) {
		t.Fatalf("got %q from %v", buf[:n], from)
	}

	// Idle flows end; traffic starts new ones.
	deadline := time.Now().Add(10 * time.Second)
	for b.flowCount() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d UDP flows still open after the idle timeout", b.flowCount())
		}
		time.Sleep(50 * time.Millisecond)
	}
	u.WriteTo([]byte("again"), udpAddr(fmt.Sprintf("%v:%d", GatewayAddr, port)))
	u.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, _, err := u.ReadFrom(buf); err != nil || string(buf[:n]) != "host got again" {
		t.Fatalf("after the idle timeout: %q, %v", buf[:n], err)
	}
}

func (b *Backend) flowCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.flows)
}

// (f) A host port already in use fails New with an error that names it.
func TestForwardPortInUse(t *testing.T) {
	noLeaks(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyUDP, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busyUDP.Close()
	tp, up := hostPort(busy.Addr()), hostPort(busyUDP.LocalAddr())
	for _, c := range []struct {
		f    Forward
		want string
	}{
		{Forward{HostPort: tp, GuestPort: 80}, fmt.Sprintf("host port 127.0.0.1:%d/tcp is already in use", tp)},
		{Forward{HostPort: up, GuestPort: 53, UDP: true}, fmt.Sprintf("host port 127.0.0.1:%d/udp is already in use", up)},
	} {
		// A good forward first, to see New undo it.
		b, err := New(Config{Forwards: []Forward{{GuestPort: 1}, c.f}})
		if err == nil {
			b.Close()
			t.Fatalf("New with %v in use succeeded", c.f)
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("New: %q; want one line with %q", err, c.want)
		}
	}
}

// (g) 200 forwarded connections at once, each echoing 256 KB intact; then
// Close leaves no goroutine behind.
func TestManyForwardedConnections(t *testing.T) {
	noLeaks(t)
	const conns, size = 200, 256 << 10
	b := newBackend(t, Config{Forwards: []Forward{{GuestPort: 7}}, dial: loopbackOnly(t)})
	g := newGuest(t, b, guestOptions{})
	l := g.listen(t, 7)
	var served sync.WaitGroup
	served.Add(conns)
	go func() {
		for i := 0; i < conns; i++ {
			c, err := l.accept(60 * time.Second)
			if err != nil {
				t.Error(err)
				for ; i < conns; i++ {
					served.Done()
				}
				return
			}
			go func() {
				defer served.Done()
				defer c.Close()
				io.Copy(c, c)
				c.CloseWrite()
			}()
		}
	}()
	addr := b.ForwardAddrs()[0].String()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- echo(addr, i, size)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	served.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n := b.connCount(); n != 0 {
		t.Errorf("%d connections left after Close", n)
	}
}

func (b *Backend) connCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

// echo sends size pseudo-random bytes through addr while reading them back.
func echo(addr string, seed, size int) error {
	c, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(120 * time.Second))
	data := make([]byte, size)
	rand.New(rand.NewSource(int64(seed))).Read(data)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		c.(*net.TCPConn).CloseWrite()
		werr <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		return fmt.Errorf("connection %d: read after %d bytes: %v", seed, len(got), err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("connection %d: write: %v", seed, err)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("connection %d: %d bytes came back, not the %d sent", seed, len(got), size)
	}
	return nil
}

// With offloads, the guest's large segments and partial checksums cross
// whole, and bulk data arrives intact both ways.
func TestOffloadedBulk(t *testing.T) {
	noLeaks(t)
	if f := (&Backend{}).Features(); f&virtionet.FeatureCsum == 0 || f&virtionet.FeatureHostTSO4 == 0 {
		t.Fatalf("Features = %#x", f)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
		c.(*net.TCPConn).CloseWrite()
	}()
	b := newBackend(t, Config{dial: loopbackOnly(t)})
	g := newGuest(t, b, guestOptions{offload: true})
	c, err := g.dial(fmt.Sprintf("%v:%d", GatewayAddr, hostPort(ln.Addr())))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := make([]byte, 8<<20)
	rand.New(rand.NewSource(1)).Read(data)
	go func() {
		c.Write(data)
		c.CloseWrite()
	}()
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d of %d bytes intact, %v", len(got), len(data), err)
	}
	if g.gsoFrames.Load() == 0 {
		t.Errorf("the guest sent no large segments; the test did not exercise TSO")
	}
}

// A frame without offload flags is checked like a NIC checks it: a bad
// checksum is dropped. The same frame flagged NEEDS_CSUM is taken as is.
func TestChecksums(t *testing.T) {
	noLeaks(t)
	hostSrv, err := net.ListenUDP("udp", udpAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer hostSrv.Close()
	b := newBackend(t, Config{dial: loopbackOnly(t)})
	port := hostPort(hostSrv.LocalAddr())
	frame := func(payload string, sport uint16, corrupt bool) []byte {
		f := udpFrame(GuestAddr.As4(), GatewayAddr.As4(), sport, port, []byte(payload))
		if corrupt {
			f[len(f)-1] ^= 0xff
		}
		return f
	}
	for _, c := range []struct {
		hdr     virtionet.NetHdr
		payload string
		corrupt bool
		arrives bool
	}{
		{virtionet.NetHdr{}, "good", false, true},
		{virtionet.NetHdr{}, "bad", true, false},
		{virtionet.NetHdr{Flags: virtionet.NetHdrFNeedsCsum, CsumStart: 34, CsumOffset: 6}, "partial", true, true},
		{virtionet.NetHdr{Flags: virtionet.NetHdrFDataValid}, "validated", true, true},
	} {
		if err := b.Send(c.hdr, frame(c.payload, 40000, c.corrupt)); err != nil {
			t.Fatal(err)
		}
		hostSrv.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 100)
		n, err := hostSrv.Read(buf)
		arrived := err == nil
		if arrived != c.arrives || arrived && n != len(c.payload) {
			t.Errorf("%q (flags %#x, corrupt %v): arrived %v (%q)", c.payload, c.hdr.Flags, c.corrupt, arrived, buf[:n])
		}
	}
	// A bad IP header checksum is dropped too.
	f := frame("bad ip header", 40001, false)
	f[24] ^= 0x01
	b.Send(virtionet.NetHdr{}, f)
	hostSrv.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := hostSrv.Read(make([]byte, 100)); err == nil {
		t.Errorf("a frame with a bad IP header checksum arrived (%d bytes)", n)
	}
	// Short or odd frames are dropped without complaint.
	for _, f := range [][]byte{nil, {1, 2, 3}, make([]byte, 14), make([]byte, 60)} {
		if err := b.Send(virtionet.NetHdr{}, f); err != nil {
			t.Errorf("Send(%d bytes): %v", len(f), err)
		}
	}
	b.Close()
	if err := b.Send(virtionet.NetHdr{}, frame("late", 40002, false)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	if _, _, err := b.Receive(make([]byte, 1514)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Receive after Close: %v", err)
	}
}

// udpFrame builds an Ethernet frame with a UDP datagram from the guest to
// the gateway's MAC.
func udpFrame(src, dst [4]byte, sport, dport uint16, payload []byte) []byte {
	f := make([]byte, 14+20+8+len(payload))
	eth := header.Ethernet(f)
	eth.Encode(&header.EthernetFields{SrcAddr: guestMAC, DstAddr: tcpip.LinkAddress(GatewayMAC), Type: header.IPv4ProtocolNumber})
	ip := header.IPv4(f[14:])
	ip.Encode(&header.IPv4Fields{
		TotalLength: uint16(20 + 8 + len(payload)),
		TTL:         64,
		Protocol:    uint8(header.UDPProtocolNumber),
		SrcAddr:     tcpip.AddrFrom4(src),
		DstAddr:     tcpip.AddrFrom4(dst),
	})
	ip.SetChecksum(^ip.CalculateChecksum())
	u := header.UDP(f[34:])
	u.Encode(&header.UDPFields{SrcPort: sport, DstPort: dport, Length: uint16(8 + len(payload))})
	copy(f[42:], payload)
	xsum := header.PseudoHeaderChecksum(header.UDPProtocolNumber, tcpip.AddrFrom4(src), tcpip.AddrFrom4(dst), uint16(8+len(payload)))
	u.SetChecksum(^checksum.Checksum(f[34:], xsum))
	return f
}

func TestParse(t *testing.T) {
	for spec, want := range map[string]Forward{
		"8080:80":            {HostPort: 8080, GuestPort: 80},
		"5353:53/udp":        {HostPort: 5353, GuestPort: 53, UDP: true},
		"2222:22/tcp":        {HostPort: 2222, GuestPort: 22},
		"0.0.0.0:8080:80":    {HostPort: 8080, GuestPort: 80, HostAddr: "0.0.0.0"},
		"[::1]:9000:90/udp":  {HostPort: 9000, GuestPort: 90, UDP: true, HostAddr: "::1"},
		"127.0.0.2:8443:443": {HostPort: 8443, GuestPort: 443, HostAddr: "127.0.0.2"},
		"65535:1":            {HostPort: 65535, GuestPort: 1},
	} {
		got, err := ParseForward(spec)
		if err != nil || got != want {
			t.Errorf("ParseForward(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
	}
	for _, bad := range []string{"", "80", "8080:", ":80", "0:80", "8080:0", "70000:80", "8080:80/sctp", "host:8080:80", "a:b"} {
		if f, err := ParseForward(bad); err == nil {
			t.Errorf("ParseForward(%q) = %+v, want an error", bad, f)
		}
	}
	m, err := ParseMap("93.184.216.34:80=127.0.0.1:8080")
	if err != nil || m != (Map{GuestIP: [4]byte{93, 184, 216, 34}, GuestPort: 80, Host: "127.0.0.1:8080"}) {
		t.Errorf("ParseMap = %+v, %v", m, err)
	}
	for _, bad := range []string{"93.184.216.34:80", "93.184.216.34=127.0.0.1:80", "::1:80=127.0.0.1:80", "1.2.3.4:80=nohost", "1.2.3.4:0=h:1", "1.2.3.4:80=h:0"} {
		if m, err := ParseMap(bad); err == nil {
			t.Errorf("ParseMap(%q) = %+v, want an error", bad, m)
		}
	}
	if got := (Forward{HostPort: 1, GuestPort: 2, UDP: true}).String(); got != "127.0.0.1:1/udp" {
		t.Errorf("Forward.String = %q", got)
	}
}

// A guest that stops taking frames holds the backend's senders back for a
// moment and then costs them only drops: the guest's own frames still go
// through, the transfer completes intact once it takes frames again, and
// Close does not wait on it.
func TestStalledGuest(t *testing.T) {
	noLeaks(t)
	hostSrv, err := net.ListenUDP("udp", udpAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer hostSrv.Close()
	b := newBackend(t, Config{Forwards: []Forward{{GuestPort: 9}}, dial: loopbackOnly(t)})
	g := newGuest(t, b, guestOptions{})
	l := g.listen(t, 9)

	host, err := net.Dial("tcp", b.ForwardAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	gc, err := l.accept(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	data := make([]byte, 4<<20)
	rand.New(rand.NewSource(2)).Read(data)
	go func() {
		host.Write(data)
		host.(*net.TCPConn).CloseWrite()
	}()
	first := make([]byte, 1)
	if _, err := io.ReadFull(gc, first); err != nil {
		t.Fatal(err)
	}

	g.rxMu.Lock()
	time.Sleep(300 * time.Millisecond) // the queue fills, the backend stalls
	start := time.Now()
	if err := b.Send(virtionet.NetHdr{}, udpFrame(GuestAddr.As4(), GatewayAddr.As4(), 40000, hostPort(hostSrv.LocalAddr()), []byte("still here"))); err != nil {
		t.Fatal(err)
	}
	hostSrv.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	if n, err := hostSrv.Read(buf); err != nil || string(buf[:n]) != "still here" {
		t.Fatalf("guest datagram during the stall: %q, %v", buf[:n], err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a guest frame took %v to get through while the guest took none", d)
	}
	g.rxMu.Unlock()

	gc.SetReadDeadline(time.Now().Add(60 * time.Second))
	rest, err := io.ReadAll(gc)
	if err != nil || !bytes.Equal(append(first, rest...), data) {
		t.Fatalf("after the stall: %d of %d bytes intact, %v", 1+len(rest), len(data), err)
	}

	// Close while the guest takes nothing.
	host2, err := net.Dial("tcp", b.ForwardAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer host2.Close()
	if _, err := l.accept(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	go host2.Write(data)
	time.Sleep(50 * time.Millisecond)
	g.rxMu.Lock()
	defer g.rxMu.Unlock()
	time.Sleep(100 * time.Millisecond)
	start = time.Now()
	b.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with a stalled guest", d)
	}
}

// The gateway answers pings; no other address pretends to.
func TestPing(t *testing.T) {
	noLeaks(t)
	b := newBackend(t, Config{dial: loopbackOnly(t)})
	g := newGuest(t, b, guestOptions{})
	ping := func(dst netip.Addr) bool {
		var wq waiter.Queue
		ep, terr := g.s.NewEndpoint(icmp.ProtocolNumber4, ipv4.ProtocolNumber, &wq)
		if terr != nil {
			t.Fatal(terr)
		}
		defer ep.Close()
		entry, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
		wq.EventRegister(&entry)
		defer wq.EventUnregister(&entry)
		req := make([]byte, header.ICMPv4MinimumSize+4)
		icmpHdr := header.ICMPv4(req)
		icmpHdr.SetType(header.ICMPv4Echo)
		copy(req[header.ICMPv4MinimumSize:], "ping")
		to := tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(dst.As4())}
		if _, terr := ep.Write(bytes.NewReader(req), tcpip.WriteOptions{To: &to}); terr != nil {
			t.Fatal(terr)
		}
		timeout := time.After(time.Second)
		for {
			var buf bytes.Buffer
			if _, terr := ep.Read(&buf, tcpip.ReadOptions{}); terr == nil {
				reply := header.ICMPv4(buf.Bytes())
				return reply.Type() == header.ICMPv4EchoReply && bytes.Equal(reply.Payload(), []byte("ping"))
			}
			select {
			case <-ch:
			case <-timeout:
				return false
			}
		}
	}
	if !ping(GatewayAddr) {
		t.Errorf("the gateway did not answer a ping")
	}
	for _, dst := range []string{"198.51.100.7", "10.0.2.99"} {
		if ping(netip.MustParseAddr(dst)) {
			t.Errorf("%s answered a ping", dst)
		}
	}
}
