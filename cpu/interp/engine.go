package interp

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// Engine interprets guest code on a mmu.PhysMem. It implements cpu.Engine.
type Engine struct {
	phys *mmu.PhysMem
	live atomic.Int64
}

// New creates an interpreter engine whose guest RAM is phys.
func New(phys *mmu.PhysMem) *Engine { return &Engine{phys: phys} }

// Name implements cpu.Engine.
func (e *Engine) Name() string { return "interp" }

// Close implements cpu.Engine.
func (e *Engine) Close() error { return nil }

// NewCPU implements cpu.Engine.
func (e *Engine) NewCPU(as *mmu.AddressSpace) (cpu.CPU, error) {
	return e.newCPU(as), nil
}

// NewInterpCPU is NewCPU returning the concrete type, for tools that need
// Step or XMM.
func (e *Engine) NewInterpCPU(as *mmu.AddressSpace) *CPU { return e.newCPU(as) }

func (e *Engine) newCPU(as *mmu.AddressSpace) *CPU {
	mem := e.phys.Bytes()
	c := &CPU{
		e:       e,
		as:      as,
		root:    as.Root(),
		mem:     mem,
		memBase: unsafe.Pointer(unsafe.SliceData(mem)),
		blocks:  map[uint64]*block{},
		code:    make([]uint64, (uint64(len(mem))/mmu.PageSize+63)/64),
	}
	c.Regs().RFLAGS = flagsFixed
	c.resetFP()
	e.live.Add(1)
	return c
}

// RFLAGS bits.
const (
	flagCF = 1 << 0
	flagPF = 1 << 2
	flagAF = 1 << 4
	flagZF = 1 << 6
	flagSF = 1 << 7
	flagTF = 1 << 8
	flagIF = 1 << 9
	flagDF = 1 << 10
	flagOF = 1 << 11
	flagAC = 1 << 18
	flagID = 1 << 21

	flagsArith = flagCF | flagPF | flagAF | flagZF | flagSF | flagOF
	// flagsFixed are set in every ring-3 thread's RFLAGS, as the KVM engine
	// runs them: the reserved bit 1 and IF.
	flagsFixed = 1<<1 | flagIF
	// flagsUser are the bits a program may change with POPF: the
	// arithmetic flags, TF (a single-step trap after each instruction),
	// DF, AC and ID.
	flagsUser = flagsArith | flagTF | flagDF | flagAC | flagID
)

// stop reasons, set by handlers; the block loop checks them after every
// instruction.
const (
	stopFault = 1 << iota // c.exit holds a fault; RIP stays at the instruction
	stopExit              // c.exit holds a syscall exit; handler set RIP
	stopSMC               // the instruction wrote decoded code: end the block
	stopTrace             // POPF set TF: go on one instruction at a time
)

// CPU is one interpreted x86-64 thread. It implements cpu.CPU.
type CPU struct {
	// g is the register file: slots 0-17 are laid out as cpu.Regs, which
	// Regs hands out as a view of them; slot 18 (regZero) is always zero,
	// the absent base or index register of an address. The array has 256
	// slots so that indexing it with a uint8 register number needs no
	// bounds check; the slots above 18 are never used.
	g [256]uint64

	// rip is the current instruction's address while running.
	rip uint64
	// flags holds RFLAGS; while lop is not lazyNone its arithmetic bits are
	// stale and follow from the lazy state (flags.go).
	flags             uint64
	lop               uint8
	lsz               uint8
	lres, la, lb, lcf uint64
	stop              uint8
	exit              cpu.Exit
	interrupted       atomic.Bool
	xmm               [16][2]uint64
	mxcsr             uint32
	fpu               x87
	e                 *Engine
	as                *mmu.AddressSpace
	root              uint64
	mem               []byte
	memBase           unsafe.Pointer
	tlbGen            uint64
	tgen              uint64 // tlbGen << tlbGenShift, the generation part of a tag
	rtlb, wtlb        [tlbSize]tlbEntry
	epoch             uint32
	bcache            [blockCacheSize]*block
	blocks            map[uint64]*block
	code              []uint64 // one bit per frame holding decoded code
	closed            bool
	// traced says Run stopped because POPF set the trap flag.
	traced    bool
	insnCount uint64
	// nonCanonical says the last fault was the #GP of a non-canonical
	// address, nonCanonicalVA; stackFault may make it #SS.
	nonCanonical   bool
	nonCanonicalVA uint64
}

// Regs implements cpu.CPU.
func (c *CPU) Regs() *cpu.Regs { return (*cpu.Regs)(unsafe.Pointer(&c.g)) }

// cpu.Regs must be exactly the 18 registers of g's first slots.
var _ = [1]struct{}{}[unsafe.Sizeof(cpu.Regs{})-18*8]

