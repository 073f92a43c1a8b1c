// Package usernet is the virtio-net backend that needs no privileges:
// user-mode networking in the manner of QEMU's "-netdev user" (slirp) and
// gvisor-tap-vsock. It owns a small virtual Ethernet segment, 10.0.2.0/24,
// on which the guest is 10.0.2.15 and this backend is the gateway 10.0.2.2
// (MAC 52:54:00:12:35:02, answering ARP for it), and everything the guest
// reaches beyond its own stack: port forwards from the host, the host's
// loopback behind the gateway address, redirected destinations, and (only
// when asked for) the outside world.
//
// # Design
//
// The backend runs its own gVisor netstack as the guest's peer, attached
// to the device through a small queueing link endpoint with Ethernet
// framing (see link for why it waits rather than drops when the guest is
// slow). It terminates every guest connection instead of translating
// packets: the NIC is promiscuous and may spoof source addresses, so
// netstack's TCP and UDP forwarders receive a guest's connection to any
// address and answer as that address, and the backend then opens an
// ordinary host socket to wherever the connection is meant to go and copies
// bytes between the two. Host sockets need no privileges, TCP's hard parts
// (retransmission, windows, half-close, resets) are done by two real
// stacks, and nothing the guest sends ever becomes a raw packet on a host
// network. The gateway answers pings; other addresses do not.
//
//   - Forwards: a host listener per Forward (net.Listen on HostAddr:HostPort,
//     127.0.0.1 unless said otherwise); each accepted connection is dialled
//     from the backend's stack, as 10.0.2.2, to 10.0.2.15:GuestPort. UDP
//     forwards keep one guest-side flow per host source address.
//   - The gateway: a guest connection to 10.0.2.2:PORT (TCP or UDP) is made
//     to the host's 127.0.0.1:PORT, as QEMU does.
//   - Maps: a guest connection to GuestIP:GuestPort goes to Host instead
//     (resolved once, in New), for TCP and UDP alike.
//   - Everything else is refused, the guest seeing a reset (connection
//     refused) for TCP and nothing for UDP, unless Outbound is set; then the
//     backend dials the real destination with the host's own sockets.
//
// EOF and resets cross in both directions: a FIN from either side becomes a
// shutdown of the other side's writing half, and a reset (or a write the
// other end refuses) aborts the other side with a reset. UDP flows end after
// UDPIdleTimeout without traffic.
//
// # Offloads
//
// Features is FeatureCsum|FeatureHostTSO4: the backend takes frames whose
// checksum is partial (VIRTIO_NET_HDR_F_NEEDS_CSUM) and TCP segments larger
// than the MTU (GSO TCPv4) exactly as they are, because it terminates them:
// its stack only needs to be told not to verify such a frame's checksum,
// and it reassembles a large segment's bytes like any other. Frames without
// those flags are checked here, as a NIC with receive offload would, before
// the stack sees them. Frames toward the guest are always complete (flags
// zero, full checksums, at most MTU bytes): the Backend interface has no
// way to learn whether the driver negotiated VIRTIO_NET_F_GUEST_CSUM or
// GUEST_TSO4, and a partial checksum sent to a driver that did not would be
// a corrupt frame.
package usernet

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	virtionet "github.com/aurora-vm/aurora-vm/devices/virtio-net"
)

// The virtual segment, as QEMU's user networking lays it out. The CLI gives
// the kernel's NIC GuestAddr with Netmask and the gateway GatewayAddr.
var (
	GuestAddr   = netip.MustParseAddr("10.0.2.15")
	GatewayAddr = netip.MustParseAddr("10.0.2.2")
	Netmask     = netip.MustParseAddr("255.255.255.0")
	Prefix      = netip.PrefixFrom(GuestAddr, 24) // GuestAddr with its netmask
	GatewayMAC  = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x35, 0x02}
)

