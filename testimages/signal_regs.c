/* A signal handler that interrupts code in the middle of a loop must give
 * it back every register: the main program spins in an assembly loop
 * with known values in all general-purpose registers but rsp and rcx
 * (rcx polls the flag the loop waits for), in rflags, xmm0-15, MXCSR, the
 * x87 control word and st(0). A child sends SIGUSR1 every 20 ms; the
 * handler scribbles over all of these (saving only what the C calling
 * convention makes it save: rbx, rbp, r12-r15) and ends the loop only when
 * it has interrupted it. The loop then stores the registers, and main
 * compares them with what was loaded. */
#include <aurora.h>
#include <stdint.h>
#include <stdio.h>

/* Shared with the assembly below. GPRs in the order rax rbx rcx rdx rsi
 * rdi rbp r8 ... r15. */
uint64_t regs_in[16], regs_out[16], flags_out, x87_in[2], x87_out[2];
uint8_t xmm_in[256], xmm_out[256], junk[256];
uint32_t mxcsr_in = 0xFF80, mxcsr_out, mxcsr_junk = 0x3F80, mxcsr_default = 0x1F80;
uint16_t fcw_in = 0x0F7F, fcw_out, fcw_junk = 0x007F, fcw_default = 0x037F;
volatile int in_loop, loop_done;

#define FLAGS_IN 0x8D5 /* CF PF AF ZF SF OF set */
#define FLAGS_MASK 0xDD5 /* ... and DF clear */

void spin(void);
void scribble(int sig);
__asm__(".text\n"
	".type spin, @function\n"
	"spin:\n"
	"	push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
	"	ldmxcsr mxcsr_in(%rip)\n"
	"	fldcw fcw_in(%rip)\n"
	"	fldt x87_in(%rip)\n"
#define X(n) "	movdqu xmm_in+" #n "*16(%rip), %xmm" #n "\n"
	X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#undef X
	"	mov regs_in+0(%rip), %rax\n	mov regs_in+8(%rip), %rbx\n	mov regs_in+24(%rip), %rdx\n"
	"	mov regs_in+32(%rip), %rsi\n	mov regs_in+40(%rip), %rdi\n	mov regs_in+48(%rip), %rbp\n"
	"	mov regs_in+56(%rip), %r8\n	mov regs_in+64(%rip), %r9\n	mov regs_in+72(%rip), %r10\n"
	"	mov regs_in+80(%rip), %r11\n	mov regs_in+88(%rip), %r12\n	mov regs_in+96(%rip), %r13\n"
	"	mov regs_in+104(%rip), %r14\n	mov regs_in+112(%rip), %r15\n"
	"	pushq $0x8D5\n	popfq\n"
	/* mov and jrcxz leave the flags alone. */
	"	movl $1, in_loop(%rip)\n"
	"1:	movl loop_done(%rip), %ecx\n"
	"	jrcxz 1b\n"
	"	movl $0, in_loop(%rip)\n"
	"	mov %rax, regs_out+0(%rip)\n	mov %rbx, regs_out+8(%rip)\n	mov %rcx, regs_out+16(%rip)\n"
	"	mov %rdx, regs_out+24(%rip)\n	mov %rsi, regs_out+32(%rip)\n	mov %rdi, regs_out+40(%rip)\n"
	"	mov %rbp, regs_out+48(%rip)\n	mov %r8, regs_out+56(%rip)\n	mov %r9, regs_out+64(%rip)\n"
	"	mov %r10, regs_out+72(%rip)\n	mov %r11, regs_out+80(%rip)\n	mov %r12, regs_out+88(%rip)\n"
	"	mov %r13, regs_out+96(%rip)\n	mov %r14, regs_out+104(%rip)\n	mov %r15, regs_out+112(%rip)\n"
	"	pushfq\n	popq flags_out(%rip)\n"
#define X(n) "	movdqu %xmm" #n ", xmm_out+" #n "*16(%rip)\n"
	X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#undef X
	"	stmxcsr mxcsr_out(%rip)\n"
	"	fnstcw fcw_out(%rip)\n"
	"	fstpt x87_out(%rip)\n"
	"	ldmxcsr mxcsr_default(%rip)\n"
	"	fldcw fcw_default(%rip)\n"
	"	pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
	"	ret\n"

	".type scribble, @function\n"
	"scribble:\n"
	"	push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
	"	mov $-1, %rax\n	mov %rax, %rbx\n	mov %rax, %rcx\n	mov %rax, %rdx\n	mov %rax, %rsi\n"
	"	mov %rax, %rdi\n	mov %rax, %rbp\n	mov %rax, %r8\n	mov %rax, %r9\n	mov %rax, %r10\n"
	"	mov %rax, %r11\n	mov %rax, %r12\n	mov %rax, %r13\n	mov %rax, %r14\n	mov %rax, %r15\n"
#define X(n) "	movdqu junk+" #n "*16(%rip), %xmm" #n "\n"
	X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#undef X
	"	ldmxcsr mxcsr_junk(%rip)\n"
	"	fninit\n	fldz\n	fldz\n	fninit\n" /* x87 stack clobbered, then left empty */
	"	fldcw fcw_junk(%rip)\n"
	"	cmpl $0, in_loop(%rip)\n"
	"	je 2f\n"
	"	movl $1, loop_done(%rip)\n"
	"2:	xor %eax, %eax\n" /* flags: ZF PF set, CF OF SF clear */
	"	pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
	"	ret\n");

