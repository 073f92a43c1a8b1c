package mmu

import (
	"encoding/binary"
	"fmt"
	"sort"
	"sync"
)

// Perm is the access a mapping allows.
type Perm uint8

const (
	Read Perm = 1 << iota
	Write
	Exec
)

func (p Perm) String() string {
	s := []byte("---")
	if p&Read != 0 {
		s[0] = 'r'
	}
	if p&Write != 0 {
		s[1] = 'w'
	}
	if p&Exec != 0 {
		s[2] = 'x'
	}
	return string(s)
}

// Programs map memory in [UserStart, UserEnd), which ends at Aurora's stack
// top. The user-visible pages in [UserEnd, EngineEnd) belong to the engines
// (see MapEngine); their supervisor pages live in the upper half.
const (
	UserStart = 0x1000
	UserEnd   = 0x7_FFFF_F000
	EngineEnd = UserEnd + 16*PageSize
)

// Mapping is one contiguous range of user pages with one permission.
type Mapping struct {
	Start, End uint64 // page-aligned, End exclusive
	Perm       Perm
	Name       string // what it holds, for messages: "text", "heap", "stack"...
	// Shared, when set, says the pages are Shared's frames from byte
	// Offset on, mapped for real rather than copy-on-write (see
	// MapShared). Start-Offset is where the whole of Shared was mapped.
	Shared *SharedFrames
	Offset uint64
}

// Fault describes a guest access the mappings do not allow.
type Fault struct {
	Addr  uint64
	Write bool
}

func (f *Fault) Error() string {
	op := "read"
	if f.Write {
		op = "write"
	}
	return fmt.Sprintf("bad guest address 0x%x (%s)", f.Addr, op)
}

// x86-64 page-table entry bits.
const (
	ptePresent  = 1 << 0
	pteWritable = 1 << 1
	pteUser     = 1 << 2
	pteDirty    = 1 << 6 // set by the CPU (or KVM for it) on a write
	pteHuge     = 1 << 7 // in a page-directory entry: maps a large page
	// pteCOW is one of the bits the CPU leaves to software: set on a leaf
	// whose mapping is writable but whose frame is shared copy-on-write.
	pteCOW      = 1 << 9
	pteNoExec   = 1 << 63
	pteAddrMask = 0x000F_FFFF_FFFF_F000
	hugeMask    = pteAddrMask &^ (HugePageSize - 1)
)

// AddressSpace is one process's view of memory. Its methods are safe for
// concurrent use. A removed page is unreachable for the guest as soon as
// Unmap returns (see PhysMem.Free).
type AddressSpace struct {
	phys *PhysMem
	root uint64 // guest-physical address of the PML4

	mu       sync.Mutex
	mappings []Mapping // sorted by Start, never overlapping
	// tables lists every page-table frame below root, for Release.
	tables []uint64
}

// NewAddressSpace creates an empty address space on phys.
func NewAddressSpace(phys *PhysMem) (*AddressSpace, error) {
	if err := phys.acquire(); err != nil {
		return nil, err
	}
	root, err := phys.AllocTable()
	if err != nil {
		phys.release()
		return nil, err
	}
	return &AddressSpace{phys: phys, root: root}, nil
}

// Root is the guest-physical address of the top-level page table (CR3).
func (as *AddressSpace) Root() uint64 { return as.root }

// Phys is the RAM the address space lives in.
func (as *AddressSpace) Phys() *PhysMem { return as.phys }

// Mappings returns a copy of the user mappings in address order.
func (as *AddressSpace) Mappings() []Mapping {
	as.mu.Lock()
	defer as.mu.Unlock()
	return append([]Mapping(nil), as.mappings...)
}

