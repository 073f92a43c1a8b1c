// Package cpu defines what the kernel needs from an execution engine: run a
// guest thread in user mode on an address space until it traps, and hand
// back the register file. Engines live in subpackages (cpu/kvm for hardware
// virtualisation; interpreters later) and are interchangeable: the same
// program must give the same traps on every engine.
package cpu

import (
	"fmt"

	"github.com/aurora-vm/aurora-vm/mmu"
)

// Regs is the x86-64 general register file. Its layout matches KVM's struct
// kvm_regs so the KVM engine can expose its shared register area directly.
type Regs struct {
	RAX, RBX, RCX, RDX uint64
	RSI, RDI, RSP, RBP uint64
	R8, R9, R10, R11   uint64
	R12, R13, R14, R15 uint64
	RIP, RFLAGS        uint64
}

// ExitKind says why Run returned.
type ExitKind int

const (
	// ExitSyscall: the guest executed SYSCALL or int $0x80. The number and
	// arguments are in Regs; the kernel puts the result in RAX and calls Run
	// again, which resumes after the trapping instruction.
	ExitSyscall ExitKind = iota
	// ExitFault: the guest raised a CPU exception. Regs show the
	// faulting instruction's context (RIP at the instruction); a Run after
	// it retries the instruction, so the kernel can resolve the fault (a
	// copy-on-write page) or redirect the thread (a signal handler).
	ExitFault
	// ExitInterrupted: Interrupt was called.
	ExitInterrupted
	// ExitStep: Stepper.Step executed one instruction that raised no trap.
	ExitStep
)

// Exit is the result of one Run.
type Exit struct {
	Kind  ExitKind
	Int80 bool  // ExitSyscall came from int $0x80 rather than SYSCALL
	Fault Fault // valid for ExitFault
}

// Fault is a CPU exception raised by guest code.
type Fault struct {
	Vector    uint8  // x86 exception vector
	ErrorCode uint64 // pushed by the CPU for some vectors, else 0
	PC        uint64 // address of the faulting instruction
	Addr      uint64 // faulting data address (page faults only)
}

// x86 exception vectors the kernel distinguishes.
const (
	VecDivide      = 0
	VecDebug       = 1
	VecBreakpoint  = 3
	VecOverflow    = 4
	VecBound       = 5
	VecInvalidOp   = 6
	VecNoDevice    = 7
	VecDoubleFault = 8
	VecInvalidTSS  = 10
	VecNoSegment   = 11
	VecStackFault  = 12
	VecGeneralProt = 13
	VecPageFault   = 14
	VecX87         = 16
	VecAlignment   = 17
	VecMachine     = 18
	VecSIMD        = 19
	// VecShutdown is not a CPU vector: the engine reports it when the guest
	// triple-faulted and the CPU shut down.
	VecShutdown = 0xFF
)

// Signal numbers a fault maps to (Linux and Aurora share them).
const (
	SIGILL  = 4
	SIGTRAP = 5
	SIGBUS  = 7
	SIGFPE  = 8
	SIGKILL = 9
	SIGSEGV = 11
)

// Signal is the signal that kills a process taking this fault.
func (f Fault) Signal() int {
	switch f.Vector {
	case VecDivide, VecX87, VecSIMD:
		return SIGFPE
	case VecInvalidOp, VecNoDevice:
		return SIGILL
	case VecDebug, VecBreakpoint:
		return SIGTRAP
	case VecAlignment:
		return SIGBUS
	default:
		return SIGSEGV
	}
}

// String describes the fault in one line for a person:
// "page fault: write to unmapped address 0x0 at pc 0x401136".
func (f Fault) String() string {
	switch f.Vector {
	case VecPageFault:
		op := "read from"
		switch {
		case f.ErrorCode&0x10 != 0:
			op = "execute at"
		case f.ErrorCode&0x2 != 0:
			op = "write to"
		}
		what := "unmapped"
		if f.ErrorCode&1 != 0 {
			what = "protected"
		}
		return fmt.Sprintf("page fault: %s %s address 0x%x at pc 0x%x", op, what, f.Addr, f.PC)
	case VecShutdown:
		return fmt.Sprintf("triple fault at pc 0x%x", f.PC)
	}
	name := vectorNames[f.Vector]
	if name == "" {
		name = fmt.Sprintf("exception %d", f.Vector)
	}
	if f.ErrorCode != 0 {
		return fmt.Sprintf("%s (error code 0x%x) at pc 0x%x", name, f.ErrorCode, f.PC)
	}
	return fmt.Sprintf("%s at pc 0x%x", name, f.PC)
}

var vectorNames = map[uint8]string{
	VecDivide:      "divide error",
	VecDebug:       "debug trap",
	VecBreakpoint:  "breakpoint",
	VecOverflow:    "overflow",
	VecBound:       "bound range exceeded",
	VecInvalidOp:   "invalid opcode",
	VecNoDevice:    "device not available",
	VecDoubleFault: "double fault",
	VecInvalidTSS:  "invalid TSS",
	VecNoSegment:   "segment not present",
	VecStackFault:  "stack fault",
	VecGeneralProt: "general protection fault",
	VecX87:         "x87 floating-point error",
	VecAlignment:   "alignment check",
	VecMachine:     "machine check",
	VecSIMD:        "SIMD floating-point error",
}

// Engine creates CPUs. One engine serves one VM: every CPU it creates shares
// the engine's guest-physical memory.
type Engine interface {
	// Name is the engine's name as the --accel flag spells it.
	Name() string
	// NewCPU creates a CPU that runs guest code at ring 3 on as. The
	// caller sets the initial registers through Regs before the first Run.
	// The CPU belongs to the calling OS thread: the caller must hold it
	// with runtime.LockOSThread for as long as it uses the CPU.
	NewCPU(as *mmu.AddressSpace) (CPU, error)
	// Close releases the engine. Every CPU must be closed first.
	Close() error
}

// Stepper is a CPU that can also execute a single instruction, for
// comparing engines instruction by instruction (see cpu/lockstep).
type Stepper interface {
	CPU
	// Step executes one instruction of the guest thread. It returns
	// ExitStep, or the trap the instruction raised as Run would have
	// reported it (a syscall or fault counts as the instruction that
	// raised it; the next Step starts where the thread resumes).
	Step() (Exit, error)
}

// CPU is one virtual processor running one guest thread.
type CPU interface {
	// Regs is the register file. Changes made between Run calls take
	// effect at the next Run.
	Regs() *Regs
	// Run executes guest code until the next trap. An error means the
	// engine itself failed; guest misbehaviour is reported as ExitFault.
	Run() (Exit, error)
	// Interrupt makes a running or the next Run return ExitInterrupted
	// soon. It is safe to call from any goroutine.
	Interrupt()
	// RestoreAll makes the next Run enter the guest with every register
	// exactly as Regs holds it. Without it, the return from a SYSCALL trap
	// may use RCX and R11 for the return address and flags, as SYSRET
	// does; sigreturn, which restores a whole interrupted context, needs
	// them kept.
	RestoreAll()
	// FPState returns the thread's x87/SSE/AVX state in the XSAVE
	// standard layout, and SetFPState loads such a state: fork gives the
	// child the parent's control words (MXCSR, the x87 control word),
	// which the C ABI keeps across calls. An engine that cannot read the
	// state returns nil, and SetFPState(nil) does nothing.
	FPState() ([]byte, error)
	SetFPState([]byte) error
	// Close releases the CPU.
	Close() error
}
