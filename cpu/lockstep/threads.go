package lockstep

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"sync"
)

// thread is one guest thread compared on both kernels: the CPU each
// kernel runs it on, meeting through ch.
type thread struct {
	// name is "1" for the first CPU, and the creator's name and a
	// number for the others: "1.2" is the second CPU thread 1 made.
	name string
	// origin says how the thread came to be, for reports.
	origin string
	ch     [2]chan *State
	// stop is closed when this thread's comparison ends before the
	// thread does (Detached); the other threads go on.
	stop     chan struct{}
	stopOnce sync.Once

	// Guarded by Pair.mu.
	made                 [2]int // CPUs the thread made on each side
	detached             string
	ended                bool // its CPU was closed on both sides, compared
	steps, traps, masked uint64
}

func newThread(name, origin string) *thread {
	return &thread{name: name, origin: origin,
		ch: [2]chan *State{make(chan *State, 1), make(chan *State, 1)}, stop: make(chan struct{})}
}

// describe names the thread for a report.
func (t *thread) describe() string {
	if t.origin == "" {
		return t.name
	}
	return t.name + " (" + t.origin + ")"
}

// live says the thread is still compared. Called with Pair.mu held.
func (t *thread) live() bool { return !t.ended && t.detached == "" }

// ThreadStats is what the comparison did with one thread.
type ThreadStats struct {
	// Name is "1" for the first CPU, and the creator's name and a
	// number for the others ("1.2" is the second CPU thread 1 made);
	// Origin says how it was made.
	Name, Origin string
	// Steps and Traps are the instructions stepped and the traps
	// compared; Masked counts the states that had a difference masked.
	Steps, Traps, Masked uint64
	// Detached says why the thread's comparison stopped before the
	// thread ended, or is "".
	Detached string
	// Ended says the thread was compared up to the end of its CPU.
	Ended bool
}

// Threads reports every thread compared, in the order they were made.
func (p *Pair) Threads() []ThreadStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ts []ThreadStats
	for _, t := range p.threads {
		ts = append(ts, ThreadStats{Name: t.name, Origin: t.origin, Steps: t.steps, Traps: t.traps,
			Masked: t.masked, Detached: t.detached, Ended: t.ended})
	}
	return ts
}

// birthKey says where a CPU was made, the same on both kernels: by which
// compared thread, inside which of its traps, and how many CPUs it had
// made before in that trap.
type birthKey struct {
	creator *thread
	trap    uint64
	index   int
}

// birth returns the thread a CPU made at k on side runs: the one the
// other side made there, or a new one that the other side's CPU will
// join. how says what made it ("fork", "execve").
func (p *Pair) birth(side int, k birthKey, how string) *thread {
	p.mu.Lock()
	defer p.mu.Unlock()
	k.creator.made[side]++
	if t, ok := p.births[k]; ok {
		delete(p.births, k)
		return t
	}
	t := newThread(fmt.Sprintf("%s.%d", k.creator.name, k.creator.made[side]),
		fmt.Sprintf("made by %s in thread %s's trap %d", how, k.creator.name, k.trap))
	p.births[k] = t
	p.threads = append(p.threads, t)
	return t
}

// births is one side's account of where its kernel makes CPUs, for
// NewCPU to tell which compared thread (if any) a new CPU belongs to. The
// engine's NewCPU is told only the address space, so the creator is found
// from what the kernel is doing:
//
//   - execve closes the thread's CPU and makes the new image's on the
//     same goroutine (a process's thread is one goroutine), so a CPU
//     closed inside a compared trap leaves its key under its goroutine,
//     and a CPU made on that goroutine continues the thread;
//   - fork makes the child's CPU on a new goroutine while the parent
//     waits inside its trap. Which thread forked cannot be seen from
//     there, but it need not be: a fork is paired only when the forking
//     thread reached the trap with no other process on either kernel
//     (Options.Others), and then nothing else can be making a CPU, until
//     the child starts to run and may fork in turn. That shuts the
//     window. The existence of a child forked beside other processes is
//     not deterministic anyway (fork may find the process table full).
type births struct {
	mu sync.Mutex
	// root says the kernel's first CPU, the first process's, was made.
	root bool
	// alone are the compared threads inside a syscall trap they reached
	// with no other process.
	alone map[*stepCPU]*birthWindow
	// heirs are the keys of CPUs closed inside a compared trap, by the
	// goroutine that closed them. Those of threads that exited stay
	// behind: goroutine ids are never reused, and there are few.
	heirs map[uint64]birthKey
}

// birthWindow is a trap a compared thread reached alone, while the CPUs made
// on its side are that thread's.
type birthWindow struct {
	made int  // CPUs made in it
	shut bool // one of them started to run: no more are the thread's
}

// enter records that c is inside a syscall trap it reached alone.
func (b *births) enter(c *stepCPU) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.alone == nil {
		b.alone = map[*stepCPU]*birthWindow{}
	}
	b.alone[c] = &birthWindow{}
}

// leave records that c left its trap, and returns how many CPUs were
// made in it (0 when c was not inside a trap it reached alone).
func (b *births) leave(c *stepCPU) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.alone[c]
	if w == nil {
		return 0
	}
	delete(b.alone, c)
	return w.made
}

// shut records that a CPU made in w starts to run.
func (b *births) shut(w *birthWindow) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w.shut = true
}

// closing records that c's CPU is closed inside a compared trap, after
// index CPUs were made in it: a CPU made next on this goroutine continues
// the thread (execve).
func (b *births) closing(c *stepCPU, index int) {
	id := goroutineID()
	if id == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.heirs == nil {
		b.heirs = map[uint64]birthKey{}
	}
	b.heirs[id] = birthKey{creator: c.th, trap: c.traps, index: index}
}

// made decides which thread a CPU just made on side runs: the first
// process's, one continuing or made by a compared thread, or none (nil).
// A CPU made in a window returns it, to be shut when the CPU starts.
func (b *births) made(p *Pair, side int) (*thread, *birthWindow) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.root {
		b.root = true
		return p.root, nil
	}
	if len(b.heirs) > 0 {
		id := goroutineID()
		if k, ok := b.heirs[id]; ok {
			delete(b.heirs, id)
			return p.birth(side, k, "execve"), nil
		}
	}
	var creator *stepCPU
	for c, w := range b.alone {
		if w.shut {
			continue
		}
		if creator != nil {
			// More than one thread could have made it (when
			// Options.Others is nil every thread counts as alone).
			return nil, nil
		}
		creator = c
	}
	if creator == nil {
		return nil, nil
	}
	w := b.alone[creator]
	w.made++
	return p.birth(side, birthKey{creator: creator.th, trap: creator.traps, index: w.made - 1}, "fork"), w
}

// goroutineID returns the calling goroutine's id, which heads its stack
// trace ("goroutine 42 [running]:"), or 0 if that cannot be read. The
// runtime never gives an id to a second goroutine.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b, ok := bytes.CutPrefix(b, []byte("goroutine "))
	if !ok {
		return 0
	}
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0
	}
	return id
}
