// Package nic is the kernel's driver for the VM's virtio-net device: a
// netstack link endpoint that kernel/net.Stack.AttachNIC takes. It drives
// the device only as a guest driver would: through split virtqueues and
// buffers in guest-physical memory it allocates from the VM's RAM, the
// device's kicks (Notify) and its interrupts. Nothing reaches the device
// any other way, so the device and its queues are exercised exactly as a
// real guest would exercise them.
//
// The endpoint speaks Ethernet (ARP resolves neighbours); every frame
// carries a virtio_net_hdr in front of it. Transmission copies each packet
// into a transmit buffer and kicks the device when event suppression says
// it wants a kick; used transmit buffers are reclaimed lazily on the next
// write. Reception happens in the device's receive interrupt: the handler
// turns interrupts off, delivers every used receive buffer to the stack,
// posts it again, and turns interrupts back on only when the queue is
// empty (the NAPI way: one interrupt per burst, not per frame). The
// driver has no goroutine of its own: the handler runs in the goroutine
// that raised the interrupt, as an interrupt runs on whatever CPU it hits.
//
// Every TCP segment crossing the driver is shown to a tcpnorm.Normaliser,
// which mends the inbound ones whose window handling would stall the
// stack's connections when frames are lost or reordered.
package nic

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	virtionet "github.com/aurora-vm/aurora-vm/devices/virtio-net"
	"github.com/aurora-vm/aurora-vm/devices/virtio-net/tcpnorm"
	"github.com/aurora-vm/aurora-vm/devices/virtio-net/virtq"
)

// Device is what the driver needs of a virtio-net device: the operations
// a PCI or MMIO transport would carry. *virtionet.Device has them.
type Device interface {
	Features() uint64
	Negotiate(features uint64) error
	ConfigSpace() virtionet.NetConfig
	MaxQueueSize() uint16
	SetQueue(i int, l virtq.Layout) error
	OnInterrupt(fn func(queue int))
	Start() error
	Notify(queue int)
	Reset()
}

// Memory is guest RAM as the driver needs it: frames to allocate and
// free, and their bytes. *mmu.PhysMem has it.
type Memory interface {
	virtq.Memory
	Alloc() (uint64, error)
	Free(frames ...uint64)
	// AllocHuge and FreeHuge give contiguous 2 MiB: transmit buffers for
	// large segments (TSO), when the device takes them.
	AllocHuge() (uint64, bool)
	FreeHuge(pa uint64)
}

// Options tune the driver.
type Options struct {
	// QueueSize is the size of both queues; 0: the device's maximum, at
	// most 256.
	QueueSize uint16
}

// wanted are the features the driver can always use; offloads come on
// top when the device offers them (see probe).
const wanted = virtionet.FeatureVersion1 | virtionet.FeatureMAC | virtionet.FeatureMTU |
	virtionet.FeatureStatus | virtionet.FeatureEventIdx | virtionet.FeatureMrgRxbuf

// Offloads, in pairs that go together (the second needs the first).
const (
	txOffloads = virtionet.FeatureCsum | virtionet.FeatureHostTSO4
	rxOffloads = virtionet.FeatureGuestCsum | virtionet.FeatureGuestTSO4
)

const (
	pageSize = 4096
	hugeSize = 2 << 20
	hdrLen   = virtionet.NetHdrSize
	// cellSize is one receive or transmit buffer: a virtio_net_hdr and a
	// full-sized Ethernet frame, two to a page. Larger frames for the
	// driver span several cells (MRG_RXBUF).
	cellSize = 2048
	// maxMTU is the largest MTU whose frames fit a cell.
	maxMTU = cellSize - hdrLen - header.EthernetMinimumSize - 4
	// gsoMaxSize is the largest TCP segment the stack hands over with TSO
	// (the size channel endpoints use), and tsoCellSize a transmit buffer
	// that holds one with every header: sixty of them to a huge page.
	gsoMaxSize  = 1 << 15
	tsoCellSize = 34 << 10
)

