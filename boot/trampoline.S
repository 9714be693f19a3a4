// SPDX-License-Identifier: MIT
/*
 * AP trampoline. smp.c copies [trampoline_start, trampoline_end) to a page
 * below 1 MiB, patches the fields marked (patched), and sends SIPI with that
 * page's number. The AP starts in real mode with CS = page << 8, IP = 0, and
 * goes straight to long mode: with EFER.LME set, turning on CR0.PE and
 * CR0.PG together activates IA-32e mode, and the far jump through a 64-bit
 * code descriptor lands in 64-bit code. The code is position independent:
 * 16-bit parts address through CS/DS, the 64-bit part through RIP.
 */
#include "boot/long_mode.inc"

	.section .rodata
	.code16
	.balign 4096
	.globl trampoline_start, trampoline_end
	.globl trampoline_gdt_ptr, trampoline_gdt, trampoline_far_jump
	.globl trampoline_long, trampoline_cr3, trampoline_stack
	.globl trampoline_entry, trampoline_cpu
trampoline_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl trampoline_gdt_ptr - trampoline_start
	movl trampoline_cr3 - trampoline_start, %eax
	movl %eax, %cr3
	ENTER_LONG_MODE
	ljmpl *(trampoline_far_jump - trampoline_start)

	.code64
trampoline_long:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movq trampoline_stack(%rip), %rsp
	movq trampoline_cpu(%rip), %rdi
	movq trampoline_entry(%rip), %rax
	xorl %ebp, %ebp
	jmp *%rax

	.balign 8
trampoline_gdt:
	.quad 0
	.quad 0x00af9a000000ffff		/* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff		/* 0x10: data */
trampoline_gdt_end:
	.balign 8
trampoline_gdt_ptr:
	.short trampoline_gdt_end - trampoline_gdt - 1
	.long 0					/* (patched) linear address of trampoline_gdt */
	.balign 8
trampoline_far_jump:
	.long 0					/* (patched) linear address of trampoline_long */
	.short 0x08
	.balign 8
trampoline_cr3:
	.quad 0					/* (patched) boot PML4, below 4 GiB */
trampoline_stack:
	.quad 0					/* (patched per AP) */
trampoline_entry:
	.quad 0					/* (patched) ap_entry */
trampoline_cpu:
	.quad 0					/* (patched per AP) cpu index */
trampoline_end:
