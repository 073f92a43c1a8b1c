package kvm

// RestoreAll implements cpu.CPU. Only a return through SYSRETQ loses
// registers (RCX and R11 carry RIP and RFLAGS); it becomes an IRETQ from
// the vCPU's ring-0 stack instead, which restores the frame and leaves
// every general register as Regs holds it.
func (c *vcpu) RestoreAll() {
	if c.resume != resumeSysret {
		return
	}
	c.resume = resumeIretq
	c.frameVA = c.areaVA + rsp0Top - 5*8
	c.resumeRSP = c.frameVA
	c.resumeRIP = stubsVA + stubInt80 + outLen // the stub's IRETQ
}
