package interp

import (
	"time"

	"github.com/aurora-vm/aurora-vm/cpu"
)

// Control transfers, the stack, and the instructions that trap.

// jumpTo sets the next RIP; a non-canonical target is a #GP at the
// jumping instruction, as on hardware.
func (c *CPU) jumpTo(target uint64) bool {
	if !canonical(target) {
		c.fault(cpu.VecGeneralProt, 0, 0)
		return false
	}
	c.rip = target
	return true
}

func opJcc(c *CPU, in *inst) {
	if c.cond(in.sub) {
		c.rip = in.imm
	} else {
		c.rip = in.next
	}
}

func opJmp(c *CPU, in *inst) { c.rip = in.imm }

func opJmpInd(c *CPU, in *inst) {
	t, ok := c.get(&in.ops[0], 8)
	if ok {
		c.jumpTo(t)
	}
}

// push64 pushes v: straight into the stack's frame when the write TLB
// maps it (fast.go's wptr), else through wrSlow. The TLB maps canonical
// addresses only, so the stack's #SS is checked on the slow path alone;
// so in top64.
func (c *CPU) push64(v uint64) bool {
	sp := c.g[rSP] - 8
	if p := c.wptr(sp, 8); p != nil {
		*(*uint64)(p) = v
	} else if c.badStack(sp, 8) || !c.wrSlow(sp, 8, v) {
		return false
	}
	c.g[rSP] = sp
	return true
}

// top64 reads the value on top of the stack, without popping it.
func (c *CPU) top64() (uint64, bool) {
	sp := c.g[rSP]
	if p := c.rptr(sp, 8); p != nil {
		return *(*uint64)(p), true
	}
	if c.badStack(sp, 8) {
		return 0, false
	}
	return c.rdSlow(sp, 8)
}

func opCall(c *CPU, in *inst) {
	if c.push64(in.next) {
		c.rip = in.imm
	}
}

func opCallInd(c *CPU, in *inst) {
	t, ok := c.get(&in.ops[0], 8)
	if !ok {
		return
	}
	// The CPU checks that the return address can be stored (a fault
	// there comes first), then the target, and only then stores.
	if sp := c.g[rSP] - 8; c.badStack(sp, 8) || !c.probeWrite(sp, 8) {
		return
	}
	if !canonical(t) {
		c.fault(cpu.VecGeneralProt, 0, 0)
		return
	}
	if c.push64(in.next) {
		c.rip = t
	}
}

// opRet pops the return address and in.imm more bytes.
func opRet(c *CPU, in *inst) {
	t, ok := c.top64()
	if !ok {
		return
	}
	if c.jumpTo(t) {
		c.g[rSP] += 8 + in.imm
	}
}

// opPush pushes ops[0] (in.size 8 or 2).
func opPush(c *CPU, in *inst) {
	v, ok := c.get(&in.ops[0], in.size)
	if !ok {
		return
	}
	sp := c.g[rSP] - uint64(in.size)
	if !c.badStack(sp, uint64(in.size)) && c.wr(sp, in.size, v) {
		c.g[rSP] = sp
	}
}

func opPushReg(c *CPU, in *inst) { c.push64(c.g[in.ops[0].reg]) }

func opPopReg(c *CPU, in *inst) {
	if v, ok := c.top64(); ok {
		c.g[rSP] += 8
		c.g[in.ops[0].reg] = v
	}
}

// opPop pops into ops[0]. A memory destination addressed through RSP uses
// RSP as incremented by the pop.
func opPop(c *CPU, in *inst) {
	sp := c.g[rSP]
	if c.badStack(sp, uint64(in.size)) {
		return
	}
	v, ok := c.rd(sp, in.size)
	if !ok {
		return
	}
	d := &in.ops[0]
	if d.kind == kMem {
		c.g[rSP] = sp + uint64(in.size)
		if !c.set(d, in.size, v) {
			c.g[rSP] = sp
		}
		return
	}
	c.g[rSP] = sp + uint64(in.size)
	c.set(d, in.size, v)
}

func opPushf(c *CPU, in *inst) {
	f := c.getFlags()
	sp := c.g[rSP] - uint64(in.size)
	if !c.badStack(sp, uint64(in.size)) && c.wr(sp, in.size, f) {
		c.g[rSP] = sp
	}
}

func opPopf(c *CPU, in *inst) {
	sp := c.g[rSP]
	if c.badStack(sp, uint64(in.size)) {
		return
	}
	v, ok := c.rd(sp, in.size)
	if !ok {
		return
	}
	c.g[rSP] = sp + uint64(in.size)
	mask := uint64(flagsUser)
	if in.size == 2 {
		mask &= 0xFFFF
	}
	f := c.getFlags()
	c.flags = f&^mask | v&mask | flagsFixed
	if c.flags&flagTF != 0 {
		c.stop |= stopTrace
	}
}

