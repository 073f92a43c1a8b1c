package interp

import (
	"fmt"
	"slices"

	"golang.org/x/arch/x86/x86asm"

	"github.com/aurora-vm/aurora-vm/cpu"
)

// Operand kinds.
const (
	kNone  = iota
	kReg   // general register, low bytes
	kRegH  // AH, CH, DH or BH: bits 8-15 of reg
	kMem   // memory at base + index<<scale + disp
	kImm   // imm
	kXMM   // SSE register reg
	kST    // x87 register ST(reg)
	kAbs32 // address-size override: memory address truncated to 32 bits
)

// regZero is the slot of CPU.g that is always zero: an absent base or
// index register.
const regZero = 18

// operand is a decoded operand. Register numbers are slots of CPU.g (the
// order of cpu.Regs), not x86 encodings.
type operand struct {
	kind  uint8
	reg   uint8
	base  uint8
	index uint8
	scale uint8 // shift count 0-3
	a32   bool  // 32-bit address size
	// ss says the operand is in the stack segment: a non-canonical
	// address raises #SS, not #GP (see stackSegment).
	ss   bool
	disp uint64
}

// inst is one decoded instruction.
type inst struct {
	fn   func(*CPU, *inst)
	pc   uint64
	next uint64
	// flow is non-zero for instructions that set c.rip themselves.
	flow uint8
	size uint8 // operand size in bytes
	sub  uint8 // handler-specific: condition code, ALU op, element size, truth table...
	rep  uint8 // 0, repE (F3) or repNE (F2)
	// fuse says what the instruction is to fuseTail (fuse.go), which fuses
	// a Jcc (fuseJcc) with the instructions before it.
	fuse uint8
	imm  uint64
	// mask is the operand-size mask of the fast and fused handlers that
	// use it; flip is the sign bit that turns a fused entry's signed
	// comparison into an unsigned one (0 for other conditions).
	mask, flip uint64
	ops        [3]operand
	// x87 instructions keep their opcode bytes (escape and ModRM).
	x87op [2]byte
}

const (
	repE  = 1
	repNE = 2
)

// encToSlot maps an x86 register encoding (RAX, RCX, RDX, RBX, RSP, RBP,
// RSI, RDI, R8-R15) to its slot in cpu.Regs.
var encToSlot = [16]uint8{0, 2, 3, 1, 6, 7, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15}

// Slots of cpu.Regs.
const (
	rAX = 0
	rBX = 1
	rCX = 2
	rDX = 3
	rSI = 4
	rDI = 5
	rSP = 6
	rBP = 7
)

// gpr converts an x86asm register to a slot, a kind and a size.
func gpr(r x86asm.Reg) (slot, kind, size uint8, ok bool) {
	switch {
	case r >= x86asm.AL && r <= x86asm.R15B:
		n := r - x86asm.AL
		switch {
		case n < 4:
			return encToSlot[n], kReg, 1, true
		case n < 8: // AH, CH, DH, BH
			return encToSlot[n-4], kRegH, 1, true
		}
		return encToSlot[n-4], kReg, 1, true // SPL, BPL, SIL, DIL, R8B-R15B
	case r >= x86asm.AX && r <= x86asm.R15W:
		return encToSlot[r-x86asm.AX], kReg, 2, true
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return encToSlot[r-x86asm.EAX], kReg, 4, true
	case r >= x86asm.RAX && r <= x86asm.R15:
		return encToSlot[r-x86asm.RAX], kReg, 8, true
	}
	return 0, 0, 0, false
}

// errUnsupported marks an instruction the interpreter does not implement.
type errUnsupported string

func (e errUnsupported) Error() string { return string(e) }

