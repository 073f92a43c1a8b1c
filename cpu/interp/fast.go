package interp

import "unsafe"

// Fast paths. The generic handlers (alu.go, flow.go) find out at run time
// what their operands are: get and set switch on the operand kind, alu on
// the operation, rd and wr on the size. The forms compiled C code is made
// of get handlers of their own, chosen once at decode time (convert.go):
// an ALU operation between registers or with an immediate, MOV, MOVZX and
// LEA with a 64-bit address size, and the stack operations (flow.go). The
// flag-setting instruction before a Jcc is fused with it (fuse.go).
//
// A fast memory access probes the TLB once and, when the access stays in
// the page, loads or stores straight from the guest frame; everything
// else (a TLB miss, a page-crossing access, a store to a frame holding
// decoded code, which never has a write TLB entry) takes the generic path,
// which faults exactly as before.

const m32 = 0xFFFF_FFFF

// maskOf is the value mask of an operand size; a constant where size is.
func maskOf(size uint8) uint64 { return ^uint64(0) >> (64 - 8*uint(size)) }

// eaFast computes the address of a memory operand with a 64-bit address
// size (the fast handlers are chosen only for those).
func (c *CPU) eaFast(o *operand) uint64 {
	return o.disp + c.g[o.base] + c.g[o.index]<<(o.scale&3)
}

// rptr returns where the n bytes at a lie in guest RAM when the read TLB
// maps a's page and they stay in it, else nil. It is small enough to be
// inlined, so a fast access costs one TLB probe and no call.
func (c *CPU) rptr(a, n uint64) unsafe.Pointer {
	e := &c.rtlb[a>>12&(tlbSize-1)]
	if e.tag == a>>12|c.tgen && a&0xFFF <= 0x1000-n {
		return unsafe.Add(c.memBase, e.pa|a&0xFFF)
	}
	return nil
}

// wptr is rptr for a write, through the write TLB.
func (c *CPU) wptr(a, n uint64) unsafe.Pointer {
	e := &c.wtlb[a>>12&(tlbSize-1)]
	if e.tag == a>>12|c.tgen && a&0xFFF <= 0x1000-n {
		return unsafe.Add(c.memBase, e.pa|a&0xFFF)
	}
	return nil
}

// load reads the size-byte operand at a, unmasked: when the 8 bytes at a
// lie in one page mapped in the read TLB, a single 8-byte load from the
// frame, whose bytes beyond the operand the caller masks off; otherwise
// through rd, which walks the page tables and faults as needed.
func (c *CPU) load(a uint64, size uint8) (uint64, bool) {
	if p := c.rptr(a, 8); p != nil {
		return *(*uint64)(p), true
	}
	return c.rd(a, size)
}

// store writes the size-byte operand at a: straight into the frame when
// the write TLB maps the page and the operand stays in it, else through
// wrSlow.
func (c *CPU) store(a uint64, size uint8, v uint64) bool {
	if p := c.wptr(a, uint64(size)); p != nil {
		switch size {
		case 1:
			*(*uint8)(p) = uint8(v)
		case 2:
			*(*uint16)(p) = uint16(v)
		case 4:
			*(*uint32)(p) = uint32(v)
		default:
			*(*uint64)(p) = v
		}
		return true
	}
	return c.wrSlow(a, size, v)
}

// ALU operations on masked operands, recording their flags; small enough
// to be inlined, so that a constant size folds away.

func (c *CPU) add(size uint8, a, b uint64) uint64 {
	r := (a + b) & maskOf(size)
	c.setLazy(lazyAdd, size, r, a, b)
	return r
}

func (c *CPU) sub(size uint8, a, b uint64) uint64 {
	r := (a - b) & maskOf(size)
	c.setLazy(lazySub, size, r, a, b)
	return r
}

func (c *CPU) and(size uint8, a, b uint64) uint64 {
	r := a & b
	c.setLazy(lazyLogic, size, r, a, b)
	return r
}

func (c *CPU) or(size uint8, a, b uint64) uint64 {
	r := a | b
	c.setLazy(lazyLogic, size, r, a, b)
	return r
}

func (c *CPU) xor(size uint8, a, b uint64) uint64 {
	r := a ^ b
	c.setLazy(lazyLogic, size, r, a, b)
	return r
}

// ALU handlers: register-register (RR) and register-immediate (RI), 64-
// and 32-bit (a 32-bit result clears the register's upper half).

