package virtq

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// DriverQueue is the driver's end of a queue: it owns the descriptor
// table, offers buffers through the available ring and takes them back
// from the used ring. It is not safe for concurrent use.
type DriverQueue struct {
	r        rings
	mem      Memory
	indirect bool

	// The free descriptors are a list linked through next, kept on the
	// host side: the device cannot corrupt it by scribbling on the table.
	next     []uint16
	freeHead uint16
	numFree  int
	// Per chain in flight, by head: how many descriptors it took (0: not
	// in flight) and its last one.
	count []uint16
	tail  []uint16

	avail     uint16 // next available entry to fill
	published uint16 // available index as the device last saw it
	lastUsed  uint16 // next used entry to take
}

// Buffer is one guest buffer a driver offers.
type Buffer struct {
	Addr     uint64 // guest-physical
	Len      uint32
	Writable bool // the device writes it (receive) rather than reads it
}

// ErrFull means the queue has too few free descriptors for the chain.
var ErrFull = errors.New("virtqueue full")

// NewDriverQueue sets up a queue at l in mem, clearing its rings, for a
// device to be told about (DeviceQueue at the other end).
func NewDriverQueue(mem Memory, l Layout, o Options) (*DriverQueue, error) {
	r, err := newRings(mem, l, o.EventIdx)
	if err != nil {
		return nil, err
	}
	clear(r.desc)
	clear(r.avail[r.availOff : r.availOff+int(AvailRingSize(l.Size))])
	clear(r.used[:UsedRingSize(l.Size)])
	q := &DriverQueue{
		r:        r,
		mem:      mem,
		indirect: o.Indirect,
		next:     make([]uint16, l.Size),
		numFree:  int(l.Size),
		count:    make([]uint16, l.Size),
		tail:     make([]uint16, l.Size),
	}
	for i := range q.next {
		q.next[i] = uint16(i + 1) // the last link is never followed
	}
	return q, nil
}

// Size is the number of entries of the queue; NumFree how many
// descriptors are free.
func (q *DriverQueue) Size() uint16 { return q.r.size }
func (q *DriverQueue) NumFree() int { return q.numFree }

// Add offers a chain of buffers, device-readable ones first, and returns
// its head. The device sees it after Publish.
func (q *DriverQueue) Add(bufs []Buffer) (uint16, error) {
	if err := checkOrder(bufs); err != nil {
		return 0, err
	}
	n := len(bufs)
	if n > q.numFree {
		return 0, ErrFull
	}
	head := q.freeHead
	i := head
	for k, b := range bufs {
		d := desc{addr: b.Addr, len: b.Len}
		if b.Writable {
			d.flags = DescFWrite
		}
		if k < n-1 {
			d.flags |= DescFNext
			d.next = q.next[i]
		}
		writeDesc(q.r.descAt(i), d)
		if k < n-1 {
			i = q.next[i]
		}
	}
	q.take(head, i, n)
	return head, nil
}

// AddIndirect offers a chain through an indirect table the caller has
// room for at guest-physical address table (16 bytes per buffer): the
// chain takes a single descriptor of the queue.
func (q *DriverQueue) AddIndirect(table uint64, bufs []Buffer) (uint16, error) {
	if !q.indirect {
		return 0, errors.New("indirect descriptors not negotiated")
	}
	if err := checkOrder(bufs); err != nil {
		return 0, err
	}
	if q.numFree == 0 {
		return 0, ErrFull
	}
	t, ok := q.mem.Slice(table, 16*uint64(len(bufs)))
	if !ok {
		return 0, fmt.Errorf("indirect table at %#x outside guest memory", table)
	}
	for k, b := range bufs {
		d := desc{addr: b.Addr, len: b.Len}
		if b.Writable {
			d.flags = DescFWrite
		}
		if k < len(bufs)-1 {
			d.flags |= DescFNext
			d.next = uint16(k + 1)
		}
		writeDesc(t[16*k:], d)
	}
	head := q.freeHead
	writeDesc(q.r.descAt(head), desc{addr: table, len: uint32(len(t)), flags: DescFIndirect})
	q.take(head, head, 1)
	return head, nil
}