// convOperand converts an x86asm argument. next is the address of the
// following instruction, for RIP-relative operands.
func convOperand(a x86asm.Arg, next uint64, addrSize int) (operand, error) {
	switch a := a.(type) {
	case x86asm.Reg:
		if slot, kind, _, ok := gpr(a); ok {
			return operand{kind: kind, reg: slot}, nil
		}
		if a >= x86asm.X0 && a <= x86asm.X15 {
			return operand{kind: kXMM, reg: uint8(a - x86asm.X0)}, nil
		}
		if a >= x86asm.F0 && a <= x86asm.F7 {
			return operand{kind: kST, reg: uint8(a - x86asm.F0)}, nil
		}
		return operand{}, errUnsupported(fmt.Sprintf("register %v", a))
	case x86asm.Mem:
		// FS and GS bases are zero on both engines (no WRFSBASE, no MSR
		// writes from ring 3), so a segment override adds nothing.
		o := operand{kind: kMem, base: regZero, index: regZero}
		switch {
		case a.Base == 0:
		case a.Base == x86asm.RIP:
			o.disp = next
		case a.Base == x86asm.EIP:
			o.disp = next & 0xFFFF_FFFF
		default:
			slot, _, sz, ok := gpr(a.Base)
			if !ok || sz < 4 {
				return operand{}, errUnsupported("base register")
			}
			o.base = slot
		}
		if a.Index != 0 {
			slot, _, sz, ok := gpr(a.Index)
			if !ok || sz < 4 {
				return operand{}, errUnsupported("index register")
			}
			o.index = slot
			switch a.Scale {
			case 1:
			case 2:
				o.scale = 1
			case 4:
				o.scale = 2
			case 8:
				o.scale = 3
			default:
				return operand{}, errUnsupported("scale")
			}
		}
		o.disp += uint64(a.Disp)
		if addrSize == 32 {
			o.a32 = true
			o.disp &= 0xFFFF_FFFF
		}
		return o, nil
	case x86asm.Imm:
		return operand{kind: kImm, disp: uint64(a)}, nil
	case x86asm.Rel:
		return operand{kind: kImm, disp: next + uint64(int64(a))}, nil
	}
	return operand{}, errUnsupported(fmt.Sprintf("operand %v", a))
}

// ea computes a memory operand's address.
func (c *CPU) ea(o *operand) uint64 {
	a := o.disp + c.g[o.base] + c.g[o.index]<<o.scale
	if o.a32 {
		a &= 0xFFFF_FFFF
	}
	return a
}

// isLegacyPrefix reports whether b is a legacy (non-REX) prefix.
func isLegacyPrefix(b byte) bool {
	switch b {
	case 0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65:
		return true
	}
	return false
}

func isREX(b byte) bool { return b&0xF0 == 0x40 }

// scanPrefixes looks at the prefixes at the start of raw. The CPU honours
// a REX prefix only immediately before the opcode and ignores one that
// another prefix follows; x86asm rejects such encodings, so the ignored REX
// bytes are dropped: code is raw without them (in buf when any are
// dropped), dropped says how many. seg is the last segment-override
// prefix, which decides the segment of a memory operand (0 for none).
func scanPrefixes(raw []byte, buf *[15]byte) (code []byte, dropped int, seg byte) {
	n := 0
	var fsgs byte // the last FS or GS prefix
	defer func() {
		// In 64-bit mode an ES, CS or DS prefix after an FS or GS one
		// leaves FS or GS in force; after SS it cancels SS.
		if fsgs != 0 && (seg == 0x26 || seg == 0x2E || seg == 0x3E) {
			seg = fsgs
		}
	}()
	for i := 0; i < len(raw); i++ {
		b := raw[i]
		switch {
		case isLegacyPrefix(b):
			switch b {
			case 0x64, 0x65:
				fsgs = b
				seg = b
			case 0x26, 0x2E, 0x36, 0x3E:
				seg = b
			}
		case isREX(b):
			if i+1 < len(raw) && (isLegacyPrefix(raw[i+1]) || isREX(raw[i+1])) {
				dropped++
				continue
			}
		default:
			if dropped == 0 {
				return raw, 0, seg
			}
			n += copy(buf[n:], raw[i:])
			return buf[:n], dropped, seg
		}
		if n < len(buf) {
			buf[n] = b
			n++
		}
	}
	if dropped == 0 {
		return raw, 0, seg
	}
	return buf[:n], dropped, seg
}

