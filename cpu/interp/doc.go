// Package interp is an x86-64 interpreter engine: it runs 64-bit user-mode
// guest code in Go, behind the same cpu.Engine and cpu.CPU interfaces as the
// KVM engine, for hosts where KVM is missing. A program must see the same
// CPU on both engines: the same traps at the same places, the same page
// faults with the same error codes, the same results.
//
// # Shape
//
//   - decode.go, convert.go: instructions are decoded once, with x86asm,
//     into a compact form of our own (inst: a handler and pre-resolved
//     operands) and grouped into blocks that end at a control transfer, a
//     page end or a trap. RIP-relative addresses are resolved at decode
//     time, since blocks are keyed by virtual address. The handler is
//     chosen for the operand form, not just the operation (below).
//   - cache.go: the block cache, keyed by virtual address and validated by
//     an epoch (see below).
//   - fast.go: handlers specialised for the forms compiled code is made
//     of, and the one-probe memory accesses.
//   - fuse.go: a Jcc fused with the instructions that set its flags.
//   - mem.go: guest memory through the address space's own x86-64 page
//     tables (the ones KVM walks), with a software TLB.
//   - alu.go, flags.go: integer instructions, with lazily computed flags.
//   - flow.go: control transfers, the stack, traps (SYSCALL, int $0x80,
//     int3, ud2), CPUID and RDTSC.
//   - string.go: MOVS, STOS, LODS, SCAS, CMPS with REP prefixes.
//   - sse.go, x87.go, x87exc.go: SSE/SSE2 and the x87 FPU (80-bit values
//     kept exactly, arithmetic through math/big, rounded once at the
//     control word's precision); the x87's exceptions, masked or not, with
//     #MF at the next waiting instruction.
//   - engine.go: Engine, CPU, Run, Step, Interrupt and the FP state in the
//     XSAVE standard layout.
//
// # Running blocks
//
// Run's loop (engine.go) calls one handler per entry of a block, through a
// func value, and checks c.stop after each: handlers report faults, traps
// and stores into code there, so the common path has no other test. RIP
// is set once per block (by the last instruction, or from the block's
// end), not per instruction; a fault sets RIP to the faulting entry's pc,
// which every entry keeps. The first four entries of a block have call
// sites of their own, which the host's branch predictor tells apart. At
// the end of a block the next one is found among the two it went to last
// (valid in the current epoch), without a hash lookup.
//
// The per-instruction cost is mostly that indirect call, so the handlers
// are chosen at decode time to leave as little as possible to do at run
// time (fast.go): ADD, SUB, AND, OR, XOR and CMP between 64- or 32-bit
// registers or with an immediate each have a handler of their own, and so
// do shifts by an immediate, whose flags are lazy too; MOV, MOVZX and LEA
// with a 64-bit address compute it inline and go to memory through one
// probe of the TLB and a single load or store from the frame (a load of 1
// to 8 bytes reads 8 and masks when they lie in the page); the stack
// instructions likewise. And where a block ends in a Jcc (fuse.go), the
// instruction that sets its flags (CMP, TEST, SUB, ADD, AND, OR, XOR, INC,
// DEC) and the Jcc become one entry in the block's run list, with a
// register update before a CMP or TEST (a loop's step) folded in too; the
// condition is decided from the operands with a truth table instead of
// from flags, which are still recorded lazily as the instruction would.
// Such an entry keeps the first instruction's pc and faults, if at all,
// before changing anything. Step runs the unfused list, one instruction
// at a time.
//
// Registers live in an array of 256 slots of which cpu.Regs is a view, so
// that indexing it with a decoded uint8 register number needs no bounds
// check.
//
// # Memory and translations
//
// Every access walks the same page tables the KVM engine hands the
// hardware, so permissions, large pages and copy-on-write behave alike:
// a write to a copy-on-write page is a page fault with the present and write
// bits set, which the kernel resolves (mmu.AddressSpace.HandleFault) before
// the next Run retries the instruction. The user bit is always set in error
// codes (the guest runs at ring 3) and the instruction-fetch bit for fetches.
// Non-canonical addresses raise #GP, or #SS(0) in the stack segment as on
// the hardware: an operand based on RSP or RBP or with an SS override
// (decode.go's stackSegment), and the implicit accesses of PUSH, POP, CALL,
// RET, LEAVE and ENTER. The TLB is dropped at every Run entry
// (by a generation number, so dropping it costs nothing), because the kernel
// changes mappings only while the thread is stopped in a trap; the
// interpreter also sets the accessed and dirty bits as hardware does.
//
// The interpreter maps none of the KVM engine's pages; the pages in
// [mmu.UserEnd, mmu.EngineEnd) that the kernel maps itself (the signal
// trampoline) work as on KVM.
//
// # Decoded code and writes to it
//
// Decoded blocks keep their raw bytes. A block is trusted only for the CPU
// epoch it was last checked in; the epoch advances at every Run entry and
// whenever the guest stores into a frame that holds decoded code (frames are
// marked as code when decoded, and their writable TLB entries bypassed so
// such stores are seen). A block from an older epoch is re-translated and its
// bytes compared with memory before it runs again, and decoded afresh if they
// differ. This catches every way code can change: the guest's own stores,
// the kernel writing guest memory during a syscall (loading a program,
// read(2) into a buffer), frames freed and reused, copy-on-write copies. A
// change made by another process to shared memory while this thread is
// running is seen at the next Run or self-modifying store.
//
// # Exits
//
// SYSCALL leaves RIP after the instruction, RCX the return address and R11
// the flags, and the thread resumes at Regs' RIP and RFLAGS (as on KVM hosts
// where SYSCALL stays in ring 3), so RestoreAll needs no work. int $0x80 is
// a syscall with Int80 set. Faults leave RIP at the faulting instruction.
// Interrupt sets a flag checked at every block boundary, so even a spinning
// program stops within a few instructions.
//
// An instruction the interpreter does not implement raises #UD at its
// address, which kills the program with SIGILL; nothing is silently
// skipped. CPUID advertises exactly what is implemented (cpu.CPUID). Not
// implemented, beyond what CPUID leaves out: the x87's transcendental
// instructions (FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1,
// whose last bits differ between CPU makers and models), and
// the segment and descriptor instructions (far transfers, loads and
// stores of segment registers, STR, SLDT, SGDT, SIDT, SMSW, LAR, LSL,
// VERR, VERW), ENTER and LEAVE with a 16-bit operand size, string
// instructions with a 32-bit address size, and SSE's approximations
// RCPPS, RCPSS, RSQRTPS and RSQRTSS (whose bits differ between CPU
// makers); compilers emit none of them for ordinary C.
//
// For lockstep comparison with another engine, (*CPU).Step executes exactly
// one instruction, returning cpu.ExitStep unless it trapped, and (*CPU).XMM
// reads the SSE registers.
//
// Prefixes are scanned before x86asm decodes an instruction: a REX prefix
// counts only right before the opcode, and one that another prefix follows
// is dropped, as the CPU ignores it (the instruction keeps its length).
package interp