func checkOrder(bufs []Buffer) error {
	if len(bufs) == 0 {
		return errors.New("empty descriptor chain")
	}
	for k := 1; k < len(bufs); k++ {
		if bufs[k-1].Writable && !bufs[k].Writable {
			return errors.New("device-readable buffer after a device-writable one")
		}
	}
	return nil
}

// take moves the n free descriptors from head to last into flight and
// puts head in the available ring.
func (q *DriverQueue) take(head, last uint16, n int) {
	q.freeHead = q.next[last]
	q.numFree -= n
	q.count[head] = uint16(n)
	q.tail[head] = last
	store16(q.r.avail, q.r.availEntry(q.avail), head)
	q.avail++
}

// Publish makes the added chains visible to the device and reports
// whether the device wants a notification (a kick) for them: with
// EVENT_IDX when the available index passes avail_event, otherwise
// unless the device set NO_NOTIFY.
func (q *DriverQueue) Publish() (kick bool) {
	old, new := q.published, q.avail
	if old == new {
		return false
	}
	store16(q.r.avail, q.r.availIdx(), new)
	q.published = new
	if q.r.eventIdx {
		return needEvent(load16(q.r.used, q.r.availEvent()), new, old)
	}
	return load16(q.r.used, q.r.usedFlags())&UsedFNoNotify == 0
}

// Used takes the next chain the device has returned and frees its
// descriptors; ok is false when there is none. It returns the chain's
// head and how many bytes the device wrote into it. An error means the
// device returned something that was never in flight (wrapping ErrBroken).
func (q *DriverQueue) Used() (head uint16, written uint32, ok bool, err error) {
	idx := load16(q.r.used, q.r.usedIdx())
	if idx == q.lastUsed {
		return 0, 0, false, nil
	}
	if idx-q.lastUsed > q.r.size {
		return 0, 0, false, fmt.Errorf("%w: used index %d is %d ahead of %d", ErrBroken, idx, idx-q.lastUsed, q.lastUsed)
	}
	e := q.r.used[q.r.usedElem(q.lastUsed):]
	id := binary.LittleEndian.Uint32(e[0:])
	written = binary.LittleEndian.Uint32(e[4:])
	q.lastUsed++
	if id >= uint32(q.r.size) || q.count[id] == 0 {
		return 0, 0, false, fmt.Errorf("%w: device returned descriptor %d, not in flight", ErrBroken, id)
	}
	head = uint16(id)
	q.next[q.tail[head]] = q.freeHead
	q.freeHead = head
	q.numFree += int(q.count[head])
	q.count[head] = 0
	return head, written, true, nil
}

// DisableInterrupts tells the device the driver needs no interrupt for
// used buffers (it is polling). With EVENT_IDX the stale used_event
// already says so.
func (q *DriverQueue) DisableInterrupts() {
	if !q.r.eventIdx {
		store16(q.r.avail, q.r.availFlags(), AvailFNoInterrupt)
	}
}

// EnableInterrupts asks for an interrupt when the device returns the next
// buffer, and reports whether buffers are already waiting, in which case
// the driver must look again rather than wait.
func (q *DriverQueue) EnableInterrupts() (pending bool) {
	if q.r.eventIdx {
		store16(q.r.avail, q.r.usedEvent(), q.lastUsed)
	} else {
		store16(q.r.avail, q.r.availFlags(), 0)
	}
	return load16(q.r.used, q.r.usedIdx()) != q.lastUsed
}

// EnableInterruptsAfter asks for an interrupt only once n more buffers
// have been returned (EVENT_IDX; without it, as EnableInterrupts): a
// driver that waits for room in a full transmit queue need not wake for
// every single buffer.
func (q *DriverQueue) EnableInterruptsAfter(n uint16) (pending bool) {
	if !q.r.eventIdx || n == 0 {
		return q.EnableInterrupts()
	}
	store16(q.r.avail, q.r.usedEvent(), q.lastUsed+n-1)
	return load16(q.r.used, q.r.usedIdx())-q.lastUsed >= n
}