// Map backs [start, start+length) with fresh zeroed frames. The range must
// be page-aligned, inside user space and free. Aligned 2 MiB stretches get
// large pages while guest RAM has them to give.
func (as *AddressSpace) Map(start, length uint64, perm Perm, name string) error {
	as.mu.Lock()
	defer as.mu.Unlock()
	if err := as.checkFree(start, length, name); err != nil {
		return err
	}
	end := start + length
	for va := start; va < end; {
		n, err := as.mapAt(va, end, perm)
		if err != nil {
			as.unmapPages(start, va, syncNone) // never visible to the guest
			return err
		}
		va += n
	}
	as.insert(Mapping{Start: start, End: end, Perm: perm, Name: name})
	return nil
}

// checkFree checks that [start, start+length) can be mapped: page-aligned,
// inside user space and free.
func (as *AddressSpace) checkFree(start, length uint64, name string) error {
	end := start + length
	if start%PageSize != 0 || length == 0 || length%PageSize != 0 || end < start {
		return fmt.Errorf("mapping %s [0x%x, +0x%x): not page-aligned", name, start, length)
	}
	if start < UserStart || end > UserEnd {
		return fmt.Errorf("mapping %s [0x%x, 0x%x): outside user space", name, start, end)
	}
	if m := as.overlap(start, end); m != nil {
		return fmt.Errorf("mapping %s [0x%x, 0x%x): overlaps %s [0x%x, 0x%x)",
			name, start, end, m.Name, m.Start, m.End)
	}
	return nil
}

// insert adds m to the sorted mappings.
func (as *AddressSpace) insert(m Mapping) {
	i := sort.Search(len(as.mappings), func(i int) bool { return as.mappings[i].Start >= m.Start })
	as.mappings = append(as.mappings, Mapping{})
	copy(as.mappings[i+1:], as.mappings[i:])
	as.mappings[i] = m
}

// mapAt backs va with a large page if [va, end) starts with an aligned
// 2 MiB stretch and one is free, else with a single frame, and returns how
// many bytes it mapped.
func (as *AddressSpace) mapAt(va, end uint64, perm Perm) (uint64, error) {
	if va%HugePageSize == 0 && end-va >= HugePageSize {
		pd, err := as.table(va, 1)
		if err != nil {
			return 0, err
		}
		// A page table left by earlier small pages keeps this stretch small.
		slot := pd + 8*((va>>21)&511)
		if as.load(slot) == 0 {
			if pa, ok := as.phys.AllocHuge(); ok {
				as.store(slot, pa|leafBits(perm, true)|pteHuge)
				return HugePageSize, nil
			}
		}
	}
	pa, err := as.phys.Alloc()
	if err != nil {
		return 0, err
	}
	if err := as.setPTE(va, pa|leafBits(perm, true)); err != nil {
		as.phys.Free(pa)
		return 0, err
	}
	return PageSize, nil
}

// MapEngine maps the frame at pa at va for an engine's own use, outside the
// program's mappings: supervisor pages in the upper half that the program
// cannot touch, or, with user set, the pages in [UserEnd, EngineEnd).
func (as *AddressSpace) MapEngine(va, pa uint64, perm Perm, user bool) error {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.setPTE(va, pa|leafBits(perm, user))
}

