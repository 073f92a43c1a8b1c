package kernel

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/aurora-vm/aurora-vm/mmu"
)

// testSeg describes one program header of a synthetic executable.
type testSeg struct {
	typ            elf.ProgType
	flags          elf.ProgFlag
	vaddr          uint64
	data           []byte
	memsz          uint64 // 0: len(data)
	filesz, offset uint64 // 0: derived; set to forge bad headers
}

// testELF holds the fields of a synthetic ELF64 file that tests vary.
type testELF struct {
	class   elf.Class
	data    elf.Data
	typ     elf.Type
	machine elf.Machine
	entry   uint64
	segs    []testSeg
}

// goodELF is a minimal static program: code, then data with bss.
func goodELF() testELF {
	return testELF{
		class: elf.ELFCLASS64, data: elf.ELFDATA2LSB, typ: elf.ET_EXEC, machine: elf.EM_X86_64,
		entry: 0x400000,
		segs: []testSeg{
			{typ: elf.PT_LOAD, flags: elf.PF_R | elf.PF_X, vaddr: 0x400000, data: []byte{0x0F, 0x05, 0xEB, 0xFC}},
			{typ: elf.PT_LOAD, flags: elf.PF_R | elf.PF_W, vaddr: 0x401000, data: []byte("hello"), memsz: 0x2000},
			{typ: elf.PT_GNU_STACK, flags: elf.PF_R | elf.PF_W},
		},
	}
}