// Interrupt implements cpu.CPU.
func (c *CPU) Interrupt() { c.interrupted.Store(true) }

// RestoreAll implements cpu.CPU. The interpreter always resumes with every
// register as Regs holds it.
func (c *CPU) RestoreAll() {}

// Close implements cpu.CPU.
func (c *CPU) Close() error {
	if !c.closed {
		c.closed = true
		c.e.live.Add(-1)
		c.blocks = nil
		c.as = nil
	}
	return nil
}

// XMM returns SSE register n (0-15) as its low and high 64 bits.
func (c *CPU) XMM(n int) (lo, hi uint64) { return c.xmm[n&15][0], c.xmm[n&15][1] }

// SetXMM sets SSE register n.
func (c *CPU) SetXMM(n int, lo, hi uint64) { c.xmm[n&15] = [2]uint64{lo, hi} }

// Executed is the number of instructions the CPU has completed.
func (c *CPU) Executed() uint64 { return c.insnCount }

// Run implements cpu.CPU.
func (c *CPU) Run() (ex cpu.Exit, err error) {
	return c.execute(-1)
}

// Step executes exactly one instruction (or takes the trap it raises) and
// returns what Run would have returned had it stopped there: ExitSyscall
// or ExitFault for a trap, cpu.ExitStep after an ordinary instruction. It
// returns ExitInterrupted, having executed nothing, when an Interrupt was
// pending.
func (c *CPU) Step() (cpu.Exit, error) {
	return c.execute(1)
}

// execute runs until a trap, or for limit instructions when limit > 0.
func (c *CPU) execute(limit int) (ex cpu.Exit, err error) {
	if c.closed {
		return cpu.Exit{}, fmt.Errorf("interp: Run on a closed CPU")
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("interp: internal error at pc 0x%x: %v", c.rip, r)
		}
	}()
	if c.interrupted.Swap(false) {
		return cpu.Exit{Kind: cpu.ExitInterrupted}, nil
	}
	c.enter()
	defer c.leave()
	if limit > 0 {
		return c.steps(limit), nil
	}
	if c.flags&flagTF == 0 {
		c.run()
		if !c.traced {
			return c.exit, nil
		}
		c.traced = false
	}
	// The program's trap flag is set: one instruction, then the trap.
	return c.steps(1), nil
}

// run executes blocks until a trap or an interrupt, which it leaves in
// c.exit. It is the hot loop: one indirect call per entry of a block's
// run list and one check of c.stop after it; at the block's end a check
// for an interrupt and a look at the two successors the block had last.
//
// The first four entries of a block are called from call sites of their
// own, the rest from a loop: the host predicts an indirect call by its
// site and the history before it, so a site that sees one position of
// the blocks mostly finds the same handlers there, where one shared site
// would have to tell every handler of a loop's body apart.
func (c *CPU) run() {
	b := c.lookup(c.rip)
	if b == nil { // fetch fault or undecodable first instruction
		return
	}
	for {
		run := b.run
		i := 0
		in := &run[0]
		in.fn(c, in)
		if c.stop != 0 {
			goto stop
		}
		if len(run) > 1 {
			i, in = 1, &run[1]
			in.fn(c, in)
			if c.stop != 0 {
				goto stop
			}
			if len(run) > 2 {
				i, in = 2, &run[2]
				in.fn(c, in)
				if c.stop != 0 {
					goto stop
				}
				if len(run) > 3 {
					i, in = 3, &run[3]
					in.fn(c, in)
					if c.stop != 0 {
						goto stop
					}
					for i = 4; i < len(run); i++ {
						in = &run[i]
						in.fn(c, in)
						if c.stop != 0 {
							goto stop
						}
					}
				}
			}
		}
		c.insnCount += uint64(len(b.insts))
		if !b.flowEnd {
			c.rip = b.end
		}
		if c.interrupted.Load() {
			c.interrupted.Store(false)
			c.exit = cpu.Exit{Kind: cpu.ExitInterrupted}
			return
		}
		if nb := b.succ[0]; nb.va == c.rip && nb.epoch == c.epoch {
			b = nb
			continue
		}
		if b = c.successor(b); b == nil {
			return
		}
		continue
	stop:
		if c.stopped(in, i) {
			return
		}
		// Code was written: carry on from the next instruction, in a
		// block checked again.
		if c.interrupted.Load() {
			c.interrupted.Store(false)
			c.exit = cpu.Exit{Kind: cpu.ExitInterrupted}
			return
		}
		if b = c.lookup(c.rip); b == nil {
			return
		}
	}
}