// Unmap removes every mapped page in [start, start+length) and drops its
// frame. Pages that were not mapped are skipped; a mapping the range cuts
// in the middle becomes two. Shared pages (MapShared) only lose this
// address space's reference: other mappings of them keep them, and the
// guest's translations of them here are dropped (see unmapPages), so the
// next access through this address space faults.
func (as *AddressSpace) Unmap(start, length uint64) error {
	as.mu.Lock()
	defer as.mu.Unlock()
	end := start + length
	if start%PageSize != 0 || length == 0 || end < start {
		return fmt.Errorf("unmapping [0x%x, +0x%x): not page-aligned", start, length)
	}
	end = PageAlignUp(end)
	// Large pages cut by the range become small ones first, so that nothing
	// can fail once pages start to go.
	for _, edge := range []uint64{start, end} {
		if err := as.splitHuge(edge); err != nil {
			return err
		}
	}
	var kept []Mapping
	// Shared frames count the mappings that use them (see SharedFrames):
	// one cut in two counts one more, one removed one less.
	shared := map[*SharedFrames]int{}
	for _, m := range as.mappings {
		if m.End <= start || m.Start >= end {
			kept = append(kept, m)
			continue
		}
		as.unmapPages(max(m.Start, start), min(m.End, end), syncFor(m))
		pieces := 0
		if m.Start < start {
			left := m
			left.End = start
			kept = append(kept, left)
			pieces++
		}
		if m.End > end {
			right := m
			right.Start = end
			right.Offset += end - m.Start
			kept = append(kept, right)
			pieces++
		}
		if m.Shared != nil {
			shared[m.Shared] += pieces - 1
		}
	}
	as.mappings = kept
	for s, delta := range shared {
		if delta != 0 {
			s.adjust(delta)
		}
	}
	return nil
}

// syncFor is how removing pages of m is made visible to the guest.
func syncFor(m Mapping) unmapSync {
	if m.Shared != nil {
		return syncForget
	}
	return syncResync
}

// splitHuge turns a large page that va lies inside (not at its start) into
// a page table of 512 small pages on the same frames.
func (as *AddressSpace) splitHuge(va uint64) error {
	if va%HugePageSize == 0 {
		return nil
	}
	slot, huge := as.leaf(va)
	if !huge {
		return nil
	}
	t, err := as.phys.AllocTable()
	if err != nil {
		return err
	}
	e := as.load(slot)
	if as.phys.Refs(e&hugeMask) > 1 {
		// Small pages of a shared large page could not be counted apart:
		// take a private copy first.
		if err := as.breakCOW(slot, true); err != nil {
			as.phys.FreeTables(t)
			return err
		}
		e = as.load(slot)
	}
	as.phys.setRefs(e&hugeMask, 512, 1)
	bits := e &^ hugeMask &^ pteHuge
	for i := uint64(0); i < 512; i++ {
		as.store(t+8*i, e&hugeMask+i*PageSize|bits)
	}
	as.tables = append(as.tables, t)
	// The frames stay where they were, so translations the guest holds
	// for them remain right; nothing needs flushing.
	as.store(slot, t|ptePresent|pteWritable|pteUser)
	return nil
}

// Free reports whether no mapping intersects [start, end).
func (as *AddressSpace) Free(start, end uint64) bool {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.overlap(start, end) == nil
}

// Find returns the mapping containing va.
func (as *AddressSpace) Find(va uint64) (Mapping, bool) {
	as.mu.Lock()
	defer as.mu.Unlock()
	m := as.find(va)
	if m == nil {
		return Mapping{}, false
	}
	return *m, true
}

// Release frees every frame and page table of the address space. It must
// not be used afterwards.
func (as *AddressSpace) Release() {
	as.mu.Lock()
	defer as.mu.Unlock()
	// The root is never a root again before a recycle, so translations
	// the engine may keep under it are harmless: no Resync.
	for _, m := range as.mappings {
		as.unmapPages(m.Start, m.End, syncNone)
		if m.Shared != nil {
			m.Shared.adjust(-1)
		}
	}
	as.mappings = nil
	as.phys.FreeTables(append(as.tables, as.root)...)
	as.tables = nil
	as.phys.release()
}

func (as *AddressSpace) find(va uint64) *Mapping {
	i := sort.Search(len(as.mappings), func(i int) bool { return as.mappings[i].End > va })
	if i < len(as.mappings) && as.mappings[i].Start <= va {
		return &as.mappings[i]
	}
	return nil
}

func (as *AddressSpace) overlap(start, end uint64) *Mapping {
	i := sort.Search(len(as.mappings), func(i int) bool { return as.mappings[i].End > start })
	if i < len(as.mappings) && as.mappings[i].Start < end {
		return &as.mappings[i]
	}
	return nil
}

