package kvm

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
	"unsafe"

	gokvm "github.com/bobuhiro11/gokvm/kvm"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// Tests of what a vCPU from the pool carries over from its last thread.

// newSpace builds another address space on g's RAM with the same layout as
// newGuest's: code, a data page and a stack.
func (g *guest) newSpace(t testing.TB, code ...[]byte) *mmu.AddressSpace {
	t.Helper()
	as, err := mmu.NewAddressSpace(g.phys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(as.Release)
	for _, m := range []struct {
		va   uint64
		perm mmu.Perm
	}{{codeVA, mmu.Read | mmu.Exec}, {dataVA, mmu.Read | mmu.Write}, {stackVA, mmu.Read | mmu.Write}} {
		if err := as.Map(m.va, mmu.PageSize, m.perm, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if err := as.LoadAt(bytes.Join(code, nil), codeVA); err != nil {
		t.Fatal(err)
	}
	return as
}

// newCPU starts a thread at codeVA on as, closed when the test ends.
func (g *guest) newCPU(t testing.TB, as *mmu.AddressSpace) cpu.CPU {
	t.Helper()
	c, err := g.eng.NewCPU(as)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	*c.Regs() = cpu.Regs{RIP: codeVA, RSP: stackVA + mmu.PageSize, RFLAGS: userRFLAGS}
	return c
}

// runCPU runs c until its next exit, which must be of kind want.
func runCPU(t testing.TB, c cpu.CPU, want cpu.ExitKind) cpu.Exit {
	t.Helper()
	ex, err := c.Run()
	if err != nil {
		t.Fatal(err)
	}
	if ex.Kind != want {
		t.Fatalf("exit %+v (error code %#x), want kind %d", ex, ex.Fault.ErrorCode, want)
	}
	return ex
}

var ioctlGetMSRs = gokvm.IIOWR(0x88, 8) // KVM_GET_MSRS

func getMSRs(t testing.TB, c *vcpu, msrs []gokvm.MSREntry) {
	t.Helper()
	var blk msrBlock
	blk.n = uint32(copy(blk.entries[:], msrs))
	n, err := gokvm.Ioctl(uintptr(c.fd), ioctlGetMSRs, uintptr(unsafe.Pointer(&blk)))
	if err != nil || n != uintptr(blk.n) {
		t.Fatalf("KVM_GET_MSRS: read %d of %d (%v)", n, blk.n, err)
	}
	copy(msrs, blk.entries[:])
}

// Guest code that dirties x87, SSE and MXCSR state, with RBX = dataVA.
var dirtyVectorState = [][]byte{
	movRBX(dataVA),
	{0x66, 0x0F, 0x76, 0xC0},             // pcmpeqd %xmm0,%xmm0: all ones
	{0x66, 0x45, 0x0F, 0x76, 0xFF},       // pcmpeqd %xmm15,%xmm15
	{0xC7, 0x03, 0xC0, 0x9F, 0x00, 0x00}, // movl $0x9fc0,(%rbx): FTZ, DAZ
	{0x0F, 0xAE, 0x13},                   // ldmxcsr (%rbx)
	{0xD9, 0xE8},                         // fld1
	{0x66, 0xC7, 0x43, 0x04, 0x7F, 0x02}, // movw $0x27f,4(%rbx): double precision
	{0xD9, 0x6B, 0x04},                   // fldcw 4(%rbx)
}

// fxsaveToData stores the FXSAVE image at dataVA (RBX) and traps.
var fxsaveToData = [][]byte{movRBX(dataVA), {0x48, 0x0F, 0xAE, 0x03}, opSyscall} // fxsave64 (%rbx)

// TestPooledCPUStartsWithCleanState runs a thread that leaves x87, SSE and
// MXCSR state behind (and has debug registers and MSRs set from the host,
// which ring 3 cannot reach), closes its CPU, and checks that the pooled
// vCPU starts a thread of another address space from power-on state.
func TestPooledCPUStartsWithCleanState(t *testing.T) {
	g := newGuest(t, append(dirtyVectorState, fxsaveToData[1:]...)...)
	g.run(t, cpu.ExitSyscall)
	var dirty [512]byte
	if err := g.as.ReadAt(dirty[:], dataVA); err != nil {
		t.Fatal(err)
	}
	if mxcsr := binary.LittleEndian.Uint32(dirty[24:]); mxcsr != 0x9FC0 {
		t.Fatalf("the first thread's MXCSR is %#x, want 0x9fc0: it did not run as meant", mxcsr)
	}
	c := g.cpu.(*vcpu)
	// An execute breakpoint on the next thread's first instruction, and
	// MSRs a guest kernel would own.
	if err := gokvm.SetDebugRegs(uintptr(c.fd), &gokvm.DebugRegs{DB: [4]uint64{codeVA, 1, 2, 3}, DR6: initDR6, DR7: initDR7 | 1}); err != nil {
		t.Fatal(err)
	}
	if n, err := setMSRs(c.fd, []gokvm.MSREntry{{Index: msrKernelGSBase, Data: 0xDEAD0000}, {Index: msrCSTAR, Data: 0xBEEF}}); n != 2 || err != nil {
		t.Fatalf("setting MSRs: %d of 2 (%v)", n, err)
	}
	g.cpu.Close()

	next := g.newCPU(t, g.newSpace(t, fxsaveToData...))
	if next.(*vcpu) != c {
		t.Fatal("NewCPU did not reuse the pooled vCPU")
	}
	msrs := []gokvm.MSREntry{{Index: msrKernelGSBase}, {Index: msrCSTAR}, {Index: msrSTAR}, {Index: msrLSTAR}, {Index: msrSFMASK}}
	getMSRs(t, c, msrs)
	want := []uint64{0, 0, starValue, trampolineVA, sfmask}
	for i, m := range msrs {
		if m.Data != want[i] {
			t.Errorf("MSR %#x = %#x, want %#x", m.Index, m.Data, want[i])
		}
	}
	var dr gokvm.DebugRegs
	if err := gokvm.GetDebugRegs(uintptr(c.fd), &dr); err != nil {
		t.Fatal(err)
	}
	if dr.DB != [4]uint64{} || dr.DR7&0xFF != 0 {
		t.Errorf("debug registers DR0-3 %#x DR7 %#x, want zero and no breakpoint enabled", dr.DB, dr.DR7)
	}

	runCPU(t, next, cpu.ExitSyscall)
	var img [512]byte
	as := next.(*vcpu).as
	if err := as.ReadAt(img[:], dataVA); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if fcw, fsw, ftw := le.Uint16(img[0:]), le.Uint16(img[2:]), img[4]; fcw != initFCW || fsw != 0 || ftw != 0 {
		t.Errorf("x87 FCW %#x FSW %#x FTW %#x, want 0x37f, 0, 0 (empty)", fcw, fsw, ftw)
	}
	if mxcsr := le.Uint32(img[24:]); mxcsr != initMXCSR {
		t.Errorf("MXCSR = %#x, want 0x1f80", mxcsr)
	}
	if st := img[32:160]; !allZero(st) {
		t.Errorf("x87 registers not zero: %x", st)
	}
	for i := 0; i < 16; i++ {
		if x := img[160+16*i : 176+16*i]; !allZero(x) {
			t.Errorf("XMM%d = %x, want zero", i, x)
		}
	}
}

func allZero(b []byte) bool {
	for _, v := range b {
		if v != 0 {
			return false
		}
	}
	return true
}

// TestPooledCPUAfterFaultRunsNextThread checks that a vCPU whose thread
// ended in each kind of fault exit serves the next thread correctly.
func TestPooledCPUAfterFaultRunsNextThread(t *testing.T) {
	fxsaveDoorbell := []byte{0x48, 0x0F, 0xAE, 0x03} // fxsave64 (%rbx)
	for name, code := range map[string][][]byte{
		"doorbell load":   {movRBX(doorbellVA), opLoadBX},
		"doorbell store":  {movRBX(doorbellVA), opStoreBX},
		"fxsave doorbell": {movRBX(doorbellVA), fxsaveDoorbell},
		"page fault":      {opStore0},
		"ud2":             {opUD2},
		"rep movsb from doorbell": {
			{0x48, 0xBE}, binary.LittleEndian.AppendUint64(nil, doorbellVA), // movabs $doorbell, %rsi
			{0x48, 0xBF}, binary.LittleEndian.AppendUint64(nil, dataVA), // movabs $data, %rdi
			{0xB9, 0x00, 0x10, 0x00, 0x00}, // mov $4096, %ecx
			{0xF3, 0xA4},                   // rep movsb
		},
	} {
		t.Run(name, func(t *testing.T) {
			g := newGuest(t, code...)
			done := make(chan struct{})
			defer close(done)
			go func() {
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					g.cpu.Interrupt()
				}
			}()
			ex := g.run(t, cpu.ExitFault)
			if sig := ex.Fault.Signal(); sig != cpu.SIGSEGV && sig != cpu.SIGILL {
				t.Fatalf("fault %v gives signal %d", ex.Fault, sig)
			}
			old := g.cpu.(*vcpu)
			g.cpu.Close()
			next := g.newCPU(t, g.newSpace(t, movEAX(0x77), opSyscall))
			if next.(*vcpu) != old {
				t.Fatal("the vCPU was not pooled")
			}
			r := next.Regs()
			r.RBX = 0x1234
			runCPU(t, next, cpu.ExitSyscall)
			if r.RAX != 0x77 || r.RBX != 0x1234 || r.RIP != codeVA+7 {
				t.Fatalf("next thread: RAX %#x RBX %#x RIP %#x, want 0x77, 0x1234, %#x", r.RAX, r.RBX, r.RIP, codeVA+7)
			}
		})
	}
}
