// Package tcpnorm normalises the TCP segments a gVisor netstack receives,
// at its link, so that two flaws of the netstack's window handling cannot
// stall or deadlock a connection when frames are lost or reordered on
// the way. Both stacks of a VM with the user-mode network are netstacks
// (the guest kernel's and the backend's), and either may meet the flaws.
//
// Stale windows. The netstack's sender takes the peer's window from every
// acknowledgement it accepts, an old one that arrives after a newer one
// included (RFC 9293, 3.10.7.4, updates the window only from segments no
// older than the last update, SND.WL1 and SND.WL2, which the netstack
// does not keep), and adds it to its newer SND.UNA. A reordered
// acknowledgement with a larger window so moves the right edge past
// anything the peer offered, and the netstack sends data the peer has no
// room for. Inbound lowers the window of an acknowledgement older than the
// newest one seen to the newest one's, which keeps the edge where the
// peer put it.
//
// Acknowledgements out of the window. The netstack's receiver drops a
// segment that does not overlap its receive window without reading its
// acknowledgement; with a zero window, anything but a pure acknowledgement
// at exactly RCV.NXT. Yet a peer may rightly have sent past that window:
// the netstack rounds the window it advertises down to its scale, so an
// edge it offered may be withdrawn by up to 2^scale-1 bytes later, and a
// peer misled by the first flaw sends past the edge as well. The peer's
// acknowledgements then ride on segments the netstack throws away: pure
// acknowledgements at the peer's SND.NXT, past the window, and data at
// RCV.NXT that a zero window refuses. A receiver that has stopped reading
// because its own sends block (an echo server, say) then never learns
// that its data arrived: its send buffer stays full, it never reads, its
// window stays zero, and both ends wait for good. RFC 9293 asks receivers
// to make "special allowance to accept valid ACKs" with a zero window,
// and Linux reads the acknowledgement of an in-sequence segment it has no
// room for. Inbound does as much for the netstack: for a segment the
// netstack will drop for its sequence number, it makes a pure
// acknowledgement at RCV.NXT carrying the segment's acknowledgement,
// window and options, for the link to deliver first. The segment itself
// still goes to the netstack, which drops it as before and answers it as
// before (a zero-window probe expects that answer).
//
// RCV.NXT is known at the link as the acknowledgement the netstack last
// sent (data that came in since moves it on, and then the made-up
// acknowledgement is merely old, and dropped). So a Normaliser sees both
// directions of one stack's link: Outbound every segment the stack sends,
// Inbound every frame before the stack parses it. It trusts the link as
// the stack does: a made-up acknowledgement skips the netstack's sequence
// check, not its check of the acknowledgement number.
package tcpnorm

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/seqnum"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// maxFlows bounds the connections a Normaliser tracks. Entries of closed
// connections are removed when both FINs or a reset have passed; those
// that end otherwise (a peer that vanishes) are dropped all at once when
// the table is full. A connection without an entry is merely not
// normalised until its next segments rebuild one.
const maxFlows = 16384

// key is a connection as the stack sees it.
type key struct {
	local, remote         [4]byte
	localPort, remotePort uint16
}

// flow is what a Normaliser knows of one connection.
type flow struct {
	// The newest acknowledgement from the peer and the window it carried
	// (as on the wire, unscaled).
	peerAck  uint32
	peerWnd  uint16
	havePeer bool
	// The acknowledgement and window of the stack's last segment, and
	// the end of the sequence space it has sent (its SND.NXT, at most).
	ourAck  uint32
	ourWnd  uint16
	ourNxt  uint32
	haveOur bool // ourNxt is known
	haveAdv bool // ourAck and ourWnd are
	// The window scales the stack and the peer announced in their SYNs
	// (-1: none), once the SYNs have been seen.
	ourWS, peerWS   int
	ourSyn, peerSyn bool
	// FINs seen: the entry goes when both have.
	finIn, finOut bool
}

// Normaliser normalises one stack's inbound TCP segments. Its methods
// may be called from several goroutines.
type Normaliser struct {
	mu    sync.Mutex
	flows map[key]*flow

	windows, acks atomic.Uint64
}

// New returns a Normaliser that tracks no connection yet.
func New() *Normaliser {
	return &Normaliser{flows: make(map[key]*flow)}
}

// Stats counts what Inbound did: windows of stale acknowledgements it
// lowered, and acknowledgements it made for segments out of the window.
type Stats struct {
	StaleWindows, Acks uint64
}

