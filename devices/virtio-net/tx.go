package virtionet

import (
	"sync"

	"github.com/aurora-vm/aurora-vm/devices/virtio-net/virtq"
)

// txPath is the transmit queue's state, used under mu by whichever
// goroutine kicks the queue.
type txPath struct {
	mu       sync.Mutex
	q        *virtq.DeviceQueue // nil until the driver is ready
	chain    virtq.Chain
	buf      []byte // gathers frames split over several buffers
	features uint64
	maxFrame int
	faults   *injector
}

func (t *txPath) start(q *virtq.DeviceQueue, features uint64, mtu uint16) {
	t.q, t.features = q, features
	t.maxFrame = maxFrame(features&FeatureHostTSO4 != 0, mtu)
}

// transmitQueue sends every frame the driver has queued, then asks for a
// kick at the next one and interrupts the driver if it asked for that.
func (d *Device) transmitQueue() {
	t := &d.tx
	t.mu.Lock()
	q := t.q
	if q == nil {
		t.mu.Unlock()
		return
	}
	for {
		// No kicks while the device is busy; then ask for one and look
		// again, or a frame queued in between would wait for the next.
		q.DisableNotify()
		for {
			ok, err := q.Pop(&t.chain)
			if err != nil {
				if !ok {
					d.broken()
					break
				}
				d.st.badChains.Add(1)
				q.Push(t.chain.Head, 0)
				continue
			}
			if !ok {
				break
			}
			d.transmit(&t.chain)
			q.Push(t.chain.Head, 0)
		}
		if !q.EnableNotify() {
			break
		}
	}
	irq := q.Publish()
	t.mu.Unlock()
	if irq {
		d.interrupt(TXQueue)
	}
}

// transmit sends one chain's frame: a virtio_net_hdr, then the frame.
func (d *Device) transmit(c *virtq.Chain) {
	t := &d.tx
	var hb, frame []byte
	switch {
	case len(c.Readable) == 1 && len(c.Readable[0]) >= NetHdrSize:
		// Header and frame in one buffer: sent straight from guest memory.
		hb, frame = c.Readable[0][:NetHdrSize], c.Readable[0][NetHdrSize:]
	case len(c.Readable) == 2 && len(c.Readable[0]) == NetHdrSize:
		hb, frame = c.Readable[0], c.Readable[1]
	default:
		n := c.ReadableLen()
		if n < NetHdrSize || n > len(t.buf) {
			d.st.txDropped.Add(1)
			return
		}
		c.Gather(t.buf[:n], 0)
		hb, frame = t.buf[:NetHdrSize], t.buf[NetHdrSize:n]
	}
	hdr := DecodeNetHdr(hb)
	hdr.NumBuffers = 0 // receive-only
	if !t.frameOK(hdr, frame) {
		d.st.txDropped.Add(1)
		return
	}
	copies, release := t.faults.step(hdr, frame)
	for ; copies > 0; copies-- {
		d.send(hdr, frame)
	}
	if release {
		d.send(t.faults.takeHeld())
	}
}

// frameOK checks a frame from the driver against what was negotiated, so
// that a backend only ever sees offloads it said it could take, with
// offsets inside the frame.
func (t *txPath) frameOK(hdr NetHdr, frame []byte) bool {
	if len(frame) < 14 || len(frame) > t.maxFrame {
		return false
	}
	if hdr.Flags&NetHdrFNeedsCsum != 0 {
		if t.features&FeatureCsum == 0 || int(hdr.CsumStart)+int(hdr.CsumOffset)+2 > len(frame) {
			return false
		}
	}
	switch hdr.GSOType {
	case GSONone:
		return true
	case GSOTCPv4:
		// TSO needs the checksum offload with it (5.1.6.2.1).
		return t.features&FeatureHostTSO4 != 0 && hdr.GSOSize > 0 && hdr.Flags&NetHdrFNeedsCsum != 0
	}
	return false // ECN, UDP and IPv6 segmentation are never offered
}

func (d *Device) send(hdr NetHdr, frame []byte) {
	d.capture(frame)
	if err := d.be.Send(hdr, frame); err != nil {
		d.st.txDropped.Add(1)
		return
	}
	d.st.txFrames.Add(1)
	d.st.txBytes.Add(uint64(len(frame)))
}

// flushTX sends a frame held back for reordering when no next frame came.
func (d *Device) flushTX() {
	t := &d.tx
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.faults.holding {
		hdr, frame := t.faults.takeHeld()
		if t.q != nil {
			d.send(hdr, frame)
		}
	}
}
