// Package mmu owns guest memory: the guest-physical RAM of a VM with its
// frame allocator, and address spaces built on it.
//
// An AddressSpace keeps two views of the same truth: a sorted list of
// mappings (what the program asked for, with permissions) and x86-64 4-level
// page tables in guest-physical memory (what the CPU walks). Both are changed
// together by Map and Unmap, so the KVM engine can point CR3 at Root and the
// kernel can check and copy guest buffers through the same frames. Aligned
// 2 MiB stretches of a mapping are large pages, split when an unmap cuts one.
// Fork shares frames copy-on-write; frames are reference-counted. Shared
// memory (SharedFrames, MapShared) is mapped for real in several address
// spaces, and fork keeps it shared.
//
// # The page-table contract
//
// Every change the host makes to a page table takes effect for every vCPU
// before that vCPU next runs guest code, on hosts whose KVM walks the guest
// tables in hardware (EPT/NPT) and on those that keep shadow copies of them
// (shadow paging; this project's development hosts run such a paravirtual
// KVM). A shadow-paging KVM notices a guest page-table change only when guest
// code writes the table or when the host mapping behind a guest frame
// changes (its MMU notifier then drops every translation of that frame);
// writes made through the host's own view of guest RAM, as here, are
// invisible to it, and CR3 reloads or INVLPG do not help. So:
//
//   - Adding access needs nothing (not-present to present, read-only to
//     writable on the same frame, a new table under an empty entry): KVM
//     faults on the old translation and walks the tables again.
//   - Removing a page frees its frame, and Free discards the frame's host
//     page (MADV_DONTNEED), which drops its translations everywhere. When
//     others still hold the frame (shared memory, a copy-on-write share),
//     nothing is discarded, so Unmap drops the translations explicitly:
//     otherwise the guest could go on reaching the frame through the
//     removed entry, or through an entry later pointed at a new frame.
//     Copy-on-write frames get Resync (nobody writes them while shared);
//     shared memory, which other vCPUs and the kernel may write at any
//     moment and so must never be read-only on the host, gets Forget (the
//     recycler: every vCPU paused, the memory slot cycled).
//   - Taking write access away from a live page (fork's copy-on-write), or
//     pointing a live entry at another frame (breaking copy-on-write), is
//     followed by Resync on the affected frames: an mprotect round trip on
//     their host pages, one call per contiguous run. Measured on the
//     development host: 5-12 us for one page, about 42 us for 512 contiguous
//     pages, 1.7 ms for 25,000; each page the guest touches afterwards costs
//     3-4 us to map again.
//   - A frame that has been a page table is never handed out as a page
//     table again (AllocTable), since a shadow-paging KVM keeps its copy of
//     the old table and nothing done to the frame drops it: reused as a
//     root it ran another process's code, and reused as a table lower down
//     it gave a new process's stack the old frames (seen with many
//     processes at once). Former tables serve as data frames; when no frame
//     is left that was never a table, the engine's recycler
//     (SetRootRecycler) makes KVM forget every page table (the KVM engine
//     deletes and re-adds the memory slot with every vCPU paused, 33-190
//     µs) and the marks are cleared.
//
// Intermediate tables are never freed while their address space lives.
// Engines that cache translations themselves (a software TLB) must drop
// them on the same occasions.
package mmu

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// PageSize is the size of a page and of a physical frame.
const PageSize = 4096

// HugePageSize is the size of a large page: 512 frames, contiguous and
// aligned, mapped by one page-directory entry.
const HugePageSize = 512 * PageSize

// ErrNoMemory is returned when guest-physical RAM has no free frame.
var ErrNoMemory = errors.New("out of guest memory")

