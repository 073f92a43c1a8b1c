package interp

import "bytes"

// The block cache. A block is the decoded instructions from one address up
// to a control transfer or trap, the end of the page (an instruction that
// straddles it ends the block), or maxBlock instructions. It is keyed by
// virtual address and carries the raw bytes it was decoded from and the
// epoch it was last known to match memory in (see the package doc).

const (
	maxBlock       = 64
	blockCacheSize = 4096
)

type block struct {
	va    uint64
	epoch uint32
	// insts holds one entry per instruction; Step runs them. run is what
	// Run runs: insts, with the final Jcc and the instructions before it
	// that it can be fused with made one entry (fuse.go). Either way the
	// entry at index i starts with instruction i, so an entry that stops
	// the block at index i has i instructions of the block retired before
	// it.
	insts []inst
	run   []inst
	// end is where control goes after the last instruction when that
	// instruction does not set c.rip itself (flowEnd false).
	end     uint64
	flowEnd bool
	// succ caches the blocks control went to from here last, the most
	// recent first; noBlock stands for none.
	succ [2]*block
	raw  []byte
}

// noBlock fills empty successor slots: its address is not canonical, so
// no RIP matches it.
var noBlock = &block{va: 1 << 63}

// lookup returns the block at va, decoding it if needed. On a fetch fault
// or an undecodable first instruction it sets c.exit and returns nil.
func (c *CPU) lookup(va uint64) *block {
	h := &c.bcache[(va^va>>12)&(blockCacheSize-1)]
	if b := *h; b != nil && b.va == va && b.epoch == c.epoch {
		return b
	}
	b := c.blocks[va]
	if b != nil && c.validate(b) {
		b.epoch = c.epoch
		*h = b
		return b
	}
	if c.stop&stopFault != 0 {
		c.stop = 0
		return nil
	}
	b = c.decodeBlock(va)
	if b == nil {
		c.stop = 0
		return nil
	}
	b.epoch = c.epoch
	c.blocks[va] = b
	*h = b
	return b
}

// validate checks that b's bytes are still what memory holds at b.va, as
// seen through the current translations.
func (c *CPU) validate(b *block) bool {
	var buf [maxBlock * 15]byte
	n := c.fetch(b.va, buf[:len(b.raw)])
	if n < len(b.raw) {
		c.stop = 0 // decoding afresh raises the fetch fault if one is due
		return false
	}
	return bytes.Equal(buf[:n], b.raw)
}

// decodeBlock decodes the block at va.
func (c *CPU) decodeBlock(va uint64) *block {
	var buf [16]byte
	var raw []byte
	var insts []inst
	pc := va
	for len(insts) < maxBlock {
		// Fetch up to 15 bytes, stopping at the page end unless the
		// instruction needs the next page.
		avail := 0x1000 - pc&0xFFF
		want := uint64(15)
		if avail < want {
			want = avail
		}
		n := c.fetch(pc, buf[:want])
		if n == 0 {
			if len(insts) == 0 {
				return nil // the fetch fault stands
			}
			c.stop = 0
			break
		}
		var in inst
		used, err := decodeInst(&in, buf[:n], pc)
		if used == 0 && err == nil && uint64(n) == want && want < 15 {
			// The instruction continues on the next page.
			m := c.fetch(pc+want, buf[want:15])
			if m == 0 {
				if len(insts) == 0 {
					c.exit.Fault.PC = pc
					return nil
				}
				c.stop = 0
				break
			}
			n += m
			used, err = decodeInst(&in, buf[:n], pc)
		}
		if used == 0 {
			// Undecodable or unimplemented: #UD when reached.
			in = inst{pc: pc, next: pc + 1, fn: opUD, flow: 1}
			if len(insts) == 0 {
				insts = append(insts, in)
				raw = append(raw, buf[0])
			}
			break
		}
		insts = append(insts, in)
		raw = append(raw, buf[:used]...)
		pc += uint64(used)
		if in.flow != 0 || pc&0xFFF < uint64(used) || pc&0xFFF == 0 {
			break
		}
	}
	c.stop = 0
	b := &block{va: va, insts: insts, run: insts, raw: raw, succ: [2]*block{noBlock, noBlock}}
	last := &insts[len(insts)-1]
	b.end, b.flowEnd = last.next, last.flow != 0
	b.run = fuseTail(insts)
	return b
}
