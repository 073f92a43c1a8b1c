package kernel

import "testing"

// closeCounter is a File that counts its closes.
type closeCounter struct {
	console
	closes int
}

func (c *closeCounter) Close() error { c.closes++; return nil }

// TestDescriptionsCloseWithTheirLastDescriptor checks POSIX's rule: a
// description shared by fork and dup2 is closed when its last descriptor
// is, not before.
func TestDescriptionsCloseWithTheirLastDescriptor(t *testing.T) {
	var parent FDTable
	f := &closeCounter{}
	fd, _ := parent.Install(f)
	if fd != 0 {
		t.Fatalf("first descriptor %d, want 0", fd)
	}
	child := parent.Fork()
	if child.Dup2(0, 5) != nil || child.Get(5) != File(f) {
		t.Fatal("dup2 did not make 5 refer to the file")
	}
	parent.Close(0)
	child.Close(0)
	if f.closes != 0 {
		t.Fatal("closed while descriptor 5 of the child still refers to it")
	}
	child.CloseAll()
	if f.closes != 1 {
		t.Fatalf("closed %d times, want once after the last descriptor", f.closes)
	}
	if parent.Close(0) == nil || parent.Dup2(3, 4) == nil || parent.Get(-1) != nil || parent.Get(MaxFDs) != nil {
		t.Error("bad descriptors accepted")
	}
}

func TestInstallTakesTheLowestFreeSlot(t *testing.T) {
	var tab FDTable
	for i := 0; i < MaxFDs; i++ {
		if fd, _ := tab.Install(&console{}); fd != i {
			t.Fatalf("install %d gave %d", i, fd)
		}
	}
	f := &closeCounter{}
	if _, err := tab.Install(f); err == nil || f.closes != 1 {
		t.Error("a full table must refuse, and close, the file")
	}
	tab.Close(7)
	if fd, _ := tab.Install(&console{}); fd != 7 {
		t.Errorf("after closing 7, install gave %d", fd)
	}
}
