package vfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

func newFS(t *testing.T, cfg Config) *FS {
	t.Helper()
	fs, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

func wantErr(t *testing.T, what string, err error, want errno.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func open(t *testing.T, fs *FS, path string, flags int) File {
	t.Helper()
	f, err := fs.Open(path, flags)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return f
}

func write(t *testing.T, f File, s string) {
	t.Helper()
	if n, err := f.Write([]byte(s), nil); n != len(s) || err != nil {
		t.Fatalf("write %q: %d, %v", s, n, err)
	}
}

func readAll(t *testing.T, f File) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 7) // small, so reads cross pages and chunks
	for {
		n, err := f.Read(buf, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return string(out)
		}
		out = append(out, buf[:n]...)
	}
}

func seek(t *testing.T, f File, off int64, whence int) int64 {
	t.Helper()
	pos, err := f.(Seeker).Seek(off, whence)
	if err != nil {
		t.Fatalf("seek %d %d: %v", off, whence, err)
	}
	return pos
}

func stat(t *testing.T, f File) Stat {
	t.Helper()
	st, err := f.(Stater).Stat()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestReadWriteSeek(t *testing.T) {
	fs := newFS(t, Config{})
	f := open(t, fs, "/tmp/f", O_RDWR|O_CREAT)
	defer f.Close()
	write(t, f, "hello world")
	seek(t, f, 6, SeekSet)
	if got := readAll(t, f); got != "world" {
		t.Errorf("read %q", got)
	}
	if pos := seek(t, f, -5, SeekEnd); pos != 6 {
		t.Errorf("SEEK_END -5 = %d", pos)
	}
	write(t, f, "there")
	seek(t, f, 0, SeekSet)
	if got := readAll(t, f); got != "hello there" {
		t.Errorf("read %q", got)
	}
	if _, err := f.(Seeker).Seek(-100, SeekCur); !errors.Is(err, errno.EINVAL) {
		t.Errorf("negative seek: %v", err)
	}
	if _, err := f.(Seeker).Seek(0, 3); !errors.Is(err, errno.EINVAL) {
		t.Errorf("bad whence: %v", err)
	}
	if _, err := f.(Seeker).Seek(1<<62, SeekSet); err != nil {
		t.Fatal(err)
	}
	if _, err := f.(Seeker).Seek(1<<62, SeekCur); !errors.Is(err, errno.EINVAL) {
		t.Errorf("overflowing seek: %v", err)
	}
	if _, err := f.Write([]byte("x"), nil); !errors.Is(err, errno.EFBIG) {
		t.Errorf("write beyond MaxFileSize: %v", err)
	}

	// Access modes.
	r := open(t, fs, "/tmp/f", O_RDONLY)
	defer r.Close()
	if _, err := r.Write([]byte("x"), nil); !errors.Is(err, errno.EBADF) {
		t.Errorf("write on O_RDONLY: %v", err)
	}
	w := open(t, fs, "/tmp/f", O_WRONLY|O_APPEND)
	defer w.Close()
	if _, err := w.Read(make([]byte, 1), nil); !errors.Is(err, errno.EBADF) {
		t.Errorf("read on O_WRONLY: %v", err)
	}
	seek(t, w, 0, SeekSet)
	write(t, w, "!")
	if got := readAll(t, r); got != "hello there!" {
		t.Errorf("after append %q", got)
	}
	_, err := fs.Open("/tmp/f", O_ACCMODE)
	wantErr(t, "O_ACCMODE", err, errno.EINVAL)

	// O_TRUNC, O_EXCL.
	_, err = fs.Open("/tmp/f", O_CREAT|O_EXCL|O_WRONLY)
	wantErr(t, "O_EXCL on an existing file", err, errno.EEXIST)
	_, err = fs.Open("/tmp", O_CREAT|O_EXCL|O_RDONLY)
	wantErr(t, "O_EXCL on a directory", err, errno.EEXIST)
	tr := open(t, fs, "/tmp/f", O_WRONLY|O_TRUNC)
	tr.Close()
	if st := stat(t, r); st.Size != 0 || st.Mode != S_IFREG|0o644 || st.Nlink != 1 {
		t.Errorf("after O_TRUNC: %+v", st)
	}
}

func TestPaths(t *testing.T) {
	fs := newFS(t, Config{})
	if err := fs.Mkdir("/tmp/a"); err != nil {
		t.Fatal(err)
	}
	open(t, fs, "/tmp/a/file", O_CREAT|O_WRONLY).Close()
	for _, c := range []struct {
		path string
		err  errno.Errno // 0: it exists
	}{
		{"/tmp/a/file", 0},
		{"tmp/a/file", 0}, // relative: from /
		{"//tmp///a/./file", 0},
		{"/../../tmp/a/file", 0},
		{"/tmp/a/../a/file", 0},
		{"/tmp/a/", 0},
		{"/tmp/a/.", 0},
		{"/", 0},
		{".", 0},
		{"/tmp/a/file/", errno.ENOTDIR},
		{"/tmp/a/file/.", errno.ENOTDIR},
		{"/tmp/a/file/..", errno.ENOTDIR},
		{"/tmp/a/file/x", errno.ENOTDIR},
		{"/tmp/a/missing", errno.ENOENT},
		{"/tmp/missing/file", errno.ENOENT},
		{"", errno.ENOENT},
		{"/" + strings.Repeat("a", NameMax+1), errno.ENAMETOOLONG},
		{"/" + strings.Repeat("a/", PathMax/2), errno.ENAMETOOLONG},
	} {
		_, err := fs.Stat(c.path)
		if c.err == 0 && err != nil || c.err != 0 && !errors.Is(err, c.err) {
			t.Errorf("stat %.40q: %v, want %v", c.path, err, c.err)
		}
	}
	// The longest path allowed: PathMax-1 bytes.
	long := "/tmp/" + strings.Repeat("x/", (PathMax-6)/2)
	long = long[:PathMax-1]
	if _, err := fs.Stat(long); errors.Is(err, errno.ENAMETOOLONG) {
		t.Errorf("a %d-byte path: %v", len(long), err)
	}

	wantErr(t, "mkdir existing", fs.Mkdir("/tmp/a"), errno.EEXIST)
	wantErr(t, "mkdir /", fs.Mkdir("/"), errno.EEXIST)
	wantErr(t, "mkdir in missing", fs.Mkdir("/tmp/x/y"), errno.ENOENT)
	wantErr(t, "unlink a directory", fs.Unlink("/tmp/a"), errno.EISDIR)
	wantErr(t, "unlink /", fs.Unlink("/"), errno.EISDIR)
	wantErr(t, "unlink missing", fs.Unlink("/tmp/a/nothing"), errno.ENOENT)
	wantErr(t, "unlink file/", fs.Unlink("/tmp/a/file/"), errno.ENOTDIR)
	_, err := fs.Open("/tmp/a", O_WRONLY)
	wantErr(t, "open a directory for writing", err, errno.EISDIR)
	_, err = fs.Open("/tmp/a", O_RDONLY|O_CREAT)
	wantErr(t, "O_CREAT on a directory", err, errno.EISDIR)
	_, err = fs.Open("/tmp/new/", O_RDWR|O_CREAT)
	wantErr(t, "O_CREAT with a trailing slash", err, errno.EISDIR)
	_, err = fs.Open("/tmp/a/nothing", O_RDONLY)
	wantErr(t, "open missing", err, errno.ENOENT)
	d := open(t, fs, "/tmp/a", O_RDONLY)
	defer d.Close()
	_, err = d.Read(make([]byte, 10), nil)
	wantErr(t, "read a directory", err, errno.EISDIR)
}

func TestQuota(t *testing.T) {
	fs := newFS(t, Config{Quota: 3 * pageSize})
	f := open(t, fs, "/tmp/big", O_RDWR|O_CREAT)
	n, err := f.Write(make([]byte, 5*pageSize), nil)
	if n != 3*pageSize || err != nil {
		t.Fatalf("write over the quota: %d, %v; want a short write of 3 pages", n, err)
	}
	n, err = f.Write([]byte("x"), nil)
	if n != 0 || !errors.Is(err, errno.ENOSPC) {
		t.Fatalf("write when full: %d, %v", n, err)
	}
	_, err = fs.Open("/tmp/other", O_CREAT|O_WRONLY) // an empty file costs nothing
	if err != nil {
		t.Fatal(err)
	}
	// Rewriting stored pages needs no more space.
	seek(t, f, 0, SeekSet)
	write(t, f, strings.Repeat("y", 2*pageSize))
	if fs.Used() != 3*pageSize {
		t.Errorf("used %d", fs.Used())
	}
	// Unlinked but open: still held.
	if err := fs.Unlink("/tmp/big"); err != nil {
		t.Fatal(err)
	}
	if fs.Used() != 3*pageSize {
		t.Errorf("used %d after unlink with the file open", fs.Used())
	}
	f.Close()
	if fs.Used() != 0 {
		t.Errorf("used %d after the last close", fs.Used())
	}
	// O_TRUNC gives the space back too.
	g := open(t, fs, "/tmp/g", O_RDWR|O_CREAT)
	write(t, g, strings.Repeat("z", 3*pageSize))
	open(t, fs, "/tmp/g", O_WRONLY|O_TRUNC).Close()
	if fs.Used() != 0 {
		t.Errorf("used %d after O_TRUNC", fs.Used())
	}
	g.Close()
}

func TestUnlinkWhileOpen(t *testing.T) {
	fs := newFS(t, Config{})
	f := open(t, fs, "/tmp/f", O_RDWR|O_CREAT)
	defer f.Close()
	write(t, f, "before")
	if err := fs.Unlink("/tmp/f"); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat("/tmp/f"); !errors.Is(err, errno.ENOENT) {
		t.Errorf("stat after unlink: %v", err)
	}
	write(t, f, " after")
	seek(t, f, 0, SeekSet)
	if got := readAll(t, f); got != "before after" {
		t.Errorf("read %q", got)
	}
	if st := stat(t, f); st.Nlink != 0 || st.Size != 12 {
		t.Errorf("fstat after unlink: %+v", st)
	}
	// A new file of the same name is another file.
	g := open(t, fs, "/tmp/f", O_RDWR|O_CREAT)
	defer g.Close()
	if got := readAll(t, g); got != "" {
		t.Errorf("new file holds %q", got)
	}
	if stat(t, g).Ino == stat(t, f).Ino {
		t.Error("same inode number for two files")
	}
}

func TestHoles(t *testing.T) {
	fs := newFS(t, Config{Quota: 4 * pageSize})
	f := open(t, fs, "/tmp/sparse", O_RDWR|O_CREAT)
	defer f.Close()
	seek(t, f, 1<<40, SeekSet)
	write(t, f, "end")
	if st := stat(t, f); st.Size != 1<<40+3 {
		t.Errorf("size %d", st.Size)
	}
	if fs.Used() != pageSize {
		t.Errorf("a hole of 1 TiB costs %d bytes", fs.Used())
	}
	seek(t, f, 1<<40-pageSize-5, SeekSet)
	buf := make([]byte, pageSize+10)
	for i := range buf {
		buf[i] = 0xAA
	}
	n, err := f.Read(buf, nil)
	if n != pageSize+8 || err != nil {
		t.Fatalf("read %d, %v", n, err)
	}
	want := append(make([]byte, pageSize+5), "end"...)
	if !bytes.Equal(buf[:n], want) {
		t.Error("the hole does not read as zeros")
	}
}

func TestManySmallWrites(t *testing.T) {
	fs := newFS(t, Config{Quota: 16 << 20})
	f := open(t, fs, "/tmp/big", O_RDWR|O_CREAT)
	defer f.Close()
	h := sha256.New()
	chunk := make([]byte, 1000)
	const size = 10 << 20
	for written := 0; written < size; {
		for i := range chunk {
			chunk[i] = byte(written + i*7)
		}
		c := chunk[:min(len(chunk), size-written)]
		write(t, f, string(c))
		h.Write(c)
		written += len(c)
	}
	seek(t, f, 0, SeekSet)
	g := sha256.New()
	buf := make([]byte, 4096+13)
	total := 0
	for {
		n, err := f.Read(buf, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		g.Write(buf[:n])
		total += n
	}
	if total != size || !bytes.Equal(h.Sum(nil), g.Sum(nil)) {
		t.Errorf("read back %d bytes, digest differs: %v", total, !bytes.Equal(h.Sum(nil), g.Sum(nil)))
	}
	if fs.Used() != size {
		t.Errorf("used %d for a %d-byte file", fs.Used(), size)
	}
}

// dirents decodes getdents records.
func dirents(t *testing.T, b []byte) []Dirent {
	t.Helper()
	var out []Dirent
	for len(b) > 0 {
		reclen := int(binary.LittleEndian.Uint16(b[16:]))
		if reclen%8 != 0 || reclen > len(b) || reclen < direntHeader+1 {
			t.Fatalf("bad d_reclen %d", reclen)
		}
		name := b[direntHeader:reclen]
		name = name[:bytes.IndexByte(name, 0)]
		out = append(out, Dirent{Ino: binary.LittleEndian.Uint64(b), Type: b[18], Name: string(name)})
		b = b[reclen:]
	}
	return out
}

func TestGetdents(t *testing.T) {
	fs := newFS(t, Config{})
	fs.Mkdir("/tmp/d")
	fs.Mkdir("/tmp/d/sub")
	var want []string
	for i := range 50 {
		name := strings.Repeat("n", i%20+1) + string(rune('a'+i%26)) + string(rune('0'+i/26))
		open(t, fs, "/tmp/d/"+name, O_CREAT|O_WRONLY).Close()
		want = append(want, name)
	}
	d := open(t, fs, "/tmp/d", O_RDONLY)
	defer d.Close()
	dr := d.(DirReader)
	if _, err := dr.Getdents(make([]byte, 8)); !errors.Is(err, errno.EINVAL) {
		t.Errorf("a buffer too small: %v", err)
	}
	var got []Dirent
	buf := make([]byte, 100)
	for {
		n, err := dr.Getdents(buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		got = append(got, dirents(t, buf[:n])...)
	}
	if len(got) != len(want)+3 || got[0].Name != "." || got[1].Name != ".." {
		t.Fatalf("%d entries, first %+v", len(got), got[:2])
	}
	st, _ := fs.Stat("/tmp/d")
	tmp, _ := fs.Stat("/tmp")
	if got[0].Ino != st.Ino || got[1].Ino != tmp.Ino || got[0].Type != DT_DIR {
		t.Errorf(". and ..: %+v %+v", got[0], got[1])
	}
	names := map[string]uint8{}
	for _, e := range got[2:] {
		names[e.Name] = e.Type
	}
	for _, w := range want {
		if names[w] != DT_REG {
			t.Errorf("%s: type %d", w, names[w])
		}
	}
	if names["sub"] != DT_DIR {
		t.Errorf("sub: type %d", names["sub"])
	}
	// Rewinding lists afresh.
	fs.Unlink("/tmp/d/" + want[0])
	all := make([]byte, 1<<16)
	seek(t, d, 0, SeekSet)
	n, _ := dr.Getdents(all)
	if len(dirents(t, all[:n])) != len(want)+2 {
		t.Errorf("after unlink and rewind: %d entries", len(dirents(t, all[:n])))
	}
	// Resuming at a d_off.
	seek(t, d, 2, SeekSet)
	n, _ = dr.Getdents(all)
	if e := dirents(t, all[:n]); e[0].Name == "." || e[0].Name == ".." {
		t.Errorf("at offset 2: %q", e[0].Name)
	}
	wantErr(t, "write a directory", func() error { _, err := d.Write([]byte("x"), nil); return err }(), errno.EBADF)
}

func TestDevices(t *testing.T) {
	var opened int
	fs := newFS(t, Config{Devices: map[string]Device{"tty": func(flags int) (File, error) {
		opened = flags
		return &devFile{read: func(b []byte) int { return copy(b, "typed") }, readable: true}, nil
	}}})
	null := open(t, fs, "/dev/null", O_RDWR)
	if n, err := null.Read(make([]byte, 5), nil); n != 0 || err != nil {
		t.Errorf("read /dev/null: %d %v", n, err)
	}
	write(t, null, "discarded")
	zero := open(t, fs, "/dev/zero", O_RDONLY)
	buf := []byte("xxxx")
	if n, _ := zero.Read(buf, nil); n != 4 || string(buf) != "\x00\x00\x00\x00" {
		t.Errorf("read /dev/zero: %q", buf)
	}
	if _, err := zero.Write(buf, nil); !errors.Is(err, errno.EBADF) {
		t.Errorf("write /dev/zero O_RDONLY: %v", err)
	}
	rnd := open(t, fs, "/dev/urandom", O_RDONLY)
	a, b := make([]byte, 16), make([]byte, 16)
	rnd.Read(a, nil)
	rnd.Read(b, nil)
	if bytes.Equal(a, b) {
		t.Error("urandom repeats itself")
	}
	tty := open(t, fs, "/dev/tty", O_RDONLY)
	buf = make([]byte, 10)
	if n, _ := tty.Read(buf, nil); string(buf[:n]) != "typed" || opened != O_RDONLY {
		t.Errorf("tty: %q flags %d", buf[:n], opened)
	}
	st, err := fs.Stat("/dev/null")
	if err != nil || st.Mode&S_IFMT != S_IFCHR || stat(t, null).Ino != st.Ino {
		t.Errorf("stat /dev/null %+v %v, fstat %+v", st, err, stat(t, null))
	}
	if _, err := fs.ReadFile("/dev/null", 100); !errors.Is(err, errno.EACCES) {
		t.Errorf("ReadFile /dev/null: %v", err)
	}
}

func TestReadFile(t *testing.T) {
	fs := newFS(t, Config{})
	f := open(t, fs, "/tmp/prog", O_CREAT|O_WRONLY)
	write(t, f, strings.Repeat("elf", 50000))
	f.Close()
	data, err := fs.ReadFile("/tmp/prog", 1<<20)
	if err != nil || string(data) != strings.Repeat("elf", 50000) {
		t.Errorf("ReadFile: %d bytes, %v", len(data), err)
	}
	_, err = fs.ReadFile("/tmp/prog", 1000)
	wantErr(t, "ReadFile over the limit", err, errno.EFBIG)
	_, err = fs.ReadFile("/tmp", 1000)
	wantErr(t, "ReadFile of a directory", err, errno.EISDIR)
	_, err = fs.ReadFile("/tmp/none", 1000)
	wantErr(t, "ReadFile of nothing", err, errno.ENOENT)
}

// TestConcurrent appends through several descriptions while others create,
// list and unlink around them; run with -race.
func TestConcurrent(t *testing.T) {
	fs := newFS(t, Config{Quota: 1 << 20})
	open(t, fs, "/tmp/log", O_CREAT|O_WRONLY).Close()
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			f, err := fs.Open("/tmp/log", O_WRONLY|O_APPEND)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			name := "/tmp/f" + string(rune('0'+g))
			for range 200 {
				f.Write([]byte("0123456789"), nil)
				if h, err := fs.Open(name, O_CREAT|O_RDWR); err == nil {
					h.Write([]byte("x"), nil)
					fs.Unlink(name)
					h.Close()
				}
				if d, err := fs.Open("/tmp", O_RDONLY); err == nil {
					d.(DirReader).Getdents(make([]byte, 1024))
					d.Close()
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	st, err := fs.Stat("/tmp/log")
	if err != nil || st.Size != 4*200*10 {
		t.Errorf("log: %+v %v", st, err)
	}
	if fs.Used() != pageSize*((st.Size+pageSize-1)/pageSize) {
		t.Errorf("used %d: unlinked files leaked", fs.Used())
	}
}