// stopped handles a stop raised by entry i of a block's run list and
// reports whether Run returns (a fault or a trap, in c.exit); otherwise
// the entry wrote decoded code, and execution goes on at c.rip.
func (c *CPU) stopped(in *inst, i int) bool {
	switch {
	case c.stop&stopFault != 0:
		c.rip = in.pc
		c.exit.Fault.PC = in.pc
		c.stackFault(in)
		c.insnCount += uint64(i)
		c.stop = 0
		return true
	case c.stop&(stopSMC|stopTrace) != 0:
		trace := c.stop&stopTrace != 0
		c.stop &^= stopSMC | stopTrace
		if in.flow == 0 {
			c.rip = in.next
		}
		c.insnCount += uint64(i + 1)
		if trace {
			// Run goes on one instruction at a time (see execute).
			c.traced = true
			c.stop = 0
			return true
		}
		if c.stop == 0 {
			return false
		}
	default:
		// A trap (syscall) is always the last instruction of a block.
		c.insnCount += uint64(i + 1)
	}
	c.stop = 0
	return true
}

// successor returns the block at c.rip after b: one of the two blocks b
// went to last, while they are valid in this epoch, or a lookup.
func (c *CPU) successor(b *block) *block {
	rip := c.rip
	if nb := b.succ[0]; nb.va == rip && nb.epoch == c.epoch {
		return nb
	}
	if nb := b.succ[1]; nb.va == rip && nb.epoch == c.epoch {
		b.succ[0], b.succ[1] = nb, b.succ[0]
		return nb
	}
	nb := c.lookup(rip)
	if nb != nil {
		b.succ[1] = b.succ[0]
		b.succ[0] = nb
	}
	return nb
}

// steps executes limit instructions one by one from the blocks' unfused
// lists, for Step.
func (c *CPU) steps(limit int) cpu.Exit {
	for {
		b := c.lookup(c.rip)
		if b == nil {
			return c.exit
		}
		tf := c.flags&flagTF != 0
		c.runBlock(b, 1)
		if c.stop != 0 {
			c.stop = 0
			return c.exit
		}
		if tf {
			// The trap flag was set when the instruction began: a debug
			// trap after it, as the CPU's single-step.
			return cpu.Exit{Kind: cpu.ExitFault, Fault: cpu.Fault{Vector: cpu.VecDebug, PC: c.rip}}
		}
		if limit--; limit == 0 {
			return cpu.Exit{Kind: cpu.ExitStep}
		}
		if c.interrupted.Load() {
			c.interrupted.Store(false)
			return cpu.Exit{Kind: cpu.ExitInterrupted}
		}
	}
}

// runBlock executes the first n instructions of b's unfused list and
// returns how many completed. It leaves c.rip at the next instruction to
// run.
func (c *CPU) runBlock(b *block, n int) int {
	insts := b.insts[:n]
	for i := range insts {
		in := &insts[i]
		in.fn(c, in)
		c.stop &^= stopTrace // one instruction at a time here already
		if c.stop != 0 {
			switch {
			case c.stop&stopFault != 0:
				c.rip = in.pc
				c.exit.Fault.PC = in.pc
				c.stackFault(in)
				c.insnCount += uint64(i)
				return i
			case c.stop&stopSMC != 0:
				c.stop &^= stopSMC
				if in.flow == 0 {
					c.rip = in.next
				}
				c.insnCount += uint64(i + 1)
				return i + 1
			}
			// A trap (syscall) is always the last instruction of a block.
			c.insnCount += uint64(i + 1)
			return i + 1
		}
	}
	if last := &insts[len(insts)-1]; last.flow == 0 {
		c.rip = last.next
	}
	c.insnCount += uint64(len(insts))
	return len(insts)
}

// enter prepares a Run: the thread's RIP and RFLAGS come from Regs, and
// every cached translation and decoded block must be checked again, since
// the kernel may have changed memory and mappings meanwhile.
func (c *CPU) enter() {
	r := c.Regs()
	c.rip = r.RIP
	c.flags = r.RFLAGS&flagsUser | flagsFixed
	c.lop = lazyNone
	c.stop = 0
	c.flushTLB()
	c.epoch++
}

// leave writes RIP and RFLAGS back to Regs.
func (c *CPU) leave() {
	r := c.Regs()
	r.RIP = c.rip
	r.RFLAGS = c.getFlags()
}

// fault ends the current instruction with an exception.
func (c *CPU) fault(vector uint8, code, addr uint64) {
	c.nonCanonical = false
	c.exit = cpu.Exit{Kind: cpu.ExitFault, Fault: cpu.Fault{Vector: vector, ErrorCode: code, PC: c.curPC(), Addr: addr}}
	c.stop |= stopFault
}

// curPC is the PC a fault is reported at: c.rip, the block start while
// a block runs; runBlock corrects it to the faulting instruction.
func (c *CPU) curPC() uint64 { return c.rip }