int main(void)
{
	const char *names[16] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8",
				 "r9", "r10", "r11", "r12", "r13", "r14", "r15", "-"};
	for (int i = 0; i < 16; i++)
		regs_in[i] = 0x0123456789ABCDEFull * (i + 1) ^ (uint64_t)i << 56;
	regs_in[2] = 1; /* rcx: the value of loop_done that ends the loop */
	for (int i = 0; i < 256; i++) {
		xmm_in[i] = (uint8_t)(i * 13 + 7);
		junk[i] = (uint8_t)~i;
	}
	x87_in[0] = 0xC90FDAA22168C235ull; /* about pi, 80-bit extended */
	x87_in[1] = 0x4000;

	signal_syscall(SIGUSR1, scribble);
	int pid = fork_syscall();
	if (pid == 0) {
		int parent = getppid_syscall();
		for (int i = 0; i < 1000; i++) { /* at most 20 s */
			sleep_syscall(20);
			kill_syscall(parent, SIGUSR1);
		}
		exit_syscall(1);
	}
	spin();
	signal_syscall(SIGUSR1, SIG_IGN);
	kill_syscall(pid, SIGKILL);
	int st = -1;
	waitpid_syscall(pid, &st);
	printf("the handler interrupted the loop (child ended by SIGKILL: %s)\n", st == 137 ? "yes" : "no");

	/* Which registers differ, as a bitmask over the indexes of names[]. */
	int bad = 0;
	for (int i = 0; i < 15; i++)
		if (regs_out[i] != regs_in[i]) {
			printf("%s: %#llx, want %#llx\n", names[i], (unsigned long long)regs_out[i],
			       (unsigned long long)regs_in[i]);
			bad |= 1 << i;
		}
	const int callee = 1 << 1 | 1 << 6 | 0xF << 11, caller = 1 << 0 | 0xF << 3 | 0xF << 7;
	printf("callee-saved rbx rbp r12-r15: %s\n", bad & callee ? "CHANGED" : "intact");
	printf("caller-saved rax rdx rsi rdi r8-r11: %s\n", bad & caller ? "CHANGED" : "intact");
	printf("rcx, which polled the flag: %s\n", bad & 1 << 2 ? "CHANGED" : "1 as loaded");
	printf("rflags: %s\n", (flags_out & FLAGS_MASK) == FLAGS_IN ? "intact" : "CHANGED");
	int xbad = 0;
	for (int n = 0; n < 16; n++)
		for (int i = 0; i < 16; i++)
			if (xmm_out[n * 16 + i] != xmm_in[n * 16 + i]) {
				printf("xmm%d byte %d: %#x, want %#x\n", n, i, xmm_out[n * 16 + i], xmm_in[n * 16 + i]);
				xbad = 1;
				break;
			}
	printf("xmm0-xmm15: %s\n", xbad ? "CHANGED" : "intact");
	printf("mxcsr: %s\n", (mxcsr_out & 0xFFC0) == mxcsr_in ? "intact" : "CHANGED");
	printf("x87 control word: %s\n", (fcw_out & 0x0F3F) == (fcw_in & 0x0F3F) ? "intact" : "CHANGED");
	printf("x87 st(0): %s\n", x87_out[0] == x87_in[0] && (x87_out[1] & 0xFFFF) == x87_in[1] ? "intact" : "CHANGED");
	return 0;
}
