// Package lockstep compares two execution engines instruction by
// instruction: the KVM engine as the hardware oracle, and the x86-64
// interpreter.
//
// A Pair joins two kernels, one per engine, each on its own guest memory:
// Wrap gives each kernel an engine whose first CPU (the first process's
// thread) executes through cpu.Stepper.Step, and meets the other side's CPU
// after every instruction to compare RIP, the general registers, the
// arithmetic flags and DF, XMM0-15, MXCSR and the x87 registers in use.
// Each kernel serves its own engine's syscalls and faults, and the state it
// resumes the thread with is compared as well, so a syscall that gives a
// different result on the two machines is caught where it returns. The first
// difference stops both threads (their Run fails, which kills the process)
// and is kept as a Divergence: the instruction's address, bytes and
// disassembly, and both register files.
//
// Stepping costs a trap per instruction on KVM (about 50 us on PVM hosts,
// see cpu/kvm/step.go), so Options bound it: Steps instructions in all,
// Window at most after each trap. Between windows both engines run freely
// to the next trap, and the full state is compared at every trap, so a
// whole program is always checked at trap granularity.
//
// On PVM hosts the KVM engine's Step now and then runs two instructions
// (the trap flag's #DB is lost); where the oracle's step is ahead of the
// interpreter's, the interpreter steps once more to catch up (catchUp),
// and only a difference that remains counts.
//
// What may legitimately differ is masked and then copied from the oracle
// (side 0) to the interpreter (side 1), so the two threads go on from the
// same state: arithmetic flags that the architecture leaves undefined after
// the instruction (flags.go), the counter RDTSC and RDTSCP read, and the
// results of syscalls that report the time (Options.Volatile).
//
// Only the first process is compared; processes it forks run normally on
// each kernel. Events that arrive asynchronously (a signal from another
// process) are delivered only once both threads have one pending, at the
// same instruction; one that stops a freely running thread ends the
// comparison (Detached), since the two threads stop at different places.
//
// # Where the comparison ends
//
// Two runs of a program are comparable instruction by instruction only as
// long as what the program observes follows from its own instructions.
// Other processes run at their own pace on each machine, so once the
// program can observe them the runs may part ways legitimately: which
// child waitpid(-1) reaps, whether fork finds the process table full,
// whether a message or the bytes in a pipe are there yet, what a child
// wrote into shared memory, whether the process a kill names still lives.
// The rule is therefore: the comparison ends (Detached) at the first
// syscall that may observe another process. Options.Concurrency classifies
// syscalls: Private ones never do (getpid, brk, mmap, signal, exit...);
// Shared ones do when another process exists in the kernel
// (Options.Others, checked on both machines at the trap): fork, waitpid,
// kill, the message queues, and every file and pipe operation, since
// children share files and pipes; Global ones always may: attaching shared
// memory (a process forked later can write it under any load) and the
// network (its stack picks ports at random and runs on its own). Until
// then the two runs are deterministic, and any difference is the engines'.
// The syscall that ends the comparison has been compared up to its trap,
// and the threads go on freely from there.
package lockstep

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// Options bound and tune a comparison.
type Options struct {
	// Steps is how many instructions are single-stepped in all; 0 steps
	// none (traps are still compared).
	Steps int
	// Window is how many instructions are stepped after each trap (and
	// at the start) before running freely to the next one; 0 steps
	// without a break until Steps are done.
	Window int
	// Volatile reports syscalls whose result legitimately differs between
	// two machines (the time): the interpreter's thread is given the
	// oracle's RAX after them.
	Volatile func(num uint64) bool
	// Timeout bounds a wait for the other side; 0 means a minute.
	Timeout time.Duration
	// Concurrency classifies syscalls by number (see the package doc);
	// nil makes every syscall Private.
	Concurrency func(num uint64) Concurrency
	// Others reports how many processes other than the compared one
	// exist in side's kernel, zombies included; nil means none.
	Others func(side int) int
}

// Concurrency says whether a syscall's result may depend on other
// processes.
type Concurrency int

const (
	// Private: the result follows from the process's own state.
	Private Concurrency = iota
	// Shared: the result may depend on other processes, if any exist.
	Shared
	// Global: the result, or memory the call shares, may depend on
	// other processes or on the machine at any time.
	Global
)

