// Package virtq owns split virtqueues (virtio 1.x, section 2.7): the
// descriptor table, available ring and used ring a driver and a device
// share in guest-physical memory. It has both ends: DeviceQueue takes the
// descriptor chains a driver made available and returns them used;
// DriverQueue offers buffers and reclaims them. Neither knows what the
// buffers hold: that is the device's business (virtio-net, one level up).
//
// Guest memory is reached only through Memory, one bounds-checked slice at
// a time, so nothing a driver writes into the rings can make the device
// touch host memory outside guest RAM: a bad address, a looping chain or a
// malformed indirect table is an error, never a panic.
//
// The two ends usually run on different goroutines (the kernel's driver
// and the device's receive loop), so the ring indices, flags and event
// fields are read and written with atomic operations: publishing an index
// is what makes the descriptors and buffers behind it visible to the other
// side. Descriptors and used elements themselves are plain memory,
// ordered by those atomics. Multi-byte fields are little-endian, as
// virtio 1.x defines them; the atomics assume a little-endian host.
package virtq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// Memory is guest-physical RAM as a device sees it. mmu.PhysMem satisfies
// it.
type Memory interface {
	// Slice returns the n bytes at guest-physical address pa, or false
	// when they do not lie wholly inside RAM.
	Slice(pa, n uint64) ([]byte, bool)
}

// Layout is where one queue lives, as a transport's queue registers give
// it: the queue size and the guest-physical addresses of its three parts.
type Layout struct {
	Size  uint16 // power of two, 1 to MaxSize
	Desc  uint64 // descriptor table: 16-byte aligned, 16*Size bytes
	Avail uint64 // available ring (driver area): 2-byte aligned, 6+2*Size bytes
	Used  uint64 // used ring (device area): 4-byte aligned, 6+8*Size bytes
}

// MaxSize is the largest queue size virtio allows.
const MaxSize = 32768

// Sizes of the three parts of a queue of n entries.
func DescTableSize(n uint16) uint64 { return 16 * uint64(n) }
func AvailRingSize(n uint16) uint64 { return 6 + 2*uint64(n) }
func UsedRingSize(n uint16) uint64  { return 6 + 8*uint64(n) }

// Descriptor flags and ring flags.
const (
	DescFNext     = 1 // the chain continues at next
	DescFWrite    = 2 // the buffer is device-writable
	DescFIndirect = 4 // the buffer is a table of descriptors

	AvailFNoInterrupt = 1 // driver: no used-buffer notifications, please
	UsedFNoNotify     = 1 // device: no available-buffer notifications, please
)

// Options are the negotiated features that change how a queue works.
type Options struct {
	EventIdx bool // VIRTIO_F_EVENT_IDX: used_event and avail_event
	Indirect bool // VIRTIO_F_INDIRECT_DESC: descriptor tables
}

// ErrBroken means the other side broke the queue's rules in a way that
// cannot be recovered from (an index that jumps too far, a head outside the
// table); the queue stays unusable until it is set up again.
var ErrBroken = errors.New("virtqueue broken")

// Validate checks the size and the alignment the specification demands.
func (l Layout) Validate() error {
	if l.Size == 0 || l.Size > MaxSize || l.Size&(l.Size-1) != 0 {
		return fmt.Errorf("queue size %d is not a power of two from 1 to %d", l.Size, MaxSize)
	}
	if l.Desc%16 != 0 || l.Avail%2 != 0 || l.Used%4 != 0 {
		return fmt.Errorf("queue parts at %#x, %#x, %#x are not aligned to 16, 2 and 4", l.Desc, l.Avail, l.Used)
	}
	return nil
}

// rings are a queue's three parts, resolved once into host memory. avail
// and used start at a 4-byte boundary and end at one, so that every 16-bit
// field lies inside an aligned 32-bit word of the slice: the atomics work
// on those words (Go has no 16-bit atomics).
type rings struct {
	size     uint16
	mask     uint16
	eventIdx bool
	desc     []byte
	avail    []byte
	availOff int // offset of the available ring in avail
	used     []byte
}

