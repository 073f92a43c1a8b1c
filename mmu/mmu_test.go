package mmu

import (
	"errors"
	"testing"
)

func newSpace(t *testing.T) *AddressSpace {
	t.Helper()
	phys, err := NewPhysMem(1 << 20)
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
