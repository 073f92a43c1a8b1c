package kernel

import (
	"github.com/aurora-vm/aurora-vm/mmu"
)

// Brk moves the program break to newBreak and returns the break in force
// afterwards. 0, or any address outside [HeapStart, MmapStart), only asks
// for the current break; so does a request that memory cannot satisfy.
func (p *Process) Brk(newBreak uint64) uint64 {
	if newBreak < HeapStart || newBreak > MmapStart {
		return p.brk
	}
	oldTop, newTop := mmu.PageAlignUp(p.brk), mmu.PageAlignUp(newBreak)
	switch {
	case newTop > oldTop:
		if err := p.as.Map(oldTop, newTop-oldTop, mmu.Read|mmu.Write, "heap"); err != nil {
			return p.brk
		}
	case newTop < oldTop:
		p.as.Unmap(newTop, oldTop-newTop)
	}
	p.brk = newBreak
	return p.brk
}

// MmapFailed is what mmap returns on failure: (uint64)-1.
const MmapFailed = ^uint64(0)

// Mmap maps length bytes (rounded up to pages) of zeroed, writable memory
// in the mmap region, at addr if it is non-zero, page-aligned and free, or
// at the lowest free range otherwise. prot and flags are ignored, as in
// Aurora, and mappings are also executable.
func (p *Process) Mmap(addr, length uint64) uint64 {
	if length == 0 || length > MmapEnd-MmapStart {
		return MmapFailed
	}
	length = mmu.PageAlignUp(length)
	if addr != 0 {
		if addr%mmu.PageSize != 0 || addr < MmapStart || addr+length > MmapEnd || !p.as.Free(addr, addr+length) {
			return MmapFailed
		}
	} else {
		addr = p.findFree(length)
		if addr == 0 {
			return MmapFailed
		}
	}
	if err := p.as.Map(addr, length, mmu.Read|mmu.Write|mmu.Exec, "mmap"); err != nil {
		return MmapFailed
	}
	return addr
}

// findFree returns the lowest address in the mmap region where length
// bytes are free, or 0.
func (p *Process) findFree(length uint64) uint64 {
	addr := uint64(MmapStart)
	for _, m := range p.as.Mappings() {
		if m.End <= addr || m.Start >= MmapEnd {
			continue
		}
		if m.Start >= addr+length {
			break
		}
		addr = m.End
	}
	if addr+length > MmapEnd {
		return 0
	}
	return addr
}

// Munmap removes the mmap-region pages in [addr, addr+length). addr must be
// page-aligned and the range inside the mmap region; unmapped pages in the
// range are skipped.
func (p *Process) Munmap(addr, length uint64) int64 {
	if addr%mmu.PageSize != 0 || length == 0 || addr < MmapStart || addr+length > MmapEnd || addr+length < addr {
		return -1
	}
	if err := p.as.Unmap(addr, mmu.PageAlignUp(length)); err != nil {
		return -1
	}
	return 0
}
