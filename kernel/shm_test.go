package kernel_test

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aurora-vm/aurora-vm/kernel"
	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/mmu"
	"github.com/aurora-vm/aurora-vm/syscall"
)

// spawnIdle makes a kernel on fresh RAM and a process in it that never
// runs, for calling its syscalls from Go.
func spawnIdle(t *testing.T) (*kernel.Kernel, *kernel.Process, *mmu.PhysMem) {
	t.Helper()
	phys, err := mmu.NewPhysMem(32 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phys.Close() })
	k := kernel.New(kernel.Config{Phys: phys})
	p, err := k.Spawn(buildGuestFrom(t, "../testimages/hello.c"), []string{"hello"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k, p, phys
}

func TestShmCalls(t *testing.T) {
	k, p, _ := spawnIdle(t)
	if _, err := p.Shmget(0); err != errno.EINVAL {
		t.Errorf("shmget(0): %v, want EINVAL", err)
	}
	if _, err := p.Shmget(kernel.MmapEnd - kernel.MmapStart + 1); err != errno.EINVAL {
		t.Errorf("shmget beyond the mmap region: %v, want EINVAL", err)
	}
	id, err := p.Shmget(mmu.PageSize + 1)
	if err != nil || id <= 0 {
		t.Fatalf("shmget = %d, %v", id, err)
	}
	a, err := p.Shmat(id)
	if err != nil || a != kernel.MmapStart {
		t.Fatalf("shmat = %#x, %v; want the start of the mmap region", a, err)
	}
	if m, _ := p.Memory().Find(a); m.End-m.Start != 2*mmu.PageSize || m.Shared == nil {
		t.Errorf("attachment %+v: want two shared pages", m)
	}
	b, _ := p.Shmat(id)
	if b != a+2*mmu.PageSize {
		t.Errorf("second attachment at %#x, want %#x", b, a+2*mmu.PageSize)
	}
	p.Memory().WriteAt([]byte("both"), a+mmu.PageSize)
	got := make([]byte, 4)
	if p.Memory().ReadAt(got, b+mmu.PageSize); string(got) != "both" {
		t.Errorf("second attachment reads %q", got)
	}
	if _, err := p.Shmat(id + 1); err != errno.EINVAL {
		t.Errorf("shmat of a bad id: %v, want EINVAL", err)
	}
	for _, addr := range []uint64{a + 1, a + mmu.PageSize, 0x50000000} {
		if err := p.Shmdt(addr); err != errno.EINVAL {
			t.Errorf("shmdt(%#x): %v, want EINVAL", addr, err)
		}
	}
	if err := p.Shmdt(a); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Memory().Translate(a, false); ok {
		t.Error("a detached page still translates")
	}
	if c, _ := p.Shmat(id); c != a {
		t.Errorf("reattached at %#x, want the hole at %#x", c, a)
	}
	// munmap over an attachment detaches those pages only.
	if err := p.Munmap(b, mmu.PageSize); err != nil {
		t.Fatal(err)
	}
	if err := p.Shmdt(b); err != nil {
		t.Errorf("shmdt of an attachment missing its first page: %v", err)
	}
	if k.ShmSegments() != 1 {
		t.Errorf("%d segments, want 1", k.ShmSegments())
	}
}

// TestShmProgramsLeakNothing runs the shm test images, several at once on
// one VM, and checks that every segment, guest frame, vCPU and goroutine
// comes back.
func TestShmProgramsLeakNothing(t *testing.T) {
	vm := newTestVM(t, 256<<20)
	var imgs []*kernel.Image
	names := []string{"shm_fork", "shm_by_id", "shm_survive", "shm_errors"}
	for _, n := range names {
		imgs = append(imgs, buildGuestFrom(t, "../testimages/"+n+".c"))
	}
	const rounds = 2
	for round := 0; round < rounds; round++ {
		var wg sync.WaitGroup
		for i, img := range imgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k := kernel.New(kernel.Config{Engine: vm.engine, Phys: vm.phys, Syscalls: syscall.Dispatch,
					Stdin: eofReader{}, Stdout: devNull{}, Stderr: os.Stderr})
				p, err := k.Spawn(img, []string{names[i]}, nil)
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
					t.Errorf("%s ended with %d (%s)", names[i], st.WaitStatus(), st.Reason)
				}
				if n := k.ShmSegments(); n != 0 {
					t.Errorf("%s: %d segments left after every process ended", names[i], n)
				}
			}()
		}
		wg.Wait()
	}
	vm.checkNothingLeaked(t, rounds*len(imgs))
}

type devNull struct{}

func (devNull) Write(b []byte) (int, error) { return len(b), nil }
