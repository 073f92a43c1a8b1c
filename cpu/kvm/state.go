package kvm

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	gokvm "github.com/bobuhiro11/gokvm/kvm"
)

// A pooled vCPU carries everything its last thread left in it. The general
// registers travel through sync regs and the segments through KVM_SET_SREGS
// (FS and GS bases included); clearState resets the rest: x87, SSE and AVX
// state, debug registers, MSRs and pending events.

// Ioctls gokvm lacks.
var (
	ioctlSetFPU   = gokvm.IIOW(0x8D, unsafe.Sizeof(fpuState{})) // KVM_SET_FPU
	ioctlSetXSAVE = gokvm.IIOW(0xA5, 4096)                      // KVM_SET_XSAVE (struct kvm_xsave)
	ioctlSetMSRs  = gokvm.IIOW(0x89, 8)                         // KVM_SET_MSRS (struct kvm_msrs header)
)

// KVM_CAP_XSAVE says KVM_SET_XSAVE works; KVM_CAP_XSAVE2 gives the size
// of the buffer it reads.
const (
	capXSAVE  = 55
	capXSAVE2 = 208
)

// fpuState is struct kvm_fpu: the legacy FXSAVE state.
type fpuState struct {
	FPR        [8][16]byte
	FCW        uint16
	FSW        uint16
	FTWX       uint8 // abridged tag word: 0 means every register empty
	_          uint8
	LastOpcode uint16
	LastIP     uint64
	LastDP     uint64
	XMM        [16][16]byte
	MXCSR      uint32
	_          uint32
}

// Power-on values of the x87 control word and of MXCSR (all exceptions
// masked, round to nearest), which programs and their libc expect.
const (
	initFCW   = 0x37F
	initMXCSR = 0x1F80
)

// XSAVE layout (standard form, as KVM_SET_XSAVE takes it).
const (
	xsaveFCW    = 0
	xsaveMXCSR  = 24
	xsaveHeader = 512 // XSTATE_BV, XCOMP_BV (0: standard form), reserved
)

// cleanXSAVE builds the XSAVE image of a CPU that has run nothing. It is
// the only way to reset MXCSR, which KVM_SET_FPU ignores, and KVM_SET_XSAVE
// takes it whether or not the guest may use XSAVE itself.
//
// XSTATE_BV names x87 and SSE, with zero registers and power-on FCW and
// MXCSR: Linux takes MXCSR from the buffer only when one of those bits is
// set, and XRSTOR loads MXCSR whatever XSTATE_BV says, so an all-zero header
// would keep the previous thread's MXCSR. Every other component (AVX,
// AVX-512) is left out of XSTATE_BV, which restores its initial state: zero.
func cleanXSAVE(size int) []byte {
	b := make([]byte, max(size, 4096))
	binary.LittleEndian.PutUint16(b[xsaveFCW:], initFCW)
	binary.LittleEndian.PutUint32(b[xsaveMXCSR:], initMXCSR)
	binary.LittleEndian.PutUint64(b[xsaveHeader:], xcr0X87|xcr0SSE)
	return b
}

// MSRs beyond SYSCALL's that a thread starts with cleared. Ring 3 cannot
// write any of them; clearing them keeps that from mattering.
const (
	msrSysenterCS   = 0x174
	msrSysenterESP  = 0x175
	msrSysenterEIP  = 0x176
	msrCSTAR        = 0xC000_0083
	msrKernelGSBase = 0xC000_0102
	msrTSCAux       = 0xC000_0103
)

// threadMSRs are the MSRs every thread starts with. The host must take the
// first requiredMSRs (SYSCALL's); it may lack the others (TSC_AUX exists
// only where the host CPU has RDTSCP), and an MSR it lacks holds nothing.
var threadMSRs = []gokvm.MSREntry{
	{Index: msrSTAR, Data: starValue},
	{Index: msrLSTAR, Data: trampolineVA},
	{Index: msrSFMASK, Data: sfmask},
	{Index: msrCSTAR},
	{Index: msrKernelGSBase},
	{Index: msrSysenterCS},
	{Index: msrSysenterESP},
	{Index: msrSysenterEIP},
	{Index: msrTSCAux},
}

const requiredMSRs = 3

// msrBlock is struct kvm_msrs with room for threadMSRs.
type msrBlock struct {
	n, _    uint32
	entries [16]gokvm.MSREntry
}