const (
	// MTU is the largest IP packet in a frame toward the guest, and the
	// MTU the guest's NIC should use.
	MTU = 1500
	// UDPIdleTimeout ends a UDP flow nobody has used for that long, as a
	// NAT forgets a mapping.
	UDPIdleTimeout = 2 * time.Minute
	// dialTimeout bounds connecting to the host on the guest's behalf, and
	// to the guest on a forwarded host client's behalf.
	dialTimeout = 10 * time.Second
	// rxQueueLen is how many frames may wait for the device's Receive
	// before the backend's stack has to wait for room (see link).
	rxQueueLen = 1024
	// maxInFlight bounds guest connection attempts still being dialled on
	// the host; further SYNs are ignored until some complete (the guest
	// retransmits them).
	maxInFlight = 1024
	nicID       = 1
)

// Config says what the guest can reach and what reaches it.
type Config struct {
	// Forwards are host ports whose connections go to guest ports.
	Forwards []Forward
	// Maps redirect guest connections to a destination elsewhere.
	Maps []Map
	// Outbound lets guest connections to any other destination out,
	// through the host's own sockets; without it they are refused.
	Outbound bool

	// dial opens host connections (tests watch and redirect it); nil is
	// a net.Dialer.
	dial func(ctx context.Context, network, address string) (net.Conn, error)
	// udpIdle replaces UDPIdleTimeout when set (tests).
	udpIdle time.Duration
}

// Forward makes HostAddr:HostPort on the host lead to GuestPort on the
// guest.
type Forward struct {
	HostPort  uint16 // 0: any free port (ForwardAddrs tells which)
	GuestPort uint16
	UDP       bool
	// HostAddr is the host address to listen on; "" is 127.0.0.1, so that
	// only this machine reaches the guest.
	HostAddr string
}

func (f Forward) String() string {
	proto := "tcp"
	if f.UDP {
		proto = "udp"
	}
	return fmt.Sprintf("%s/%s", f.listenAddr(), proto)
}

func (f Forward) listenAddr() string {
	host := f.HostAddr
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(int(f.HostPort)))
}

// Map redirects guest connections (TCP and UDP) to GuestIP:GuestPort to
// Host, a "host:port" the host can dial.
type Map struct {
	GuestIP   [4]byte
	GuestPort uint16
	Host      string
}

// ParseForward parses the -p flag's value: HOSTPORT:GUESTPORT, optionally
// preceded by HOSTADDR: (an IPv6 address in brackets) and followed by /udp
// or /tcp, as Docker and QEMU spell it.
func ParseForward(spec string) (Forward, error) {
	var f Forward
	rest := spec
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		switch strings.ToLower(rest[i+1:]) {
		case "udp":
			f.UDP = true
		case "tcp":
		default:
			return f, fmt.Errorf("port forward %q: protocol must be tcp or udp", spec)
		}
		rest = rest[:i]
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return f, fmt.Errorf("port forward %q: want HOSTPORT:GUESTPORT[/udp]", spec)
	}
	guest, hostPart := rest[i+1:], rest[:i]
	host := hostPart
	if strings.ContainsAny(hostPart, ":]") {
		h, p, err := net.SplitHostPort(hostPart)
		if err != nil {
			return f, fmt.Errorf("port forward %q: %v", spec, err)
		}
		if net.ParseIP(h) == nil {
			return f, fmt.Errorf("port forward %q: %q is not an IP address", spec, h)
		}
		f.HostAddr, host = h, p
	}
	var err error
	if f.HostPort, err = parsePort(host); err != nil {
		return f, fmt.Errorf("port forward %q: host port: %v", spec, err)
	}
	if f.GuestPort, err = parsePort(guest); err != nil {
		return f, fmt.Errorf("port forward %q: guest port: %v", spec, err)
	}
	return f, nil
}