// PhysMem is guest-physical RAM: one anonymous host mapping, so frames the
// guest never touches cost the host nothing. Frame 0 is never handed out,
// which keeps physical address 0 meaning "none" in page tables.
//
// The host mapping is aligned to HugePageSize and asks for transparent huge
// pages: a large guest page then lies on one huge host page, which KVM can
// map with a single translation. Touching memory is what costs under
// virtualisation (a host fault and a KVM fault per page otherwise).
//
// Frames are reference-counted, so that address spaces can share them
// copy-on-write: Alloc hands out a frame with one reference, Share adds one,
// and Free drops one, releasing the frame when the last goes. A large page
// is counted on its first frame.
type PhysMem struct {
	region []byte // the host mapping, with the slack that aligns mem
	mem    []byte

	mu       sync.Mutex
	next     uint64   // lowest frame never handed out
	free     []uint64 // frames handed back, reused first
	freeHuge []uint64 // large pages handed back whole
	refs     []uint32 // references per frame, indexed by frame number
	// wasTable marks frames that have been a page table since the engine
	// last forgot its cached page tables (see AllocTable).
	wasTable   []uint64
	liveTables map[uint64]bool
	recycle    func() error
	recycleMu  sync.Mutex // one recycle at a time

	// hostMu orders the mprotect round trips of Resync against frames
	// reaching the free list: a frame is never handed out, and so never
	// written by the host, while its host page is read-only.
	hostMu sync.Mutex

	// users counts the address spaces alive on this RAM: Close leaves the
	// unmapping to the last one's Release (see Close).
	closeMu sync.Mutex
	users   int
	closed  bool
}

// NewPhysMem reserves size bytes (rounded up to a page) of guest RAM.
func NewPhysMem(size uint64) (*PhysMem, error) {
	size = PageAlignUp(size)
	if size < 16*PageSize {
		return nil, fmt.Errorf("guest memory of %d bytes is too small", size)
	}
	region, err := unix.Mmap(-1, 0, int(size+HugePageSize), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("reserving %d MiB of guest memory: %w", size>>20, err)
	}
	skip := (HugePageSize - uint64(sliceAddr(region))%HugePageSize) % HugePageSize
	mem := region[skip : skip+size : skip+size]
	// Without transparent huge pages this fails, and memory is only slower.
	unix.Madvise(mem, unix.MADV_HUGEPAGE)
	frames := size / PageSize
	return &PhysMem{
		region:     region,
		mem:        mem,
		next:       PageSize,
		refs:       make([]uint32, frames),
		wasTable:   make([]uint64, (frames+63)/64),
		liveTables: map[uint64]bool{},
	}, nil
}

// Bytes returns all of guest RAM, indexed by guest-physical address. The
// KVM engine registers it as the VM's memory.
func (p *PhysMem) Bytes() []byte { return p.mem }

// Size is the size of guest RAM in bytes.
func (p *PhysMem) Size() uint64 { return uint64(len(p.mem)) }

// Alloc hands out one zeroed frame, with one reference, and returns its
// guest-physical address.
func (p *PhysMem) Alloc() (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pa, err := p.alloc()
	if err == nil {
		p.refs[pa/PageSize] = 1
	}
	return pa, err
}

func (p *PhysMem) alloc() (uint64, error) {
	if n := len(p.free); n > 0 {
		pa := p.free[n-1]
		p.free = p.free[:n-1]
		return pa, nil // discarded by Free, so zero
	}
	if p.next < uint64(len(p.mem)) {
		pa := p.next
		p.next += PageSize // fresh frames of an anonymous mapping are already zero
		return pa, nil
	}
	if n := len(p.freeHuge); n > 0 {
		// Break up a large page rather than fail.
		pa := p.freeHuge[n-1]
		p.freeHuge = p.freeHuge[:n-1]
		for f := pa + PageSize; f < pa+HugePageSize; f += PageSize {
			p.free = append(p.free, f)
		}
		return pa, nil
	}
	return 0, ErrNoMemory
}