// Endpoint is the driver: a stack.LinkEndpoint over a virtio-net device.
type Endpoint struct {
	dev      Device
	mem      Memory
	features uint64
	mac      tcpip.LinkAddress
	mtu      atomic.Uint32
	tso      bool     // the stack hands over large TCP segments
	frames   []uint64 // every frame the driver allocated, for Close
	huge     []uint64 // and every huge page
	// norm sees every TCP segment crossing the driver, and mends the
	// inbound ones the stack would mishandle (see tcpnorm).
	norm *tcpnorm.Normaliser

	tx struct {
		mu     sync.Mutex
		q      *virtq.DriverQueue
		cells  [][]byte // transmit buffers, by cell
		addrs  []uint64
		free   []uint16 // free cells
		cellOf []uint16 // cell of each head in flight
		one    [1]virtq.Buffer
		closed bool
	}
	rx struct {
		// mu is held by whoever is polling the receive queue: one
		// interrupt handler at a time. pending says an interrupt came.
		mu      sync.Mutex
		pending atomic.Bool
		closed  bool
		q       *virtq.DriverQueue
		cells   [][]byte
		addrs   []uint64
		cellOf  []uint16
		one     [1]virtq.Buffer
		// A frame spread over several buffers, as far as it has come.
		hdr  virtionet.NetHdr
		buf  buffer.Buffer
		left int // buffers still to come
	}

	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher
	onClose    func()

	closeOnce sync.Once

	st struct {
		txFrames, txDropped, rxFrames, rxDropped atomic.Uint64
	}
}

var (
	_ stack.LinkEndpoint = (*Endpoint)(nil)
	_ stack.GSOEndpoint  = (*Endpoint)(nil)
)

// New probes dev and brings it up, as a guest driver's probe does: it
// negotiates features, allocates both queues and their buffers from mem,
// tells the device where they are, posts every receive buffer and sets
// DRIVER_OK. The endpoint is then ready for Stack.AttachNIC. Setup
// happens here rather than in Attach because Attach cannot fail.
func New(mem Memory, dev Device, o Options) (*Endpoint, error) {
	e := &Endpoint{dev: dev, mem: mem, norm: tcpnorm.New()}
	if err := e.probe(o); err != nil {
		dev.Reset()
		e.freeMemory()
		return nil, err
	}
	return e, nil
}

func (e *Endpoint) probe(o Options) error {
	offered := e.dev.Features()
	want := uint64(wanted)
	// Large segments to the device need transmit buffers that hold them
	// whole: contiguous memory, which may be missing.
	if offered&txOffloads == txOffloads {
		if pa, ok := e.mem.AllocHuge(); ok {
			e.huge = append(e.huge, pa)
			e.tso = true
			want |= txOffloads
		}
	}
	// Large segments from the device spread over receive buffers.
	if offered&(rxOffloads|virtionet.FeatureMrgRxbuf) == rxOffloads|virtionet.FeatureMrgRxbuf {
		want |= rxOffloads
	}
	e.features = offered & want
	if e.features&virtionet.FeatureVersion1 == 0 {
		return errors.New("virtio-net device without VIRTIO_F_VERSION_1")
	}
	if err := e.dev.Negotiate(e.features); err != nil {
		return fmt.Errorf("virtio-net feature negotiation: %w", err)
	}
	cfg := e.dev.ConfigSpace()
	mac := cfg.MAC
	if e.features&virtionet.FeatureMAC == 0 {
		mac = virtionet.DefaultMAC
	}
	e.mac = tcpip.LinkAddress(mac[:])
	mtu := uint32(1500)
	if e.features&virtionet.FeatureMTU != 0 {
		mtu = uint32(cfg.MTU)
	}
	e.mtu.Store(min(mtu, maxMTU))

	size := o.QueueSize
	if size == 0 {
		size = min(e.dev.MaxQueueSize(), 256)
	}
	if err := (virtq.Layout{Size: size}).Validate(); err != nil || size > e.dev.MaxQueueSize() {
		return fmt.Errorf("queue size %d: the device allows up to %d, a power of two", size, e.dev.MaxQueueSize())
	}
	qo := virtq.Options{EventIdx: e.features&virtionet.FeatureEventIdx != 0}
	rxl, err := e.allocRings(size)
	if err != nil {
		return err
	}
	txl, err := e.allocRings(size)
	if err != nil {
		return err
	}
	if e.rx.q, err = virtq.NewDriverQueue(e.mem, rxl, qo); err != nil {
		return err
	}
	if e.tx.q, err = virtq.NewDriverQueue(e.mem, txl, qo); err != nil {
		return err
	}
	if e.rx.cells, e.rx.addrs, err = e.allocCells(int(size)); err != nil {
		return err
	}
	if e.tso {
		e.tx.cells, e.tx.addrs = e.hugeCells(e.huge[0])
	} else if e.tx.cells, e.tx.addrs, err = e.allocCells(int(size)); err != nil {
		return err
	}
	e.tx.free = make([]uint16, len(e.tx.cells))
	for i := range e.tx.free {
		e.tx.free[i] = uint16(i)
	}
	e.tx.cellOf = make([]uint16, size)
	e.rx.cellOf = make([]uint16, size)
	if err := e.dev.SetQueue(virtionet.RXQueue, rxl); err != nil {
		return err
	}
	if err := e.dev.SetQueue(virtionet.TXQueue, txl); err != nil {
		return err
	}
	e.dev.OnInterrupt(e.interrupt)
	for cell := range e.rx.cells {
		e.post(uint16(cell))
	}
	// The device is not running yet: no kick needed, it looks at start.
	e.rx.q.Publish()
	// Transmit completions are reclaimed on the next write; the driver
	// never waits for a transmit interrupt.
	e.tx.q.DisableInterrupts()
	return e.dev.Start()
}

