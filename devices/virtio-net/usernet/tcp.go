package usernet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// copyBuffer is each direction's buffer, as io.Copy's: larger ones did not
// move bulk data faster, and a thousand connections hold two each.
const copyBuffer = 32 << 10

// copyBuffers lets connections that end hand their buffers to new ones.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBuffer); return &b }}

var (
	errReset   = errors.New("connection reset")
	errStopped = errors.New("backend closed")
)

// stackConn is a TCP endpoint of the backend's stack used as a blocking
// stream. Unlike gVisor's gonet adapter it tells a peer's reset from an
// orderly EOF, which the splice must carry across, and its wait entries are
// registered once for the connection's life, so a blocked read or write
// costs no allocation.
type stackConn struct {
	ep     tcpip.Endpoint
	wq     *waiter.Queue
	done   <-chan struct{}
	rEntry waiter.Entry
	rCh    chan struct{}
	wEntry waiter.Entry
	wCh    chan struct{}
	// Kept here, not on the stack, since the endpoint takes them as
	// interfaces: no allocation per call.
	wReader bytes.Reader
	rWriter tcpip.SliceWriter
}

func newStackConn(ep tcpip.Endpoint, wq *waiter.Queue, done <-chan struct{}) *stackConn {
	c := &stackConn{ep: ep, wq: wq, done: done}
	c.rEntry, c.rCh = waiter.NewChannelEntry(waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr)
	c.wEntry, c.wCh = waiter.NewChannelEntry(waiter.WritableEvents | waiter.EventHUp | waiter.EventErr)
	wq.EventRegister(&c.rEntry)
	wq.EventRegister(&c.wEntry)
	return c
}

// Read reads what has arrived, blocking until something has: io.EOF after
// the peer's FIN, errReset after its RST, errStopped when the backend
// closes.
func (c *stackConn) Read(b []byte) (int, error) {
	for {
		c.rWriter = b
		res, err := c.ep.Read(&c.rWriter, tcpip.ReadOptions{})
		switch err.(type) {
		case nil:
			c.ep.ModerateRecvBuf(res.Count) // let the receive window grow with use
			return res.Count, nil
		case *tcpip.ErrWouldBlock:
			select {
			case <-c.rCh:
			case <-c.done:
				return 0, errStopped
			}
		case *tcpip.ErrClosedForReceive:
			return 0, io.EOF
		default:
			return 0, errReset
		}
	}
}

// Write writes all of b, blocking while the send buffer is full.
func (c *stackConn) Write(b []byte) error {
	for len(b) > 0 {
		c.wReader.Reset(b)
		n, err := c.ep.Write(&c.wReader, tcpip.WriteOptions{})
		b = b[n:]
		switch err.(type) {
		case nil:
		case *tcpip.ErrWouldBlock:
			select {
			case <-c.wCh:
			case <-c.done:
				return errStopped
			}
		default:
			return errReset
		}
	}
	return nil
}

// close unregisters the wait entries and closes the endpoint (gracefully
// if both directions are done, else with a reset).
func (c *stackConn) close() {
	c.wq.EventUnregister(&c.rEntry)
	c.wq.EventUnregister(&c.wEntry)
	c.ep.Close()
}

// handleTCP serves a guest's connection attempt to any address, on a
// goroutine of its own that netstack's forwarder starts. The host side is
// dialled first, so that a refused host connection is refused to the guest
// too, with a reset.
func (b *Backend) handleTCP(r *tcp.ForwarderRequest) {
	if !b.track() {
		r.Complete(true)
		return
	}
	defer b.wg.Done()
	id := r.ID()
	to, ok := b.target(addrPort(id.LocalAddress, id.LocalPort))
	if !ok {
		r.Complete(true)
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, dialTimeout)
	host, err := b.dial(ctx, "tcp", to.String())
	cancel()
	if err != nil {
		r.Complete(true)
		return
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	r.Complete(terr != nil)
	if terr != nil {
		host.Close()
		return
	}
	b.splice(host, newStackConn(ep, &wq, b.ctx.Done()))
}

// startTCPForward accepts host connections on ln for as long as the
// backend runs.
func (b *Backend) startTCPForward(ln net.Listener, f Forward) {
	if !b.addListener(ln) || !b.track() {
		ln.Close()
		return
	}
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if b.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
					return
				}
				// Out of descriptors or the like: let it pass.
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if !b.track() {
				c.Close()
				return
			}
			go func() {
				defer b.wg.Done()
				g, err := b.dialGuest(f.GuestPort)
				if err != nil {
					// Nothing listens in the guest (or it did not
					// answer): the host client sees its connection
					// reset, as it would by a closed port.
					resetHost(c)
					return
				}
				b.splice(c, g)
			}()
		}
	}()
}

