package usernet

import (
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/aurora-vm/aurora-vm/devices/virtio-net/tcpnorm"
)

// stallWait is how long the guest may take no frame at all, while the
// queue toward it is full, before the backend's stack stops waiting for
// room and drops frames instead.
const stallWait = 100 * time.Millisecond

// link is the backend's NIC toward the device: frames the guest sends are
// injected through the embedded channel endpoint, and frames for the guest
// wait in q for Receive.
//
// A channel endpoint alone drops a frame the moment its queue is full. The
// backend's stack produces frames far faster than a guest takes them (one
// window of a bulk transfer is thousands of frames), and a tail dropped that
// way costs TCP a retransmission timeout, a stall of 200 ms or more. So a
// full queue holds the writer back instead, for as long as the guest keeps
// taking frames, which slows the backend's senders to the guest's pace as
// a socket buffer would. But a guest that has stopped taking frames (no
// receive buffers posted) must not wedge the backend's stack, nor the
// device's transmit path through it: once nothing has been taken for
// stallWait, frames are dropped at once, as a NIC drops them, until the
// guest takes one again.
type link struct {
	*channel.Endpoint // dispatch to the stack, MTU, MAC, capabilities

	// norm sees every TCP segment crossing the link, and mends the ones
	// from the guest that the stack would mishandle (see tcpnorm).
	norm     *tcpnorm.Normaliser
	q        chan *stack.PacketBuffer
	done     chan struct{}
	progress atomic.Int64 // unix nanoseconds when the queue last had room or lost a frame to Receive
	once     sync.Once
}

func newLink(size int, mtu uint32, mac tcpip.LinkAddress) *link {
	l := &link{
		Endpoint: channel.New(0, mtu, mac),
		norm:     tcpnorm.New(),
		q:        make(chan *stack.PacketBuffer, size),
		done:     make(chan struct{}),
	}
	l.progress.Store(time.Now().UnixNano())
	return l
}

// WritePackets queues frames for the guest; it reports how many it took.
func (l *link) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	// The stack's receiver goes by what it advertised, whether or not
	// the frame then finds room: note every segment first.
	for _, pkt := range pkts.AsSlice() {
		l.norm.Outbound(pkt)
	}
	n := 0
	for _, pkt := range pkts.AsSlice() {
		select {
		case <-l.done:
			if n == 0 {
				return 0, &tcpip.ErrClosedForSend{}
			}
			return n, nil
		default:
		}
		if !l.enqueue(pkt) {
			break
		}
		n++
	}
	return n, nil
}

func (l *link) enqueue(pkt *stack.PacketBuffer) bool {
	// The queue holds its own reference; the writer may reuse pkt.
	p := pkt.Clone()
	select {
	case l.q <- p:
		l.progress.Store(time.Now().UnixNano())
		return true
	default:
	}
	var t *time.Timer
	for {
		wait := stallWait - time.Since(time.Unix(0, l.progress.Load()))
		if wait <= 0 {
			p.DecRef()
			return false
		}
		if t == nil {
			t = time.NewTimer(wait)
			defer t.Stop()
		} else {
			t.Reset(wait)
		}
		select {
		case l.q <- p:
			return true
		case <-t.C:
		case <-l.done:
			p.DecRef()
			return false
		}
	}
}

// next waits for the next frame for the guest; nil once the link is
// closed.
func (l *link) next(done <-chan struct{}) *stack.PacketBuffer {
	select {
	case p := <-l.q:
		l.progress.Store(time.Now().UnixNano())
		return p
	case <-l.done:
		return nil
	case <-done:
		return nil
	}
}

// Close stops the link and drops what is queued; the stack calls it when
// it removes the NIC, and the backend when it closes.
func (l *link) Close() {
	l.once.Do(func() {
		close(l.done)
		l.Endpoint.Close()
	})
	for {
		select {
		case p := <-l.q:
			p.DecRef()
		default:
			return
		}
	}
}
