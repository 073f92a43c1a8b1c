package virtionet

import (
	"sync"
	"time"

	"github.com/aurora-vm/aurora-vm/devices/virtio-net/virtq"
)

// rxPath is the receive queue's state, used under mu by the receive
// goroutine and by the driver's kicks.
type rxPath struct {
	mu        sync.Mutex
	q         *virtq.DeviceQueue // nil until the driver is ready
	chains    []virtq.Chain      // one, or a queue's worth with MRG_RXBUF
	features  uint64
	maxFrame  int
	mergeable bool
	faults    *injector

	// Frames waiting for receive buffers: a ring of backlog slots, n of
	// them full from head on. Slots keep their buffers.
	backlog []pending
	head, n int
	// room is signalled when a full backlog drains. starved is set when
	// the driver left it full for longer than stallTimeout: the device
	// then drops what it receives instead of waiting.
	room    chan struct{}
	starved bool
}

// stallTimeout is how long the device stops taking frames from the
// backend while its backlog is full, waiting for the driver to post
// receive buffers. Waiting leaves frames in the backend's own queue (a
// TUN device's, say) rather than dropping them, as a burst outruns the
// driver only briefly; a driver that posts nothing for longer only costs
// this once before frames are dropped.
const stallTimeout = 50 * time.Millisecond

type pending struct {
	hdr   NetHdr
	frame []byte
}

func (r *rxPath) start(q *virtq.DeviceQueue, features uint64, mtu uint16) {
	r.q, r.features = q, features
	r.maxFrame = maxFrame(features&FeatureGuestTSO4 != 0, mtu)
	r.mergeable = features&FeatureMrgRxbuf != 0
	n := 1
	if r.mergeable {
		n = int(q.Size())
	}
	r.chains = make([]virtq.Chain, n)
	r.head, r.n = 0, 0
	// The device takes receive buffers when frames arrive; it wants a
	// kick only while frames wait for buffers.
	q.DisableNotify()
}

func (r *rxPath) stop() {
	r.q = nil
	r.chains = nil
	r.head, r.n = 0, 0
	r.starved = false
	select {
	case r.room <- struct{}{}: // a receive loop waiting for room stops
	default:
	}
}