// allocRings allocates a queue: the descriptor table in one frame, the
// available and used rings together in another (256 entries fit).
func (e *Endpoint) allocRings(size uint16) (virtq.Layout, error) {
	availEnd := (virtq.AvailRingSize(size) + 3) &^ 3
	if virtq.DescTableSize(size) > pageSize || availEnd+virtq.UsedRingSize(size) > pageSize {
		return virtq.Layout{}, fmt.Errorf("queue size %d does not fit the driver's page layout", size)
	}
	desc, err := e.alloc()
	if err != nil {
		return virtq.Layout{}, err
	}
	rings, err := e.alloc()
	if err != nil {
		return virtq.Layout{}, err
	}
	return virtq.Layout{Size: size, Desc: desc, Avail: rings, Used: rings + availEnd}, nil
}

// allocCells allocates n buffers of cellSize.
func (e *Endpoint) allocCells(n int) ([][]byte, []uint64, error) {
	cells := make([][]byte, n)
	addrs := make([]uint64, n)
	for i := 0; i < n; i += pageSize / cellSize {
		pa, err := e.alloc()
		if err != nil {
			return nil, nil, err
		}
		for k := 0; k < pageSize/cellSize && i+k < n; k++ {
			addrs[i+k] = pa + uint64(k*cellSize)
			cells[i+k], _ = e.mem.Slice(addrs[i+k], cellSize)
		}
	}
	return cells, addrs, nil
}

// hugeCells cuts a huge page into transmit buffers for large segments.
func (e *Endpoint) hugeCells(pa uint64) ([][]byte, []uint64) {
	n := hugeSize / tsoCellSize
	cells := make([][]byte, n)
	addrs := make([]uint64, n)
	for i := range cells {
		addrs[i] = pa + uint64(i*tsoCellSize)
		cells[i], _ = e.mem.Slice(addrs[i], tsoCellSize)
	}
	return cells, addrs
}

// freeMemory gives back every frame the driver allocated.
func (e *Endpoint) freeMemory() {
	e.mem.Free(e.frames...)
	for _, pa := range e.huge {
		e.mem.FreeHuge(pa)
	}
	e.frames, e.huge = nil, nil
}

func (e *Endpoint) alloc() (uint64, error) {
	pa, err := e.mem.Alloc()
	if err != nil {
		return 0, fmt.Errorf("virtio-net driver: %w", err)
	}
	e.frames = append(e.frames, pa)
	return pa, nil
}

// post offers a receive cell to the device (visible after Publish).
func (e *Endpoint) post(cell uint16) {
	e.rx.one[0] = virtq.Buffer{Addr: e.rx.addrs[cell], Len: cellSize, Writable: true}
	head, err := e.rx.q.Add(e.rx.one[:])
	if err != nil {
		// As many cells as descriptors: a free one is always there.
		panic(fmt.Sprintf("nic: posting a receive buffer: %v", err))
	}
	e.rx.cellOf[head] = cell
}

// interrupt is the device's interrupt line. A receive interrupt is
// handled right here, in the goroutine that raised it (the device's
// receive loop, or a kick's): no hand-over to another goroutine per burst.
// One handler polls at a time; an interrupt that finds another handler
// at work leaves it a note (pending) and returns, and the handler at work
// polls again before it leaves. A handler's own kicks raise interrupts
// too, and end up as such notes.
func (e *Endpoint) interrupt(queue int) {
	if queue != virtionet.RXQueue {
		return // transmit buffers are reclaimed by the next write
	}
	r := &e.rx
	r.pending.Store(true)
	for r.mu.TryLock() {
		if r.closed {
			r.mu.Unlock()
			return
		}
		for r.pending.Swap(false) {
			e.poll()
		}
		r.mu.Unlock()
		// A note left after the last look but before the unlock found the
		// lock taken: take it back and look again.
		if !r.pending.Load() {
			return
		}
	}
}

