package tcpnorm

import (
	"testing"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

var (
	local  = tcpip.AddrFrom4([4]byte{10, 0, 2, 15})
	remote = tcpip.AddrFrom4([4]byte{10, 0, 2, 2})
)

const localPort, remotePort = 7000, 40000

// seg describes a segment between local and remote.
type seg struct {
	seq, ack uint32
	flags    header.TCPFlags
	wnd      uint16
	payload  int
	opts     []byte
}

// inbound builds the Ethernet frame of a segment from remote to local,
// with valid checksums.
func inbound(s seg) []byte {
	tcpLen := header.TCPMinimumSize + len(s.opts)
	b := make([]byte, header.EthernetMinimumSize+header.IPv4MinimumSize+tcpLen+s.payload)
	header.Ethernet(b).Encode(&header.EthernetFields{Type: header.IPv4ProtocolNumber})
	ip := header.IPv4(b[header.EthernetMinimumSize:])
	ip.Encode(&header.IPv4Fields{
		TotalLength: uint16(len(ip)), TTL: 64, Protocol: uint8(header.TCPProtocolNumber),
		SrcAddr: remote, DstAddr: local,
	})
	ip.SetChecksum(^ip.CalculateChecksum())
	tcp := header.TCP(ip[header.IPv4MinimumSize:])
	tcp.Encode(&header.TCPFields{
		SrcPort: remotePort, DstPort: localPort, SeqNum: s.seq, AckNum: s.ack,
		DataOffset: uint8(tcpLen), Flags: s.flags, WindowSize: s.wnd,
	})
	copy(tcp[header.TCPMinimumSize:], s.opts)
	for i := range s.payload {
		tcp[tcpLen+i] = byte(i)
	}
	xsum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, remote, local, uint16(len(tcp)))
	tcp.SetChecksum(^checksum.Checksum(tcp, xsum))
	return b
}

// outbound builds a segment from local to remote as the stack hands it
// to its link.
func outbound(s seg) *stack.PacketBuffer {
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
		ReserveHeaderBytes: 128,
		Payload:            buffer.MakeWithData(make([]byte, s.payload)),
	})
	tcpLen := header.TCPMinimumSize + len(s.opts)
	tcp := header.TCP(pkt.TransportHeader().Push(tcpLen))
	tcp.Encode(&header.TCPFields{
		SrcPort: localPort, DstPort: remotePort, SeqNum: s.seq, AckNum: s.ack,
		DataOffset: uint8(tcpLen), Flags: s.flags, WindowSize: s.wnd,
	})
	copy(tcp[header.TCPMinimumSize:], s.opts)
	pkt.TransportProtocolNumber = header.TCPProtocolNumber
	ip := header.IPv4(pkt.NetworkHeader().Push(header.IPv4MinimumSize))
	ip.Encode(&header.IPv4Fields{
		TotalLength: uint16(pkt.Size()), TTL: 64, Protocol: uint8(header.TCPProtocolNumber),
		SrcAddr: local, DstAddr: remote,
	})
	pkt.NetworkProtocolNumber = header.IPv4ProtocolNumber
	return pkt
}

func send(n *Normaliser, s seg) {
	pkt := outbound(s)
	defer pkt.DecRef()
	n.Outbound(pkt)
}

// wsOption is a window scale option, padded.
func wsOption(shift int) []byte {
	b := make([]byte, 4)
	header.EncodeWSOption(shift, b[1:])
	b[0] = header.TCPOptionNOP
	return b
}

// connect runs a handshake through n: the peer's SYN, the stack's
// SYN-ACK and the peer's ACK, each side announcing window scale shift
// (none if negative).
func connect(n *Normaliser, shift int) {
	var opts []byte
	if shift >= 0 {
		opts = wsOption(shift)
	}
	n.Inbound(inbound(seg{seq: 999, flags: header.TCPFlagSyn, wnd: 65535, opts: opts}), false)
	send(n, seg{seq: 4999, ack: 1000, flags: header.TCPFlagSyn | header.TCPFlagAck, wnd: 65535, opts: opts})
	n.Inbound(inbound(seg{seq: 1000, ack: 5000, flags: header.TCPFlagAck, wnd: 512}), false)
}

func tcpOf(frame []byte) header.TCP {
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	return header.TCP(ip[ip.HeaderLength():])
}

// checksumsValid checks a frame's IPv4 and TCP checksums.
func checksumsValid(t *testing.T, frame []byte) {
	t.Helper()
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	if !ip.IsChecksumValid() {
		t.Errorf("bad IPv4 checksum")
	}
	tcp := header.TCP(ip[ip.HeaderLength():ip.TotalLength()])
	xsum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, ip.SourceAddress(), ip.DestinationAddress(), uint16(len(tcp)))
	if checksum.Checksum(tcp, xsum) != 0xffff {
		t.Errorf("bad TCP checksum")
	}
}

