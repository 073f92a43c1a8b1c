package usernet

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	virtionet "github.com/aurora-vm/aurora-vm/devices/virtio-net"
)

// The tests drive the backend as the VM's kernel will, without the device:
// a second, plain gVisor stack is the guest at 10.0.2.15, and two pumps
// move its frames through Send and Receive. All host traffic stays on
// 127.0.0.1; the guest-side addresses are virtual.

var guestMAC = tcpip.LinkAddress("\x52\x54\x00\x12\x34\x56")

type guest struct {
	s    *stack.Stack
	link *channel.Endpoint
	// gsoFrames counts large segments the guest sent whole.
	gsoFrames atomic.Int64
	// rxMu, held, stops the guest taking frames, as a driver that posts
	// no receive buffers does.
	rxMu sync.RWMutex
}

type guestOptions struct {
	// offload makes the guest leave checksums and segmentation to the
	// "device", as a driver that negotiated CSUM and HOST_TSO4 does.
	offload bool
}

// newGuest starts a guest stack wired to b; both are torn down when the
// test ends (the backend first, as the VM does).
func newGuest(t testing.TB, b *Backend, o guestOptions) *guest {
	t.Helper()
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	})
	sack := tcpip.TCPSACKEnabled(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	link := channel.New(4096, MTU+header.EthernetMinimumSize, guestMAC)
	if o.offload {
		link.LinkEPCapabilities |= stack.CapabilityTXChecksumOffload
		link.SupportedGSOKind = stack.HostGSOSupported
	}
	if err := s.CreateNIC(1, ethernet.New(link)); err != nil {
		t.Fatal(err)
	}
	addr := tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4(GuestAddr.As4()), PrefixLen: 24},
	}
	if err := s.AddProtocolAddress(1, addr, stack.AddressProperties{}); err != nil {
		t.Fatal(err)
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: subnetOf(Prefix), NIC: 1},
		{Destination: header.IPv4EmptySubnet, Gateway: tcpip.AddrFrom4(GatewayAddr.As4()), NIC: 1},
	})
	g := &guest{s: s, link: link}

	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan struct{})
	go func() { // guest to backend
		defer close(out)
		frame := make([]byte, 1<<17)
		for {
			pkt := link.ReadContext(ctx)
			if pkt == nil {
				return
			}
			views, skip := pkt.AsViewList()
			n := 0
			for v := views.Front(); v != nil; v = v.Next() {
				s := v.AsSlice()
				if skip >= len(s) {
					skip -= len(s)
					continue
				}
				n += copy(frame[n:], s[skip:])
				skip = 0
			}
			hdr := g.netHdr(pkt, frame[:n], o.offload)
			pkt.DecRef()
			if err := b.Send(hdr, frame[:n]); err != nil {
				return
			}
		}
	}()
	in := make(chan struct{})
	go func() { // backend to guest
		defer close(in)
		buf := make([]byte, MTU+header.EthernetMinimumSize)
		for {
			g.rxMu.RLock()
			hdr, n, err := b.Receive(buf)
			g.rxMu.RUnlock()
			if err != nil {
				return
			}
			if hdr != (virtionet.NetHdr{}) {
				panic(fmt.Sprintf("frame toward the guest with offload state %+v", hdr))
			}
			pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(buf[:n])})
			link.InjectInbound(0, pkt)
			pkt.DecRef()
		}
	}()
	t.Cleanup(func() {
		b.Close()
		<-in
		cancel()
		<-out
		s.Destroy()
	})
	return g
}

// netHdr is what a virtio driver puts in front of the frame: with offload,
// a large TCP segment is GSO TCPv4, and every TCP or UDP frame has a
// partial checksum for the device to complete.
func (g *guest) netHdr(pkt *stack.PacketBuffer, frame []byte, offload bool) virtionet.NetHdr {
	if !offload || len(frame) < header.EthernetMinimumSize+header.IPv4MinimumSize ||
		header.Ethernet(frame).Type() != header.IPv4ProtocolNumber {
		return virtionet.NetHdr{}
	}
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	start := uint16(header.EthernetMinimumSize) + uint16(ip.HeaderLength())
	var hdr virtionet.NetHdr
	switch ip.TransportProtocol() {
	case tcp.ProtocolNumber:
		hdr = virtionet.NetHdr{Flags: virtionet.NetHdrFNeedsCsum, CsumStart: start, CsumOffset: header.TCPChecksumOffset}
		gso := pkt.GSOOptions
		tcpLen := uint16(header.TCP(frame[start:]).DataOffset())
		if gso.Type == stack.GSOTCPv4 && len(frame) > int(start+tcpLen+gso.MSS) {
			hdr.GSOType = virtionet.GSOTCPv4
			hdr.GSOSize = gso.MSS
			hdr.HdrLen = start + tcpLen
			g.gsoFrames.Add(1)
		}
	case udp.ProtocolNumber:
		hdr = virtionet.NetHdr{Flags: virtionet.NetHdrFNeedsCsum, CsumStart: start, CsumOffset: 6} // the UDP checksum field
	}
	return hdr
}

