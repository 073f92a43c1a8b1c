package syscall

import "github.com/aurora-vm/aurora-vm/kernel"

// fsCalls are the calls on paths and the file system: open, stat, fstat,
// lseek, getdents, mkdir, unlink. Flags and whence are C ints; lseek's
// offset is a long.
var fsCalls = map[int]handler{
	SysOpen: func(p *kernel.Process, a Args) (uint64, error) {
		n, err := p.Open(a[0], signed(a[1]))
		return uint64(n), err
	},
	SysStat: func(p *kernel.Process, a Args) (uint64, error) { return 0, p.Stat(a[0], a[1]) },
	SysFstat: func(p *kernel.Process, a Args) (uint64, error) {
		return 0, p.Fstat(fd(a[0]), a[1])
	},
	SysLseek: func(p *kernel.Process, a Args) (uint64, error) {
		off, err := p.Lseek(fd(a[0]), int64(a[1]), signed(a[2]))
		return uint64(off), err
	},
	SysGetdents: func(p *kernel.Process, a Args) (uint64, error) {
		n, err := p.Getdents(fd(a[0]), a[1], a[2])
		return uint64(n), err
	},
	SysMkdir:  func(p *kernel.Process, a Args) (uint64, error) { return 0, p.Mkdir(a[0]) },
	SysUnlink: func(p *kernel.Process, a Args) (uint64, error) { return 0, p.Unlink(a[0]) },
}
