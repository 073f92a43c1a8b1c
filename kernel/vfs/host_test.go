package vfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

// hostTree makes, in a temporary directory, a directory to mount ("in")
// and beside it one the guest must never reach ("out"), with symbolic
// links inside "in" that lead out in every way.
func hostTree(t *testing.T) (in, out string) {
	t.Helper()
	base := t.TempDir()
	in, out = filepath.Join(base, "in"), filepath.Join(base, "out")
	for _, d := range []string{in, out, filepath.Join(in, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(in, "hello.txt"):   "hello from the host\n",
		filepath.Join(in, "sub", "deep"): "deep\n",
		filepath.Join(out, "secret"):     "SECRET\n",
		filepath.Join(base, "secret"):    "SECRET\n",
	}
	for p, data := range files {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"abs":      filepath.Join(out, "secret"), // absolute, pointing out
		"absdir":   out,
		"rel":      "../out/secret", // relative, climbing out
		"reldir":   "../out",
		"root":     "/",            // the host's root
		"inside":   "sub/deep",     // stays inside: fine
		"sub/up":   "../hello.txt", // climbs, but stays inside
		"sub/loop": "loop",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(in, name)); err != nil {
			t.Fatal(err)
		}
	}
	return in, out
}

func TestHostConfinement(t *testing.T) {
	in, _ := hostTree(t)
	fs := newFS(t, Config{Mounts: []Mount{{HostDir: in, Path: "/mnt"}}})
	for _, c := range []struct {
		path string
		want string      // contents when it opens
		err  errno.Errno // otherwise
	}{
		{"/mnt/hello.txt", "hello from the host\n", 0},
		{"/mnt/inside", "deep\n", 0},
		{"/mnt/sub/up", "hello from the host\n", 0},
		{"/mnt/sub/../hello.txt", "hello from the host\n", 0},
		{"/mnt/../hello.txt", "hello from the host\n", 0}, // /mnt/.. is /mnt
		{"/mnt/../../secret", "", errno.ENOENT},
		{"/mnt/sub/../../secret", "", errno.ENOENT},
		{"/mnt/sub/../../../out/secret", "", errno.ENOENT},
		{"/mnt/abs", "", errno.EACCES},
		{"/mnt/absdir/secret", "", errno.EACCES},
		{"/mnt/rel", "", errno.EACCES},
		{"/mnt/reldir/secret", "", errno.EACCES},
		{"/mnt/root/etc/passwd", "", errno.EACCES},
		{"/mnt/sub/loop", "", errno.ELOOP},
		{"/mnt/hello.txt/", "", errno.ENOTDIR},
		{"/mnt/missing", "", errno.ENOENT},
	} {
		f, err := fs.Open(c.path, O_RDONLY)
		if c.err != 0 {
			if !errors.Is(err, c.err) {
				t.Errorf("open %s: %v, want %v", c.path, err, c.err)
			}
			if f != nil {
				f.Close()
			}
			if _, err := fs.Stat(c.path); err == nil {
				t.Errorf("stat %s succeeds", c.path)
			}
			continue
		}
		if err != nil {
			t.Errorf("open %s: %v", c.path, err)
			continue
		}
		if got := readAll(t, f); got != c.want {
			t.Errorf("%s holds %q, want %q", c.path, got, c.want)
		}
		f.Close()
	}
	// ".." at the mount's root stays inside the mount.
	a, err1 := fs.Stat("/mnt/../../..")
	b, err2 := fs.Stat("/mnt")
	if err1 != nil || err2 != nil || a != b {
		t.Errorf("/mnt/../../..: %+v %v, /mnt %+v %v", a, err1, b, err2)
	}
	a, err1 = fs.Stat("/mnt/sub/../../../hello.txt")
	if err1 != nil || a.Size != int64(len("hello from the host\n")) {
		t.Errorf("/mnt/sub/../../../hello.txt: %+v %v", a, err1)
	}
	// Nothing is made or removed outside through links.
	wantErr(t, "mkdir through a link out", fs.Mkdir("/mnt/absdir/new"), errno.EACCES)
	wantErr(t, "unlink through a link out", fs.Unlink("/mnt/reldir/secret"), errno.EACCES)
	_, err := fs.Open("/mnt/absdir/created", O_CREAT|O_WRONLY)
	wantErr(t, "create through a link out", err, errno.EACCES)
}

