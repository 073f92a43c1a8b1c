// Package net is the kernel's network: one gVisor netstack per machine,
// with a loopback NIC for 127.0.0.1 and room for the VM's own NIC, and the
// sockets Aurora programs use on it. TCP and UDP, retransmission, windows,
// close and reset all come from the stack; this package only turns its
// endpoints into blocking (or non-blocking) calls that a signal can cut
// short, and its errors into errno codes. Nothing above it sees a netstack
// type.
package net

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	gvlog "gvisor.dev/gvisor/pkg/log"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

// Tunables, chosen where Aurora says nothing.
const (
	// Backlog is the listen backlog: Aurora's listen takes none.
	Backlog = 1024
	// ConnectTimeout bounds a blocking connect without a send timeout.
	ConnectTimeout = 30 * time.Second
	// udpReceiveBuffer is generous, so that a burst of datagrams between
	// two programs on one machine is not dropped for lack of room.
	udpReceiveBuffer = 4 << 20
)

const loopbackNIC = 1

// Stack is one machine's TCP/IP stack.
type Stack struct {
	s       *stack.Stack
	sockets atomic.Int64 // open sockets, for leak checks

	mu      sync.Mutex
	nextNIC tcpip.NICID
	routes  []tcpip.Route
	// bound holds the ports open sockets have bound, per protocol. Sockets
	// share ports at the netstack level (SO_REUSEADDR, so that connections
	// in TIME_WAIT do not hold a port), so this is what makes a second
	// bind of a port in use fail.
	bound map[boundPort]*Socket
}

type boundPort struct {
	udp  bool
	port uint16
}

// quietLog drops the netstack's own log lines (a dropped duplicate SYN under
// load, say): they are about the stack's insides, and aurora-vm's stderr
// belongs to the guest's programs and aurora-vm's one-line messages.
type quietLog struct{}

func (quietLog) Emit(int, gvlog.Level, time.Time, string, ...any) {}

var silenceOnce sync.Once

// New creates a stack with the loopback NIC (127.0.0.1/8).
func New() (*Stack, error) {
	silenceOnce.Do(func() { gvlog.SetTarget(quietLog{}) })
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
		HandleLocal:        true,
	})
	tuneTCP(s)
	st := &Stack{s: s, nextNIC: loopbackNIC + 1, bound: map[boundPort]*Socket{}}
	if err := s.CreateNIC(loopbackNIC, loopback.New()); err != nil {
		s.Destroy()
		return nil, fmt.Errorf("creating the loopback NIC: %v", err)
	}
	lo := netip.MustParsePrefix("127.0.0.1/8")
	if err := st.addAddress(loopbackNIC, lo); err != nil {
		s.Destroy()
		return nil, err
	}
	st.routes = []tcpip.Route{{Destination: subnet(lo), NIC: loopbackNIC}}
	s.SetRouteTable(st.routes)
	return st, nil
}

// MinRTO is the shortest TCP retransmission timeout. Linux's 200 ms suits
// the Internet; the paths here are mostly a loopback or a virtual link
// with sub-millisecond round trips, where a lost segment at the end of a
// transfer would otherwise stall it for 200 ms and more each time.
const MinRTO = 20 * time.Millisecond

// tuneTCP turns on what a modern TCP uses: SACK, receive-buffer
// auto-tuning, and the shorter minimum retransmission timeout.
func tuneTCP(s *stack.Stack) {
	sack := tcpip.TCPSACKEnabled(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &moderate)
	minRTO := tcpip.TCPMinRTOOption(MinRTO)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &minRTO)
}

// AttachNIC adds a NIC on link with the address addr (its prefix giving the
// directly reachable subnet) and, if gateway is valid, a default route
// through it. It returns the NIC's id.
func (st *Stack) AttachNIC(link stack.LinkEndpoint, addr netip.Prefix, gateway netip.Addr) (tcpip.NICID, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	id := st.nextNIC
	if err := st.s.CreateNIC(id, link); err != nil {
		return 0, fmt.Errorf("creating NIC %d: %v", id, err)
	}
	if err := st.addAddress(id, addr); err != nil {
		return 0, err
	}
	st.nextNIC++
	st.routes = append(st.routes, tcpip.Route{Destination: subnet(addr), NIC: id})
	if gateway.IsValid() {
		st.routes = append(st.routes, tcpip.Route{
			Destination: subnet(netip.PrefixFrom(netip.IPv4Unspecified(), 0)),
			Gateway:     tcpip.AddrFrom4(gateway.As4()),
			NIC:         id,
		})
	}
	st.s.SetRouteTable(st.routes)
	return id, nil
}

