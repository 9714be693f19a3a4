// SPDX-License-Identifier: MIT
// aout: a multiboot v1 header with the a.out kludge (flag 16): the loader
// takes the load addresses from the header, not from an ELF. The image is
// flat (objcopy -O binary), so no ELF path could load it.

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010002 // a.out kludge, memory information

	.section .multiboot, "a"
	.balign 4
header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
	.long header       // header_addr: where this header lands
	.long __load_start // load_addr: the file's first byte
	.long _edata       // load_end_addr: text and data from the file
	.long _end         // bss_end_addr: zeros up to here
	.long _start       // entry_addr

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
