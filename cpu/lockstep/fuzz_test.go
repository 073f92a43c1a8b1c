package lockstep

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/cpu/interp"
	"github.com/aurora-vm/aurora-vm/cpu/kvm"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// The fuzz target runs a short piece of code on both engines from the same
// random registers and memory, stepping both and comparing after every
// instruction, and compares the memory it may have written at the end.

const (
	fuzzCodeVA  = 0x400000
	fuzzDataVA  = 0x600000
	fuzzData    = 4 * mmu.PageSize
	fuzzStackVA = 0x7FFF0000
	fuzzStack   = 2 * mmu.PageSize
	fuzzSteps   = 64
	fuzzMaxCode = 256
)

// rigSide is one engine with an address space laid out for fuzzing.
type rigSide struct {
	phys *mmu.PhysMem
	eng  cpu.Engine
	as   *mmu.AddressSpace
}

type rig struct {
	side [2]*rigSide
	// fpSize is the size of the FP state the KVM engine takes.
	fpSize int
}

var fuzzRig = sync.OnceValues(func() (*rig, error) {
	r := &rig{}
	for side := range 2 {
		s := &rigSide{}
		var err error
		if s.phys, err = mmu.NewPhysMem(64 << 20); err != nil {
			return nil, err
		}
		if side == Oracle {
			if s.eng, err = kvm.New(s.phys); err != nil {
				return nil, err
			}
		} else {
			s.eng = interp.New(s.phys)
		}
		if s.as, err = mmu.NewAddressSpace(s.phys); err != nil {
			return nil, err
		}
		for _, m := range []struct {
			va, size uint64
			perm     mmu.Perm
		}{
			{fuzzCodeVA, mmu.PageSize, mmu.Read | mmu.Exec},
			{fuzzDataVA, fuzzData, mmu.Read | mmu.Write},
			{fuzzStackVA, fuzzStack, mmu.Read | mmu.Write},
		} {
			if err := s.as.Map(m.va, m.size, m.perm, "fuzz"); err != nil {
				return nil, err
			}
		}
		r.side[side] = s
	}
	return r, nil
})

// fill writes b at va through the frames, whatever the page's permissions.
func (s *rigSide) fill(va uint64, b []byte) error {
	for len(b) > 0 {
		pa, ok := s.as.Translate(va, false)
		if !ok {
			return fmt.Errorf("0x%x is not mapped", va)
		}
		off := va % mmu.PageSize
		n := copy(s.phys.Page(pa &^ (mmu.PageSize - 1))[off:], b)
		b, va = b[n:], va+uint64(n)
	}
	return nil
}

// fuzzStart derives the initial registers, FP state and memory from seed.
// Registers that commonly hold pointers point into the data pages, so that
// memory operands mostly land there.
func fuzzStart(seed uint64, fpSize int) (regs cpu.Regs, fp, data []byte) {
	rng := rand.New(rand.NewPCG(seed, 0x10c5_7e9))
	val := func() uint64 {
		switch rng.IntN(4) {
		case 0:
			return uint64(rng.IntN(64)) // small: counts, indexes
		case 1:
			return uint64(int64(rng.Int32())) // sign-extended 32-bit
		}
		return rng.Uint64()
	}
	ptr := func() uint64 { return fuzzDataVA + mmu.PageSize + uint64(rng.IntN(2*mmu.PageSize)) }
	regs = cpu.Regs{
		RAX: val(), RBX: ptr(), RCX: val(), RDX: val(), RSI: ptr(), RDI: ptr(),
		RSP: fuzzStackVA + fuzzStack/2, RBP: ptr(),
		R8: val(), R9: val(), R10: val(), R11: val(), R12: ptr(), R13: val(), R14: val(), R15: ptr(),
		RIP: fuzzCodeVA, RFLAGS: 0x202 | rng.Uint64()&flagsArith,
	}
	fp = make([]byte, fpSize)
	binary.LittleEndian.PutUint16(fp[xsFCW:], 0x37F)
	binary.LittleEndian.PutUint32(fp[xsMXCSR:], 0x1F80)
	for i := range 16 {
		binary.LittleEndian.PutUint64(fp[xsXMM+16*i:], val())
		binary.LittleEndian.PutUint64(fp[xsXMM+16*i+8:], val())
	}
	binary.LittleEndian.PutUint64(fp[512:], 3) // XSTATE_BV: x87 and SSE
	data = make([]byte, fuzzData+fuzzStack)
	for i := 0; i < len(data); i += 8 {
		binary.LittleEndian.PutUint64(data[i:], val())
	}
	return regs, fp, data
}

