package usernet

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// maxDatagram is the largest UDP payload over IPv4.
const maxDatagram = 65535

// datagramBuffers lets flows that end hand their buffers to new ones.
var datagramBuffers = sync.Pool{New: func() any { b := make([]byte, maxDatagram); return &b }}

// udpReceiveBuffer lets a burst of datagrams wait in a flow's guest-side
// endpoint instead of being dropped.
const udpReceiveBuffer = 1 << 20

// udpFlow is one UDP conversation between a guest address and port and a
// host peer: a connected endpoint in the backend's stack, and on the host
// either a connected socket of its own (guest-initiated flows) or the
// forward's listening socket and the client's address (forwarded flows).
type udpFlow struct {
	b      *Backend
	ep     tcpip.Endpoint
	wq     waiter.Queue
	rEntry waiter.Entry
	rCh    chan struct{}

	host net.Conn // guest-initiated flows: connected to the destination

	last   atomic.Int64      // unix nanoseconds of the last datagram either way
	wr     bytes.Reader      // the guest-bound writer's (no allocation per datagram)
	rw     tcpip.SliceWriter // the guest reader's
	done   chan struct{}
	closed sync.Once
}

func (b *Backend) newFlow() *udpFlow {
	f := &udpFlow{b: b, done: make(chan struct{})}
	f.rEntry, f.rCh = waiter.NewChannelEntry(waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr)
	f.touch()
	return f
}

func (f *udpFlow) touch() { f.last.Store(time.Now().UnixNano()) }

func (f *udpFlow) ended() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// close ends the flow; its goroutines see done and leave.
func (f *udpFlow) close() {
	f.closed.Do(func() {
		close(f.done)
		if f.host != nil {
			f.host.Close()
		}
		f.wq.EventUnregister(&f.rEntry)
		f.ep.Close()
	})
}

// register adds the flow to those Close ends and tracks n goroutines for
// it; it refuses once Close has begun.
func (b *Backend) register(f *udpFlow, n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.flows[f] = struct{}{}
	b.wg.Add(n)
	return true
}

func (b *Backend) unregister(f *udpFlow) {
	b.mu.Lock()
	delete(b.flows, f)
	b.mu.Unlock()
}

// readGuest waits for the guest's next datagram, ending the flow when none
// has passed either way for the idle timeout. idle is the calling
// goroutine's timer, armed once; when it fires early (there was traffic
// since) it is re-armed for the rest.
func (f *udpFlow) readGuest(buf []byte, idle *time.Timer) (int, bool) {
	for {
		f.rw = buf
		res, err := f.ep.Read(&f.rw, tcpip.ReadOptions{})
		switch err.(type) {
		case nil:
			f.touch()
			return res.Count, true
		case *tcpip.ErrWouldBlock:
		default:
			return 0, false
		}
		select {
		case <-f.rCh:
		case <-f.done:
			return 0, false
		case <-idle.C:
			if left := f.b.udpIdle - time.Since(time.Unix(0, f.last.Load())); left > 0 {
				idle.Reset(left)
				continue
			}
			return 0, false
		}
	}
}

// writeGuest sends one datagram to the guest; like any datagram it may be
// dropped (a full send buffer, an address not yet resolved).
func (f *udpFlow) writeGuest(p []byte) {
	f.touch()
	f.wr.Reset(p)
	f.ep.Write(&f.wr, tcpip.WriteOptions{})
}