// bytes lays the file out as a linker would: ELF header, program headers,
// then each segment's contents.
func (e testELF) bytes() []byte {
	order := binary.ByteOrder(binary.LittleEndian)
	if e.data == elf.ELFDATA2MSB {
		order = binary.BigEndian
	}
	const ehsize, phentsize = 64, 56
	off := uint64(ehsize + phentsize*len(e.segs))
	var progs []elf.Prog64
	var contents bytes.Buffer
	for _, s := range e.segs {
		p := elf.Prog64{
			Type: uint32(s.typ), Flags: uint32(s.flags), Off: off + uint64(contents.Len()),
			Vaddr: s.vaddr, Paddr: s.vaddr, Filesz: uint64(len(s.data)), Memsz: s.memsz, Align: mmu.PageSize,
		}
		if p.Memsz == 0 {
			p.Memsz = p.Filesz
		}
		if s.filesz != 0 {
			p.Filesz = s.filesz
		}
		if s.offset != 0 {
			p.Off = s.offset
		}
		contents.Write(s.data)
		progs = append(progs, p)
	}
	hdr := elf.Header64{
		Type: uint16(e.typ), Machine: uint16(e.machine), Version: uint32(elf.EV_CURRENT),
		Entry: e.entry, Phoff: ehsize, Ehsize: ehsize, Phentsize: phentsize, Phnum: uint16(len(progs)),
		Shentsize: 64,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(e.class)
	hdr.Ident[elf.EI_DATA] = byte(e.data)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var out bytes.Buffer
	binary.Write(&out, order, hdr)
	binary.Write(&out, order, progs)
	out.Write(contents.Bytes())
	return out.Bytes()
}

func TestParseELFAcceptsStaticExecutable(t *testing.T) {
	img, err := ParseELF(goodELF().bytes())
	if err != nil {
		t.Fatal(err)
	}
	if img.Entry != 0x400000 {
		t.Errorf("entry = %#x, want 0x400000", img.Entry)
	}
	if len(img.Segments) != 2 {
		t.Fatalf("got %d segments, want the 2 PT_LOADs: %+v", len(img.Segments), img.Segments)
	}
	code, data := img.Segments[0], img.Segments[1]
	if code.Addr != 0x400000 || code.Perm != mmu.Read|mmu.Exec || !bytes.Equal(code.Data, []byte{0x0F, 0x05, 0xEB, 0xFC}) {
		t.Errorf("code segment = %+v", code)
	}
	if data.Addr != 0x401000 || data.MemSize != 0x2000 || data.Perm != mmu.Read|mmu.Write || string(data.Data) != "hello" {
		t.Errorf("data segment = %+v", data)
	}
}

func TestParseELFRejects(t *testing.T) {
	good := goodELF()
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty file", nil, "not an ELF file"},
		{"shell script", []byte("#!/bin/sh\necho hi\n"), "not an ELF file"},
		{"32-bit", with(good, func(e *testELF) { e.class = elf.ELFCLASS32 }), "32-bit ELF"},
		{"big-endian", with(good, func(e *testELF) { e.data = elf.ELFDATA2MSB }), "big-endian"},
		{"other machine", with(good, func(e *testELF) { e.machine = elf.EM_AARCH64 }), "built for EM_AARCH64, not x86-64"},
		{"PIE", with(good, func(e *testELF) { e.typ = elf.ET_DYN }), "position-independent"},
		{"object file", with(good, func(e *testELF) { e.typ = elf.ET_REL }), "is not an executable"},
		{"dynamically linked", with(good, func(e *testELF) {
			e.segs = append(e.segs, testSeg{typ: elf.PT_INTERP, flags: elf.PF_R, vaddr: 0x403000, data: []byte("/lib/ld.so\x00")})
		}), "dynamically linked"},
		{"truncated headers", good.bytes()[:80], "truncated: the file ends inside its ELF headers"},
		{"truncated segment", with(good, func(e *testELF) { e.segs[1].filesz = 0x1000 }), "truncated: segment at 0x401000"},
		{"file size over memory size", with(good, func(e *testELF) { e.segs[1].memsz = 2 }), "inconsistent sizes"},
		{"segment at page zero", with(good, func(e *testELF) { e.segs[1].vaddr = 0 }), "outside the program area"},
		{"segment into the heap", with(good, func(e *testELF) { e.segs[1].vaddr = HeapStart - 0x1000 }), "outside the program area"},
		{"segment over the stack", with(good, func(e *testELF) { e.segs[1].vaddr = StackTop - 0x1000 }), "outside the program area"},
		{"kernel-half segment", with(good, func(e *testELF) { e.segs[1].vaddr = 0xFFFF_8000_0000_0000 }), "outside the program area"},
		{"wrapping segment", with(good, func(e *testELF) { e.segs[1].memsz = ^uint64(0) - 0x100 }), "inconsistent sizes"},
		{"overlapping segments", with(good, func(e *testELF) { e.segs[1].vaddr = 0x400002 }), "overlap"},
		{"entry outside code", with(good, func(e *testELF) { e.entry = 0x401000 }), "entry point 0x401000 is not in an executable segment"},
		{"no loadable segments", with(good, func(e *testELF) { e.segs = e.segs[2:] }), "no loadable segments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseELF(tt.file)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrBadExecutable) {
				t.Errorf("error %q does not wrap ErrBadExecutable", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans several lines", err)
			}
		})
	}
}

func with(e testELF, change func(*testELF)) []byte {
	e.segs = append([]testSeg(nil), e.segs...)
	change(&e)
	return e.bytes()
}

// newTestPhys reserves size bytes of guest RAM for one test.
func newTestPhys(t testing.TB, size uint64) *mmu.PhysMem {
	t.Helper()
	phys, err := mmu.NewPhysMem(size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phys.Close() })
	return phys
}