// Stats are the driver's counters: frames handed to the device and
// dropped for want of a buffer (or too long), frames delivered to the
// stack and dropped as malformed or with no stack attached.
type Stats struct {
	TxFrames, TxDropped, RxFrames, RxDropped uint64
}

// Stats returns the driver's counters.
func (e *Endpoint) Stats() Stats {
	return Stats{
		TxFrames:  e.st.txFrames.Load(),
		TxDropped: e.st.txDropped.Load(),
		RxFrames:  e.st.rxFrames.Load(),
		RxDropped: e.st.rxDropped.Load(),
	}
}

// WritePackets implements stack.LinkWriter: each packet, Ethernet header
// included, goes into a transmit buffer behind its virtio_net_hdr (zero,
// or the partial checksum and segment size of a large TCP segment with
// TSO), and the device is kicked once for the lot if it asked for kicks.
// When every buffer is in flight the rest are dropped, as a full queue
// drops; TCP sends them again.
func (e *Endpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	// The stack's receiver goes by what it advertised, whether or not
	// the frame then finds a buffer: note every segment first.
	for _, pkt := range pkts.AsSlice() {
		e.norm.Outbound(pkt)
	}
	t := &e.tx
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return 0, &tcpip.ErrClosedForSend{}
	}
	e.reclaim()
	n, sent := 0, 0
	for _, pkt := range pkts.AsSlice() {
		if len(t.free) == 0 {
			// The device has not finished the earlier frames: give it
			// what is queued, then look again.
			kick := t.q.Publish()
			t.mu.Unlock()
			if kick {
				e.dev.Notify(virtionet.TXQueue)
			}
			t.mu.Lock()
			if t.closed {
				// The rings may be gone already: touch nothing.
				t.mu.Unlock()
				return n, &tcpip.ErrClosedForSend{}
			}
			e.reclaim()
			if len(t.free) == 0 {
				break // dropped; TCP sends again
			}
		}
		cell := t.free[len(t.free)-1]
		buf := t.cells[cell]
		size := pkt.Size()
		if hdrLen+size > len(buf) {
			e.st.txDropped.Add(1)
			n++ // consumed, as a real link drops an oversized frame
			continue
		}
		e.netHdr(pkt).Encode(buf)
		copyPacket(buf[hdrLen:], pkt)
		t.one[0] = virtq.Buffer{Addr: t.addrs[cell], Len: uint32(hdrLen + size)}
		head, err := t.q.Add(t.one[:])
		if err != nil {
			break // as many cells as descriptors: only a broken queue gets here
		}
		t.free = t.free[:len(t.free)-1]
		t.cellOf[head] = cell
		n++
		sent++
	}
	kick := t.q.Publish()
	t.mu.Unlock()
	if kick {
		e.dev.Notify(virtionet.TXQueue)
	}
	e.st.txFrames.Add(uint64(sent))
	if dropped := pkts.Len() - n; dropped > 0 {
		e.st.txDropped.Add(uint64(dropped))
	}
	return n, nil
}

// netHdr is the virtio_net_hdr for an outgoing packet: with TSO, the
// stack leaves TCP checksums partial (the pseudo-header's sum in the
// field) and may hand over a segment of several MSS.
func (e *Endpoint) netHdr(pkt *stack.PacketBuffer) virtionet.NetHdr {
	g := pkt.GSOOptions
	if !e.tso || g.Type == stack.GSONone {
		return virtionet.NetHdr{}
	}
	var h virtionet.NetHdr
	if g.NeedsCsum {
		h.Flags = virtionet.NetHdrFNeedsCsum
		h.CsumStart = header.EthernetMinimumSize + g.L3HdrLen
		h.CsumOffset = g.CsumOffset
	}
	if g.Type == stack.GSOTCPv4 && pkt.Data().Size() > int(g.MSS) {
		h.GSOType = virtionet.GSOTCPv4
		h.GSOSize = g.MSS
		h.HdrLen = uint16(pkt.HeaderSize())
	}
	return h
}

// copyPacket copies a packet's bytes, headers first, into b without
// building an intermediate slice.
func copyPacket(b []byte, pkt *stack.PacketBuffer) {
	views, off := pkt.AsViewList()
	n := 0
	for v := views.Front(); v != nil; v = v.Next() {
		s := v.AsSlice()
		if off >= len(s) {
			off -= len(s)
			continue
		}
		n += copy(b[n:], s[off:])
		off = 0
	}
}

// reclaim takes back the transmit buffers the device has finished with.
func (e *Endpoint) reclaim() {
	t := &e.tx
	for {
		head, _, ok, err := t.q.Used()
		if err != nil || !ok {
			return
		}
		t.free = append(t.free, t.cellOf[head])
	}
}