func (k Concurrency) String() string {
	switch k {
	case Private:
		return "private"
	case Shared:
		return "shared"
	}
	return "global"
}

// Sides of a pair.
const (
	Oracle = 0 // the engine whose results count (KVM)
	Tested = 1 // the engine under test (the interpreter)
)

// Pair compares the first threads of two kernels.
type Pair struct {
	opts  Options
	names [2]string
	ch    [2]chan *State
	// stop is closed when the comparison ends early: a divergence, an
	// abort, or an asynchronous stop.
	stop     chan struct{}
	stopOnce sync.Once

	mu       sync.Mutex
	div      *Divergence
	detached string
	steps    uint64
	traps    uint64
	masked   uint64
}

// NewPair makes a pair.
func NewPair(opts Options) *Pair {
	if opts.Timeout == 0 {
		opts.Timeout = time.Minute
	}
	return &Pair{opts: opts, ch: [2]chan *State{make(chan *State, 1), make(chan *State, 1)}, stop: make(chan struct{})}
}

// Wrap returns the engine a kernel on side (Oracle or Tested) is to use.
func (p *Pair) Wrap(side int, e cpu.Engine) cpu.Engine {
	p.names[side] = e.Name()
	return &engine{Engine: e, p: p, side: side}
}

// Divergence is the first difference found, or nil.
func (p *Pair) Divergence() *Divergence {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.div
}

// Detached says why the comparison stopped before the thread ended, or "".
func (p *Pair) Detached() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.detached
}

// Stats reports the instructions stepped and the traps compared (as the
// oracle counted them), and how many states had a difference masked.
func (p *Pair) Stats() (steps, traps, masked uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.steps, p.traps, p.masked
}

// Abort ends the comparison: both threads go on without it.
func (p *Pair) Abort(reason string) { p.detach(reason) }

func (p *Pair) detach(reason string) {
	p.mu.Lock()
	if p.detached == "" && p.div == nil {
		p.detached = reason
	}
	p.mu.Unlock()
	p.stopOnce.Do(func() { close(p.stop) })
}

func (p *Pair) diverged(d *Divergence) {
	p.mu.Lock()
	if p.div == nil {
		p.div = d
	}
	p.mu.Unlock()
	p.stopOnce.Do(func() { close(p.stop) })
}

var errStopped = errors.New("lockstep comparison stopped")

// exchange posts this side's state and returns the other side's.
func (p *Pair) exchange(side int, s *State) (*State, error) {
	t := time.NewTimer(p.opts.Timeout)
	defer t.Stop()
	select {
	case p.ch[side] <- s:
	case <-p.stop:
		return nil, errStopped
	case <-t.C:
		p.detach(fmt.Sprintf("%s side: timed out handing over its state", p.names[side]))
		return nil, errStopped
	}
	select {
	case peer := <-p.ch[1-side]:
		return peer, nil
	case <-p.stop:
		return nil, errStopped
	case <-t.C:
		p.detach(fmt.Sprintf("%s side waited %v for the %s side at %s", p.names[side], p.opts.Timeout, p.names[1-side], s.where()))
		return nil, errStopped
	}
}

// engine wraps a kernel's engine: its first CPU is compared.
type engine struct {
	cpu.Engine
	p       *Pair
	side    int
	wrapped atomic.Bool
}

func (e *engine) NewCPU(as *mmu.AddressSpace) (cpu.CPU, error) {
	c, err := e.Engine.NewCPU(as)
	if err != nil || e.wrapped.Swap(true) {
		return c, err
	}
	s, ok := c.(cpu.Stepper)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("lockstep: the %s engine's CPU cannot single-step", e.Name())
	}
	return &stepCPU{Stepper: s, p: e.p, side: e.side, as: as}, nil
}

// Phases of a state.
const (
	phaseStep   = "step"   // after one instruction
	phaseTrap   = "trap"   // after running freely to a trap
	phaseResume = "resume" // the kernel has served a trap; the thread resumes
	phaseEnd    = "end"    // the thread's CPU was closed
)

