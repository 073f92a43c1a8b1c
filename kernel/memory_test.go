package kernel

import (
	"strings"
	"testing"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// newTestProcess spawns the minimal program of goodELF in size bytes of
// guest RAM, without running it.
func newTestProcess(t *testing.T, size uint64) *Process {
	t.Helper()
	img, err := ParseELF(goodELF().bytes())
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Phys: newTestPhys(t, size)}).Spawn(img, []string{"prog"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mapped(p *Process, va uint64) bool {
	_, ok := p.as.Translate(va, true)
	return ok
}

func TestBrkMapsTheHeapToTheBreaksPage(t *testing.T) {
	p := newTestProcess(t, 16<<20)
	if got := p.Brk(0); got != HeapStart {
		t.Fatalf("initial break %#x, want %#x", got, HeapStart)
	}
	if got := p.Brk(HeapStart + 10); got != HeapStart+10 {
		t.Fatalf("brk = %#x, want %#x", got, HeapStart+10)
	}
	if !mapped(p, HeapStart+mmu.PageSize-1) || mapped(p, HeapStart+mmu.PageSize) {
		t.Error("the heap does not end with the page holding the break")
	}
	// A break on a large-page boundary maps the stretch with a large page.
	p.Brk(HeapStart + 2*mmu.HugePageSize)
	if !mapped(p, HeapStart+2*mmu.HugePageSize-1) || mapped(p, HeapStart+2*mmu.HugePageSize) {
		t.Error("growing to 4 MiB did not map exactly 4 MiB")
	}
	if got := p.Brk(MmapStart + 1); got != HeapStart+2*mmu.HugePageSize {
		t.Errorf("a break past the heap region moved it to %#x", got)
	}
	p.Brk(HeapStart)
	if mapped(p, HeapStart) {
		t.Error("brk back to the start left the heap mapped")
	}
}

// TestBrkShrinkThenGrowReadsZeros checks that memory given back by
// lowering the break faults while it is gone and reads as zeros when the
// break grows over it again, inside a large page as well.
func TestBrkShrinkThenGrowReadsZeros(t *testing.T) {
	p := newTestProcess(t, 16<<20)
	top := uint64(HeapStart + mmu.HugePageSize)
	p.Brk(top)
	junk := make([]byte, mmu.HugePageSize)
	for i := range junk {
		junk[i] = 0xAA
	}
	if err := p.as.WriteAt(junk, HeapStart); err != nil {
		t.Fatal(err)
	}
	low := uint64(HeapStart + 100)
	p.Brk(low)
	if mapped(p, HeapStart+mmu.PageSize) {
		t.Error("a page above the lowered break is still mapped")
	}
	p.Brk(top)
	got := make([]byte, mmu.HugePageSize-100)
	if err := p.as.ReadAt(got, low); err != nil {
		t.Fatal(err)
	}
	for i, b := range got {
		if b != 0 {
			t.Fatalf("byte at %#x reads %#x after shrink and grow, want 0", low+uint64(i), b)
		}
	}
	first := make([]byte, 100)
	p.as.ReadAt(first, HeapStart)
	for _, b := range first {
		if b != 0xAA {
			t.Fatal("the bytes below the break were lost")
		}
	}
}

func TestBrkFailsWhenMemoryIsShort(t *testing.T) {
	p := newTestProcess(t, 3<<20)
	if got := p.Brk(HeapStart + 2*mmu.PageSize); got != HeapStart+2*mmu.PageSize {
		t.Fatalf("brk = %#x, want %#x", got, HeapStart+2*mmu.PageSize)
	}
	if got := p.Brk(HeapStart + 4<<20); got != HeapStart+2*mmu.PageSize {
		t.Errorf("a break memory cannot back moved it to %#x", got)
	}
	if !mapped(p, HeapStart+mmu.PageSize) || mapped(p, HeapStart+2*mmu.PageSize) {
		t.Error("a failed brk changed the heap")
	}
}

func TestMmapPlacesLargeRequestsOnLargePageBoundaries(t *testing.T) {
	p := newTestProcess(t, 32<<20)
	small, _ := p.Mmap(0, 100)
	if small != MmapStart {
		t.Fatalf("first mmap at %#x, want %#x", small, MmapStart)
	}
	big, _ := p.Mmap(0, 3<<20)
	if big != MmapStart+mmu.HugePageSize {
		t.Errorf("3 MiB mmap at %#x, want the first free 2 MiB boundary %#x", big, MmapStart+mmu.HugePageSize)
	}
	if again, _ := p.Mmap(0, mmu.PageSize); again != MmapStart+mmu.PageSize {
		t.Errorf("a small mmap after it at %#x, want the gap at %#x", again, MmapStart+mmu.PageSize)
	}
	if p.Munmap(big, 3<<20) != nil || mapped(p, big) {
		t.Error("munmap of the large mapping failed")
	}
}

func TestFaultExplanations(t *testing.T) {
	p := newTestProcess(t, 16<<20)
	stackBottom := uint64(StackTop - StackSize)
	pf := func(addr, code uint64) cpu.Fault {
		return cpu.Fault{Vector: cpu.VecPageFault, ErrorCode: code, Addr: addr, PC: 0x400000}
	}
	const write, present, fetch = 0x2, 0x1, 0x10
	for _, c := range []struct {
		f    cpu.Fault
		want string
	}{
		{pf(0, write), "write to unmapped address 0x0 at pc 0x400000 (NULL pointer)"},
		{pf(0x18, 0), "read from unmapped address 0x18 at pc 0x400000 (NULL pointer)"},
		{pf(stackBottom-8, write), "(stack overflow: the stack is 1 MiB)"},
		{pf(0x400000, write|present), "write to protected address 0x400000 at pc 0x400000 (image, r-x)"},
		{pf(stackBottom+16, fetch|present), "execute at protected address"},
		{pf(stackBottom+16, fetch|present), "(stack, rw-)"},
		{pf(0x3000_0000, 0), "read from unmapped address 0x30000000 at pc 0x400000"},
		{cpu.Fault{Vector: cpu.VecInvalidOp, PC: 0x400002}, "invalid opcode at pc 0x400002"},
	} {
		got := p.explain(c.f)
		if !strings.Contains(got, c.want) {
			t.Errorf("explain(%+v) = %q, want it to contain %q", c.f, got, c.want)
		}
		if strings.HasSuffix(c.want, "0x30000000 at pc 0x400000") && strings.Contains(got, "(") {
			t.Errorf("explain(%+v) = %q: an address with no story got one", c.f, got)
		}
	}
}
