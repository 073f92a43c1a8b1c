package mmu

import (
	"errors"
	"testing"
)

func newSpace(t *testing.T) *AddressSpace { return newSpaceOf(t, 1<<20) }

func newSpaceOf(t *testing.T, size uint64) *AddressSpace {
	t.Helper()
	phys, err := NewPhysMem(size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phys.Close() })
	as, err := NewAddressSpace(phys)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func TestMapTranslateUnmap(t *testing.T) {
	as := newSpace(t)
	if err := as.Map(0x400000, 2*PageSize, Read|Write, "data"); err != nil {
		t.Fatal(err)
	}
	if err := as.WriteAt([]byte("hello"), 0x400ffe); err != nil {
		t.Fatal("write across a page boundary:", err)
	}
	got := make([]byte, 5)
	if err := as.ReadAt(got, 0x400ffe); err != nil || string(got) != "hello" {
		t.Fatalf("read back %q, %v", got, err)
	}
	if err := as.Map(0x401000, PageSize, Read, "overlap"); err == nil {
		t.Fatal("overlapping Map succeeded")
	}
	if err := as.Unmap(0x400000, PageSize); err != nil {
		t.Fatal(err)
	}
	if _, ok := as.Translate(0x400000, false); ok {
		t.Fatal("unmapped page still translates")
	}
	if _, ok := as.Translate(0x401000, false); !ok {
		t.Fatal("the other page of the mapping went too")
	}
	if m := as.Mappings(); len(m) != 1 || m[0].Start != 0x401000 {
		t.Fatalf("mappings after a partial unmap: %+v", m)
	}
}

func TestAccessChecksWholeRangeFirst(t *testing.T) {
	as := newSpace(t)
	as.Map(0x400000, PageSize, Read|Write, "data")
	called := false
	err := as.Access(0x400ff0, 0x20, true, func([]byte) { called = true })
	var f *Fault
	if !errors.As(err, &f) || f.Addr != 0x401000 || called {
		t.Fatalf("err %v, called %v: want a fault at 0x401000 before any copy", err, called)
	}
}

func TestPermissions(t *testing.T) {
	as := newSpace(t)
	as.Map(0x400000, PageSize, Read|Exec, "text")
	if err := as.WriteAt([]byte{1}, 0x400000); err == nil {
		t.Fatal("write to read-only page succeeded")
	}
	if err := as.LoadAt([]byte{1}, 0x400000); err != nil {
		t.Fatal("loader could not fill a read-only page:", err)
	}
	for _, va := range []uint64{0, UserEnd, 0xFFFF_FF00_0000_0000} {
		if _, ok := as.Translate(va, false); ok {
			t.Errorf("address %#x translates for the kernel", va)
		}
	}
}

func TestReadString(t *testing.T) {
	as := newSpace(t)
	as.Map(0x400000, PageSize, Read|Write, "data")
	as.WriteAt([]byte("path\x00"), 0x400ffb)
	if s, err := as.ReadString(0x400ffb, 64); err != nil || s != "path" {
		t.Fatalf("%q %v", s, err)
	}
	if _, err := as.ReadString(0x400ffb, 2); err == nil {
		t.Fatal("string longer than the limit was accepted")
	}
	as.WriteAt([]byte("abcd"), 0x400ffc) // runs into the unmapped next page
	if _, err := as.ReadString(0x400ffc, 64); err == nil {
		t.Fatal("unterminated string at the end of a mapping was accepted")
	}
}

func TestFramesAreReusedZeroed(t *testing.T) {
	as := newSpace(t)
	as.Map(0x400000, PageSize, Read|Write, "a")
	as.WriteAt([]byte{0xAA}, 0x400000)
	as.Unmap(0x400000, PageSize)
	as.Map(0x500000, PageSize, Read|Write, "b")
	b := []byte{1}
	as.ReadAt(b, 0x500000)
	if b[0] != 0 {
		t.Fatal("a reused frame kept old contents")
	}
}

func TestOutOfMemory(t *testing.T) {
	as := newSpace(t)
	if err := as.Map(0x400000, 2<<20, Read|Write, "big"); !errors.Is(err, ErrNoMemory) {
		t.Fatalf("mapping more than RAM: %v", err)
	}
	if len(as.Mappings()) != 0 {
		t.Fatal("failed Map left a mapping")
	}
	if err := as.Map(0x400000, PageSize, Read, "small"); err != nil {
		t.Fatal("frames of the failed Map were not returned:", err)
	}
}

