package cpu

// The CPU a program sees through CPUID. Engines must agree on it so that
// a program probing features takes the same path on every engine, and an
// engine must implement everything it advertises: the x86-64 interpreter
// advertises exactly this table.

// CPUID feature bits the table advertises.
const (
	// Leaf 1, EDX.
	FeatFPU   = 1 << 0
	FeatTSC   = 1 << 4
	FeatPAE   = 1 << 6
	FeatCX8   = 1 << 8
	FeatCMOV  = 1 << 15
	FeatCLFSH = 1 << 19
	FeatFXSR  = 1 << 24
	FeatSSE   = 1 << 25
	FeatSSE2  = 1 << 26
	// Leaf 1, ECX.
	FeatCX16   = 1 << 13
	FeatPOPCNT = 1 << 23
	// Leaf 0x80000001, ECX.
	FeatLAHF  = 1 << 0
	FeatLZCNT = 1 << 5
	// Leaf 0x80000001, EDX.
	FeatSYSCALL = 1 << 11
	FeatNX      = 1 << 20
	FeatLM      = 1 << 29
)

// Feature words of the table, as masks an engine can apply to the
// CPUID its hardware would report.
const (
	// PAE describes the paging every engine does (long mode needs it, and
	// KVM refuses CR4.PAE to a guest whose CPUID lacks it); user code can
	// neither use nor miss it.
	Leaf1EDX        = FeatFPU | FeatTSC | FeatPAE | FeatCX8 | FeatCMOV | FeatCLFSH | FeatFXSR | FeatSSE | FeatSSE2
	Leaf1ECX        = FeatCX16 | FeatPOPCNT
	Leaf80000001ECX = FeatLAHF | FeatLZCNT
	Leaf80000001EDX = FeatSYSCALL | FeatNX | FeatLM
)

// cpuidVendor is "AuroraVM x86" in EBX, EDX, ECX order.
var cpuidVendor = [3]uint32{0x6f727541, 0x4d566172, 0x36387820}

var cpuidBrand = "Aurora VM x86-64 CPU"

// CPUIDLeaves lists the leaves CPUID reports something for, for an engine
// that has to load the whole table into a CPU (KVM); every other leaf
// reads as zeros.
func CPUIDLeaves() []uint32 {
	leaves := []uint32{0, 1, 2, 3, 4, 5, 6, 7}
	for l := uint32(0x8000_0000); l <= 0x8000_0008; l++ {
		leaves = append(leaves, l)
	}
	return leaves
}

// CPUID returns the registers CPUID gives for a leaf and subleaf.
// Leaves beyond the highest ones report zeros, as CPUs without them do.
func CPUID(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32) {
	switch leaf {
	case 0:
		return 7, cpuidVendor[0], cpuidVendor[2], cpuidVendor[1]
	case 1:
		// Family 6, model 0x0F, stepping 1; 64-byte CLFLUSH lines; one
		// logical processor.
		return 0x0000_06F1, 0x0001_0800, Leaf1ECX, Leaf1EDX
	case 0x8000_0000:
		return 0x8000_0008, 0, 0, 0
	case 0x8000_0001:
		return 0, 0, Leaf80000001ECX, Leaf80000001EDX
	case 0x8000_0002, 0x8000_0003, 0x8000_0004:
		var b [48]byte
		copy(b[:], cpuidBrand)
		o := int(leaf-0x8000_0002) * 16
		w := func(i int) uint32 {
			return uint32(b[o+i]) | uint32(b[o+i+1])<<8 | uint32(b[o+i+2])<<16 | uint32(b[o+i+3])<<24
		}
		return w(0), w(4), w(8), w(12)
	case 0x8000_0008:
		return 0x0000_3030, 0, 0, 0 // 48-bit physical and virtual addresses
	}
	return 0, 0, 0, 0
}