// ParseMap parses the --map flag's value: GUESTIP:PORT=HOST:PORT.
func ParseMap(spec string) (Map, error) {
	from, to, ok := strings.Cut(spec, "=")
	if !ok {
		return Map{}, fmt.Errorf("map %q: want GUESTIP:PORT=HOST:PORT", spec)
	}
	ap, err := netip.ParseAddrPort(from)
	if err != nil || !ap.Addr().Is4() || ap.Port() == 0 {
		return Map{}, fmt.Errorf("map %q: %q is not an IPv4 address and port", spec, from)
	}
	if _, p, err := net.SplitHostPort(to); err != nil {
		return Map{}, fmt.Errorf("map %q: %v", spec, err)
	} else if _, err := parsePort(p); err != nil {
		return Map{}, fmt.Errorf("map %q: port: %v", spec, err)
	}
	return Map{GuestIP: ap.Addr().As4(), GuestPort: ap.Port(), Host: to}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port (1-65535)", s)
	}
	return uint16(n), nil
}

// Backend is one user-mode network.
type Backend struct {
	s    *stack.Stack
	link *link
	dial func(ctx context.Context, network, address string) (net.Conn, error)

	udpIdle  time.Duration
	outbound bool
	maps     map[netip.AddrPort]netip.AddrPort

	ctx    context.Context // done when the backend closes
	cancel context.CancelFunc

	// mu guards closed and the sets of what Close must stop; sendMu keeps
	// Close from tearing the stack down under a Send.
	mu        sync.Mutex
	closed    bool
	listeners []interface{ Close() error }
	addrs     []net.Addr // each forward's host address, in Config order
	conns     map[*splice]struct{}
	flows     map[*udpFlow]struct{}
	wg        sync.WaitGroup
	sendMu    sync.RWMutex
	closeOnce sync.Once
}

var _ virtionet.Backend = (*Backend)(nil)

// New starts a user-mode network: its stack, and a host listener for every
// forward. A host port that cannot be listened on (typically one already in
// use) fails New with an error that names it.
func New(cfg Config) (*Backend, error) {
	b := &Backend{
		dial:     cfg.dial,
		udpIdle:  cfg.udpIdle,
		outbound: cfg.Outbound,
		maps:     make(map[netip.AddrPort]netip.AddrPort),
		conns:    make(map[*splice]struct{}),
		flows:    make(map[*udpFlow]struct{}),
	}
	if b.dial == nil {
		b.dial = (&net.Dialer{}).DialContext
	}
	if b.udpIdle <= 0 {
		b.udpIdle = UDPIdleTimeout
	}
	for _, m := range cfg.Maps {
		from := netip.AddrPortFrom(netip.AddrFrom4(m.GuestIP), m.GuestPort)
		to, err := resolve(m.Host)
		if err != nil {
			return nil, fmt.Errorf("usernet: map %v=%s: %v", from, m.Host, err)
		}
		b.maps[from] = to
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())

	b.s = stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	})
	sack := tcpip.TCPSACKEnabled(true)
	b.s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	// Let receive windows grow with what the copying goroutines drain.
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	b.s.SetTransportProtocolOption(tcp.ProtocolNumber, &moderate)
	// The guest is a virtual link away: a lost segment need not wait
	// Linux's 200 ms minimum to be sent again.
	minRTO := tcpip.TCPMinRTOOption(20 * time.Millisecond)
	b.s.SetTransportProtocolOption(tcp.ProtocolNumber, &minRTO)
	b.link = newLink(rxQueueLen, MTU+header.EthernetMinimumSize, tcpip.LinkAddress(GatewayMAC))
	// Send verifies the checksums of frames that arrive complete, so the
	// stack never needs to; see checksumsValid.
	b.link.LinkEPCapabilities = stack.CapabilityRXChecksumOffload
	if err := b.setupStack(); err != nil {
		b.s.Destroy()
		b.cancel()
		return nil, err
	}
	for _, f := range cfg.Forwards {
		if err := b.listen(f); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

func (b *Backend) setupStack() error {
	if err := b.s.CreateNIC(nicID, ethernet.New(b.link)); err != nil {
		return fmt.Errorf("usernet: creating the NIC: %v", err)
	}
	// Promiscuous: accept packets for any destination, so that a guest
	// connection to any address reaches the forwarders. Spoofing: answer
	// from that address.
	if err := b.s.SetPromiscuousMode(nicID, true); err != nil {
		return fmt.Errorf("usernet: promiscuous mode: %v", err)
	}
	if err := b.s.SetSpoofing(nicID, true); err != nil {
		return fmt.Errorf("usernet: spoofing: %v", err)
	}
	gw := tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4(GatewayAddr.As4()), PrefixLen: Prefix.Bits()},
	}
	if err := b.s.AddProtocolAddress(nicID, gw, stack.AddressProperties{}); err != nil {
		return fmt.Errorf("usernet: adding %v: %v", GatewayAddr, err)
	}
	// Everything goes to the guest's segment: the guest is the only other
	// machine there, and it may use any source address.
	b.s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: nicID}})
	b.s.SetTransportProtocolHandler(tcp.ProtocolNumber, tcp.NewForwarder(b.s, 0, maxInFlight, b.handleTCP).HandlePacket)
	b.s.SetTransportProtocolHandler(udp.ProtocolNumber, udp.NewForwarder(b.s, b.handleUDP).HandlePacket)
	return nil
}

