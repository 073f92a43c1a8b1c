package lockstep

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aurora-vm/aurora-vm/cpu"
)

// threadOptions compare a few windows of each thread, whatever the flags
// say, so that the tests below can count on children being stepped.
func threadOptions() Options {
	return Options{Steps: 3000, Window: 500, Volatile: volatile, Concurrency: concurrency}
}

// runImage runs a test image in lockstep for the tests below.
func runImage(t *testing.T, name string, setup func(*Pair)) *result {
	t.Helper()
	requireKVM(t)
	if err := buildImages(); err != nil {
		t.Fatal(err)
	}
	s, err := readSpec(name)
	if err != nil {
		t.Fatal(err)
	}
	return runPair(t, s, threadOptions(), setup)
}

// TestLockstepThreads checks that the threads made by compared ones are
// compared too: a forked child, and the image a child's execve starts.
func TestLockstepThreads(t *testing.T) {
	for _, tc := range []struct {
		image string
		// want are threads that must have been stepped, by name, and
		// how they were made.
		want map[string]string
	}{
		{"fork_tree", map[string]string{"1": "", "1.1": "fork"}},
		{"exec_basic", map[string]string{"1": "", "1.1": "fork"}},
		{"exec_signals", map[string]string{"1": "", "1.1": "fork", "1.1.1": "execve"}},
	} {
		t.Run(tc.image, func(t *testing.T) {
			res := runImage(t, tc.image, nil)
			res.report(t)
			threads := map[string]ThreadStats{}
			for _, th := range res.pair.Threads() {
				threads[th.Name] = th
			}
			var all uint64
			for name, how := range tc.want {
				th, ok := threads[name]
				switch {
				case !ok:
					t.Errorf("thread %s was not compared", name)
				case th.Steps == 0:
					t.Errorf("thread %s (%s) was not stepped", name, th.Origin)
				case !strings.Contains(th.Origin, how):
					t.Errorf("thread %s was %s, want one made by %s", name, th.Origin, how)
				}
				all += th.Steps
			}
			if steps, _, _ := res.pair.Stats(); steps < all {
				t.Errorf("Stats counts %d instructions stepped, fewer than the threads' %d", steps, all)
			}
		})
	}
}

// TestLockstepChildDifference injects a difference into the interpreter's
// side of a forked child and of an exec'd image as they start, and checks
// that the comparison reports it in that thread.
func TestLockstepChildDifference(t *testing.T) {
	for _, tc := range []struct{ image, thread string }{
		{"fork_tree", "1.1"},
		{"exec_signals", "1.1.1"},
	} {
		t.Run(tc.image, func(t *testing.T) {
			var injected atomic.Bool
			res := runImage(t, tc.image, func(p *Pair) {
				p.start = func(side int, thread string, c cpu.CPU) {
					if side == Tested && thread == tc.thread {
						c.Regs().RBX ^= 0x5a
						injected.Store(true)
					}
				}
			})
			if !injected.Load() {
				t.Fatalf("thread %s never started on the interpreter's side", tc.thread)
			}
			d := res.pair.Divergence()
			if d == nil {
				t.Fatalf("the difference injected into thread %s was not found", tc.thread)
			}
			if !strings.HasPrefix(d.Thread, tc.thread+" ") || d.Oracle.Phase != phaseStart {
				t.Errorf("divergence in thread %q at %s, want thread %s at its start:\n%v", d.Thread, d.Oracle.Phase, tc.thread, d)
			}
			var rbx bool
			for _, diff := range d.Diffs {
				rbx = rbx || diff.Field == "RBX"
			}
			if !rbx {
				t.Errorf("the divergence does not name RBX:\n%v", d)
			}
			t.Logf("found as expected:\n%v", d)
		})
	}
}

func TestGoroutineID(t *testing.T) {
	ids := make(chan uint64, 2)
	for range 2 {
		go func() { ids <- goroutineID() }()
	}
	a, b, c := <-ids, <-ids, goroutineID()
	if a == 0 || b == 0 || c == 0 || a == b || a == c || b == c {
		t.Errorf("goroutine ids %d, %d, %d: want three different ones", a, b, c)
	}
}

// TestServedEvent checks which differences after a trap are put down to a
// signal that reached one side only.
func TestServedEvent(t *testing.T) {
	p := NewPair(Options{})
	p.names = [2]string{"kvm", "interp"}
	for _, tc := range []struct {
		o, t State
		want bool
	}{
		{State{Phase: phaseResume, Pending: true}, State{Phase: phaseResume}, true},
		{State{Phase: phaseEnd}, State{Phase: phaseResume, Pending: true}, true},
		{State{Phase: phaseStart}, State{Phase: phaseEnd}, true},
		{State{Phase: phaseResume, Pending: true}, State{Phase: phaseResume, Pending: true}, false},
		{State{Phase: phaseResume}, State{Phase: phaseResume}, false},
		{State{Phase: phaseStep, Pending: true}, State{Phase: phaseStep}, false},
		{State{Phase: phaseTrap, Pending: true}, State{Phase: phaseTrap}, false},
	} {
		if got := p.servedEvent(&tc.o, &tc.t) != ""; got != tc.want {
			t.Errorf("%s (pending %v) and %s (pending %v): put down to an event %v, want %v",
				tc.o.Phase, tc.o.Pending, tc.t.Phase, tc.t.Pending, got, tc.want)
		}
	}
}

// TestMaskFreeRunFlags checks that the arithmetic flags at a trap reached
// by running freely are taken from the oracle, with R11 at a syscall, and
// that DF and the rest still compare.
func TestMaskFreeRunFlags(t *testing.T) {
	sys := cpu.Exit{Kind: cpu.ExitSyscall}
	o := &State{Phase: phaseTrap, Exit: sys, Regs: cpu.Regs{RFLAGS: 0x202 | flagAF, R11: 0x202 | flagAF}}
	x := &State{Phase: phaseTrap, Exit: sys, Regs: cpu.Regs{RFLAGS: 0x202 | flagCF, R11: 0x202 | flagCF}}
	own := x.Regs
	if !mask(o, x, &own, false) {
		t.Error("mask changed nothing")
	}
	if d := compare(o, x); len(d) != 0 {
		t.Errorf("differences left after masking: %v", d)
	}
	if own.RFLAGS != o.Regs.RFLAGS || own.R11 != o.Regs.R11 {
		t.Errorf("the tested thread goes on with RFLAGS %#x R11 %#x, want the oracle's %#x %#x", own.RFLAGS, own.R11, o.Regs.RFLAGS, o.Regs.R11)
	}
	x.Regs.RFLAGS |= flagDF
	mask(o, x, nil, false)
	if d := compare(o, x); len(d) != 1 || d[0].Field != "RFLAGS" {
		t.Errorf("DF differs, compare says %v", d)
	}
}