// dialGuest connects from the gateway address to the guest's port.
func (b *Backend) dialGuest(port uint16) (*stackConn, error) {
	var wq waiter.Queue
	ep, terr := b.s.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		return nil, errors.New(terr.String())
	}
	c := newStackConn(ep, &wq, b.ctx.Done())
	if terr := ep.Bind(tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFrom4(GatewayAddr.As4())}); terr != nil {
		c.close()
		return nil, errors.New(terr.String())
	}
	terr = ep.Connect(fullAddrPort(GuestAddr.As4(), port))
	if _, started := terr.(*tcpip.ErrConnectStarted); started {
		t := time.NewTimer(dialTimeout)
		defer t.Stop()
		select {
		case <-c.wCh:
			terr = ep.LastError()
		case <-t.C:
			terr = &tcpip.ErrTimeout{}
		case <-b.ctx.Done():
			terr = &tcpip.ErrAborted{}
		}
	}
	if terr != nil {
		c.close()
		return nil, errors.New(terr.String())
	}
	return c, nil
}

func fullAddrPort(ip [4]byte, port uint16) tcpip.FullAddress {
	return tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFrom4(ip), Port: port}
}

// splice is one connection between a host socket and a guest endpoint.
type splice struct {
	host  net.Conn
	guest *stackConn
}

// abort resets both sides; Close uses it, and it is safe beside the
// copying goroutines.
func (c *splice) abort() {
	resetHost(c.host)
	c.guest.ep.Abort()
}

// resetHost closes a host connection with a reset rather than a FIN.
func resetHost(c net.Conn) {
	if tc, ok := c.(interface{ SetLinger(int) error }); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// splice copies bytes both ways until both directions have ended, then
// closes both sides. It runs on a tracked goroutine and tracks the second
// one it starts.
func (b *Backend) splice(host net.Conn, guest *stackConn) {
	c := &splice{host: host, guest: guest}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		resetHost(host)
		guest.ep.Abort()
		guest.close()
		return
	}
	b.conns[c] = struct{}{}
	b.wg.Add(1)
	b.mu.Unlock()

	down := make(chan struct{})
	go func() {
		defer b.wg.Done()
		defer close(down)
		c.hostToGuest()
	}()
	c.guestToHost()
	<-down

	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	host.Close()
	guest.close()
}

// guestToHost: the guest's FIN half-closes the host connection; a reset or
// any failure resets it; a host that will not take the bytes resets the
// guest.
func (c *splice) guestToHost() {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	for {
		n, err := c.guest.Read(buf)
		if n > 0 {
			if _, werr := c.host.Write(buf[:n]); werr != nil {
				c.abort()
				return
			}
		}
		switch {
		case err == nil:
		case err == io.EOF:
			if cw, ok := c.host.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			} else {
				c.host.Close()
			}
			return
		default:
			resetHost(c.host)
			return
		}
	}
}

// hostToGuest is the same the other way.
func (c *splice) hostToGuest() {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	for {
		n, err := c.host.Read(buf)
		if n > 0 {
			if werr := c.guest.Write(buf[:n]); werr != nil {
				c.abort()
				return
			}
		}
		switch {
		case err == nil:
		case err == io.EOF:
			c.guest.ep.Shutdown(tcpip.ShutdownWrite)
			return
		default:
			c.guest.ep.Abort()
			return
		}
	}
}