// AllocHuge hands out a zeroed large page, HugePageSize-aligned, with one
// reference, and reports false when there is none left; callers then use
// single frames.
func (p *PhysMem) AllocHuge() (uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.freeHuge); n > 0 {
		pa := p.freeHuge[n-1]
		p.freeHuge = p.freeHuge[:n-1]
		p.refs[pa/PageSize] = 1
		return pa, true
	}
	start := HugePageAlignUp(p.next)
	if start+HugePageSize > uint64(len(p.mem)) {
		return 0, false
	}
	for f := p.next; f < start; f += PageSize { // the frames skipped to align
		p.free = append(p.free, f)
	}
	p.next = start + HugePageSize
	p.refs[start/PageSize] = 1
	return start, true
}

// SetRootRecycler registers the engine's way to forget every page table it
// has cached (see AllocTable). Without one, AllocTable reuses any frame.
func (p *PhysMem) SetRootRecycler(fn func() error) {
	p.mu.Lock()
	p.recycle = fn
	p.mu.Unlock()
}

// AllocTable hands out a zeroed frame to be a page table (a root or a table
// below one): one that has not been a page table since the engine last
// forgot its cached page tables. A shadow-paging KVM keeps its copy of a
// former table and may use it again for the frame, with the old entries,
// when the frame becomes a table again (see the package documentation).
// When every free frame has been a table, the recycler registered by
// SetRootRecycler runs and the marks are cleared.
func (p *PhysMem) AllocTable() (uint64, error) {
	for attempt := 0; ; attempt++ {
		p.mu.Lock()
		pa, ok := p.freshTable()
		recycle := p.recycle
		if ok || recycle == nil || attempt > 0 {
			if !ok {
				var err error
				if pa, err = p.alloc(); err != nil {
					p.mu.Unlock()
					return 0, err
				}
			}
			p.refs[pa/PageSize] = 1
			p.wasTable[pa/PageSize/64] |= 1 << (pa / PageSize % 64)
			p.liveTables[pa] = true
			p.mu.Unlock()
			return pa, nil
		}
		p.mu.Unlock()
		if err := p.recycleTables(recycle); err != nil {
			return 0, err
		}
	}
}

// freshTable takes a frame never used as a table from the free frames.
func (p *PhysMem) freshTable() (uint64, bool) {
	wasTable := func(pa uint64) bool { return p.wasTable[pa/PageSize/64]&(1<<(pa/PageSize%64)) != 0 }
	for i := len(p.free) - 1; i >= 0; i-- {
		if pa := p.free[i]; !wasTable(pa) {
			p.free[i] = p.free[len(p.free)-1]
			p.free = p.free[:len(p.free)-1]
			return pa, true
		}
	}
	if p.next < uint64(len(p.mem)) {
		pa := p.next
		p.next += PageSize
		return pa, true
	}
	return 0, false
}

// recycleTables has the engine forget its page tables, after which only
// the tables still in use count as having been tables.
func (p *PhysMem) recycleTables(recycle func() error) error {
	p.recycleMu.Lock()
	defer p.recycleMu.Unlock()
	p.mu.Lock()
	_, ok := p.freshTable()
	if ok {
		p.mu.Unlock()
		return nil // another caller recycled meanwhile; put nothing back
	}
	p.mu.Unlock()
	if err := recycle(); err != nil {
		return fmt.Errorf("recycling page-table frames: %w", err)
	}
	p.clearTableMarks()
	return nil
}

// clearTableMarks forgets which frames were tables, after the engine has
// forgotten its page tables: only the tables still in use stay marked.
func (p *PhysMem) clearTableMarks() {
	p.mu.Lock()
	clear(p.wasTable)
	for pa := range p.liveTables {
		p.wasTable[pa/PageSize/64] |= 1 << (pa / PageSize % 64)
	}
	p.mu.Unlock()
}

// FreeTables drops page tables from AllocTable. The frames stay marked as
// former tables until the next recycle.
func (p *PhysMem) FreeTables(tables ...uint64) {
	p.mu.Lock()
	for _, pa := range tables {
		delete(p.liveTables, pa)
	}
	p.mu.Unlock()
	p.Free(tables...)
}