func newTestSpace(t testing.TB) *mmu.AddressSpace {
	t.Helper()
	as, err := mmu.NewAddressSpace(newTestPhys(t, 8<<20))
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func TestLoadMapsSegmentsWithTheirPermissions(t *testing.T) {
	img, err := ParseELF(goodELF().bytes())
	if err != nil {
		t.Fatal(err)
	}
	as := newTestSpace(t)
	if err := img.Load(as); err != nil {
		t.Fatal(err)
	}
	code := make([]byte, 4)
	if err := as.ReadAt(code, 0x400000); err != nil || !bytes.Equal(code, []byte{0x0F, 0x05, 0xEB, 0xFC}) {
		t.Errorf("code reads %x, %v", code, err)
	}
	data := make([]byte, 0x2000)
	if err := as.ReadAt(data, 0x401000); err != nil {
		t.Fatal(err)
	}
	if string(data[:5]) != "hello" {
		t.Errorf("data starts %q, want hello", data[:5])
	}
	if i := bytes.IndexFunc(data[5:], func(r rune) bool { return r != 0 }); i >= 0 {
		t.Errorf("bss byte at 0x%x is not zero", 0x401005+i)
	}
	if _, ok := as.Translate(0x400000, true); ok {
		t.Error("code page is writable")
	}
	if _, ok := as.Translate(0x402FFF, true); !ok {
		t.Error("last bss page is not writable")
	}
	if _, ok := as.Translate(0x403000, false); ok {
		t.Error("page past the bss is mapped")
	}
}

func TestBuildStackSystemVLayout(t *testing.T) {
	as := newTestSpace(t)
	argv := []string{"prog", "first arg", ""}
	envp := []string{"HOME=/", "TERM=dumb"}
	sp, err := buildStack(as, argv, envp)
	if err != nil {
		t.Fatal(err)
	}
	if sp%16 != 0 {
		t.Errorf("initial RSP %#x is not 16-byte aligned", sp)
	}
	if sp >= StackTop || sp < StackTop-StackSize {
		t.Fatalf("initial RSP %#x outside the stack", sp)
	}
	word := func(i int) uint64 {
		var b [8]byte
		if err := as.ReadAt(b[:], sp+uint64(8*i)); err != nil {
			t.Fatal(err)
		}
		return binary.LittleEndian.Uint64(b[:])
	}
	str := func(va uint64) string {
		s, err := as.ReadString(va, 256)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if argc := word(0); argc != uint64(len(argv)) {
		t.Fatalf("argc = %d, want %d", argc, len(argv))
	}
	i := 1
	for _, want := range argv {
		if got := str(word(i)); got != want {
			t.Errorf("argv[%d] = %q, want %q", i-1, got, want)
		}
		i++
	}
	if word(i) != 0 {
		t.Errorf("argv is not NULL-terminated")
	}
	i++
	for _, want := range envp {
		if got := str(word(i)); got != want {
			t.Errorf("envp entry = %q, want %q", got, want)
		}
		i++
	}
	if word(i) != 0 {
		t.Errorf("envp is not NULL-terminated")
	}
	if word(i+1) != 0 || word(i+2) != 0 {
		t.Errorf("auxiliary vector does not end in AT_NULL")
	}
	if m, ok := as.Find(StackTop - StackSize); !ok || m.Perm != mmu.Read|mmu.Write {
		t.Errorf("stack mapping = %+v, %v", m, ok)
	}
}

func TestBuildStackRefusesHugeArguments(t *testing.T) {
	as := newTestSpace(t)
	_, err := buildStack(as, []string{"prog", strings.Repeat("x", maxArgData)}, nil)
	if err == nil || !strings.Contains(err.Error(), "the limit is") {
		t.Fatalf("error = %v, want the argument limit", err)
	}
}

func TestReadAllLimited(t *testing.T) {
	if b, err := readAllLimited(strings.NewReader("abc"), 3); err != nil || string(b) != "abc" {
		t.Errorf("at the limit: %q, %v", b, err)
	}
	if _, err := readAllLimited(strings.NewReader("abcd"), 3); !errors.Is(err, ErrBadExecutable) {
		t.Errorf("over the limit: %v", err)
	}
}

// FuzzParseELF feeds damaged executables to the loader: whatever the bytes,
// it must answer with an image or an ErrBadExecutable, never a panic, and
// an accepted image must load.
func FuzzParseELF(f *testing.F) {
	f.Add(goodELF().bytes())
	f.Add(with(goodELF(), func(e *testELF) { e.segs[1].memsz = 0x10_0000 }))
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := ParseELF(data)
		if err != nil {
			if !errors.Is(err, ErrBadExecutable) {
				t.Fatalf("error %q does not wrap ErrBadExecutable", err)
			}
			return
		}
		var size uint64
		for _, s := range img.Segments {
			size += s.MemSize
		}
		if size > 4<<20 {
			return // valid, but more than the test's guest memory
		}
		if err := img.Load(newTestSpace(t)); err != nil {
			t.Fatalf("accepted image does not load: %v", err)
		}
	})
}
