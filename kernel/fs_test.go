package kernel

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/kernel/vfs"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// fsProcess is a test process with a heap of n pages to put paths and
// buffers in.
func fsProcess(t *testing.T, pages uint64) (*Process, uint64) {
	t.Helper()
	p := newTestProcess(t, 16<<20)
	if p.Brk(HeapStart+pages*mmu.PageSize) != HeapStart+pages*mmu.PageSize {
		t.Fatal("no heap")
	}
	return p, HeapStart
}

// str puts a NUL-terminated string at va.
func str(t *testing.T, p *Process, va uint64, s string) uint64 {
	t.Helper()
	if err := p.as.WriteAt(append([]byte(s), 0), va); err != nil {
		t.Fatal(err)
	}
	return va
}

func TestFilePathsFromGuestMemory(t *testing.T) {
	p, heap := fsProcess(t, 3)
	if _, err := p.Open(0, vfs.O_RDONLY); !errors.Is(err, errno.EFAULT) {
		t.Errorf("NULL path: %v", err)
	}
	if _, err := p.Open(0xFFFF_FFFF_0000_0000, vfs.O_RDONLY); !errors.Is(err, errno.EFAULT) {
		t.Errorf("kernel-space path: %v", err)
	}
	// A string running into unmapped memory before its NUL is EFAULT.
	end := heap + 3*mmu.PageSize
	if err := p.as.WriteAt([]byte("/tmp/abc"), end-8); err != nil {
		t.Fatal(err)
	}
	if err := p.Mkdir(end - 8); !errors.Is(err, errno.EFAULT) {
		t.Errorf("unterminated path at the end of memory: %v", err)
	}
	long := "/tmp/" + strings.Repeat("d", vfs.PathMax)
	if err := p.Mkdir(str(t, p, heap, long)); !errors.Is(err, errno.ENAMETOOLONG) {
		t.Errorf("long path: %v", err)
	}
	if err := p.Mkdir(str(t, p, heap, "/tmp/ok")); err != nil {
		t.Fatal(err)
	}
	if err := p.Mkdir(str(t, p, heap, "/tmp/ok")); !errors.Is(err, errno.EEXIST) {
		t.Errorf("mkdir again: %v", err)
	}
	if err := p.Unlink(str(t, p, heap, "/tmp/ok")); !errors.Is(err, errno.EISDIR) {
		t.Errorf("unlink a directory: %v", err)
	}
}

