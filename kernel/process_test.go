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

// TestNetStressLeaksNothing runs 200 connections, each echoing 1 MiB
// through a forked server child (testimages/net_stress.c checks every
// byte), and checks that afterwards no socket, descriptor, guest frame,
// vCPU or goroutine is left.
func TestNetStressLeaksNothing(t *testing.T) {
	if err := kvm.Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	if testing.Short() {
		t.Skip("skipping the 200 MiB stress run in -short mode")
	}
	img := buildGuestFrom(t, "../testimages/net_stress.c")
	phys, err := mmu.NewPhysMem(1 << 30)
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
	vcpus, idle, nowEngineFrames := engine.Usage()
	if idle != vcpus {
		t.Errorf("%d of %d vCPUs idle", idle, vcpus)
	}
	if got, want := phys.FreeFrames(), free-(nowEngineFrames-engineFrames)-1; got != want {
		t.Errorf("%d guest frames free, want %d: frames leaked", got, want)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines, %d before:\n%s", n, goroutines, buf[:runtime.Stack(buf, true)])
	}
}
