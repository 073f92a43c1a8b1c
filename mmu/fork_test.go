package mmu

import (
	"bytes"
	"testing"
)

func mustMap(t *testing.T, as *AddressSpace, start, length uint64) {
	t.Helper()
	if err := as.Map(start, length, Read|Write, "data"); err != nil {
		t.Fatal(err)
	}
}

func readBack(t *testing.T, as *AddressSpace, va uint64, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if err := as.ReadAt(b, va); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestForkCopiesOnWrite checks that parent and child start with the same
// contents, that a write by either (a kernel write, which breaks the share
// as a guest write fault would) is invisible to the other, and that every
// frame comes back once both are released.
func TestForkCopiesOnWrite(t *testing.T) {
	for _, c := range []struct {
		name          string
		start, length uint64
	}{
		{"small pages", 0x400000, 3 * PageSize},
		{"large page", 0x10000000, HugePageSize},
	} {
		t.Run(c.name, func(t *testing.T) {
			phys, err := NewPhysMem(16 << 20)
			if err != nil {
				t.Fatal(err)
			}
			defer phys.Close()
			before := phys.FreeFrames()
			parent, err := NewAddressSpace(phys)
			if err != nil {
				t.Fatal(err)
			}
			mustMap(t, parent, c.start, c.length)
			parent.WriteAt([]byte("original"), c.start+PageSize)
			child, err := parent.Fork()
			if err != nil {
				t.Fatal(err)
			}
			pa, _ := parent.Translate(c.start+PageSize, false)
			ca, _ := child.Translate(c.start+PageSize, false)
			frame := PageAlignDown(pa)
			if c.length == HugePageSize {
				frame = pa &^ (HugePageSize - 1)
			}
			if pa != ca || phys.Refs(frame) != 2 {
				t.Fatalf("after fork the page is at %#x and %#x; want one shared frame", pa, ca)
			}
			if _, ok := parent.Translate(c.start, true); ok {
				t.Fatal("a shared page is still writable in the parent's page tables")
			}
			if err := child.WriteAt([]byte("child!!!"), c.start+PageSize); err != nil {
				t.Fatal(err)
			}
			if err := parent.WriteAt([]byte("parent!!"), c.start+2*PageSize); err != nil {
				t.Fatal(err)
			}
			if got := readBack(t, parent, c.start+PageSize, 8); string(got) != "original" {
				t.Errorf("parent reads %q after the child's write", got)
			}
			if got := readBack(t, child, c.start+PageSize, 8); string(got) != "child!!!" {
				t.Errorf("child reads %q", got)
			}
			if got := readBack(t, child, c.start+2*PageSize, 8); bytes.Equal(got, []byte("parent!!")) {
				t.Error("child sees the parent's write after fork")
			}
			child.Release()
			parent.Release()
			if after := phys.FreeFrames(); after != before {
				t.Errorf("%d frames free after releasing both, %d before", after, before)
			}
		})
	}
}

func TestHandleFaultResolvesOnlyCopyOnWrite(t *testing.T) {
	as := newSpaceOf(t, 4<<20)
	mustMap(t, as, 0x400000, PageSize)
	as.Map(0x401000, PageSize, Read, "rodata")
	child, err := as.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	if ok, err := child.HandleFault(0x400010, true); !ok || err != nil {
		t.Fatalf("write fault on a copy-on-write page: %v, %v", ok, err)
	}
	if _, ok := child.Translate(0x400000, true); !ok {
		t.Error("the page is not writable after the fault")
	}
	if ok, _ := child.HandleFault(0x401000, true); ok {
		t.Error("a write to a read-only mapping was resolved")
	}
	if ok, _ := child.HandleFault(0x400010, false); ok {
		t.Error("a read fault was resolved")
	}
	if ok, _ := child.HandleFault(0x500000, true); ok {
		t.Error("a fault on an unmapped address was resolved")
	}
	// The last holder of a shared frame takes it back without a copy.
	pa, _ := as.Translate(0x400000, false)
	if ok, _ := as.HandleFault(0x400000, true); !ok {
		t.Fatal("parent's write fault not resolved")
	}
	if now, _ := as.Translate(0x400000, true); now != pa {
		t.Errorf("the sole holder got a copy at %#x instead of its frame %#x", now, pa)
	}
}

// TestUnmapInsideSharedLargePage cuts a large page shared by fork: the
// cutting side gets its own copy, split into small pages, and the other
// side keeps its large page and data.
func TestUnmapInsideSharedLargePage(t *testing.T) {
	phys, err := NewPhysMem(16 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer phys.Close()
	before := phys.FreeFrames()
	parent, _ := NewAddressSpace(phys)
	mustMap(t, parent, 0x10000000, HugePageSize)
	parent.WriteAt([]byte("keep"), 0x10000000+5*PageSize)
	child, err := parent.Fork()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Unmap(0x10000000, PageSize); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, child, 0x10000000+5*PageSize, 4); string(got) != "keep" {
		t.Errorf("child reads %q after splitting", got)
	}
	if got := readBack(t, parent, 0x10000000, 4); len(got) != 4 {
		t.Error("parent lost its first page")
	}
	child.Release()
	parent.Release()
	if after := phys.FreeFrames(); after != before {
		t.Errorf("%d frames free after releasing both, %d before", after, before)
	}
}

// TestTablesAreNeverReusedAsTables checks AllocTable's promise (with roots,
// the one table an empty address space has), and that the recycler runs
// once no frame is left that was never a table.
func TestTablesAreNeverReusedAsTables(t *testing.T) {
	phys, err := NewPhysMem(64 * PageSize)
	if err != nil {
		t.Fatal(err)
	}
	defer phys.Close()
	recycles := 0
	phys.SetRootRecycler(func() error { recycles++; return nil })
	seen := map[uint64]bool{}
	for i := 0; i < 63; i++ { // every frame but frame 0
		as, err := NewAddressSpace(phys)
		if err != nil {
			t.Fatal(err)
		}
		if seen[as.Root()] {
			t.Fatalf("address space %d got former root %#x before any recycle", i, as.Root())
		}
		seen[as.Root()] = true
		as.Release()
	}
	if recycles != 0 {
		t.Fatalf("recycled %d times with fresh frames left", recycles)
	}
	live, err := NewAddressSpace(phys) // this one needs a recycle
	if err != nil {
		t.Fatal(err)
	}
	defer live.Release()
	if recycles != 1 {
		t.Fatalf("recycles = %d, want 1 once every frame has been a root", recycles)
	}
	// After the recycle, the live root stays marked.
	other, _ := NewAddressSpace(phys)
	if other.Root() == live.Root() {
		t.Fatal("a live root was handed out twice")
	}
	other.Release()
}

func TestCloseWaitsForAddressSpaces(t *testing.T) {
	phys, err := NewPhysMem(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	as, _ := NewAddressSpace(phys)
	mustMap(t, as, 0x400000, PageSize)
	phys.Close()
	// A goroutine still working on the address space must find its
	// memory there.
	if err := as.WriteAt([]byte("late"), 0x400000); err != nil {
		t.Fatal(err)
	}
	as.Release()
	if phys.region != nil {
		t.Error("guest RAM still mapped after the last address space went")
	}
	if _, err := NewAddressSpace(phys); err == nil {
		t.Error("a new address space on closed memory")
	}
}

func TestReadStringAtTheLimit(t *testing.T) {
	as := newSpace(t)
	mustMap(t, as, 0x400000, 2*PageSize)
	s := bytes.Repeat([]byte{'x'}, 16)
	as.WriteAt(s, 0x401000-16) // NUL is the first byte of the next page
	if got, err := as.ReadString(0x401000-16, 16); err != nil || got != string(s) {
		t.Errorf("ReadString = %q, %v; want the 16-byte string", got, err)
	}
	if _, err := as.ReadString(0x401000-16, 15); err == nil {
		t.Error("a string longer than the limit was accepted")
	}
}

func TestCopyDuplicatesEveryPage(t *testing.T) {
	phys, err := NewPhysMem(16 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer phys.Close()
	before := phys.FreeFrames()
	as, _ := NewAddressSpace(phys)
	mustMap(t, as, 0x400000, PageSize)
	mustMap(t, as, 0x10000000, HugePageSize)
	as.WriteAt([]byte("small"), 0x400000)
	as.WriteAt([]byte("large"), 0x10000000+HugePageSize-5)
	cp, err := as.Copy()
	if err != nil {
		t.Fatal(err)
	}
	for _, va := range []uint64{0x400000, 0x10000000} {
		a, _ := as.Translate(va, true)
		b, ok := cp.Translate(va, true)
		if !ok || a == b {
			t.Errorf("page %#x: copy at %#x (writable %v), original at %#x", va, b, ok, a)
		}
	}
	if got := readBack(t, cp, 0x10000000+HugePageSize-5, 5); string(got) != "large" {
		t.Errorf("copy reads %q", got)
	}
	cp.Release()
	as.Release()
	if after := phys.FreeFrames(); after != before {
		t.Errorf("%d frames free after releasing both, %d before", after, before)
	}
}

// TestForkCopiesDirtyPagesAtOnce checks that small pages the parent has
// written (the dirty bit the CPU sets) are copied at fork rather than
// shared, and stay writable in the parent.
func TestForkCopiesDirtyPagesAtOnce(t *testing.T) {
	as := newSpaceOf(t, 4<<20)
	mustMap(t, as, 0x400000, 2*PageSize)
	as.WriteAt([]byte("stack"), 0x400000)
	slot, _ := as.leaf(0x400000)
	as.store(slot, as.load(slot)|pteDirty) // as a guest write leaves it
	child, err := as.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	pa, parentWritable := as.Translate(0x400000, true)
	ca, childWritable := child.Translate(0x400000, true)
	if !parentWritable || !childWritable || pa == ca {
		t.Errorf("dirty page: parent %#x (writable %v), child %#x (writable %v); want two writable frames",
			pa, parentWritable, ca, childWritable)
	}
	if got := readBack(t, child, 0x400000, 5); string(got) != "stack" {
		t.Errorf("child reads %q", got)
	}
	if _, ok := as.Translate(0x401000, true); ok {
		t.Error("the clean page was not shared copy-on-write")
	}
}

// TestReleasedTablesAreNotTablesAgain checks that the page-table frames of
// a released address space, freed for reuse, become no other address
// space's tables (before a recycle), while data may use them.
func TestReleasedTablesAreNotTablesAgain(t *testing.T) {
	phys, err := NewPhysMem(4 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer phys.Close()
	old, _ := NewAddressSpace(phys)
	mustMap(t, old, 0x400000, PageSize)
	mustMap(t, old, 0x7FFFF0000, PageSize)
	former := map[uint64]bool{old.Root(): true}
	for _, f := range old.tables {
		former[f] = true
	}
	old.Release()
	for i := 0; i < 20; i++ {
		as, err := NewAddressSpace(phys)
		if err != nil {
			t.Fatal(err)
		}
		mustMap(t, as, 0x400000, 4*PageSize)
		mustMap(t, as, 0x7FFFF0000, PageSize)
		for _, f := range append(as.tables, as.Root()) {
			if former[f] {
				t.Fatalf("address space %d got former table frame %#x as a table", i, f)
			}
		}
		defer as.Release()
	}
}