func TestHostReadWrite(t *testing.T) {
	in, out := hostTree(t)
	fs := newFS(t, Config{Mounts: []Mount{{HostDir: in, Path: "/data/here"}}})
	if st, err := fs.Stat("/data"); err != nil || !st.IsDir() {
		t.Fatalf("the mount point was not made: %+v %v", st, err)
	}
	f := open(t, fs, "/data/here/new.txt", O_RDWR|O_CREAT|O_EXCL)
	write(t, f, "written by the guest")
	seek(t, f, 8, SeekSet)
	if got := readAll(t, f); got != "by the guest" {
		t.Errorf("read back %q", got)
	}
	if st := stat(t, f); !st.IsRegular() || st.Size != 20 || st.Nlink != 1 {
		t.Errorf("fstat %+v", st)
	}
	f.Close()
	if data, _ := os.ReadFile(filepath.Join(in, "new.txt")); string(data) != "written by the guest" {
		t.Errorf("on the host: %q", data)
	}
	_, err := fs.Open("/data/here/new.txt", O_CREAT|O_EXCL|O_WRONLY)
	wantErr(t, "O_EXCL", err, errno.EEXIST)
	a := open(t, fs, "/data/here/new.txt", O_WRONLY|O_APPEND)
	write(t, a, "!")
	a.Close()
	open(t, fs, "/data/here/hello.txt", O_WRONLY|O_TRUNC).Close()
	if data, _ := os.ReadFile(filepath.Join(in, "hello.txt")); len(data) != 0 {
		t.Errorf("O_TRUNC left %q", data)
	}

	if err := fs.Mkdir("/data/here/dir"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "mkdir again", fs.Mkdir("/data/here/dir"), errno.EEXIST)
	wantErr(t, "mkdir the mount point", fs.Mkdir("/data/here"), errno.EEXIST)
	wantErr(t, "unlink a directory", fs.Unlink("/data/here/dir"), errno.EISDIR)
	wantErr(t, "unlink the mount point", fs.Unlink("/data/here"), errno.EISDIR)
	_, err = fs.Open("/data/here/dir", O_WRONLY)
	wantErr(t, "open a directory for writing", err, errno.EISDIR)

	d := open(t, fs, "/data/here", O_RDONLY)
	buf := make([]byte, 4096)
	n, err := d.(DirReader).Getdents(buf)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	types := map[string]uint8{}
	for _, e := range dirents(t, buf[:n]) {
		names = append(names, e.Name)
		types[e.Name] = e.Type
	}
	want := ". .. abs absdir dir hello.txt inside new.txt rel reldir root sub"
	if strings.Join(names, " ") != want {
		t.Errorf("listing %q, want %q", strings.Join(names, " "), want)
	}
	if types["dir"] != DT_DIR || types["abs"] != DT_LNK || types["new.txt"] != DT_REG {
		t.Errorf("types %v", types)
	}
	if n, _ := d.(DirReader).Getdents(buf); n != 0 {
		t.Errorf("getdents at the end: %d", n)
	}
	d.Close()

	if err := fs.Unlink("/data/here/new.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(in, "new.txt")); !os.IsNotExist(err) {
		t.Errorf("unlink left the host file: %v", err)
	}
	// Unlinking a link removes the link, never its target.
	if err := fs.Unlink("/data/here/abs"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "secret")); err != nil {
		t.Errorf("the link's target is gone: %v", err)
	}

	// Host FIFOs are refused rather than opened (an open would block).
	if err := syscall.Mkfifo(filepath.Join(in, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = fs.Open("/data/here/fifo", O_RDONLY)
	wantErr(t, "open a host FIFO", err, errno.EACCES)
	if st, err := fs.Stat("/data/here/fifo"); err != nil || st.Mode&S_IFMT != S_IFIFO {
		t.Errorf("stat a host FIFO: %+v %v", st, err)
	}
	if data, err := fs.ReadFile("/data/here/sub/deep", 100); err != nil || string(data) != "deep\n" {
		t.Errorf("ReadFile through the mount: %q %v", data, err)
	}
}

func TestHostReadOnly(t *testing.T) {
	in, _ := hostTree(t)
	fs := newFS(t, Config{Mounts: []Mount{{HostDir: in, Path: "/ro", ReadOnly: true}}})
	f := open(t, fs, "/ro/hello.txt", O_RDONLY)
	if got := readAll(t, f); got != "hello from the host\n" {
		t.Errorf("read %q", got)
	}
	f.Close()
	for _, flags := range []int{O_WRONLY, O_RDWR, O_RDONLY | O_CREAT, O_RDONLY | O_TRUNC, O_WRONLY | O_APPEND} {
		_, err := fs.Open("/ro/hello.txt", flags)
		wantErr(t, "open for writing", err, errno.EROFS)
	}
	_, err := fs.Open("/ro/new", O_CREAT|O_WRONLY)
	wantErr(t, "create", err, errno.EROFS)
	_, err = fs.Open("/ro/none", O_WRONLY)
	wantErr(t, "open a missing file for writing", err, errno.ENOENT)
	_, err = fs.Open("/ro/sub", O_RDWR)
	wantErr(t, "open a directory for writing", err, errno.EISDIR)
	wantErr(t, "mkdir", fs.Mkdir("/ro/newdir"), errno.EROFS)
	wantErr(t, "mkdir existing", fs.Mkdir("/ro/sub"), errno.EEXIST)
	wantErr(t, "unlink", fs.Unlink("/ro/hello.txt"), errno.EROFS)
	wantErr(t, "unlink missing", fs.Unlink("/ro/none"), errno.ENOENT)
	if _, err := os.Stat(filepath.Join(in, "hello.txt")); err != nil {
		t.Error(err)
	}
	// The tmpfs around the mount is still writable.
	open(t, fs, "/tmp/ok", O_CREAT|O_WRONLY).Close()
}

// TestHostSwapRace swaps a directory of the mount for a symbolic link to
// the outside and back, as fast as it can, while the guest side opens,
// creates, lists and removes files under it: nothing outside may be read,
// made or removed.
func TestHostSwapRace(t *testing.T) {
	in, out := hostTree(t)
	if err := os.WriteFile(filepath.Join(in, "sub", "secret"), []byte("inside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"victim", "victim2"} {
		if err := os.WriteFile(filepath.Join(out, name), []byte("keep\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs := newFS(t, Config{Mounts: []Mount{{HostDir: in, Path: "/mnt"}}})

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sub, real := filepath.Join(in, "sub"), filepath.Join(in, "sub.real")
		for {
			select {
			case <-stop:
				return
			default:
			}
			os.Rename(sub, real)
			os.Symlink(out, sub)
			time.Sleep(time.Microsecond)
			os.Remove(sub)
			os.Rename(real, sub)
		}
	}()
	deadline := time.Now().Add(time.Second)
	opened := 0
	for i := 0; time.Now().Before(deadline) || opened == 0; i++ {
		if f, err := fs.Open("/mnt/sub/secret", O_RDONLY); err == nil {
			if got := readAll(t, f); got != "inside\n" {
				t.Fatalf("read %q through a swapped directory", got)
			}
			f.Close()
			opened++
		}
		if f, err := fs.Open("/mnt/sub/made", O_CREAT|O_WRONLY); err == nil {
			f.Close()
		}
		fs.Unlink("/mnt/sub/victim")
		fs.Unlink("/mnt/sub/victim2/")
		fs.Mkdir("/mnt/sub/newdir")
		fs.Stat("/mnt/sub/secret")
		if d, err := fs.Open("/mnt/sub", O_RDONLY); err == nil {
			buf := make([]byte, 4096)
			n, _ := d.(DirReader).Getdents(buf)
			for _, e := range dirents(t, buf[:n]) {
				if e.Name == "victim" || e.Name == "victim2" {
					t.Fatalf("listed the outside directory")
				}
			}
			d.Close()
		}
	}
	close(stop)
	wg.Wait()
	for _, name := range []string{"victim", "victim2"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("%s outside was removed: %v", name, err)
		}
	}
	for _, name := range []string{"made", "newdir"} {
		if _, err := os.Lstat(filepath.Join(out, name)); err == nil {
			t.Errorf("%s was made outside", name)
		}
	}
	t.Logf("%d opens succeeded", opened)
}

func TestMountErrors(t *testing.T) {
	in, _ := hostTree(t)
	file := filepath.Join(in, "hello.txt")
	for _, c := range []struct {
		mounts []Mount
		want   string
	}{
		{[]Mount{{HostDir: filepath.Join(in, "none"), Path: "/mnt"}}, "no such file or directory"},
		{[]Mount{{HostDir: file, Path: "/mnt"}}, "is not a directory"},
		{[]Mount{{HostDir: in, Path: "/"}}, "cannot mount over /"},
		{[]Mount{{HostDir: in, Path: "mnt"}}, "not an absolute path"},
		{[]Mount{{HostDir: in, Path: "/a"}, {HostDir: in, Path: "/a/b"}}, "inside the mount"},
		{[]Mount{{HostDir: in, Path: "/a"}, {HostDir: in, Path: "/a"}}, "mounted twice"},
		{[]Mount{{HostDir: in, Path: "/a/b"}, {HostDir: in, Path: "/a"}}, "holds other mounts"},
		{[]Mount{{HostDir: in, Path: "/dev/null"}}, "not a directory"},
	} {
		_, err := New(Config{Mounts: c.mounts})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.mounts, err, c.want)
		}
	}
	// Two mounts side by side, one over /tmp.
	fs := newFS(t, Config{Mounts: []Mount{{HostDir: in, Path: "/tmp"}, {HostDir: filepath.Join(in, "sub"), Path: "/x/y"}}})
	if _, err := fs.Stat("/tmp/hello.txt"); err != nil {
		t.Error(err)
	}
	if _, err := fs.Stat("/x/y/deep"); err != nil {
		t.Error(err)
	}
	if a, b := stat(t, open(t, fs, "/tmp/hello.txt", O_RDONLY)), stat(t, open(t, fs, "/x/y/deep", O_RDONLY)); a.Ino>>48 == b.Ino>>48 {
		t.Errorf("inode numbers of two mounts share a range: %x %x", a.Ino, b.Ino)
	}
}
