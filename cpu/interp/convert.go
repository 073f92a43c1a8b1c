package interp

import (
	"fmt"

	"golang.org/x/arch/x86/x86asm"
)

// convert turns an x86asm instruction into an inst: it picks the handler
// and resolves the operands. Anything it does not know is an error, which
// becomes #UD.
func convert(in *inst, x *x86asm.Inst, raw []byte) error {
	var nargs int
	for nargs < len(x.Args) && x.Args[nargs] != nil {
		nargs++
	}
	if nargs > 3 {
		return errUnsupported("four operands")
	}
	for i := 0; i < nargs; i++ {
		o, err := convOperand(x.Args[i], in.next, x.AddrSize)
		if err != nil {
			return err
		}
		in.ops[i] = o
	}
	in.size = opSize(x)
	if hasPrefix(x, x86asm.PrefixREP) {
		in.rep = repE
	} else if hasPrefix(x, x86asm.PrefixREPN) {
		in.rep = repNE
	}
	lock := hasPrefix(x, x86asm.PrefixLOCK)
	if lock {
		in.rep |= lockPrefix
	}
	if in.ops[0].kind == kImm && nargs == 1 {
		in.imm = in.ops[0].disp
	}
	if lock && !lockable(x.Op, in) {
		return errUnsupported("LOCK prefix on an instruction that takes none")
	}

	if cc, ok := jccOps[x.Op]; ok {
		if in.ops[0].kind != kImm {
			return errUnsupported("jcc operand")
		}
		in.fn, in.sub, in.flow, in.fuse = opJcc, cc, 1, fuseJcc
		return nil
	}
	if cc, ok := cmovOps[x.Op]; ok {
		in.fn, in.sub = opCmov, cc
		return nil
	}
	if cc, ok := setOps[x.Op]; ok {
		in.fn, in.sub = opSetcc, cc
		return nil
	}
	if sub, ok := aluOps[x.Op]; ok {
		in.fn, in.sub = opALU, sub
		switch sub {
		case aluCmp:
			in.fuse = fuseCmp
		case aluAdd:
			in.fuse = fuseAdd
		case aluSub:
			in.fuse = fuseSub
		case aluAnd:
			in.fuse = fuseAnd
		case aluOr:
			in.fuse = fuseOr
		case aluXor:
			in.fuse = fuseXor
		}
		d, s := in.ops[0].kind, in.ops[1].kind
		wide := in.size == 4 || in.size == 8
		form := 0 // aluFast's index: 64-bit RR, 32-bit RR, 64-bit RI, 32-bit RI
		if in.size == 4 {
			form = 1
		}
		switch {
		case sub == aluAdc || sub == aluSbb || lock:
		case d == kReg && wide && s == kReg:
			in.fn = aluFast[sub][form]
		case d == kReg && wide && s == kImm:
			in.fn = aluFast[sub][form+2]
		case d == kReg && wide && s == kMem && !in.ops[1].a32:
			in.fn, in.mask = opALURM, maskOf(in.size)
		case d == kMem && s == kImm && sub == aluCmp:
			in.fn = opCmpMI
		}
		return nil
	}
	if sub, ok := shiftOps[x.Op]; ok {
		in.fn, in.sub = opShift, sub
		d, n := &in.ops[0], &in.ops[1]
		if d.kind == kReg && n.kind == kImm && (in.size == 4 || in.size == 8) {
			n.disp &= uint64(in.size)*8 - 1 // the CPU's count mask: 31 or 63
			if fast := shiftFast[sub]; fast != nil && n.disp != 0 {
				in.fn, in.mask = fast, maskOf(in.size)
			}
		}
		return nil
	}
	if f, ok := sseOps[x.Op]; ok {
		return convertSSE(in, x, f)
	}
	if raw0 := x87Escape(raw); raw0 >= 0 {
		return convertX87(in, x, raw)
	}

	switch x.Op {
	case x86asm.FWAIT:
		in.fn = opFwait
	case x86asm.LFENCE, x86asm.MFENCE, x86asm.SFENCE:
		if err := noSSEPrefix(x); err != nil {
			return err
		}
		in.fn = opNop
	case x86asm.NOP, x86asm.PAUSE, x86asm.PREFETCHNTA, x86asm.PREFETCHT0, x86asm.PREFETCHT1,
		x86asm.PREFETCHT2, x86asm.PREFETCHW:
		in.fn = opNop
	case x86asm.TEST:
		in.fn, in.fuse = opTest, fuseTest
		if in.ops[0].kind == kReg && in.ops[1].kind == kReg && (in.size == 4 || in.size == 8) {
			in.fn = opTestRR
		}
	case x86asm.INC:
		in.fn, in.sub, in.fuse = opUnary, unInc, fuseInc
	case x86asm.DEC:
		in.fn, in.sub, in.fuse = opUnary, unDec, fuseDec
	case x86asm.NEG:
		in.fn, in.sub = opUnary, unNeg
	case x86asm.NOT:
		in.fn, in.sub = opUnary, unNot
	case x86asm.MOV:
		in.fuse = fuseMov
		d, s := &in.ops[0], &in.ops[1]
		switch {
		case d.kind == kReg && s.kind == kReg && in.size == 8:
			in.fn = opMovRR
			return nil
		case d.kind == kReg && s.kind == kMem && !s.a32 && (in.size == 4 || in.size == 8):
			in.fn, in.mask = opMovRMFast, maskOf(in.size)
			return nil
		case d.kind == kMem && !d.a32 && (s.kind == kReg || s.kind == kImm):
			switch {
			case s.kind == kReg && in.size == 8:
				in.fn = opMovMR64
			case s.kind == kReg && in.size == 4:
				in.fn = opMovMR32
			case s.kind == kReg:
				in.fn = opMovMRFast
			case in.size == 1:
				in.fn = opMovMI8
			default:
				in.fn = opMovMIFast
			}
			return nil
		}
		if in.ops[0].kind == kReg && (in.size == 4 || in.size == 8) && in.ops[1].kind == kImm {
			in.fn = opMovRI
			return nil
		}
		if in.ops[0].kind == kReg && in.size == 4 && in.ops[1].kind == kReg {
			in.fn = opMovRR32
			return nil
		}
		if in.ops[0].kind == kReg && in.size == 4 && in.ops[1].kind == kMem {
			in.fn = opMovRM32
			return nil
		}
		if in.ops[0].kind == kMem && in.ops[1].kind == kImm {
			in.fn = opMovMI
			return nil
		}
		if in.ops[0].kind > kImm || in.ops[1].kind > kImm {
			return errUnsupported("MOV with a segment or control register")
		}
		in.fn = opMov
	case x86asm.MOVZX, x86asm.MOVSX, x86asm.MOVSXD:
		in.sub = argSize(x, 1)
		in.fn = opMovsx
		if x.Op == x86asm.MOVZX {
			in.fn = opMovzx
		}
		if x.Op == x86asm.MOVSXD && in.sub == in.size {
			in.fn = opMov // MOVSXD without REX.W is a plain move
		}
		s := &in.ops[1]
		if x.Op == x86asm.MOVZX && s.kind == kMem && !s.a32 && (in.size == 4 || in.size == 8) {
			in.fn, in.mask = opMovzxRMFast, maskOf(in.sub)
		}
	case x86asm.LEA:
		if in.ops[1].kind != kMem {
			return errUnsupported("LEA of a register")
		}
		in.fn = opLea
		if in.size == 8 && !in.ops[1].a32 {
			in.fn = opLea64
		}
	case x86asm.XCHG:
		in.fn = opXchg
	case x86asm.CMPXCHG:
		in.fn = opCmpxchg
	case x86asm.CMPXCHG16B:
		in.fn, in.size = opCmpxchg16b, 16
	case x86asm.CMPXCHG8B:
		in.fn, in.size = opCmpxchg16b, 8
	case x86asm.XADD:
		in.fn = opXadd
	case x86asm.BSWAP:
		in.fn = opBswap
	case x86asm.XLATB:
		in.fn = opXlat
	case x86asm.CBW:
		in.fn, in.size = opCbw, 2
	case x86asm.CWDE:
		in.fn, in.size = opCbw, 4
	case x86asm.CDQE:
		in.fn, in.size = opCbw, 8
	case x86asm.CWD:
		in.fn, in.size = opCwd, 2
	case x86asm.CDQ:
		in.fn, in.size = opCwd, 4
	case x86asm.CQO:
		in.fn, in.size = opCwd, 8
	case x86asm.MUL:
		in.fn, in.sub = opMul1, 0
	case x86asm.IMUL:
		switch nargs {
		case 1:
			in.fn, in.sub = opMul1, 1
		case 2:
			in.ops[2] = in.ops[1]
			in.ops[1] = in.ops[0]
			in.fn = opImul
		default:
			in.fn = opImul
		}
	case x86asm.DIV:
		in.fn, in.sub = opDiv, 0
	case x86asm.IDIV:
		in.fn, in.sub = opDiv, 1
	case x86asm.SHLD:
		in.fn, in.sub = opShd, 0
	case x86asm.SHRD:
		in.fn, in.sub = opShd, 1
	case x86asm.BT:
		in.fn, in.sub = opBt, btTest
	case x86asm.BTS:
		in.fn, in.sub = opBt, btSet
	case x86asm.BTR:
		in.fn, in.sub = opBt, btReset
	case x86asm.BTC:
		in.fn, in.sub = opBt, btComplement
	case x86asm.BSF:
		in.fn, in.sub = opBsf, 0
	case x86asm.BSR:
		in.fn, in.sub = opBsf, 1
	case x86asm.TZCNT:
		in.fn, in.sub = opTzcnt, 0
	case x86asm.LZCNT:
		in.fn, in.sub = opTzcnt, 1
	case x86asm.POPCNT:
		in.fn = opPopcnt
	case x86asm.CLC:
		in.fn, in.sub = opFlag, flClc
	case x86asm.STC:
		in.fn, in.sub = opFlag, flStc
	case x86asm.CMC:
		in.fn, in.sub = opFlag, flCmc
	case x86asm.CLD:
		in.fn, in.sub = opFlag, flCld
	case x86asm.STD:
		in.fn, in.sub = opFlag, flStd
	case x86asm.LAHF:
		in.fn, in.sub = opFlag, flLahf
	case x86asm.SAHF:
		in.fn, in.sub = opFlag, flSahf

	case x86asm.JMP:
		in.flow = 1
		if in.ops[0].kind == kImm {
			in.fn = opJmp
		} else {
			in.fn = opJmpInd
		}
	case x86asm.CALL:
		in.flow = 1
		if in.ops[0].kind == kImm {
			in.fn = opCall
		} else {
			in.fn = opCallInd
		}
	case x86asm.RET:
		in.flow = 1
		in.fn = opRet
		if nargs == 0 {
			in.imm = 0
		}
	case x86asm.JRCXZ:
		in.fn, in.sub, in.flow, in.size = opLoop, 3, 1, 8
	case x86asm.JECXZ:
		in.fn, in.sub, in.flow, in.size = opLoop, 3, 1, 4
	case x86asm.LOOP:
		in.fn, in.sub, in.flow, in.size = opLoop, 0, 1, addrBytes(x)
	case x86asm.LOOPE:
		in.fn, in.sub, in.flow, in.size = opLoop, 1, 1, addrBytes(x)
	case x86asm.LOOPNE:
		in.fn, in.sub, in.flow, in.size = opLoop, 2, 1, addrBytes(x)
	case x86asm.PUSH:
		in.size = 8
		if x.DataSize == 16 {
			in.size = 2
		}
		if in.ops[0].kind == kImm {
			in.ops[0].disp = in.imm
		}
		if in.ops[0].kind > kImm {
			return errUnsupported("PUSH of a segment register")
		}
		in.fn = opPush
		if in.size == 8 && in.ops[0].kind == kReg {
			in.fn = opPushReg
		}
	case x86asm.POP:
		in.size = 8
		if x.DataSize == 16 {
			in.size = 2
		}
		if in.ops[0].kind > kImm {
			return errUnsupported("POP of a segment register")
		}
		in.fn = opPop
		if in.size == 8 && in.ops[0].kind == kReg {
			in.fn = opPopReg
		}
	case x86asm.PUSHF, x86asm.PUSHFQ:
		in.fn, in.size = opPushf, 8
		if x.DataSize == 16 {
			in.size = 2
		}
	case x86asm.POPF, x86asm.POPFQ:
		in.fn, in.size = opPopf, 8
		if x.DataSize == 16 {
			in.size = 2
		}
	case x86asm.LEAVE:
		if x.DataSize == 16 {
			return errUnsupported("16-bit LEAVE")
		}
		in.fn = opLeave
	case x86asm.ENTER:
		if x.DataSize == 16 {
			return errUnsupported("16-bit ENTER")
		}
		in.fn = opEnter
		in.imm = in.ops[0].disp & 0xFFFF
		in.sub = uint8(in.ops[1].disp)

	case x86asm.SYSCALL:
		in.fn, in.flow = opSyscall, 1
	case x86asm.INT:
		in.fn, in.flow = opInt, 1
		in.imm &= 0xFF
		if in.imm == 3 && raw[len(raw)-1] == 0xCC { // INT3 (CC), after any prefixes, not INT 3 (CD 03)
			in.fn = opInt3
		}
	case x86asm.ICEBP:
		in.fn, in.flow = opIcebp, 1
	case x86asm.UD0, x86asm.UD1, x86asm.UD2:
		in.fn, in.flow = opUD, 1
	case x86asm.CPUID:
		in.fn = opCPUID
	case x86asm.RDTSC:
		in.fn = opRdtsc
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ:
		in.fn, in.size = opMovs, stringSize(x.Op)
	case x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ:
		in.fn, in.size = opStos, stringSize(x.Op)
	case x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ:
		in.fn, in.size = opLods, stringSize(x.Op)
	case x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ:
		in.fn, in.size = opScas, stringSize(x.Op)
	case x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ:
		in.fn, in.size = opCmps, stringSize(x.Op)

	case x86asm.HLT, x86asm.CLI, x86asm.STI, x86asm.IN, x86asm.OUT, x86asm.INSB, x86asm.INSW,
		x86asm.INSD, x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD, x86asm.LGDT, x86asm.LIDT,
		x86asm.LLDT, x86asm.LTR, x86asm.LMSW, x86asm.CLTS, x86asm.INVD, x86asm.WBINVD,
		x86asm.INVLPG, x86asm.RDMSR, x86asm.WRMSR, x86asm.RDPMC, x86asm.SYSRET, x86asm.SYSEXIT,
		x86asm.IRET, x86asm.IRETD, x86asm.IRETQ, x86asm.SWAPGS, x86asm.XSETBV:
		// Privileged at ring 3 (IOPL 0): #GP(0), as KVM reports them.
		in.fn, in.flow = opGP, 1
	default:
		return errUnsupported(fmt.Sprintf("instruction %v", x.Op))
	}
	if x.AddrSize != 64 && (in.fn == nil || isStringOp(x.Op)) {
		return errUnsupported("32-bit address size string instruction")
	}
	return nil
}

