package kvm

import (
	"encoding/binary"
	"testing"
	"unsafe"

	gokvm "github.com/bobuhiro11/gokvm/kvm"

	"github.com/aurora-vm/aurora-vm/cpu"
)

var (
	opPushfq = []byte{0x9C}
	opPopfq  = []byte{0x9D}
	opPopRAX = []byte{0x58}
	opNop    = []byte{0x90}
	opSetTF  = []byte{0x48, 0x81, 0x0C, 0x24, 0x00, 0x01, 0, 0} // orq $0x100, (%rsp)
)

// TestStep checks that Step executes one program instruction at a time,
// that a syscall or fault counts as the instruction raising it, and that
// the trap flag it uses stays invisible to the program.
func TestStep(t *testing.T) {
	steps := []struct {
		code []byte
		kind cpu.ExitKind
		vec  uint8 // for ExitFault
	}{
		{opIncRAX, cpu.ExitStep, 0},
		{movEAX(7), cpu.ExitStep, 0},
		{opSyscall, cpu.ExitSyscall, 0},
		{opIncRAX, cpu.ExitStep, 0},
		{opInt80, cpu.ExitSyscall, 0},
		{movRBX(0x10), cpu.ExitStep, 0},
		{opStoreBX, cpu.ExitFault, cpu.VecPageFault}, // the test points RBX at data and retries
		{nil, cpu.ExitStep, 0},
		{opPushfq, cpu.ExitStep, 0},
		{opPopRAX, cpu.ExitStep, 0},
		{opPushfq, cpu.ExitStep, 0},
		{opSetTF, cpu.ExitStep, 0},
		{opPopfq, cpu.ExitStep, 0},
		{opNop, cpu.ExitFault, cpu.VecDebug}, // the program's own TF
		{opUD2, cpu.ExitFault, cpu.VecInvalidOp},
	}
	var code [][]byte
	for _, s := range steps {
		code = append(code, s.code)
	}
	g := newGuest(t, code...)
	c := g.cpu.(cpu.Stepper)
	r := c.Regs()
	for i, s := range steps {
		pc := r.RIP
		ex, err := c.Step()
		if err != nil {
			t.Fatal(err)
		}
		if ex.Kind != s.kind || ex.Kind == cpu.ExitFault && ex.Fault.Vector != s.vec {
			t.Fatalf("step %d at %#x: exit %+v, want kind %d vector %d", i, pc, ex, s.kind, s.vec)
		}
		n := len(s.code)
		if s.code == nil { // the retried instruction
			n = len(steps[i-1].code)
		}
		want := pc + uint64(n)
		if s.kind == cpu.ExitFault && s.vec != cpu.VecDebug {
			want = pc
		}
		if r.RIP != want {
			t.Fatalf("step %d: RIP %#x after the instruction at %#x, want %#x", i, r.RIP, pc, want)
		}
		if s.vec == cpu.VecDebug {
			if r.RFLAGS&rflagsTF == 0 {
				t.Errorf("the program's TF is gone: RFLAGS %#x", r.RFLAGS)
			}
			r.RFLAGS &^= rflagsTF
			continue
		}
		if tf, want := r.RFLAGS&rflagsTF != 0, len(s.code) == 1 && s.code[0] == opPopfq[0]; tf != want {
			t.Errorf("step %d: RFLAGS %#x, want TF %v (set only by the program's POPF)", i, r.RFLAGS, want)
		}
		switch {
		case s.kind == cpu.ExitSyscall && r.R11&rflagsTF != 0:
			t.Errorf("step %d: TF visible in R11 %#x after SYSCALL", i, r.R11)
		case s.vec == cpu.VecPageFault:
			r.RBX = dataVA
		case len(s.code) == 1 && s.code[0] == opPopRAX[0] && r.RAX&rflagsTF != 0:
			t.Errorf("PUSHF stored flags with TF: %#x", r.RAX)
		}
	}
}

// TestStepRepString checks that a REP string instruction is one step,
// however many iterations it makes.
func TestStepRepString(t *testing.T) {
	repStosb := []byte{0xF3, 0xAA} // rep stosb
	g := newGuest(t, movRCX(100), []byte{0x48, 0xBF}, le64(dataVA), repStosb, opIncRAX)
	c := g.cpu.(cpu.Stepper)
	r := c.Regs()
	for i := 0; i < 3; i++ {
		if ex, err := c.Step(); err != nil || ex.Kind != cpu.ExitStep {
			t.Fatalf("step %d: %+v %v", i, ex, err)
		}
	}
	if r.RCX != 0 || r.RDI != dataVA+100 || r.RIP != codeVA+10+10+2 {
		t.Fatalf("after rep stosb: RCX %d RDI %#x RIP %#x", r.RCX, r.RDI, r.RIP)
	}
}