// Share adds a reference to a frame (the first frame of a large page).
func (p *PhysMem) Share(pa uint64) {
	p.mu.Lock()
	p.refs[pa/PageSize]++
	p.mu.Unlock()
}

// Refs is the number of references to a frame.
func (p *PhysMem) Refs(pa uint64) uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refs[pa/PageSize]
}

// setRefs gives each of n frames from pa its own count, as splitting a
// large page into small ones needs.
func (p *PhysMem) setRefs(pa uint64, n int, refs uint32) {
	p.mu.Lock()
	for i := 0; i < n; i++ {
		p.refs[pa/PageSize+uint64(i)] = refs
	}
	p.mu.Unlock()
}

// unref drops one reference from each frame and returns those left with
// none.
func (p *PhysMem) unref(frames []uint64) []uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var gone []uint64
	for _, pa := range frames {
		r := &p.refs[pa/PageSize]
		if *r == 0 {
			panic(fmt.Sprintf("mmu: frame %#x freed twice", pa))
		}
		if *r--; *r == 0 {
			gone = append(gone, pa)
		}
	}
	return gone
}

// Free drops a reference from each frame; a frame left with none goes back
// to the allocator. Its host page is discarded with MADV_DONTNEED, which
// also makes KVM drop every translation the guest still holds for it (KVM's
// MMU notifier zaps the frame's mappings and flushes the guest TLB, under
// EPT/NPT and shadow paging alike). That is how an unmapped page stops
// being reachable at once, without any TLB-flush instruction in the guest.
// Discarded pages read back as zeros.
func (p *PhysMem) Free(frames ...uint64) {
	frames = p.unref(frames)
	if len(frames) == 0 {
		return
	}
	slices.Sort(frames)
	forRuns(frames, PageSize, func(start, end uint64) { p.discard(start, end) })
	p.hostMu.Lock()
	p.mu.Lock()
	p.free = append(p.free, frames...)
	p.mu.Unlock()
	p.hostMu.Unlock()
}

// FreeHuge drops a reference from a large page from AllocHuge, discarded
// like Free's when it was the last.
func (p *PhysMem) FreeHuge(pa uint64) {
	if len(p.unref([]uint64{pa})) == 0 {
		return
	}
	p.discard(pa, pa+HugePageSize)
	p.hostMu.Lock()
	p.mu.Lock()
	p.freeHuge = append(p.freeHuge, pa)
	p.mu.Unlock()
	p.hostMu.Unlock()
}

// Resync makes every engine re-read the page-table entries that map the
// given ranges of frames ([start, end) pairs, page-aligned), after the
// host has taken a permission away or pointed an entry elsewhere. It
// changes the host mapping behind the frames (an mprotect round trip, one
// call per contiguous run), which KVM's MMU notifier turns into dropping
// every cached translation of them, whatever kind of paging the host does.
// The frames keep their contents. See the package documentation.
func (p *PhysMem) Resync(ranges [][2]uint64) {
	if len(ranges) == 0 {
		return
	}
	slices.SortFunc(ranges, func(a, b [2]uint64) int { return cmp.Compare(a[0], b[0]) })
	p.hostMu.Lock()
	defer p.hostMu.Unlock()
	for i := 0; i < len(ranges); {
		start, end := ranges[i][0], ranges[i][1]
		for i++; i < len(ranges) && ranges[i][0] <= end; i++ {
			end = max(end, ranges[i][1])
		}
		b := p.mem[start:end]
		if unix.Mprotect(b, unix.PROT_READ) != nil || unix.Mprotect(b, unix.PROT_READ|unix.PROT_WRITE) != nil {
			// Only a broken host gets here; a guest that keeps a stale
			// translation could still write a shared frame, so stop.
			panic("mmu: mprotect on guest RAM failed")
		}
	}
}