// setMSRs writes MSRs and returns how many it wrote: KVM_SET_MSRS stops at
// the first MSR the host refuses.
func setMSRs(fd int, msrs []gokvm.MSREntry) (int, error) {
	var blk msrBlock
	blk.n = uint32(copy(blk.entries[:], msrs))
	n, err := gokvm.Ioctl(uintptr(fd), ioctlSetMSRs, uintptr(unsafe.Pointer(&blk)))
	if err != nil {
		return 0, fmt.Errorf("KVM_SET_MSRS: %w", err)
	}
	return int(n), nil
}

// Power-on debug registers: no breakpoint enabled.
const (
	initDR6 = 0xFFFF_0FF0
	initDR7 = 0x400
)

// KVM_SET_VCPU_EVENTS flags: the NMI-pending and interrupt-shadow fields
// are to be taken too.
const (
	eventsNMIPending = 1 << 0
	eventsShadow     = 1 << 2
)

// clearState gives the vCPU the x87/SSE/AVX state, debug registers, MSRs
// and event state of a CPU that has run nothing yet.
func (c *vcpu) clearState() error {
	fd := uintptr(c.fd)
	if c.e.cleanXSAVE != nil {
		if _, err := gokvm.Ioctl(fd, ioctlSetXSAVE, uintptr(unsafe.Pointer(&c.e.cleanXSAVE[0]))); err != nil {
			return fmt.Errorf("KVM_SET_XSAVE: %w", err)
		}
	} else {
		// Hosts without KVM_SET_XSAVE: MXCSR carries over.
		fpu := fpuState{FCW: initFCW, MXCSR: initMXCSR}
		if _, err := gokvm.Ioctl(fd, ioctlSetFPU, uintptr(unsafe.Pointer(&fpu))); err != nil {
			return fmt.Errorf("KVM_SET_FPU: %w", err)
		}
	}
	if err := gokvm.SetDebugRegs(fd, &gokvm.DebugRegs{DR6: initDR6, DR7: initDR7}); err != nil {
		return fmt.Errorf("KVM_SET_DEBUGREGS: %w", err)
	}
	for i := 0; i < len(threadMSRs); {
		n, err := setMSRs(c.fd, threadMSRs[i:])
		if err != nil {
			return err
		}
		if i += n; i < len(threadMSRs) {
			if i < requiredMSRs {
				return fmt.Errorf("KVM_SET_MSRS: the host refuses MSR %#x", threadMSRs[i].Index)
			}
			i++ // skip the one the host lacks
		}
	}
	// No exception, interrupt or NMI pending, no interrupt shadow.
	if err := gokvm.SetVCPUEvents(fd, &gokvm.VCPUEvents{Flags: eventsNMIPending | eventsShadow}); err != nil {
		return fmt.Errorf("KVM_SET_VCPU_EVENTS: %w", err)
	}
	return nil
}

var ioctlGetXSAVE = gokvm.IIOR(0xA4, 4096) // KVM_GET_XSAVE

// FPState implements cpu.CPU: the XSAVE image KVM_GET_XSAVE gives, or nil
// on hosts without it (fork's child then starts from a clean state).
func (c *vcpu) FPState() ([]byte, error) {
	if c.e.cleanXSAVE == nil {
		return nil, nil
	}
	b := make([]byte, len(c.e.cleanXSAVE))
	if _, err := gokvm.Ioctl(uintptr(c.fd), ioctlGetXSAVE, uintptr(unsafe.Pointer(&b[0]))); err != nil {
		return nil, fmt.Errorf("KVM_GET_XSAVE: %w", err)
	}
	return b, nil
}

// SetFPState implements cpu.CPU.
func (c *vcpu) SetFPState(b []byte) error {
	if b == nil || c.e.cleanXSAVE == nil {
		return nil
	}
	if len(b) < len(c.e.cleanXSAVE) {
		return fmt.Errorf("FP state of %d bytes, want %d", len(b), len(c.e.cleanXSAVE))
	}
	if _, err := gokvm.Ioctl(uintptr(c.fd), ioctlSetXSAVE, uintptr(unsafe.Pointer(&b[0]))); err != nil {
		return fmt.Errorf("KVM_SET_XSAVE: %w", err)
	}
	return nil
}
