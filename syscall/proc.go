package syscall

import (
	"encoding/binary"
	"time"

	"github.com/aurora-vm/aurora-vm/kernel"
	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

// processCalls are the calls about processes and signals.
var processCalls = map[int]handler{
	SysExit: func(p *kernel.Process, a Args) (uint64, error) {
		p.Exit(signed(a[0]))
		return 0, nil
	},
	SysGetpid:  func(p *kernel.Process, a Args) (uint64, error) { return uint64(p.Pid()), nil },
	SysGetppid: func(p *kernel.Process, a Args) (uint64, error) { return uint64(p.Ppid()), nil },
	SysFork: func(p *kernel.Process, a Args) (uint64, error) {
		pid, err := p.Fork(p.Regs())
		return uint64(pid), err
	},
	SysWaitpid: waitpid,
	SysExecve:  execve,
	SysKill: func(p *kernel.Process, a Args) (uint64, error) {
		return 0, p.KillPid(signed(a[0]), signed(a[1]))
	},
	SysSignal: func(p *kernel.Process, a Args) (uint64, error) {
		return p.SetHandler(signed(a[0]), a[1])
	},
	SysSigreturn: func(p *kernel.Process, a Args) (uint64, error) { return p.Sigreturn(), nil },
	SysSetfilter: func(p *kernel.Process, a Args) (uint64, error) {
		var bitmap [32]byte
		if p.Memory().ReadAt(bitmap[:], a[0]) != nil {
			return 0, errno.EFAULT
		}
		p.SetFilter(bitmap)
		return 0, nil
	},
	SysYield: func(p *kernel.Process, a Args) (uint64, error) {
		p.Yield()
		return 0, nil
	},
	SysSleep: func(p *kernel.Process, a Args) (uint64, error) {
		return 0, p.Sleep(time.Duration(min(a[0], uint64(1<<40))) * time.Millisecond)
	},
	SysUptime: func(p *kernel.Process, a Args) (uint64, error) {
		return uint64(p.Kernel().Uptime().Milliseconds()), nil
	},
	SysLasterror: func(p *kernel.Process, a Args) (uint64, error) {
		return uint64(p.LastErrno()), nil
	},
	SysSetErrnoAddr: func(p *kernel.Process, a Args) (uint64, error) {
		return 0, p.SetErrnoAddr(a[0])
	},
}

// waitpid reaps a child and stores its status (the exit code, or 128 plus
// the signal) at a[1] unless that is NULL. A status pointer the process
// cannot write fails the call and leaves the child unreaped.
func waitpid(p *kernel.Process, a Args) (uint64, error) {
	statusAddr := a[1]
	writable := func() bool {
		return statusAddr == 0 || p.Memory().Access(statusAddr, 4, true, func([]byte) {}) == nil
	}
	pid, st, err := p.Waitpid(signed(a[0]), writable)
	if err != nil {
		return 0, err
	}
	if statusAddr != 0 {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(st.WaitStatus()))
		p.Memory().WriteAt(b[:], statusAddr)
	}
	return uint64(pid), nil
}

// execve reads its arguments and prepares the new image; the process
// switches to it when the call returns, so on success nothing returns to
// the old program.
func execve(p *kernel.Process, a Args) (uint64, error) {
	path, argv, envp, err := p.ExecArgs(a[0], a[1], a[2])
	if err != nil {
		return 0, err
	}
	return 0, p.Execve(path, argv, envp)
}
