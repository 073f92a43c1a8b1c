package kvm

import (
	"encoding/binary"

	"github.com/aurora-vm/aurora-vm/mmu"
)

// The pages an engine adds to every address space. They hold no kernel
// logic, only what the CPU needs to get from ring 3 to a VM exit and back:
//
//	mmu.UserEnd          the SYSCALL trampoline and, a page above, the
//	                     doorbell page (both user-visible, see below)
//	superBase+0x0000     ring-0 trap stubs
//	superBase+0x1000     IDT, shared by all vCPUs
//	superBase+0x10000+   per vCPU: GDT and TSS page, ring-0 stack (RSP0) for
//	                     int $0x80, and an IST stack for exceptions
//
// The ring-0 stubs execute OUT to one of the ports below: KVM turns that
// into an exit, the Go kernel does the work, and on re-entry the stub returns
// to ring 3 with IRETQ.
//
// Two kinds of host run this code. With hardware virtualisation, SYSCALL
// enters ring 0 at the trampoline, whose store to the doorbell page exits,
// and SYSRETQ returns. Paravirtual KVM implementations that run the guest on
// the host's own ring 3 may jump to LSTAR without changing privilege; the
// doorbell store exits all the same, and the engine then resumes the thread
// directly at its return address. Such hosts refuse port I/O in ring 3 and
// `int $0x80` (with #UD); a #UD on that instruction is taken as a syscall.
// The upper-half base stays clear of the top 2 GiB, which those hosts do not
// let a guest map.
const (
	superBase   = 0xFFFF_FF00_0000_0000
	stubsVA     = superBase
	idtVA       = superBase + 0x1000
	vcpuAreaVA  = superBase + 0x10000
	vcpuStride  = 8 * 0x1000
	gdtOffset   = 0x0
	tssOffset   = 0x800
	rsp0Top     = 0x3000 // pages 1-2 of a vCPU's area
	istTop      = 0x5000 // pages 3-4
	vcpuPages   = 5
	gdtLimit    = 9*8 - 1
	tssLimit    = 0x67
	tssIOPBBase = 0x66

	trampolineVA = mmu.UserEnd
	probeOffset  = 0x100
	// doorbellStoreLen is the length of the trampoline's doorbell store,
	// movabs %al, doorbellVA: a 1-byte write.
	doorbellStoreLen = 9
	// trampolineRet is the SYSRETQ after the doorbell store.
	trampolineRet = doorbellStoreLen
	// doorbellVA is a user page mapped to doorbellGPA, a guest-physical
	// address with no RAM behind it: a store there is an MMIO exit, which
	// works from ring 3 as well as from ring 0. Any code can reach the
	// page; only the trampoline's store, told apart by its length and RIP,
	// counts as a syscall, and every other access is a page fault.
	doorbellVA  = mmu.UserEnd + mmu.PageSize
	doorbellGPA = MaxMemory
)

// Ports the stubs write to.
const (
	portInt80     = 0xF1
	portException = 0xF2
	portBareExit  = 0xF3 // only the benchmark guest uses it
)

// Segment selectors, laid out as Linux lays out its GDT. Some hosts run the
// guest's ring 3 directly on the host's own descriptors (paravirtual KVM
// implementations without hardware virtualisation do), so the guest must use
// the selectors the host uses for 64-bit user code and data. SYSCALL loads
// CS/SS from STAR[47:32] (+8); SYSRET loads CS = STAR[63:48]+16 and
// SS = STAR[63:48]+8.
const (
	selKernelCode = 0x10
	selKernelData = 0x18
	selUser32Code = 0x20 | 3
	selUserData   = 0x28 | 3
	selUserCode   = 0x30 | 3
	selTSS        = 0x38
	starValue     = uint64(selUser32Code)<<48 | uint64(selKernelCode)<<32
)

// Offsets of the stubs inside the stub page, and the length of OUT imm8:
// a stub resumes at its OUT plus outLen.
const (
	stubInt80      = 0x00
	stubBareExit   = 0x10
	stubExceptions = 0x40 // 16 bytes per vector, vectors 0-31
	outLen         = 2
)

// hasErrorCode lists the exception vectors for which the CPU pushes an
// error code; the stubs push a zero for the others so every frame looks the
// same to the host.
var hasErrorCode = map[int]bool{8: true, 10: true, 11: true, 12: true, 13: true, 14: true, 17: true, 21: true, 29: true, 30: true}

