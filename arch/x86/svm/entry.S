// SPDX-License-Identifier: MIT
/*
 * void svm_vmrun(uint64_t vmcb_pa, struct svm_gprs *gprs, uint64_t host_save_pa,
 *		 const struct vcpu_left *left)
 *
 * VMRUN switches RAX, RSP, RIP, RFLAGS and the segment, control and
 * descriptor-table state; the other general registers are ours to move, and
 * FS, GS, TR, LDTR, KernelGSBase and the SYSCALL MSRs need VMLOAD/VMSAVE.
 * Our per-CPU pointer lives in the GS base, so the host's is reloaded (VMLOAD
 * of host_save_pa) before GIF is set again and an NMI can run on it.
 *
 * Interrupts: CLGI holds them off, then STI sets the host IF that VMRUN
 * records: with V_INTR_MASKING, a physical interrupt during the guest then
 * causes an INTR exit (APM 15.21.1). After the exit, CLI before STGI leaves it
 * pending for the run loop to take.
 *
 * After #VMEXIT, once two guest registers are saved to free theirs, it
 * acknowledges the exit (arch/x86/virt.h, struct vcpu_left): a remote
 * flush waits for that and for nothing else of ours.
 */
	.section .text
	.globl svm_vmrun
svm_vmrun:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	pushq %rcx			/* 24(%rsp): left */
	pushq %rsi			/* 16(%rsp): gprs */
	pushq %rdx			/*  8(%rsp): host save area */
	pushq %rdi			/*  0(%rsp): vmcb */

	movq %rdx, %rax
	vmsave				/* host FS/GS/TR/... into the host save area */
	clgi
	sti
	movq (%rsp), %rax
	vmload				/* guest FS/GS/TR/... from the VMCB */

	movq 0x00(%rsi), %rbx
	movq 0x08(%rsi), %rcx
	movq 0x10(%rsi), %rdx
	movq 0x20(%rsi), %rdi
	movq 0x28(%rsi), %rbp
	movq 0x30(%rsi), %r8
	movq 0x38(%rsi), %r9
	movq 0x40(%rsi), %r10
	movq 0x48(%rsi), %r11
	movq 0x50(%rsi), %r12
	movq 0x58(%rsi), %r13
	movq 0x60(%rsi), %r14
	movq 0x68(%rsi), %r15
	movq 0x18(%rsi), %rsi

	vmrun				/* RAX = vmcb; #VMEXIT restores host RAX and RSP */

	pushq %rsi			/* guest RSI; gprs is now at 24(%rsp), left at 32(%rsp) */
	movq 24(%rsp), %rsi
	movq %rbx, 0x00(%rsi)
	movq %rcx, 0x08(%rsi)
	movq 32(%rsp), %rbx
	movq $-1, %rax			/* VCPU_LEFT_SEQ (RAX is the host's VMCB address: free) */
	movq 0x00(%rbx), %rcx
	xchgq %rax, (%rcx)		/* *left->seq, a full barrier */
	movq 0x08(%rbx), %rcx
	movl $0, (%rcx)			/* *left->mode = VCPU_LEFT_MODE: the flusher may go on */
	movq %rdx, 0x10(%rsi)
	movq %rdi, 0x20(%rsi)
	movq %rbp, 0x28(%rsi)
	movq %r8, 0x30(%rsi)
	movq %r9, 0x38(%rsi)
	movq %r10, 0x40(%rsi)
	movq %r11, 0x48(%rsi)
	movq %r12, 0x50(%rsi)
	movq %r13, 0x58(%rsi)
	movq %r14, 0x60(%rsi)
	movq %r15, 0x68(%rsi)
	popq 0x18(%rsi)

	movq (%rsp), %rax
	vmsave				/* guest FS/GS/TR/... back into the VMCB */
	movq 8(%rsp), %rax
	vmload				/* the host's again: GS base = our per-CPU area */
	cli
	stgi

	addq $32, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
