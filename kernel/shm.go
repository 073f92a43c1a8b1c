package kernel

import (
	"errors"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// Shared memory segments: the registry (kernel/shm) lives on the Kernel,
// the attachments are shared mappings in the processes' address spaces
// (mmu.AddressSpace.MapShared), so fork, munmap, exit and exec keep the
// segments' counts right without help from here.

// shmName names attachments in fault messages and mapping lists.
const shmName = "shm"

// Shmget creates a shared memory segment of size bytes, rounded up to a
// page, and returns its id (see package shm for the rules).
func (p *Process) Shmget(size uint64) (int, error) {
	return p.k.shm.Create(size, p.pid)
}

// Shmat attaches the segment id at the lowest free range of the mmap
// region that fits it and returns the address. It fails with EINVAL for an
// id that names no live segment and ENOMEM when the region or guest RAM
// has no room for the mapping.
func (p *Process) Shmat(id int) (uint64, error) {
	seg, err := p.k.shm.Lookup(id)
	if err != nil {
		return 0, err
	}
	addr := p.findFree(seg.Frames.Size(), mmu.PageSize)
	if addr == 0 {
		return 0, errno.ENOMEM
	}
	if err := p.as.MapShared(addr, seg.Frames, mmu.Read|mmu.Write, shmName); err != nil {
		if errors.Is(err, mmu.ErrSharedGone) {
			return 0, errno.EINVAL // destroyed since the lookup
		}
		return 0, errno.ENOMEM
	}
	return addr, nil
}

// Shmdt detaches the segment attached at addr: every page of that
// attachment still mapped, even when munmap has cut pieces out of it, as
// Linux's shmdt does. EINVAL when no attachment starts at addr.
func (p *Process) Shmdt(addr uint64) error {
	if addr%mmu.PageSize != 0 || !p.as.UnmapShared(addr) {
		return errno.EINVAL
	}
	return nil
}

// ShmSegments is the number of shared memory segments that exist, for
// leak checks.
func (k *Kernel) ShmSegments() int { return k.shm.Len() }
