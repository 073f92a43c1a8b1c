package syscall

import "github.com/aurora-vm/aurora-vm/kernel"

// memoryCalls are the calls that change the address space.
var memoryCalls = map[int]handler{
	SysBrk: func(p *kernel.Process, a Args) (uint64, error) { return p.Brk(a[0]), nil },
	SysMmap: func(p *kernel.Process, a Args) (uint64, error) {
		return p.Mmap(a[0], a[1])
	},
	SysMunmap: func(p *kernel.Process, a Args) (uint64, error) { return 0, p.Munmap(a[0], a[1]) },
}
