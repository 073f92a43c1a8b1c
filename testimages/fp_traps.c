/* Floating-point exceptions a program unmasks. The x87 reports one at its
 * next waiting instruction (#MF), SSE at the instruction itself (#XM);
 * either is SIGFPE. Masked, they only set flags. Unmasked, an x87 overflow
 * into a register delivers the result with its exponent biased by 24576,
 * and an invalid operation leaves the stack alone. */
#include <aurora.h>
#include <stdio.h>

struct f80 {
	unsigned long mant;
	unsigned short se;
} __attribute__((packed));

static const struct f80 ldbl_max = {0xFFFFFFFFFFFFFFFFul, 0x7FFE};
static const unsigned short fcw_default = 0x37F;
static const unsigned short fcw_no_ze = 0x37B; /* divide-by-zero unmasked */
static const unsigned short fcw_no_oe = 0x377; /* overflow unmasked */
static const unsigned short fcw_no_ie = 0x37E; /* invalid unmasked */
static const unsigned mxcsr_no_ze = 0x1D80;

static void exit58(int sig) { exit_syscall(50 + sig); }

/* Runs body in a child with handler for SIGFPE and returns its status. */
static int in_child(void (*body)(void), sighandler_t handler)
{
	int pid = fork_syscall();
	if (pid == 0) {
		signal_syscall(SIGFPE, handler);
		body();
		exit_syscall(0);
	}
	int st = -1;
	waitpid_syscall(pid, &st);
	return st;
}

/* 1/0 with division by zero unmasked; the fstp after it waits. */
static void x87_divide(void)
{
	static struct f80 out;
	__asm__ volatile("fldcw %1; fld1; fldz; fdivrp; fstpt %0" : "=m"(out) : "m"(fcw_no_ze));
}

/* The same with the division's exception masked: no signal. */
static void x87_divide_masked(void)
{
	static struct f80 out;
	__asm__ volatile("fldcw %1; fld1; fldz; fdivrp; fstpt %0" : "=m"(out) : "m"(fcw_default));
}

/* Unmasking a flag already set raises at the next waiting instruction. */
static void x87_unmask_later(void)
{
	__asm__ volatile("fld1; fldz; fdivrp; fstp %%st(0); fldcw %0; fwait" : : "m"(fcw_no_ze));
}

static void sse_divide(void)
{
	volatile double one = 1, zero = 0, r;
	__asm__ volatile("ldmxcsr %0" : : "m"(mxcsr_no_ze));
	r = one / zero;
	(void)r;
}

int main(void)
{
	printf("x87 1/0, divide-by-zero unmasked: status %d\n", in_child(x87_divide, SIG_DFL));
	printf("x87 1/0, unmasked, handler exits 50+8: status %d\n", in_child(x87_divide, exit58));
	printf("x87 1/0, masked: status %d\n", in_child(x87_divide_masked, SIG_DFL));
	printf("x87 flag set, then unmasked: status %d\n", in_child(x87_unmask_later, SIG_DFL));
	printf("SSE 1/0, divide-by-zero unmasked: status %d\n", in_child(sse_divide, SIG_DFL));

	/* Masked: 1/0 is infinity and ZE is set. */
	struct f80 r;
	unsigned short sw;
	__asm__ volatile("fninit; fld1; fldz; fdivrp; fnstsw %1; fstpt %0" : "=m"(r), "=m"(sw));
	printf("masked 1/0: %04x %016lx, status word %04x\n", r.se, r.mant, sw);

	/* Unmasked overflow into a register: the largest value doubled comes
	 * back with its exponent biased, OE and ES set; FNCLEX before the
	 * store keeps it from trapping. */
	__asm__ volatile("fninit; fldcw %2; fldt %3; fld %%st(0); faddp; fnstsw %1; fnclex; fstpt %0; fldcw %4"
			 : "=m"(r), "=m"(sw)
			 : "m"(fcw_no_oe), "m"(ldbl_max), "m"(fcw_default));
	printf("unmasked overflow: %04x %016lx, status word %04x\n", r.se, r.mant, sw);

	/* Unmasked invalid operation: 0/0 leaves both operands on the stack. */
	struct f80 a, b;
	__asm__ volatile("fninit; fldcw %3; fld1; fldz; fldz; fdivrp; fnstsw %2; fnclex; fstpt %0; fstpt %1; fstp %%st(0); fldcw %4"
			 : "=m"(a), "=m"(b), "=m"(sw)
			 : "m"(fcw_no_ie), "m"(fcw_default));
	printf("unmasked 0/0: stack %04x %016lx, %04x %016lx, status word %04x\n", a.se, a.mant, b.se,
	       b.mant, sw);
	return 0;
}