// Stats returns the counters.
func (n *Normaliser) Stats() Stats {
	return Stats{StaleWindows: n.windows.Load(), Acks: n.acks.Load()}
}

// Outbound notes a packet the stack sends: for TCP, the acknowledgement
// and window it advertises. It must see every segment the stack hands to
// the link, also those the link then fails to send, since the stack's
// receiver goes by what it advertised, delivered or not.
func (n *Normaliser) Outbound(pkt *stack.PacketBuffer) {
	if pkt.NetworkProtocolNumber != header.IPv4ProtocolNumber || pkt.TransportProtocolNumber != header.TCPProtocolNumber {
		return
	}
	ip := header.IPv4(pkt.NetworkHeader().Slice())
	tcp := header.TCP(pkt.TransportHeader().Slice())
	if len(ip) < header.IPv4MinimumSize || len(tcp) < header.TCPMinimumSize {
		return
	}
	k := key{
		local: ip.SourceAddress().As4(), remote: ip.DestinationAddress().As4(),
		localPort: tcp.SourcePort(), remotePort: tcp.DestinationPort(),
	}
	flags := tcp.Flags()
	n.mu.Lock()
	defer n.mu.Unlock()
	f := n.lookup(k, flags)
	if f == nil {
		return
	}
	end := tcp.SequenceNumber() + uint32(pkt.Data().Size())
	if flags.Contains(header.TCPFlagSyn) {
		end++
		f.ourWS, f.ourSyn = header.ParseSynOptions(tcp.Options(), flags.Contains(header.TCPFlagAck)).WS, true
	}
	if flags.Contains(header.TCPFlagFin) {
		end++
	}
	if !f.haveOur || before(f.ourNxt, end) {
		f.ourNxt = end
	}
	f.haveOur = true
	if flags.Contains(header.TCPFlagAck) && !flags.Contains(header.TCPFlagSyn) {
		f.ourAck, f.ourWnd, f.haveAdv = tcp.AckNumber(), tcp.WindowSize(), true
	}
	if flags.Contains(header.TCPFlagFin) {
		f.finOut = true
		n.forgetIfDone(k, f)
	}
}

// Inbound normalises an Ethernet frame for the stack in place; frame must
// hold at least the frame's headers (the first buffer of a frame spread
// over several). partial says the TCP checksum is still to be computed
// over the segment (a virtio_net_hdr's NEEDS_CSUM), so it is not updated
// here; otherwise it is kept valid.
//
// When the stack will drop the segment as out of its window without
// reading its acknowledgement, Inbound returns a pure acknowledgement at
// RCV.NXT that carries it (a new frame, with a complete checksum), to be
// delivered to the stack just before frame; otherwise nil.
func (n *Normaliser) Inbound(frame []byte, partial bool) (ack []byte) {
	if len(frame) < header.EthernetMinimumSize ||
		header.Ethernet(frame).Type() != header.IPv4ProtocolNumber {
		return nil
	}
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	if len(ip) < header.IPv4MinimumSize || ip.Protocol() != uint8(header.TCPProtocolNumber) ||
		ip.FragmentOffset() != 0 || ip.Flags()&header.IPv4FlagMoreFragments != 0 {
		return nil
	}
	ihl, total := int(ip.HeaderLength()), int(ip.TotalLength())
	if ihl < header.IPv4MinimumSize || len(ip) < ihl+header.TCPMinimumSize || total < ihl+header.TCPMinimumSize {
		return nil
	}
	tcp := header.TCP(ip[ihl:])
	doff := int(tcp.DataOffset())
	if doff < header.TCPMinimumSize || len(tcp) < doff || total < ihl+doff {
		return nil
	}
	payload := total - ihl - doff
	k := key{
		local: ip.DestinationAddress().As4(), remote: ip.SourceAddress().As4(),
		localPort: tcp.DestinationPort(), remotePort: tcp.SourcePort(),
	}
	flags := tcp.Flags()
	n.mu.Lock()
	defer n.mu.Unlock()
	f := n.lookup(k, flags)
	if f == nil {
		return nil
	}
	if flags.Contains(header.TCPFlagSyn) {
		f.peerWS, f.peerSyn = header.ParseSynOptions(tcp.Options(), flags.Contains(header.TCPFlagAck)).WS, true
		return nil
	}
	if !flags.Contains(header.TCPFlagAck) {
		return nil
	}
	if flags.Contains(header.TCPFlagFin) {
		f.finIn = true
		defer n.forgetIfDone(k, f)
	}
	ack32, wnd := tcp.AckNumber(), tcp.WindowSize()
	if f.haveOur && before(f.ourNxt, ack32) {
		// Acknowledges what the stack never sent: the stack will not
		// take it, and it says nothing of the peer's window.
		return nil
	}
	if f.havePeer && before(ack32, f.peerAck) {
		// Older than the newest acknowledgement: its window must not
		// move the edge past the newest one's. Otherwise it tells the
		// stack nothing new, dropped or not.
		if wnd > f.peerWnd {
			setField16(tcp, header.TCPWinSizeOffset, f.peerWnd, partial)
			n.windows.Add(1)
		}
		return nil
	}
	f.peerAck, f.peerWnd, f.havePeer = ack32, wnd, true
	if !f.haveAdv || flags.Contains(header.TCPFlagUrg) {
		return nil // nothing advertised yet; or urgent data, left alone
	}
	// The stack's receiver takes a segment only if it overlaps the window
	// it last advertised, counted from RCV.NXT, or, with a zero window,
	// if it is a pure acknowledgement at exactly RCV.NXT: the test is the
	// stack's own, on the window as advertised (scaled, so rounded).
	var scale uint8
	switch {
	case !f.ourSyn || !f.peerSyn:
		// The entry was made mid-connection: the scale is unknown, and
		// only a zero window is sure to be one.
		if f.ourWnd != 0 {
			return nil
		}
	case f.ourWS >= 0 && f.peerWS >= 0:
		scale = uint8(min(f.ourWS, header.MaxWndScale))
	}
	nxt := seqnum.Value(f.ourAck)
	edge := nxt.Add(seqnum.Size(f.ourWnd) << scale)
	if header.Acceptable(seqnum.Value(tcp.SequenceNumber()), seqnum.Size(payload), nxt, edge) {
		return nil
	}
	n.acks.Add(1)
	return pureAck(frame[:header.EthernetMinimumSize+ihl+doff], f.ourAck)
}

