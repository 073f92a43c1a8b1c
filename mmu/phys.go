// Package mmu owns guest memory: the guest-physical RAM of a VM with its
// frame allocator, and address spaces built on it.
//
// An AddressSpace keeps two views of the same truth: a sorted list of
// mappings (what the program asked for, with permissions) and x86-64 4-level
// page tables in guest-physical memory (what the CPU walks). Both are changed
// together by Map and Unmap, so the KVM engine can point CR3 at Root and the
// kernel can check and copy guest buffers through the same frames. Aligned
// 2 MiB stretches of a mapping are large pages, split when an unmap cuts one.
package mmu

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// PageSize is the size of a page and of a physical frame.
const PageSize = 4096

// HugePageSize is the size of a large page: 512 frames, contiguous and
// aligned, mapped by one page-directory entry.
const HugePageSize = 512 * PageSize

// ErrNoMemory is returned when guest-physical RAM has no free frame.
var ErrNoMemory = errors.New("out of guest memory")

// PhysMem is guest-physical RAM: one anonymous host mapping, so frames the
// guest never touches cost the host nothing. Frame 0 is never handed out,
// which keeps physical address 0 meaning "none" in page tables.
//
// The host mapping is aligned to HugePageSize and asks for transparent huge
// pages: a large guest page then lies on one huge host page, which KVM can
// map with a single translation. Touching memory is what costs under
// virtualisation (a host fault and a KVM fault per page otherwise).
type PhysMem struct {
	region []byte // the host mapping, with the slack that aligns mem
	mem    []byte

	mu       sync.Mutex
	next     uint64   // lowest frame never handed out
	free     []uint64 // frames handed back, reused first
	freeHuge []uint64 // large pages handed back whole
}

// NewPhysMem reserves size bytes (rounded up to a page) of guest RAM.
func NewPhysMem(size uint64) (*PhysMem, error) {
	size = PageAlignUp(size)
	if size < 16*PageSize {
		return nil, fmt.Errorf("guest memory of %d bytes is too small", size)
	}
	region, err := unix.Mmap(-1, 0, int(size+HugePageSize), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("reserving %d MiB of guest memory: %w", size>>20, err)
	}
	skip := (HugePageSize - uint64(sliceAddr(region))%HugePageSize) % HugePageSize
	mem := region[skip : skip+size : skip+size]
	// Without transparent huge pages this fails, and memory is only slower.
	unix.Madvise(mem, unix.MADV_HUGEPAGE)
	return &PhysMem{region: region, mem: mem, next: PageSize}, nil
}

// Bytes returns all of guest RAM, indexed by guest-physical address. The
// KVM engine registers it as the VM's memory.
func (p *PhysMem) Bytes() []byte { return p.mem }

// Size is the size of guest RAM in bytes.
func (p *PhysMem) Size() uint64 { return uint64(len(p.mem)) }

// Alloc hands out one zeroed frame and returns its guest-physical address.
func (p *PhysMem) Alloc() (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		pa := p.free[n-1]
		p.free = p.free[:n-1]
		return pa, nil // discarded by Free, so zero
	}
	if p.next < uint64(len(p.mem)) {
		pa := p.next
		p.next += PageSize // fresh frames of an anonymous mapping are already zero
		return pa, nil
	}
	if n := len(p.freeHuge); n > 0 {
		// Break up a large page rather than fail.
		pa := p.freeHuge[n-1]
		p.freeHuge = p.freeHuge[:n-1]
		for f := pa + PageSize; f < pa+HugePageSize; f += PageSize {
			p.free = append(p.free, f)
		}
		return pa, nil
	}
	return 0, ErrNoMemory
}

// AllocHuge hands out a zeroed large page, HugePageSize-aligned, and
// reports false when there is none left; callers then use single frames.
func (p *PhysMem) AllocHuge() (uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.freeHuge); n > 0 {
		pa := p.freeHuge[n-1]
		p.freeHuge = p.freeHuge[:n-1]
		return pa, true
	}
	start := HugePageAlignUp(p.next)
	if start+HugePageSize > uint64(len(p.mem)) {
		return 0, false
	}
	for f := p.next; f < start; f += PageSize { // the frames skipped to align
		p.free = append(p.free, f)
	}
	p.next = start + HugePageSize
	return start, true
}

// Free returns frames to the allocator. Their host pages are discarded
// with MADV_DONTNEED, which also makes KVM drop every translation the guest
// still holds for them (KVM's MMU notifier zaps the frames' mappings and
// flushes the guest TLB, under EPT/NPT and shadow paging alike). That is how
// an unmapped page stops being reachable at once, without any TLB-flush
// instruction in the guest. Discarded pages read back as zeros.
func (p *PhysMem) Free(frames ...uint64) {
	if len(frames) == 0 {
		return
	}
	slices.Sort(frames)
	for i := 0; i < len(frames); {
		j := i + 1
		for j < len(frames) && frames[j] == frames[j-1]+PageSize {
			j++
		}
		p.discard(frames[i], frames[j-1]+PageSize)
		i = j
	}
	p.mu.Lock()
	p.free = append(p.free, frames...)
	p.mu.Unlock()
}

// FreeHuge returns a large page from AllocHuge, discarded like Free's.
func (p *PhysMem) FreeHuge(pa uint64) {
	p.discard(pa, pa+HugePageSize)
	p.mu.Lock()
	p.freeHuge = append(p.freeHuge, pa)
	p.mu.Unlock()
}

// discard drops the host pages behind [start, end) so that they read as
// zero and no guest translation of them survives.
func (p *PhysMem) discard(start, end uint64) {
	if unix.Madvise(p.mem[start:end], unix.MADV_DONTNEED) != nil {
		// Not expected for anonymous memory; at least hand out zeros.
		clear(p.mem[start:end])
	}
}

// Page returns the bytes of the frame at guest-physical address pa.
func (p *PhysMem) Page(pa uint64) []byte { return p.mem[pa : pa+PageSize : pa+PageSize] }

// Close releases guest RAM. No engine may use it afterwards.
func (p *PhysMem) Close() error {
	if p.region == nil {
		return nil
	}
	err := unix.Munmap(p.region)
	p.region, p.mem = nil, nil
	return err
}

func sliceAddr(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }

// HugePageAlignUp rounds n up to a multiple of HugePageSize.
func HugePageAlignUp(n uint64) uint64 { return (n + HugePageSize - 1) &^ (HugePageSize - 1) }

// PageAlignUp rounds n up to a multiple of PageSize.
func PageAlignUp(n uint64) uint64 { return (n + PageSize - 1) &^ (PageSize - 1) }

// PageAlignDown rounds n down to a multiple of PageSize.
func PageAlignDown(n uint64) uint64 { return n &^ (PageSize - 1) }
