package lockstep

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/cpu/interp"
	"github.com/aurora-vm/aurora-vm/cpu/kvm"
	"github.com/aurora-vm/aurora-vm/kernel"
	"github.com/aurora-vm/aurora-vm/kernel/vfs"
	"github.com/aurora-vm/aurora-vm/mmu"
	"github.com/aurora-vm/aurora-vm/syscall"
)

var (
	flagSteps  = flag.Int("lockstep.steps", 10000, "instructions to single-step per test image")
	flagWindow = flag.Int("lockstep.window", 1000, "instructions to step after each trap before running to the next (0: no break)")
	flagImages = flag.String("lockstep.images", "", "regular expression choosing the test images (default: all)")
	flagLimit  = flag.Duration("lockstep.limit", time.Minute, "wall-clock limit per test image")
)

// imagesDir is testimages/, relative to this package.
const imagesDir = "../../testimages"

// concurrency classifies Aurora's syscalls for Options.Concurrency (see
// the package doc): whether their results may depend on other processes.
func concurrency(num uint64) Concurrency {
	switch num {
	case syscall.SysExit, syscall.SysGetpid, syscall.SysGetppid, syscall.SysBrk, syscall.SysMmap,
		syscall.SysMunmap, syscall.SysYield, syscall.SysSignal, syscall.SysSigreturn, syscall.SysSleep,
		syscall.SysUptime, syscall.SysSetfilter, syscall.SysLasterror, syscall.SysSetErrnoAddr,
		syscall.SysExecve, syscall.SysPipe:
		return Private
	case syscall.SysShmget, syscall.SysShmat, syscall.SysShmdt, syscall.SysSocket, syscall.SysBind,
		syscall.SysConnect, syscall.SysSend, syscall.SysRecv, syscall.SysListen, syscall.SysAccept,
		syscall.SysSendto, syscall.SysRecvfrom, syscall.SysGetpeername, syscall.SysGetsockname,
		syscall.SysShutdown, syscall.SysSetnonblock, syscall.SysSettimeout, syscall.SysPoll:
		return Global
	}
	// fork, waitpid, kill, the message queues, and the file and pipe
	// operations, which children share.
	return Shared
}

// requireKVM skips the test where KVM, the oracle, is missing.
func requireKVM(t testing.TB) {
	if err := kvm.Available(); err != nil {
		t.Skipf("skipping: no hardware oracle: %v", err)
	}
}

// buildImages builds testimages/build/*.elf once.
var buildImages = sync.OnceValue(func() error {
	out, err := exec.Command("make", "-s", "-C", imagesDir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("make -C testimages: %v\n%s", err, out)
	}
	return nil
})

// TestLockstep runs every test image on KVM and on the interpreter side
// by side, comparing every instruction stepped (see the flags for the
// budget) and every trap.
func TestLockstep(t *testing.T) {
	requireKVM(t)
	if err := buildImages(); err != nil {
		t.Fatal(err)
	}
	sources, _ := filepath.Glob(filepath.Join(imagesDir, "*.c"))
	re := regexp.MustCompile(*flagImages)
	for _, src := range sources {
		name := strings.TrimSuffix(filepath.Base(src), ".c")
		if !re.MatchString(name) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			spec, err := readSpec(name)
			if err != nil {
				t.Fatal(err)
			}
			res := runPair(t, spec, imageOptions(), nil)
			res.report(t)
		})
	}
}

// imageOptions are the options the test images are compared with.
func imageOptions() Options {
	return Options{Steps: *flagSteps, Window: *flagWindow, Volatile: volatile, Concurrency: concurrency}
}

// volatile names the syscalls whose results depend on when they run.
func volatile(num uint64) bool { return num == syscall.SysUptime }

// spec is how the golden test runs an image: testimages/NAME.args,
// .stdin, .stdin-open and .flags.
type spec struct {
	name      string
	path      string
	args      []string
	stdin     []byte
	stdinOpen bool
	memory    uint64
	maxProcs  int
	tmpfs     int64
	mounts    []vfs.Mount
	limit     time.Duration
}

func readSpec(name string) (*spec, error) {
	base := filepath.Join(imagesDir, name)
	s := &spec{name: name, path: filepath.Join(imagesDir, "build", name+".elf"), memory: 256 << 20, limit: *flagLimit}
	s.args = append([]string{s.path}, lines(base+".args")...)
	s.stdin, _ = os.ReadFile(base + ".stdin")
	if _, err := os.Stat(base + ".stdin-open"); err == nil {
		s.stdinOpen = true
	}
	fl := lines(base + ".flags")
	for i := 0; i < len(fl); i++ {
		arg := func() (string, error) {
			if i+1 >= len(fl) {
				return "", fmt.Errorf("%s.flags: %s lacks its value", name, fl[i])
			}
			i++
			return fl[i], nil
		}
		v, err := arg()
		if err != nil {
			return nil, err
		}
		switch fl[i-1] {
		case "-v", "--volume":
			parts := strings.Split(v, ":")
			m := vfs.Mount{HostDir: filepath.Join(imagesDir, parts[0]), Path: parts[1]}
			m.ReadOnly = len(parts) > 2 && parts[2] == "ro"
			s.mounts = append(s.mounts, m)
		case "--max-procs":
			s.maxProcs, err = strconv.Atoi(v)
		case "--tmpfs-size", "--memory":
			var n uint64
			n, err = parseSize(v)
			if fl[i-1] == "--memory" {
				s.memory = n
			} else {
				s.tmpfs = int64(n)
			}
		case "--timeout":
			var d time.Duration
			d, err = time.ParseDuration(v)
			s.limit = min(s.limit, d)
		default:
			err = fmt.Errorf("%s.flags: %s is not understood here", name, fl[i-1])
		}
		if err != nil {
			return nil, err
		}
	}
	if s.tmpfs == 0 {
		s.tmpfs = int64(s.memory / 2)
	}
	return s, nil
}