// pureAck makes a copy of a segment's headers (Ethernet, IPv4, TCP with
// its options) into a pure acknowledgement with sequence number seq.
func pureAck(hdrs []byte, seq uint32) []byte {
	b := append([]byte(nil), hdrs...)
	ip := header.IPv4(b[header.EthernetMinimumSize:])
	ip.SetTotalLength(uint16(len(ip)))
	ip.SetChecksum(0)
	ip.SetChecksum(^ip.CalculateChecksum())
	tcp := header.TCP(ip[ip.HeaderLength():])
	tcp.SetSequenceNumber(seq)
	tcp.SetFlags(uint8(header.TCPFlagAck))
	tcp.SetChecksum(0)
	xsum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, ip.SourceAddress(), ip.DestinationAddress(), uint16(len(tcp)))
	tcp.SetChecksum(^tcp.CalculateChecksum(xsum))
	return b
}

// lookup returns the entry for k, made fresh by a SYN (a new connection
// on the tuple) and removed by a reset, when it returns nil. n.mu is held.
func (n *Normaliser) lookup(k key, flags header.TCPFlags) *flow {
	if flags.Contains(header.TCPFlagRst) {
		delete(n.flows, k)
		return nil
	}
	f := n.flows[k]
	if f == nil || flags.Contains(header.TCPFlagSyn) && !flags.Contains(header.TCPFlagAck) {
		if f == nil && len(n.flows) >= maxFlows {
			clear(n.flows)
		}
		f = &flow{}
		n.flows[k] = f
	}
	return f
}

// forgetIfDone removes a connection both of whose FINs have passed: no
// window matters after them. n.mu is held.
func (n *Normaliser) forgetIfDone(k key, f *flow) {
	if f.finIn && f.finOut {
		delete(n.flows, k)
	}
}

// before reports whether sequence number a comes before b (modulo 2^32).
func before(a, b uint32) bool { return int32(a-b) < 0 }

// setField16 writes v at off in a TCP header, updating a full checksum
// for the change (RFC 1624); a partial one is computed later over the
// new value.
func setField16(tcp header.TCP, off int, v uint16, partial bool) {
	old := binary.BigEndian.Uint16(tcp[off:])
	if old == v {
		return
	}
	binary.BigEndian.PutUint16(tcp[off:], v)
	if !partial {
		sum := checksum.Combine(^tcp.Checksum(), checksum.Combine(v, ^old))
		tcp.SetChecksum(^sum)
	}
}