// Forget makes every engine drop all its cached translations and page
// tables, through the recycler registered by SetRootRecycler (the KVM
// engine pauses every vCPU and cycles the memory slot), and clears the
// marks of former tables as a recycle does. Unlike Resync it never makes
// guest RAM read-only, so it suits frames that others may write at any
// moment: shared memory, whose other users' vCPUs, and the kernel on
// their behalf, would fault on a read-only host page. Without a recycler
// no engine caches translations, and Forget does nothing.
func (p *PhysMem) Forget() {
	p.mu.Lock()
	recycle := p.recycle
	p.mu.Unlock()
	if recycle == nil {
		return
	}
	p.recycleMu.Lock()
	defer p.recycleMu.Unlock()
	if err := recycle(); err != nil {
		// Only a broken host gets here (KVM refused to re-add the VM's
		// memory); a guest keeping a stale translation could go on using
		// a page it gave up, so stop.
		panic(fmt.Sprintf("mmu: dropping cached translations: %v", err))
	}
	p.clearTableMarks()
}

// forRuns calls fn for each run of consecutive addresses step apart in the
// sorted list.
func forRuns(sorted []uint64, step uint64, fn func(start, end uint64)) {
	for i := 0; i < len(sorted); {
		j := i + 1
		for j < len(sorted) && sorted[j] == sorted[j-1]+step {
			j++
		}
		fn(sorted[i], sorted[j-1]+step)
		i = j
	}
}

// discard drops the host pages behind [start, end) so that they read as
// zero and no guest translation of them survives.
func (p *PhysMem) discard(start, end uint64) {
	if unix.Madvise(p.mem[start:end], unix.MADV_DONTNEED) != nil {
		// Not expected for anonymous memory; at least hand out zeros.
		clear(p.mem[start:end])
	}
}

// Slice returns the n bytes of guest RAM at guest-physical address pa, or
// false when they do not lie wholly inside it: devices reach guest memory
// through it, so a bad address from the driver is refused, never followed.
func (p *PhysMem) Slice(pa, n uint64) ([]byte, bool) {
	if pa > uint64(len(p.mem)) || n > uint64(len(p.mem))-pa {
		return nil, false
	}
	return p.mem[pa : pa+n : pa+n], true
}

// Page returns the bytes of the frame at guest-physical address pa.
func (p *PhysMem) Page(pa uint64) []byte { return p.mem[pa : pa+PageSize : pa+PageSize] }

// FreeFrames is the number of frames not in use, for leak checks.
func (p *PhysMem) FreeFrames() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return uint64(len(p.free)) + uint64(len(p.freeHuge))*HugePageSize/PageSize +
		(uint64(len(p.mem))-p.next)/PageSize
}

// Close releases guest RAM once every address space on it has been
// released. A goroutine still inside a guest access (a process stuck in a
// host write when the run ends, say) must never find the memory gone, so
// when address spaces remain Close leaves the unmapping to the last
// Release, or to the end of the host process.
func (p *PhysMem) Close() error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	p.closed = true
	if p.users > 0 {
		return nil
	}
	return p.unmap()
}

// acquire and release count the address spaces using the RAM.
func (p *PhysMem) acquire() error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.closed {
		return errors.New("guest memory is closed")
	}
	p.users++
	return nil
}

func (p *PhysMem) release() {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.users--; p.users == 0 && p.closed {
		p.unmap()
	}
}

func (p *PhysMem) unmap() error {
	if p.region == nil {
		return nil
	}
	err := unix.Munmap(p.region)
	p.region = nil
	return err
}

func sliceAddr(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }

// HugePageAlignUp rounds n up to a multiple of HugePageSize.
func HugePageAlignUp(n uint64) uint64 { return (n + HugePageSize - 1) &^ (HugePageSize - 1) }

// PageAlignUp rounds n up to a multiple of PageSize.
func PageAlignUp(n uint64) uint64 { return (n + PageSize - 1) &^ (PageSize - 1) }

// PageAlignDown rounds n down to a multiple of PageSize.
func PageAlignDown(n uint64) uint64 { return n &^ (PageSize - 1) }
