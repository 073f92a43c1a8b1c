package mmu

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// ErrSharedGone is returned when mapping shared frames that have already
// been given back.
var ErrSharedGone = errors.New("shared memory no longer exists")

// SharedFrames is memory that address spaces map together for real: a
// store through one mapping is seen through every other at once, and fork
// keeps such mappings shared instead of copying them on write. It backs
// shared memory segments.
//
// The frames are reference-counted like any other: the SharedFrames holds
// one reference to each while its owner keeps it (until Disown), and every
// mapping of a page holds one more. Independently of those, it counts the
// mappings (Mapping values) that use it in any address space: when its
// owner has disowned it and the last mapping goes, its own references are
// dropped and it can never be mapped again. The frames return to the
// allocator when the last reference of either kind is gone.
//
// Shared frames are small pages: a page of a segment must stay where it is
// for every address space, and a large page would have to be split in all
// of them at once when one unmaps part of it.
type SharedFrames struct {
	phys   *PhysMem
	frames []uint64 // one per page, in order

	mu       sync.Mutex
	mappings int  // Mapping values using the frames, in all address spaces
	owned    bool // the owner still holds its reference to every frame
	gone     bool // the owner's references are dropped: nothing may map it
}

// NewSharedFrames allocates size bytes (rounded up to a page) of zeroed
// frames to be shared, owned by the caller until Disown. It fails with
// ErrNoMemory, having allocated nothing, when guest RAM is short.
func NewSharedFrames(phys *PhysMem, size uint64) (*SharedFrames, error) {
	size = PageAlignUp(size)
	if size == 0 || size > phys.Size() {
		return nil, fmt.Errorf("shared memory of %d bytes: %w", size, ErrNoMemory)
	}
	frames := make([]uint64, 0, size/PageSize)
	for range size / PageSize {
		pa, err := phys.Alloc()
		if err != nil {
			phys.Free(frames...)
			return nil, err
		}
		frames = append(frames, pa)
	}
	return &SharedFrames{phys: phys, frames: frames, owned: true}, nil
}

// Size is the size of the shared memory in bytes.
func (s *SharedFrames) Size() uint64 { return uint64(len(s.frames)) * PageSize }

// Frame returns the guest-physical address of the page at byte offset off.
func (s *SharedFrames) Frame(off uint64) uint64 { return s.frames[off/PageSize] }

// Mappings is the number of mappings of the frames in all address spaces.
// An attachment that munmap has cut in two counts twice, as on Linux.
func (s *SharedFrames) Mappings() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mappings
}

// Alive reports whether the frames can still be mapped: the owner holds
// them, or some address space still maps them.
func (s *SharedFrames) Alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.gone
}

// Disown gives up the owner's hold: the frames go with their last mapping,
// at once if there is none.
func (s *SharedFrames) Disown() {
	s.mu.Lock()
	s.owned = false
	drop := s.dieIfUnused()
	s.mu.Unlock()
	s.phys.Free(drop...)
}

// attach counts a new mapping, or reports false when the frames are gone.
func (s *SharedFrames) attach() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return false
	}
	s.mappings++
	return true
}

// adjust changes the count of mappings by delta (negative when mappings
// went away) and drops the owner's references when nothing holds the
// frames any more. The callers' page-table entries for the frames must
// already be gone.
func (s *SharedFrames) adjust(delta int) {
	s.mu.Lock()
	s.mappings += delta
	if s.mappings < 0 {
		s.mu.Unlock()
		panic("mmu: shared frames unmapped more often than mapped")
	}
	drop := s.dieIfUnused()
	s.mu.Unlock()
	s.phys.Free(drop...)
}

// dieIfUnused marks the frames gone when neither the owner nor a mapping
// holds them, and returns the references to drop. Called with mu held.
func (s *SharedFrames) dieIfUnused() []uint64 {
	if s.gone || s.owned || s.mappings > 0 {
		return nil
	}
	s.gone = true
	return s.frames
}

// MapShared maps all of s at va with perm. The range must be page-aligned,
// inside user space and free. Every page is present at once and stays on
// its frame: stores are never copied, by fork or anything else. It fails
// with ErrSharedGone when s can no longer be mapped.
func (as *AddressSpace) MapShared(va uint64, s *SharedFrames, perm Perm, name string) error {
	as.mu.Lock()
	defer as.mu.Unlock()
	end := va + s.Size()
	if err := as.checkFree(va, s.Size(), name); err != nil {
		return err
	}
	if !s.attach() {
		return ErrSharedGone
	}
	for off := uint64(0); off < s.Size(); off += PageSize {
		pa := s.frames[off/PageSize]
		as.phys.Share(pa)
		if err := as.setPTE(va+off, pa|leafBits(perm, true)); err != nil {
			as.phys.Free(pa)
			// The pages were never visible to the guest: nothing to resync.
			as.unmapPages(va, va+off, syncNone)
			s.adjust(-1)
			return err
		}
	}
	as.insert(Mapping{Start: va, End: end, Perm: perm, Name: name, Shared: s})
	return nil
}

// UnmapShared removes the attachment of shared frames made at base: the
// mappings of one SharedFrames that map it from base on (the one mapped
// lowest at or above base picks which), even after munmap has cut pieces
// out of it. This is the rule of Linux's shmdt. It reports false when no
// such mapping exists.
func (as *AddressSpace) UnmapShared(base uint64) bool {
	as.mu.Lock()
	defer as.mu.Unlock()
	i := sort.Search(len(as.mappings), func(i int) bool { return as.mappings[i].Start >= base })
	var s *SharedFrames
	for _, m := range as.mappings[i:] {
		if m.Shared != nil && m.Start-m.Offset == base {
			s = m.Shared
			break
		}
	}
	if s == nil {
		return false
	}
	kept := as.mappings[:0]
	removed := 0
	for _, m := range as.mappings {
		if m.Shared == s && m.Start-m.Offset == base {
			as.unmapPages(m.Start, m.End, syncForget)
			removed++
			continue
		}
		kept = append(kept, m)
	}
	as.mappings = kept
	s.adjust(-removed)
	return true
}
