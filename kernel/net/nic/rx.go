package nic

import (
	"encoding/binary"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	virtionet "github.com/aurora-vm/aurora-vm/devices/virtio-net"
)

// repostBatch is how many receive buffers the driver gives back before
// publishing them mid-burst, so the device is not starved during a long
// one.
const repostBatch = 32

// poll delivers what the device has put in the receive queue, with
// interrupts off, and turns them on again once it is empty, looking once
// more in case a buffer came in between.
func (e *Endpoint) poll() {
	q := e.rx.q
	for {
		q.DisableInterrupts()
		e.receiveBurst()
		if !q.EnableInterrupts() {
			return
		}
	}
}

// receiveBurst delivers every used receive buffer and posts it again.
func (e *Endpoint) receiveBurst() {
	r := &e.rx
	e.mu.RLock()
	d := e.dispatcher
	e.mu.RUnlock()
	reposted := 0
	for {
		head, n, ok, err := r.q.Used()
		if err != nil || !ok {
			break
		}
		cell := r.cellOf[head]
		e.received(d, r.cells[cell][:min(int(n), cellSize)])
		e.post(cell)
		if reposted++; reposted == repostBatch {
			e.publishRX()
			reposted = 0
		}
	}
	e.publishRX()
}

func (e *Endpoint) publishRX() {
	if e.rx.q.Publish() {
		e.dev.Notify(virtionet.RXQueue)
	}
}

// received handles one used receive buffer: a whole frame behind its
// header, or one piece of a frame spread over several (MRG_RXBUF). The
// frame is copied out of guest memory into the stack's own buffers,
// piece by piece.
func (e *Endpoint) received(d stack.NetworkDispatcher, b []byte) {
	r := &e.rx
	if r.left > 0 {
		r.buf.Append(buffer.NewViewWithData(b))
		if r.left--; r.left == 0 {
			hdr, frame := r.hdr, r.buf
			r.buf = buffer.Buffer{}
			if hdr.Flags&virtionet.NetHdrFNeedsCsum != 0 && !completeChecksum(hdr, &frame) {
				frame.Release()
				e.st.rxDropped.Add(1)
				return
			}
			e.deliver(d, frame)
		}
		return
	}
	if len(b) < hdrLen {
		e.st.rxDropped.Add(1)
		return
	}
	hdr := virtionet.DecodeNetHdr(b)
	if hdr.NumBuffers > 1 && e.features&virtionet.FeatureMrgRxbuf != 0 {
		r.hdr, r.buf, r.left = hdr, buffer.MakeWithData(b[hdrLen:]), int(hdr.NumBuffers)-1
		return
	}
	// A partial checksum is finished in place, in the driver's own buffer.
	if hdr.Flags&virtionet.NetHdrFNeedsCsum != 0 {
		if !virtionet.CompleteChecksum(hdr, b[hdrLen:]) {
			e.st.rxDropped.Add(1)
			return
		}
		hdr.Flags = 0
	}
	e.deliver(d, buffer.MakeWithData(b[hdrLen:]))
}

// completeChecksum finishes the partial checksum of a frame gathered from
// several buffers: the sum runs over all of them, the field lies in the
// first (where the headers are).
func completeChecksum(hdr virtionet.NetHdr, frame *buffer.Buffer) bool {
	start, at := int(hdr.CsumStart), int(hdr.CsumStart)+int(hdr.CsumOffset)
	views := frame.AsViewList()
	first := views.Front()
	if first == nil || at+2 > first.Size() || start > at {
		return false
	}
	binary.BigEndian.PutUint16(first.AsSlice()[at:], ^frame.Checksum(start))
	return true
}

// deliver hands one Ethernet frame to the stack, which takes frame.
func (e *Endpoint) deliver(d stack.NetworkDispatcher, frame buffer.Buffer) {
	if d == nil || frame.Size() < header.EthernetMinimumSize {
		frame.Release()
		e.st.rxDropped.Add(1)
		return
	}
	e.st.rxFrames.Add(1)
	// Checksums are complete by now; the headers are in the first view.
	views := frame.AsViewList()
	if ack := e.norm.Inbound(views.Front().AsSlice(), false); ack != nil {
		e.dispatch(d, buffer.MakeWithData(ack))
	}
	e.dispatch(d, frame)
}

// dispatch hands one Ethernet frame to the stack, which takes frame.
func (e *Endpoint) dispatch(d stack.NetworkDispatcher, frame buffer.Buffer) {
	// The stack checks every checksum itself (a NIC's capability, not a
	// packet's flag, would let it skip them), so DATA_VALID buys nothing
	// and partial checksums were finished in received.
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: frame})
	defer pkt.DecRef()
	if !e.ParseHeader(pkt) {
		return
	}
	eth := header.Ethernet(pkt.LinkHeader().Slice())
	switch dst := eth.DestinationAddress(); {
	case dst == header.EthernetBroadcastAddress:
		pkt.PktType = tcpip.PacketBroadcast
	case header.IsMulticastEthernetAddress(dst):
		pkt.PktType = tcpip.PacketMulticast
	case dst == e.mac:
		pkt.PktType = tcpip.PacketHost
	default:
		pkt.PktType = tcpip.PacketOtherHost
	}
	d.DeliverNetworkPacket(eth.Type(), pkt)
}
