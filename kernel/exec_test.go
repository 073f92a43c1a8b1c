package kernel_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aurora-vm/aurora-vm/kernel"
	"github.com/aurora-vm/aurora-vm/kernel/vfs"
	"github.com/aurora-vm/aurora-vm/syscall"
)

// TestExecLeaksNothing runs the pipeline image (fork, pipe, dup2 and two
// execve calls from a mounted directory) on several kernels at once, again
// and again, and checks that every guest frame, vCPU and goroutine comes
// back: the images execve gives up are released.
func TestExecLeaksNothing(t *testing.T) {
	vm := newTestVM(t, 256<<20)
	bin := t.TempDir()
	for _, name := range []string{"hello", "exec_child", "exec_pipeline"} {
		cmd := exec.Command("../guest/aurora-cc", "-O2", "-o", filepath.Join(bin, name+".elf"),
			filepath.Join("../testimages", name+".c"))
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", name, err, msg)
		}
	}
	img, err := kernel.LoadProgram(filepath.Join(bin, "exec_pipeline.elf"))
	if err != nil {
		t.Fatal(err)
	}
	const rounds, concurrent = 3, 4
	for round := 0; round < rounds; round++ {
		var wg sync.WaitGroup
		for i := 0; i < concurrent; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, _ := os.CreateTemp(t.TempDir(), "out")
				defer out.Close()
				k := kernel.New(kernel.Config{Engine: vm.engine, Phys: vm.phys, Syscalls: syscall.Dispatch,
					Stdin: eofReader{}, Stdout: out,
					Mounts: []vfs.Mount{{HostDir: bin, Path: "/bin", ReadOnly: true}}})
				p, err := k.Spawn(img, []string{"exec_pipeline"}, nil)
				if err == nil {
					err = k.Start(p)
				}
				if err != nil {
					t.Error(err)
					return
				}
				<-p.Done()
				if !k.Shutdown(10 * time.Second) {
					t.Error("processes still running after shutdown")
				}
				got, _ := os.ReadFile(out.Name())
				want := "HELLO FROM AURORA!\nupper exited with 0\nhello exited with 0\n"
				if st := p.Status(); st.WaitStatus() != 0 || string(got) != want {
					t.Errorf("pipeline ended with %d (%s), printed %q; want 0, %q", st.WaitStatus(), st.Reason, got, want)
				}
			}()
		}
		wg.Wait()
	}
	vm.checkNothingLeaked(t, rounds*concurrent)
}
