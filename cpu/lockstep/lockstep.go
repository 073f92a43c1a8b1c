// Package lockstep compares two execution engines instruction by
// instruction: the KVM engine as the hardware oracle, and the x86-64
// interpreter.
//
// A Pair joins two kernels, one per engine, each on its own guest memory:
// Wrap gives each kernel an engine whose compared CPUs execute through
// cpu.Stepper.Step, and meet the other side's CPU after every instruction
// to compare RIP, the general registers, the arithmetic flags and DF,
// XMM0-15, MXCSR and the x87 registers in use. Each kernel serves its own
// engine's syscalls and faults, and the state it resumes the thread with
// is compared as well, so a syscall that gives a different result on the
// two machines is caught where it returns. The first difference stops
// every compared thread (their Run fails, which kills the process) and is
// kept as a Divergence: the thread, the instruction's address, bytes and
// disassembly, and both register files.
//
// Stepping costs a trap per instruction on KVM (about 50 us on PVM hosts,
// see cpu/kvm/step.go), so Options bound it, for each thread: Steps
// instructions in all, Window at most after each trap. Between windows
// both engines run freely to the next trap, and the full state is
// compared at every trap, so a whole program is always checked at trap
// granularity.
//
// On PVM hosts the KVM engine's Step now and then runs two instructions
// (the trap flag's #DB is lost); where the oracle's step is ahead of the
// interpreter's, the interpreter steps once more to catch up (catchUp),
// and only a difference that remains counts.
//
// What may legitimately differ is masked and then copied from the oracle
// (side 0) to the interpreter (side 1), so the two threads go on from the
// same state: arithmetic flags that the architecture leaves undefined after
// the instruction (flags.go), the arithmetic flags at a trap reached by
// running freely (the instruction that last wrote them ran unobserved, and
// may have left them undefined: a shift before a copy-on-write fault), the
// counter RDTSC and RDTSCP read, and the results of syscalls that report
// the time (Options.Volatile).
//
// # Threads
//
// Every thread whose existence and starting state follow from compared
// execution is compared: the first process's, the new image a compared
// thread's execve starts (the kernel moves the process to a new CPU on a
// new address space, and closes the old CPU, which ends its thread), and
// the child a compared thread forks while no other process exists on
// either kernel. A CPU made while a compared thread is inside such a trap
// is paired with the one the other kernel makes at the same point: by the
// creating thread, the trap, and the order within the trap (threads.go
// says how the creator is told), never by a count that threads running
// freely could disturb. Every other CPU, made by a thread already
// detached or by one not compared, runs as it would unwrapped.
//
// Each compared thread is compared on its own, with the same rules and its
// own budget of Steps and Window: its whole state where it starts, each
// instruction stepped, each trap and how the kernel resumes it, and where
// its CPU is closed. The comparison of one thread may end (Detached)
// while the others go on; a divergence in any thread stops them all, and
// the first one found is the one kept. Threads reports each thread, Stats
// adds them up.
//
// Events that arrive asynchronously (a signal from another process) are
// delivered only once both sides of a thread have one pending, at the
// same instruction; one that stops a freely running thread ends that
// thread's comparison, since its two sides stop at different places. So
// does one that reaches one side only while its kernel serves a trap, if
// the kernels then resume the thread differently (or one ends it): a
// kernel delivers pending signals at every trap (servedEvent). The first
// process's end is such an event for the threads still compared: its
// kernel then kills the others.
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
// The rule is therefore: a thread's comparison ends (Detached) at its
// first syscall that may observe another process. Options.Concurrency
// classifies syscalls: Private ones never do (getpid, brk, mmap, signal,
// exit, execve...); Shared ones do when another process exists in the
// kernel (Options.Others, checked on both machines at the trap; for a
// forked child its parent is one): fork, waitpid, kill, the message
// queues, and every file and pipe operation, since children share files
// and pipes; Global ones always may: attaching shared memory (a process
// forked later can write it under any load) and the network (its stack
// picks ports at random and runs on its own). Until then the two runs are
// deterministic, and any difference is the engines'. The syscall that
// ends a thread's comparison has been compared up to its trap, and the
// thread goes on freely from there, as do the CPUs it makes afterwards.
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
	// Steps is how many instructions are single-stepped in all, in each
	// thread; 0 steps none (traps are still compared).
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
	// Others reports how many processes other than the calling thread's
	// exist in side's kernel, zombies included; nil means none. It is
	// called at each syscall trap of a compared thread, on the goroutine
	// that runs the thread (one process has one thread, so "other than
	// the caller's" is all but one).
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

