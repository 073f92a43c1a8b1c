package interp

import (
	"unsafe"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// Guest memory. Addresses are translated by walking the address space's
// x86-64 page tables in guest RAM, as the hardware walks them for KVM; a
// direct-mapped software TLB caches the result per 4 KiB page, one for
// reads and one for writes (a write entry implies read access too).

const (
	tlbSize = 256

	ptePresent  = 1 << 0
	pteWritable = 1 << 1
	pteUser     = 1 << 2
	pteAccessed = 1 << 5
	pteDirty    = 1 << 6
	pteHuge     = 1 << 7
	pteNoExec   = 1 << 63
	pteAddrMask = 0x000F_FFFF_FFFF_F000

	// Page-fault error code bits.
	pfPresent = 1 << 0
	pfWrite   = 1 << 1
	pfUser    = 1 << 2
	pfFetch   = 1 << 4

	tlbGenShift = 52
	tlbGenMax   = 1<<(64-tlbGenShift) - 1
)

// tlbEntry maps the page tag (virtual page number and TLB generation) to
// the guest-physical address of its frame.
type tlbEntry struct {
	tag uint64
	pa  uint64
}

// flushTLB drops every cached translation by moving to a new generation.
func (c *CPU) flushTLB() {
	c.tlbGen++
	if c.tlbGen > tlbGenMax {
		c.rtlb = [tlbSize]tlbEntry{}
		c.wtlb = [tlbSize]tlbEntry{}
		c.tlbGen = 1
	}
	c.tgen = c.tlbGen << tlbGenShift
}

// tag is the TLB tag of va's page in the current generation.
func (c *CPU) tag(va uint64) uint64 { return va>>12 | c.tgen }

func canonical(va uint64) bool { return uint64(int64(va<<16)>>16) == va }

// access kinds for walk.
const (
	accRead = iota
	accWrite
	accExec
)

// walk translates va for an access of the given kind, setting accessed
// and dirty bits as the CPU does. On failure it raises the fault the CPU
// would (a page fault with its error code, or #GP for a non-canonical
// address) and returns false.
func (c *CPU) walk(va uint64, acc int) (uint64, bool) {
	if !canonical(va) {
		c.fault(cpu.VecGeneralProt, 0, 0)
		c.nonCanonical, c.nonCanonicalVA = true, va
		return 0, false
	}
	code := uint64(pfUser)
	switch acc {
	case accWrite:
		code |= pfWrite
	case accExec:
		code |= pfFetch
	}
	memLen := uint64(len(c.mem))
	table := c.root
	allow := uint64(pteWritable | pteUser)
	nx := false
	var leaf, pa uint64
	for level := 3; ; level-- {
		slot := table + 8*((va>>(12+9*uint(level)))&511)
		if slot+8 > memLen {
			c.fault(cpu.VecPageFault, code, va)
			return 0, false
		}
		p := (*uint64)(unsafe.Add(c.memBase, slot))
		e := *p
		if e&ptePresent == 0 {
			c.fault(cpu.VecPageFault, code, va)
			return 0, false
		}
		allow &= e
		if e&pteNoExec != 0 {
			nx = true
		}
		if e&pteAccessed == 0 {
			*p = e | pteAccessed
		}
		switch {
		case level == 0:
			leaf, pa = slot, e&pteAddrMask|va&0xFFF
		case level <= 2 && e&pteHuge != 0:
			size := uint64(1) << (12 + 9*uint(level))
			leaf, pa = slot, e&pteAddrMask&^(size-1)|va&(size-1)
		default:
			table = e & pteAddrMask
			continue
		}
		break
	}
	if allow&pteUser == 0 || acc == accWrite && allow&pteWritable == 0 || acc == accExec && nx {
		c.fault(cpu.VecPageFault, code|pfPresent, va)
		return 0, false
	}
	if pa+8 > memLen || pa&^0xFFF+mmu.PageSize > memLen {
		c.fault(cpu.VecPageFault, code, va)
		return 0, false
	}
	if acc == accWrite {
		p := (*uint64)(unsafe.Add(c.memBase, leaf))
		if *p&pteDirty == 0 {
			*p |= pteDirty
		}
	}
	return pa, true
}

// xlate returns the guest-physical address of va for a read or write,
// through the TLB.
func (c *CPU) xlate(va uint64, write bool) (uint64, bool) {
	t := c.tag(va)
	i := (va >> 12) & (tlbSize - 1)
	if write {
		if c.wtlb[i].tag == t {
			return c.wtlb[i].pa | va&0xFFF, true
		}
	} else if c.rtlb[i].tag == t {
		return c.rtlb[i].pa | va&0xFFF, true
	} else if c.wtlb[i].tag == t {
		return c.wtlb[i].pa | va&0xFFF, true
	}
	acc := accRead
	if write {
		acc = accWrite
	}
	pa, ok := c.walk(va, acc)
	if !ok {
		return 0, false
	}
	frame := pa &^ 0xFFF
	c.rtlb[i] = tlbEntry{t, frame}
	if write && !c.isCode(frame) {
		c.wtlb[i] = tlbEntry{t, frame}
	}
	return pa, true
}

// isCode reports whether the frame holds decoded code.
func (c *CPU) isCode(frame uint64) bool {
	f := frame >> 12
	return c.code[f/64]&(1<<(f%64)) != 0
}

// markCode records that the frame holds decoded code; writable
// translations of it are dropped so stores to it take the slow path.
func (c *CPU) markCode(frame uint64) {
	f := frame >> 12
	if c.code[f/64]&(1<<(f%64)) == 0 {
		c.code[f/64] |= 1 << (f % 64)
		c.wtlb = [tlbSize]tlbEntry{}
	}
}

// noteWrite handles a store to frame: if it holds decoded code, every
// block must be checked again and the current block ends.
func (c *CPU) noteWrite(pa uint64) {
	if c.isCode(pa &^ 0xFFF) {
		c.epoch++
		c.stop |= stopSMC
	}
}

// stackFault turns the #GP that a non-canonical address raised while
// the instruction in ran into the #SS the CPU raises when the address is
// in the stack segment: when it lies in (or the access started at) one of
// in's operands marked as such (decode.go's stackSegment). The implicit
// stack accesses (push, pop, call, ret...) check their addresses
// themselves (badStack).
func (c *CPU) stackFault(in *inst) {
	if !c.nonCanonical || c.exit.Fault.Vector != cpu.VecGeneralProt {
		return
	}
	c.nonCanonical = false
	for i := range in.ops {
		if o := &in.ops[i]; o.ss && c.nonCanonicalVA-c.ea(o) < mmu.PageSize {
			c.exit.Fault.Vector = cpu.VecStackFault
			return
		}
	}
}

// badStack checks an implicit stack access of n bytes at a: when part of
// it is not canonical, it raises #SS(0), as the CPU does for the stack
// segment, and reports true.
func (c *CPU) badStack(a, n uint64) bool {
	if canonical(a) && canonical(a+n-1) {
		return false
	}
	c.fault(cpu.VecStackFault, 0, 0)
	return true
}

func (c *CPU) ptr(pa uint64) unsafe.Pointer { return unsafe.Add(c.memBase, pa) }

// Reads.

func (c *CPU) rd8(a uint64) (uint64, bool) {
	e := &c.rtlb[(a>>12)&(tlbSize-1)]
	if e.tag == c.tag(a) {
		return uint64(*(*uint8)(c.ptr(e.pa | a&0xFFF))), true
	}
	return c.rdSlow(a, 1)
}

func (c *CPU) rd16(a uint64) (uint64, bool) {
	if a&0xFFF <= 0xFFE {
		e := &c.rtlb[(a>>12)&(tlbSize-1)]
		if e.tag == c.tag(a) {
			return uint64(*(*uint16)(c.ptr(e.pa | a&0xFFF))), true
		}
	}
	return c.rdSlow(a, 2)
}

func (c *CPU) rd32(a uint64) (uint64, bool) {
	if a&0xFFF <= 0xFFC {
		e := &c.rtlb[(a>>12)&(tlbSize-1)]
		if e.tag == c.tag(a) {
			return uint64(*(*uint32)(c.ptr(e.pa | a&0xFFF))), true
		}
	}
	return c.rdSlow(a, 4)
}

func (c *CPU) rd64(a uint64) (uint64, bool) {
	if a&0xFFF <= 0xFF8 {
		e := &c.rtlb[(a>>12)&(tlbSize-1)]
		if e.tag == c.tag(a) {
			return *(*uint64)(c.ptr(e.pa | a&0xFFF)), true
		}
	}
	return c.rdSlow(a, 8)
}

// rd reads size (1, 2, 4 or 8) bytes.
func (c *CPU) rd(a uint64, size uint8) (uint64, bool) {
	switch size {
	case 1:
		return c.rd8(a)
	case 2:
		return c.rd16(a)
	case 4:
		return c.rd32(a)
	}
	return c.rd64(a)
}

// rdSlow reads size bytes that may cross a page boundary.
func (c *CPU) rdSlow(a uint64, size uint8) (uint64, bool) {
	p1, ok := c.xlate(a, false)
	if !ok {
		return 0, false
	}
	n1 := uint64(size)
	if rest := 0x1000 - a&0xFFF; rest < n1 {
		n1 = rest
	}
	var p2 uint64
	if n1 < uint64(size) {
		if p2, ok = c.xlate(a+n1, false); !ok {
			return 0, false
		}
	}
	var v uint64
	for i := uint64(0); i < uint64(size); i++ {
		var b uint8
		if i < n1 {
			b = *(*uint8)(c.ptr(p1 + i))
		} else {
			b = *(*uint8)(c.ptr(p2 + i - n1))
		}
		v |= uint64(b) << (8 * i)
	}
	return v, true
}

// Writes.

func (c *CPU) wr8(a, v uint64) bool {
	e := &c.wtlb[(a>>12)&(tlbSize-1)]
	if e.tag == c.tag(a) {
		*(*uint8)(c.ptr(e.pa | a&0xFFF)) = uint8(v)
		return true
	}
	return c.wrSlow(a, 1, v)
}

func (c *CPU) wr16(a, v uint64) bool {
	if a&0xFFF <= 0xFFE {
		e := &c.wtlb[(a>>12)&(tlbSize-1)]
		if e.tag == c.tag(a) {
			*(*uint16)(c.ptr(e.pa | a&0xFFF)) = uint16(v)
			return true
		}
	}
	return c.wrSlow(a, 2, v)
}

func (c *CPU) wr32(a, v uint64) bool {
	if a&0xFFF <= 0xFFC {
		e := &c.wtlb[(a>>12)&(tlbSize-1)]
		if e.tag == c.tag(a) {
			*(*uint32)(c.ptr(e.pa | a&0xFFF)) = uint32(v)
			return true
		}
	}
	return c.wrSlow(a, 4, v)
}

func (c *CPU) wr64(a, v uint64) bool {
	if a&0xFFF <= 0xFF8 {
		e := &c.wtlb[(a>>12)&(tlbSize-1)]
		if e.tag == c.tag(a) {
			*(*uint64)(c.ptr(e.pa | a&0xFFF)) = v
			return true
		}
	}
	return c.wrSlow(a, 8, v)
}

// wr writes size (1, 2, 4 or 8) bytes.
func (c *CPU) wr(a uint64, size uint8, v uint64) bool {
	switch size {
	case 1:
		return c.wr8(a, v)
	case 2:
		return c.wr16(a, v)
	case 4:
		return c.wr32(a, v)
	}
	return c.wr64(a, v)
}

// wrSlow writes size bytes that may cross a page boundary; both pages are
// checked before anything is written.
func (c *CPU) wrSlow(a uint64, size uint8, v uint64) bool {
	var b [8]byte
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return c.wrBytes(a, b[:size])
}

// wrBytes writes b at a (at most one page boundary crossed), checking
// every page first.
func (c *CPU) wrBytes(a uint64, b []byte) bool {
	n := uint64(len(b))
	p1, ok := c.xlate(a, true)
	if !ok {
		return false
	}
	n1 := n
	if rest := 0x1000 - a&0xFFF; rest < n1 {
		n1 = rest
	}
	var p2 uint64
	if n1 < n {
		if p2, ok = c.xlate(a+n1, true); !ok {
			return false
		}
	}
	for i := uint64(0); i < n; i++ {
		if i < n1 {
			*(*uint8)(c.ptr(p1 + i)) = b[i]
		} else {
			*(*uint8)(c.ptr(p2 + i - n1)) = b[i]
		}
	}
	c.noteWrite(p1)
	if n1 < n {
		c.noteWrite(p2)
	}
	return true
}

// rdBytes reads len(b) bytes at a (at most one page boundary crossed).
func (c *CPU) rdBytes(a uint64, b []byte) bool {
	n := uint64(len(b))
	p1, ok := c.xlate(a, false)
	if !ok {
		return false
	}
	n1 := n
	if rest := 0x1000 - a&0xFFF; rest < n1 {
		n1 = rest
	}
	var p2 uint64
	if n1 < n {
		if p2, ok = c.xlate(a+n1, false); !ok {
			return false
		}
	}
	for i := uint64(0); i < n; i++ {
		if i < n1 {
			b[i] = *(*uint8)(c.ptr(p1 + i))
		} else {
			b[i] = *(*uint8)(c.ptr(p2 + i - n1))
		}
	}
	return true
}

// probeWrite checks that [a, a+n) may be written (n <= 4096), faulting
// as the first write would, so that a multi-part store writes nothing
// when a part of it would fault.
func (c *CPU) probeWrite(a, n uint64) bool {
	if _, ok := c.xlate(a, true); !ok {
		return false
	}
	if last := a + n - 1; last>>12 != a>>12 {
		if _, ok := c.xlate(last&^0xFFF, true); !ok {
			return false
		}
	}
	return true
}

// rd128 reads 16 bytes; aligned requires 16-byte alignment (#GP).
func (c *CPU) rd128(a uint64, aligned bool) (lo, hi uint64, ok bool) {
	if aligned && a&15 != 0 {
		c.fault(cpu.VecGeneralProt, 0, 0)
		// A non-canonical stack address is #SS even when misaligned.
		c.nonCanonical, c.nonCanonicalVA = !canonical(a), a
		return 0, 0, false
	}
	if a&0xFFF <= 0xFF0 {
		if lo, ok = c.rd64(a); !ok {
			return
		}
		hi, ok = c.rd64(a + 8)
		return
	}
	var b [16]byte
	if !c.rdBytes(a, b[:]) {
		return 0, 0, false
	}
	return le64(b[:8]), le64(b[8:]), true
}

// wr128 writes 16 bytes; aligned requires 16-byte alignment (#GP).
func (c *CPU) wr128(a, lo, hi uint64, aligned bool) bool {
	if aligned && a&15 != 0 {
		c.fault(cpu.VecGeneralProt, 0, 0)
		// A non-canonical stack address is #SS even when misaligned.
		c.nonCanonical, c.nonCanonicalVA = !canonical(a), a
		return false
	}
	if !c.probeWrite(a, 16) {
		return false
	}
	return c.wr64(a, lo) && c.wr64(a+8, hi)
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// fetch reads instruction bytes at va into b, up to the first byte that
// cannot be fetched, and returns how many it read; when none can be read
// it raises the fetch fault.
func (c *CPU) fetch(va uint64, b []byte) int {
	n := 0
	for n < len(b) {
		pa, ok := c.walk(va+uint64(n), accExec)
		if !ok {
			if n > 0 {
				c.stop &^= stopFault // the fault is raised only if the bytes are needed
			}
			return n
		}
		c.markCode(pa &^ 0xFFF)
		k := copy(b[n:], c.mem[pa:pa&^0xFFF+0x1000])
		n += k
	}
	return n
}
