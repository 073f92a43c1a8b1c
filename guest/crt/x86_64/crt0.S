/* Program entry. The kernel leaves argc at (%rsp), then argv, NULL, envp,
 * NULL and the auxiliary vector (System V layout). */
	.text
	.globl _start
	.type _start, @function
_start:
	xor %ebp, %ebp
	mov (%rsp), %rdi          /* argc */
	lea 8(%rsp), %rsi         /* argv */
	lea 8(%rsi,%rdi,8), %rdx  /* envp: past argv's NULL */
	and $-16, %rsp
	call main
	mov %eax, %edi
	call exit
	hlt
	.size _start, . - _start
	.section .note.GNU-stack, "", @progbits
