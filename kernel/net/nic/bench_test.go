package nic_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	virtionet "github.com/aurora-vm/aurora-vm/devices/virtio-net"
	"github.com/aurora-vm/aurora-vm/kernel/net/nic"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// feedBackend hands the device one canned frame per token on feed and
// counts the frames it is sent.
type feedBackend struct {
	frame  []byte
	feed   chan struct{}
	closed chan struct{}
	sent   atomic.Uint64
}

func (*feedBackend) Features() uint64 { return 0 }

func (b *feedBackend) Send(virtionet.NetHdr, []byte) error {
	b.sent.Add(1)
	return nil
}

func (b *feedBackend) Receive(buf []byte) (virtionet.NetHdr, int, error) {
	select {
	case <-b.feed:
		return virtionet.NetHdr{}, copy(buf, b.frame), nil
	case <-b.closed:
		return virtionet.NetHdr{}, 0, errors.New("closed")
	}
}

func (b *feedBackend) Close() error { close(b.closed); return nil }

// countingDispatcher stands in for the stack: it signals each frame.
type countingDispatcher struct{ got chan struct{} }

func (d countingDispatcher) DeliverNetworkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {
	d.got <- struct{}{}
}
func (countingDispatcher) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

func newBenchNIC(b *testing.B) (*nic.Endpoint, *feedBackend) {
	mem, err := mmu.NewPhysMem(16 << 20)
	if err != nil {
		b.Fatal(err)
	}
	frame := make([]byte, 1514)
	copy(frame, virtionet.DefaultMAC[:])
	frame[12], frame[13] = 0x08, 0x00
	be := &feedBackend{frame: frame, feed: make(chan struct{}), closed: make(chan struct{})}
	dev, err := virtionet.New(mem, be, virtionet.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ep, err := nic.New(mem, dev, nic.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ep.Close()
		dev.Close()
		mem.Close()
	})
	return ep, be
}

// BenchmarkDriverTransmit is the cost per frame from the stack's
// WritePackets through the transmit queue to the backend: copy into guest
// memory, ring, kick, device, backend. It allocates nothing.
func BenchmarkDriverTransmit(b *testing.B) {
	ep, be := newBenchNIC(b)
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
		ReserveHeaderBytes: header.EthernetMinimumSize + header.IPv4MinimumSize + header.TCPMinimumSize,
		Payload:            buffer.MakeWithData(make([]byte, 1460)),
	})
	defer pkt.DecRef()
	pkt.TransportHeader().Push(header.TCPMinimumSize)
	pkt.NetworkHeader().Push(header.IPv4MinimumSize)
	pkt.LinkHeader().Push(header.EthernetMinimumSize)
	var pkts stack.PacketBufferList
	pkts.PushBack(pkt)
	b.SetBytes(int64(pkt.Size()))
	b.ReportAllocs()
	for b.Loop() {
		if n, err := ep.WritePackets(pkts); n != 1 || err != nil {
			b.Fatal(n, err)
		}
	}
	b.StopTimer()
	if got := be.sent.Load(); got < uint64(b.N) {
		b.Fatalf("%d frames reached the backend of %d", got, b.N)
	}
}

// BenchmarkDriverReceive is the cost per frame from the backend through
// the receive queue to the stack: the device's copy into a receive
// buffer, the interrupt, the driver's packet buffer, the buffer posted
// again. The allocations are the stack's pooled packet buffers.
func BenchmarkDriverReceive(b *testing.B) {
	ep, be := newBenchNIC(b)
	d := countingDispatcher{got: make(chan struct{})}
	ep.Attach(d)
	b.SetBytes(int64(len(be.frame)))
	b.ReportAllocs()
	for b.Loop() {
		be.feed <- struct{}{}
		<-d.got
	}
}