// State is one side's thread at a meeting point.
type State struct {
	Phase string
	Regs  cpu.Regs
	XMM   [16][2]uint64
	MXCSR uint32
	X87   X87
	Exit  cpu.Exit
	// PC and Insn are the instruction just executed (phaseStep), or the
	// trap's RIP before it ran (phaseTrap: where the free run began).
	PC   uint64
	Insn []byte
	// Pending says an asynchronous event waits to be delivered.
	Pending bool
	// Others is how many other processes existed in the kernel at a
	// syscall trap (Options.Others).
	Others int
	// Step and Trap count the instructions stepped and traps taken so
	// far.
	Step, Trap uint64
	// Recent are the addresses of the last instructions stepped, oldest
	// first.
	Recent []uint64
	noFP   bool
	// undefined are the flags the stepped instruction leaves undefined,
	// and counter says it read the time-stamp counter (flags.go).
	undefined uint64
	counter   bool
}

// X87 is the x87 state compared: the control word, the status word's
// TOP, condition codes C0, C2, C3 and exception flags IE, DE, ZE, OE, UE,
// the abridged tag word, and the registers (only those in use compare).
type X87 struct {
	FCW, FSW uint16
	FTW      uint8
	ST       [8][10]byte
}

// fswCompared are the status-word bits compared; C1 and PE follow
// rounding details the architecture leaves loose, SF and ES follow them.
const fswCompared = 0x7<<11 | 1<<14 | 1<<10 | 1<<8 | 0x1F

func (s *State) where() string {
	return fmt.Sprintf("%s %d (trap %d, pc 0x%x)", s.Phase, s.Step, s.Trap, s.Regs.RIP)
}

// stepCPU is a compared CPU.
type stepCPU struct {
	cpu.Stepper
	p    *Pair
	side int
	as   *mmu.AddressSpace

	pending  atomic.Bool // an Interrupt waits for the other side
	freeRun  atomic.Bool // inside the inner Run, where an Interrupt must go through
	detached bool
	resume   bool // the last Run returned a trap; compare how it resumes
	lastTrap *State
	steps    uint64
	traps    uint64
	window   int
	recent   []uint64
}

func (c *stepCPU) stopped() bool {
	select {
	case <-c.p.stop:
		return true
	default:
		return false
	}
}

// Interrupt implements cpu.CPU. While stepping it waits until both sides
// have one; while running freely it stops the thread.
func (c *stepCPU) Interrupt() {
	c.pending.Store(true)
	if c.freeRun.Load() || c.stopped() {
		c.Stepper.Interrupt()
	}
}

// Run implements cpu.CPU: it steps or runs the inner CPU, meeting the other
// side at every instruction stepped and every trap.
func (c *stepCPU) Run() (cpu.Exit, error) {
	if c.detached || c.stopped() {
		return c.runDetached()
	}
	if c.resume {
		c.resume = false
		st, err := c.capture(phaseResume, cpu.Exit{}, 0, nil)
		if err != nil {
			return cpu.Exit{}, err
		}
		if ex, err, done := c.meet(st); done {
			return ex, err
		}
	}
	for {
		step := int(c.steps) < c.p.opts.Steps && (c.p.opts.Window == 0 || c.window < c.p.opts.Window)
		pc := c.Regs().RIP
		insn := c.insnAt(pc)
		undefined, counter := classify(insn, c.Regs())
		var ex cpu.Exit
		var err error
		if step {
			ex, err = c.Step()
		} else {
			c.freeRun.Store(true)
			if c.pending.Load() {
				c.Stepper.Interrupt()
			}
			ex, err = c.Stepper.Run()
			c.freeRun.Store(false)
		}
		if err != nil {
			c.p.detach(fmt.Sprintf("%s engine failed: %v", c.p.names[c.side], err))
			return ex, err
		}
		if ex.Kind == cpu.ExitInterrupted {
			// The free run stopped wherever the event found it.
			c.p.detach(fmt.Sprintf("an asynchronous event stopped the %s thread while running freely after trap %d", c.p.names[c.side], c.traps))
			c.detached = true
			c.pending.Store(false)
			return ex, nil
		}
		phase := phaseTrap
		if step {
			phase = phaseStep
			c.steps++
			c.window++
			c.recent = append(c.recent, pc)
			if len(c.recent) > 8 {
				c.recent = c.recent[1:]
			}
		}
		if ex.Kind != cpu.ExitStep {
			c.traps++
			c.window = 0
		}
		st, err := c.capture(phase, ex, pc, insn)
		if err != nil {
			return cpu.Exit{}, err
		}
		if step {
			st.undefined, st.counter = undefined, counter
		}
		if ex.Kind == cpu.ExitSyscall && c.p.opts.Others != nil {
			st.Others = c.p.opts.Others(c.side)
		}
		if ex, err, done := c.meet(st); done {
			return ex, err
		}
		if ex.Kind != cpu.ExitStep {
			c.resume = true
			c.lastTrap = st
			return ex, nil
		}
	}
}

