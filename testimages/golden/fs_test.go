package golden

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The host-directory mounts (-v) end to end, with real symbolic links in
// temporary directories; the golden image fs_mount covers a checked-in
// read-only tree.

// buildProbe compiles testdata/fsprobe.c, which runs file operations
// named on its command line.
func buildProbe(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "fsprobe.elf")
	cmd := exec.Command("../guest/aurora-cc", "-O2", "-Wall", "-o", out, filepath.Join("testdata", "fsprobe.c"))
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building fsprobe: %v\n%s", err, msg)
	}
	return out
}

// probeTree makes a host directory to mount, "in", beside one the guest
// must never reach, "out", with links from in leading out.
func probeTree(t *testing.T) (in, out string) {
	t.Helper()
	base := t.TempDir()
	in, out = filepath.Join(base, "in"), filepath.Join(base, "out")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(in, "sub"), 0o755))
	must(os.Mkdir(out, 0o755))
	must(os.WriteFile(filepath.Join(in, "hello.txt"), []byte("hello\n"), 0o644))
	must(os.WriteFile(filepath.Join(in, "sub", "deep.txt"), []byte("deep\n"), 0o644))
	must(os.WriteFile(filepath.Join(out, "secret"), []byte("SECRET\n"), 0o644))
	must(os.WriteFile(filepath.Join(base, "secret"), []byte("SECRET\n"), 0o644))
	must(os.Symlink(filepath.Join(out, "secret"), filepath.Join(in, "abs")))
	must(os.Symlink(out, filepath.Join(in, "outdir")))
	must(os.Symlink("../out/secret", filepath.Join(in, "rel")))
	must(os.Symlink("sub/deep.txt", filepath.Join(in, "inside")))
	return in, out
}

func TestVolumeConfinement(t *testing.T) {
	engines(t)
	probe := buildProbe(t)
	in, out := probeTree(t)
	got := runVM(t, nil, "run", "-v", in+":/data", probe,
		"cat:/data/hello.txt",
		"cat:/data/inside",
		"cat:/data/../hello.txt",
		"cat:/data/sub/../../../secret",
		"cat:/data/abs",
		"cat:/data/rel",
		"cat:/data/outdir/secret",
		"write:/data/outdir/planted",
		"mkdir:/data/outdir/newdir",
		"unlink:/data/outdir/secret",
		"unlink:/data/abs",
		"write:/data/new.txt",
		"cat:/data/new.txt",
		"mkdir:/data/made",
		"write:/data/made/f",
		"unlink:/data/hello.txt",
		"unlink:/data/sub",
		"ls:/data",
	)
	want := `cat /data/hello.txt -> hello
cat /data/inside -> deep
cat /data/../hello.txt -> hello
cat /data/sub/../../../secret -> ENOENT
cat /data/abs -> EACCES
cat /data/rel -> EACCES
cat /data/outdir/secret -> EACCES
write /data/outdir/planted -> EACCES
mkdir /data/outdir/newdir -> EACCES
unlink /data/outdir/secret -> EACCES
unlink /data/abs -> ok
write /data/new.txt -> ok
cat /data/new.txt -> written by the guest
mkdir /data/made -> ok
write /data/made/f -> ok
unlink /data/hello.txt -> ok
unlink /data/sub -> EISDIR
ls /data -> ./ ../ inside@ made/ new.txt outdir@ rel@ sub/ 
`
	if got.status != 0 || got.stdout != want {
		t.Errorf("status %d stderr %q\n--- got:\n%s--- want:\n%s", got.status, got.stderr, got.stdout, want)
	}
	// The host sees the guest's changes inside, and nothing outside.
	if data, err := os.ReadFile(filepath.Join(in, "made", "f")); string(data) != "written by the guest\n" {
		t.Errorf("made/f on the host: %q %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(in, "hello.txt")); !os.IsNotExist(err) {
		t.Errorf("hello.txt survived its unlink: %v", err)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 || entries[0].Name() != "secret" {
		t.Errorf("the outside directory changed: %v", entries)
	}
}

func TestVolumeReadOnly(t *testing.T) {
	engines(t)
	probe := buildProbe(t)
	in, _ := probeTree(t)
	got := runVM(t, nil, "run", "-v", in+":/ro:ro", "-v", in+"/sub:/rw/sub", probe,
		"cat:/ro/hello.txt",
		"write:/ro/hello.txt",
		"write:/ro/new.txt",
		"mkdir:/ro/d",
		"unlink:/ro/hello.txt",
		"write:/rw/sub/x.txt",
		"stat:/rw/sub/x.txt",
		"stat:/rw",
		"ls:/",
	)
	want := `cat /ro/hello.txt -> hello
write /ro/hello.txt -> EROFS
write /ro/new.txt -> EROFS
mkdir /ro/d -> EROFS
unlink /ro/hello.txt -> EROFS
write /rw/sub/x.txt -> ok
stat /rw/sub/x.txt -> file size 21
stat /rw -> dir size 0
ls / -> ./ ../ dev/ ro/ rw/ tmp/ 
`
	if got.status != 0 || got.stdout != want {
		t.Errorf("status %d stderr %q\n--- got:\n%s--- want:\n%s", got.status, got.stderr, got.stdout, want)
	}
	if data, _ := os.ReadFile(filepath.Join(in, "hello.txt")); string(data) != "hello\n" {
		t.Errorf("the read-only file changed: %q", data)
	}
}

// TestVolumeErrors checks that a bad -v gives exit status 125 and one line.
func TestVolumeErrors(t *testing.T) {
	in, _ := probeTree(t)
	hello := filepath.Join("build", "hello.elf")
	for _, c := range []struct {
		spec, want string
	}{
		{in + "/none:/mnt", "no such file or directory"},
		{in + "/hello.txt:/mnt", "is not a directory"},
		{in, "want HOSTDIR:/GUEST/PATH"},
		{in + ":mnt", "is not absolute"},
		{in + ":/", "cannot mount over"},
		{":/mnt", "empty host directory"},
		{in + ":/mnt:rx", "is not absolute"},
		{in + ":/tmp/hello.txt/x", ""}, // fine: made in the tmpfs
	} {
		got := runVM(t, nil, "run", "-v", c.spec, hello)
		if c.want == "" {
			if got.status != 0 {
				t.Errorf("-v %s: status %d stderr %q", c.spec, got.status, got.stderr)
			}
			continue
		}
		if got.status != 125 || !strings.Contains(got.stderr, c.want) || strings.Count(got.stderr, "\n") != 1 || got.stdout != "" {
			t.Errorf("-v %s: status %d stderr %q, want 125 and one line with %q", c.spec, got.status, got.stderr, c.want)
		}
	}
	got := runVM(t, nil, "run", "-v", in+":/a", "-v", in+"/sub:/a/b", hello)
	if got.status != 125 || !strings.Contains(got.stderr, "inside the mount") {
		t.Errorf("nested mounts: status %d stderr %q", got.status, got.stderr)
	}
	got = runVM(t, nil, "run", "--tmpfs-size", "lots", hello)
	if got.status != 125 || !strings.Contains(got.stderr, "--tmpfs-size") {
		t.Errorf("--tmpfs-size lots: status %d stderr %q", got.status, got.stderr)
	}
}