// unadvertised reports whether code is an instruction of an extension the
// engines' CPUID does not offer (see cpu/cpuid.go): the interpreter may
// refuse it where the hardware runs it, and programs do not use it.
func unadvertised(code []byte) bool {
	if inst, err := x86asm.Decode(interp.Canonical(code), 64); err == nil {
		// MMX (CPUID leaf 1 EDX bit 23 is clear): EMMS, or any
		// instruction on an MMX register.
		switch inst.Op {
		case x86asm.EMMS, x86asm.CVTPI2PS, x86asm.CVTPI2PD, x86asm.CVTPS2PI, x86asm.CVTTPS2PI,
			x86asm.CVTPD2PI, x86asm.CVTTPD2PI:
			// EMMS, and the conversions between MMX's packed integers
			// and SSE (their memory forms too).
			return true
		}
		for _, a := range inst.Args {
			if r, ok := a.(x86asm.Reg); ok && r >= x86asm.M0 && r <= x86asm.M7 {
				return true
			}
		}
	}
	i := 0
	for i < len(code) && (code[i] == 0x66 || code[i] == 0x67 || code[i] == 0xF2 || code[i] == 0xF3 || code[i]&0xF0 == 0x40 ||
		code[i] == 0x2E || code[i] == 0x3E || code[i] == 0x26 || code[i] == 0x36 || code[i] == 0x64 || code[i] == 0x65 || code[i] == 0xF0) {
		i++
	}
	if i < len(code) && (code[i] == 0xC4 || code[i] == 0xC5 || code[i] == 0x62 || code[i] == 0x8F) {
		return true // VEX, EVEX, XOP
	}
	if i+1 < len(code) && code[i] == 0xD9 && code[i+1]&0xF8 == 0xD8 {
		return true // D9 D8+i, a reserved x87 encoding whose behaviour varies
	}
	// The prefixes that select an SSE form, wherever they stand.
	has := func(p byte) bool { return bytes.IndexByte(code[:i], p) >= 0 }
	if i+1 < len(code) && code[i] == 0x0F {
		switch code[i+1] {
		case 0x38, 0x3A, 0x01, 0x78, 0x79, 0x7C, 0x7D, 0xC7, 0xAE, 0x0D, 0xB8:
			// SSSE3 and later; system ops (xgetbv, rdpid...);
			// SSE3 horizontal ops; rdrand/rdseed; fences, xsave;
			// prefetchw; popcnt with no 66 is ok but jmpe is not.
			return true
		case 0xF0, 0x12, 0x16:
			return has(0xF2) || has(0xF3) // SSE3
		case 0xD0:
			return has(0x66) || has(0xF2) // SSE3's ADDSUBPD, ADDSUBPS
		case 0x2B:
			return has(0xF2) || has(0xF3) // SSE4a's MOVNTSD and MOVNTSS
		case 0xBC, 0xBD:
			return has(0xF3) && code[i+1] == 0xBC // TZCNT (BMI1)
		}
	}
	return false
}

// farTransfer reports whether code is a far return, jump or call, or an
// IRET: instructions that load CS from memory.
func farTransfer(code []byte) bool {
	inst, err := x86asm.Decode(interp.Canonical(code), 64)
	if err != nil {
		return false
	}
	switch inst.Op {
	case x86asm.LRET, x86asm.LJMP, x86asm.LCALL, x86asm.IRET, x86asm.IRETD, x86asm.IRETQ:
		return true
	}
	return false
}

// maskMXCSRMask copies the oracle's MXCSR_MASK into the interpreter's
// memory where an FXSAVE area's differ only by it: the hardware reports
// the host CPU's writable MXCSR bits (0x2FFFF on CPUs with AMD's
// misaligned SSE mode), the interpreter those it implements (0xFFFF).
func maskMXCSRMask(t *testing.T, oracle, tested []byte) {
	le := binary.LittleEndian
	for i := 0; i+4 <= len(oracle); i++ {
		if o := le.Uint32(oracle[i:]); o != 0xFFFF && o&0xFFFF == 0xFFFF && le.Uint32(tested[i:]) == 0xFFFF {
			t.Logf("not compared: MXCSR_MASK %#x, the host's, against %#x", o, 0xFFFF)
			copy(tested[i:i+4], oracle[i:i+4])
		}
	}
}

// registerNonTemporal reports whether code is MOVNTPS, MOVNTPD, MOVNTDQ or
// MOVNTI (0F 2B, 0F E7, 0F C3) with a register where the memory operand
// belongs, an encoding x86asm does not decode.
func registerNonTemporal(code []byte) bool {
	i := 0
	for i < len(code) && (isPrefix(code[i]) || code[i]&0xF0 == 0x40) {
		i++
	}
	if i+2 >= len(code) || code[i] != 0x0F {
		return false
	}
	switch code[i+1] {
	case 0x2B, 0xE7, 0xC3:
		return code[i+2] >= 0xC0
	}
	return false
}

// isOp reports whether code decodes as one of ops.
func isOp(code []byte, ops ...x86asm.Op) bool {
	inst, err := x86asm.Decode(interp.Canonical(code), 64)
	return err == nil && slices.Contains(ops, inst.Op)
}

// twoOperandString reports whether code is CMPS or MOVS, which address
// both DS:RSI and ES:RDI.
func twoOperandString(code []byte) bool {
	return isOp(code, x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ,
		x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ)
}

// intImm reports INT imm8's vector, if code is one.
func intImm(code []byte) (uint8, bool) {
	inst, err := x86asm.Decode(interp.Canonical(code), 64)
	if err != nil || inst.Op != x86asm.INT {
		return 0, false
	}
	if imm, ok := inst.Args[0].(x86asm.Imm); ok {
		return uint8(imm), true
	}
	return 0, false
}

