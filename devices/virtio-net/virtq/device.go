package virtq

import (
	"encoding/binary"
	"fmt"
)

// DeviceQueue is the device's end of a queue. It is not safe for
// concurrent use: a device serialises the work on each of its queues.
type DeviceQueue struct {
	r         rings
	mem       Memory
	indirect  bool
	lastAvail uint16 // next available entry to take
	used      uint16 // next used entry to fill
	published uint16 // used index as the driver last saw it
	broken    error
}

// NewDeviceQueue resolves a queue the driver has set up in mem.
func NewDeviceQueue(mem Memory, l Layout, o Options) (*DeviceQueue, error) {
	r, err := newRings(mem, l, o.EventIdx)
	if err != nil {
		return nil, err
	}
	// Both indices start at 0: the driver zeroes a queue before handing
	// it over.
	return &DeviceQueue{r: r, mem: mem, indirect: o.Indirect}, nil
}

// Size is the number of entries of the queue.
func (q *DeviceQueue) Size() uint16 { return q.r.size }

// MaxIndirect is the longest indirect table the device accepts: the
// specification lets a device limit chain length, and drivers use a few
// dozen entries at most.
const MaxIndirect = 1024

// Chain is one descriptor chain as the device sees it: the guest buffers
// it may read, then those it may write, each a slice of guest memory. A
// caller keeps one Chain and passes it to Pop again and again; its slices
// keep their capacity, so popping does not allocate once they have grown.
type Chain struct {
	Head     uint16   // what Push returns to the driver
	Readable [][]byte // device-readable buffers, in order
	Writable [][]byte // device-writable buffers, in order
}

func (c *Chain) reset(head uint16) {
	c.Head = head
	clear(c.Readable) // drop references into guest memory
	clear(c.Writable)
	c.Readable = c.Readable[:0]
	c.Writable = c.Writable[:0]
}

// ReadableLen and WritableLen are the total sizes of either part.
func (c *Chain) ReadableLen() int {
	n := 0
	for _, b := range c.Readable {
		n += len(b)
	}
	return n
}

func (c *Chain) WritableLen() int {
	n := 0
	for _, b := range c.Writable {
		n += len(b)
	}
	return n
}

// Gather copies the readable part, from offset off on, into dst and
// returns how many bytes it copied.
func (c *Chain) Gather(dst []byte, off int) int {
	n := 0
	for _, b := range c.Readable {
		if off >= len(b) {
			off -= len(b)
			continue
		}
		n += copy(dst[n:], b[off:])
		off = 0
		if n == len(dst) {
			break
		}
	}
	return n
}

// Scatter copies src into the writable part from offset off on and
// returns how many bytes fitted.
func (c *Chain) Scatter(src []byte, off int) int {
	n := 0
	for _, b := range c.Writable {
		if off >= len(b) {
			off -= len(b)
			continue
		}
		n += copy(b[off:], src[n:])
		off = 0
		if n == len(src) {
			break
		}
	}
	return n
}

// ChainError is a descriptor chain the device refused. The chain's entry
// in the available ring has been consumed; the device gives the chain
// back (Push with length 0) so the driver does not lose its buffers.
type ChainError struct {
	Head   uint16
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("descriptor chain at head %d refused: %s", e.Head, e.Reason)
}

// Pop takes the next chain the driver made available into c. It reports
// false when there is none. An error is either a *ChainError (the chain
// was consumed and refused; c.Head says which) or ErrBroken, wrapped (the
// queue is unusable; nothing more comes out of it).
func (q *DeviceQueue) Pop(c *Chain) (bool, error) {
	if q.broken != nil {
		return false, q.broken
	}
	idx := load16(q.r.avail, q.r.availIdx())
	pending := idx - q.lastAvail
	if pending == 0 {
		return false, nil
	}
	if pending > q.r.size {
		q.broken = fmt.Errorf("%w: available index %d is %d entries ahead of %d in a queue of %d",
			ErrBroken, idx, pending, q.lastAvail, q.r.size)
		return false, q.broken
	}
	head := load16(q.r.avail, q.r.availEntry(q.lastAvail))
	if head >= q.r.size {
		q.broken = fmt.Errorf("%w: head %d outside a table of %d descriptors", ErrBroken, head, q.r.size)
		return false, q.broken
	}
	q.lastAvail++
	c.reset(head)
	if reason := q.walk(c, head); reason != "" {
		c.reset(head)
		return true, &ChainError{Head: head, Reason: reason}
	}
	return true, nil
}