// receiveLoop moves frames from the backend to the driver until Close.
func (d *Device) receiveLoop() {
	defer d.wg.Done()
	buf := make([]byte, MaxFrame)
	stall := time.NewTimer(time.Hour)
	stall.Stop()
	for {
		if !d.waitForRoom(stall) {
			return
		}
		hdr, n, err := d.be.Receive(buf)
		if err != nil {
			if d.closed.Load() {
				return
			}
			// A failing backend must not make the device spin.
			d.st.backendErrs.Add(1)
			select {
			case <-d.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		d.deliver(hdr, buf[:min(n, len(buf))])
	}
}

// waitForRoom waits, for at most stallTimeout, while the backlog is full
// and the driver has not been found starving the device already. It
// reports false once the device is closed.
func (d *Device) waitForRoom(stall *time.Timer) bool {
	r := &d.rx
	r.mu.Lock()
	full := r.q != nil && r.n == len(r.backlog) && !r.starved
	if full {
		// Room is only ever made under mu: a signal from before now is
		// stale.
		select {
		case <-r.room:
		default:
		}
	}
	r.mu.Unlock()
	if !full {
		return true
	}
	stall.Reset(stallTimeout)
	defer stall.Stop()
	select {
	case <-r.room:
	case <-stall.C:
		r.mu.Lock()
		r.starved = r.n == len(r.backlog)
		r.mu.Unlock()
	case <-d.done:
		return false
	}
	return true
}

// deliver puts one frame from the backend into the driver's buffers, or
// in the backlog when there are none, and interrupts the driver if it
// asked for that.
func (d *Device) deliver(hdr NetHdr, frame []byte) {
	r := &d.rx
	r.mu.Lock()
	if r.q == nil {
		r.mu.Unlock()
		d.st.rxDropped.Add(1)
		return
	}
	if !d.prepare(&hdr, frame) {
		r.mu.Unlock()
		d.st.rxRefused.Add(1)
		return
	}
	copies, release := r.faults.step(hdr, frame)
	for ; copies > 0; copies-- {
		d.enqueue(hdr, frame)
	}
	if release {
		d.enqueue(r.faults.takeHeld())
	}
	irq := r.q.Publish()
	r.mu.Unlock()
	if irq {
		d.interrupt(RXQueue)
	}
}

// prepare fits a frame's header to what the driver negotiated: it
// finishes a partial checksum the driver cannot take, and refuses a frame
// that is too long or segmented when the driver takes no large segments.
func (d *Device) prepare(hdr *NetHdr, frame []byte) bool {
	r := &d.rx
	if len(frame) > r.maxFrame || len(frame) < 14 {
		return false
	}
	if hdr.GSOType != GSONone && (hdr.GSOType != GSOTCPv4 || r.features&FeatureGuestTSO4 == 0) {
		return false
	}
	if hdr.Flags&NetHdrFNeedsCsum != 0 {
		if int(hdr.CsumStart)+int(hdr.CsumOffset)+2 > len(frame) {
			return false
		}
		if r.features&FeatureGuestCsum == 0 {
			CompleteChecksum(*hdr, frame)
		}
	}
	if r.features&FeatureGuestCsum == 0 {
		hdr.Flags = 0 // section 5.1.6.4.1
	}
	hdr.NumBuffers = 1
	return true
}

// placeResult says what became of a frame offered to the driver's buffers.
type placeResult int

const (
	placed  placeResult = iota
	noRoom              // too few buffers now: wait for more
	dropped             // never going to fit, or the queue is broken
)

// enqueue delivers a frame, behind those already waiting, or keeps a copy
// in the backlog; a full backlog drops it.
func (d *Device) enqueue(hdr NetHdr, frame []byte) {
	r := &d.rx
	if r.n == 0 && d.place(hdr, frame) != noRoom {
		return
	}
	if r.n == len(r.backlog) {
		d.st.rxDropped.Add(1)
		return
	}
	slot := &r.backlog[(r.head+r.n)%len(r.backlog)]
	slot.hdr, slot.frame = hdr, append(slot.frame[:0], frame...)
	r.n++
	if r.n == 1 && r.q.EnableNotifyOnMore() {
		d.drain() // buffers came in while the device was looking
	}
}

// refill is the driver's kick on the receive queue: new buffers for the
// frames waiting.
func (d *Device) refill() {
	r := &d.rx
	r.mu.Lock()
	if r.q == nil {
		r.mu.Unlock()
		return
	}
	d.drain()
	irq := r.q.Publish()
	r.mu.Unlock()
	if irq {
		d.interrupt(RXQueue)
	}
}

// drain delivers waiting frames while there are buffers for them. When
// the buffers run out first it asks for a kick when more come.
func (d *Device) drain() {
	r := &d.rx
	for r.n > 0 {
		slot := &r.backlog[r.head]
		if d.place(slot.hdr, slot.frame) == noRoom {
			if r.q.EnableNotifyOnMore() {
				continue
			}
			return
		}
		if r.n == len(r.backlog) {
			r.starved = false
			select {
			case r.room <- struct{}{}:
			default:
			}
		}
		r.head = (r.head + 1) % len(r.backlog)
		r.n--
	}
	r.q.DisableNotify()
}

// place copies a header and frame into the driver's next receive
// buffers: one chain, or as many as it takes with MRG_RXBUF (the header's
// num_buffers says how many).
func (d *Device) place(hdr NetHdr, frame []byte) placeResult {
	r := &d.rx
	q := r.q
	need := NetHdrSize + len(frame)
	n, room := 0, 0
	for room < need {
		if n == len(r.chains) {
			// Even every buffer of the queue would not hold it.
			q.Unpop(n)
			d.st.rxRefused.Add(1)
			return dropped
		}
		c := &r.chains[n]
		ok, err := q.Pop(c)
		if err != nil {
			if !ok {
				d.broken()
				d.st.rxDropped.Add(1)
				return dropped
			}
			// A malformed chain goes back empty; so do the chains taken
			// before it, which cannot be put back across it.
			d.st.badChains.Add(1)
			q.Push(c.Head, 0)
			for i := 0; i < n; i++ {
				q.Push(r.chains[i].Head, 0)
			}
			d.st.rxDropped.Add(1)
			return dropped
		}
		if !ok {
			q.Unpop(n)
			return noRoom
		}
		n++
		room += c.WritableLen()
	}
	var hb [NetHdrSize]byte
	hdr.NumBuffers = uint16(n)
	hdr.Encode(hb[:])
	// The header and the frame are one stream across the chains.
	hdrDone, frameDone := 0, 0
	for i := 0; i < n; i++ {
		c := &r.chains[i]
		off := 0
		if hdrDone < NetHdrSize {
			k := c.Scatter(hb[hdrDone:], 0)
			hdrDone += k
			off = k
		}
		k := c.Scatter(frame[frameDone:], off)
		frameDone += k
		q.Push(c.Head, uint32(off+k))
	}
	d.capture(frame)
	d.st.rxFrames.Add(1)
	d.st.rxBytes.Add(uint64(len(frame)))
	return placed
}

// flushRX delivers a frame held back for reordering when no next frame
// came.
func (d *Device) flushRX() {
	r := &d.rx
	r.mu.Lock()
	if !r.faults.holding {
		r.mu.Unlock()
		return
	}
	hdr, frame := r.faults.takeHeld()
	if r.q == nil {
		r.mu.Unlock()
		return
	}
	d.enqueue(hdr, frame)
	irq := r.q.Publish()
	r.mu.Unlock()
	if irq {
		d.interrupt(RXQueue)
	}
}