// prefixCount is how many legacy and REX prefixes code starts with.
func prefixCount(code []byte) int {
	i := 0
	for i < len(code) && (isPrefix(code[i]) || code[i]&0xF0 == 0x40) {
		i++
	}
	return i
}

// opcodeAfterPrefixes returns the first byte of code after its legacy and
// REX prefixes, or 0.
func opcodeAfterPrefixes(code []byte) byte {
	if i := prefixCount(code); i < len(code) {
		return code[i]
	}
	return 0
}

// isICEBP reports whether code is ICEBP (F1), prefixes and all.
func isICEBP(code []byte) bool { return opcodeAfterPrefixes(code) == 0xF1 }

// isCPUID reports whether code is CPUID.
func isCPUID(code []byte) bool { return isOp(code, x86asm.CPUID) }

// isEnvSave reports whether code stores the x87 environment: FXSAVE,
// FNSTENV or FNSAVE.
func isEnvSave(code []byte) bool {
	return isOp(code, x86asm.FXSAVE, x86asm.FXSAVE64, x86asm.FNSTENV, x86asm.FNSAVE)
}

// hostAMD reports whether the host's CPU is AMD's.
var hostAMD = sync.OnceValue(func() bool {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return bytes.Contains(b, []byte("AuthenticAMD"))
})

// isFxsr reports whether code is FXSAVE or FXRSTOR.
func isFxsr(code []byte) bool {
	return isOp(code, x86asm.FXSAVE, x86asm.FXSAVE64, x86asm.FXRSTOR, x86asm.FXRSTOR64)
}

// narrowBranch reports whether code is a near jump, call, return or loop
// with an operand-size prefix, or with a REP or REPNE prefix (which this
// host's CPU does not simply ignore on LOOPcc).
func narrowBranch(code []byte) bool {
	inst, err := x86asm.Decode(interp.Canonical(code), 64)
	if err != nil {
		return false
	}
	if inst.DataSize != 16 && !hasPrefix(inst, x86asm.PrefixREP) && !hasPrefix(inst, x86asm.PrefixREPN) {
		return false
	}
	switch inst.Op {
	case x86asm.JMP, x86asm.CALL, x86asm.RET, x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE,
		x86asm.JE, x86asm.JG, x86asm.JGE, x86asm.JL, x86asm.JLE, x86asm.JNE, x86asm.JNO,
		x86asm.JNP, x86asm.JNS, x86asm.JO, x86asm.JP, x86asm.JS, x86asm.JRCXZ, x86asm.JECXZ,
		x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE:
		return true
	}
	return false
}

// isProgram reports whether rip is inside the fuzzed code.
func isProgram(rip uint64, code []byte) bool {
	return rip >= fuzzCodeVA && rip < fuzzCodeVA+uint64(len(code))
}

// isCanonical reports whether va is a canonical 48-bit address.
func isCanonical(va uint64) bool { return uint64(int64(va<<16)>>16) == va }

// isPrefix reports whether b is a legacy prefix.
func isPrefix(b byte) bool {
	switch b {
	case 0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65:
		return true
	}
	return false
}

// notImplemented reports whether code is one of the instructions the
// interpreter's documentation lists as not implemented (it raises #UD for
// them, which kills a program with SIGILL rather than running it wrong).
func notImplemented(code []byte) bool {
	inst, err := x86asm.Decode(interp.Canonical(code), 64)
	if err != nil {
		return false
	}
	if (inst.Op == x86asm.ENTER || inst.Op == x86asm.LEAVE) && inst.DataSize == 16 {
		return true
	}
	if inst.AddrSize == 32 {
		switch inst.Op {
		case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ, x86asm.STOSB, x86asm.STOSW,
			x86asm.STOSD, x86asm.STOSQ, x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ,
			x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ, x86asm.CMPSB, x86asm.CMPSW,
			x86asm.CMPSD, x86asm.CMPSQ, x86asm.INSB, x86asm.INSW, x86asm.INSD, x86asm.OUTSB,
			x86asm.OUTSW, x86asm.OUTSD:
			return true
		}
	}
	switch inst.Op {
	case x86asm.RCPPS, x86asm.RCPSS, x86asm.RSQRTPS, x86asm.RSQRTSS:
		return true
	case x86asm.FSIN, x86asm.FCOS, x86asm.FSINCOS, x86asm.FPTAN, x86asm.FPATAN, x86asm.F2XM1,
		x86asm.FYL2X, x86asm.FYL2XP1:
		return true
	}
	return false
}

