package syscall

import "github.com/aurora-vm/aurora-vm/kernel"

// fileCalls are the calls on file descriptors of any kind.
var fileCalls = map[int]handler{
	SysWrite: func(p *kernel.Process, a Args) (uint64, error) {
		n, err := p.Write(fd(a[0]), a[1], a[2])
		return uint64(n), err
	},
	SysRead: func(p *kernel.Process, a Args) (uint64, error) {
		n, err := p.Read(fd(a[0]), a[1], a[2])
		return uint64(n), err
	},
	SysClose: func(p *kernel.Process, a Args) (uint64, error) { return 0, p.FDs().Close(fd(a[0])) },
	SysDup2: func(p *kernel.Process, a Args) (uint64, error) {
		return uint64(uint32(a[1])), p.FDs().Dup2(fd(a[0]), fd(a[1]))
	},
}
