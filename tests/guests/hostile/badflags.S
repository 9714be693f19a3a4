// SPDX-License-Identifier: MIT
// badflags.elf: a multiboot v1 kernel whose header requires feature bit 5,
// which no loader defines (bits 0-15 are "must understand"), with a correct
// checksum. The loader must refuse it rather than start it.

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000022 // memory information, and bit 5

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