// systemRead reports whether code reads the descriptor-table registers,
// descriptors or CR0 (STR, SLDT, SGDT, SIDT, SMSW, VERR, VERW, LAR, LSL),
// or reads or loads a segment register, which ring 3 may: their values are
// the KVM engine's own on VMX and SVM and the host's on a PVM host, and
// the interpreter, which has neither, refuses them.
func systemRead(code []byte) bool {
	i := 0
	for i < len(code) && (isPrefix(code[i]) || code[i]&0xF0 == 0x40) {
		i++
	}
	if i < len(code) && (code[i] == 0x8C || code[i] == 0x8E) {
		return true // MOV from or to a segment register, valid or not
	}
	inst, err := x86asm.Decode(interp.Canonical(code), 64)
	if err != nil {
		return false
	}
	switch inst.Op {
	case x86asm.STR, x86asm.SLDT, x86asm.SGDT, x86asm.SIDT, x86asm.SMSW,
		x86asm.VERR, x86asm.VERW, x86asm.LAR, x86asm.LSL, x86asm.LFS, x86asm.LGS, x86asm.LSS:
		return true
	}
	for _, a := range inst.Args {
		if r, ok := a.(x86asm.Reg); ok && r >= x86asm.ES && r <= x86asm.GS {
			return true // a segment register: pushed, popped or moved
		}
	}
	return false
}

// fuzzRun runs code on both engines and reports the first difference.
func fuzzRun(t *testing.T, seed uint64, code []byte) { fuzzRunWith(t, seed, code, fuzzHooks{}) }

// fuzzHooks adjust a fuzz run for directed tests.
type fuzzHooks struct {
	// setup, if not nil, adjusts the initial registers and FP state (in
	// the XSAVE layout) before both engines get them.
	setup func(regs *cpu.Regs, fp []byte)
	// diverged, if not nil, is given a difference in the registers
	// instead of failing the test.
	diverged func(d *Divergence)
}

