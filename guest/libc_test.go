package guest

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Aurora's image area: programs are linked at 0x400000 and the brk heap
// starts at 0x10000000.
const (
	imageStart = 0x400000
	heapStart  = 0x10000000
)

// needTool fails the test when a build tool is missing: gcc and binutils
// are part of the project's toolchain (.ci/run installs them).
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed; it is needed to build Aurora programs (apt-get install build-essential)", name)
	}
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func guestDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestLibcAgainstGlibc builds the library with its own Makefile into a
// temporary directory, renames every symbol of its objects to aurora_NAME,
// links them with testdata/harness.c and glibc, and runs the comparisons.
func TestLibcAgainstGlibc(t *testing.T) {
	needTool(t, "gcc")
	for _, prog := range []string{"make", "ld", "nm", "objcopy"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Fatalf("%s is needed beside gcc: %v", prog, err)
		}
	}
	guest := guestDir(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "x86_64")
	build := run(t, guest, "make", "-s", "-C", guest, "OUT="+out)
	if strings.Contains(build, "warning:") {
		t.Errorf("the library does not build cleanly:\n%s", build)
	}

	// Everything but the raw traps, which the harness replaces.
	objs, err := filepath.Glob(filepath.Join(out, "obj", "*.o"))
	if err != nil || len(objs) == 0 {
		t.Fatalf("no objects built in %s", out)
	}
	var keep []string
	for _, o := range objs {
		switch filepath.Base(o) {
		case "syscalls.o", "sysio.o":
		default:
			keep = append(keep, o)
		}
	}
	combined := filepath.Join(tmp, "libc.o")
	run(t, tmp, "ld", append([]string{"-r", "-o", combined}, keep...)...)
	syms := run(t, tmp, "nm", "-g", combined)
	var renames bytes.Buffer
	for _, line := range strings.Split(syms, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		name := f[len(f)-1]
		fmt.Fprintf(&renames, "%s aurora_%s\n", name, name)
	}
	mapFile := filepath.Join(tmp, "renames")
	if err := os.WriteFile(mapFile, renames.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, tmp, "objcopy", "--redefine-syms="+mapFile, combined)
	harness := filepath.Join(tmp, "harness")
	run(t, tmp, "gcc", "-std=gnu11", "-O1", "-w", "-no-pie", "-o", harness,
		filepath.Join(guest, "testdata", "harness.c"), combined, "-lm")

	cmd := exec.Command(harness)
	cmd.Dir = tmp
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	sections := map[string]bool{}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "FAIL "):
			t.Error(strings.TrimPrefix(line, "FAIL "))
		case strings.HasPrefix(line, "SUMMARY "):
			f := strings.Fields(line)
			if len(f) != 4 {
				t.Errorf("bad summary line %q", line)
				continue
			}
			n, _ := strconv.Atoi(f[2])
			failed, _ := strconv.Atoi(f[3])
			sections[f[1]] = true
			t.Logf("%-12s %7d checks, %d failed", f[1], n, failed)
			if n == 0 {
				t.Errorf("section %s ran no checks", f[1])
			}
		}
	}
	for _, s := range []string{"rand", "printf", "printf-fuzz", "string", "conversions", "sort", "malloc", "stdio", "files", "exit"} {
		if !sections[s] {
			t.Errorf("section %s did not finish (harness: %v)\nstderr: %s", s, runErr, stderr.String())
		}
	}
	if runErr != nil && !t.Failed() {
		t.Errorf("harness: %v\n%s", runErr, stderr.String())
	}
}

// checkImage verifies that path is a static ELF64 x86-64 executable that
// fits Aurora's layout.
func checkImage(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		t.Fatalf("%s: %v %v %v %v, want a little-endian ELF64 x86-64 executable", path, f.Class, f.Data, f.Machine, f.Type)
	}
	entryOK := false
	var loads []*elf.Prog
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP, elf.PT_DYNAMIC, elf.PT_TLS:
			t.Errorf("%s has a %v segment", path, p.Type)
		case elf.PT_LOAD:
			loads = append(loads, p)
			if p.Vaddr < imageStart || p.Vaddr+p.Memsz > heapStart {
				t.Errorf("segment [%#x, %#x) is outside [%#x, %#x)", p.Vaddr, p.Vaddr+p.Memsz, imageStart, heapStart)
			}
			if p.Vaddr%4096 != 0 || p.Off%4096 != 0 {
				t.Errorf("segment at %#x (offset %#x) is not page-aligned", p.Vaddr, p.Off)
			}
			if f.Entry >= p.Vaddr && f.Entry < p.Vaddr+p.Memsz && p.Flags&elf.PF_X != 0 {
				entryOK = true
			}
		}
	}
	if !entryOK {
		t.Errorf("entry %#x is not inside an executable PT_LOAD", f.Entry)
	}
	// Code, read-only data and writable data are apart, so that writes to
	// code or string literals fault.
	sort.Slice(loads, func(i, j int) bool { return loads[i].Vaddr < loads[j].Vaddr })
	var perms []string
	for i, p := range loads {
		perms = append(perms, p.Flags.String())
		if p.Flags&elf.PF_W != 0 && p.Flags&elf.PF_X != 0 {
			t.Errorf("segment at %#x is writable and executable", p.Vaddr)
		}
		if i > 0 {
			prev := loads[i-1]
			if (prev.Vaddr+prev.Memsz+4095)/4096 > p.Vaddr/4096 {
				t.Errorf("segments at %#x and %#x share a page", prev.Vaddr, p.Vaddr)
			}
		}
	}
	if len(loads) != 3 {
		t.Errorf("PT_LOAD segments %v, want R+X, R and R+W", perms)
	}
	for _, s := range f.Sections {
		if s.Name == ".rodata" {
			for _, p := range loads {
				if s.Addr >= p.Vaddr && s.Addr < p.Vaddr+p.Memsz && p.Flags != elf.PF_R {
					t.Errorf(".rodata is in a %v segment", p.Flags)
				}
			}
		}
	}
}

