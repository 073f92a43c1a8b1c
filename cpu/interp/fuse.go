package interp

// Fused entries. A block ends at its Jcc, and the instruction before it
// is usually the one that sets the flags the Jcc reads: a CMP or TEST, or
// a register update (SUB, ADD, AND, OR, XOR, INC, DEC). decodeBlock
// replaces the pair in the block's run list (block.run) with one entry
// (fuseTail) whose handler does the first instruction's work, records the
// lazy flags as it would (they stay architecturally visible), and
// branches.
//
// The condition is evaluated from the operands, not from flags: after the
// signed conditions' operands are made unsigned by flipping their sign
// bits (inst.flip), every condition among E, NE, B, AE, BE, A, L, GE, LE
// and G is a function of a < b and a == b, kept as a three-bit truth
// table in inst.sub (condTable). After CMP or SUB a and b are the
// operands. TEST and the logical operations set the flags CMP r, 0 would
// for their result r, but for AF, which no condition reads, so they use
// the same tables with b = 0 (and S, NS become L, GE; O is never true).
// After ADD, INC and DEC only ZF and SF are a function of r alone, so
// only E, NE, S and NS are fused. P and NP never are.
//
// A register update before a fused CMP or TEST of registers is folded in
// as well (fusePre): a compiled loop's step, test and jump become one
// entry.
//
// A fused entry is the last of its run list, so the entry at index i
// starts with instruction i of the block, as without fusion. It keeps its
// first instruction's pc. Only a CMP or TEST with a memory operand can
// fault, and then it is the entry's first instruction, so the fault is
// reported at it, before anything has changed; no fused entry traps or
// writes memory. Step runs the unfused list (block.insts), one
// instruction at a time.

// Kinds of inst.fuse: what an instruction is, as far as fusing it with a
// Jcc after it goes.
const (
	fuseNone = iota
	fuseJcc
	fuseCmp
	fuseTest
	// Register updates (64- or 32-bit): ADD, SUB, AND, OR, XOR, INC and
	// DEC are fused with a Jcc that reads their flags; ADD, SUB of an
	// immediate, INC, DEC and MOV also go before a fused compare and
	// branch.
	fuseAdd
	fuseSub
	fuseAnd
	fuseOr
	fuseXor
	fuseInc
	fuseDec
	fuseMov
)

// Condition-table modes: what the flags a Jcc reads come from.
const (
	tableCmp    = iota // CMP a, b or SUB: the comparison of a and b
	tableTest          // TEST or a logical operation: CF = OF = 0, the rest from r
	tableResult        // ADD, INC, DEC: only ZF and SF (from r) are usable
)

// condTable returns the truth table of condition cc over the outcomes
// a > b (bit 0), a == b (bit 1) and a < b (bit 2), where a and b are the
// compared operands (tableCmp) or the result and 0; and whether the
// comparison is signed. ok is false for the conditions the mode cannot
// answer (P and NP always; O, NO, S, NS after CMP; all but E, NE, S, NS
// in tableResult).
func condTable(cc uint8, mode int) (tt uint8, signed, ok bool) {
	const gt, eq, lt = 1, 2, 4
	if mode == tableResult && cc != ccE && cc != ccNE && cc != ccS && cc != ccNS {
		return 0, false, false
	}
	if mode != tableCmp {
		switch cc {
		case ccS: // SF is the sign of r: r < 0
			cc = ccL
		case ccNS:
			cc = ccGE
		case ccO: // OF is clear
			return 0, false, true
		case ccNO:
			return gt | eq | lt, false, true
		}
	}
	switch cc {
	case ccE:
		return eq, false, true
	case ccNE:
		return gt | lt, false, true
	case ccB:
		return lt, false, true
	case ccAE:
		return gt | eq, false, true
	case ccBE:
		return lt | eq, false, true
	case ccA:
		return gt, false, true
	case ccL:
		return lt, true, true
	case ccGE:
		return gt | eq, true, true
	case ccLE:
		return lt | eq, true, true
	case ccG:
		return gt, true, true
	}
	return 0, false, false
}

// branch ends a fused entry: it compares a and b as the truth table in
// in.sub says and jumps to in.imm or falls through to in.next.
func (c *CPU) branch(in *inst, a, b uint64) {
	a ^= in.flip
	b ^= in.flip
	var i uint8
	if a < b {
		i = 2
	}
	if a == b {
		i = 1
	}
	if in.sub>>i&1 != 0 {
		c.rip = in.imm
	} else {
		c.rip = in.next
	}
}