// fuzzRunWith is fuzzRun adjusted by h.
func fuzzRunWith(t *testing.T, seed uint64, code []byte, h fuzzHooks) {
	r, err := fuzzRig()
	if err != nil {
		t.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpus [2]cpu.Stepper
	var regs cpu.Regs
	var fp, data []byte
	page := bytes.Repeat([]byte{0xCC}, mmu.PageSize) // int3 after the code
	copy(page, code)
	for side, s := range r.side {
		c, err := s.eng.NewCPU(s.as)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cpus[side] = c.(cpu.Stepper)
		if side == Oracle {
			kfp, err := c.FPState()
			if err != nil {
				t.Fatal(err)
			}
			regs, fp, data = fuzzStart(seed, max(len(kfp), 4096))
			if h.setup != nil {
				h.setup(&regs, fp)
			}
		}
		*c.Regs() = regs
		if err := c.SetFPState(fp); err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct {
			va uint64
			b  []byte
		}{{fuzzCodeVA, page}, {fuzzDataVA, data[:fuzzData]}, {fuzzStackVA, data[fuzzData:]}} {
			if err := s.fill(f.va, f.b); err != nil {
				t.Fatal(err)
			}
		}
	}
	var recent []uint64
	fxsave := false  // an FXSAVE ran: its MXCSR_MASK is the host's
	envSave := false // an FXSAVE, FNSTENV or FNSAVE stored the x87 pointers
	for step := range fuzzSteps {
		pc := cpus[Oracle].Regs().RIP
		insn := readInsn(r.side[Oracle].as, pc)
		undefined, counter := classify(insn, cpus[Oracle].Regs())
		var st [2]*State
		for side, c := range cpus {
			ex, err := c.Step()
			if err != nil {
				t.Fatalf("%s: %v", r.side[side].eng.Name(), err)
			}
			st[side] = &State{Phase: phaseStep, Exit: ex, PC: pc, Insn: insn, Step: uint64(step + 1),
				Recent: recent, undefined: undefined, counter: counter}
			if err := st[side].read(c); err != nil {
				t.Fatal(err)
			}
		}
		o, x := st[Oracle], st[Tested]
		if x.Exit.Kind == cpu.ExitFault && x.Exit.Fault.Vector == cpu.VecInvalidOp && unadvertised(insn) {
			t.Logf("not compared: 0x%x: % x (%s) belongs to an extension CPUID does not offer", pc, insn, Disassemble(insn, pc))
			return
		}
		if x.Exit.Kind == cpu.ExitFault && (x.Exit.Fault.Vector == cpu.VecInvalidOp || o.Exit.Kind == cpu.ExitFault) && farTransfer(insn) {
			// Far transfers load CS (and SS) from memory through the
			// descriptor tables, which are the KVM engine's own (a
			// selector may even be valid there); the interpreter has
			// none and refuses them.
			t.Logf("not compared: 0x%x: % x (%s) loads a segment through the KVM engine's descriptor tables", pc, insn, Disassemble(insn, pc))
			return
		}
		if inst, err := x86asm.Decode(interp.Canonical(insn), 64); err == nil && inst.DataSize == 16 &&
			(inst.Op == x86asm.SHLD || inst.Op == x86asm.SHRD) {
			// A 16-bit double shift by more than 16 leaves its result
			// undefined, and CPUs differ.
			t.Logf("not compared: 0x%x: % x (%s): 16-bit double shift", pc, insn, Disassemble(insn, pc))
			return
		}
		if x.Exit.Kind == cpu.ExitFault && x.Exit.Fault.Vector == cpu.VecGeneralProt &&
			(o.Exit.Kind != cpu.ExitFault || o.Exit.Fault.Vector != cpu.VecGeneralProt || o.Exit.Fault.PC != x.Exit.Fault.PC) && isFxsr(insn) {
			// The architecture requires FXSAVE's and FXRSTOR's area to be
			// 16-byte aligned (#GP otherwise), as the interpreter does;
			// this host runs them misaligned.
			t.Logf("not compared: 0x%x: % x (%s): misaligned FXSAVE or FXRSTOR run by the host", pc, insn, Disassemble(insn, pc))
			return
		}
		if x.Exit.Kind == cpu.ExitFault && x.Exit.Fault.Vector == cpu.VecGeneralProt && o.Exit.Kind == cpu.ExitStep &&
			o.MXCSR&(1<<17) != 0 {
			// MXCSR bit 17 is AMD's misaligned SSE mode: AMD's CPUs take
			// it, Intel's and the interpreter raise #GP.
			t.Logf("not compared: 0x%x: % x (%s) set MXCSR's misaligned SSE mode, an AMD extension", pc, insn, Disassemble(insn, pc))
			return
		}
		if x.Exit.Kind == cpu.ExitFault && x.Exit.Fault.Vector == cpu.VecInvalidOp && o.Exit.Kind != cpu.ExitFault &&
			registerNonTemporal(insn) {
			// A non-temporal store needs a memory operand: #UD for the
			// register form, as Intel documents and the interpreter
			// does; AMD's CPUs run it as a move.
			t.Logf("not compared: 0x%x: % x (%s): a non-temporal store to a register, vendor-dependent", pc, insn, Disassemble(insn, pc))
			return
		}
		if n, ok := intImm(insn); ok && x.Exit.Kind == cpu.ExitFault && x.Exit.Fault.Vector == cpu.VecGeneralProt &&
			x.Exit.Fault.ErrorCode == uint64(n)<<3|2 && (o.Exit.Kind != cpu.ExitFault || o.Exit.Fault != x.Exit.Fault) {
			// INT n through a gate ring 3 may not use is #GP with the
			// IDT error code, as the interpreter raises it; this PVM host
			// delivers a few of the reserved vectors (0x17, 0x19, 0x1a)
			// elsewhere.
			t.Logf("not compared: 0x%x: % x (%s): the host delivers INT 0x%x itself", pc, insn, Disassemble(insn, pc), n)
			return
		}
		if x.Exit.Kind == cpu.ExitFault && x.Exit.Fault.Vector == cpu.VecInvalidOp && o.Exit.Kind == cpu.ExitFault &&
			o.Exit.Fault.Vector == cpu.VecGeneralProt && opcodeAfterPrefixes(insn) == 0xEA {
			// JMP far ptr16:32 does not exist in 64-bit mode (#UD, as the
			// interpreter raises); this host reports #GP for some of its
			// prefixed forms (five REX prefixes, say).
			t.Logf("not compared: 0x%x: % x: JMP far, invalid in 64-bit mode, #GP on this host", pc, insn)
			return
		}
		if x.Exit.Kind == cpu.ExitFault && x.Exit.Fault.Vector == cpu.VecInvalidOp && o.Exit.Kind == cpu.ExitFault &&
			o.Exit.Fault.Vector == cpu.VecGeneralProt && prefixCount(insn) >= 12 {
			// An undefined encoding that is also longer than 15 bytes:
			// the CPU reports the length (#GP); the interpreter, which
			// cannot tell the length of an encoding x86asm does not
			// know, reports the encoding (#UD). Both kill the program.
			t.Logf("not compared: 0x%x: % x: an undefined encoding over 15 bytes", pc, insn)
			return
		}
		if narrowBranch(insn) {
			// An operand-size prefix on a near branch: Intel's CPUs
			// ignore it in 64-bit mode, AMD's truncate the target to 16
			// bits; REP prefixes on branches vary too. Which one the
			// oracle is depends on the host.
			t.Logf("not compared: 0x%x: % x (%s): 66-prefixed near branch, vendor-dependent", pc, insn, Disassemble(insn, pc))
			return
		}
		if o.Exit.Kind == cpu.ExitFault && o.Exit.Fault.Vector == cpu.VecAlignment {
			// The program set RFLAGS.AC. Alignment checking needs CR0.AM,
			// which a PVM host's own CR0 has set (as Linux sets it) and
			// the KVM engine's CR0 on VMX and SVM has not; the
			// interpreter does not check alignment. A known difference.
			t.Logf("not compared: 0x%x: % x (%s): alignment check with RFLAGS.AC set", pc, insn, Disassemble(insn, pc))
			return
		}
		if o.Exit.Kind == cpu.ExitFault && (o.Exit.Fault.Vector == cpu.VecInvalidOp || o.Exit.Fault.Vector == cpu.VecGeneralProt) &&
			!isCanonical(o.Regs.RSP) && (x.Exit.Kind != cpu.ExitFault || x.Exit.Fault.Vector != o.Exit.Fault.Vector) {
			// A trap or fault raised with a non-canonical RSP (its
			// single-step trap included): on a PVM host the KVM engine
			// cannot deliver it through its stubs and reports #UD, or
			// #GP where the CPU raised #SS.
			t.Logf("not compared: 0x%x: % x (%s): an exception with a non-canonical RSP on KVM", pc, insn, Disassemble(insn, pc))
			return
		}
		if o.Exit.Kind == cpu.ExitFault && o.Exit.Fault.PC >= 1<<63 {
			// The program set the trap flag while the KVM engine steps
			// with it too: its debug trap then lands in the engine's
			// own exception stub. Run, which does not step, reports the
			// program's trap as the interpreter does (the trap_flag
			// golden image); stepping through it is the engine's gap.
			t.Logf("not compared: 0x%x: % x (%s): the program's trap flag under KVM's single-step", pc, insn, Disassemble(insn, pc))
			return
		}
		if x.Exit.Kind == cpu.ExitFault && x.Exit.Fault.Vector == cpu.VecInvalidOp && notImplemented(insn) {
			t.Logf("not compared: 0x%x: % x (%s) is not implemented by the interpreter (SIGILL)", pc, insn, Disassemble(insn, pc))
			return
		}
		if x.Exit.Kind == cpu.ExitFault && x.Exit.Fault.Vector == cpu.VecInvalidOp && systemRead(insn) {
			t.Logf("not compared: 0x%x: % x (%s) reads system registers the engines do not share", pc, insn, Disassemble(insn, pc))
			return
		}
		if o.Exit.Kind == cpu.ExitFault && o.Exit.Fault.Vector == cpu.VecInvalidOp &&
			x.Exit.Kind == cpu.ExitFault && (x.Exit.Fault.Vector == cpu.VecGeneralProt || x.Exit.Fault.Vector == cpu.VecStackFault) {
			// On PVM hosts KVM intercepts #GP and emulates the
			// instruction; its emulator knows no x87 or SSE
			// instruction and raises #UD instead (a non-canonical
			// operand of movsd or fldt, say; #SS when it is on the
			// stack).
			t.Logf("not compared: 0x%x: % x (%s): #UD from KVM's emulator where the CPU raises #GP", pc, insn, Disassemble(insn, pc))
			return
		}
		if o.Exit.Kind == cpu.ExitFault && o.Exit.Fault.Vector == cpu.VecPageFault && o.Exit.Fault.Addr == o.Regs.RSI &&
			x.Exit.Kind == cpu.ExitFault && x.Exit.Fault.Vector == cpu.VecGeneralProt && !isCanonical(x.Regs.RDI) && twoOperandString(insn) {
			// CMPS or MOVS with a non-canonical RDI: the CPU's #GP is
			// intercepted on PVM hosts and KVM's emulator runs the
			// instruction, reading DS:RSI first, so a page fault there
			// comes out instead.
			t.Logf("not compared: 0x%x: % x (%s): KVM's emulator reads RSI before the non-canonical RDI", pc, insn, Disassemble(insn, pc))
			return
		}
		if o.Exit.Kind == cpu.ExitFault && o.Exit.Fault.Vector == cpu.VecDebug && x.Exit.Kind == cpu.ExitStep && o.Regs.RIP >= mmu.UserEnd {
			// A jump to a canonical supervisor address completes; the
			// KVM engine's Step takes only a #DB at a program address
			// for its single-step trap and reports this one as a fault.
			t.Logf("not compared: 0x%x: % x (%s) went to 0x%x, where KVM's Step cannot tell its single-step trap", pc, insn, Disassemble(insn, pc), o.Regs.RIP)
			return
		}
		if f := o.Exit.Fault; o.Exit.Kind == cpu.ExitFault && f.Vector == cpu.VecPageFault && (f.Addr >= mmu.UserEnd) {
			t.Logf("not compared: the code touched the KVM engine's own pages at 0x%x", f.Addr)
			return
		}
		if f := x.Exit.Fault; x.Exit.Kind == cpu.ExitFault && f.Vector == cpu.VecPageFault && f.Addr >= mmu.UserEnd && f.Addr < mmu.EngineEnd {
			// The KVM engine's pages there are readable from ring 3;
			// the interpreter has none.
			t.Logf("not compared: the code read the KVM engine's own pages at 0x%x", f.Addr)
			return
		}
		mask(o, x, cpus[Tested].Regs(), false)
		if diffs := compare(o, x); len(diffs) > 0 && x.Exit.Kind == cpu.ExitStep && isProgram(x.Regs.RIP, code) &&
			(o.Exit.Kind == cpu.ExitStep || o.Exit.Kind == cpu.ExitFault &&
				(o.Exit.Fault.PC == x.Regs.RIP || o.Exit.Fault.Vector == cpu.VecBreakpoint && o.Exit.Fault.PC == x.Regs.RIP+1)) {
			// On a PVM host the trap flag's #DB is now and then lost and
			// KVM's Step runs two instructions (the second may fault,
			// or be the int3 after the code, a trap past it):
			// let the interpreter catch up once, as the image comparison
			// does (catchUp).
			if ex, err := cpus[Tested].Step(); err == nil {
				y := &State{Phase: phaseStep, Exit: ex, PC: x.Regs.RIP, Step: x.Step + 1, Recent: recent}
				if y.read(cpus[Tested]) == nil {
					mask(o, y, cpus[Tested].Regs(), false)
					if len(compare(o, y)) == 0 {
						x, st[Tested] = y, y
					} else if y.Exit.Kind == cpu.ExitFault && y.Exit.Fault.Vector == cpu.VecDebug &&
						o.Exit.Kind == cpu.ExitStep && o.Regs.RIP == y.Regs.RIP && isICEBP(readInsn(r.side[Tested].as, x.Regs.RIP)) {
						// The second instruction was ICEBP, whose #DB
						// KVM's Step took for its own single-step trap.
						t.Logf("not compared: 0x%x: KVM's Step ran on to ICEBP and took its #DB for its own trap", x.Regs.RIP)
						return
					}
				}
			}
		}
		if diffs := compare(o, x); len(diffs) > 0 && isCPUID(insn) {
			// A PVM host cannot intercept CPUID (package cpu/kvm's
			// guestCPUID): there the hardware reports the host's CPU.
			t.Logf("not compared: 0x%x: % x (%s): CPUID reports the host's CPU on this host", pc, insn, Disassemble(insn, pc))
			return
		}
		if diffs := compare(o, x); len(diffs) > 0 && (o.Regs.RFLAGS|x.Regs.RFLAGS)&flagTF != 0 {
			// The program set the trap flag (POPF) while KVM's Step
			// uses it too: the two traps mix (see above).
			t.Logf("not compared: 0x%x: % x (%s): the program's trap flag under KVM's single-step", pc, insn, Disassemble(insn, pc))
			return
		}
		if diffs := compare(o, x); len(diffs) > 0 {
			if why := knownIssue(o, x, diffs); why != "" && *flagSkipKnown {
				t.Logf("not compared: known difference: %s", why)
				return
			}
			d := &Divergence{Names: [2]string{r.side[0].eng.Name(), r.side[1].eng.Name()}, Oracle: o, Tested: x, Diffs: diffs}
			if h.diverged != nil {
				h.diverged(d)
				return
			}
			t.Fatalf("seed %#x, code % x:\n%v", seed, code, d)
		}
		recent = append(recent, pc)
		fxsave = fxsave || isFxsr(insn)
		envSave = envSave || isEnvSave(insn)
		if o.Exit.Kind != cpu.ExitStep || o.Regs.RIP < fuzzCodeVA || o.Regs.RIP >= fuzzCodeVA+uint64(len(code)) {
			break
		}
	}
	// Memory the code may have written.
	for _, m := range []struct{ va, size uint64 }{{fuzzDataVA, fuzzData}, {fuzzStackVA, fuzzStack}} {
		var mem [2][]byte
		for side, s := range r.side {
			mem[side] = make([]byte, m.size)
			if err := s.as.ReadAt(mem[side], m.va); err != nil {
				t.Fatal(err)
			}
		}
		if fxsave {
			maskMXCSRMask(t, mem[0], mem[1])
		}
		if envSave && !hostAMD() && !bytes.Equal(mem[0], mem[1]) {
			// The interpreter stores the x87 pointers as AMD's CPUs
			// do (cpu/interp's x87env.go); Intel's store them always.
			t.Logf("not compared: memory an x87 environment was stored in, on a CPU not AMD's")
			return
		}
		if !bytes.Equal(mem[0], mem[1]) {
			i := 0
			for mem[0][i] == mem[1][i] {
				i++
			}
			i &^= 7
			if h.diverged != nil {
				h.diverged(&Divergence{Diffs: []Diff{{fmt.Sprintf("memory at 0x%x", m.va+uint64(i)),
					fmt.Sprintf("% x", mem[0][i:i+8]), fmt.Sprintf("% x", mem[1][i:i+8])}}})
				return
			}
			t.Fatalf("seed %#x, code % x: memory differs at 0x%x: %s % x, %s % x (instructions at %#x)",
				seed, code, m.va+uint64(i), r.side[0].eng.Name(), mem[0][i:i+8], r.side[1].eng.Name(), mem[1][i:i+8], recent)
		}
	}
}

var flagSkipKnown = flag.Bool("lockstep.skipknown", false, "skip fuzz inputs that hit a difference already reported (see knownIssue), to look for new ones")

// knownIssue names a class of interpreter differences already reported, so
// that a fuzzing session can look past it (-lockstep.skipknown). Inputs
// that show one and are not fixed yet are kept in testdata/known
// (TestKnownIssues checks that they still differ); fixed ones move to
// testdata/fuzz, where every run replays them.
//
// No class is open at present.
func knownIssue(o, x *State, diffs []Diff) string {
	return ""
}

// harvest collects distinct encodings of straight-line instructions from
// the test images' code, in a stable order.
func harvest(t testing.TB) [][]byte {
	if err := buildImages(); err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(imagesDir, "build", "*.elf"))
	seen := map[string]bool{}
	for _, p := range paths {
		f, err := elf.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		text := f.Section(".text")
		if text == nil {
			f.Close()
			continue
		}
		b, err := text.Data()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for len(b) > 0 {
			inst, err := x86asm.Decode(b, 64)
			if err != nil {
				b = b[1:]
				continue
			}
			if straightLine(inst) {
				seen[string(b[:inst.Len])] = true
			}
			b = b[inst.Len:]
		}
	}
	list := make([]string, 0, len(seen))
	for s := range seen {
		list = append(list, s)
	}
	sort.Strings(list)
	out := make([][]byte, len(list))
	for i, s := range list {
		out[i] = []byte(s)
	}
	return out
}

