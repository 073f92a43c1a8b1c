// Package golden runs the C programs in testimages/ through the aurora-vm
// command on every available engine and compares what they print with
// their golden files.
//
// For each testimages/NAME.c: NAME.stdout is the expected standard output, NAME.status
// the exit status, and, where present, NAME.stderr the expected standard
// error, NAME.args the arguments (one per line), NAME.stdin the input and
// NAME.flags extra `aurora-vm run` flags (one per line, placed before the
// program, so a --timeout there overrides the harness's). The presence of
// NAME.stdin-open makes standard input a pipe that stays open until the
// program exits (after NAME.stdin's bytes, if any), for programs that must
// find a read blocking.
// `go test ./testimages -update` rewrites the golden files from a KVM run.
package golden

import (
	"bytes"
	"debug/elf"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aurora-vm/aurora-vm/cpu/kvm"
)

var update = flag.Bool("update", false, "rewrite golden files")

// vmBinary is the aurora-vm command built for this test run.
var vmBinary string

func TestMain(m *testing.M) {
	flag.Parse()
	// Work from testimages/, where the programs and golden files are.
	if err := os.Chdir(".."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "aurora-vm-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	vmBinary = filepath.Join(dir, "aurora-vm")
	steps := [][]string{
		{"go", "build", "-tags", "urfave_cli_no_docs", "-o", vmBinary, "../cmd/aurora-vm"},
		{"make", "-s"},
	}
	for _, s := range steps {
		cmd := exec.Command(s[0], s[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", strings.Join(s, " "), err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// engines lists the --accel values this machine can run: KVM where it is
// available, and the interpreter always.
func engines(t *testing.T) []string {
	var list []string
	if err := kvm.Available(); err == nil {
		list = append(list, "kvm")
	} else {
		t.Logf("skipping the KVM engine: %v", err)
	}
	// The interpreter runs everywhere.
	return append(list, "interp")
}

type result struct {
	stdout, stderr string
	status         int
}

// runVM runs aurora-vm with args and stdin, returning what it printed and
// its exit status.
func runVM(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	return runVMFrom(t, bytes.NewReader(stdin), args...)
}

// runVMFrom is runVM with any standard input, such as a pipe kept open.
func runVMFrom(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	cmd := exec.Command(vmBinary, args...)
	var out, errOut bytes.Buffer
	cmd.Stdin = stdin
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running aurora-vm: %v", err)
	}
	return result{out.String(), errOut.String(), status}
}

func readOptional(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

// readLines returns the lines of an optional file, none if it is missing.
func readLines(path string) []string {
	b := readOptional(path)
	if b == nil {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// runWithOpenStdin runs aurora-vm with a pipe as standard input that holds
// input and is closed only once aurora-vm has exited.
func runWithOpenStdin(t *testing.T, input []byte, args ...string) result {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	go w.Write(input) // into the pipe's buffer, or as the program reads
	return runVMFrom(t, r, args...)
}

func TestGolden(t *testing.T) {
	sources, _ := filepath.Glob("*.c")
	if len(sources) == 0 {
		t.Fatal("no test images")
	}
	for _, engine := range engines(t) {
		for _, src := range sources {
			name := strings.TrimSuffix(src, ".c")
			t.Run(engine+"/"+name, func(t *testing.T) {
				args := []string{"run", "--accel", engine, "--timeout", "60s"}
				args = append(args, readLines(name+".flags")...)
				args = append(args, filepath.Join("build", name+".elf"))
				args = append(args, readLines(name+".args")...)
				var got result
				if _, err := os.Stat(name + ".stdin-open"); err == nil {
					got = runWithOpenStdin(t, readOptional(name+".stdin"), args...)
				} else {
					got = runVM(t, readOptional(name+".stdin"), args...)
				}
				// The path in messages depends on where the test runs from.
				got.stderr = strings.ReplaceAll(got.stderr, filepath.Join("build", name+".elf"), name+".elf")
				if *update && engine == "kvm" {
					writeGolden(t, name, got)
					return
				}
				compareGolden(t, name, got)
			})
		}
	}
}

func writeGolden(t *testing.T, name string, got result) {
	t.Helper()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(name+".stdout", []byte(got.stdout), 0o644))
	must(os.WriteFile(name+".status", []byte(strconv.Itoa(got.status)+"\n"), 0o644))
	if got.stderr != "" {
		must(os.WriteFile(name+".stderr", []byte(got.stderr), 0o644))
	} else {
		os.Remove(name + ".stderr")
	}
}

func compareGolden(t *testing.T, name string, got result) {
	t.Helper()
	wantOut, err := os.ReadFile(name + ".stdout")
	if err != nil {
		t.Fatalf("missing golden file (run with -update): %v", err)
	}
	if got.stdout != string(wantOut) {
		t.Errorf("stdout differs from %s.stdout\n--- got:\n%s--- want:\n%s", name, got.stdout, wantOut)
	}
	wantStatus, err := os.ReadFile(name + ".status")
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(string(wantStatus)); s != strconv.Itoa(got.status) {
		t.Errorf("exit status %d, want %s (stderr: %s)", got.status, s, got.stderr)
	}
	if want := readOptional(name + ".stderr"); string(want) != got.stderr {
		t.Errorf("stderr differs from %s.stderr\n--- got:\n%s--- want:\n%s", name, got.stderr, want)
	}
}

// TestBadPrograms checks that files aurora-vm cannot run give exit status
// 125 and one line on stderr naming the file and the reason.
func TestBadPrograms(t *testing.T) {
	dir := t.TempDir()
	hello, err := os.ReadFile(filepath.Join("build", "hello.elf"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	patched := func(off int, b ...byte) []byte {
		d := append([]byte(nil), hello...)
		copy(d[off:], b)
		return d
	}
	// An ordinary Linux program from the host compiler is dynamically linked.
	dynamic := filepath.Join(dir, "dynamic")
	src := write("dynamic.c", []byte("int main(void) { return 0; }\n"))
	if out, err := exec.Command("gcc", "-no-pie", "-o", dynamic, src).CombinedOutput(); err != nil {
		t.Fatalf("building a dynamic program: %v\n%s", err, out)
	}
	cases := []struct {
		name string
		path string
		want string
	}{
		{"missing", filepath.Join(dir, "nope.elf"), "no such file or directory"},
		{"text", write("text.elf", []byte("#!/bin/sh\necho hi\n")), "not an ELF file"},
		{"empty", write("empty.elf", nil), "not an ELF file"},
		{"32-bit", write("x32.elf", patched(elf.EI_CLASS, byte(elf.ELFCLASS32))), "32-bit ELF"},
		{"arm64", write("arm.elf", patched(18, byte(elf.EM_AARCH64), 0)), "built for EM_AARCH64"},
		{"truncated", write("trunc.elf", hello[:len(hello)/2]), "truncated"},
		{"header only", write("hdr.elf", hello[:40]), "truncated"},
		{"bad header size", write("phent.elf", patched(54, 1, 0)), "malformed ELF"},
		{"dynamic", dynamic, "dynamically linked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := runVM(t, nil, "run", c.path)
			if got.status != 125 {
				t.Errorf("exit status %d, want 125", got.status)
			}
			lines := strings.Split(strings.TrimSuffix(got.stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.Contains(got.stderr, c.path) || !strings.Contains(got.stderr, c.want) {
				t.Errorf("stderr %q: want one line naming %s and saying %q", got.stderr, c.path, c.want)
			}
		})
	}
}

// TestProgramLargerThanMemory runs a program whose image (a 64 MiB bss)
// does not fit in the guest memory asked for.
func TestProgramLargerThanMemory(t *testing.T) {
	engines(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "big.c")
	prog := "char big[64 << 20];\nint main(void) { volatile char *p = big; p[sizeof big - 1] = 1; return p[sizeof big - 1] - 1; }\n"
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	elfPath := filepath.Join(dir, "big.elf")
	if out, err := exec.Command(filepath.Join("..", "guest", "aurora-cc"), "-O2", "-o", elfPath, src).CombinedOutput(); err != nil {
		t.Fatalf("aurora-cc: %v\n%s", err, out)
	}
	if got := runVM(t, nil, "run", elfPath); got.status != 0 {
		t.Fatalf("with the default memory: status %d stderr %q", got.status, got.stderr)
	}
	got := runVM(t, nil, "run", "--memory", "32M", elfPath)
	want := "aurora-vm: " + elfPath + ": the program needs more guest memory than --memory 32M gives\n"
	if got.status != 125 || got.stderr != want {
		t.Fatalf("status %d stderr %q, want 125 and %q", got.status, got.stderr, want)
	}
}

func TestCommandLineErrors(t *testing.T) {
	hello := filepath.Join("build", "hello.elf")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "missing PROGRAM.elf"},
		{[]string{"run", "--accel", "qemu", hello}, "want auto, kvm or interp"},
		{[]string{"run", "--memory", "lots", hello}, "not a size"},
		{[]string{"run", "--memory", "4G", hello}, "exceeds"},
		{[]string{"run", "--timeout", "-5s", hello}, "--timeout: -5s is negative"},
		{[]string{"run", "--timeout", "soon", hello}, `invalid value "soon" for flag -timeout`},
		{[]string{"run", "--bogus", hello}, "flag provided but not defined: -bogus (see aurora-vm run --help)"},
		{[]string{"frob"}, "frob: no such command"},
	} {
		got := runVM(t, nil, c.args...)
		if got.status != 125 || !strings.Contains(got.stderr, c.want) || strings.Count(got.stderr, "\n") != 1 || got.stdout != "" {
			t.Errorf("aurora-vm %s: status %d stderr %q stdout %q, want 125, one line with %q and no output",
				strings.Join(c.args, " "), got.status, got.stderr, got.stdout, c.want)
		}
	}
}

func TestTimeoutKillsBusyProgram(t *testing.T) {
	engines(t)
	got := runVM(t, nil, "run", "--timeout", "300ms", filepath.Join("build", "sieve.elf"), "50000000", "1000")
	if got.status != 124 || !strings.Contains(got.stderr, "timed out after 300ms") {
		t.Fatalf("status %d stderr %q, want 124 and a timeout message", got.status, got.stderr)
	}
}

// TestMissingKVM runs aurora-vm in a mount namespace whose /dev is an
// empty tmpfs, which takes root.
func TestMissingKVM(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: making a mount namespace without /dev/kvm needs root")
	}
	abs, err := filepath.Abs(vmBinary)
	if err != nil {
		t.Fatal(err)
	}
	hello, _ := filepath.Abs(filepath.Join("build", "hello.elf"))
	script := `mount -t tmpfs none /dev || exit 99; "$0" run --accel kvm "$1"`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, abs, hello)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	err = cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 125 || errOut.String() != "aurora-vm: KVM is not available: open /dev/kvm: no such file or directory\n" {
		t.Fatalf("err %v stderr %q, want status 125 and one line saying KVM is not available (99: the mount failed)", err, errOut.String())
	}
}

// TestTimeoutInterruptsConsoleRead checks that --timeout also ends a
// program blocked reading an input that never comes.
func TestTimeoutInterruptsConsoleRead(t *testing.T) {
	engines(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close() // held open: the program's read never sees EOF
	defer r.Close()
	got := runVMFrom(t, r, "run", "--timeout", "300ms", filepath.Join("build", "syscalls.elf"))
	if got.status != 124 || !strings.Contains(got.stderr, "timed out after 300ms") {
		t.Fatalf("status %d stderr %q, want 124 and a timeout message", got.status, got.stderr)
	}
	if !strings.Contains(got.stdout, "getpid") {
		t.Errorf("output before the blocking read is lost: %q", got.stdout)
	}
}

func TestTrace(t *testing.T) {
	engines(t)
	got := runVM(t, nil, "run", "--trace", filepath.Join("build", "hello.elf"))
	for _, want := range []string{
		`[1] write(1, "Hello from Aurora!\n", 19) = 19`,
		`[1] exit(0) = ?`,
	} {
		if !strings.Contains(got.stderr, want) {
			t.Errorf("trace lacks %q:\n%s", want, got.stderr)
		}
	}
	if got.stdout != "Hello from Aurora!\n" {
		t.Errorf("stdout %q", got.stdout)
	}
}

func TestVersion(t *testing.T) {
	got := runVM(t, nil, "version")
	if got.status != 0 || !strings.HasPrefix(got.stdout, "aurora-vm ") {
		t.Fatalf("version: %+v", got)
	}
}