func opAdd64RR(c *CPU, in *inst) { d := &c.g[in.ops[0].reg]; *d = c.add(8, *d, c.g[in.ops[1].reg]) }
func opSub64RR(c *CPU, in *inst) { d := &c.g[in.ops[0].reg]; *d = c.sub(8, *d, c.g[in.ops[1].reg]) }
func opAnd64RR(c *CPU, in *inst) { d := &c.g[in.ops[0].reg]; *d = c.and(8, *d, c.g[in.ops[1].reg]) }
func opOr64RR(c *CPU, in *inst)  { d := &c.g[in.ops[0].reg]; *d = c.or(8, *d, c.g[in.ops[1].reg]) }
func opXor64RR(c *CPU, in *inst) { d := &c.g[in.ops[0].reg]; *d = c.xor(8, *d, c.g[in.ops[1].reg]) }
func opCmp64RR(c *CPU, in *inst) { c.sub(8, c.g[in.ops[0].reg], c.g[in.ops[1].reg]) }

func opAdd32RR(c *CPU, in *inst) {
	d := &c.g[in.ops[0].reg]
	*d = c.add(4, *d&m32, c.g[in.ops[1].reg]&m32)
}
func opSub32RR(c *CPU, in *inst) {
	d := &c.g[in.ops[0].reg]
	*d = c.sub(4, *d&m32, c.g[in.ops[1].reg]&m32)
}
func opAnd32RR(c *CPU, in *inst) {
	d := &c.g[in.ops[0].reg]
	*d = c.and(4, *d&m32, c.g[in.ops[1].reg]&m32)
}
func opOr32RR(c *CPU, in *inst) {
	d := &c.g[in.ops[0].reg]
	*d = c.or(4, *d&m32, c.g[in.ops[1].reg]&m32)
}
func opXor32RR(c *CPU, in *inst) {
	d := &c.g[in.ops[0].reg]
	*d = c.xor(4, *d&m32, c.g[in.ops[1].reg]&m32)
}
func opCmp32RR(c *CPU, in *inst) { c.sub(4, c.g[in.ops[0].reg]&m32, c.g[in.ops[1].reg]&m32) }

func opAdd64RI(c *CPU, in *inst) { d := &c.g[in.ops[0].reg]; *d = c.add(8, *d, in.ops[1].disp) }
func opSub64RI(c *CPU, in *inst) { d := &c.g[in.ops[0].reg]; *d = c.sub(8, *d, in.ops[1].disp) }
func opAnd64RI(c *CPU, in *inst) { d := &c.g[in.ops[0].reg]; *d = c.and(8, *d, in.ops[1].disp) }
func opOr64RI(c *CPU, in *inst)  { d := &c.g[in.ops[0].reg]; *d = c.or(8, *d, in.ops[1].disp) }
func opXor64RI(c *CPU, in *inst) { d := &c.g[in.ops[0].reg]; *d = c.xor(8, *d, in.ops[1].disp) }
func opCmp64RI(c *CPU, in *inst) { c.sub(8, c.g[in.ops[0].reg], in.ops[1].disp) }

func opAdd32RI(c *CPU, in *inst) { d := &c.g[in.ops[0].reg]; *d = c.add(4, *d&m32, in.ops[1].disp&m32) }
func opSub32RI(c *CPU, in *inst) { d := &c.g[in.ops[0].reg]; *d = c.sub(4, *d&m32, in.ops[1].disp&m32) }
func opAnd32RI(c *CPU, in *inst) { d := &c.g[in.ops[0].reg]; *d = c.and(4, *d&m32, in.ops[1].disp&m32) }
func opOr32RI(c *CPU, in *inst)  { d := &c.g[in.ops[0].reg]; *d = c.or(4, *d&m32, in.ops[1].disp&m32) }
func opXor32RI(c *CPU, in *inst) { d := &c.g[in.ops[0].reg]; *d = c.xor(4, *d&m32, in.ops[1].disp&m32) }
func opCmp32RI(c *CPU, in *inst) { c.sub(4, c.g[in.ops[0].reg]&m32, in.ops[1].disp&m32) }