func TestOpenFstatLseekGetdents(t *testing.T) {
	p, heap := fsProcess(t, 2)
	path := str(t, p, heap, "/tmp/file")
	fd, err := p.Open(path, vfs.O_RDWR|vfs.O_CREAT)
	if err != nil || fd != 3 {
		t.Fatalf("open: %d %v", fd, err)
	}
	if err := p.as.WriteAt([]byte("0123456789"), heap+100); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Write(fd, heap+100, 10); n != 10 || err != nil {
		t.Fatalf("write: %d %v", n, err)
	}
	if off, err := p.Lseek(fd, -3, vfs.SeekEnd); off != 7 || err != nil {
		t.Errorf("lseek: %d %v", off, err)
	}
	st := heap + 200
	if err := p.Fstat(fd, st); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, vfs.StatSize)
	p.as.ReadAt(b, st)
	if mode, size := binary.LittleEndian.Uint32(b[8:]), binary.LittleEndian.Uint64(b[16:]); mode != vfs.S_IFREG|0o644 || size != 10 {
		t.Errorf("fstat: mode %o size %d", mode, size)
	}
	if err := p.Stat(path, 0); !errors.Is(err, errno.EFAULT) {
		t.Errorf("stat into NULL: %v", err)
	}
	if err := p.Fstat(fd, 0x400000); !errors.Is(err, errno.EFAULT) {
		t.Errorf("fstat into the read-only text: %v", err)
	}
	if err := p.Fstat(17, st); !errors.Is(err, errno.EBADF) {
		t.Errorf("fstat of a closed fd: %v", err)
	}

	// The console: a character device with an inode number of its own,
	// and no offset.
	if err := p.Fstat(1, st); err != nil {
		t.Fatal(err)
	}
	p.as.ReadAt(b, st)
	ino1, mode := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint32(b[8:])
	p.Fstat(2, st)
	p.as.ReadAt(b, st)
	if mode&vfs.S_IFMT != vfs.S_IFCHR || ino1 == binary.LittleEndian.Uint64(b) {
		t.Errorf("console: mode %o, inodes %x %x", mode, ino1, binary.LittleEndian.Uint64(b))
	}
	if _, err := p.Lseek(1, 0, vfs.SeekSet); !errors.Is(err, errno.ESPIPE) {
		t.Errorf("lseek on the console: %v", err)
	}
	if _, err := p.Getdents(1, heap, 100); !errors.Is(err, errno.ENOTDIR) {
		t.Errorf("getdents on the console: %v", err)
	}

	dir, err := p.Open(str(t, p, heap, "/tmp"), vfs.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Getdents(dir, 0x400000, 100); !errors.Is(err, errno.EFAULT) {
		t.Errorf("getdents into the text: %v", err)
	}
	if _, err := p.Getdents(dir, heap, 10); !errors.Is(err, errno.EINVAL) {
		t.Errorf("getdents into 10 bytes: %v", err)
	}
	n, err := p.Getdents(dir, heap, 4096)
	if err != nil || n != 3*24 { // ".", ".." and "file": 19 bytes of header, the name, a NUL, rounded to 8
		t.Errorf("getdents: %d %v", n, err)
	}

	// A full table is EMFILE, and nothing is created.
	for {
		if _, err := p.Open(str(t, p, heap, "/dev/null"), vfs.O_RDONLY); err != nil {
			if !errors.Is(err, errno.EMFILE) {
				t.Fatal(err)
			}
			break
		}
	}
	if _, err := p.Open(str(t, p, heap, "/tmp/new"), vfs.O_CREAT|vfs.O_RDWR); !errors.Is(err, errno.EMFILE) {
		t.Errorf("open with a full table: %v", err)
	}
	if _, err := p.k.ReadFile("/tmp/new", 100); !errors.Is(err, errno.ENOENT) {
		t.Errorf("open with a full table made the file: %v", err)
	}
}

func TestKernelMountsAndReadFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prog.elf"), []byte("\x7fELF..."), 0o644); err != nil {
		t.Fatal(err)
	}
	k := New(Config{Mounts: []vfs.Mount{{HostDir: dir, Path: "/bin", ReadOnly: true}}, TmpfsSize: 8192})
	if _, err := k.VFS(); err != nil {
		t.Fatal(err)
	}
	data, err := k.ReadFile("/bin/prog.elf", 1<<20)
	if err != nil || string(data) != "\x7fELF..." {
		t.Errorf("ReadFile: %q %v", data, err)
	}
	if _, err := k.ReadFile("/bin/prog.elf", 4); !errors.Is(err, errno.EFBIG) {
		t.Errorf("ReadFile over the limit: %v", err)
	}
	if _, err := k.ReadFile("/bin", 100); !errors.Is(err, errno.EISDIR) {
		t.Errorf("ReadFile of a directory: %v", err)
	}
	if _, err := k.ReadFile("/dev/tty", 100); !errors.Is(err, errno.EACCES) {
		t.Errorf("ReadFile of the console: %v", err)
	}
	fs, _ := k.VFS()
	f, err := fs.Open("/tmp/q", vfs.O_CREAT|vfs.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, err := f.Write(make([]byte, 3*4096), nil); n != 8192 || err != nil {
		t.Errorf("write over an 8 KiB quota: %d %v", n, err)
	}
	bad := New(Config{Mounts: []vfs.Mount{{HostDir: filepath.Join(dir, "none"), Path: "/x"}}})
	if _, err := bad.VFS(); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a missing host directory: %v", err)
	}
}