func isStringOp(op x86asm.Op) bool {
	switch op {
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ, x86asm.STOSB, x86asm.STOSW,
		x86asm.STOSD, x86asm.STOSQ, x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ,
		x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ, x86asm.CMPSB, x86asm.CMPSW,
		x86asm.CMPSD, x86asm.CMPSQ:
		return true
	}
	return false
}

func addrBytes(x *x86asm.Inst) uint8 { return uint8(x.AddrSize / 8) }

func stringSize(op x86asm.Op) uint8 {
	switch op {
	case x86asm.MOVSB, x86asm.STOSB, x86asm.LODSB, x86asm.SCASB, x86asm.CMPSB:
		return 1
	case x86asm.MOVSW, x86asm.STOSW, x86asm.LODSW, x86asm.SCASW, x86asm.CMPSW:
		return 2
	case x86asm.MOVSD, x86asm.STOSD, x86asm.LODSD, x86asm.SCASD, x86asm.CMPSD:
		return 4
	}
	return 8
}

// lockable reports whether LOCK is allowed: read-modify-write
// instructions with a memory destination.
func lockable(op x86asm.Op, in *inst) bool {
	if in.ops[0].kind != kMem {
		return false
	}
	switch op {
	case x86asm.ADD, x86asm.OR, x86asm.ADC, x86asm.SBB, x86asm.AND, x86asm.SUB, x86asm.XOR,
		x86asm.INC, x86asm.DEC, x86asm.NEG, x86asm.NOT, x86asm.XCHG, x86asm.CMPXCHG,
		x86asm.CMPXCHG8B, x86asm.CMPXCHG16B, x86asm.XADD, x86asm.BTS, x86asm.BTR, x86asm.BTC:
		return true
	}
	return false
}

