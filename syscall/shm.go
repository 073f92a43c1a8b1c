package syscall

import "github.com/aurora-vm/aurora-vm/kernel"

// shmCalls are shared memory segments.
var shmCalls = map[int]handler{
	SysShmget: func(p *kernel.Process, a Args) (uint64, error) {
		id, err := p.Shmget(a[0])
		return uint64(id), err
	},
	SysShmat: func(p *kernel.Process, a Args) (uint64, error) { return p.Shmat(signed(a[0])) },
	SysShmdt: func(p *kernel.Process, a Args) (uint64, error) { return 0, p.Shmdt(a[0]) },
}
