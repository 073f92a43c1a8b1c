package mmu

// Kernel access to user memory. Every guest pointer the kernel follows goes
// through these checks, which read the same page tables the CPU walks, so a
// pointer the guest could not use itself fails here too.

// Translate returns the guest-physical address behind the user address va,
// checking that the page is a user page and, for write, writable.
func (as *AddressSpace) Translate(va uint64, write bool) (uint64, bool) {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.translate(va, write)
}

func (as *AddressSpace) translate(va uint64, write bool) (uint64, bool) {
	if va < UserStart || va >= UserEnd {
		return 0, false
	}
	slot, huge := as.leaf(va)
	if slot == 0 {
		return 0, false
	}
	e := as.load(slot)
	if e&(ptePresent|pteUser) != ptePresent|pteUser || write && e&pteWritable == 0 {
		return 0, false
	}
	if huge {
		return e&hugeMask | va&(HugePageSize-1), true
	}
	return e&pteAddrMask | va&(PageSize-1), true
}

// unshare gives the address space its own copy of the copy-on-write page
// at va, as a write by the guest would, and reports whether it did.
func (as *AddressSpace) unshare(va uint64) bool {
	if va < UserStart || va >= UserEnd {
		return false
	}
	slot, huge := as.leaf(va)
	if slot == 0 || as.load(slot)&(ptePresent|pteCOW) != ptePresent|pteCOW {
		return false
	}
	return as.breakCOW(slot, huge) == nil
}

// Access calls fn with the host bytes backing [va, va+n), one page-bounded
// piece at a time, after checking the whole range first, so fn never sees
// part of a range that then turns out to be bad.
func (as *AddressSpace) Access(va, n uint64, write bool, fn func(b []byte)) error {
	if n == 0 {
		return nil
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	if va+n < va {
		return &Fault{Addr: va, Write: write}
	}
	for p := PageAlignDown(va); p < va+n; p += PageSize {
		if _, ok := as.translate(p, write); !ok && !(write && as.unshare(p)) {
			return &Fault{Addr: max(p, va), Write: write}
		}
	}
	for n > 0 {
		pa, _ := as.translate(va, write)
		chunk := min(n, PageSize-va%PageSize)
		fn(as.phys.mem[pa : pa+chunk])
		va += chunk
		n -= chunk
	}
	return nil
}

// ReadAt copies len(b) bytes of user memory at va into b.
func (as *AddressSpace) ReadAt(b []byte, va uint64) error {
	return as.Access(va, uint64(len(b)), false, func(src []byte) {
		b = b[copy(b, src):]
	})
}

// WriteAt copies b into user memory at va, which must be writable.
func (as *AddressSpace) WriteAt(b []byte, va uint64) error {
	return as.Access(va, uint64(len(b)), true, func(dst []byte) {
		b = b[copy(dst, b):]
	})
}

// ReadString reads a NUL-terminated string of at most max bytes at va. A
// string that does not end within max bytes is an error, like a bad pointer.
func (as *AddressSpace) ReadString(va uint64, max int) (string, error) {
	as.mu.Lock()
	defer as.mu.Unlock()
	var s []byte
	for {
		pa, ok := as.translate(va, false)
		if !ok {
			return "", &Fault{Addr: va}
		}
		page := as.phys.mem[pa : pa+PageSize-va%PageSize]
		for i, c := range page {
			if c == 0 {
				return string(s), nil
			}
			if len(s) == max {
				return "", &Fault{Addr: va + uint64(i)}
			}
			s = append(s, c)
		}
		va += uint64(len(page))
	}
}

// LoadAt copies b into user memory at va whatever the pages' permissions:
// the loader uses it to fill read-only segments.
func (as *AddressSpace) LoadAt(b []byte, va uint64) error {
	as.mu.Lock()
	defer as.mu.Unlock()
	for len(b) > 0 {
		pa, ok := as.translate(va, false)
		if !ok {
			return &Fault{Addr: va, Write: true}
		}
		n := copy(as.phys.mem[pa:pa+PageSize-va%PageSize], b)
		b = b[n:]
		va += uint64(n)
	}
	return nil
}