// unmapSync says how unmapPages makes the guest forget the pages it
// removes when their frames live on elsewhere.
type unmapSync int

const (
	// syncNone: the guest never saw the pages, or the address space is
	// going away with its root (which is never a root again).
	syncNone unmapSync = iota
	// syncResync: Resync the frames others hold. Right for private
	// mappings, whose shared frames are copy-on-write: nobody writes them
	// while they are shared, so Resync's read-only moment hurts no one.
	syncResync
	// syncForget: make the engine forget every translation (see
	// PhysMem.Forget). Shared memory may be written at any moment, by
	// another process's vCPU or by the kernel on its behalf, and would
	// fault in Resync's read-only moment.
	syncForget
)

// unmapPages clears the leaf entries of [start, end) and drops their
// frames. Large pages in the range lie wholly inside it (see Unmap).
//
// A frame whose last reference goes is discarded, which drops the guest's
// translations of it. One that others still hold (shared memory, or a
// copy-on-write share) keeps its host page, so the guest's translations
// of it are dropped as sync says, while this address space still holds
// its reference: a frame must not reach the free list while Resync has
// its host page read-only.
func (as *AddressSpace) unmapPages(start, end uint64, sync unmapSync) {
	var frames, huge []uint64
	var held [][2]uint64
	for va := start; va < end; {
		slot, isHuge := as.leaf(va)
		if isHuge {
			pa := as.load(slot) & hugeMask
			huge = append(huge, pa)
			if sync != syncNone && as.phys.Refs(pa) > 1 {
				held = append(held, [2]uint64{pa, pa + HugePageSize})
			}
			as.store(slot, 0)
			va = HugePageAlignUp(va + 1)
			continue
		}
		if slot != 0 {
			if e := as.load(slot); e&ptePresent != 0 {
				pa := e & pteAddrMask
				frames = append(frames, pa)
				if sync != syncNone && as.phys.Refs(pa) > 1 {
					held = append(held, [2]uint64{pa, pa + PageSize})
				}
			}
			as.store(slot, 0)
		}
		va += PageSize
	}
	if len(held) > 0 {
		switch sync {
		case syncResync:
			as.phys.Resync(held)
		case syncForget:
			as.phys.Forget()
		}
	}
	for _, pa := range huge {
		as.phys.FreeHuge(pa)
	}
	as.phys.Free(frames...)
}

func leafBits(perm Perm, user bool) uint64 {
	bits := uint64(ptePresent)
	if perm&Write != 0 {
		bits |= pteWritable
	}
	if perm&Exec == 0 {
		bits |= pteNoExec
	}
	if user {
		bits |= pteUser
	}
	return bits
}

// setPTE installs a small-page leaf entry for va, creating intermediate
// tables. Intermediate entries allow everything; the leaf decides.
func (as *AddressSpace) setPTE(va, entry uint64) error {
	pt, err := as.table(va, 0)
	if err != nil {
		return err
	}
	as.store(pt+8*((va>>12)&511), entry)
	return nil
}

// table returns the table at level (0 page table, 1 page directory, 2 PDPT)
// on the way to va, creating the missing ones.
func (as *AddressSpace) table(va uint64, level int) (uint64, error) {
	table := as.root
	for l := 3; l > level; l-- {
		slot := table + 8*((va>>(12+9*l))&511)
		e := as.load(slot)
		if e&ptePresent == 0 {
			t, err := as.phys.AllocTable()
			if err != nil {
				return 0, err
			}
			as.tables = append(as.tables, t)
			e = t | ptePresent | pteWritable | pteUser
			as.store(slot, e)
		}
		table = e & pteAddrMask
	}
	return table, nil
}

