package mmu

import (
	"errors"
	"sync"
	"testing"
)

// sharedSetup makes RAM, two address spaces on it and shared frames of
// pages pages, and returns the number of free frames before any of them.
func sharedSetup(t *testing.T, pages uint64) (phys *PhysMem, a, b *AddressSpace, s *SharedFrames, before uint64) {
	t.Helper()
	phys, err := NewPhysMem(16 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phys.Close() })
	before = phys.FreeFrames()
	if a, err = NewAddressSpace(phys); err != nil {
		t.Fatal(err)
	}
	if b, err = NewAddressSpace(phys); err != nil {
		t.Fatal(err)
	}
	if s, err = NewSharedFrames(phys, pages*PageSize); err != nil {
		t.Fatal(err)
	}
	return phys, a, b, s, before
}

func mustMapShared(t *testing.T, as *AddressSpace, va uint64, s *SharedFrames) {
	t.Helper()
	if err := as.MapShared(va, s, Read|Write, "shm"); err != nil {
		t.Fatal(err)
	}
}

// checkAllFree checks that every frame taken since before is back.
func checkAllFree(t *testing.T, phys *PhysMem, before uint64) {
	t.Helper()
	if after := phys.FreeFrames(); after != before {
		t.Errorf("%d frames free at the end, %d before: leaked or freed twice", after, before)
	}
}

// TestSharedMappingIsSeenByBoth maps the same frames into two address
// spaces at different addresses and checks that each sees the other's
// stores, through the same physical pages, with one reference per mapping.
func TestSharedMappingIsSeenByBoth(t *testing.T) {
	phys, a, b, s, before := sharedSetup(t, 3)
	const va, vb = 0x40000000, 0x50002000
	mustMapShared(t, a, va, s)
	mustMapShared(t, b, vb, s)
	if err := a.WriteAt([]byte("from a"), va+PageSize+10); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, b, vb+PageSize+10, 6); string(got) != "from a" {
		t.Errorf("b reads %q, want a's store", got)
	}
	if err := b.WriteAt([]byte("from b"), vb+2*PageSize); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, a, va+2*PageSize, 6); string(got) != "from b" {
		t.Errorf("a reads %q, want b's store", got)
	}
	for off := uint64(0); off < 3*PageSize; off += PageSize {
		pa, okA := a.Translate(va+off, true)
		pb, okB := b.Translate(vb+off, true)
		if !okA || !okB || pa != pb || pa != s.Frame(off) {
			t.Fatalf("page %d: a %#x (%v), b %#x (%v), frame %#x: want one writable frame",
				off/PageSize, pa, okA, pb, okB, s.Frame(off))
		}
		if r := phys.Refs(pa); r != 3 {
			t.Errorf("page %d has %d references, want 3 (owner and two mappings)", off/PageSize, r)
		}
	}
	if n := s.Mappings(); n != 2 {
		t.Errorf("Mappings = %d, want 2", n)
	}
	a.Release()
	if got := readBack(t, b, vb+PageSize+10, 6); string(got) != "from a" {
		t.Errorf("after a's release b reads %q", got)
	}
	if r := phys.Refs(s.Frame(0)); r != 2 || s.Mappings() != 1 {
		t.Errorf("after a's release: %d references, %d mappings; want 2 and 1", r, s.Mappings())
	}
	b.Release()
	s.Disown()
	if s.Alive() {
		t.Error("shared frames alive with no owner and no mapping")
	}
	checkAllFree(t, phys, before)
}