func TestAStaleAcknowledgementDoesNotWidenTheWindow(t *testing.T) {
	n := New()
	connect(n, 7)
	send(n, seg{seq: 5000, ack: 1000, flags: header.TCPFlagAck, wnd: 512, payload: 3000})
	// The newer acknowledgement comes first, the older one (with the
	// larger window of its time) after it.
	if ack := n.Inbound(inbound(seg{seq: 1000, ack: 7000, flags: header.TCPFlagAck, wnd: 100}), false); ack != nil {
		t.Fatal("an acceptable segment got an acknowledgement made for it")
	}
	old := inbound(seg{seq: 1000, ack: 6000, flags: header.TCPFlagAck, wnd: 300})
	n.Inbound(old, false)
	if got := tcpOf(old).WindowSize(); got != 100 {
		t.Errorf("the stale acknowledgement's window is %d, want the newest one's, 100", got)
	}
	checksumsValid(t, old)
	// A smaller window is left as it is, and so is a newer one.
	small := inbound(seg{seq: 1000, ack: 6000, flags: header.TCPFlagAck, wnd: 50})
	n.Inbound(small, false)
	newer := inbound(seg{seq: 1000, ack: 8000, flags: header.TCPFlagAck, wnd: 400})
	n.Inbound(newer, false)
	if tcpOf(small).WindowSize() != 50 || tcpOf(newer).WindowSize() != 400 {
		t.Errorf("windows %d and %d, want 50 and 400 untouched", tcpOf(small).WindowSize(), tcpOf(newer).WindowSize())
	}
	if got := n.Stats(); got.StaleWindows != 1 {
		t.Errorf("stats %+v, want one stale window", got)
	}
}

func TestAPartialChecksumIsLeftToBeComputed(t *testing.T) {
	n := New()
	connect(n, 7)
	send(n, seg{seq: 5000, ack: 1000, flags: header.TCPFlagAck, wnd: 512, payload: 3000})
	n.Inbound(inbound(seg{seq: 1000, ack: 7000, flags: header.TCPFlagAck, wnd: 100}), false)
	old := inbound(seg{seq: 1000, ack: 6000, flags: header.TCPFlagAck, wnd: 300})
	before := tcpOf(old).Checksum()
	n.Inbound(old, true)
	if tcpOf(old).WindowSize() != 100 || tcpOf(old).Checksum() != before {
		t.Errorf("window %d, checksum %#x (was %#x): want 100 and the checksum field untouched",
			tcpOf(old).WindowSize(), tcpOf(old).Checksum(), before)
	}
}

func TestAnAcknowledgementOfWhatWasNeverSentIsIgnored(t *testing.T) {
	n := New()
	connect(n, 7)
	send(n, seg{seq: 5000, ack: 1000, flags: header.TCPFlagAck, wnd: 512, payload: 1000})
	n.Inbound(inbound(seg{seq: 1000, ack: 9000, flags: header.TCPFlagAck, wnd: 0}), false)
	old := inbound(seg{seq: 1000, ack: 5500, flags: header.TCPFlagAck, wnd: 300})
	n.Inbound(old, false)
	if got := tcpOf(old).WindowSize(); got != 300 {
		t.Errorf("window %d: a bogus acknowledgement was taken as the newest", got)
	}
}