// Compare and branch.

func opCmpJccRR(c *CPU, in *inst) {
	m := in.mask
	a, b := c.g[in.ops[0].reg]&m, c.g[in.ops[1].reg]&m
	c.setLazy(lazySub, in.size, (a-b)&m, a, b)
	c.branch(in, a, b)
}

func opCmpJccRI(c *CPU, in *inst) {
	m := in.mask
	a, b := c.g[in.ops[0].reg]&m, in.ops[1].disp&m
	c.setLazy(lazySub, in.size, (a-b)&m, a, b)
	c.branch(in, a, b)
}

func opCmpJccMI(c *CPU, in *inst) {
	addr := c.eaFast(&in.ops[0])
	var a uint64
	if p := c.rptr(addr, 8); p != nil {
		a = *(*uint64)(p)
	} else {
		var ok bool
		if a, ok = c.rd(addr, in.size); !ok {
			return
		}
	}
	m := in.mask
	a &= m
	b := in.ops[1].disp & m
	c.setLazy(lazySub, in.size, (a-b)&m, a, b)
	c.branch(in, a, b)
}

func opCmpJccMR(c *CPU, in *inst) {
	a, ok := c.load(c.eaFast(&in.ops[0]), in.size)
	if !ok {
		return
	}
	m := in.mask
	a &= m
	b := c.g[in.ops[1].reg] & m
	c.setLazy(lazySub, in.size, (a-b)&m, a, b)
	c.branch(in, a, b)
}

func opCmpJccRM(c *CPU, in *inst) {
	b, ok := c.load(c.eaFast(&in.ops[1]), in.size)
	if !ok {
		return
	}
	m := in.mask
	b &= m
	a := c.g[in.ops[0].reg] & m
	c.setLazy(lazySub, in.size, (a-b)&m, a, b)
	c.branch(in, a, b)
}

func opTestJccRR(c *CPU, in *inst) {
	r := c.g[in.ops[0].reg] & c.g[in.ops[1].reg] & in.mask
	c.setLazy(lazyLogic, in.size, r, r, r)
	c.branch(in, r, 0)
}

func opTestJccRI(c *CPU, in *inst) {
	r := c.g[in.ops[0].reg] & in.ops[1].disp & in.mask
	c.setLazy(lazyLogic, in.size, r, r, r)
	c.branch(in, r, 0)
}

func opTestJccMR(c *CPU, in *inst) {
	a, ok := c.load(c.eaFast(&in.ops[0]), in.size)
	if !ok {
		return
	}
	r := a & c.g[in.ops[1].reg] & in.mask
	c.setLazy(lazyLogic, in.size, r, r, r)
	c.branch(in, r, 0)
}

func opTestJccMI(c *CPU, in *inst) {
	a, ok := c.load(c.eaFast(&in.ops[0]), in.size)
	if !ok {
		return
	}
	r := a & in.ops[1].disp & in.mask
	c.setLazy(lazyLogic, in.size, r, r, r)
	c.branch(in, r, 0)
}

// Register update and branch: the destination is a 64- or 32-bit
// register (in.mask), written whole.

// src is the source of a fused update: a register or an immediate.
func (c *CPU) src(o *operand) uint64 {
	if o.kind == kReg {
		return c.g[o.reg]
	}
	return o.disp
}

func opSubJcc(c *CPU, in *inst) {
	m := in.mask
	d := &c.g[in.ops[0].reg]
	a, b := *d&m, c.src(&in.ops[1])&m
	r := (a - b) & m
	*d = r
	c.setLazy(lazySub, in.size, r, a, b)
	c.branch(in, a, b)
}

func opAddJcc(c *CPU, in *inst) {
	m := in.mask
	d := &c.g[in.ops[0].reg]
	a, b := *d&m, c.src(&in.ops[1])&m
	r := (a + b) & m
	*d = r
	c.setLazy(lazyAdd, in.size, r, a, b)
	c.branch(in, r, 0)
}

func opAndJcc(c *CPU, in *inst) {
	d := &c.g[in.ops[0].reg]
	r := *d & c.src(&in.ops[1]) & in.mask
	*d = r
	c.setLazy(lazyLogic, in.size, r, r, r)
	c.branch(in, r, 0)
}

