package interp

import (
	"runtime"
	"testing"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// sieveCode is the sieve of Eratosthenes as testimages/sieve.c compiles:
// rounds (RBP) of clearing the buffer at RBX with REP STOS, then marking
// the composites up to the limit (R12); it leaves the count of primes in
// RSI and ends with SYSCALL.
var sieveCode = []byte{
	0x4d, 0x8d, 0x6c, 0x24, 0x01, // lea 0x1(%r12),%r13
	0x45, 0x31, 0xf6, // xor %r14d,%r14d
	// round:
	0x48, 0x89, 0xdf, // mov %rbx,%rdi
	0x4c, 0x89, 0xe9, // mov %r13,%rcx
	0x48, 0xc1, 0xe9, 0x03, // shr $0x3,%rcx
	0x31, 0xc0, // xor %eax,%eax
	0xf3, 0x48, 0xab, // rep stos %rax,%es:(%rdi)
	0x4c, 0x89, 0xe9, // mov %r13,%rcx
	0x83, 0xe1, 0x07, // and $0x7,%ecx
	0xf3, 0xaa, // rep stos %al,%es:(%rdi)
	0xba, 0x02, 0x00, 0x00, 0x00, // mov $0x2,%edx
	0x31, 0xf6, // xor %esi,%esi
	0xeb, 0x09, // jmp test
	// next:
	0x48, 0x83, 0xc2, 0x01, // add $0x1,%rdx
	0x4c, 0x39, 0xea, // cmp %r13,%rdx
	0x74, 0x2b, // je done
	// test:
	0x80, 0x3c, 0x13, 0x00, // cmpb $0x0,(%rbx,%rdx,1)
	0x75, 0xf1, // jne next
	0x48, 0x89, 0xd0, // mov %rdx,%rax
	0x48, 0x83, 0xc6, 0x01, // add $0x1,%rsi
	0x48, 0x0f, 0xaf, 0xc2, // imul %rdx,%rax
	0x4c, 0x39, 0xe0, // cmp %r12,%rax
	0x7f, 0xe1, // jg next
	// mark:
	0xc6, 0x04, 0x03, 0x01, // movb $0x1,(%rbx,%rax,1)
	0x48, 0x01, 0xd0, // add %rdx,%rax
	0x4c, 0x39, 0xe0, // cmp %r12,%rax
	0x7e, 0xf4, // jle mark
	0x48, 0x83, 0xc2, 0x01, // add $0x1,%rdx
	0x4c, 0x39, 0xea, // cmp %r13,%rdx
	0x75, 0xd5, // jne test
	// done:
	0x41, 0x83, 0xc6, 0x01, // add $0x1,%r14d
	0x44, 0x39, 0xf5, // cmp %r14d,%ebp
	0x7f, 0xa3, // jg round
	0x0f, 0x05, // syscall
}

// sieveVA is where the sieve's buffer is mapped: off any 2 MiB boundary,
// so that it is made of 4 KiB pages as a heap is.
const sieveVA = 0x10001000

// BenchmarkSieveLoop runs the sieve's machine code (limit 1e6, 2 rounds)
// straight on a CPU, without a kernel: the interpreter's inner loop on
// the code of the CPU-heavy test image. It reports the time per guest
// instruction and shows that the loop allocates nothing.
func BenchmarkSieveLoop(b *testing.B) {
	const limit, rounds, primes = 1000000, 2, 78498
	m := newMachine(b, sieveCode)
	if err := m.as.Map(sieveVA, mmu.PageAlignUp(limit+1), mmu.Read|mmu.Write, "sieve"); err != nil {
		b.Fatal(err)
	}
	start := func() {
		*m.c.Regs() = cpu.Regs{RIP: codeVA, RSP: stackVA + mmu.PageSize, RBX: sieveVA,
			R12: limit, RBP: rounds, RFLAGS: 0x202}
		if ex, err := m.c.Run(); err != nil || ex.Kind != cpu.ExitSyscall || m.c.Regs().RSI != primes {
			b.Fatalf("exit %+v err %v primes %d, want %d", ex, err, m.c.Regs().RSI, primes)
		}
	}
	start() // decode the blocks before measuring
	n0 := m.c.Executed()
	start()
	perRun := m.c.Executed() - n0
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(perRun), "ns/insn")
}

// BenchmarkCalls measures calls and returns with a push and a pop around
// an add: the stack's fast paths.
func BenchmarkCalls(b *testing.B) {
	code := []byte{
		0xE8, 0x06, 0x00, 0x00, 0x00, // loop: call f
		0xFF, 0xC9, // dec %ecx
		0x75, 0xF7, // jne loop
		0x0F, 0x05, // syscall
		0x53,                   // f: push %rbx
		0x48, 0x83, 0xC0, 0x01, // add $1,%rax
		0x5B, // pop %rbx
		0xC3, // ret
	}
	const iters = 1 << 16
	m := newMachine(b, code)
	start := func() {
		*m.c.Regs() = cpu.Regs{RIP: codeVA, RSP: stackVA + mmu.PageSize, RCX: iters, RFLAGS: 0x202}
		if ex, err := m.c.Run(); err != nil || ex.Kind != cpu.ExitSyscall || m.c.Regs().RAX != iters {
			b.Fatalf("exit %+v err %v rax %d", ex, err, m.c.Regs().RAX)
		}
	}
	start()
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(iters*6), "ns/insn")
}