func TestAcknowledgementsAroundAZeroWindow(t *testing.T) {
	n := New()
	connect(n, 7)
	// The stack has taken 20000 bytes and has no room left.
	send(n, seg{seq: 5000, ack: 21000, flags: header.TCPFlagAck, wnd: 0, payload: 1000})
	for _, c := range []struct {
		name string
		seg  seg
		made bool
	}{
		{"a pure acknowledgement at RCV.NXT", seg{seq: 21000, ack: 5500, flags: header.TCPFlagAck, wnd: 9}, false},
		{"a pure acknowledgement past the window", seg{seq: 21100, ack: 5600, flags: header.TCPFlagAck, wnd: 9}, true},
		{"data at RCV.NXT", seg{seq: 21000, ack: 5700, flags: header.TCPFlagAck | header.TCPFlagPsh, wnd: 9, payload: 100}, true},
		{"a FIN past the window", seg{seq: 21100, ack: 5800, flags: header.TCPFlagAck | header.TCPFlagFin, wnd: 9}, true},
		{"a stale acknowledgement", seg{seq: 21100, ack: 5100, flags: header.TCPFlagAck, wnd: 9}, false},
		{"a reset", seg{seq: 21100, ack: 5800, flags: header.TCPFlagAck | header.TCPFlagRst}, false},
	} {
		frame := inbound(c.seg)
		orig := append([]byte(nil), frame...)
		ack := n.Inbound(frame, false)
		if (ack != nil) != c.made {
			t.Errorf("%s: made an acknowledgement: %v, want %v", c.name, ack != nil, c.made)
		}
		if string(frame) != string(orig) {
			t.Errorf("%s: the segment itself was changed", c.name)
		}
		if ack == nil {
			continue
		}
		checksumsValid(t, ack)
		tcp := tcpOf(ack)
		ip := header.IPv4(ack[header.EthernetMinimumSize:])
		if tcp.SequenceNumber() != 21000 || tcp.AckNumber() != c.seg.ack || tcp.WindowSize() != c.seg.wnd ||
			tcp.Flags() != header.TCPFlagAck || int(ip.TotalLength()) != len(ip) || len(tcp) != header.TCPMinimumSize {
			t.Errorf("%s: made seq %d ack %d wnd %d flags %v, %d bytes of TCP: want a pure acknowledgement at 21000 of %d, window %d",
				c.name, tcp.SequenceNumber(), tcp.AckNumber(), tcp.WindowSize(), tcp.Flags(), len(tcp), c.seg.ack, c.seg.wnd)
		}
		if ip.SourceAddress() != remote || ip.DestinationAddress() != local || tcp.SourcePort() != remotePort {
			t.Errorf("%s: made an acknowledgement between the wrong ends", c.name)
		}
	}
	if got := n.Stats(); got.Acks != 3 {
		t.Errorf("stats %+v, want 3 acknowledgements made", got)
	}
}

func TestAWithdrawnEdgeOfAScaledWindow(t *testing.T) {
	n := New()
	connect(n, 7)
	// 2<<7 = 256 bytes from 21000: the stack takes up to 21256.
	send(n, seg{seq: 5000, ack: 21000, flags: header.TCPFlagAck, wnd: 2})
	if n.Inbound(inbound(seg{seq: 21256, ack: 5000, flags: header.TCPFlagAck, wnd: 9}), false) != nil {
		t.Error("an acknowledgement was made for a pure acknowledgement at the edge")
	}
	if n.Inbound(inbound(seg{seq: 21200, ack: 5000, flags: header.TCPFlagAck, wnd: 9, payload: 500}), false) != nil {
		t.Error("an acknowledgement was made for data overlapping the window")
	}
	if n.Inbound(inbound(seg{seq: 21300, ack: 5000, flags: header.TCPFlagAck, wnd: 9}), false) == nil {
		t.Error("no acknowledgement was made for a pure acknowledgement past the edge")
	}
	if n.Inbound(inbound(seg{seq: 21300, ack: 5000, flags: header.TCPFlagAck, wnd: 9, payload: 100}), false) == nil {
		t.Error("no acknowledgement was made for data past the edge")
	}
}

func TestWithoutTheHandshakeOnlyAZeroWindowCounts(t *testing.T) {
	n := New()
	// No SYN seen: the scale is unknown, so a window of 2 may be 2 bytes
	// or 32 KiB, and nothing is made.
	send(n, seg{seq: 5000, ack: 21000, flags: header.TCPFlagAck, wnd: 2})
	if n.Inbound(inbound(seg{seq: 21300, ack: 5000, flags: header.TCPFlagAck, wnd: 9}), false) != nil {
		t.Error("an acknowledgement was made against a window of unknown scale")
	}
	send(n, seg{seq: 5000, ack: 21000, flags: header.TCPFlagAck, wnd: 0})
	if n.Inbound(inbound(seg{seq: 21300, ack: 5000, flags: header.TCPFlagAck, wnd: 9}), false) == nil {
		t.Error("no acknowledgement was made past a zero window")
	}
}

func TestClosedConnectionsAreForgotten(t *testing.T) {
	n := New()
	connect(n, -1)
	send(n, seg{seq: 5000, ack: 1000, flags: header.TCPFlagAck | header.TCPFlagFin, wnd: 512})
	n.Inbound(inbound(seg{seq: 1000, ack: 5001, flags: header.TCPFlagAck | header.TCPFlagFin, wnd: 512}), false)
	if len(n.flows) != 0 {
		t.Errorf("%d connections tracked after both FINs", len(n.flows))
	}
	connect(n, -1)
	n.Inbound(inbound(seg{seq: 1000, flags: header.TCPFlagRst}), false)
	if len(n.flows) != 0 {
		t.Errorf("%d connections tracked after a reset", len(n.flows))
	}
}