// Pair compares the threads of two kernels.
type Pair struct {
	opts  Options
	names [2]string
	// stop is closed when every thread's comparison ends: a divergence
	// or an abort.
	stop     chan struct{}
	stopOnce sync.Once
	// root is the first process's thread.
	root *thread
	// start, if set, is called on each side of a thread as it starts, on
	// the CPU about to run (tests use it to inject a difference).
	start func(side int, thread string, c cpu.CPU)

	mu      sync.Mutex
	div     *Divergence
	aborted string
	// threads are the threads compared, in the order they were made;
	// births those one side has made and the other not yet.
	threads []*thread
	births  map[birthKey]*thread
}

// NewPair makes a pair.
func NewPair(opts Options) *Pair {
	if opts.Timeout == 0 {
		opts.Timeout = time.Minute
	}
	root := newThread("1", "")
	return &Pair{opts: opts, stop: make(chan struct{}), root: root,
		threads: []*thread{root}, births: map[birthKey]*thread{}}
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

// Detached says why the comparison stopped before every compared thread
// ended, or "": why the first process's thread stopped, else why Abort
// stopped threads still compared, else why the first other thread that
// stopped early did, after its name (Threads has them all).
func (p *Pair) Detached() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.root.detached != "" {
		return p.root.detached
	}
	if p.aborted != "" {
		return p.aborted
	}
	for _, t := range p.threads {
		if t.detached != "" {
			return fmt.Sprintf("thread %s: %s", t.describe(), t.detached)
		}
	}
	return ""
}

// Stats reports the instructions stepped and the traps compared (as the
// oracle counted them), and how many states had a difference masked, in
// all threads.
func (p *Pair) Stats() (steps, traps, masked uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.threads {
		steps += t.steps
		traps += t.traps
		masked += t.masked
	}
	return steps, traps, masked
}

// Abort ends the comparison: every thread goes on without it. The reason
// is kept (see Detached) if some thread was still compared.
func (p *Pair) Abort(reason string) {
	p.mu.Lock()
	if p.aborted == "" && p.div == nil {
		for _, t := range p.threads {
			if t.live() {
				p.aborted = reason
				break
			}
		}
	}
	p.mu.Unlock()
	p.stopOnce.Do(func() { close(p.stop) })
}