// leaf returns the guest-physical address of the entry that maps va (a
// page-directory entry when huge), or 0 if an intermediate table is missing.
func (as *AddressSpace) leaf(va uint64) (slot uint64, huge bool) {
	table := as.root
	for level := 3; level > 0; level-- {
		slot := table + 8*((va>>(12+9*level))&511)
		e := as.load(slot)
		if e&ptePresent == 0 {
			return 0, false
		}
		if level == 1 && e&pteHuge != 0 {
			return slot, true
		}
		table = e & pteAddrMask
	}
	return table + 8*((va>>12)&511), false
}

func (as *AddressSpace) load(pa uint64) uint64 {
	return binary.LittleEndian.Uint64(as.phys.mem[pa:])
}

func (as *AddressSpace) store(pa, v uint64) {
	binary.LittleEndian.PutUint64(as.phys.mem[pa:], v)
}

// Fork returns a copy of the address space that shares every frame with
// it copy-on-write: writable pages become read-only in both, marked so that
// the first write fault (HandleFault) or kernel write gives the writer a
// private copy. Shared mappings (MapShared) are the exception: the child
// maps the same frames with the same access, so stores stay visible both
// ways. Engine pages are not copied; the caller's engine maps its
// own into the child. Pages the parent may have cached as writable are
// resynchronised before Fork returns (see the package documentation).
func (as *AddressSpace) Fork() (*AddressSpace, error) {
	var downgraded [][2]uint64
	budget := forkCopyBudget
	child, err := as.clone(func(child *AddressSpace, va, slot, e uint64, huge bool) error {
		if !huge && e&(pteWritable|pteDirty) == pteWritable|pteDirty && budget > 0 {
			// A small page the parent has written is likely to be written
			// again soon by one side or both (the stack, libc's buffers):
			// copying it now costs far less than the write fault, a VM
			// exit, that sharing it would cost.
			budget--
			return child.copyPage(va, e, false)
		}
		if e&pteWritable != 0 {
			e = e&^pteWritable | pteCOW
			as.store(slot, e)
			pa, size := leafFrame(e, huge)
			downgraded = append(downgraded, [2]uint64{pa, pa + size})
		}
		return child.share(va, e, huge)
	})
	as.phys.Resync(downgraded)
	return child, err
}

// forkCopyBudget bounds the small dirty pages Fork copies at once, so that
// a process with many of them still forks quickly.
const forkCopyBudget = 64

// Copy returns a copy of the address space with every page copied at
// once, the alternative to Fork's sharing (the benchmarks compare them).
// Shared mappings stay shared, as with Fork.
func (as *AddressSpace) Copy() (*AddressSpace, error) {
	return as.clone(func(child *AddressSpace, va, slot, e uint64, huge bool) error {
		return child.copyPage(va, e, huge)
	})
}

// copyPage installs at va a private copy of the frame that entry e (of
// another address space on the same RAM) maps.
func (as *AddressSpace) copyPage(va, e uint64, huge bool) error {
	old, size := leafFrame(e, huge)
	var pa uint64
	if huge {
		var ok bool
		if pa, ok = as.phys.AllocHuge(); !ok {
			return ErrNoMemory
		}
	} else {
		var err error
		if pa, err = as.phys.Alloc(); err != nil {
			return err
		}
	}
	copy(as.phys.mem[pa:pa+size], as.phys.mem[old:old+size])
	if e&pteCOW != 0 {
		e = e&^pteCOW | pteWritable
	}
	err := as.share(va, pa|e&^frameMask(huge), huge)
	if huge {
		as.phys.FreeHuge(pa) // share took its own reference
	} else {
		as.phys.Free(pa)
	}
	return err
}

// leafFrame returns the frame a leaf entry maps and its size.
func leafFrame(e uint64, huge bool) (pa, size uint64) {
	if huge {
		return e & hugeMask, HugePageSize
	}
	return e & pteAddrMask, PageSize
}

// frameMask is the address part of a leaf entry; the rest is flags.
func frameMask(huge bool) uint64 {
	if huge {
		return hugeMask
	}
	return pteAddrMask
}

