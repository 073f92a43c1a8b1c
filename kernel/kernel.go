// Package kernel is the Aurora kernel: it loads programs, owns processes
// and their file descriptors and memory, and carries out system calls on
// their behalf. Guest code runs on a cpu.Engine; every trap comes back here
// as a Go call. Decoding syscall numbers and arguments is package syscall's
// job, registered through Config.Syscalls.
//
// The parts: kernel.go holds the process table and the machine's life
// (Spawn, Start, Shutdown); process.go a process's thread and its run loop;
// fork.go and wait.go process creation, exit, zombies and reaping;
// signals.go signal sending and delivery (kernel/signal defines the
// signals themselves); memory.go brk, mmap and munmap; shm.go shared
// memory segments (kernel/shm keeps the registry); file.go the fd table and
// the console; loader.go ELF images and the initial stack; fs.go the calls
// on paths and files, over the file system of package kernel/vfs; ipc.go
// pipes (kernel/pipe) and each process's message queue (kernel/msgqueue).
package kernel

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/kernel/net"
	"github.com/aurora-vm/aurora-vm/kernel/shm"
	"github.com/aurora-vm/aurora-vm/kernel/signal"
	"github.com/aurora-vm/aurora-vm/kernel/vfs"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// DefaultMaxProcs is the process limit when Config.MaxProcs is 0.
const DefaultMaxProcs = 256

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
	// MaxProcs bounds the processes in the table, zombies included: fork
	// fails beyond it. 0 means DefaultMaxProcs.
	MaxProcs int
	// Network, if set, makes the TCP/IP stack sockets use (with the VM's
	// NIC attached); otherwise the kernel makes one with loopback only. It
	// is called once, when a program first needs the network (or Net is
	// called), and the kernel closes the stack at Shutdown.
	Network func() (*net.Stack, error)
	// Mounts are host directories mounted into the file system (see
	// package vfs); TmpfsSize bounds the bytes of file data the in-memory
	// file system holds (0: DefaultTmpfsSize, negative: no bound). The
	// file system is built once, when first needed (or VFS is called).
	Mounts    []vfs.Mount
	TmpfsSize int64
}

// Kernel is one running Aurora machine.
type Kernel struct {
	cfg   Config
	start time.Time
	// stdin is the one reader of the host's standard input, shared by every
	// process that has it open.
	stdin *console

	// trampoline is the frame holding the signal return trampoline, mapped
	// into every address space at SignalTrampolineVA.
	trampolineOnce sync.Once
	trampoline     uint64
	trampolineErr  error

	// running counts process goroutines, for Shutdown.
	running sync.WaitGroup

	net network
	fs  fileSystem

	// shm holds the shared memory segments (see shm.go).
	shm *shm.Registry

	mu      sync.Mutex
	nextPID int
	procs   map[int]*Process
	init    *Process
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
	if cfg.MaxProcs <= 0 {
		cfg.MaxProcs = DefaultMaxProcs
	}
	return &Kernel{cfg: cfg, start: time.Now(), stdin: &console{r: cfg.Stdin}, nextPID: 1, procs: map[int]*Process{},
		shm: shm.New(cfg.Phys, MmapEnd-MmapStart)}
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

// ErrTooManyProcesses is returned when the process table is full.
var ErrTooManyProcesses = errors.New("too many processes")

// Spawn loads the program image into a new process with fds 0, 1 and 2 on
// the console. argv[0] names the program. The first process spawned is
// process 1: orphans are given to it, and the machine ends with it.
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
	if err == nil {
		err = k.mapKernelPages(as)
	}
	if err != nil {
		as.Release()
		return nil, err
	}
	p := k.newProcess(as, argv[0])
	p.start = cpu.Regs{RIP: img.Entry, RSP: sp}
	p.brk, p.heapEnd = HeapStart, HeapStart
	p.fds = &FDTable{}
	p.fds.Install(k.stdin)
	p.fds.Install(&console{w: k.cfg.Stdout})
	p.fds.Install(&console{w: k.cfg.Stderr})
	if err := k.register(p, nil); err != nil {
		as.Release()
		return nil, err
	}
	return p, nil
}

func (k *Kernel) newProcess(as *mmu.AddressSpace, name string) *Process {
	return &Process{
		k:        k,
		name:     name,
		as:       as,
		children: map[*Process]bool{},
		done:     make(chan struct{}),
		intr:     make(chan struct{}),
	}
}

// register gives p a pid and a place in the table under parent.
func (k *Kernel) register(p, parent *Process) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.procs) >= k.cfg.MaxProcs {
		return ErrTooManyProcesses
	}
	p.pid = k.nextPID
	k.nextPID++
	k.procs[p.pid] = p
	p.parent = parent
	if parent != nil {
		parent.children[p] = true
	}
	if k.init == nil {
		k.init = p
	}
	return nil
}

// unregister removes a process that never ran.
func (k *Kernel) unregister(p *Process) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.procs, p.pid)
	p.endMsgQueue()
	if p.parent != nil {
		delete(p.parent.children, p)
	}
	if k.init == p {
		k.init = nil
	}
}

// Start creates the process's CPU and starts its thread. An error (the
// engine could not make a CPU, say for lack of guest memory) means the
// process never ran and is gone from the table.
func (k *Kernel) Start(p *Process) error {
	ready := make(chan error, 1)
	k.running.Add(1)
	go func() {
		defer k.running.Done()
		p.run(ready)
	}()
	if err := <-ready; err != nil {
		p.as.Release()
		k.unregister(p)
		return err
	}
	return nil
}

// Shutdown kills every process and waits up to grace for their threads to
// end. It reports false if some did not: a thread stuck in a host write
// that cannot be interrupted, say. Guest memory outlives such threads (see
// mmu.PhysMem.Close).
func (k *Kernel) Shutdown(grace time.Duration) bool {
	k.killAll()
	done := make(chan struct{})
	go func() { k.running.Wait(); close(done) }()
	select {
	case <-done:
		k.closeNet()
		k.closeFS()
		return true
	case <-time.After(grace):
		return false
	}
}

// killAll sends SIGKILL to every process.
func (k *Kernel) killAll() {
	k.mu.Lock()
	procs := make([]*Process, 0, len(k.procs))
	for _, p := range k.procs {
		procs = append(procs, p)
	}
	k.mu.Unlock()
	for _, p := range procs {
		p.Signal(signal.SIGKILL)
	}
}

// Processes is the number of processes in the table, zombies included.
func (k *Kernel) Processes() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.procs)
}

// lookup returns the process with pid, zombies included.
func (k *Kernel) lookup(pid int) *Process {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.procs[pid]
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