// Canonical returns the encoding x86asm decodes for the instruction at the
// start of code, as the interpreter reads it: ignored REX prefixes dropped
// and undocumented aliases rewritten to the instructions the CPU executes
// (see testAlias). Tools that classify instructions with x86asm use it to
// see what the interpreter sees.
func Canonical(code []byte) []byte {
	var buf, alias [15]byte
	c, _, _ := scanPrefixes(code, &buf)
	out := testAlias(c, &alias)
	return append([]byte(nil), out...)
}

// legacyNop returns the length of the instruction at the start of code if
// it is one of the 8087 and 80287 controls that later x87s execute as
// NOPs (FNENI DB E0, FNDISI DB E1, FNSETPM DB E4), which x86asm does not
// decode; 0 otherwise.
func legacyNop(code []byte) int {
	i := 0
	for i < len(code) && (isLegacyPrefix(code[i]) || isREX(code[i])) {
		i++
	}
	if i+1 < len(code) && code[i] == 0xDB && (code[i+1] == 0xE0 || code[i+1] == 0xE1 || code[i+1] == 0xE4) {
		return i + 2
	}
	return 0
}

// tooLong reports whether the instruction at the start of raw (at least
// 15 bytes) is longer than 15 bytes counting all its prefixes, which
// x86asm cannot see as it rejects such an instruction. Repeated prefixes
// are decoded once, to find the length of the rest.
func tooLong(raw []byte) bool {
	n := 0
	for n < len(raw) && (isLegacyPrefix(raw[n]) || isREX(raw[n])) {
		n++
	}
	if n >= 15 {
		return true
	}
	var compact []byte
	for i, b := range raw[:n] {
		if isREX(b) && i != n-1 {
			continue // ignored: not right before the opcode
		}
		if !isREX(b) && slices.Contains(compact, b) {
			continue
		}
		compact = append(compact, b)
	}
	var pad [15]byte
	k := copy(pad[:], compact)
	copy(pad[k:], raw[n:])
	y, err := x86asm.Decode(pad[:], 64)
	return err == nil && y.Op != 0 && n+y.Len-len(compact) > 15
}

// testAlias rewrites encodings the CPU executes as another instruction but
// x86asm does not decode, in a copy in buf: F6 /1 and F7 /1 are TEST r/m,
// imm (F6 /0, F7 /0), /6 of the shift groups (C0, C1, D0-D3) is SHL (/4),
// the hint space 0F 18-0F 1F beyond the prefetches is the NOP 0F 1F /0,
// F3 REX.B 90 is XCHG, not PAUSE, and the x87 register aliases (x87Alias). Other code comes back as it is.
func testAlias(code []byte, buf *[15]byte) []byte {
	i := 0
	for i < len(code) && isLegacyPrefix(code[i]) {
		i++
	}
	if i < len(code) && isREX(code[i]) {
		i++
	}
	if i < len(code) && code[i] == 0x90 && i > 0 && isREX(code[i-1]) && code[i-1]&1 != 0 {
		// REX.B 90 is XCHG with R8, which an F3 prefix leaves as it is
		// (x86asm takes it for PAUSE): the F3s become DS prefixes,
		// ignored in 64-bit mode.
		n := copy(buf[:], code)
		for k := 0; k < i-1; k++ {
			if buf[k] == 0xF3 {
				buf[k] = 0x3E
			}
		}
		return buf[:n]
	}
	if i+1 >= len(code) {
		return code
	}
	op, modrm := code[i], code[i+1]
	reg := modrm >> 3 & 7
	if op == 0x0F && i+2 < len(code) && code[i+1] >= 0x18 && code[i+1] <= 0x1F {
		// The hint space: 0F 18 /0-/3 with a memory operand are the
		// prefetches, everything else the CPU runs as a NOP with a ModRM
		// operand, which x86asm knows only as 0F 1F /0.
		if hint, m := code[i+1], code[i+2]; !(hint == 0x18 && m>>3&7 < 4 && m < 0xC0) && !(hint == 0x1F && m>>3&7 == 0) {
			n := copy(buf[:], code)
			buf[i+1], buf[i+2] = 0x1F, m&^0x38
			if i > 0 && isREX(buf[i-1]) {
				// x86asm refuses some REX forms of the NOP; a REX changes
				// neither a NOP's effect nor its length, nor does the DS
				// prefix put in its place.
				buf[i-1] = 0x3E
			}
			return buf[:n]
		}
		return code
	}
	if op >= 0xD8 && op <= 0xDF && modrm >= 0xC0 {
		if to, ok := x87Alias(op, modrm); ok {
			n := copy(buf[:], code)
			buf[i], buf[i+1] = to, x87AliasModRM(op, modrm)
			return buf[:n]
		}
		return code
	}
	var to byte
	switch {
	case op&^1 == 0xF6 && reg == 1:
		to = 0
	case (op&^1 == 0xC0 || op&^3 == 0xD0) && reg == 6:
		to = 4
	default:
		return code
	}
	n := copy(buf[:], code)
	buf[i+1] = buf[i+1]&^(7<<3) | to<<3
	return buf[:n]
}

