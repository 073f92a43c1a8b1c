// Package guest holds the C runtime that Aurora programs are built
// against, and the tests that check it on the host. There is no Go API
// here; the Go files exist only for those tests.
//
// Layout:
//
//	include/        headers for programs: aurora.h (every syscall as
//	                NAME_syscall; aurora/syscalls.h is generated from
//	                syscall/table.go), stdio.h, stdlib.h, string.h, ctype.h,
//	                assert.h, errno.h, inttypes.h, limits.h, stdint.h, unistd.h
//	libc/           the C library (libc/syscalls.c is generated too)
//	crt/x86_64/     crt0.S: _start, which calls main and then exit
//	ld/x86_64.ld    linker script: image at 0x400000, separate R+X, R and
//	                R+W segments, all below the heap at 0x10000000
//	Makefile        builds build/x86_64/libc.a and build/x86_64/crt0.o
//	aurora-cc       gcc wrapper that compiles and links for Aurora
//	testdata/       the C half of the host tests
//
// Programs are built with aurora-cc, which takes ordinary gcc arguments and
// rebuilds the runtime when its sources change:
//
//	guest/aurora-cc -O2 -o prog.elf prog.c
//
// The host tests (go test ./guest) link the library's objects, with every
// symbol renamed to aurora_NAME, into one Linux process with glibc, and
// compare the two: printf formatting against glibc's snprintf, string and
// conversion functions, rand, qsort; malloc, stdio buffering and exit run
// against fake syscalls. They also check what aurora-cc produces.
package guest