func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// TestRunAfterStep checks that Run after Step runs freely to the next trap.
func TestRunAfterStep(t *testing.T) {
	g := newGuest(t, opIncRAX, opIncRAX, opIncRAX, movEAX(7), opSyscall)
	c := g.cpu.(cpu.Stepper)
	if ex, err := c.Step(); err != nil || ex.Kind != cpu.ExitStep {
		t.Fatalf("Step: %+v %v", ex, err)
	}
	g.run(t, cpu.ExitSyscall)
	if r := c.Regs(); r.RIP != codeVA+3+3+3+5+2 || r.RAX != 7 {
		t.Fatalf("Run stopped at %#x with RAX %#x", r.RIP, r.RAX)
	}
}

// TestSSEState checks that SSEState reads the XMM registers and MXCSR.
func TestSSEState(t *testing.T) {
	pcmpeqdXMM5 := []byte{0x66, 0x0F, 0x76, 0xED} // pcmpeqd %xmm5,%xmm5
	g := newGuest(t, pcmpeqdXMM5, opSyscall)
	g.run(t, cpu.ExitSyscall)
	xmm, mxcsr, err := g.cpu.(*vcpu).SSEState()
	if err != nil {
		t.Fatal(err)
	}
	if xmm[5] != [2]uint64{^uint64(0), ^uint64(0)} || xmm[4] != [2]uint64{} || mxcsr != initMXCSR {
		t.Fatalf("xmm5 %#x xmm4 %#x mxcsr %#x", xmm[5], xmm[4], mxcsr)
	}
}

// TestGuestDebugSingleStepOnThisHost records what KVM_GUESTDBG_SINGLESTEP
// does with ring-3 code here; Step does not use it (see step.go). On
// hardware-virtualisation hosts it exits after every instruction; on PVM
// hosts it lets ring-3 code run to the next trap.
func TestGuestDebugSingleStepOnThisHost(t *testing.T) {
	g := newGuest(t, opIncRAX, opIncRAX, opIncRAX, movEAX(7), opSyscall, opUD2)
	c := g.cpu.(*vcpu)
	dbg := struct {
		control  uint32
		_        uint32
		debugReg [8]uint64
	}{control: 1 | 2} // KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP
	if _, err := gokvm.Ioctl(uintptr(c.fd), gokvm.IIOW(0x9B, unsafe.Sizeof(dbg)), uintptr(unsafe.Pointer(&dbg))); err != nil {
		// What is recorded then is that this host has no guest
		// debugging at all; Step does not need it.
		t.Logf("this host's KVM refuses KVM_SET_GUEST_DEBUG: %v", err)
		return
	}
	debugExits := 0
	for range 100 {
		c.run.dirtyRegs = syncRegs
		c.run.ExitReason = exitIntr
		if err := c.kvmRun(); err != nil {
			t.Fatal(err)
		}
		if gokvm.ExitType(c.run.ExitReason) != gokvm.EXITDEBUG {
			break
		}
		debugExits++
	}
	t.Logf("KVM_GUESTDBG_SINGLESTEP over 5 ring-3 instructions: %d debug exits, then %v at %#x",
		debugExits, gokvm.ExitType(c.run.ExitReason), c.run.regs.RIP)
	// Leave the vCPU as the engine expects it.
	dbg.control = 0
	if _, err := gokvm.Ioctl(uintptr(c.fd), gokvm.IIOW(0x9B, unsafe.Sizeof(dbg)), uintptr(unsafe.Pointer(&dbg))); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkStep measures one step of a register instruction.
func BenchmarkStep(b *testing.B) {
	g := newGuest(b, opIncRAX, []byte{0xEB, 0xFB}) // inc %rax; jmp back
	c := g.cpu.(cpu.Stepper)
	b.ResetTimer()
	for range b.N {
		if ex, err := c.Step(); err != nil || ex.Kind != cpu.ExitStep {
			b.Fatalf("Step: %+v %v", ex, err)
		}
	}
}
