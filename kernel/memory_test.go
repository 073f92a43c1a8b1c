package kernel

import (
	"strings"
	"testing"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/kernel/errno"
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

// TestMunmapFollowsLinux covers munmap's rules: alignment and length
// checks, rounding, unmapped ranges, cuts inside and across mappings, and
// holes that later mmap calls reuse.
func TestMunmapFollowsLinux(t *testing.T) {
	p := newTestProcess(t, 32<<20)
	const pg = mmu.PageSize
	a, _ := p.Mmap(0, 4*pg)
	b, _ := p.Mmap(0, 2*pg)
	if a != MmapStart || b != MmapStart+4*pg {
		t.Fatalf("mmaps at %#x and %#x", a, b)
	}
	for _, c := range []struct {
		name       string
		addr, size uint64
	}{
		{"unaligned address", a + 1, pg},
		{"zero length", a, 0},
		{"wrapping range", a, ^uint64(0) - pg},
		{"range past the stack top", mmu.UserEnd - pg, 2 * pg},
		{"engine pages", mmu.UserEnd, pg},
	} {
		if err := p.Munmap(c.addr, c.size); err != errno.EINVAL {
			t.Errorf("munmap of a %s: %v, want EINVAL", c.name, err)
		}
	}
	if !mapped(p, a) {
		t.Fatal("a refused munmap removed a page")
	}
	for _, free := range []uint64{0x6000_0000, HeapStart + 0x100000, 0} {
		if err := p.Munmap(free, 3*pg); err != nil {
			t.Errorf("munmap of the unmapped range at %#x: %v, want success", free, err)
		}
	}
	// A one-byte length takes the whole second page of a.
	if err := p.Munmap(a+pg, 1); err != nil {
		t.Fatal(err)
	}
	if !mapped(p, a) || mapped(p, a+pg) || !mapped(p, a+2*pg) {
		t.Error("munmap of one byte did not remove exactly its page")
	}
	if m, ok := p.as.Find(a + 2*pg); !ok || m.Start != a+2*pg || m.End != a+4*pg {
		t.Errorf("the piece after the hole is %+v", m)
	}
	// Across the end of a and the start of b, over the hole's neighbours.
	if err := p.Munmap(a+3*pg, 2*pg); err != nil {
		t.Fatal(err)
	}
	if !mapped(p, a+2*pg) || mapped(p, a+3*pg) || mapped(p, b) || !mapped(p, b+pg) {
		t.Error("munmap across two mappings removed the wrong pages")
	}
	// The lowest hole fits one page; the next mmap takes it.
	if c, _ := p.Mmap(0, pg); c != a+pg {
		t.Errorf("mmap after munmap at %#x, want the hole at %#x", c, a+pg)
	}
	if c, _ := p.Mmap(0, 2*pg); c != a+3*pg {
		t.Errorf("two-page mmap at %#x, want the hole at %#x", c, a+3*pg)
	}
	// A cut inside a large page.
	big, _ := p.Mmap(0, mmu.HugePageSize)
	p.as.WriteAt([]byte("kept"), big+5*pg)
	if err := p.Munmap(big+pg, pg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if p.as.ReadAt(got, big+5*pg); string(got) != "kept" || mapped(p, big+pg) || !mapped(p, big) {
		t.Errorf("after a cut inside a large page: %q, page mapped %v", got, mapped(p, big+pg))
	}
	// Everything at once, several mappings and holes.
	if err := p.Munmap(MmapStart, MmapEnd-MmapStart); err != nil {
		t.Fatal(err)
	}
	for _, m := range p.as.Mappings() {
		if m.End > MmapStart && m.Start < MmapEnd {
			t.Errorf("%+v left in the mmap region", m)
		}
	}
}

// TestMunmapOfTheHeap unmaps heap pages, which Linux allows: they fault,
// the break stays, and brk still moves.
func TestMunmapOfTheHeap(t *testing.T) {
	p := newTestProcess(t, 16<<20)
	p.Brk(HeapStart + 3*mmu.PageSize)
	if err := p.Munmap(HeapStart+mmu.PageSize, mmu.PageSize); err != nil {
		t.Fatal(err)
	}
	if mapped(p, HeapStart+mmu.PageSize) || !mapped(p, HeapStart+2*mmu.PageSize) {
		t.Error("munmap in the heap removed the wrong pages")
	}
	if got := p.Brk(0); got != HeapStart+3*mmu.PageSize {
		t.Errorf("the break moved to %#x", got)
	}
	if got := p.Brk(HeapStart + 5*mmu.PageSize); got != HeapStart+5*mmu.PageSize || !mapped(p, HeapStart+4*mmu.PageSize) {
		t.Errorf("brk after munmap gave %#x", got)
	}
	if got := p.Brk(HeapStart); got != HeapStart || mapped(p, HeapStart) {
		t.Errorf("brk down over the hole gave %#x", got)
	}
}