func TestLargePages(t *testing.T) {
	as := newSpaceOf(t, 16<<20)
	const base = 0x4000_0000
	// 0x1000 below a boundary to 0x1000 past the next one: one large page
	// in the middle, small pages at both ends.
	start, end := uint64(base+HugePageSize-PageSize), uint64(base+2*HugePageSize+PageSize)
	if err := as.Map(start, end-start, Read|Write, "big"); err != nil {
		t.Fatal(err)
	}
	if _, huge := as.leaf(base + HugePageSize); !huge {
		t.Fatal("the aligned 2 MiB in the middle is not one large page")
	}
	if _, huge := as.leaf(start); huge {
		t.Fatal("the unaligned head is a large page")
	}
	pa0, _ := as.Translate(base+HugePageSize, false)
	pa1, _ := as.Translate(base+2*HugePageSize-1, true)
	if pa0%HugePageSize != 0 || pa1 != pa0+HugePageSize-1 {
		t.Fatalf("large page frames %#x..%#x are not one aligned run", pa0, pa1)
	}
	// Mark every page, then cut a hole in the middle of the large page.
	for va := start; va < end; va += PageSize {
		if err := as.WriteAt([]byte{byte(va >> 12)}, va); err != nil {
			t.Fatal(err)
		}
	}
	hole := uint64(base + HugePageSize + 8*PageSize)
	if err := as.Unmap(hole, 2*PageSize); err != nil {
		t.Fatal(err)
	}
	for va := start; va < end; va += PageSize {
		var b [1]byte
		err := as.ReadAt(b[:], va)
		if va >= hole && va < hole+2*PageSize {
			if err == nil {
				t.Errorf("0x%x readable after unmap", va)
			}
			continue
		}
		if err != nil || b[0] != byte(va>>12) {
			t.Errorf("0x%x after the split: %v %v, want %#x", va, b[0], err, byte(va>>12))
		}
	}
	if m := as.Mappings(); len(m) != 2 || m[0].End != hole || m[1].Start != hole+2*PageSize {
		t.Errorf("mappings after the hole: %+v", m)
	}
	// Unmapping everything hands the memory back: a new mapping of the same
	// size fits again, in large pages.
	if err := as.Unmap(start, end-start); err != nil {
		t.Fatal(err)
	}
	if err := as.Map(base+4*HugePageSize, 2*HugePageSize, Read|Write, "again"); err != nil {
		t.Fatal(err)
	}
}

func TestLargePagesFallBackToSmallOnes(t *testing.T) {
	// 5 MiB of RAM holds one aligned large page, [2 MiB, 4 MiB); the frames
	// around it serve small pages.
	as := newSpaceOf(t, 5<<20)
	if err := as.Map(0x4000_0000, HugePageSize, Read|Write, "one"); err != nil {
		t.Fatal(err)
	}
	if _, huge := as.leaf(0x4000_0000); !huge {
		t.Fatal("first 2 MiB is not a large page")
	}
	if err := as.Map(0x4020_0000, 300*PageSize, Read|Write, "two"); err != nil {
		t.Fatal(err)
	}
	if err := as.Map(0x4040_0000, HugePageSize, Read|Write, "three"); !errors.Is(err, ErrNoMemory) {
		t.Fatalf("mapping more than RAM: %v, want ErrNoMemory", err)
	}
	if m := as.Mappings(); len(m) != 2 {
		t.Fatalf("a failed Map left mappings: %+v", m)
	}
	if err := as.WriteAt([]byte("dirty"), 0x4000_1000); err != nil {
		t.Fatal(err)
	}
	// A freed large page is broken up for single frames once nothing else
	// is left, and its frames read as zeros.
	if err := as.Unmap(0x4000_0000, HugePageSize); err != nil {
		t.Fatal(err)
	}
	const n = 600
	if err := as.Map(0x4040_0000, n*PageSize, Read|Write, "small"); err != nil {
		t.Fatal(err)
	}
	if len(as.phys.freeHuge) != 0 {
		t.Fatal("the freed large page was not needed; the test no longer breaks one up")
	}
	b := make([]byte, n*PageSize)
	if err := as.ReadAt(b, 0x4040_0000); err != nil {
		t.Fatal(err)
	}
	for i, c := range b {
		if c != 0 {
			t.Fatalf("reused frame byte %d is %#x, want 0", i, c)
		}
	}
}

func TestAllocHugeAlignsAndSkipsNothing(t *testing.T) {
	phys, err := NewPhysMem(8 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer phys.Close()
	small, _ := phys.Alloc()
	huge, ok := phys.AllocHuge()
	if !ok || huge%HugePageSize != 0 {
		t.Fatalf("AllocHuge = %#x, %v", huge, ok)
	}
	if uint64(sliceAddr(phys.Bytes()))%HugePageSize != 0 {
		t.Error("guest RAM is not aligned to large pages in the host")
	}
	// The frames skipped to align the large page are still handed out.
	seen := map[uint64]bool{small: true}
	for f, err := phys.Alloc(); err == nil && f < huge; f, err = phys.Alloc() {
		seen[f] = true
	}
	for f := uint64(PageSize); f < huge; f += PageSize {
		if !seen[f] {
			t.Errorf("frame %#x below the large page was lost", f)
		}
	}
}
