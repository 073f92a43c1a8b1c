package kernel

import (
	"encoding/binary"
	"errors"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/kernel/signal"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// Limits of execve's arguments, as the program passes them.
const (
	maxExecFile = 256 << 20 // bytes of an executable read from the VFS
	maxExecArgs = 4096      // pointers in argv or envp
	maxPathLen  = 4096
)

// execImage is a new program image that Execve has built and the run loop
// switches to once the syscall returns: the CPU belongs to one address
// space, so the thread moves to a fresh CPU on the new one.
type execImage struct {
	as   *mmu.AddressSpace
	regs cpu.Regs
	name string
}

// ExecArgs reads execve's path, argv and envp from guest memory: the path
// is a string, the vectors NULL-terminated arrays of string pointers (a
// NULL vector is empty).
func (p *Process) ExecArgs(pathAddr, argvAddr, envpAddr uint64) (path string, argv, envp []string, err error) {
	path, err = p.as.ReadString(pathAddr, maxPathLen)
	if err != nil {
		return "", nil, nil, errno.EFAULT
	}
	if argv, err = p.StringVector(argvAddr); err != nil {
		return "", nil, nil, err
	}
	if envp, err = p.StringVector(envpAddr); err != nil {
		return "", nil, nil, err
	}
	return path, argv, envp, nil
}

// StringVector reads a NULL-terminated array of string pointers, as
// execve's argv and envp are (0 is an empty array), refusing more than a
// new stack can carry (E2BIG) and bad pointers (EFAULT).
func (p *Process) StringVector(addr uint64) ([]string, error) {
	var list []string
	if addr == 0 {
		return nil, nil
	}
	total := 0
	for i := 0; ; i++ {
		if i == maxExecArgs {
			return nil, errno.E2BIG
		}
		var w [8]byte
		if p.as.ReadAt(w[:], addr+uint64(i)*8) != nil {
			return nil, errno.EFAULT
		}
		ptr := binary.LittleEndian.Uint64(w[:])
		if ptr == 0 {
			return list, nil
		}
		s, err := p.as.ReadString(ptr, maxArgData)
		if err != nil {
			return nil, errno.EFAULT
		}
		if total += len(s) + 1; total > maxArgData {
			return nil, errno.E2BIG
		}
		list = append(list, s)
	}
}

// Execve replaces the program the process runs with the static Aurora ELF
// at path in the VFS, keeping the pid, parent, children, open files, the
// syscall filter, pending signals and message queue. Caught signals go
// back to their default action (ignored ones stay ignored, as on Linux),
// and shared memory attachments go with the old address space. The new
// image starts with argv and envp on its stack. On any error the caller
// keeps running its old image and the call returns -1: ENOENT, EACCES
// (a directory, or not a regular file), ENOEXEC (not a runnable Aurora program), E2BIG
// (arguments), EFAULT, ENOMEM.
//
// The switch itself happens when the syscall returns (see switchImage).
func (p *Process) Execve(path string, argv, envp []string) error {
	data, err := p.k.ReadFile(path, maxExecFile)
	switch {
	case errors.Is(err, errno.EISDIR):
		return errno.EACCES // as Linux says for a directory
	case errors.Is(err, errno.EFBIG):
		return errno.ENOEXEC
	case err != nil:
		return err
	}
	img, err := ParseELF(data)
	if err != nil {
		return errno.ENOEXEC
	}
	as, err := mmu.NewAddressSpace(p.k.cfg.Phys)
	if err != nil {
		return errno.ENOMEM
	}
	if len(argv) == 0 {
		// Programs expect argv[0]; give them the path, as the first
		// process gets its program's path.
		argv = []string{path}
	}
	sp, err := p.buildImage(as, img, argv, envp)
	if err != nil {
		as.Release()
		return err
	}
	p.exec = &execImage{as: as, regs: cpu.Regs{RIP: img.Entry, RSP: sp}, name: path}
	return nil
}

// buildImage loads img into the fresh address space as and builds its
// stack, returning the initial stack pointer.
func (p *Process) buildImage(as *mmu.AddressSpace, img *Image, argv, envp []string) (uint64, error) {
	if err := img.Load(as); err != nil {
		if errors.Is(err, mmu.ErrNoMemory) {
			return 0, errno.ENOMEM
		}
		return 0, errno.ENOEXEC
	}
	sp, err := buildStack(as, argv, envp)
	if err != nil {
		if errors.Is(err, mmu.ErrNoMemory) {
			return 0, errno.ENOMEM
		}
		return 0, errno.E2BIG
	}
	if err := p.k.mapKernelPages(as); err != nil {
		return 0, errno.ENOMEM
	}
	return sp, nil
}

// switchImage moves the thread onto the image Execve prepared: a new CPU
// on the new address space, a clean register file and FP state, a fresh
// break, and no signal handlers or frames of the old program. It returns
// the CPU to go on with; on failure the process is killed, since its old
// image is already given up.
func (p *Process) switchImage(old cpu.CPU) cpu.CPU {
	ex := p.exec
	p.exec = nil
	// Leave the old CPU first: signals sent meanwhile find no CPU to
	// interrupt and stay pending, and the loop delivers them on the new one.
	p.mu.Lock()
	p.cpu = nil
	p.mu.Unlock()
	old.Close()
	c, err := p.k.cfg.Engine.NewCPU(ex.as)
	oldAS := p.as
	p.as = ex.as
	oldAS.Release()
	if err != nil {
		p.die(signal.SIGKILL, "execve: "+err.Error())
		return nil
	}
	*c.Regs() = ex.regs
	p.name = ex.name
	p.brk, p.heapEnd = HeapStart, HeapStart
	p.errnoAddr = 0 // the new program's libc registers its own
	p.mu.Lock()
	p.cpu = c
	for sig, h := range p.handlers {
		if h != signal.Ignore {
			p.handlers[sig] = signal.Default
		}
	}
	p.blocked, p.frames = 0, 0
	p.mu.Unlock()
	return c
}
