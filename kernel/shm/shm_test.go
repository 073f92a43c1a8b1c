package shm

import (
	"testing"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/mmu"
)

func newRegistry(t *testing.T, ram uint64) (*Registry, *mmu.PhysMem) {
	t.Helper()
	phys, err := mmu.NewPhysMem(ram)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phys.Close() })
	return New(phys, 1<<20), phys
}

func TestCreateChecksSizeAndRounds(t *testing.T) {
	r, _ := newRegistry(t, 4<<20)
	for _, size := range []uint64{0, 1<<20 + 1, ^uint64(0)} {
		if _, err := r.Create(size, 1); err != errno.EINVAL {
			t.Errorf("Create(%d): %v, want EINVAL", size, err)
		}
	}
	id1, err := r.Create(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	id2, _ := r.Create(1<<20, 1)
	if id1 != 1 || id2 != 2 {
		t.Errorf("ids %d and %d, want 1 and 2", id1, id2)
	}
	s, err := r.Lookup(id1)
	if err != nil || s.Frames.Size() != mmu.PageSize || s.Creator != 1 {
		t.Fatalf("Lookup: %+v, %v; want one page made by 1", s, err)
	}
	for _, id := range []int{0, -1, 3} {
		if _, err := r.Lookup(id); err != errno.EINVAL {
			t.Errorf("Lookup(%d): %v, want EINVAL", id, err)
		}
	}
}

func TestCreateFailsWhenFull(t *testing.T) {
	r, phys := newRegistry(t, 2<<20)
	before := phys.FreeFrames()
	if _, err := r.Create(1<<20, 3); err != nil {
		t.Fatal(err)
	}
	mid := phys.FreeFrames()
	if _, err := r.Create(1<<20, 1); err != errno.ENOMEM {
		t.Errorf("1 MiB with less than 1 MiB free: %v, want ENOMEM", err)
	}
	if phys.FreeFrames() != mid || r.Len() != 1 {
		t.Error("a failed Create kept memory or a segment")
	}
	r.Exited(3)
	for i := 0; i < MaxSegments; i++ {
		if _, err := r.Create(1, 1); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
	}
	if _, err := r.Create(1, 1); err != errno.ENOSPC {
		t.Errorf("one segment too many: %v, want ENOSPC", err)
	}
	r.Exited(1)
	if r.Len() != 0 || phys.FreeFrames() != before {
		t.Errorf("%d segments, %d frames free after the creator's exit; want 0 and %d",
			r.Len(), phys.FreeFrames(), before)
	}
	if id, err := r.Create(1, 2); err != nil || id != MaxSegments+2 {
		t.Errorf("Create after the others went: %d, %v; want a fresh id", id, err)
	}
}

// TestSegmentLivesWhileAttached checks the lifetime rule: a segment goes
// when its creator has exited and its last attachment is gone, in either
// order, and its data lives on meanwhile.
func TestSegmentLivesWhileAttached(t *testing.T) {
	r, phys := newRegistry(t, 4<<20)
	before := phys.FreeFrames()
	id, _ := r.Create(2*mmu.PageSize, 1)
	other, _ := r.Create(mmu.PageSize, 2)
	s, _ := r.Lookup(id)
	as, err := mmu.NewAddressSpace(phys)
	if err != nil {
		t.Fatal(err)
	}
	if err := as.MapShared(0x40000000, s.Frames, mmu.Read|mmu.Write, "shm"); err != nil {
		t.Fatal(err)
	}
	as.WriteAt([]byte("data"), 0x40000000)
	r.Exited(1)
	if _, err := r.Lookup(id); err != nil {
		t.Fatal("the segment went while attached:", err)
	}
	if _, err := r.Lookup(other); err != nil {
		t.Fatal("another creator's segment went:", err)
	}
	got := make([]byte, 4)
	as.ReadAt(got, 0x40000000)
	if string(got) != "data" {
		t.Errorf("read %q", got)
	}
	as.Release()
	if _, err := r.Lookup(id); err != errno.EINVAL {
		t.Errorf("Lookup after the last detach: %v, want EINVAL", err)
	}
	r.Exited(2)
	if r.Len() != 0 || phys.FreeFrames() != before {
		t.Errorf("%d segments and %d free frames at the end, want 0 and %d", r.Len(), phys.FreeFrames(), before)
	}
}