// aluFast holds the specialised handlers of each ALU operation, by form:
// 64-bit RR, 32-bit RR, 64-bit RI, 32-bit RI. ADC and SBB have none.
var aluFast = [8][4]func(*CPU, *inst){
	aluAdd: {opAdd64RR, opAdd32RR, opAdd64RI, opAdd32RI},
	aluSub: {opSub64RR, opSub32RR, opSub64RI, opSub32RI},
	aluAnd: {opAnd64RR, opAnd32RR, opAnd64RI, opAnd32RI},
	aluOr:  {opOr64RR, opOr32RR, opOr64RI, opOr32RI},
	aluXor: {opXor64RR, opXor32RR, opXor64RI, opXor32RI},
	aluCmp: {opCmp64RR, opCmp32RR, opCmp64RI, opCmp32RI},
}

// ALU operations with a memory source into a 64- or 32-bit register.

func opALURM(c *CPU, in *inst) {
	a, ok := c.load(c.eaFast(&in.ops[1]), in.size)
	if !ok {
		return
	}
	d := &c.g[in.ops[0].reg]
	m := in.mask
	r := c.alu(in.sub, in.size, *d&m, a&m)
	if in.sub != aluCmp {
		*d = r
	}
}

// Moves.

// opMovMIFast stores an immediate; opMovMI8 a byte, the commonest.
func opMovMIFast(c *CPU, in *inst) { c.store(c.eaFast(&in.ops[0]), in.size, in.ops[1].disp) }

func opMovMI8(c *CPU, in *inst) {
	a := c.eaFast(&in.ops[0])
	if p := c.wptr(a, 1); p != nil {
		*(*uint8)(p) = uint8(in.ops[1].disp)
		return
	}
	c.wrSlow(a, 1, in.ops[1].disp)
}

// opMovMRFast stores a register's low in.size bytes; opMovMR64 and
// opMovMR32 the commonest sizes.
func opMovMRFast(c *CPU, in *inst) {
	c.store(c.eaFast(&in.ops[0]), in.size, c.g[in.ops[1].reg])
}

func opMovMR64(c *CPU, in *inst) {
	a, v := c.eaFast(&in.ops[0]), c.g[in.ops[1].reg]
	if p := c.wptr(a, 8); p != nil {
		*(*uint64)(p) = v
		return
	}
	c.wrSlow(a, 8, v)
}

func opMovMR32(c *CPU, in *inst) {
	a, v := c.eaFast(&in.ops[0]), c.g[in.ops[1].reg]
	if p := c.wptr(a, 4); p != nil {
		*(*uint32)(p) = uint32(v)
		return
	}
	c.wrSlow(a, 4, v)
}

// opMovRMFast loads a 64- or 32-bit register (in.mask) from memory.
func opMovRMFast(c *CPU, in *inst) {
	a := c.eaFast(&in.ops[1])
	if p := c.rptr(a, 8); p != nil {
		c.g[in.ops[0].reg] = *(*uint64)(p) & in.mask
		return
	}
	if v, ok := c.rd(a, in.size); ok {
		c.g[in.ops[0].reg] = v
	}
}

// opMovzxRMFast zero-extends a byte or word (in.mask, size in.sub) from
// memory into a 64- or 32-bit register.
func opMovzxRMFast(c *CPU, in *inst) {
	a := c.eaFast(&in.ops[1])
	if p := c.rptr(a, 8); p != nil {
		c.g[in.ops[0].reg] = *(*uint64)(p) & in.mask
		return
	}
	if v, ok := c.rd(a, in.sub); ok {
		c.g[in.ops[0].reg] = v
	}
}

// Shifts of a 64- or 32-bit register by an immediate count, masked as
// the CPU masks it and not zero (convert.go sends the rest to opShift,
// whose flags these record lazily).

func opShlRI(c *CPU, in *inst) {
	d, m, n := &c.g[in.ops[0].reg], in.mask, in.ops[1].disp
	a := *d & m
	r := a << n & m
	*d = r
	c.setLazy(lazyShl, in.size, r, a, n)
}

func opShrRI(c *CPU, in *inst) {
	d, m, n := &c.g[in.ops[0].reg], in.mask, in.ops[1].disp
	a := *d & m
	r := a >> n
	*d = r
	c.setLazy(lazyShr, in.size, r, a, n)
}

func opSarRI(c *CPU, in *inst) {
	d, m, n := &c.g[in.ops[0].reg], in.mask, in.ops[1].disp
	a := *d & m
	r := uint64(int64(signExtend(a, in.size))>>n) & m
	*d = r
	c.setLazy(lazySar, in.size, r, a, n)
}

// opLea64 is LEA with a 64-bit destination and address.
func opLea64(c *CPU, in *inst) { c.g[in.ops[0].reg] = c.eaFast(&in.ops[1]) }