func opOrJcc(c *CPU, in *inst) {
	d := &c.g[in.ops[0].reg]
	r := (*d | c.src(&in.ops[1])) & in.mask
	*d = r
	c.setLazy(lazyLogic, in.size, r, r, r)
	c.branch(in, r, 0)
}

func opXorJcc(c *CPU, in *inst) {
	d := &c.g[in.ops[0].reg]
	r := (*d ^ c.src(&in.ops[1])) & in.mask
	*d = r
	c.setLazy(lazyLogic, in.size, r, r, r)
	c.branch(in, r, 0)
}

// opIncJcc is INC (in.ops[1].disp 1) or DEC (all ones), which keep CF.
func opIncJcc(c *CPU, in *inst) {
	m := in.mask
	d := &c.g[in.ops[0].reg]
	a := *d & m
	cf := c.carry()
	r := (a + in.ops[1].disp) & m
	*d = r
	op := uint8(lazyInc)
	if in.ops[1].disp != 1 {
		op = lazyDec
	}
	c.setLazy(op, in.size, r, a, 1)
	c.lcf = cf
	c.branch(in, r, 0)
}

// Fused update, compare and branch: a compiled loop's step, test and
// jump ("add $1, %rdx; cmp %r13, %rdx; jne"). The update's flags are dead,
// since the compare sets every flag the update does, so it is a plain
// register write; it is kept in ops[2] as reg = (index + base + disp),
// truncated to 32 bits when a32 is set (preOp). The compare reads only
// registers and immediates, so the entry cannot fault.

// preOp returns a register update as fused entries keep it.
func preOp(in *inst) (operand, bool) {
	d, s := &in.ops[0], &in.ops[1]
	if d.kind != kReg || in.size != 4 && in.size != 8 || in.rep&lockPrefix != 0 {
		return operand{}, false
	}
	o := operand{kind: kReg, reg: d.reg, index: d.reg, base: regZero, a32: in.size == 4}
	switch in.fuse {
	case fuseAdd, fuseMov:
		switch s.kind {
		case kReg:
			o.base = s.reg
		case kImm:
			o.disp = s.disp
		default:
			return operand{}, false
		}
		if in.fuse == fuseMov {
			o.index = regZero
		}
	case fuseSub:
		if s.kind != kImm {
			return operand{}, false
		}
		o.disp = -s.disp
	case fuseInc:
		o.disp = 1
	case fuseDec:
		o.disp = ^uint64(0)
	default:
		return operand{}, false
	}
	return o, true
}

// pre performs a fused entry's register update.
func (c *CPU) pre(o *operand) {
	v := c.g[o.index] + c.g[o.base] + o.disp
	if o.a32 {
		v &= m32
	}
	c.g[o.reg] = v
}

func opPreCmpJccRR(c *CPU, in *inst) {
	c.pre(&in.ops[2])
	opCmpJccRR(c, in)
}

func opPreCmpJccRI(c *CPU, in *inst) {
	c.pre(&in.ops[2])
	opCmpJccRI(c, in)
}

func opPreTestJccRR(c *CPU, in *inst) {
	c.pre(&in.ops[2])
	opTestJccRR(c, in)
}

func opPreTestJccRI(c *CPU, in *inst) {
	c.pre(&in.ops[2])
	opTestJccRI(c, in)
}

// fusePre returns the fused form of the update p and the fused compare
// and branch f, if there is one.
func fusePre(p, f *inst) (inst, bool) {
	if f.fuse != fuseCmp && f.fuse != fuseTest {
		return inst{}, false
	}
	o, ok := preOp(p)
	if !ok || f.ops[0].kind != kReg || f.ops[1].kind != kReg && f.ops[1].kind != kImm {
		return inst{}, false
	}
	g := *f
	g.pc, g.ops[2] = p.pc, o
	switch {
	case f.fuse == fuseCmp && f.ops[1].kind == kReg:
		g.fn = opPreCmpJccRR
	case f.fuse == fuseCmp:
		g.fn = opPreCmpJccRI
	case f.fuse == fuseTest && f.ops[1].kind == kReg:
		g.fn = opPreTestJccRR
	case f.fuse == fuseTest:
		g.fn = opPreTestJccRI
	default:
		return inst{}, false
	}
	return g, true
}