// x87Alias maps the undocumented register forms of the x87 escapes, which
// the CPU executes as documented instructions, to the escape byte of
// those: DD /1 and DF /1 are FXCH (D9 /1); DF /2 and DF /3 are FSTP
// (DD /3); DC /2 is FCOM and DC /3 FCOMP (D8 /2, /3); DE /2 is FCOMP
// (D8 /3). D9 /3 is not FSTP (an empty ST(0) raises nothing there) and
// stays unimplemented.
func x87Alias(op, modrm byte) (byte, bool) {
	switch reg := modrm >> 3 & 7; {
	case (op == 0xDD || op == 0xDF) && reg == 1:
		return 0xD9, true
	case op == 0xDF && (reg == 2 || reg == 3):
		return 0xDD, true
	case op == 0xDC && (reg == 2 || reg == 3), op == 0xDE && reg == 2:
		return 0xD8, true
	}
	return 0, false
}

// x87AliasModRM is the ModRM byte of the documented form x87Alias names.
func x87AliasModRM(op, modrm byte) byte {
	reg := modrm >> 3 & 7
	switch {
	case op == 0xDF && reg == 2, op == 0xDE && reg == 2:
		reg = 3 // FSTP, FCOMP
	}
	return modrm&^0x38 | reg<<3
}

// stackSegment reports whether a memory operand addresses the stack
// segment, for which a non-canonical address raises #SS instead of #GP:
// by default when its base register is RSP or RBP (not R12 or R13), and
// with an SS override whatever its base. In 64-bit mode an ES, CS or DS
// override is ignored (the default stands) and FS or GS take the operand
// out of SS; the last segment prefix counts (seg). A string instruction's
// ES:RDI operand takes no override.
func stackSegment(o *operand, seg byte, str bool) bool {
	if o.kind != kMem || o.a32 || str && o.base == rDI {
		return false
	}
	switch seg {
	case 0x36:
		return true
	case 0x64, 0x65:
		return false
	}
	return o.base == rSP || o.base == rBP
}