// walk follows the chain from head, resolving every buffer. It returns
// why the chain is refused, or "".
func (q *DeviceQueue) walk(c *Chain, head uint16) string {
	table := q.r.desc
	entries := uint32(q.r.size)
	i := uint32(head)
	indirect := false
	// The driver must not make a chain longer than the table it lives
	// in: the queue size, or an indirect table's length. A loop is a chain
	// that never ends, so the bound catches it too.
	for count := uint32(0); ; count++ {
		if count >= entries {
			return fmt.Sprintf("longer than its table of %d descriptors (a loop?)", entries)
		}
		d := readDesc(table[16*i : 16*i+16])
		if d.flags&DescFIndirect != 0 {
			switch {
			case !q.indirect:
				return "indirect descriptor without VIRTIO_F_INDIRECT_DESC"
			case indirect:
				return "indirect descriptor inside an indirect table"
			case d.flags&DescFNext != 0:
				return "indirect descriptor with NEXT set"
			case d.len == 0 || d.len%16 != 0:
				return fmt.Sprintf("indirect table of %d bytes", d.len)
			case d.len/16 > MaxIndirect:
				return fmt.Sprintf("indirect table of %d descriptors, more than %d", d.len/16, MaxIndirect)
			}
			t, ok := q.mem.Slice(d.addr, uint64(d.len))
			if !ok {
				return fmt.Sprintf("indirect table at %#x+%d outside guest memory", d.addr, d.len)
			}
			table, entries, i, indirect = t, d.len/16, 0, true
			count = ^uint32(0) // the table's own count starts now
			continue
		}
		b, ok := q.mem.Slice(d.addr, uint64(d.len))
		if !ok {
			return fmt.Sprintf("buffer at %#x+%d outside guest memory", d.addr, d.len)
		}
		if d.flags&DescFWrite != 0 {
			c.Writable = append(c.Writable, b)
		} else {
			if len(c.Writable) > 0 {
				return "device-readable buffer after a device-writable one"
			}
			c.Readable = append(c.Readable, b)
		}
		if d.flags&DescFNext == 0 {
			return ""
		}
		if uint32(d.next) >= entries {
			return fmt.Sprintf("next %d outside a table of %d descriptors", d.next, entries)
		}
		i = uint32(d.next)
	}
}

// Unpop puts the last n popped chains back, to be popped again: a device
// that took buffers it cannot fill yet returns them this way.
func (q *DeviceQueue) Unpop(n int) { q.lastAvail -= uint16(n) }

// Push returns a chain to the driver with the number of bytes the device
// wrote into it. The driver sees it after Publish.
func (q *DeviceQueue) Push(head uint16, written uint32) {
	e := q.r.used[q.r.usedElem(q.used):]
	binary.LittleEndian.PutUint32(e[0:], uint32(head))
	binary.LittleEndian.PutUint32(e[4:], written)
	q.used++
}

// Publish makes the pushed chains visible to the driver and reports
// whether the driver asked to be interrupted for them: with EVENT_IDX when
// the used index passes used_event, otherwise unless the driver set
// NO_INTERRUPT.
func (q *DeviceQueue) Publish() (interrupt bool) {
	old, new := q.published, q.used
	if old == new {
		return false
	}
	// The atomic store orders the used elements before the index, and
	// (sequentially consistent) the index before reading the driver's
	// wish below: the driver re-checks the index after stating it.
	store16(q.r.used, q.r.usedIdx(), new)
	q.published = new
	if q.r.eventIdx {
		return needEvent(load16(q.r.avail, q.r.usedEvent()), new, old)
	}
	return load16(q.r.avail, q.r.availFlags())&AvailFNoInterrupt == 0
}

// DisableNotify tells the driver the device needs no kick for new
// buffers (it will look anyway). With EVENT_IDX the stale avail_event
// already says so.
func (q *DeviceQueue) DisableNotify() {
	if !q.r.eventIdx {
		store16(q.r.used, q.r.usedFlags(), UsedFNoNotify)
	}
}

// EnableNotify asks for a kick when the driver makes the next buffer
// available, and reports whether buffers are already waiting, in which
// case the device must look again rather than wait for a kick that may
// never come.
func (q *DeviceQueue) EnableNotify() (pending bool) {
	if q.r.eventIdx {
		store16(q.r.used, q.r.availEvent(), q.lastAvail)
	} else {
		store16(q.r.used, q.r.usedFlags(), 0)
	}
	return q.Pending()
}

// EnableNotifyOnMore asks for a kick when the driver makes more buffers
// available than it has now, and reports whether more arrived meanwhile.
// A device that popped buffers, found them too few for a frame and put
// them back (Unpop) waits this way: EnableNotify would ask for a kick at
// an index the driver has already passed.
func (q *DeviceQueue) EnableNotifyOnMore() (arrived bool) {
	seen := load16(q.r.avail, q.r.availIdx())
	if q.r.eventIdx {
		store16(q.r.used, q.r.availEvent(), seen)
	} else {
		store16(q.r.used, q.r.usedFlags(), 0)
	}
	return load16(q.r.avail, q.r.availIdx()) != seen
}

// Pending reports whether the driver has made chains available that the
// device has not popped.
func (q *DeviceQueue) Pending() bool {
	return q.broken == nil && load16(q.r.avail, q.r.availIdx()) != q.lastAvail
}