// meet exchanges st with the other side and compares. done says Run must
// return (ex, err): the comparison failed or stopped, or both sides have an
// event to deliver.
func (c *stepCPU) meet(st *State) (cpu.Exit, error, bool) {
	peer, err := c.p.exchange(c.side, st)
	if err != nil {
		if d := c.p.Divergence(); d != nil {
			return cpu.Exit{}, fmt.Errorf("lockstep divergence (see the test report)"), true
		}
		c.detached = true
		if c.resume || st.Phase == phaseResume {
			return cpu.Exit{Kind: cpu.ExitInterrupted}, nil, true
		}
		// The instruction has run; report it as an interruption so the
		// kernel looks at signals, and carry on without comparing.
		return cpu.Exit{Kind: cpu.ExitInterrupted}, nil, true
	}
	// Local copies: the other side reads st, and masking changes them.
	mine, theirs := *st, *peer
	oracle, tested := &mine, &theirs
	if c.side == Tested {
		oracle, tested = tested, oracle
	}
	var own *cpu.Regs
	if c.side == Tested {
		own = c.Regs()
	}
	var volatileTrap bool
	if t := c.lastTrap; st.Phase == phaseResume && t != nil && t.Exit.Kind == cpu.ExitSyscall && c.p.opts.Volatile != nil {
		volatileTrap = c.p.opts.Volatile(t.Regs.RAX)
	}
	masked := mask(oracle, tested, own, volatileTrap)
	if diffs := compare(oracle, tested); len(diffs) > 0 && !c.catchUp(st, oracle, tested) {
		d := &Divergence{Names: c.p.names, Oracle: oracle, Tested: tested, Diffs: diffs, Before: c.lastTrap}
		c.p.diverged(d)
		return cpu.Exit{}, fmt.Errorf("lockstep divergence at %s", st.where()), true
	}
	if c.side == Oracle {
		c.p.mu.Lock()
		c.p.steps, c.p.traps = st.Step, st.Trap
		if masked {
			c.p.masked++
		}
		c.p.mu.Unlock()
	}
	if why := c.p.observes(oracle, tested); why != "" {
		// Served normally; the threads go on without comparing.
		c.p.detach(why)
		c.detached = true
		return cpu.Exit{}, nil, false
	}
	if st.Phase == phaseStep && st.Pending && peer.Pending {
		c.pending.Store(false)
		c.resume = true
		return cpu.Exit{Kind: cpu.ExitInterrupted}, nil, true
	}
	return cpu.Exit{}, nil, false
}

// catchUp handles a step of the oracle that ran two instructions: on a
// PVM host the trap flag's #DB is now and then lost, so that KVM's Step
// goes on to the next one. When both sides stepped without a trap and
// differ, the tested side steps once more and both compare its new state
// with the oracle's; a match means the oracle ran two instructions, and the
// comparison goes on from there. Both sides decide alike.
func (c *stepCPU) catchUp(st, oracle, tested *State) bool {
	if st.Phase != phaseStep || oracle.Exit.Kind != cpu.ExitStep || tested.Exit.Kind != cpu.ExitStep {
		return false
	}
	mine := st
	if c.side == Tested {
		pc := c.Regs().RIP
		insn := c.insnAt(pc)
		undefined, counter := classify(insn, c.Regs())
		ex, err := c.Step()
		if err != nil {
			return false
		}
		var cerr error
		if mine, cerr = c.capture(phaseStep, ex, pc, insn); cerr != nil {
			return false
		}
		mine.undefined, mine.counter = undefined, counter
	}
	peer, err := c.p.exchange(c.side, mine)
	if err != nil {
		return false
	}
	o, t := *mine, *peer
	var own *cpu.Regs
	if c.side == Tested {
		o, t = *peer, *mine
		own = c.Regs()
	}
	// Flags either instruction leaves undefined may differ.
	o.undefined, o.counter = t.undefined|oracle.undefined, t.counter || oracle.counter
	mask(&o, &t, own, false)
	if len(compare(&o, &t)) != 0 {
		return false
	}
	// Both sides count the oracle's step as two instructions, so that
	// they stop stepping at the same place.
	c.steps++
	c.window++
	return true
}

