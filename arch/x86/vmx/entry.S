// SPDX-License-Identifier: MIT
/*
 * int vmx_enter(struct vmx_gprs *gprs, const struct vcpu_left *left)
 *
 * VM entry loads RSP, RIP and RFLAGS from the VMCS; every general register
 * but RSP is ours to move. The host RSP is written into the VMCS on each
 * entry (this stack), and a VM exit resumes at vmx_exit_point with it.
 * Returns 0 after a VM exit, 1 if VMLAUNCH/VMRESUME failed (CF or ZF set).
 * After an exit, once three guest registers are saved to free theirs, it
 * acknowledges the exit (arch/x86/virt.h, struct vcpu_left): a remote
 * flush waits for that and for nothing else of ours.
 */
#define HOST_RSP 0x6c14

	.section .text
	.globl vmx_enter, vmx_exit_point
vmx_enter:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	pushq %rsi			/* 8(%rsp): left */
	pushq %rdi			/* 0(%rsp): gprs, for the exit path */

	movq $HOST_RSP, %rax
	vmwrite %rsp, %rax
	jbe 2f

	cmpq $0, 0x78(%rdi)		/* gprs->launched */
	movq 0x00(%rdi), %rax
	movq 0x08(%rdi), %rbx
	movq 0x10(%rdi), %rcx
	movq 0x18(%rdi), %rdx
	movq 0x20(%rdi), %rsi
	movq 0x30(%rdi), %rbp
	movq 0x38(%rdi), %r8
	movq 0x40(%rdi), %r9
	movq 0x48(%rdi), %r10
	movq 0x50(%rdi), %r11
	movq 0x58(%rdi), %r12
	movq 0x60(%rdi), %r13
	movq 0x68(%rdi), %r14
	movq 0x70(%rdi), %r15
	movq 0x28(%rdi), %rdi		/* last: the pointer itself; flags are unchanged by movs */
	jne 1f
	vmlaunch
	jmp 2f
1:	vmresume
2:	/* VMfail: the entry instruction itself failed. */
	addq $16, %rsp
	movl $1, %eax
	jmp 3f

vmx_exit_point:
	pushq %rdi			/* guest RDI; gprs is at 8(%rsp), left at 16(%rsp) */
	movq 8(%rsp), %rdi
	movq %rax, 0x00(%rdi)
	movq %rbx, 0x08(%rdi)
	movq %rcx, 0x10(%rdi)
	movq 16(%rsp), %rbx
	movq $-1, %rax			/* VCPU_LEFT_SEQ */
	movq 0x00(%rbx), %rcx
	xchgq %rax, (%rcx)		/* *left->seq, a full barrier */
	movq 0x08(%rbx), %rcx
	movl $0, (%rcx)			/* *left->mode = VCPU_LEFT_MODE: the flusher may go on */
	movq %rdx, 0x18(%rdi)
	movq %rsi, 0x20(%rdi)
	movq %rbp, 0x30(%rdi)
	movq %r8, 0x38(%rdi)
	movq %r9, 0x40(%rdi)
	movq %r10, 0x48(%rdi)
	movq %r11, 0x50(%rdi)
	movq %r12, 0x58(%rdi)
	movq %r13, 0x60(%rdi)
	movq %r14, 0x68(%rdi)
	movq %r15, 0x70(%rdi)
	popq 0x28(%rdi)
	movq $1, 0x78(%rdi)		/* launched */
	addq $16, %rsp
	xorl %eax, %eax
3:	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
