package interp

// String instructions. in.size is the element size, in.rep the REP prefix
// (repE for REP/REPE, repNE for REPNE). A fault in the middle of a REP
// leaves RCX, RSI and RDI at the faulting element, so the retried
// instruction carries on from there, as on hardware. Long REP MOVS and
// STOS run a page at a time.

// step is the signed element stride for the current direction flag.
func (c *CPU) step(size uint8) uint64 {
	if c.flags&flagDF != 0 {
		return -uint64(size)
	}
	return uint64(size)
}

func opStos(c *CPU, in *inst) {
	size := in.size
	v := c.g[rAX] & sizeMask[size]
	d := c.step(size)
	if in.rep&3 == 0 {
		if c.wr(c.g[rDI], size, v) {
			c.g[rDI] += d
		}
		return
	}
	for c.g[rCX] != 0 {
		di := c.g[rDI]
		if d == uint64(size) && di&0xFFF <= 0x1000-uint64(size) {
			pa, ok := c.xlate(di, true)
			if !ok {
				return
			}
			n := (0x1000 - di&0xFFF) / uint64(size)
			if n > c.g[rCX] {
				n = c.g[rCX]
			}
			fill(c.mem[pa:pa+n*uint64(size)], v, size)
			c.noteWrite(pa)
			c.g[rDI] += n * uint64(size)
			c.g[rCX] -= n
			continue
		}
		if !c.wr(di, size, v) {
			return
		}
		c.g[rDI] += d
		c.g[rCX]--
	}
}

// fill stores the size-byte value v over b (a whole number of elements):
// one element, then copies doubling the filled part.
func fill(b []byte, v uint64, size uint8) {
	if len(b) == 0 {
		return
	}
	if v == 0 {
		clear(b)
		return
	}
	for j := range int(size) {
		b[j] = byte(v >> (8 * j))
	}
	for done := int(size); done < len(b); done *= 2 {
		copy(b[done:], b[:done])
	}
}

func opMovs(c *CPU, in *inst) {
	size := in.size
	d := c.step(size)
	if in.rep&3 == 0 {
		v, ok := c.rd(c.g[rSI], size)
		if ok && c.wr(c.g[rDI], size, v) {
			c.g[rSI] += d
			c.g[rDI] += d
		}
		return
	}
	for c.g[rCX] != 0 {
		si, di := c.g[rSI], c.g[rDI]
		if d == uint64(size) && si&0xFFF <= 0x1000-uint64(size) && di&0xFFF <= 0x1000-uint64(size) {
			spa, ok := c.xlate(si, false)
			if !ok {
				return
			}
			dpa, ok := c.xlate(di, true)
			if !ok {
				return
			}
			n := min(0x1000-si&0xFFF, 0x1000-di&0xFFF) / uint64(size)
			if n > c.g[rCX] {
				n = c.g[rCX]
			}
			bytes := n * uint64(size)
			// Overlapping copies run element by element on hardware: for
			// a destination just above the source, bytes repeat.
			if dpa > spa && dpa < spa+bytes {
				for i := uint64(0); i < bytes; i++ {
					c.mem[dpa+i] = c.mem[spa+i]
				}
			} else {
				copy(c.mem[dpa:dpa+bytes], c.mem[spa:spa+bytes])
			}
			c.noteWrite(dpa)
			c.g[rSI] += bytes
			c.g[rDI] += bytes
			c.g[rCX] -= n
			continue
		}
		v, ok := c.rd(si, size)
		if !ok || !c.wr(di, size, v) {
			return
		}
		c.g[rSI] += d
		c.g[rDI] += d
		c.g[rCX]--
	}
}

func opLods(c *CPU, in *inst) {
	size := in.size
	d := c.step(size)
	if in.rep&3 == 0 {
		if v, ok := c.rd(c.g[rSI], size); ok {
			c.setReg(rAX, size, v)
			c.g[rSI] += d
		}
		return
	}
	for c.g[rCX] != 0 {
		v, ok := c.rd(c.g[rSI], size)
		if !ok {
			return
		}
		c.setReg(rAX, size, v)
		c.g[rSI] += d
		c.g[rCX]--
	}
}

func opScas(c *CPU, in *inst) {
	size := in.size
	d := c.step(size)
	a := c.g[rAX] & sizeMask[size]
	if in.rep&3 == 0 {
		if v, ok := c.rd(c.g[rDI], size); ok {
			c.alu(aluCmp, size, a, v)
			c.g[rDI] += d
		}
		return
	}
	for c.g[rCX] != 0 {
		v, ok := c.rd(c.g[rDI], size)
		if !ok {
			return
		}
		c.alu(aluCmp, size, a, v)
		c.g[rDI] += d
		c.g[rCX]--
		if (in.rep&3 == repE) != (a == v) {
			return
		}
	}
}

func opCmps(c *CPU, in *inst) {
	size := in.size
	d := c.step(size)
	once := in.rep&3 == 0
	for once || c.g[rCX] != 0 {
		// The CPU reads ES:RDI before DS:RSI: when both fault, the
		// fault is RDI's.
		b, ok := c.rd(c.g[rDI], size)
		if !ok {
			return
		}
		a, ok := c.rd(c.g[rSI], size)
		if !ok {
			return
		}
		c.alu(aluCmp, size, a, b)
		c.g[rSI] += d
		c.g[rDI] += d
		if once {
			return
		}
		c.g[rCX]--
		if (in.rep&3 == repE) != (a == b) {
			return
		}
	}
}