func (st *Stack) addAddress(nic tcpip.NICID, addr netip.Prefix) error {
	pa := tcpip.ProtocolAddress{
		Protocol: ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{
			Address:   tcpip.AddrFrom4(addr.Addr().As4()),
			PrefixLen: addr.Bits(),
		},
	}
	if err := st.s.AddProtocolAddress(nic, pa, stack.AddressProperties{}); err != nil {
		return fmt.Errorf("adding %v to NIC %d: %v", addr, nic, err)
	}
	return nil
}

func subnet(p netip.Prefix) tcpip.Subnet {
	p = p.Masked()
	var mask [4]byte
	if p.Bits() > 0 {
		binary.BigEndian.PutUint32(mask[:], ^uint32(0)<<(32-p.Bits()))
	}
	s, err := tcpip.NewSubnet(tcpip.AddrFrom4(p.Addr().As4()), tcpip.MaskFromBytes(mask[:]))
	if err != nil {
		panic(err) // a masked prefix is always a valid subnet
	}
	return s
}

// Close shuts the stack down; every socket on it stops working.
func (st *Stack) Close() {
	st.s.Close()
	st.s.Wait()
}

// OpenSockets is the number of sockets not yet closed.
func (st *Stack) OpenSockets() int { return int(st.sockets.Load()) }

// Addr is an IPv4 address and port.
type Addr struct {
	IP   [4]byte
	Port uint16
}

func (a Addr) String() string { return netip.AddrPortFrom(netip.AddrFrom4(a.IP), a.Port).String() }

func fullAddress(a Addr) tcpip.FullAddress {
	return tcpip.FullAddress{Addr: tcpip.AddrFrom4(a.IP), Port: a.Port}
}

func fromFull(f tcpip.FullAddress) Addr {
	var a Addr
	if f.Addr.Len() == 4 {
		a.IP = f.Addr.As4()
	}
	a.Port = f.Port
	return a
}

// Socket is a TCP or UDP socket. Its methods may be called from several
// goroutines (processes sharing it after fork).
type Socket struct {
	st  *Stack
	udp bool
	ep  tcpip.Endpoint
	wq  *waiter.Queue

	mu         sync.Mutex
	nonblock   bool
	rcvTimeout time.Duration
	sndTimeout time.Duration
	closed     bool
	port       uint16 // the port Bind reserved, 0 if none
	// connecting is set while a non-blocking connect is under way: the
	// first connect after it completes returns 0, as on Linux, and later
	// ones EISCONN.
	connecting bool
}

// NewSocket creates a socket: UDP if udp is set, else TCP.
func (st *Stack) NewSocket(udp bool) (*Socket, error) {
	proto := tcp.ProtocolNumber
	if udp {
		proto = udpProtocol
	}
	wq := &waiter.Queue{}
	ep, err := st.s.NewEndpoint(proto, ipv4.ProtocolNumber, wq)
	if err != nil {
		return nil, translate(err)
	}
	if udp {
		ep.SocketOptions().SetReceiveBufferSize(udpReceiveBuffer, true)
	} else {
		// A port held only by connections in TIME_WAIT can be bound
		// again, as servers restarted on their port expect.
		ep.SocketOptions().SetReuseAddress(true)
	}
	return st.wrap(ep, wq, udp), nil
}

const udpProtocol = udp.ProtocolNumber

func (st *Stack) wrap(ep tcpip.Endpoint, wq *waiter.Queue, udp bool) *Socket {
	st.sockets.Add(1)
	return &Socket{st: st, udp: udp, ep: ep, wq: wq}
}

// UDP reports whether the socket is a UDP socket.
func (s *Socket) UDP() bool { return s.udp }

// Bind binds the socket to port on every local address (0: a free port).
// A port another open socket of the same protocol has bound is in use.
func (s *Socket) Bind(port uint16) error {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if port != 0 && st.bound[boundPort{s.udp, port}] != nil {
		return errno.EADDRINUSE
	}
	if err := translate(s.ep.Bind(tcpip.FullAddress{Port: port})); err != nil {
		return err
	}
	if port == 0 {
		port = s.localPort()
	}
	s.mu.Lock()
	s.port = port
	s.mu.Unlock()
	st.bound[boundPort{s.udp, port}] = s
	return nil
}

// Listen makes a bound TCP socket accept connections.
func (s *Socket) Listen() error {
	if s.udp {
		return errno.EOPNOTSUPP
	}
	if _, err := s.ep.GetLocalAddress(); err != nil || s.localPort() == 0 {
		return errno.EINVAL // Aurora: the socket must be bound first
	}
	return translate(s.ep.Listen(Backlog))
}

func (s *Socket) localPort() uint16 {
	a, err := s.ep.GetLocalAddress()
	if err != nil {
		return 0
	}
	return a.Port
}