func parseSize(v string) (uint64, error) {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(v, "K"):
		mult = 1 << 10
	case strings.HasSuffix(v, "M"):
		mult = 1 << 20
	case strings.HasSuffix(v, "G"):
		mult = 1 << 30
	}
	n, err := strconv.ParseUint(strings.TrimRight(v, "KMG"), 10, 64)
	return n * mult, err
}

func lines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// machine is one side: a kernel on its own guest memory.
type machine struct {
	phys   *mmu.PhysMem
	eng    cpu.Engine
	k      *kernel.Kernel
	proc   *kernel.Process
	stdin  *io.PipeWriter
	stdout bytes.Buffer
	stderr bytes.Buffer
}

// syncBuffer is a bytes.Buffer safe for the kernel's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// result is what a paired run found.
type result struct {
	pair     *Pair
	m        [2]*machine
	finished bool
}

// runPair runs the image on both engines in lockstep; setup, if not nil,
// adjusts the pair before the kernels start.
func runPair(t *testing.T, s *spec, opts Options, setup func(*Pair)) *result {
	t.Helper()
	res := &result{}
	// Each process has one thread, so the processes other than the
	// asking thread's are all but one.
	opts.Others = func(side int) int { return res.m[side].k.Processes() - 1 }
	pair := NewPair(opts)
	res.pair = pair
	if setup != nil {
		setup(pair)
	}
	for side := range 2 {
		m := &machine{}
		var err error
		if m.phys, err = mmu.NewPhysMem(s.memory); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.phys.Close() })
		if side == Oracle {
			ke, err := kvm.New(m.phys)
			if err != nil {
				t.Fatal(err)
			}
			m.eng = ke
		} else {
			m.eng = interp.New(m.phys)
		}
		t.Cleanup(func() { m.eng.Close() })
		stdinR, stdinW := io.Pipe()
		m.stdin = stdinW
		go func() {
			stdinW.Write(s.stdin)
			if !s.stdinOpen {
				stdinW.Close()
			}
		}()
		m.k = kernel.New(kernel.Config{
			Engine: pair.Wrap(side, m.eng), Phys: m.phys, Syscalls: syscall.Dispatch,
			Stdin: stdinR, Stdout: &syncBuffer{b: &m.stdout}, Stderr: &syncBuffer{b: &m.stderr},
			MaxProcs: s.maxProcs, Mounts: s.mounts, TmpfsSize: s.tmpfs,
		})
		img, err := kernel.LoadProgram(s.path)
		if err != nil {
			t.Fatal(err)
		}
		if m.proc, err = m.k.Spawn(img, s.args, []string{"HOME=/", "PATH=/bin"}); err != nil {
			t.Fatal(err)
		}
		res.m[side] = m
	}
	for _, m := range res.m {
		if err := m.k.Start(m.proc); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(s.limit)
	res.finished = true
	for _, m := range res.m {
		select {
		case <-m.proc.Done():
		case <-deadline:
			res.finished = false
			pair.Abort(fmt.Sprintf("the time limit of %v ran out", s.limit))
		}
		if !res.finished {
			break
		}
	}
	// The first process ended (or time ran out): Shutdown kills the
	// rest, at a different moment on each kernel, so the threads still
	// compared go on without the comparison.
	pair.Abort("the first process ended while other threads were compared")
	for _, m := range res.m {
		m.stdin.Close()
		m.k.Shutdown(5 * time.Second)
	}
	return res
}

// report fails the test on a divergence: the comparison ends before the
// program can observe other processes (see the package doc), so every
// divergence is the engines'. It logs what each thread compared.
func (r *result) report(t *testing.T) {
	t.Helper()
	steps, traps, masked := r.pair.Stats()
	threads := r.pair.Threads()
	t.Logf("%d threads compared: %d instructions stepped, %d traps compared, %d states with undefined or volatile values masked",
		len(threads), steps, traps, masked)
	for _, th := range threads {
		name := th.Name
		if th.Origin != "" {
			name += " (" + th.Origin + ")"
		}
		end := "to its end"
		switch {
		case th.Detached != "":
			end = "stopped early: " + th.Detached
		case !th.Ended:
			end = "not to its end"
		}
		t.Logf("  thread %s: %d instructions, %d traps, %s", name, th.Steps, th.Traps, end)
	}
	if d := r.pair.Divergence(); d != nil {
		t.Fatalf("%v", d)
	}
	if why := r.pair.Detached(); why != "" {
		t.Logf("comparison stopped early: %s", why)
		return
	}
	o, x := r.m[Oracle], r.m[Tested]
	if !r.finished {
		return
	}
	if o.proc.Status() != x.proc.Status() {
		t.Errorf("exit status: %s %+v, %s %+v", o.eng.Name(), o.proc.Status(), x.eng.Name(), x.proc.Status())
	}
	if o.stdout.String() != x.stdout.String() {
		t.Errorf("stdout differs\n--- %s:\n%s--- %s:\n%s", o.eng.Name(), o.stdout.String(), x.eng.Name(), x.stdout.String())
	}
}
