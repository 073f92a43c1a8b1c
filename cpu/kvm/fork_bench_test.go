package kvm

import (
	"encoding/binary"
	"testing"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// BenchmarkForkTouch measures what fork costs the child that then writes
// to a share of a 64 MiB heap of large pages (one byte in each page of the
// share: every 100th page, the first 1% of the pages, or all): the
// address-space copy, a vCPU for the child, its write faults and their
// copies. "cow" is mmu.AddressSpace.Fork (copy on write), "copy" is
// mmu.AddressSpace.Copy (every page copied up front). The kernel forks
// with the faster one; these figures are why. On the development host
// (10 runs each): cow 25.3 / 0.98 / 25.7 ms for spread / together / all,
// copy 23.2 / 23.2 / 23.3 ms. Sharing costs about 8% more when the child
// writes into every large page (32 write faults, each a VM exit, before
// the same copies) and 24 times less when it writes into one.
func BenchmarkForkTouch(b *testing.B) {
	const heapVA, heapSize = 0x10000000, 64 << 20
	for _, mode := range []string{"cow", "copy"} {
		for _, share := range []struct {
			name   string
			stride uint64 // bytes between touched pages
			pages  uint64
		}{
			{"1pct-spread", 100 * mmu.PageSize, heapSize / mmu.PageSize / 100},
			{"1pct-together", mmu.PageSize, heapSize / mmu.PageSize / 100},
			{"100pct", mmu.PageSize, heapSize / mmu.PageSize},
		} {
			b.Run(mode+"/"+share.name, func(b *testing.B) {
				// rbx = heap, rcx = pages; loop: mov %al,(%rbx); add stride,%rbx; dec %rcx; jnz loop; syscall
				loop := []byte{0x88, 0x03, 0x48, 0x81, 0xC3}
				loop = binary.LittleEndian.AppendUint32(loop, uint32(share.stride))
				loop = append(loop, 0x48, 0xFF, 0xC9, 0x75, 0xF2)
				g := newGuestOf(b, 256<<20, movRBX(heapVA), []byte{0x48, 0xC7, 0xC1}, binary.LittleEndian.AppendUint32(nil, uint32(share.pages)), loop, opSyscall, opUD2)
				if err := g.as.Map(heapVA, heapSize, mmu.Read|mmu.Write, "heap"); err != nil {
					b.Skipf("no room for the heap in the test guest: %v", err)
				}
				fill := make([]byte, heapSize)
				for i := range fill {
					fill[i] = byte(i)
				}
				g.as.WriteAt(fill, heapVA)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					var child *mmu.AddressSpace
					var err error
					if mode == "cow" {
						child, err = g.as.Fork()
					} else {
						child, err = g.as.Copy()
					}
					if err != nil {
						b.Fatal(err)
					}
					c, err := g.eng.NewCPU(child)
					if err != nil {
						b.Fatal(err)
					}
					*c.Regs() = cpu.Regs{RIP: codeVA, RSP: stackVA + mmu.PageSize, RFLAGS: 0x202}
					for {
						ex, err := c.Run()
						if err != nil {
							b.Fatal(err)
						}
						if ex.Kind == cpu.ExitSyscall {
							break
						}
						if ex.Kind != cpu.ExitFault {
							continue
						}
						if ok, err := child.HandleFault(ex.Fault.Addr, true); !ok {
							b.Fatalf("unresolved fault %v (%v)", ex.Fault, err)
						}
					}
					c.Close()
					child.Release()
				}
			})
		}
	}
}
