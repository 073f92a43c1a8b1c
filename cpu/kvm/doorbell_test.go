package kvm

import (
	"encoding/binary"
	"fmt"
	"testing"

	gokvm "github.com/bobuhiro11/gokvm/kvm"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// Tests of what program code can do with the engine's user-visible pages:
// the doorbell page and the SYSCALL trampoline.

func movRDI(v uint64) []byte { return binary.LittleEndian.AppendUint64([]byte{0x48, 0xBF}, v) }
func movRSI(v uint64) []byte { return binary.LittleEndian.AppendUint64([]byte{0x48, 0xBE}, v) }
func movRDX(v uint64) []byte { return binary.LittleEndian.AppendUint64([]byte{0x48, 0xBA}, v) }
func movRCX(v uint64) []byte { return binary.LittleEndian.AppendUint64([]byte{0x48, 0xB9}, v) }
func movR11(v uint64) []byte { return binary.LittleEndian.AppendUint64([]byte{0x49, 0xBB}, v) }
func movRAX(v uint64) []byte { return binary.LittleEndian.AppendUint64([]byte{0x48, 0xB8}, v) }

var opJmpRAX = []byte{0xFF, 0xE0} // jmp *%rax

// doorbellRang reports whether the last exit was a store to the doorbell
// page from anywhere (BenchmarkBareExitRing3 rings it from its own loop).
func (c *vcpu) doorbellRang() bool {
	m := c.mmio()
	return gokvm.ExitType(c.run.ExitReason) == gokvm.EXITMMIO && m.write && m.gpa == doorbellGPA
}

// TestStrayDoorbellAccessFaults checks that loads and stores to the
// doorbell page from program code are page faults at the address the
// program used, never syscalls, whatever registers hold a syscall's
// arguments (write(1, data, 5) here).
func TestStrayDoorbellAccessFaults(t *testing.T) {
	setup := [][]byte{movEAX(1), movRDI(1), movRSI(dataVA), movRDX(5), movRBX(doorbellVA)}
	pc := uint64(codeVA)
	for _, b := range setup {
		pc += uint64(len(b))
	}
	cases := []struct {
		name  string
		code  []byte // at pc, after the setup
		off   uint64 // into the doorbell page
		write bool
	}{
		{"store quad", []byte{0x48, 0xC7, 0x03, 0x2A, 0, 0, 0}, 0, true}, // movq $42, (%rbx)
		{"store byte like the trampoline", binary.LittleEndian.AppendUint64([]byte{0xA2}, doorbellVA), 0, true},
		{"store at an offset", []byte{0xC6, 0x43, 0x10, 0x01}, 0x10, true}, // movb $1, 0x10(%rbx)
		{"load", opLoadBX, 0, false},
		{"load at an offset", []byte{0x48, 0x8B, 0x83, 0x00, 0x08, 0, 0}, 0x800, false}, // mov 0x800(%rbx), %rax
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuest(t, append(setup[:len(setup):len(setup)], tc.code, opSyscall, opUD2)...)
			ex, err := g.cpu.Run()
			if err != nil {
				t.Fatalf("engine error: %v", err)
			}
			f := ex.Fault
			if ex.Kind != cpu.ExitFault {
				t.Fatalf("exit %+v, want a page fault", ex)
			}
			wantCode := uint64(pfPresent | pfUser)
			if tc.write {
				wantCode |= pfWrite
			}
			if f.Vector != cpu.VecPageFault || f.Addr != doorbellVA+tc.off || f.ErrorCode != wantCode || f.Signal() != cpu.SIGSEGV {
				t.Fatalf("fault %v (error code %#x), want a page fault at %#x with error code %#x", f, f.ErrorCode, doorbellVA+tc.off, wantCode)
			}
			// A store is reported at the next instruction on hosts that
			// complete MMIO stores before exiting; a load never is.
			after := pc + uint64(len(tc.code))
			if f.PC != pc && !(tc.write && f.PC == after && g.eng.doorbellRIP == trampolineVA+doorbellStoreLen) {
				t.Errorf("fault at pc %#x, want %#x", f.PC, pc)
			}
			op := "read from"
			if tc.write {
				op = "write to"
			}
			if want := fmt.Sprintf("page fault: %s protected address 0x%x at pc 0x%x", op, doorbellVA+tc.off, f.PC); f.String() != want {
				t.Errorf("message %q, want %q", f.String(), want)
			}
			if r := g.cpu.Regs(); r.RIP != f.PC || r.RAX != 1 || r.RDI != 1 {
				t.Errorf("registers after the fault: RIP %#x RAX %#x RDI %#x, want %#x, 1, 1", r.RIP, r.RAX, r.RDI, f.PC)
			}
		})
	}
}