const testProgram = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <aurora.h>
#include "helper.h"

static int counter = 5;
static char zeroed[100000];

int main(int argc, char **argv)
{
	char *p = malloc(64);
	snprintf(p, 64, "%s %d %.2f", GREETING, helper(counter), 2.5);
	printf("%s %zu %c\n", p, strlen(p), zeroed[99] + 'a');
	free(p);
	write_syscall(1, "done\n", 5);
	return argc > 1 ? atoi(argv[1]) : 0;
}
`

const testHelper = `#include "helper.h"
int helper(int x) { return x * HELPER_SCALE; }
`

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuroraCC builds a program from a directory outside the repository
// and checks the image, the compile-only modes and error reporting.
func TestAuroraCC(t *testing.T) {
	needTool(t, "gcc")
	cc := filepath.Join(guestDir(t), "aurora-cc")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"prog.c":   testProgram,
		"helper.c": testHelper,
		"helper.h": "#define GREETING \"hi\"\nint helper(int);\n",
	})

	run(t, dir, cc, "-O2", "-Wall", "-Werror", "-DHELPER_SCALE=3", "-o", "prog.elf", "prog.c", "helper.c")
	checkImage(t, filepath.Join(dir, "prog.elf"))

	// -c gives a relocatable object, which links with a source.
	run(t, dir, cc, "-c", "-O2", "-DHELPER_SCALE=3", "helper.c")
	o, err := elf.Open(filepath.Join(dir, "helper.o"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Type != elf.ET_REL || o.Machine != elf.EM_X86_64 {
		t.Errorf("helper.o: %v %v, want a relocatable x86-64 object", o.Type, o.Machine)
	}
	o.Close()
	run(t, dir, cc, "-o", "mixed.elf", "prog.c", "helper.o")
	checkImage(t, filepath.Join(dir, "mixed.elf"))

	// -S and -E do not link; -E sees our headers, not the host's.
	run(t, dir, cc, "-S", "-o", "prog.s", "prog.c")
	if b, err := os.ReadFile(filepath.Join(dir, "prog.s")); err != nil || !bytes.Contains(b, []byte("main:")) {
		t.Errorf("-S output: %v", err)
	}
	pre := run(t, dir, cc, "-E", "prog.c")
	if !strings.Contains(pre, filepath.Join(guestDir(t), "include", "stdio.h")) || strings.Contains(pre, "/usr/include/") {
		t.Errorf("-E does not use guest/include only")
	}

	// gcc's diagnostics and status come through.
	writeFiles(t, dir, map[string]string{"bad.c": "int main(void) { return undeclared; }\n"})
	cmd := exec.Command(cc, "-o", "bad.elf", "bad.c")
	cmd.Dir = dir
	msg, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "undeclared") {
		t.Errorf("compile error: err %v, output %q", err, msg)
	}
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() != 1 {
		t.Errorf("compile error: exit status %d, want gcc's 1", ee.ExitCode())
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.elf")); err == nil {
		t.Errorf("a failed build left bad.elf")
	}

	checkTraps(t, filepath.Join(dir, "prog.elf"))
}

// TestDocExamplesCompile builds the C examples of Aurora's documentation
// (testdata/doc_examples.c: each example's body as printed, wrapped in a
// function) with warnings as errors: the headers must provide every name
// and constant they use, with compatible types.
func TestDocExamplesCompile(t *testing.T) {
	needTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(guestDir(t), "testdata", "doc_examples.c")
	run(t, dir, filepath.Join(guestDir(t), "aurora-cc"), "-O2", "-Wall", "-Werror", "-o", "examples.elf", src)
	checkImage(t, filepath.Join(dir, "examples.elf"))
}

// checkTraps disassembles an image: the only way into the kernel is
// SYSCALL, and nothing reads a stack-protector canary through %fs (the
// kernel sets up no thread pointer).
func checkTraps(t *testing.T, path string) {
	t.Helper()
	needTool(t, "objdump")
	dis := run(t, ".", "objdump", "-d", "--no-show-raw-insn", path)
	syscalls := 0
	bad := regexp.MustCompile(`\s(int|int3|sysenter|int1|into)\s|%fs:|%gs:|__stack_chk`)
	for _, line := range strings.Split(dis, "\n") {
		if strings.Contains(line, "\tsyscall") {
			syscalls++
		}
		if bad.MatchString(line + " ") {
			t.Errorf("unexpected instruction: %s", strings.TrimSpace(line))
		}
	}
	if syscalls == 0 {
		t.Errorf("no SYSCALL instruction in %s", path)
	}
}
