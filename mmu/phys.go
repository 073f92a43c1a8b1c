// Package mmu owns guest memory: the guest-physical RAM of a VM with its
// frame allocator, and address spaces built on it.
//
// An AddressSpace keeps two views of the same truth: a sorted list of
// mappings (what the program asked for, with permissions) and x86-64 4-level
// page tables in guest-physical memory (what the CPU walks). Both are changed
// together by Map and Unmap, so the KVM engine can point CR3 at Root and the
// kernel can check and copy guest buffers through the same frames.
package mmu

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// PageSize is the size of a page and of a physical frame.
const PageSize = 4096

// ErrNoMemory is returned when guest-physical RAM has no free frame.
var ErrNoMemory = errors.New("out of guest memory")

// PhysMem is guest-physical RAM: one anonymous host mapping, so frames the
// guest never touches cost the host nothing. Frame 0 is never handed out,
// which keeps physical address 0 meaning "none" in page tables.
type PhysMem struct {
	mem []byte

	mu   sync.Mutex
	next uint64   // lowest frame never handed out
	free []uint64 // frames handed back, reused first
}

// NewPhysMem reserves size bytes (rounded up to a page) of guest RAM.
func NewPhysMem(size uint64) (*PhysMem, error) {
	size = PageAlignUp(size)
	if size < 16*PageSize {
		return nil, fmt.Errorf("guest memory of %d bytes is too small", size)
	}
	mem, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("reserving %d MiB of guest memory: %w", size>>20, err)
	}
	return &PhysMem{mem: mem, next: PageSize}, nil
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
		clear(p.mem[pa : pa+PageSize])
		return pa, nil
	}
	if p.next >= uint64(len(p.mem)) {
		return 0, ErrNoMemory
	}
	pa := p.next
	p.next += PageSize // fresh frames of an anonymous mapping are already zero
	return pa, nil
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
		start := frames[i]
		// A failure only leaves the old contents; Alloc clears reused frames anyway.
		unix.Madvise(p.mem[start:frames[j-1]+PageSize], unix.MADV_DONTNEED)
		i = j
	}
	p.mu.Lock()
	p.free = append(p.free, frames...)
	p.mu.Unlock()
}

// Page returns the bytes of the frame at guest-physical address pa.
func (p *PhysMem) Page(pa uint64) []byte { return p.mem[pa : pa+PageSize : pa+PageSize] }

// Close releases guest RAM. No engine may use it afterwards.
func (p *PhysMem) Close() error {
	if p.mem == nil {
		return nil
	}
	err := unix.Munmap(p.mem)
	p.mem = nil
	return err
}

// PageAlignUp rounds n up to a multiple of PageSize.
func PageAlignUp(n uint64) uint64 { return (n + PageSize - 1) &^ (PageSize - 1) }

// PageAlignDown rounds n down to a multiple of PageSize.
func PageAlignDown(n uint64) uint64 { return n &^ (PageSize - 1) }