// fuseTail returns the run list of a block whose unfused list is insts:
// insts itself, or a copy whose last two or three instructions are fused
// into one entry.
func fuseTail(insts []inst) []inst {
	n := len(insts)
	if n < 2 {
		return insts
	}
	f, ok := fuse(&insts[n-2], &insts[n-1])
	if !ok {
		return insts
	}
	k := n - 2 // instructions before the fused entry
	if n >= 3 {
		if g, ok := fusePre(&insts[n-3], &f); ok {
			f, k = g, n-3
		}
	}
	run := make([]inst, k+1)
	copy(run, insts[:k])
	run[k] = f
	return run
}

// fastOperand reports whether o can be read by the fast handlers: a
// general register's low bytes, an immediate, or memory with a 64-bit
// address.
func fastOperand(o *operand) bool {
	switch o.kind {
	case kReg, kImm:
		return true
	case kMem:
		return !o.a32
	}
	return false
}

// The compare-and-branch handlers by operand kinds.
var (
	cmpJcc = map[[2]uint8]func(*CPU, *inst){
		{kReg, kReg}: opCmpJccRR, {kReg, kImm}: opCmpJccRI, {kMem, kImm}: opCmpJccMI,
		{kMem, kReg}: opCmpJccMR, {kReg, kMem}: opCmpJccRM,
	}
	testJcc = map[[2]uint8]func(*CPU, *inst){
		{kReg, kReg}: opTestJccRR, {kReg, kImm}: opTestJccRI, {kMem, kImm}: opTestJccMI,
		{kMem, kReg}: opTestJccMR,
	}
	updateJcc = map[uint8]func(*CPU, *inst){
		fuseAdd: opAddJcc, fuseSub: opSubJcc, fuseAnd: opAndJcc, fuseOr: opOrJcc, fuseXor: opXorJcc,
	}
)

// fuse returns the fused form of the flag-setting instruction a and the
// Jcc j that follows it, if there is one.
func fuse(a, j *inst) (inst, bool) {
	if j.fuse != fuseJcc {
		return inst{}, false
	}
	d, s := &a.ops[0], &a.ops[1]
	var fn func(*CPU, *inst)
	mode := tableTest
	switch a.fuse {
	case fuseCmp, fuseTest:
		if !fastOperand(d) || !fastOperand(s) {
			return inst{}, false
		}
		k := [2]uint8{d.kind, s.kind}
		switch {
		case a.fuse == fuseCmp:
			fn, mode = cmpJcc[k], tableCmp
		case k == [2]uint8{kReg, kMem}:
			// TEST is commutative: make it TEST mem, reg.
			f := *a
			f.ops[0], f.ops[1] = *s, *d
			a, fn = &f, opTestJccMR
		default:
			fn = testJcc[k]
		}
	case fuseAdd, fuseSub, fuseAnd, fuseOr, fuseXor, fuseInc, fuseDec:
		// A whole 64- or 32-bit register destination; a register or
		// immediate source (INC and DEC: an immediate 1 or -1).
		if d.kind != kReg || a.size != 4 && a.size != 8 || a.rep&lockPrefix != 0 {
			return inst{}, false
		}
		switch a.fuse {
		case fuseInc, fuseDec:
			f := *a
			f.ops[1] = operand{kind: kImm, disp: 1}
			if a.fuse == fuseDec {
				f.ops[1].disp = ^uint64(0)
			}
			a, fn, mode = &f, opIncJcc, tableResult
		default:
			if s.kind != kReg && s.kind != kImm {
				return inst{}, false
			}
			fn = updateJcc[a.fuse]
			switch a.fuse {
			case fuseAdd:
				mode = tableResult
			case fuseSub:
				mode = tableCmp
			}
		}
	}
	if fn == nil {
		return inst{}, false
	}
	tt, signed, ok := condTable(j.sub, mode)
	if !ok {
		return inst{}, false
	}
	return fuseWith(a, j, fn, tt, signed), true
}

func fuseWith(a, j *inst, fn func(*CPU, *inst), tt uint8, signed bool) inst {
	f := *a
	f.fn = fn
	f.fuse = a.fuse // fusePre reads it
	f.sub = tt
	f.imm = j.imm
	f.next = j.next
	f.flow = 1
	f.mask = maskOf(a.size)
	f.flip = 0
	if signed {
		f.flip = 1 << (8*uint(a.size) - 1)
	}
	return f
}