// detach ends the comparison of thread t: both its sides go on freely.
func (p *Pair) detach(t *thread, reason string) {
	p.mu.Lock()
	if t.detached == "" && !t.ended && p.div == nil {
		t.detached = reason
	}
	p.mu.Unlock()
	t.stopOnce.Do(func() { close(t.stop) })
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

// exchange posts side's state of thread t and returns the other side's.
func (p *Pair) exchange(t *thread, side int, s *State) (*State, error) {
	timer := time.NewTimer(p.opts.Timeout)
	defer timer.Stop()
	select {
	case t.ch[side] <- s:
	case <-t.stop:
		return nil, errStopped
	case <-p.stop:
		return nil, errStopped
	case <-timer.C:
		p.detach(t, fmt.Sprintf("%s side: timed out handing over its state", p.names[side]))
		return nil, errStopped
	}
	select {
	case peer := <-t.ch[1-side]:
		return peer, nil
	case <-t.stop:
		return nil, errStopped
	case <-p.stop:
		return nil, errStopped
	case <-timer.C:
		p.detach(t, fmt.Sprintf("%s side waited %v for the %s side at %s", p.names[side], p.opts.Timeout, p.names[1-side], s.where()))
		return nil, errStopped
	}
}

// engine wraps a kernel's engine: the CPUs of compared threads are
// wrapped to step and meet the other side's.
type engine struct {
	cpu.Engine
	p      *Pair
	side   int
	births births
}

func (e *engine) NewCPU(as *mmu.AddressSpace) (cpu.CPU, error) {
	c, err := e.Engine.NewCPU(as)
	t, w := e.births.made(e.p, e.side)
	switch {
	case t == nil:
		return c, err
	case err != nil:
		// The other side's CPU need not wait for this one.
		e.p.detach(t, fmt.Sprintf("the %s engine could not make the CPU: %v", e.Name(), err))
		return c, err
	}
	s, ok := c.(cpu.Stepper)
	if !ok {
		c.Close()
		e.p.detach(t, fmt.Sprintf("the %s engine's CPU cannot single-step", e.Name()))
		return nil, fmt.Errorf("lockstep: the %s engine's CPU cannot single-step", e.Name())
	}
	return &stepCPU{Stepper: s, p: e.p, e: e, th: t, side: e.side, as: as, madeIn: w}, nil
}

// Phases of a state.
const (
	phaseStart  = "start"  // the thread is about to run its first instruction
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
	// Created is how many compared threads' CPUs the kernel made while
	// serving the trap (phaseResume).
	Created int
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

// stepCPU is one side of a compared thread.
type stepCPU struct {
	cpu.Stepper
	p    *Pair
	e    *engine
	th   *thread
	side int
	as   *mmu.AddressSpace

	// madeIn, if set, is the trap the CPU was made in (see births).
	madeIn   *birthWindow
	pending  atomic.Bool // an Interrupt waits for the other side
	freeRun  atomic.Bool // inside the inner Run, where an Interrupt must go through
	started  bool        // the start was compared
	detached bool
	resume   bool // the last Run returned a trap; compare how it resumes
	alone    bool // the last syscall trap met no other process on either side
	lastTrap *State
	steps    uint64
	traps    uint64
	window   int
	recent   []uint64
}

func (c *stepCPU) stopped() bool {
	select {
	case <-c.th.stop:
		return true
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
	if c.madeIn != nil {
		// From here on this thread may make CPUs itself.
		c.e.births.shut(c.madeIn)
		c.madeIn = nil
	}
	created := c.e.births.leave(c)
	if c.detached || c.stopped() {
		return c.runDetached()
	}
	if !c.started {
		c.started = true
		if c.p.start != nil {
			c.p.start(c.side, c.th.name, c.Stepper)
		}
		st, err := c.capture(phaseStart, cpu.Exit{}, 0, nil)
		if err != nil {
			return cpu.Exit{}, err
		}
		if ex, err, done := c.meet(st); done {
			return ex, err
		}
	}
	if c.resume {
		c.resume = false
		st, err := c.capture(phaseResume, cpu.Exit{}, 0, nil)
		if err != nil {
			return cpu.Exit{}, err
		}
		st.Created = created
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
			c.p.detach(c.th, fmt.Sprintf("%s engine failed: %v", c.p.names[c.side], err))
			return ex, err
		}
		if ex.Kind == cpu.ExitInterrupted {
			// The free run stopped wherever the event found it.
			c.p.detach(c.th, fmt.Sprintf("an asynchronous event stopped the %s thread while running freely after trap %d", c.p.names[c.side], c.traps))
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
			if ex.Kind == cpu.ExitSyscall && c.alone && !c.detached {
				// CPUs made while the kernel serves it are this
				// thread's (see births).
				c.e.births.enter(c)
			}
			return ex, nil
		}
	}
}

// meet exchanges st with the other side and compares. done says Run must
// return (ex, err): the comparison failed or stopped, or both sides have an
// event to deliver.
func (c *stepCPU) meet(st *State) (cpu.Exit, error, bool) {
	peer, err := c.p.exchange(c.th, c.side, st)
	if err != nil {
		if d := c.p.Divergence(); d != nil {
			return cpu.Exit{}, fmt.Errorf("lockstep divergence (see the test report)"), true
		}
		// The instruction has run (or the thread starts or resumes);
		// report it as an interruption so the kernel looks at signals,
		// and carry on without comparing.
		c.detached = true
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
		why := c.p.servedEvent(oracle, tested)
		if why == "" {
			why = c.p.signalledAtTrap(oracle, tested, c.lastTrap)
		}
		if why != "" {
			c.p.detach(c.th, why)
			c.detached = true
			return cpu.Exit{Kind: cpu.ExitInterrupted}, nil, true
		}
		d := &Divergence{Names: c.p.names, Thread: c.th.describe(), Oracle: oracle, Tested: tested, Diffs: diffs, Before: c.lastTrap}
		c.p.diverged(d)
		return cpu.Exit{}, fmt.Errorf("lockstep divergence at %s", st.where()), true
	}
	if c.side == Oracle {
		c.p.mu.Lock()
		c.th.steps, c.th.traps = st.Step, st.Trap
		if masked {
			c.th.masked++
		}
		c.p.mu.Unlock()
	}
	if st.Exit.Kind == cpu.ExitSyscall && (st.Phase == phaseStep || st.Phase == phaseTrap) {
		c.alone = max(oracle.Others, tested.Others) == 0
	}
	if why := c.p.observes(oracle, tested); why != "" {
		// Served normally; the thread goes on without comparing.
		c.p.detach(c.th, why)
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
	peer, err := c.p.exchange(c.th, c.side, mine)
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

// servedEvent says why the differing states o and t, met after the
// kernels served a trap, are no divergence, or "" when they are: an
// asynchronous event (a signal another process sent) reached one side
// only while its kernel served the trap, and that kernel delivered it
// there (a handler, or the end of the process), as kernels do at every
// trap. Events that reach both sides, a signal the process sends itself
// among them, are delivered alike. A kernel that ends a thread before its
// first instruction does so for the same reason: a signal that reached
// the process on that side as execve moved it to its new CPU.
func (p *Pair) servedEvent(o, t *State) string {
	if o.Phase == phaseStart && t.Phase == phaseEnd || o.Phase == phaseEnd && t.Phase == phaseStart {
		side := Oracle
		if t.Phase == phaseEnd {
			side = Tested
		}
		return fmt.Sprintf("the %s kernel ended the thread before it ran (a signal reached it on that side only)", p.names[side])
	}
	served := func(s *State) bool { return s.Phase == phaseResume || s.Phase == phaseEnd }
	if !served(o) || !served(t) || o.Pending == t.Pending {
		return ""
	}
	side := Oracle
	if t.Pending {
		side = Tested
	}
	return fmt.Sprintf("an asynchronous event reached the %s thread only, while its kernel served trap %d; the two kernels went on from the trap differently (%s on %s, %s on %s)",
		p.names[side], o.Trap, o.Phase, p.names[Oracle], t.Phase, p.names[Tested])
}

// signalledAtTrap says why resumes that go on at different places are no
// divergence, or "" when they are: other processes were alive at the trap,
// and a signal one of them sent may have reached one side's kernel only
// while it served the trap, to be delivered there. Pending sees only the
// signals that come while the thread runs. A syscall whose result differs
// resumes at the same place and is still a divergence.
func (p *Pair) signalledAtTrap(o, t, trap *State) string {
	if o.Phase != phaseResume || t.Phase != phaseResume || trap == nil || trap.Others == 0 || o.Regs.RIP == t.Regs.RIP {
		return ""
	}
	return fmt.Sprintf("the kernels resumed trap %d at different places (0x%x on %s, 0x%x on %s) while %d other processes lived: a signal one of them sent reached one side only",
		o.Trap, o.Regs.RIP, p.names[Oracle], t.Regs.RIP, p.names[Tested], trap.Others)
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
// A CPU closed inside a compared trap may be followed by the process's
// new one (execve), which goes on as a thread of its own.
func (c *stepCPU) Close() error {
	created := c.e.births.leave(c)
	if !c.detached && !c.stopped() {
		st := &State{Phase: phaseEnd, Step: c.steps, Trap: c.traps, Regs: *c.Regs(), Pending: c.pending.Load(), noFP: true}
		if _, _, done := c.meet(st); !done {
			c.p.mu.Lock()
			c.th.ended = true
			c.p.mu.Unlock()
			if c.resume {
				c.e.births.closing(c, created)
			}
		}
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