// Accept waits for a connection on a listening socket and returns it.
func (s *Socket) Accept(cancel <-chan struct{}) (*Socket, Addr, error) {
	var peer tcpip.FullAddress
	var conn tcpip.Endpoint
	var connWQ *waiter.Queue
	err := s.block(waiter.ReadableEvents, s.timeout(false), cancel, func() tcpip.Error {
		var err tcpip.Error
		conn, connWQ, err = s.ep.Accept(&peer)
		return err
	})
	if err != nil {
		return nil, Addr{}, err
	}
	return s.st.wrap(conn, connWQ, false), fromFull(peer), nil
}

// Connect connects a TCP socket to to, waiting for the handshake, or sets
// a UDP socket's default peer.
func (s *Socket) Connect(to Addr, cancel <-chan struct{}) error {
	if !s.udp {
		if _, err := s.ep.GetRemoteAddress(); err == nil {
			s.mu.Lock()
			completed := s.connecting
			s.connecting = false
			s.mu.Unlock()
			if completed {
				return nil
			}
			return errno.EISCONN
		}
	}
	entry, ready := waiter.NewChannelEntry(waiter.WritableEvents | waiter.EventErr | waiter.EventHUp)
	s.wq.EventRegister(&entry)
	defer s.wq.EventUnregister(&entry)
	err := s.ep.Connect(fullAddress(to))
	if _, started := err.(*tcpip.ErrConnectStarted); !started {
		return translate(err)
	}
	s.mu.Lock()
	nonblock, timeout := s.nonblock, s.sndTimeout
	s.connecting = nonblock
	s.mu.Unlock()
	if nonblock {
		return errno.EINPROGRESS
	}
	if timeout == 0 {
		timeout = ConnectTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-ready:
	case <-cancel:
		return errno.EINTR
	case <-timer.C:
		return errno.ETIMEDOUT
	}
	return translate(s.ep.LastError())
}

// Send writes b to the connection (or, for UDP, to the default peer, or to
// to when it is set), waiting while the send buffer is full. It returns
// how many bytes it queued, which may be fewer than len(b).
func (s *Socket) Send(b []byte, to *Addr, cancel <-chan struct{}) (int, error) {
	var opts tcpip.WriteOptions
	if to != nil && s.udp {
		fa := fullAddress(*to)
		opts.To = &fa
	}
	var n int64
	err := s.block(waiter.WritableEvents, s.timeout(true), cancel, func() tcpip.Error {
		var err tcpip.Error
		n, err = s.ep.Write(bytes.NewReader(b), opts)
		return err
	})
	if err != nil {
		if n > 0 {
			return int(n), nil
		}
		return 0, err
	}
	return int(n), nil
}

// Recv reads into b, waiting for data; 0 with no error means the peer has
// closed. For UDP it reads one datagram (the rest of a longer one is
// dropped, as on Linux) and reports its sender.
func (s *Socket) Recv(b []byte, cancel <-chan struct{}) (int, Addr, error) {
	var res tcpip.ReadResult
	err := s.block(waiter.ReadableEvents, s.timeout(false), cancel, func() tcpip.Error {
		var err tcpip.Error
		w := tcpip.SliceWriter(b)
		res, err = s.ep.Read(&w, tcpip.ReadOptions{NeedRemoteAddr: s.udp})
		return err
	})
	if err != nil {
		if errors.Is(err, errEOF) {
			return 0, Addr{}, nil
		}
		return 0, Addr{}, err
	}
	return res.Count, fromFull(res.RemoteAddr), nil
}

// errEOF marks a read on a connection closed for receiving: recv's 0.
var errEOF = errors.New("end of stream")

// block runs try until it stops saying "would block", waiting for mask
// between tries; a non-blocking socket fails at once with EAGAIN, and a
// timeout (0: none) or cancel ends the wait with EAGAIN or EINTR.
func (s *Socket) block(mask waiter.EventMask, timeout time.Duration, cancel <-chan struct{}, try func() tcpip.Error) error {
	err := try()
	if _, wouldBlock := err.(*tcpip.ErrWouldBlock); !wouldBlock {
		return translate(err)
	}
	s.mu.Lock()
	nonblock := s.nonblock
	s.mu.Unlock()
	if nonblock {
		return errno.EAGAIN
	}
	entry, ready := waiter.NewChannelEntry(mask | waiter.EventErr | waiter.EventHUp)
	s.wq.EventRegister(&entry)
	defer s.wq.EventUnregister(&entry)
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	for {
		err := try()
		if _, wouldBlock := err.(*tcpip.ErrWouldBlock); !wouldBlock {
			return translate(err)
		}
		select {
		case <-ready:
		case <-cancel:
			return errno.EINTR
		case <-expired:
			return errno.EAGAIN
		}
	}
}

func (s *Socket) timeout(send bool) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if send {
		return s.sndTimeout
	}
	return s.rcvTimeout
}