// opSize is an instruction's operand size in bytes.
func opSize(x *x86asm.Inst) uint8 {
	if x.Args[0] != nil {
		if r, ok := x.Args[0].(x86asm.Reg); ok {
			if _, _, size, ok := gpr(r); ok {
				return size
			}
		}
		if _, ok := x.Args[0].(x86asm.Mem); ok && x.MemBytes > 0 && x.MemBytes <= 8 {
			return uint8(x.MemBytes)
		}
	}
	switch x.DataSize {
	case 16:
		return 2
	case 64:
		return 8
	}
	return 4
}

// argSize is the size of argument i (a register or memory).
func argSize(x *x86asm.Inst, i int) uint8 {
	switch a := x.Args[i].(type) {
	case x86asm.Reg:
		if _, _, size, ok := gpr(a); ok {
			return size
		}
	case x86asm.Mem:
		return uint8(x.MemBytes)
	}
	return 0
}

var jccOps = map[x86asm.Op]uint8{
	x86asm.JO: ccO, x86asm.JNO: ccNO, x86asm.JB: ccB, x86asm.JAE: ccAE,
	x86asm.JE: ccE, x86asm.JNE: ccNE, x86asm.JBE: ccBE, x86asm.JA: ccA,
	x86asm.JS: ccS, x86asm.JNS: ccNS, x86asm.JP: ccP, x86asm.JNP: ccNP,
	x86asm.JL: ccL, x86asm.JGE: ccGE, x86asm.JLE: ccLE, x86asm.JG: ccG,
}

