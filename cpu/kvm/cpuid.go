package kvm

import (
	gokvm "github.com/bobuhiro11/gokvm/kvm"

	"github.com/aurora-vm/aurora-vm/cpu"
)

// guestCPUID is the CPUID table every vCPU gets: package cpu's, the CPU
// that every engine shows a program, rather than what the host's KVM
// supports. A program probing features thus takes the same path here as
// on the interpreter; the price is that AVX stays off (the table has no
// XSAVE, so XCR0 and CR4.OSXSAVE stay clear) even where the host has it.
//
// That holds where KVM intercepts CPUID: always on VMX and SVM. A host
// that runs the guest's ring 3 on its own ring 3 (PVM, where
// syscallStaysInRing3) cannot intercept it without CPUID faulting, which
// such hosts' CPUs may lack: there CPUID reports the host's CPU, and AVX
// works as the host's XCR0 allows, whatever the guest's says.
func guestCPUID() *gokvm.CPUID {
	leaves := cpu.CPUIDLeaves()
	t := &gokvm.CPUID{Nent: uint32(len(leaves)), Entries: make([]gokvm.CPUIDEntry2, len(leaves))}
	for i, leaf := range leaves {
		a, b, c, d := cpu.CPUID(leaf, 0)
		t.Entries[i] = gokvm.CPUIDEntry2{Function: leaf, Eax: a, Ebx: b, Ecx: c, Edx: d}
	}
	return t
}