// trampolinePage is the SYSCALL entry (LSTAR). It touches neither the
// stack nor any register, so SYSRETQ returns with everything but RAX (the
// result) as the guest left it.
func trampolinePage() []byte {
	p := make([]byte, 0x1000)
	copy(p, binary.LittleEndian.AppendUint64([]byte{0xA2}, doorbellVA)) // movabs %al, doorbellVA
	copy(p[trampolineRet:], []byte{0x48, 0x0F, 0x07})                   // sysretq
	copy(p[probeOffset:], []byte{0x0F, 0x05})                           // syscall, run once by probeSyscall
	return p
}

// stubPage assembles the ring-0 trap stubs.
func stubPage() []byte {
	p := make([]byte, 0x1000)
	copy(p[stubInt80:], []byte{
		0xE6, portInt80, // out %al, $portInt80
		0x48, 0xCF, // iretq
	})
	// A ring-0 loop of exits with no guest work at all: the floor a trapped
	// syscall is measured against.
	copy(p[stubBareExit:], []byte{
		0xE6, portBareExit, // out %al, $portBareExit
		0xEB, 0xFC, // jmp back to the out
	})
	for v := 0; v < 32; v++ {
		s := p[stubExceptions+16*v:]
		n := 0
		if !hasErrorCode[v] {
			n += copy(s[n:], []byte{0x6A, 0x00}) // push $0
		}
		n += copy(s[n:], []byte{0x6A, byte(v)}) // push $vector
		n += copy(s[n:], []byte{0xE6, portException})
		// Resumed only when the exception was a syscall in disguise.
		copy(s[n:], []byte{
			0x48, 0x83, 0xC4, 0x10, // add $16, %rsp: drop vector and error code
			0x48, 0xCF, // iretq
		})
	}
	return p
}

// exceptionStubOut is the address of the OUT in vector v's stub.
func exceptionStubOut(v uint64) uint64 {
	a := stubsVA + stubExceptions + 16*v + 2
	if !hasErrorCode[int(v)] {
		a += 2
	}
	return a
}

// idtPage builds the IDT: vectors 0-31 go to the exception stubs on the IST
// stack (so even a fault with a bad stack pointer in ring 0 is reported),
// vector 0x80 is callable from ring 3. Every other vector is absent, so
// `int $n` from the guest raises #GP and kills it.
func idtPage() []byte {
	p := make([]byte, 0x1000)
	gate := func(vec int, target uint64, dpl, ist byte) {
		e := p[16*vec:]
		binary.LittleEndian.PutUint16(e[0:], uint16(target))
		binary.LittleEndian.PutUint16(e[2:], selKernelCode)
		e[4] = ist
		e[5] = 0x8E | dpl<<5 // present 64-bit interrupt gate
		binary.LittleEndian.PutUint16(e[6:], uint16(target>>16))
		binary.LittleEndian.PutUint32(e[8:], uint32(target>>32))
	}
	for v := 0; v < 32; v++ {
		gate(v, stubsVA+stubExceptions+uint64(16*v), 0, 1)
	}
	gate(0x80, stubsVA+stubInt80, 3, 0)
	return p
}

// gdtTSSPage builds one vCPU's GDT and TSS, both in the same page. Accessed
// bits are preset so the CPU never writes the descriptors.
func gdtTSSPage(areaVA uint64) []byte {
	p := make([]byte, 0x1000)
	gdt := map[int]uint64{
		selKernelCode: 0x00AF9B000000FFFF, // 64-bit, DPL 0
		selKernelData: 0x00CF93000000FFFF,
		selUser32Code: 0x00CFFB000000FFFF, // 32-bit, DPL 3: only for SYSRET's layout
		selUserData:   0x00CFF3000000FFFF, // DPL 3
		selUserCode:   0x00AFFB000000FFFF, // 64-bit, DPL 3
	}
	for sel, d := range gdt {
		binary.LittleEndian.PutUint64(p[gdtOffset+sel&^7:], d)
	}
	tss := areaVA + tssOffset
	lo := uint64(tssLimit) | (tss&0xFFFFFF)<<16 | uint64(0x8B)<<40 | (tss>>24&0xFF)<<56
	binary.LittleEndian.PutUint64(p[gdtOffset+selTSS:], lo)
	binary.LittleEndian.PutUint64(p[gdtOffset+selTSS+8:], tss>>32)

	t := p[tssOffset:]
	binary.LittleEndian.PutUint64(t[4:], areaVA+rsp0Top)   // RSP0
	binary.LittleEndian.PutUint64(t[0x24:], areaVA+istTop) // IST1
	// An I/O bitmap offset past the limit: ring 3 may use no port, so the
	// guest cannot fake a trap with its own OUT.
	binary.LittleEndian.PutUint16(t[tssIOPBBase:], tssLimit+1)
	return p
}