// XSAVE standard-layout offsets.
const (
	xsFCW      = 0
	xsFSW      = 2
	xsFTW      = 4
	xsFOP      = 6
	xsMXCSR    = 24
	xsMXCSRMsk = 28
	xsST       = 32
	xsXMM      = 160
	xsHeader   = 512
	xsSize     = 4096

	mxcsrMask = 0xFFFF // the MXCSR bits the interpreter keeps (DAZ included)
	initMXCSR = 0x1F80
	initFCW   = 0x37F
)

// FPState implements cpu.CPU: the x87 and SSE state in the XSAVE standard
// layout, with XSTATE_BV naming both components.
func (c *CPU) FPState() ([]byte, error) {
	b := make([]byte, xsSize)
	c.fxsave(b)
	binary.LittleEndian.PutUint64(b[xsHeader:], 3)
	return b, nil
}

// SetFPState implements cpu.CPU. Components missing from XSTATE_BV take
// their initial state, as XRSTOR gives them; MXCSR is always loaded.
func (c *CPU) SetFPState(b []byte) error {
	if b == nil {
		return nil
	}
	if len(b) < xsHeader+64 {
		return fmt.Errorf("FP state of %d bytes, want at least %d", len(b), xsHeader+64)
	}
	bv := binary.LittleEndian.Uint64(b[xsHeader:])
	mx := binary.LittleEndian.Uint32(b[xsMXCSR:])
	if mx&^mxcsrMask != 0 {
		return fmt.Errorf("FP state with reserved MXCSR bits 0x%x", mx)
	}
	c.fxrstor(b)
	if bv&1 == 0 {
		c.fpu = x87{}
		c.fpu.cw = initFCW
	}
	if bv&2 == 0 {
		c.xmm = [16][2]uint64{}
	}
	return nil
}

func (c *CPU) resetFP() {
	c.fpu = x87{cw: initFCW}
	c.mxcsr = initMXCSR
	c.xmm = [16][2]uint64{}
}

// fxsave writes the 512-byte legacy area.
func (c *CPU) fxsave(b []byte) {
	le := binary.LittleEndian
	le.PutUint16(b[xsFCW:], c.fpu.cw)
	le.PutUint16(b[xsFSW:], c.fpu.statusWord())
	var ftw byte
	for i := 0; i < 8; i++ {
		if c.fpu.tags&(1<<i) != 0 {
			ftw |= 1 << i
		}
	}
	b[xsFTW] = ftw
	b[5] = 0
	// The last instruction's pointers in the 64-bit layout (see
	// x87env.go for when they are stored).
	ip, dp, op := c.fpu.pointers()
	le.PutUint16(b[xsFOP:], op)
	le.PutUint64(b[8:], ip)
	le.PutUint64(b[16:], dp)
	le.PutUint32(b[xsMXCSR:], c.mxcsr)
	le.PutUint32(b[xsMXCSRMsk:], mxcsrMask)
	for i := 0; i < 8; i++ {
		r := c.fpu.st(i)
		o := xsST + 16*i
		le.PutUint64(b[o:], r.mant)
		le.PutUint16(b[o+8:], r.se)
		for j := o + 10; j < o+16; j++ {
			b[j] = 0
		}
	}
	for i := 0; i < 16; i++ {
		le.PutUint64(b[xsXMM+16*i:], c.xmm[i][0])
		le.PutUint64(b[xsXMM+16*i+8:], c.xmm[i][1])
	}
}

// fxrstor loads the 512-byte legacy area.
func (c *CPU) fxrstor(b []byte) {
	le := binary.LittleEndian
	c.fpu.cw = le.Uint16(b[xsFCW:])&fcwBits | 0x40 // bit 6 is reserved and reads as 1
	sw := le.Uint16(b[xsFSW:])
	c.fpu.top = uint8(sw>>11) & 7
	c.fpu.sw = sw &^ (7 << 11)
	ftw := b[xsFTW]
	c.fpu.ip, c.fpu.dp, c.fpu.op = le.Uint64(b[8:]), le.Uint64(b[16:]), le.Uint16(b[xsFOP:])&0x7FF
	c.fpu.raised = c.fpu.pending() // the loaded pointers are the exception's
	c.mxcsr = le.Uint32(b[xsMXCSR:]) & mxcsrMask
	var tags uint8
	for i := 0; i < 8; i++ {
		if ftw&(1<<i) != 0 {
			tags |= 1 << i
		}
	}
	c.fpu.tags = tags
	for i := 0; i < 8; i++ {
		o := xsST + 16*i
		c.fpu.setST(i, f80{mant: le.Uint64(b[o:]), se: le.Uint16(b[o+8:])})
	}
	for i := 0; i < 16; i++ {
		c.xmm[i][0] = le.Uint64(b[xsXMM+16*i:])
		c.xmm[i][1] = le.Uint64(b[xsXMM+16*i+8:])
	}
}

var _ cpu.CPU = (*CPU)(nil)
var _ cpu.Engine = (*Engine)(nil)