// observes says why the syscall trap o and t (already found equal) ends
// the comparison, or "" when it does not: it may observe other processes
// (see the package doc). Both sides decide alike from the two states.
func (p *Pair) observes(o, t *State) string {
	if o.Exit.Kind != cpu.ExitSyscall || p.opts.Concurrency == nil || o.Phase != phaseStep && o.Phase != phaseTrap {
		return ""
	}
	num := o.Regs.RAX
	others := max(o.Others, t.Others)
	switch k := p.opts.Concurrency(num); {
	case k == Global:
		return fmt.Sprintf("syscall %d at trap %d (returning to 0x%x) may observe other processes or the machine at any time; the comparison ends there", num, o.Trap, o.Regs.RIP)
	case k == Shared && others > 0:
		return fmt.Sprintf("syscall %d at trap %d (returning to 0x%x) may observe the %d other processes (%s %d, %s %d); the comparison ends there",
			num, o.Trap, o.Regs.RIP, others, p.names[Oracle], o.Others, p.names[Tested], t.Others)
	}
	return ""
}

// runDetached runs the thread without comparing.
func (c *stepCPU) runDetached() (cpu.Exit, error) {
	c.detached = true
	c.freeRun.Store(true)
	defer c.freeRun.Store(false)
	if c.pending.Swap(false) {
		return cpu.Exit{Kind: cpu.ExitInterrupted}, nil
	}
	if d := c.p.Divergence(); d != nil {
		return cpu.Exit{}, fmt.Errorf("lockstep divergence at %s", d.Oracle.where())
	}
	return c.Stepper.Run()
}

// Close implements cpu.CPU: the other side must end its thread here too.
func (c *stepCPU) Close() error {
	if !c.detached && !c.stopped() {
		st := &State{Phase: phaseEnd, Step: c.steps, Trap: c.traps, Regs: *c.Regs(), noFP: true}
		c.meet(st)
	}
	return c.Stepper.Close()
}

// insnAt reads the (at most 15) bytes of the instruction at pc.
func (c *stepCPU) insnAt(pc uint64) []byte { return readInsn(c.as, pc) }

// readInsn reads the (at most 15) bytes of the instruction at pc in as.
func readInsn(as *mmu.AddressSpace, pc uint64) []byte {
	var b [15]byte
	n := 0
	for n < len(b) {
		// Up to the end of the page at once.
		chunk := min(len(b)-n, int(mmu.PageSize-(pc+uint64(n))%mmu.PageSize))
		if as.ReadAt(b[n:n+chunk], pc+uint64(n)) != nil {
			break
		}
		n += chunk
	}
	return b[:n]
}

// XSAVE legacy-area offsets.
const (
	xsFCW   = 0
	xsFSW   = 2
	xsFTW   = 4
	xsMXCSR = 24
	xsST    = 32
	xsXMM   = 160
)

// capture records the thread's state.
func (c *stepCPU) capture(phase string, ex cpu.Exit, pc uint64, insn []byte) (*State, error) {
	st := &State{Phase: phase, Exit: ex, PC: pc, Insn: insn, Pending: c.pending.Load(),
		Step: c.steps, Trap: c.traps, Recent: append([]uint64(nil), c.recent...)}
	return st, st.read(c.Stepper)
}

// read fills in the registers of c.
func (st *State) read(c cpu.CPU) error {
	st.Regs = *c.Regs()
	fp, err := c.FPState()
	if err != nil {
		return err
	}
	if fp == nil {
		st.noFP = true
		return nil
	}
	le := binary.LittleEndian
	st.MXCSR = le.Uint32(fp[xsMXCSR:])
	for i := range st.XMM {
		st.XMM[i] = [2]uint64{le.Uint64(fp[xsXMM+16*i:]), le.Uint64(fp[xsXMM+16*i+8:])}
	}
	st.X87.FCW = le.Uint16(fp[xsFCW:])
	st.X87.FSW = le.Uint16(fp[xsFSW:])
	st.X87.FTW = fp[xsFTW]
	for i := range st.X87.ST {
		copy(st.X87.ST[i][:], fp[xsST+16*i:])
	}
	return nil
}
