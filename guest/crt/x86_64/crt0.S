/*
 * Program entry for Aurora x86-64. The kernel starts us with RSP pointing at
 * argc, followed by argv[0..argc-1], NULL, envp..., NULL and the auxiliary
 * vector (System V layout). We call __libc_init(argc, argv, envp) (environ,
 * constructors), then main(argc, argv, envp), then exit with its result.
 */
	.text
	.globl _start
	.type _start, @function
_start:
	xor %ebp, %ebp            /* outermost frame, for debuggers */
	mov (%rsp), %rbx          /* argc */
	lea 8(%rsp), %r12         /* argv */
	lea 16(%rsp,%rbx,8), %r13 /* envp: past argv's NULL */
	and $-16, %rsp            /* the ABI wants 16-byte alignment at calls */
	mov %ebx, %edi
	mov %r12, %rsi
	mov %r13, %rdx
	call __libc_init
	mov %ebx, %edi
	mov %r12, %rsi
	mov %r13, %rdx
	call main
	mov %eax, %edi
	call exit
	hlt                       /* not reached: faults if it ever is */
	.size _start, . - _start

	.section .note.GNU-stack, "", @progbits
