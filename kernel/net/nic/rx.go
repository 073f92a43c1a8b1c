package nic

import (
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
// header, or one piece of a frame spread over several (MRG_RXBUF).
func (e *Endpoint) received(d stack.NetworkDispatcher, b []byte) {
	r := &e.rx
	if r.left > 0 {
		r.partial += copy(r.scratch[r.partial:], b)
		if r.left--; r.left == 0 {
			e.deliver(d, r.hdr, r.scratch[:r.partial])
		}
		return
	}
	if len(b) < hdrLen {
		e.st.rxDropped.Add(1)
		return
	}
	hdr := virtionet.DecodeNetHdr(b)
	if hdr.NumBuffers > 1 && e.features&virtionet.FeatureMrgRxbuf != 0 {
		r.hdr = hdr
		r.partial = copy(r.scratch, b[hdrLen:])
		r.left = int(hdr.NumBuffers) - 1
		return
	}
	e.deliver(d, hdr, b[hdrLen:])
}

// deliver hands one Ethernet frame to the stack.
func (e *Endpoint) deliver(d stack.NetworkDispatcher, hdr virtionet.NetHdr, frame []byte) {
	if d == nil || len(frame) < header.EthernetMinimumSize {
		e.st.rxDropped.Add(1)
		return
	}
	e.st.rxFrames.Add(1)
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
	defer pkt.DecRef()
	// The backend vouches for the checksum: verified (DATA_VALID) or
	// never computed because the frame never left the host.
	pkt.RXChecksumValidated = hdr.Flags&(virtionet.NetHdrFDataValid|virtionet.NetHdrFNeedsCsum) != 0
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
