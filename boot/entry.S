// SPDX-License-Identifier: MIT
/*
 * 32-bit entry from a multiboot2 loader: check what we were given, clear
 * .bss, identity-map the first 4 GiB with 2 MiB pages, enter long mode and
 * call kmain(magic, mbi). EFER, CR0 and CR4 are written whole, never
 * read-modify-written: OVMF leaves bits (EFER.NXE) we did not ask for.
 */
#include "boot/long_mode.inc"

#define MB2_BOOTLOADER_MAGIC 0x36d76289
#define COM1 0x3f8

	.section .text.boot, "ax"
	.code32
	.globl _start
_start:
	cli
	cld
	movl %eax, %ebp			/* magic; .bss (and our stack) is not cleared yet */
	movl %ebx, %esi			/* multiboot2 information, physical */

	/* The loader's segments are undefined: load our own GDT first. */
	lgdt boot_gdt_ptr
	ljmp $0x08, $1f
1:	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs

	/* Record the machine state the loader handed over, for kmain to check. */
	movl $boot_stack_top, %esp
	pushfl
	popl boot_handover + 12
	movl %cr0, %eax
	movl %eax, boot_handover
	movl %cr4, %eax
	movl %eax, boot_handover + 4
	movl $0xc0000080, %ecx
	rdmsr
	movl %eax, boot_handover + 8

	cmpl $MB2_BOOTLOADER_MAGIC, %ebp
	jne bad_magic

	movl $0x80000000, %eax
	cpuid
	cmpl $0x80000001, %eax
	jb no_long_mode
	movl $0x80000001, %eax
	cpuid
	btl $29, %edx
	jnc no_long_mode

	/* Clear .bss; the page tables and the boot stack live there. */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb

	/* PML4[0] -> PDPT; PDPT[0..3] -> four PDs; 2048 PDEs of 2 MiB each. */
	movl $boot_pdpt, %eax
	orl $0x3, %eax
	movl %eax, boot_pml4
	xorl %ecx, %ecx
2:	movl %ecx, %eax
	shll $12, %eax
	addl $boot_pd, %eax
	orl $0x3, %eax
	movl %eax, boot_pdpt(, %ecx, 8)
	incl %ecx
	cmpl $4, %ecx
	jne 2b
	xorl %ecx, %ecx
3:	movl %ecx, %eax
	shll $21, %eax
	orl $0x83, %eax			/* present, writable, 2 MiB */
	movl %eax, boot_pd(, %ecx, 8)
	movl %ecx, %eax
	shrl $11, %eax			/* bits 32+ of the address */
	movl %eax, boot_pd + 4(, %ecx, 8)
	incl %ecx
	cmpl $2048, %ecx
	jne 3b

	movl $boot_pml4, %eax
	movl %eax, %cr3
	ENTER_LONG_MODE
	ljmp $0x18, $long_mode

bad_magic:
	movl $msg_bad_magic, %ebx
	jmp early_fail
no_long_mode:
	movl $msg_no_lm, %ebx
	/* fall through */

/* Print the string at %ebx on COM1, then exit with status 2 (QEMU, Bochs). */
early_fail:
	movw $COM1 + 3, %dx		/* 115200 8N1 */
	movb $0x80, %al
	outb %al, %dx
	movw $COM1, %dx
	movb $1, %al
	outb %al, %dx
	movw $COM1 + 1, %dx
	xorb %al, %al
	outb %al, %dx
	movw $COM1 + 3, %dx
	movb $3, %al
	outb %al, %dx
4:	movb (%ebx), %al
	testb %al, %al
	jz 6f
	movw $COM1 + 5, %dx
5:	inb %dx, %al
	testb $0x20, %al
	jz 5b
	movb (%ebx), %al
	movw $COM1, %dx
	outb %al, %dx
	incl %ebx
	jmp 4b
6:	movw $0xf4, %dx
	movl $2, %eax
	outl %eax, %dx
	movl $msg_bochs_shutdown, %ebx
	movw $0x8900, %dx
7:	movb (%ebx), %al
	testb %al, %al
	jz 8f
	outb %al, %dx
	incl %ebx
	jmp 7b
8:	cli
	hlt
	jmp 8b

	.code64
long_mode:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	movq $boot_stack_top, %rsp
	xorl %ebp, %ebp
	movl $MB2_BOOTLOADER_MAGIC, %edi	/* checked above */
	movl %esi, %esi			/* mbi, zero-extended */
	call kmain
9:	cli
	hlt
	jmp 9b

	.section .rodata
	.balign 8
boot_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: 32-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
	.quad 0x00af9a000000ffff	/* 0x18: 64-bit code */
boot_gdt_end:
boot_gdt_ptr:
	.short boot_gdt_end - boot_gdt - 1
	.long boot_gdt

msg_bad_magic:
	.asciz "mmuvisor: error: not started by a multiboot2 loader (bad magic in EAX); boot it with GRUB's 'multiboot2' command\r\n"
msg_no_lm:
	.asciz "mmuvisor: error: this CPU has no long mode (x86-64); mmuvisor needs a 64-bit CPU\r\n"
msg_bochs_shutdown:
	.asciz "Shutdown"

	/* In .data, not .bss: written before .bss is cleared. */
	.section .data
	.balign 8
	.globl boot_handover
boot_handover:				/* struct boot_handover in boot/handover.h */
	.long 0, 0, 0, 0

	.section .bss
	.balign 4096
	.globl boot_pml4
boot_pml4:
	.skip 4096
boot_pdpt:
	.skip 4096
boot_pd:
	.skip 4096 * 4
	.balign 16
boot_stack:
	.skip 16384
boot_stack_top:
