package kernel_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aurora-vm/aurora-vm/cpu/kvm"
	"github.com/aurora-vm/aurora-vm/kernel"
	"github.com/aurora-vm/aurora-vm/mmu"
	"github.com/aurora-vm/aurora-vm/syscall"
)

// buildGuest compiles a C program in testdata with the guest toolchain.
func buildGuest(t *testing.T, name string) *kernel.Image {
	t.Helper()
	out := filepath.Join(t.TempDir(), name+".elf")
	cmd := exec.Command("../guest/aurora-cc", "-O2", "-o", out, filepath.Join("testdata", name+".c"))
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, msg)
	}
	img, err := kernel.LoadProgram(out)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestForkingProgramsLeakNothing runs several forking programs at once on
// one VM, again and again, and checks that everything comes back: guest
// frames, vCPUs (all idle in the engine's pool) and goroutines.
func TestForkingProgramsLeakNothing(t *testing.T) {
	if err := kvm.Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	img := buildGuest(t, "forks")
	phys, err := mmu.NewPhysMem(256 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer phys.Close()
	engine, err := kvm.New(phys)
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	goroutines := runtime.NumGoroutine()
	free := phys.FreeFrames()
	_, _, engineFrames := engine.Usage()

	const rounds, concurrent = 3, 4
	for round := 0; round < rounds; round++ {
		var wg sync.WaitGroup
		for i := 0; i < concurrent; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k := kernel.New(kernel.Config{Engine: engine, Phys: phys, Syscalls: syscall.Dispatch,
					Stdin: eofReader{}, Stdout: os.Stderr})
				p, err := k.Spawn(img, []string{"forks"}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if err := k.Start(p); err != nil {
					t.Error(err)
					return
				}
				<-p.Done()
				if !k.Shutdown(10 * time.Second) {
					t.Error("processes still running after shutdown")
				}
				if st := p.Status(); st.WaitStatus() != 0 {
					t.Errorf("forks ended with %d (%s): a check failed", st.WaitStatus(), st.Reason)
				}
				if n := k.Processes(); n != 1 {
					t.Errorf("%d processes left in the table, want process 1 alone", n)
				}
			}()
		}
		wg.Wait()
	}

	vcpus, idle, nowEngineFrames := engine.Usage()
	if idle != vcpus {
		t.Errorf("%d of %d vCPUs idle after every run ended", idle, vcpus)
	}
	// Each kernel keeps one frame for its signal trampoline.
	kernels := uint64(rounds * concurrent)
	if got, want := phys.FreeFrames(), free-(nowEngineFrames-engineFrames)-kernels; got != want {
		t.Errorf("%d guest frames free, want %d: frames leaked", got, want)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines, %d before:\n%s", n, goroutines, buf[:runtime.Stack(buf, true)])
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, os.ErrClosed }