// clone makes a new address space with the same mappings and calls
// install for every present page, with the lock held; install fills the
// child's tables.
func (as *AddressSpace) clone(install func(child *AddressSpace, va, slot, e uint64, huge bool) error) (*AddressSpace, error) {
	as.mu.Lock()
	defer as.mu.Unlock()
	child, err := NewAddressSpace(as.phys)
	if err != nil {
		return nil, err
	}
	child.mappings = append([]Mapping(nil), as.mappings...)
	for _, m := range child.mappings {
		if m.Shared != nil {
			// Counted before any page is installed, so that Release
			// below drops exactly what was added. The parent's mapping
			// keeps the frames alive, so this cannot fail.
			m.Shared.attach()
		}
	}
	for _, m := range as.mappings {
		for va := m.Start; va < m.End; {
			slot, huge := as.leaf(va)
			if slot == 0 {
				va = HugePageAlignUp(va + 1) // no page table here
				continue
			}
			_, size := leafFrame(0, huge)
			if e := as.load(slot); e&ptePresent != 0 {
				var err error
				if m.Shared != nil {
					// Shared memory stays shared: the same frame, with
					// the same access, and nothing to resync.
					err = child.share(va, e, huge)
				} else {
					err = install(child, va, slot, e, huge)
				}
				if err != nil {
					child.Release()
					return nil, err
				}
			}
			va += size
		}
	}
	return child, nil
}

// share installs entry e, whose frame another address space holds, at va.
func (as *AddressSpace) share(va, e uint64, huge bool) error {
	if huge {
		pd, err := as.table(va, 1)
		if err != nil {
			return err
		}
		as.phys.Share(e & hugeMask)
		as.store(pd+8*((va>>21)&511), e)
		return nil
	}
	pt, err := as.table(va, 0)
	if err != nil {
		return err
	}
	as.phys.Share(e & pteAddrMask)
	as.store(pt+8*((va>>12)&511), e)
	return nil
}

// HandleFault resolves a page fault at va that the mappings allow: a
// write to a copy-on-write page. It reports whether the faulting access can
// be retried; false means the fault is the program's (or memory ran out,
// with err set).
func (as *AddressSpace) HandleFault(va uint64, write bool) (bool, error) {
	if !write {
		return false, nil
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	slot, huge := as.leaf(va)
	if slot == 0 || va < UserStart || va >= UserEnd {
		return false, nil
	}
	e := as.load(slot)
	if e&ptePresent == 0 || e&pteCOW == 0 {
		return e&pteWritable != 0, nil // another vCPU may have fixed it
	}
	if err := as.breakCOW(slot, huge); err != nil {
		return false, err
	}
	return true, nil
}

// breakCOW gives this address space a writable frame of its own for the
// copy-on-write entry at slot: the shared one itself when nobody else holds
// it any more, else a copy.
func (as *AddressSpace) breakCOW(slot uint64, huge bool) error {
	e := as.load(slot)
	mask := frameMask(huge)
	old, size := leafFrame(e, huge)
	if as.phys.Refs(old) == 1 {
		as.store(slot, e&^pteCOW|pteWritable) // an upgrade: nothing to flush
		return nil
	}
	var pa uint64
	if huge {
		var ok bool
		if pa, ok = as.phys.AllocHuge(); !ok {
			return ErrNoMemory
		}
	} else {
		var err error
		if pa, err = as.phys.Alloc(); err != nil {
			return err
		}
	}
	copy(as.phys.mem[pa:pa+size], as.phys.mem[old:old+size])
	as.store(slot, pa|e&^mask&^pteCOW|pteWritable)
	// The engine may still map this address to the old frame for reads.
	// Only after that is gone may the old frame's last holder write it
	// again, so the reference is dropped last.
	as.phys.Resync([][2]uint64{{old, old + size}})
	if huge {
		as.phys.FreeHuge(old)
	} else {
		as.phys.Free(old)
	}
	return nil
}
