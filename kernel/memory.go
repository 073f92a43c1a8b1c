package kernel

import (
	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// Brk moves the program break to newBreak and returns the break in force
// afterwards. 0, or any address outside [HeapStart, MmapStart), only asks
// for the current break; so does a request that memory cannot satisfy.
//
// As on Linux, the heap is mapped exactly up to the page that holds the
// break: an access beyond it faults, and memory given back by lowering the
// break reads as zeros when the break grows over it again. Aligned 2 MiB
// stretches of the heap are large pages (the libc's malloc moves the break
// in large-page steps to get them).
func (p *Process) Brk(newBreak uint64) uint64 {
	if newBreak < HeapStart || newBreak > MmapStart {
		return p.brk
	}
	end := mmu.PageAlignUp(newBreak)
	switch {
	case end > p.heapEnd:
		if p.as.Map(p.heapEnd, end-p.heapEnd, mmu.Read|mmu.Write, "heap") != nil {
			return p.brk
		}
	case end < p.heapEnd:
		if p.as.Unmap(end, p.heapEnd-end) != nil {
			return p.brk
		}
	}
	if newBreak < p.brk && newBreak < end {
		// The page holding the new break stays; what lay above the break
		// on it is given back too.
		zeros := make([]byte, min(p.brk, end)-newBreak)
		p.as.WriteAt(zeros, newBreak)
	}
	p.heapEnd = end
	p.brk = newBreak
	return p.brk
}

// Mmap maps length bytes (rounded up to pages) of zeroed, writable memory
// in the mmap region, at addr if it is non-zero, page-aligned and free, or
// at the lowest free range otherwise. prot and flags are ignored, as in
// Aurora, and mappings are also executable.
func (p *Process) Mmap(addr, length uint64) (uint64, error) {
	if length == 0 || length > MmapEnd-MmapStart {
		return 0, errno.EINVAL
	}
	length = mmu.PageAlignUp(length)
	if addr != 0 {
		if addr%mmu.PageSize != 0 || addr < MmapStart || addr+length > MmapEnd || !p.as.Free(addr, addr+length) {
			return 0, errno.EINVAL
		}
	} else {
		// Large requests start on a large-page boundary when they can, so
		// that they are mapped with large pages (see mmu.AddressSpace.Map).
		if length >= mmu.HugePageSize {
			addr = p.findFree(length, mmu.HugePageSize)
		}
		if addr == 0 {
			addr = p.findFree(length, mmu.PageSize)
		}
		if addr == 0 {
			return 0, errno.ENOMEM
		}
	}
	if err := p.as.Map(addr, length, mmu.Read|mmu.Write|mmu.Exec, "mmap"); err != nil {
		return 0, errno.ENOMEM
	}
	return addr, nil
}

// findFree returns the lowest align-aligned address in the mmap region
// where length bytes are free, or 0.
func (p *Process) findFree(length, align uint64) uint64 {
	up := func(a uint64) uint64 { return (a + align - 1) &^ (align - 1) }
	addr := up(MmapStart)
	for _, m := range p.as.Mappings() {
		if m.End <= addr || m.Start >= MmapEnd {
			continue
		}
		if m.Start >= addr+length {
			break
		}
		addr = up(m.End)
	}
	if addr+length > MmapEnd {
		return 0
	}
	return addr
}

// Munmap removes every mapped page in [addr, addr+length), with Linux's
// rules: addr must be page-aligned and length non-zero (EINVAL otherwise),
// length is rounded up to a page, and the range must lie in user space,
// below the stack top (EINVAL beyond, as beyond Linux's TASK_SIZE). Pages
// in the range that are not mapped are skipped, so unmapping a range with
// nothing in it succeeds. A mapping the range cuts keeps its pieces
// outside it, and later mmap calls can use the hole.
//
// Any mapping may go, not only the mmap region's: a program that unmaps
// its heap, image or stack faults when it touches them again, as on Linux.
// The program break stays where it is. Pages of a shared memory segment
// are detached from this process only (see Shmdt); the segment and other
// processes' attachments keep them.
func (p *Process) Munmap(addr, length uint64) error {
	if addr%mmu.PageSize != 0 || length == 0 || length > mmu.UserEnd {
		return errno.EINVAL
	}
	length = mmu.PageAlignUp(length)
	if addr > mmu.UserEnd-length {
		return errno.EINVAL
	}
	if err := p.as.Unmap(addr, length); err != nil {
		// Only a large page cut at an edge can fail, when guest RAM has
		// no frame left for its new page table; nothing was removed.
		return errno.ENOMEM
	}
	return nil
}
