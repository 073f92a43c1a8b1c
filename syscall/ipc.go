package syscall

import "github.com/aurora-vm/aurora-vm/kernel"

// ipcCalls are pipes and message queues.
var ipcCalls = map[int]handler{
	SysPipe: func(p *kernel.Process, a Args) (uint64, error) { return 0, p.Pipe(a[0]) },
	SysMsgsnd: func(p *kernel.Process, a Args) (uint64, error) {
		return 0, p.Msgsnd(signed(a[0]), a[1], a[2])
	},
	SysMsgrcv: func(p *kernel.Process, a Args) (uint64, error) {
		n, err := p.Msgrcv(a[0], a[1])
		return uint64(n), err
	},
}
