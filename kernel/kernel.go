// Package kernel is the Aurora kernel: it loads programs, owns processes
// and their file descriptors and memory, and carries out system calls on
// their behalf. Guest code runs on a cpu.Engine; every trap comes back here
// as a Go call. Decoding syscall numbers and arguments is package syscall's
// job, registered through Config.Syscalls.
package kernel

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// SyscallHandler serves the syscall whose number and arguments are in regs
// and writes the result back into regs. It is package syscall's Dispatch.
type SyscallHandler func(p *Process, regs *cpu.Regs)

// Config is what a kernel needs from its surroundings.
type Config struct {
	Engine   cpu.Engine
	Phys     *mmu.PhysMem
	Syscalls SyscallHandler
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
	// Trace, if set, receives one line per syscall.
	Trace io.Writer
}

// Kernel is one running Aurora machine.
type Kernel struct {
	cfg   Config
	start time.Time
	// stdin is the one reader of the host's standard input, shared by every
	// process that has it open.
	stdin *console

	mu      sync.Mutex
	nextPID int
	procs   map[int]*Process
}

// New creates a kernel.
func New(cfg Config) *Kernel {
	if cfg.Stdin == nil {
		cfg.Stdin = os.Stdin
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	return &Kernel{cfg: cfg, start: time.Now(), stdin: &console{r: cfg.Stdin}, nextPID: 1, procs: map[int]*Process{}}
}

// Trace returns the trace writer, or nil when tracing is off.
func (k *Kernel) Trace() io.Writer { return k.cfg.Trace }

// Uptime is the time since the machine started.
func (k *Kernel) Uptime() time.Duration { return time.Since(k.start) }

// ExitStatus is how a process ended.
type ExitStatus struct {
	Code   int // exit code 0-255, valid when Signal is 0
	Signal int // the signal that killed the process, or 0
	// Reason is a one-line explanation when a signal killed the process.
	Reason string
}

// WaitStatus is the status as waitpid and a shell see it: the exit code, or
// 128 plus the signal number.
func (s ExitStatus) WaitStatus() int {
	if s.Signal != 0 {
		return 128 + s.Signal
	}
	return s.Code
}

// Spawn loads the program image into a new process with fds 0, 1 and 2 on
// the console. argv[0] names the program.
func (k *Kernel) Spawn(img *Image, argv, envp []string) (*Process, error) {
	as, err := mmu.NewAddressSpace(k.cfg.Phys)
	if err != nil {
		return nil, err
	}
	if err := img.Load(as); err != nil {
		as.Release()
		return nil, fmt.Errorf("loading the program: %w", err)
	}
	sp, err := buildStack(as, argv, envp)
	if err != nil {
		as.Release()
		return nil, err
	}
	k.mu.Lock()
	pid := k.nextPID
	k.nextPID++
	p := &Process{
		k:       k,
		pid:     pid,
		name:    argv[0],
		as:      as,
		entry:   img.Entry,
		sp:      sp,
		brk:     HeapStart,
		heapEnd: HeapStart,
		done:    make(chan struct{}),
		kill:    make(chan struct{}),
	}
	p.fds[0] = k.stdin
	p.fds[1] = &console{w: k.cfg.Stdout}
	p.fds[2] = &console{w: k.cfg.Stderr}
	k.procs[pid] = p
	k.mu.Unlock()
	return p, nil
}

// LoadProgram reads and validates a program file.
func LoadProgram(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readAllLimited(f, 1<<30)
	if err != nil {
		return nil, err
	}
	return ParseELF(data)
}
