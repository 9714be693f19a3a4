// SPDX-License-Identifier: MIT
// Multiboot v1 header and entry. The loader starts us in 32-bit protected
// mode, paging off, EAX = 0x2BADB002, EBX = the multiboot information.

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000002 // bit 1: memory information; no a.out kludge (ELF)

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.globl _start
_start:
	cli
	cld
	mov $boot_stack_top, %esp
	push %ebx
	push %eax
	call lib_start
1:	hlt
	jmp 1b

// setjmp/longjmp: callee-saved registers, esp and the return eip.
	.globl setjmp
setjmp:
	mov 4(%esp), %eax
	mov %ebx, 0(%eax)
	mov %esi, 4(%eax)
	mov %edi, 8(%eax)
	mov %ebp, 12(%eax)
	lea 4(%esp), %ecx
	mov %ecx, 16(%eax)
	mov (%esp), %ecx
	mov %ecx, 20(%eax)
	xor %eax, %eax
	ret

	.globl longjmp
longjmp:
	mov 4(%esp), %edx
	mov 8(%esp), %eax
	mov $0x10, %cx
	mov %cx, %ds
	mov %cx, %es
	mov %cx, %fs
	mov %cx, %gs
	mov %cx, %ss
	mov 0(%edx), %ebx
	mov 4(%edx), %esi
	mov 8(%edx), %edi
	mov 12(%edx), %ebp
	mov 16(%edx), %esp
	// A trap from CPL3 or from a stac window may leave AC set: clear it
	// without clac, which faults where SMAP is not offered.
	pushf
	andl $~(1 << 18), (%esp)
	popf
	jmp *20(%edx)

// enter_user(eip, esp, eax, ebx): iret to CPL3 with IF = 0, IOPL = 0.
	.globl enter_user
enter_user:
	mov 4(%esp), %ecx // eip
	mov 8(%esp), %edx // esp
	mov 12(%esp), %eax
	mov 16(%esp), %ebx
	pushl $0x2b
	push %edx
	pushl $0x2
	pushl $0x23
	push %ecx
	mov $0x2b, %dx
	mov %dx, %ds
	mov %dx, %es
	iret

	.bss
	.balign 16
boot_stack:
	.skip 16384
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