// zoo lists an encoding of each straight-line instruction reachable from a
// one-byte or 0F-escaped opcode, with every ModRM reg field and a register
// or a memory operand, under no prefix, each of 66, F2 and F3 (which
// select SSE forms), and REX.W: the instructions a program may use that the test images do
// not, for the fuzzer to start from. Extensions CPUID does not offer are
// left out.
func zoo() [][]byte {
	seen := map[string]bool{}
	var out [][]byte
	tail := []byte{0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // small immediates
	for _, pfx := range [][]byte{nil, {0x66}, {0xF2}, {0xF3}, {0x48}} {
		for _, esc := range [][]byte{nil, {0x0F}} {
			for op := range 256 {
				for m := range 18 {
					// Each ModRM reg field (an opcode extension in the
					// groups), with a register and with [rbx]; and an
					// [rsp+8] operand.
					modrm := []byte{0xC1 | byte(m%8)<<3}
					switch {
					case m >= 16:
						modrm = []byte{0x44 | byte(m%2)<<4, 0x24, 0x08}
					case m >= 8:
						modrm = []byte{0x03 | byte(m%8)<<3}
					}
					b := append(append(append(append([]byte{}, pfx...), esc...), byte(op)), modrm...)
					b = append(b, tail...)
					inst, err := x86asm.Decode(b, 64)
					if err != nil || inst.Op == 0 || !straightLine(inst) || unadvertised(b[:inst.Len]) {
						continue
					}
					if k := string(b[:inst.Len]); !seen[k] {
						seen[k] = true
						out = append(out, b[:inst.Len])
					}
				}
			}
		}
	}
	return out
}

// straightLine reports whether inst continues at the next instruction and
// touches no state outside the compared registers and memory.
func straightLine(inst x86asm.Inst) bool {
	op := inst.Op.String()
	switch {
	case strings.HasPrefix(op, "J"), strings.HasPrefix(op, "LOOP"):
		return false
	}
	switch inst.Op {
	case x86asm.CALL, x86asm.RET, x86asm.SYSCALL, x86asm.INT, x86asm.UD2, x86asm.HLT, x86asm.CPUID,
		x86asm.LRET, x86asm.IRETQ, x86asm.NOP:
		return false
	}
	for _, a := range inst.Args {
		if m, ok := a.(x86asm.Mem); ok && m.Base == x86asm.RIP {
			return false // its target depends on where the code sits
		}
	}
	return true
}

func FuzzLockstep(f *testing.F) {
	if err := kvm.Available(); err != nil {
		f.Skipf("skipping: no hardware oracle: %v", err)
	}
	corpus := harvest(f)
	if len(corpus) == 0 {
		f.Fatal("no instructions harvested from the test images")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var code []byte
		for n := 2 + rng.IntN(10); n > 0; n-- {
			code = append(code, corpus[rng.IntN(len(corpus))]...)
		}
		f.Add(rng.Uint64(), code)
	}
	// And every opcode the images may lack, a few to a sequence.
	extra := zoo()
	for i := 0; i < len(extra); i += 4 {
		var code []byte
		for _, e := range extra[i:min(i+4, len(extra))] {
			code = append(code, e...)
		}
		f.Add(rng.Uint64(), code)
	}
	f.Fuzz(func(t *testing.T, seed uint64, code []byte) {
		if len(code) == 0 || len(code) > fuzzMaxCode {
			return // nothing to run, or more than the code page holds
		}
		fuzzRun(t, seed, code)
	})
}

// TestKnownIssues replays the inputs of known, unfixed differences
// (testdata/known/FuzzLockstep, in the fuzz corpus format) and checks that
// each still differs: one that no longer does has been fixed and belongs
// with the regression inputs in testdata/fuzz/FuzzLockstep.
func TestKnownIssues(t *testing.T) {
	requireKVM(t)
	paths, _ := filepath.Glob(filepath.Join("testdata", "known", "FuzzLockstep", "*"))
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			seed, code, err := readCorpusFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var found *Divergence
			fuzzRunWith(t, seed, code, fuzzHooks{diverged: func(d *Divergence) { found = d }})
			if found == nil {
				t.Errorf("%s no longer differs: move it to testdata/fuzz/FuzzLockstep", p)
			} else {
				t.Logf("still differs, as known: %v", found.Diffs)
			}
		})
	}
}

// readCorpusFile reads a "go test fuzz v1" file of a uint64 and a []byte.
func readCorpusFile(path string) (uint64, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, err
	}
	ls := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(ls) != 3 || ls[0] != "go test fuzz v1" {
		return 0, nil, fmt.Errorf("%s: not a fuzz input of two values", path)
	}
	var seed uint64
	if _, err := fmt.Sscanf(ls[1], "uint64(%d)", &seed); err != nil {
		return 0, nil, fmt.Errorf("%s: %v", path, err)
	}
	q := strings.TrimSuffix(strings.TrimPrefix(ls[2], "[]byte("), ")")
	s, err := strconv.Unquote(q)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %v", path, err)
	}
	return seed, []byte(s), nil
}