// decodeInst decodes the instruction at pc from raw (which holds the bytes
// that could be fetched), filling in. It reports how many bytes it used;
// 0 means raw was too short (the caller fetches more or faults), and an
// error means the bytes are no instruction we implement.
func decodeInst(in *inst, raw []byte, pc uint64) (int, error) {
	*in = inst{pc: pc}
	// ENDBR64 (and ENDBR32) are hints: NOPs where CET is off, as here.
	if len(raw) >= 4 && raw[0] == 0xF3 && raw[1] == 0x0F && raw[2] == 0x1E && (raw[3] == 0xFA || raw[3] == 0xFB) {
		in.next = pc + 4
		in.fn = opNop
		return 4, nil
	}
	var buf [15]byte
	code, dropped, seg := scanPrefixes(raw, &buf)
	if n := legacyNop(code); n > 0 {
		used := n + dropped
		in.next, in.fn = pc+uint64(used), opNop
		return used, nil
	}
	var alias [15]byte
	code = testAlias(code, &alias)
	x, err := x86asm.Decode(code, 64)
	if dropped > 0 && len(raw) >= 15 && (err != nil || x.Op == 0) {
		// Cut short by the 15 bytes: an instruction longer than that,
		// counting the ignored REX bytes, raises #GP.
		var pad [15]byte
		copy(pad[:], code)
		if y, err := x86asm.Decode(pad[:], 64); err == nil && y.Op != 0 && y.Len+dropped > 15 {
			in.fn, in.flow, in.next = opGP, 1, pc+15
			return 15, nil
		}
	}
	if len(raw) >= 15 && (err != nil || x.Op == 0) && tooLong(raw) {
		// More than 15 bytes with its prefixes: the CPU raises #GP.
		in.fn, in.flow, in.next = opGP, 1, pc+15
		return 15, nil
	}
	if len(raw) < 15 && (err != nil || x.Op == 0) {
		// Possibly cut short by the end of the bytes that could be
		// fetched (x86asm reports that as an error or as Op 0).
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if x.Op == 0 || x.Len == 0 {
		return 0, errUnsupported("unknown opcode")
	}
	for _, p := range x.Prefix {
		if p == 0 {
			break
		}
		switch p &^ (x86asm.PrefixImplicit | x86asm.PrefixIgnored | x86asm.PrefixInvalid) {
		case 0xC4, 0xC5, 0x62, 0x8F: // VEX, EVEX, XOP: not implemented
			return 0, errUnsupported("VEX/EVEX-encoded instruction")
		}
		if p&x86asm.PrefixInvalid != 0 {
			return 0, errUnsupported("invalid prefix")
		}
	}
	used := x.Len + dropped
	in.next = pc + uint64(used)
	if movesSystemRegister(&x) {
		// MOV to or from a control or debug register: the privilege check
		// comes first, so even a register that does not exist is #GP(0)
		// at ring 3, not #UD.
		in.fn, in.flow = opGP, 1
		return used, nil
	}
	if err := convert(in, &x, code[:x.Len]); err != nil {
		return 0, err
	}
	// Mark the operands in the stack segment (see stackSegment).
	str := isStringOp(x.Op)
	for i := range in.ops {
		in.ops[i].ss = stackSegment(&in.ops[i], seg, str)
	}
	return used, nil
}

// movesSystemRegister reports whether x reads or writes a control or
// debug register.
func movesSystemRegister(x *x86asm.Inst) bool {
	for _, a := range x.Args {
		if r, ok := a.(x86asm.Reg); ok && (r >= x86asm.CR0 && r <= x86asm.CR15 || r >= x86asm.DR0 && r <= x86asm.DR15) {
			return true
		}
	}
	return false
}

// hasPrefix reports whether the instruction carries prefix p.
func hasPrefix(x *x86asm.Inst, p x86asm.Prefix) bool {
	for _, q := range x.Prefix {
		if q == 0 {
			break
		}
		if q&0xFF == p&0xFF && q&x86asm.PrefixIgnored == 0 {
			return true
		}
	}
	return false
}

// opUD raises #UD: an invalid or unimplemented instruction.
func opUD(c *CPU, in *inst) { c.fault(cpu.VecInvalidOp, 0, 0) }

// opGP raises #GP(0): privileged instructions at ring 3.
func opGP(c *CPU, in *inst) { c.fault(cpu.VecGeneralProt, 0, 0) }

func opNop(c *CPU, in *inst) {}