func opLeave(c *CPU, in *inst) {
	bp := c.g[rBP]
	if c.badStack(bp, 8) {
		return
	}
	v, ok := c.rd64(bp)
	if !ok {
		return
	}
	c.g[rSP] = bp + 8
	c.g[rBP] = v
}

// opEnter is ENTER imm16, imm8 (in.imm, in.sub).
func opEnter(c *CPU, in *inst) {
	level := uint64(in.sub & 31)
	sp := c.g[rSP]
	bp := c.g[rBP]
	frame := sp - 8
	// The CPU makes its accesses in order, and a fault stops it there:
	// the stores before it stay made, the registers stay as they were.
	// A non-canonical address on RSP or RBP is #SS (badStack).
	if sp -= 8; c.badStack(sp, 8) || !c.wr64(sp, bp) {
		return
	}
	for i := uint64(1); i < level; i++ {
		if c.badStack(bp-8*i, 8) {
			return
		}
		v, ok := c.rd64(bp - 8*i)
		if !ok {
			return
		}
		if sp -= 8; c.badStack(sp, 8) || !c.wr64(sp, v) {
			return
		}
	}
	if level > 0 {
		if sp -= 8; c.badStack(sp, 8) || !c.wr64(sp, frame) {
			return
		}
	}
	// Last, the CPU checks that the new stack top can be written.
	if final := sp - in.imm; c.badStack(final, 1) || !c.probeWrite(final, 1) {
		return
	}
	c.g[rBP] = frame
	c.g[rSP] = sp - in.imm
}

// opLoop is LOOP (sub 0), LOOPE (1), LOOPNE (2) and JRCXZ (3).
func opLoop(c *CPU, in *inst) {
	taken := false
	if in.sub == 3 {
		taken = c.g[rCX]&sizeMask[in.size] == 0
	} else {
		n := (c.g[rCX] - 1) & sizeMask[in.size]
		c.setReg(rCX, in.size, n)
		taken = n != 0
		switch in.sub {
		case 1:
			taken = taken && c.cond(ccE)
		case 2:
			taken = taken && c.cond(ccNE)
		}
	}
	if taken {
		c.rip = in.imm
	} else {
		c.rip = in.next
	}
}

// opSyscall traps to the kernel: RCX holds the return address and R11
// the flags, and the thread resumes at Regs' RIP.
func opSyscall(c *CPU, in *inst) {
	c.g[rCX] = in.next
	c.g[11] = c.getFlags()
	c.rip = in.next
	c.exit = cpu.Exit{Kind: cpu.ExitSyscall}
	c.stop |= stopExit
}

// opInt is INT imm8: int $0x80 is a syscall; int $3 and int $4 raise
// #BP and #OF, whose gates a program may use, as traps; every other vector
// has no gate a program may use, so it raises #GP with the IDT error code.
func opInt(c *CPU, in *inst) {
	switch in.imm {
	case 0x80:
		c.rip = in.next
		c.exit = cpu.Exit{Kind: cpu.ExitSyscall, Int80: true}
		c.stop |= stopExit
	case cpu.VecBreakpoint, cpu.VecOverflow:
		c.trap(uint8(in.imm), in.next)
	default:
		c.fault(cpu.VecGeneralProt, in.imm<<3|2, 0)
	}
}

// opInt3 raises #BP, a trap: the reported PC is after the instruction.
func opInt3(c *CPU, in *inst) { c.trap(cpu.VecBreakpoint, in.next) }

// opIcebp is ICEBP (INT1): #DB, a trap.
func opIcebp(c *CPU, in *inst) { c.trap(cpu.VecDebug, in.next) }

// trap raises exception vector as a trap: the thread stops after the
// instruction, at next, which the fault reports.
func (c *CPU) trap(vector uint8, next uint64) {
	c.exit = cpu.Exit{Kind: cpu.ExitFault, Fault: cpu.Fault{Vector: vector, PC: next}}
	c.rip = next
	c.stop |= stopExit
}

func opCPUID(c *CPU, in *inst) {
	a, b, cc, d := cpu.CPUID(uint32(c.g[rAX]), uint32(c.g[rCX]))
	c.g[rAX], c.g[rBX], c.g[rCX], c.g[rDX] = uint64(a), uint64(b), uint64(cc), uint64(d)
}

// tscStart anchors RDTSC: a counter at 1 GHz from the host's monotonic
// clock.
var tscStart = time.Now()

func opRdtsc(c *CPU, in *inst) {
	t := uint64(time.Since(tscStart).Nanoseconds())
	c.g[rAX] = t & 0xFFFF_FFFF
	c.g[rDX] = t >> 32
}
