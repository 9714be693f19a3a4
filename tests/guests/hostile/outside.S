// SPDX-License-Identifier: MIT
// outside.elf: a well-formed multiboot v1 ELF32 kernel linked at 1 GiB, past
// the RAM of a 256 MiB guest. The loader must refuse it, naming the segment.

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000002 // memory information; ELF, no a.out kludge

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.globl _start
_start:
	cli
1:	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