// TestForkKeepsSharedMappingsShared checks that a child sees the parent's
// shared pages on the same frames, writable, while private pages are still
// copy-on-write.
func TestForkKeepsSharedMappingsShared(t *testing.T) {
	phys, parent, other, s, before := sharedSetup(t, 2)
	other.Release()
	const shm, priv = 0x40000000, 0x400000
	mustMapShared(t, parent, shm, s)
	mustMap(t, parent, priv, PageSize)
	parent.WriteAt([]byte("private"), priv)
	child, err := parent.Fork()
	if err != nil {
		t.Fatal(err)
	}
	for _, as := range []*AddressSpace{parent, child} {
		if pa, ok := as.Translate(shm+PageSize, true); !ok || pa != s.Frame(PageSize) {
			t.Fatalf("shared page at %#x (writable %v), want writable frame %#x", pa, ok, s.Frame(PageSize))
		}
	}
	if _, ok := child.Translate(priv, true); ok {
		t.Error("the private page is writable in the child: not copy-on-write")
	}
	if err := child.WriteAt([]byte("child"), shm+PageSize); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, parent, shm+PageSize, 5); string(got) != "child" {
		t.Errorf("parent reads %q in the shared page, want the child's store", got)
	}
	child.WriteAt([]byte("CHILD!!"), priv)
	if got := readBack(t, parent, priv, 7); string(got) != "private" {
		t.Errorf("parent reads %q in its private page after the child's write", got)
	}
	if n := s.Mappings(); n != 2 {
		t.Errorf("Mappings = %d after fork, want 2", n)
	}
	if m := child.Mappings(); len(m) != 2 || m[1].Shared != s {
		t.Errorf("child's mappings %+v: want the shared one kept", m)
	}
	// A grandchild by Copy shares too.
	cp, err := child.Copy()
	if err != nil {
		t.Fatal(err)
	}
	if pa, _ := cp.Translate(shm, true); pa != s.Frame(0) {
		t.Error("Copy copied a shared page")
	}
	s.Disown()
	for _, as := range []*AddressSpace{cp, child} {
		as.Release()
	}
	if got := readBack(t, parent, shm+PageSize, 5); string(got) != "child" {
		t.Errorf("parent reads %q after the others went", got)
	}
	parent.Release()
	checkAllFree(t, phys, before)
}

// TestUnmapInsideSharedMapping cuts the middle out of an attachment: the
// pieces keep their offsets, count as two mappings, the cut page faults,
// the other address space keeps its view, and UnmapShared removes both
// pieces by the attachment's address.
func TestUnmapInsideSharedMapping(t *testing.T) {
	phys, a, b, s, before := sharedSetup(t, 4)
	const va = 0x40000000
	mustMapShared(t, a, va, s)
	mustMapShared(t, b, va, s)
	a.WriteAt([]byte("page1"), va+PageSize)
	if err := a.Unmap(va+PageSize, PageSize); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Translate(va+PageSize, false); ok {
		t.Error("the unmapped shared page still translates")
	}
	if got := readBack(t, b, va+PageSize, 5); string(got) != "page1" {
		t.Errorf("the other address space reads %q", got)
	}
	m := a.Mappings()
	if len(m) != 2 || m[0].End != va+PageSize || m[1].Start != va+2*PageSize || m[1].Offset != 2*PageSize {
		t.Fatalf("pieces after the cut: %+v", m)
	}
	if pa, _ := a.Translate(va+3*PageSize, true); pa != s.Frame(3*PageSize) {
		t.Error("the piece after the cut maps the wrong frame")
	}
	if n := s.Mappings(); n != 3 {
		t.Errorf("Mappings = %d, want 3 (two pieces and b's)", n)
	}
	if r := phys.Refs(s.Frame(PageSize)); r != 2 {
		t.Errorf("the cut page has %d references, want 2 (owner and b)", r)
	}
	if a.UnmapShared(va + PageSize) {
		t.Error("UnmapShared at an address where no attachment starts succeeded")
	}
	if !a.UnmapShared(va) || len(a.Mappings()) != 0 || s.Mappings() != 1 {
		t.Fatalf("UnmapShared left %+v, %d mappings", a.Mappings(), s.Mappings())
	}
	if a.UnmapShared(va) {
		t.Error("a second UnmapShared succeeded")
	}
	// A piece whose start was cut away is still found by the base.
	b.Unmap(va, PageSize)
	if !b.UnmapShared(va) || s.Mappings() != 0 {
		t.Error("UnmapShared did not find an attachment whose first page is gone")
	}
	if !s.Alive() {
		t.Error("the owner's frames went with the last mapping")
	}
	s.Disown()
	a.Release()
	b.Release()
	checkAllFree(t, phys, before)
}

// TestSharedFramesLiveUntilLastHolder disowns frames still mapped: they
// stay until the last mapping goes, and cannot be mapped afresh after.
func TestSharedFramesLiveUntilLastHolder(t *testing.T) {
	phys, a, b, s, before := sharedSetup(t, 2)
	const va = 0x40000000
	mustMapShared(t, a, va, s)
	a.WriteAt([]byte("kept"), va)
	s.Disown()
	if !s.Alive() {
		t.Fatal("disowned frames went while mapped")
	}
	mustMapShared(t, b, va+0x100000, s) // still attachable while alive
	if got := readBack(t, b, va+0x100000, 4); string(got) != "kept" {
		t.Errorf("b reads %q", got)
	}
	a.Unmap(va, 2*PageSize)
	b.Unmap(va+0x100000, PageSize) // one piece left
	if !s.Alive() {
		t.Fatal("frames went with a piece still mapped")
	}
	b.Unmap(va+0x100000+PageSize, PageSize)
	if s.Alive() {
		t.Fatal("frames alive after the last mapping went")
	}
	if err := a.MapShared(va, s, Read|Write, "shm"); !errors.Is(err, ErrSharedGone) {
		t.Errorf("mapping gone frames: %v, want ErrSharedGone", err)
	}
	if len(a.Mappings()) != 0 {
		t.Error("a failed MapShared left a mapping")
	}
	a.Release()
	b.Release()
	checkAllFree(t, phys, before)
}

