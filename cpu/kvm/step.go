package kvm

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	gokvm "github.com/bobuhiro11/gokvm/kvm"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// Single-stepping, for lockstep comparison with another engine (the
// interpreter): Step runs the thread for exactly one of its own
// instructions.
//
// It uses the trap flag of the thread itself rather than KVM's
// KVM_GUESTDBG_SINGLESTEP. On the development hosts (PVM, where guest ring
// 3 runs on the host's own ring 3, see layout.go) KVM_GUESTDBG_SINGLESTEP
// exits after every instruction of the engine's ring-0 stubs but never
// after a ring-3 instruction: a whole run of program code, SYSCALL and
// the trampoline included, passes without a debug exit
// (TestGuestDebugSingleStepOnThisHost measures it). The trap flag works
// on every host: Step enters the thread with RFLAGS.TF set, the CPU raises
// #DB after one instruction, the exception stub reports it, and Step turns
// it into cpu.ExitStep. A step costs a #DB into the guest's ring 0 and an
// exit from there (50 us on PVM by BenchmarkStep, a few on VMX).
//
// An instruction that traps ends the step with the trap, exactly as Run
// reports it: SYSCALL clears TF through SFMASK and reaches the doorbell as
// usual; int $0x80 and faults arrive at their stubs before any #DB. The
// next Step starts where the thread resumes (after the syscall, or at the
// faulting instruction to retry it).
//
// The CPU raises #DB after every iteration of a REP string instruction,
// with RIP still at the instruction; Step goes on until RIP moves past it
// or it traps, so that a step is always a whole instruction (a fault in
// the middle leaves RCX, RSI and RDI where that iteration found them).
//
// TF is the engine's, not the program's, so Step removes it from whatever
// the program could see: RFLAGS in Regs, R11 after SYSCALL, and the flags
// image PUSHF leaves on the stack. A program that sets TF itself (POPF) gets
// its #DB reported as the fault Run would report (SIGTRAP).

// rflagsTF is the trap flag.
const rflagsTF = 1 << 8

// Step executes one instruction of the thread and returns cpu.ExitStep, or
// the trap the instruction raised, as Run would report it. It implements
// cpu.Stepper.
func (c *vcpu) Step() (cpu.Exit, error) {
	r := &c.run.regs
	pc := r.RIP
	op, op16, rep := c.opcodeAt(pc)
	for {
		ex, err := c.stepOnce(op, op16)
		// The CPU traps after every iteration of a REP string
		// instruction, leaving RIP at it; the instruction ends when
		// RIP moves on or it traps.
		if err != nil || ex.Kind != cpu.ExitStep || !rep || !isString(op) || r.RIP != pc {
			return ex, err
		}
	}
}

// isString reports whether op is a string instruction's opcode (INS, OUTS,
// MOVS, CMPS, STOS, LODS, SCAS), which a REP prefix repeats.
func isString(op byte) bool {
	return op >= 0x6C && op <= 0x6F || op >= 0xA4 && op <= 0xA7 || op >= 0xAA && op <= 0xAF
}

// stepOnce runs the thread until its next #DB or trap; op and op16 are
// the instruction's opcode and operand-size prefix (see opcodeAt).
func (c *vcpu) stepOnce(op byte, op16 bool) (cpu.Exit, error) {
	r := &c.run.regs
	pc := r.RIP
	own := r.RFLAGS&rflagsTF != 0
	// TF goes into the flags the thread resumes with. Where the engine's
	// code resumes it (the IRETQ of a stub), that code itself runs
	// without TF, so that the first #DB follows the program's instruction;
	// a SYSRETQ would leave TF in R11 for the program to see, so such a
	// return goes through IRETQ too.
	if c.resume == resumeSysret {
		c.RestoreAll()
	}
	r.RFLAGS |= rflagsTF
	if err := c.prepareResume(); err != nil {
		return cpu.Exit{}, err
	}
	if !isProgramPC(r.RIP) {
		r.RFLAGS &^= rflagsTF
	}
	ex, err := c.Run()
	if err != nil || own {
		return ex, err
	}
	r.RFLAGS &^= rflagsTF
	switch {
	case ex.Kind == cpu.ExitFault && ex.Fault.Vector == cpu.VecDebug && r.RIP == pc && op == 0xF1:
		// ICEBP raises #DB as a trap, after the instruction; these hosts
		// report it at the instruction (exception moves it past where
		// TF is clear).
		if size, ok := c.icebpAt(pc); ok {
			r.RIP += size
			ex.Fault.PC = r.RIP
		}
	case ex.Kind == cpu.ExitSyscall && !ex.Int80:
		r.R11 &^= rflagsTF
	case ex.Kind == cpu.ExitFault && ex.Fault.Vector == cpu.VecDebug && isProgramPC(r.RIP):
		ex = cpu.Exit{Kind: cpu.ExitStep}
		switch op {
		case opPushf:
			if err := c.clearPushedTF(r.RSP); err != nil {
				return cpu.Exit{}, err
			}
		case opPopf:
			// The program set TF itself: it keeps it, and the next Step
			// reports its #DB.
			size := uint64(8)
			if op16 {
				size = 2
			}
			var b [1]byte
			if c.as.ReadAt(b[:], r.RSP-size+1) == nil && b[0]&(rflagsTF>>8) != 0 {
				r.RFLAGS |= rflagsTF
			}
		}
	}
	return ex, nil
}

