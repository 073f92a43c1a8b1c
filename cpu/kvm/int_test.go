package kvm

import (
	"testing"

	"github.com/aurora-vm/aurora-vm/cpu"
)

// TestIntVectors checks that INT imm8 and ICEBP raise what a ring-3
// program sees on Linux, through Run and through Step: int $3 #BP and
// int $4 #OF after the instruction, ICEBP #DB after it, any other vector
// but 0x80 #GP with the IDT error code at the instruction.
func TestIntVectors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		code   []byte
		vector uint8
		errc   uint64
		pc     uint64
	}{
		{"int $3", []byte{0xCD, 0x03}, cpu.VecBreakpoint, 0, codeVA + 2},
		{"int $4", []byte{0xCD, 0x04}, cpu.VecOverflow, 0, codeVA + 2},
		{"rex int $3", []byte{0x48, 0xCD, 0x03}, cpu.VecBreakpoint, 0, codeVA + 3},
		{"int $0", []byte{0xCD, 0x00}, cpu.VecGeneralProt, 0x02, codeVA},
		{"int $1", []byte{0xCD, 0x01}, cpu.VecGeneralProt, 0x0A, codeVA},
		{"int $0x21", []byte{0xCD, 0x21}, cpu.VecGeneralProt, 0x21<<3 | 2, codeVA},
		{"int $0xff", []byte{0xCD, 0xFF}, cpu.VecGeneralProt, 0xFF<<3 | 2, codeVA},
		{"prefixed int $0x21", []byte{0x66, 0xCD, 0x21}, cpu.VecGeneralProt, 0x21<<3 | 2, codeVA},
		{"icebp", []byte{0xF1}, cpu.VecDebug, 0, codeVA + 1},
		{"int3", []byte{0xCC}, cpu.VecBreakpoint, 0, codeVA + 1},
	} {
		for _, step := range []bool{false, true} {
			name := tc.name
			if step {
				name += " step"
			}
			t.Run(name, func(t *testing.T) {
				g := newGuest(t, tc.code, opIncRAX, opUD2)
				var ex cpu.Exit
				var err error
				if step {
					ex, err = g.cpu.(cpu.Stepper).Step()
				} else {
					ex, err = g.cpu.Run()
				}
				if err != nil {
					t.Fatal(err)
				}
				want := cpu.Fault{Vector: tc.vector, ErrorCode: tc.errc, PC: tc.pc}
				if ex.Kind != cpu.ExitFault || ex.Fault != want {
					t.Fatalf("exit %+v, want fault %+v", ex, want)
				}
				if rip := g.cpu.Regs().RIP; rip != tc.pc {
					t.Fatalf("RIP %#x, want %#x", rip, tc.pc)
				}
				if tc.pc == codeVA {
					return
				}
				// A trap resumes after the instruction.
				ex, err = g.cpu.Run()
				if err != nil {
					t.Fatal(err)
				}
				if ex.Kind != cpu.ExitFault || ex.Fault.Vector != cpu.VecInvalidOp || g.cpu.Regs().RAX != 1 {
					t.Fatalf("after resuming: exit %+v, RAX %d; want #UD after inc %%rax", ex, g.cpu.Regs().RAX)
				}
			})
		}
	}
}

// TestInt80WithPrefix checks that int $0x80 behind a prefix is a syscall
// too, resuming after the whole instruction.
func TestInt80WithPrefix(t *testing.T) {
	g := newGuest(t, []byte{0x66}, opInt80, opIncRAX, opUD2)
	ex, err := g.cpu.Run()
	if err != nil {
		t.Fatal(err)
	}
	if ex.Kind != cpu.ExitSyscall || !ex.Int80 || g.cpu.Regs().RIP != codeVA+3 {
		t.Fatalf("exit %+v at RIP %#x, want int $0x80's syscall resuming at %#x", ex, g.cpu.Regs().RIP, codeVA+3)
	}
	g.cpu.Regs().RAX = 0
	if ex, err = g.cpu.Run(); err != nil {
		t.Fatal(err)
	}
	if ex.Kind != cpu.ExitFault || ex.Fault.Vector != cpu.VecInvalidOp || g.cpu.Regs().RAX != 1 {
		t.Fatalf("after the syscall: exit %+v, RAX %d", ex, g.cpu.Regs().RAX)
	}
}
