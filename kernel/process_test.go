package kernel_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
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
	return buildGuestFrom(t, filepath.Join("testdata", name+".c"))
}

func buildGuestFrom(t *testing.T, src string) *kernel.Image {
	t.Helper()
	name := strings.TrimSuffix(filepath.Base(src), ".c")
	out := filepath.Join(t.TempDir(), name+".elf")
	cmd := exec.Command("../guest/aurora-cc", "-O2", "-o", out, src)
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
	vm := newTestVM(t, 256<<20)
	img := buildGuest(t, "forks")
	phys, engine := vm.phys, vm.engine

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

	// Each kernel keeps one frame for its signal trampoline.
	vm.checkNothingLeaked(t, rounds*concurrent)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, os.ErrClosed }

// TestNetStressLeaksNothing runs 200 connections, each echoing 1 MiB
// through a forked server child (testimages/net_stress.c checks every
// byte), and checks that afterwards no socket, descriptor, guest frame,
// vCPU or goroutine is left.
func TestNetStressLeaksNothing(t *testing.T) {
	vm := newTestVM(t, 1<<30)
	img := buildGuestFrom(t, "../testimages/net_stress.c")
	phys, engine := vm.phys, vm.engine

	var stderr strings.Builder
	k := kernel.New(kernel.Config{Engine: engine, Phys: phys, Syscalls: syscall.Dispatch,
		Stdin: eofReader{}, Stdout: &stderr, Stderr: &stderr, MaxProcs: 512})
	p, err := k.Spawn(img, []string{"net_stress", "200", fmt.Sprint(1 << 20), "0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Start(p); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Minute):
		t.Fatal("the stress run did not end")
	}
	if st := p.Status(); st.WaitStatus() != 0 {
		t.Fatalf("net_stress ended with %d (%s):\n%s", st.WaitStatus(), st.Reason, stderr.String())
	}
	if !k.Shutdown(10 * time.Second) {
		t.Fatal("processes still running after shutdown")
	}
	net, err := k.Net()
	if err != nil {
		t.Fatal(err)
	}
	if n := net.OpenSockets(); n != 0 {
		t.Errorf("%d sockets still open", n)
	}
	vm.checkNothingLeaked(t, 1)
}

// testVM is a VM for leak tests: guest RAM and a KVM engine, with what was
// in use before the test ran.
type testVM struct {
	phys         *mmu.PhysMem
	engine       *kvm.Engine
	goroutines   int
	free         uint64
	engineFrames uint64
}

func newTestVM(t *testing.T, ram uint64) *testVM {
	t.Helper()
	if err := kvm.Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	phys, err := mmu.NewPhysMem(ram)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phys.Close() })
	engine, err := kvm.New(phys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	v := &testVM{phys: phys, engine: engine, goroutines: runtime.NumGoroutine(), free: phys.FreeFrames()}
	_, _, v.engineFrames = engine.Usage()
	return v
}

// checkNothingLeaked checks, once every run has ended, that every vCPU is
// idle in the engine's pool, that guest frames are back but for the
// engine's new vCPUs and one signal-trampoline frame per kernel, and that
// no goroutine is left.
func (v *testVM) checkNothingLeaked(t *testing.T, kernels int) {
	t.Helper()
	vcpus, idle, engineFrames := v.engine.Usage()
	if idle != vcpus {
		t.Errorf("%d of %d vCPUs idle after every run ended", idle, vcpus)
	}
	if got, want := v.phys.FreeFrames(), v.free-(engineFrames-v.engineFrames)-uint64(kernels); got != want {
		t.Errorf("%d guest frames free, want %d: frames leaked", got, want)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > v.goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > v.goroutines {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines, %d before:\n%s", n, v.goroutines, buf[:runtime.Stack(buf, true)])
	}
}