func TestMapSharedChecksTheRange(t *testing.T) {
	phys, a, b, s, before := sharedSetup(t, 2)
	mustMap(t, a, 0x40001000, PageSize)
	for _, va := range []uint64{0x40000000, 0x40000800, 0, UserEnd - PageSize} {
		if err := a.MapShared(va, s, Read|Write, "shm"); err == nil {
			t.Errorf("MapShared at %#x succeeded", va)
		}
	}
	if s.Mappings() != 0 || phys.Refs(s.Frame(0)) != 1 {
		t.Error("failed MapShared calls left references")
	}
	s.Disown()
	a.Release()
	b.Release()
	checkAllFree(t, phys, before)
}

func TestNewSharedFramesFailsCleanly(t *testing.T) {
	phys, err := NewPhysMem(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer phys.Close()
	before := phys.FreeFrames()
	if _, err := NewSharedFrames(phys, 2<<20); !errors.Is(err, ErrNoMemory) {
		t.Errorf("2 MiB in 1 MiB of RAM: %v, want ErrNoMemory", err)
	}
	if _, err := NewSharedFrames(phys, (before+1)*PageSize); !errors.Is(err, ErrNoMemory) {
		t.Errorf("one frame too many: %v, want ErrNoMemory", err)
	}
	checkAllFree(t, phys, before)
	s, err := NewSharedFrames(phys, 1)
	if err != nil || s.Size() != PageSize {
		t.Fatalf("one byte: %v, size %d; want one page", err, s.Size())
	}
	s.Disown()
	checkAllFree(t, phys, before)
}

// TestSharedFramesConcurrently attaches, forks, cuts and releases address
// spaces on the same frames from several goroutines while the owner
// disowns them, for the race detector and the counts.
func TestSharedFramesConcurrently(t *testing.T) {
	phys, a, b, s, before := sharedSetup(t, 8)
	a.Release()
	b.Release()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				as, err := NewAddressSpace(phys)
				if err != nil {
					t.Error(err)
					return
				}
				const va = 0x40000000
				if err := as.MapShared(va, s, Read|Write, "shm"); err != nil {
					t.Error(err)
					as.Release()
					return
				}
				as.WriteAt([]byte{byte(g)}, va+uint64(g)*PageSize)
				child, err := as.Fork()
				if err != nil {
					t.Error(err)
				} else {
					child.Unmap(va+2*PageSize, PageSize)
					child.Release()
				}
				if i%2 == 0 {
					as.UnmapShared(va)
				}
				as.Release()
			}
		}()
	}
	wg.Wait()
	if n := s.Mappings(); n != 0 {
		t.Errorf("Mappings = %d after every address space went", n)
	}
	s.Disown()
	checkAllFree(t, phys, before)
}

// TestUnmapSharedForgetsTranslations checks that removing a shared page
// that lives on elsewhere has the engine forget its translations (the
// recycler), where a private page needs no such thing.
func TestUnmapSharedForgetsTranslations(t *testing.T) {
	phys, a, b, s, before := sharedSetup(t, 2)
	forgets := 0
	phys.SetRootRecycler(func() error { forgets++; return nil })
	const va = 0x40000000
	mustMapShared(t, a, va, s)
	mustMap(t, a, 0x400000, PageSize)
	a.Unmap(0x400000, PageSize)
	if forgets != 0 {
		t.Errorf("unmapping a private page forgot translations %d times", forgets)
	}
	a.Unmap(va, PageSize)
	if forgets != 1 {
		t.Errorf("unmapping a shared page forgot translations %d times, want 1", forgets)
	}
	a.UnmapShared(va)
	if forgets != 2 {
		t.Errorf("UnmapShared forgot translations %d times in all, want 2", forgets)
	}
	s.Disown()
	a.Release()
	b.Release()
	checkAllFree(t, phys, before)
}