var cmovOps = map[x86asm.Op]uint8{
	x86asm.CMOVO: ccO, x86asm.CMOVNO: ccNO, x86asm.CMOVB: ccB, x86asm.CMOVAE: ccAE,
	x86asm.CMOVE: ccE, x86asm.CMOVNE: ccNE, x86asm.CMOVBE: ccBE, x86asm.CMOVA: ccA,
	x86asm.CMOVS: ccS, x86asm.CMOVNS: ccNS, x86asm.CMOVP: ccP, x86asm.CMOVNP: ccNP,
	x86asm.CMOVL: ccL, x86asm.CMOVGE: ccGE, x86asm.CMOVLE: ccLE, x86asm.CMOVG: ccG,
}

var setOps = map[x86asm.Op]uint8{
	x86asm.SETO: ccO, x86asm.SETNO: ccNO, x86asm.SETB: ccB, x86asm.SETAE: ccAE,
	x86asm.SETE: ccE, x86asm.SETNE: ccNE, x86asm.SETBE: ccBE, x86asm.SETA: ccA,
	x86asm.SETS: ccS, x86asm.SETNS: ccNS, x86asm.SETP: ccP, x86asm.SETNP: ccNP,
	x86asm.SETL: ccL, x86asm.SETGE: ccGE, x86asm.SETLE: ccLE, x86asm.SETG: ccG,
}

var aluOps = map[x86asm.Op]uint8{
	x86asm.ADD: aluAdd, x86asm.OR: aluOr, x86asm.ADC: aluAdc, x86asm.SBB: aluSbb,
	x86asm.AND: aluAnd, x86asm.SUB: aluSub, x86asm.XOR: aluXor, x86asm.CMP: aluCmp,
}

// shiftFast holds the handlers of shifts of a register by an immediate.
var shiftFast = [8]func(*CPU, *inst){shShl: opShlRI, shSal: opShlRI, shShr: opShrRI, shSar: opSarRI}

var shiftOps = map[x86asm.Op]uint8{
	x86asm.ROL: shRol, x86asm.ROR: shRor, x86asm.RCL: shRcl, x86asm.RCR: shRcr,
	x86asm.SHL: shShl, x86asm.SHR: shShr, x86asm.SAR: shSar,
}