func subnetOf(p netip.Prefix) tcpip.Subnet {
	p = p.Masked()
	mask := net.CIDRMask(p.Bits(), 32)
	s, err := tcpip.NewSubnet(tcpip.AddrFrom4(p.Addr().As4()), tcpip.MaskFromBytes(mask))
	if err != nil {
		panic(err)
	}
	return s
}

// guestListener listens on the guest's port with a backlog big enough for
// many simultaneous forwarded connections.
type guestListener struct {
	ep tcpip.Endpoint
	wq *waiter.Queue
}

func (g *guest) listen(t testing.TB, port uint16) *guestListener {
	t.Helper()
	wq := &waiter.Queue{}
	ep, err := g.s.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, wq)
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.Bind(tcpip.FullAddress{Port: port}); err != nil {
		t.Fatal(err)
	}
	if err := ep.Listen(1024); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ep.Close)
	return &guestListener{ep: ep, wq: wq}
}

// guestConn is a guest connection with its endpoint at hand, so a test can
// reset it.
type guestConn struct {
	*gonet.TCPConn
	ep tcpip.Endpoint
}

func (l *guestListener) accept(timeout time.Duration) (*guestConn, error) {
	entry, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
	l.wq.EventRegister(&entry)
	defer l.wq.EventUnregister(&entry)
	deadline := time.After(timeout)
	for {
		ep, wq, err := l.ep.Accept(nil)
		if err == nil {
			return &guestConn{TCPConn: gonet.NewTCPConn(wq, ep), ep: ep}, nil
		}
		if _, ok := err.(*tcpip.ErrWouldBlock); !ok {
			return nil, fmt.Errorf("accept: %v", err)
		}
		select {
		case <-ch:
		case <-deadline:
			return nil, fmt.Errorf("accept: nothing within %v", timeout)
		}
	}
}

// dial connects from the guest to addr ("a.b.c.d:port").
func (g *guest) dial(addr string) (*guestConn, error) {
	ap := netip.MustParseAddrPort(addr)
	wq := &waiter.Queue{}
	ep, terr := g.s.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, wq)
	if terr != nil {
		return nil, fmt.Errorf("%v", terr)
	}
	entry, ch := waiter.NewChannelEntry(waiter.WritableEvents | waiter.EventHUp | waiter.EventErr)
	wq.EventRegister(&entry)
	defer wq.EventUnregister(&entry)
	terr = ep.Connect(tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(ap.Addr().As4()), Port: ap.Port()})
	if _, ok := terr.(*tcpip.ErrConnectStarted); ok {
		select {
		case <-ch:
			terr = ep.LastError()
		case <-time.After(20 * time.Second):
			terr = &tcpip.ErrTimeout{}
		}
	}
	if terr != nil {
		ep.Close()
		return nil, fmt.Errorf("connect %s: %v", addr, terr)
	}
	return &guestConn{TCPConn: gonet.NewTCPConn(wq, ep), ep: ep}, nil
}

// udp opens a guest UDP socket on port (0: any).
func (g *guest) udp(t testing.TB, port uint16) *gonet.UDPConn {
	t.Helper()
	c, err := gonet.DialUDP(g.s, &tcpip.FullAddress{NIC: 1, Port: port}, nil, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func udpAddr(s string) *net.UDPAddr { return net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s)) }

// newBackend starts a backend that the test closes at its end.
func newBackend(t testing.TB, cfg Config) *Backend {
	t.Helper()
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// noLeaks fails the test if, once everything it started has been closed,
// more goroutines are left than there were when it began. Call it first,
// so that its check runs after every other cleanup.
func noLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutines before the test, %d after it:\n%s", before, runtime.NumGoroutine(), buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// hostPort is the port of a host address.
func hostPort(a net.Addr) uint16 {
	return netip.MustParseAddrPort(a.String()).Port()
}

// loopbackOnly is a dial hook that fails the test for any destination off
// the loopback, and otherwise dials as the backend would.
func loopbackOnly(t *testing.T) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || !ap.Addr().IsLoopback() {
			t.Errorf("the backend dialled %s %s, which is not on the loopback", network, addr)
			return nil, fmt.Errorf("test: refusing to dial %s", addr)
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
}

func isRefused(err error) bool {
	return err != nil && strings.Contains(err.Error(), "refused")
}