// One-byte opcodes Step looks out for.
const (
	opPushf = 0x9C
	opPopf  = 0x9D
)

// isProgramPC reports whether pc is the program's own code: user space, or
// the kernel's pages above it (the signal trampoline), but not this
// engine's trampoline and doorbell pages.
func isProgramPC(pc uint64) bool {
	return pc < mmu.EngineEnd && (pc < trampolineVA || pc >= doorbellVA+mmu.PageSize)
}

// opcodeAt returns the first opcode byte of the instruction at pc, after
// its prefixes, and whether an operand-size prefix (66) or a repeat prefix
// (F2, F3) was among them; 0 if the bytes cannot be read.
func (c *vcpu) opcodeAt(pc uint64) (op byte, op16, rep bool) {
	var b [1]byte
	for i := range uint64(15) {
		if c.as.ReadAt(b[:], pc+i) != nil {
			return 0, false, false
		}
		switch b[0] {
		case 0x66:
			op16 = true
		case 0xF2, 0xF3:
			rep = true
		case 0xF0, 0x67, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65,
			0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
			0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F:
		default:
			return b[0], op16, rep
		}
	}
	return 0, false, false
}

// clearPushedTF clears TF in the flags image a PUSHF just stored at sp:
// bit 8, in the second byte whether it pushed 16 or 64 bits.
func (c *vcpu) clearPushedTF(sp uint64) error {
	var b [1]byte
	if err := c.as.ReadAt(b[:], sp+1); err != nil {
		return fmt.Errorf("reading the flags PUSHF stored: %w", err)
	}
	b[0] &^= rflagsTF >> 8
	if err := c.as.WriteAt(b[:], sp+1); err != nil {
		return fmt.Errorf("writing the flags PUSHF stored: %w", err)
	}
	return nil
}

var ioctlGetFPU = gokvm.IIOR(0x8C, unsafe.Sizeof(fpuState{})) // KVM_GET_FPU

// SSEState returns the SSE registers, each as its low and high 64 bits,
// and MXCSR: one ioctl. It reads them with KVM_GET_XSAVE where the host
// has it, since KVM_GET_FPU reports MXCSR as 0 on the development hosts.
func (c *vcpu) SSEState() (xmm [16][2]uint64, mxcsr uint32, err error) {
	if c.e.cleanXSAVE != nil {
		b, err := c.FPState()
		if err != nil {
			return xmm, 0, err
		}
		for i := range xmm {
			xmm[i][0] = binary.LittleEndian.Uint64(b[xsaveXMM+16*i:])
			xmm[i][1] = binary.LittleEndian.Uint64(b[xsaveXMM+16*i+8:])
		}
		return xmm, binary.LittleEndian.Uint32(b[xsaveMXCSR:]), nil
	}
	var fpu fpuState
	if _, err := gokvm.Ioctl(uintptr(c.fd), ioctlGetFPU, uintptr(unsafe.Pointer(&fpu))); err != nil {
		return xmm, 0, fmt.Errorf("KVM_GET_FPU: %w", err)
	}
	for i := range xmm {
		xmm[i][0] = binary.LittleEndian.Uint64(fpu.XMM[i][:])
		xmm[i][1] = binary.LittleEndian.Uint64(fpu.XMM[i][8:])
	}
	return xmm, fpu.MXCSR, nil
}

// xsaveXMM is the offset of XMM0 in the XSAVE layout.
const xsaveXMM = 160

var _ cpu.Stepper = (*vcpu)(nil)