// resolve turns a map's "host:port" into an address once, so that the UDP
// path (which runs on the stack's packet path) never waits for a lookup.
func resolve(hostport string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := parsePort(port)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(a.Unmap(), p), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(addrs[0].Unmap(), p), nil
}

// target says where a guest connection to dst goes on the host, if
// anywhere.
func (b *Backend) target(dst netip.AddrPort) (netip.AddrPort, bool) {
	if to, ok := b.maps[dst]; ok {
		return to, true
	}
	a := dst.Addr()
	switch {
	case a == GatewayAddr:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), dst.Port()), true
	case !b.outbound, Prefix.Contains(a), !a.IsGlobalUnicast():
		// Nothing else lives on the virtual segment, and loopback,
		// broadcast or multicast destinations are not the guest's to
		// reach on the host.
		return netip.AddrPort{}, false
	}
	return dst, true
}

// track counts a goroutine Close must wait for; it refuses once Close has
// begun.
func (b *Backend) track() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.wg.Add(1)
	return true
}

// ForwardAddrs are the host addresses the forwards listen on, in the order
// of Config.Forwards (a HostPort of 0 lets the host pick a free port, and
// this tells which).
func (b *Backend) ForwardAddrs() []net.Addr { return b.addrs }

// Features: see the package documentation.
func (b *Backend) Features() uint64 {
	return virtionet.FeatureCsum | virtionet.FeatureHostTSO4
}

// Send hands one guest frame to the backend's stack. A frame the backend
// does not take (malformed, a bad checksum, an offload it did not offer) is
// dropped, as a NIC drops it; only a closed backend is an error.
func (b *Backend) Send(hdr virtionet.NetHdr, frame []byte) error {
	b.sendMu.RLock()
	defer b.sendMu.RUnlock()
	if b.ctx.Err() != nil {
		return errClosed
	}
	if len(frame) < header.EthernetMinimumSize {
		return nil
	}
	switch hdr.GSOType {
	case virtionet.GSONone:
	case virtionet.GSOTCPv4:
		// A large segment always has a partial checksum (the spec makes
		// HOST_TSO4 depend on CSUM, and the driver sets NEEDS_CSUM).
		if hdr.Flags&virtionet.NetHdrFNeedsCsum == 0 {
			return nil
		}
	default:
		return nil
	}
	if hdr.Flags&(virtionet.NetHdrFNeedsCsum|virtionet.NetHdrFDataValid) == 0 && !checksumsValid(frame) {
		return nil
	}
	// Normalised in the stack's own copy: frame is the device's.
	data := buffer.MakeWithData(frame)
	views := data.AsViewList()
	if ack := b.link.norm.Inbound(views.Front().AsSlice(), hdr.Flags&virtionet.NetHdrFNeedsCsum != 0); ack != nil {
		b.inject(buffer.MakeWithData(ack))
	}
	b.inject(data)
	return nil
}

// inject hands a frame to the backend's stack, which takes data.
func (b *Backend) inject(data buffer.Buffer) {
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: data})
	b.link.InjectInbound(0, pkt) // the Ethernet layer reads the type from the frame
	pkt.DecRef()
}

