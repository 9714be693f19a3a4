// SPDX-License-Identifier: MIT
// mb2-efi.elf: a multiboot2 kernel that requires the EFI boot services tag
// (type 7, its optional flag clear). mmuvisor's PC has no EFI: the loader
// must refuse it.

#define MB2_MAGIC 0xE85250D6

	.section .multiboot, "a"
	.balign 8
header:
	.long MB2_MAGIC
	.long 0 // i386
	.long header_end - header
	.long -(MB2_MAGIC + (header_end - header))
	.balign 8
	.short 7, 0 // EFI boot services, required
	.long 8
	.balign 8
	.short 0, 0 // end
	.long 8
header_end:

	.text
	.globl _start
_start:
	cli
1:	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
