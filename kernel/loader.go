package kernel

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/aurora-vm/aurora-vm/mmu"
)

// Aurora's process memory layout.
const (
	ImageBase  = 0x0040_0000   // where programs are linked
	HeapStart  = 0x1000_0000   // first brk address
	MmapStart  = 0x4000_0000   // mmap region
	MmapEnd    = 0x7FFF_0000   //
	StackTop   = 0x7_FFFF_F000 // initial stack pointer lies below
	StackSize  = 1 << 20       // mapped up front
	maxArgData = 128 << 10     // argv and envp strings together
)

// ErrBadExecutable wraps every reason a file cannot run.
var ErrBadExecutable = errors.New("not a runnable Aurora program")

// Image is a validated static ELF64 executable.
type Image struct {
	Entry    uint64
	Segments []Segment
}

// Segment is one PT_LOAD segment.
type Segment struct {
	Addr    uint64 // virtual address
	MemSize uint64
	Data    []byte // file contents; the rest up to MemSize is zero (bss)
	Perm    mmu.Perm
}

// ParseELF checks that data is a static ELF64 x86-64 executable whose
// segments fit Aurora's layout, and returns its loadable parts.
func ParseELF(data []byte) (*Image, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadExecutable, fmt.Sprintf(format, args...))
	}
	if len(data) < 4 || !bytes.Equal(data[:4], []byte(elf.ELFMAG)) {
		return nil, bad("not an ELF file")
	}
	if len(data) < 5 || elf.Class(data[elf.EI_CLASS]) != elf.ELFCLASS64 {
		return nil, bad("32-bit ELF; Aurora runs 64-bit programs")
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, bad("truncated: the file ends inside its ELF headers")
	}
	if err != nil {
		return nil, bad("malformed ELF: %v", err)
	}
	if f.Data != elf.ELFDATA2LSB {
		return nil, bad("big-endian ELF")
	}
	if f.Machine != elf.EM_X86_64 {
		return nil, bad("built for %v, not x86-64", f.Machine)
	}
	switch f.Type {
	case elf.ET_EXEC:
	case elf.ET_DYN:
		return nil, bad("position-independent or shared object; link with -static -no-pie (use aurora-cc)")
	default:
		return nil, bad("ELF type %v is not an executable", f.Type)
	}
	img := &Image{Entry: f.Entry}
	entryMapped := false
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP, elf.PT_DYNAMIC:
			return nil, bad("dynamically linked; Aurora runs static programs (use aurora-cc)")
		case elf.PT_LOAD:
		default:
			continue
		}
		if p.Memsz == 0 {
			continue
		}
		end := p.Vaddr + p.Memsz
		if p.Filesz > p.Memsz || end < p.Vaddr {
			return nil, bad("segment at 0x%x has inconsistent sizes", p.Vaddr)
		}
		if p.Vaddr < mmu.UserStart || end > HeapStart {
			return nil, bad("segment [0x%x, 0x%x) lies outside the program area [0x%x, 0x%x)",
				p.Vaddr, end, mmu.UserStart, HeapStart)
		}
		if p.Off+p.Filesz > uint64(len(data)) || p.Off+p.Filesz < p.Off {
			return nil, bad("truncated: segment at 0x%x needs %d bytes past the end of the file",
				p.Vaddr, p.Off+p.Filesz-uint64(len(data)))
		}
		seg := Segment{Addr: p.Vaddr, MemSize: p.Memsz, Data: data[p.Off : p.Off+p.Filesz]}
		if p.Flags&elf.PF_R != 0 {
			seg.Perm |= mmu.Read
		}
		if p.Flags&elf.PF_W != 0 {
			seg.Perm |= mmu.Read | mmu.Write
		}
		if p.Flags&elf.PF_X != 0 {
			seg.Perm |= mmu.Read | mmu.Exec
		}
		for _, o := range img.Segments {
			if seg.Addr < o.Addr+o.MemSize && o.Addr < end {
				return nil, bad("segments at 0x%x and 0x%x overlap", o.Addr, seg.Addr)
			}
		}
		if f.Entry >= seg.Addr && f.Entry < end && seg.Perm&mmu.Exec != 0 {
			entryMapped = true
		}
		img.Segments = append(img.Segments, seg)
	}
	if len(img.Segments) == 0 {
		return nil, bad("no loadable segments")
	}
	if !entryMapped {
		return nil, bad("entry point 0x%x is not in an executable segment", f.Entry)
	}
	return img, nil
}

// Load maps the image into as. Segments sharing a page (as linkers lay them
// out) share its frame, with the union of their permissions.
func (img *Image) Load(as *mmu.AddressSpace) error {
	pages := map[uint64]mmu.Perm{}
	for _, s := range img.Segments {
		for va := mmu.PageAlignDown(s.Addr); va < s.Addr+s.MemSize; va += mmu.PageSize {
			pages[va] |= s.Perm
		}
	}
	// One Map per run of pages with the same permissions, so that a large
	// bss gets large pages.
	vas := slices.Sorted(maps.Keys(pages))
	for i := 0; i < len(vas); {
		j := i + 1
		for j < len(vas) && vas[j] == vas[j-1]+mmu.PageSize && pages[vas[j]] == pages[vas[i]] {
			j++
		}
		if err := as.Map(vas[i], uint64(j-i)*mmu.PageSize, pages[vas[i]], "image"); err != nil {
			return err
		}
		i = j
	}
	for _, s := range img.Segments {
		if err := as.LoadAt(s.Data, s.Addr); err != nil {
			return err
		}
	}
	return nil
}

// buildStack maps the initial stack and writes argc, argv and envp in the
// System V layout, ending with an empty auxiliary vector. It returns the
// initial stack pointer.
func buildStack(as *mmu.AddressSpace, argv, envp []string) (uint64, error) {
	if err := as.Map(StackTop-StackSize, StackSize, mmu.Read|mmu.Write, "stack"); err != nil {
		return 0, err
	}
	size := 0
	for _, s := range append(append([]string(nil), argv...), envp...) {
		size += len(s) + 1
	}
	if size > maxArgData {
		return 0, fmt.Errorf("arguments and environment take %d bytes; the limit is %d", size, maxArgData)
	}
	// Strings at the top, then the pointer vectors below, 16-byte aligned
	// so that RSP at entry is too.
	strs := StackTop - uint64(size)
	var strBlob bytes.Buffer
	ptrs := func(list []string) []uint64 {
		var out []uint64
		for _, s := range list {
			out = append(out, strs+uint64(strBlob.Len()))
			strBlob.WriteString(s)
			strBlob.WriteByte(0)
		}
		return append(out, 0)
	}
	words := []uint64{uint64(len(argv))}
	words = append(words, ptrs(argv)...)
	words = append(words, ptrs(envp)...)
	words = append(words, 0, 0) // AT_NULL
	sp := (strs - uint64(8*len(words))) &^ 15
	var vec bytes.Buffer
	for _, w := range words {
		binary.Write(&vec, binary.LittleEndian, w)
	}
	if err := as.WriteAt(strBlob.Bytes(), strs); err != nil {
		return 0, err
	}
	if err := as.WriteAt(vec.Bytes(), sp); err != nil {
		return 0, err
	}
	return sp, nil
}

// readAllLimited reads a program file, refusing absurd sizes.
func readAllLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: larger than %d MiB", ErrBadExecutable, limit>>20)
	}
	return data, nil
}