// Receive blocks until the backend's stack sends a frame toward the guest
// and copies it into buf (MTU+14 bytes is always enough).
func (b *Backend) Receive(buf []byte) (virtionet.NetHdr, int, error) {
	pkt := b.link.next(b.ctx.Done())
	if pkt == nil {
		return virtionet.NetHdr{}, 0, errClosed
	}
	defer pkt.DecRef()
	if size := pkt.Size(); size > len(buf) {
		return virtionet.NetHdr{}, 0, fmt.Errorf("usernet: a %d-byte frame does not fit a %d-byte buffer", size, len(buf))
	}
	// Walk the views rather than call AsSlices, which allocates per frame.
	views, skip := pkt.AsViewList()
	n := 0
	for v := views.Front(); v != nil; v = v.Next() {
		s := v.AsSlice()
		if skip >= len(s) {
			skip -= len(s)
			continue
		}
		n += copy(buf[n:], s[skip:])
		skip = 0
	}
	return virtionet.NetHdr{}, n, nil
}

var errClosed = fmt.Errorf("usernet: %w", net.ErrClosed)

// Close stops the listeners, resets every connection and flow, stops the
// stack, and returns once no goroutine of the backend is left.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.sendMu.Lock()
		b.cancel() // Receive and Send now fail
		b.sendMu.Unlock()
		b.link.Close() // nothing waits for room toward the guest any more

		b.mu.Lock()
		b.closed = true
		for _, l := range b.listeners {
			l.Close()
		}
		for c := range b.conns {
			c.abort()
		}
		for f := range b.flows {
			f.close()
		}
		b.mu.Unlock()
		b.wg.Wait()
		b.s.Destroy()
	})
	return nil
}

// listen starts the host side of one forward.
func (b *Backend) listen(f Forward) error {
	addr := f.listenAddr()
	var err error
	if f.UDP {
		var pc net.PacketConn
		if pc, err = net.ListenPacket("udp", addr); err == nil {
			b.addrs = append(b.addrs, pc.LocalAddr())
			b.startUDPForward(pc.(*net.UDPConn), f)
		}
	} else {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			b.addrs = append(b.addrs, ln.Addr())
			b.startTCPForward(ln, f)
		}
	}
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("usernet: host port %s is already in use", f)
		}
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = oe.Err
		}
		return fmt.Errorf("usernet: cannot listen on host port %s: %v", f, err)
	}
	return nil
}

func (b *Backend) addListener(l interface{ Close() error }) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.listeners = append(b.listeners, l)
	return true
}

func addrPort(a tcpip.Address, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4(a.As4()), port)
}

// checksumsValid checks what a NIC with receive checksum offload checks: an
// IPv4 frame's header checksum and, unless it is a fragment, its TCP or UDP
// checksum. Anything it cannot make sense of is left for the stack to drop.
func checksumsValid(frame []byte) bool {
	if binary.BigEndian.Uint16(frame[12:]) != uint16(header.IPv4ProtocolNumber) {
		return true // ARP and the like carry no checksum
	}
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	if !ip.IsValid(len(ip)) {
		return true
	}
	if !ip.IsChecksumValid() {
		return false
	}
	if ip.More() || ip.FragmentOffset() != 0 {
		return true // the checksum covers the reassembled datagram
	}
	l4 := ip[ip.HeaderLength():ip.TotalLength()]
	var proto tcpip.TransportProtocolNumber
	switch ip.TransportProtocol() {
	case tcp.ProtocolNumber:
		if len(l4) < header.TCPMinimumSize {
			return true
		}
		proto = tcp.ProtocolNumber
	case udp.ProtocolNumber:
		if len(l4) < header.UDPMinimumSize {
			return true
		}
		if header.UDP(l4).Checksum() == 0 {
			return true // no checksum
		}
		proto = udp.ProtocolNumber
	default:
		return true // ICMP's the stack always checks
	}
	pseudo := header.PseudoHeaderChecksum(proto, ip.SourceAddress(), ip.DestinationAddress(), uint16(len(l4)))
	return checksum.Checksum(l4, pseudo) == 0xffff
}