// handleUDP serves a guest datagram that no flow has claimed yet: it runs
// on the stack's packet path, so it only opens sockets (an IP literal's
// dial never blocks) and leaves the copying to goroutines.
func (b *Backend) handleUDP(r *udp.ForwarderRequest) bool {
	id := r.ID()
	to, ok := b.target(addrPort(id.LocalAddress, id.LocalPort))
	if !ok {
		return true // dropped, as a refusing NAT drops it
	}
	host, err := b.dial(b.ctx, "udp", to.String())
	if err != nil {
		return true
	}
	f := b.newFlow()
	f.host = host
	ep, terr := r.CreateEndpoint(&f.wq)
	if terr != nil {
		host.Close()
		return true
	}
	f.ep = ep
	ep.SocketOptions().SetReceiveBufferSize(udpReceiveBuffer, true)
	f.wq.EventRegister(&f.rEntry)
	if !b.register(f, 2) {
		f.close()
		return true
	}
	go func() { // guest to host
		defer b.wg.Done()
		defer b.unregister(f)
		defer f.close()
		bp := datagramBuffers.Get().(*[]byte)
		defer datagramBuffers.Put(bp)
		buf := *bp
		idle := time.NewTimer(b.udpIdle)
		defer idle.Stop()
		for {
			n, ok := f.readGuest(buf, idle)
			if !ok {
				return
			}
			host.Write(buf[:n])
		}
	}()
	go func() { // host to guest
		defer b.wg.Done()
		defer f.close()
		bp := datagramBuffers.Get().(*[]byte)
		defer datagramBuffers.Put(bp)
		buf := *bp
		for {
			n, err := host.Read(buf)
			if err != nil {
				// A port unreachable from the host only means
				// nobody listened to the last datagram.
				if errors.Is(err, syscall.ECONNREFUSED) {
					continue
				}
				return
			}
			f.writeGuest(buf[:n])
		}
	}()
	return true
}

// startUDPForward serves a UDP forward: every host client address gets a
// flow of its own, an endpoint bound to the gateway address and connected
// to the guest's port, so that the guest's replies find their way back.
func (b *Backend) startUDPForward(pc *net.UDPConn, fw Forward) {
	if !b.addListener(pc) || !b.track() {
		pc.Close()
		return
	}
	var mu sync.Mutex
	flows := make(map[netip.AddrPort]*udpFlow)
	go func() {
		defer b.wg.Done()
		buf := make([]byte, maxDatagram)
		for {
			n, src, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				if b.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			mu.Lock()
			f := flows[src]
			mu.Unlock()
			if f == nil || f.ended() {
				if f = b.forwardedFlow(fw.GuestPort); f == nil {
					continue
				}
				mu.Lock()
				flows[src] = f
				mu.Unlock()
				go func() { // guest to host client
					defer b.wg.Done()
					defer b.unregister(f)
					defer func() {
						mu.Lock()
						if flows[src] == f {
							delete(flows, src)
						}
						mu.Unlock()
					}()
					defer f.close()
					bp := datagramBuffers.Get().(*[]byte)
					defer datagramBuffers.Put(bp)
					buf := *bp
					idle := time.NewTimer(b.udpIdle)
					defer idle.Stop()
					for {
						n, ok := f.readGuest(buf, idle)
						if !ok {
							return
						}
						pc.WriteToUDPAddrPort(buf[:n], src)
					}
				}()
			}
			f.writeGuest(buf[:n])
		}
	}()
}

// forwardedFlow opens the guest side of a new forwarded flow, or returns
// nil if it cannot (the backend is closing).
func (b *Backend) forwardedFlow(guestPort uint16) *udpFlow {
	f := b.newFlow()
	ep, terr := b.s.NewEndpoint(udp.ProtocolNumber, ipv4.ProtocolNumber, &f.wq)
	if terr != nil {
		return nil
	}
	f.ep = ep
	ep.SocketOptions().SetReceiveBufferSize(udpReceiveBuffer, true)
	f.wq.EventRegister(&f.rEntry)
	if terr := ep.Bind(tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFrom4(GatewayAddr.As4())}); terr != nil {
		f.close()
		return nil
	}
	if terr := ep.Connect(fullAddrPort(GuestAddr.As4(), guestPort)); terr != nil {
		f.close()
		return nil
	}
	if !b.register(f, 1) {
		f.close()
		return nil
	}
	return f
}