// SetNonblocking makes calls that would wait fail with EAGAIN instead.
func (s *Socket) SetNonblocking(on bool) {
	s.mu.Lock()
	s.nonblock = on
	s.mu.Unlock()
}

// SetTimeout bounds how long receives and accepts (send false) or sends and
// connects (send true) wait; 0 removes the bound.
func (s *Socket) SetTimeout(send bool, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if send {
		s.sndTimeout = d
	} else {
		s.rcvTimeout = d
	}
}

// Shutdown ends one or both directions of a connection: SHUT_RD 0,
// SHUT_WR 1, SHUT_RDWR 2.
func (s *Socket) Shutdown(how int) error {
	var flags tcpip.ShutdownFlags
	switch how {
	case 0:
		flags = tcpip.ShutdownRead
	case 1:
		flags = tcpip.ShutdownWrite
	case 2:
		flags = tcpip.ShutdownRead | tcpip.ShutdownWrite
	default:
		return errno.EINVAL
	}
	return translate(s.ep.Shutdown(flags))
}

// LocalAddr and PeerAddr are the socket's two ends.
func (s *Socket) LocalAddr() (Addr, error) {
	a, err := s.ep.GetLocalAddress()
	return fromFull(a), translate(err)
}

func (s *Socket) PeerAddr() (Addr, error) {
	a, err := s.ep.GetRemoteAddress()
	return fromFull(a), translate(err)
}

// Readiness returns which of the events in mask (poll's bits) hold now.
func (s *Socket) Readiness(mask waiter.EventMask) waiter.EventMask { return s.ep.Readiness(mask) }

// EventRegister and EventUnregister add and remove a waiter for the
// socket's events.
func (s *Socket) EventRegister(e *waiter.Entry)   { s.wq.EventRegister(e) }
func (s *Socket) EventUnregister(e *waiter.Entry) { s.wq.EventUnregister(e) }

// Close closes the socket: a TCP connection is shut down gracefully, the
// stack finishing the exchange in the background.
func (s *Socket) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	port := s.port
	s.mu.Unlock()
	if port != 0 {
		s.st.mu.Lock()
		if s.st.bound[boundPort{s.udp, port}] == s {
			delete(s.st.bound, boundPort{s.udp, port})
		}
		s.st.mu.Unlock()
	}
	s.ep.Close()
	s.st.sockets.Add(-1)
	return nil
}

// translate turns a netstack error into the errno a program sees.
func translate(err tcpip.Error) error {
	if err == nil {
		return nil
	}
	switch err.(type) {
	case *tcpip.ErrClosedForReceive:
		return errEOF
	case *tcpip.ErrWouldBlock:
		return errno.EAGAIN
	case *tcpip.ErrPortInUse, *tcpip.ErrDuplicateAddress:
		return errno.EADDRINUSE
	case *tcpip.ErrNoPortAvailable, *tcpip.ErrBadLocalAddress:
		return errno.EADDRNOTAVAIL
	case *tcpip.ErrAlreadyBound, *tcpip.ErrInvalidEndpointState, *tcpip.ErrInvalidOptionValue:
		return errno.EINVAL
	case *tcpip.ErrAlreadyConnected:
		return errno.EISCONN
	case *tcpip.ErrAlreadyConnecting:
		return errno.EALREADY
	case *tcpip.ErrConnectionRefused:
		return errno.ECONNREFUSED
	case *tcpip.ErrConnectionReset:
		return errno.ECONNRESET
	case *tcpip.ErrConnectionAborted, *tcpip.ErrAborted:
		return errno.ECONNABORTED
	case *tcpip.ErrClosedForSend:
		return errno.EPIPE
	case *tcpip.ErrNotConnected:
		return errno.ENOTCONN
	case *tcpip.ErrDestinationRequired:
		return errno.EDESTADDRREQ
	case *tcpip.ErrNetworkUnreachable, *tcpip.ErrNoNet:
		return errno.ENETUNREACH
	case *tcpip.ErrHostUnreachable, *tcpip.ErrHostDown:
		return errno.EHOSTUNREACH
	case *tcpip.ErrTimeout:
		return errno.ETIMEDOUT
	case *tcpip.ErrMessageTooLong:
		return errno.EMSGSIZE
	case *tcpip.ErrNotSupported, *tcpip.ErrQueueSizeNotSupported:
		return errno.EOPNOTSUPP
	case *tcpip.ErrNoBufferSpace:
		return errno.ENOMEM
	case *tcpip.ErrNotPermitted, *tcpip.ErrBroadcastDisabled:
		return errno.EPERM
	case *tcpip.ErrBadAddress:
		return errno.EFAULT
	}
	return fmt.Errorf("%v: %w", err, errno.EINVAL)
}