// TestUnemulatableDoorbellAccessFaults covers instructions KVM cannot
// emulate on MMIO (it exits with an internal error): the program gets a
// fault at the instruction, and the engine stays usable.
func TestUnemulatableDoorbellAccessFaults(t *testing.T) {
	fxsave := []byte{0x48, 0x0F, 0xAE, 0x03} // fxsave64 (%rbx)
	g := newGuest(t, movRBX(doorbellVA), fxsave, opSyscall)
	ex, err := g.cpu.Run()
	if err != nil {
		t.Fatalf("engine error: %v", err)
	}
	f := ex.Fault
	if ex.Kind != cpu.ExitFault || f.Signal() != cpu.SIGSEGV || f.PC != codeVA+10 {
		t.Fatalf("exit %+v, want SIGSEGV at pc %#x", ex, codeVA+10)
	}
	// A resumed thread (a signal handler) runs in ring 3.
	r := g.cpu.Regs()
	*r = cpu.Regs{RIP: codeVA + 14, RSP: stackVA + mmu.PageSize, RFLAGS: userRFLAGS, RAX: 9}
	g.run(t, cpu.ExitSyscall)
	if r.RAX != 9 || r.RIP != codeVA+16 {
		t.Fatalf("resumed thread: RAX %#x RIP %#x", r.RAX, r.RIP)
	}
}

// TestTrampolineJumpWithBadReturnAddress jumps into the SYSCALL trampoline
// with return addresses no SYSCALL leaves: each must be a fault of the
// program, with no syscall made first.
func TestTrampolineJumpWithBadReturnAddress(t *testing.T) {
	for _, rcx := range []uint64{
		0x8000_0000_0000_0000, // non-canonical
		0x0000_8000_0000_0000, // non-canonical
		0xFFFF_8000_0000_0000, // upper half, unmapped
		stubsVA,               // upper half, the ring-0 stubs
		trampolineVA,          // the trampoline again
		trampolineVA + probeOffset,
		doorbellVA,
		mmu.EngineEnd,
	} {
		t.Run(fmt.Sprintf("%#x", rcx), func(t *testing.T) {
			g := newGuest(t, movRCX(rcx), movR11(userRFLAGS), movRAX(trampolineVA), opJmpRAX)
			ex, err := g.cpu.Run()
			if err != nil {
				t.Fatalf("engine error: %v", err)
			}
			if ex.Kind != cpu.ExitFault || ex.Fault.Signal() != cpu.SIGSEGV || ex.Fault.PC != rcx {
				t.Fatalf("exit %+v, want SIGSEGV at pc %#x", ex, rcx)
			}
			// Retried as it stands, the thread faults again: no engine
			// error, no hang.
			ex, err = g.cpu.Run()
			if err != nil || ex.Kind != cpu.ExitFault {
				t.Fatalf("retry: exit %+v, error %v", ex, err)
			}
		})
	}
}

// TestTrampolineJumpCannotRaiseIOPL jumps into the trampoline with a valid
// return address but flags with IOPL 3 in R11: the thread must come back
// with the flags the engine runs threads with.
func TestTrampolineJumpCannotRaiseIOPL(t *testing.T) {
	const ret = codeVA + 0x40
	code := append(bytesAt(0x40, movRCX(ret), movR11(0x3000|0x1|userRFLAGS), movRAX(trampolineVA), opJmpRAX),
		0x9C, 0x58) // pushfq; pop %rax
	g := newGuest(t, append(code, opSyscall...))
	r := g.cpu.Regs()
	g.run(t, cpu.ExitSyscall)
	if r.RIP != ret || r.RFLAGS&0x3000 != 0 || r.RFLAGS&1 == 0 {
		t.Fatalf("after the jump: RIP %#x RFLAGS %#x, want %#x with IOPL 0 and CF kept", r.RIP, r.RFLAGS, uint64(ret))
	}
	g.run(t, cpu.ExitSyscall)
	if r.RAX&0x3000 != 0 {
		t.Fatalf("the thread runs with RFLAGS %#x: IOPL raised", r.RAX)
	}
}

// TestResumeAfterStrayLoad resumes a thread elsewhere after its stray load
// faulted, as the kernel does for a signal handler. KVM finishes an MMIO
// load at the next KVM_RUN from what it decoded at the exit, RIP included,
// so the engine must have it finished before the thread moves on.
func TestResumeAfterStrayLoad(t *testing.T) {
	const handler = codeVA + 0x20
	g := newGuest(t, bytesAt(0x20, movRBX(doorbellVA), opLoadBX, movEAX(0x55), opSyscall), movEAX(0x66), opSyscall)
	g.run(t, cpu.ExitFault)
	r := g.cpu.Regs()
	r.RIP = handler
	g.run(t, cpu.ExitSyscall)
	if r.RAX != 0x66 || r.RIP != handler+7 {
		t.Fatalf("resumed at %#x: RAX %#x, RIP %#x after its syscall, want 0x66 and %#x", uint64(handler), r.RAX, r.RIP, uint64(handler+7))
	}
}

// bytesAt joins code and pads it with int3 to n bytes.
func bytesAt(n int, code ...[]byte) []byte {
	var b []byte
	for _, c := range code {
		b = append(b, c...)
	}
	for len(b) < n {
		b = append(b, 0xCC)
	}
	return b
}