func newRings(mem Memory, l Layout, eventIdx bool) (rings, error) {
	if err := l.Validate(); err != nil {
		return rings{}, err
	}
	r := rings{size: l.Size, mask: l.Size - 1, eventIdx: eventIdx}
	var ok bool
	if r.desc, ok = mem.Slice(l.Desc, DescTableSize(l.Size)); !ok {
		return rings{}, fmt.Errorf("descriptor table at %#x is outside guest memory", l.Desc)
	}
	start := l.Avail &^ 3
	end := (l.Avail + AvailRingSize(l.Size) + 3) &^ 3
	if r.avail, ok = mem.Slice(start, end-start); !ok {
		return rings{}, fmt.Errorf("available ring at %#x is outside guest memory", l.Avail)
	}
	r.availOff = int(l.Avail - start)
	if r.used, ok = mem.Slice(l.Used, (UsedRingSize(l.Size)+3)&^3); !ok {
		return rings{}, fmt.Errorf("used ring at %#x is outside guest memory", l.Used)
	}
	if !aligned4(r.avail) || !aligned4(r.used) {
		return rings{}, errors.New("guest memory is not mapped 4-byte aligned")
	}
	return r, nil
}

func aligned4(b []byte) bool { return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%4 == 0 }

// Offsets of the fields in the rings.
func (r *rings) availFlags() int         { return r.availOff }
func (r *rings) availIdx() int           { return r.availOff + 2 }
func (r *rings) availEntry(i uint16) int { return r.availOff + 4 + 2*int(i&r.mask) }
func (r *rings) usedEvent() int          { return r.availOff + 4 + 2*int(r.size) }

func (r *rings) usedFlags() int         { return 0 }
func (r *rings) usedIdx() int           { return 2 }
func (r *rings) usedElem(i uint16) int  { return 4 + 8*int(i&r.mask) }
func (r *rings) availEvent() int        { return 4 + 8*int(r.size) }
func (r *rings) descAt(i uint16) []byte { return r.desc[16*int(i) : 16*int(i)+16] }

// load16 and store16 read and write the little-endian 16-bit field at
// b[off] atomically, through the aligned 32-bit word that holds it. The
// store compares and swaps, so the other half of the word (which may be
// the other side's) is never overwritten with a stale value.
func load16(b []byte, off int) uint16 {
	w := (*uint32)(unsafe.Pointer(uintptr(unsafe.Pointer(&b[off])) &^ 3))
	shift := (uintptr(unsafe.Pointer(&b[off])) & 3) * 8
	return uint16(atomic.LoadUint32(w) >> shift)
}

func store16(b []byte, off int, v uint16) {
	w := (*uint32)(unsafe.Pointer(uintptr(unsafe.Pointer(&b[off])) &^ 3))
	shift := (uintptr(unsafe.Pointer(&b[off])) & 3) * 8
	for {
		old := atomic.LoadUint32(w)
		nw := old&^(0xffff<<shift) | uint32(v)<<shift
		if old == nw || atomic.CompareAndSwapUint32(w, old, nw) {
			return
		}
	}
}

// needEvent is vring_need_event: whether moving an index from old to
// new passes the other side's event index, i.e. whether event lies in
// [old, new) modulo 2^16.
func needEvent(event, new, old uint16) bool { return new-event-1 < new-old }

// desc is one descriptor (struct virtq_desc).
type desc struct {
	addr  uint64
	len   uint32
	flags uint16
	next  uint16
}

func readDesc(b []byte) desc {
	return desc{
		addr:  binary.LittleEndian.Uint64(b[0:]),
		len:   binary.LittleEndian.Uint32(b[8:]),
		flags: binary.LittleEndian.Uint16(b[12:]),
		next:  binary.LittleEndian.Uint16(b[14:]),
	}
}

func writeDesc(b []byte, d desc) {
	binary.LittleEndian.PutUint64(b[0:], d.addr)
	binary.LittleEndian.PutUint32(b[8:], d.len)
	binary.LittleEndian.PutUint16(b[12:], d.flags)
	binary.LittleEndian.PutUint16(b[14:], d.next)
}
