// SPDX-License-Identifier: MIT
// mb2: a multiboot2 ELF32 kernel. Its header asks for the command line,
// the basic memory information and the memory map, none optional.

#define MB2_MAGIC 0xE85250D6

	.section .multiboot, "a"
	.balign 8
header:
	.long MB2_MAGIC
	.long 0 // i386
	.long header_end - header
	.long -(MB2_MAGIC + (header_end - header))
	.balign 8
	.short 1, 0 // information request, required
	.long 20
	.long 1, 4, 6
	.balign 8
	.short 0, 0 // end
	.long 8
header_end:

	.text
	.globl _start
_start:
	cli
	cld
	mov $stack_top, %esp
	push %ebx
	push %eax
	call kernel_main
1:	hlt
	jmp 1b

	.bss
	.balign 16
	.skip 8192
stack_top:

	.section .note.GNU-stack, "", @progbits
