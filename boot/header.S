// SPDX-License-Identifier: MIT
/*
 * The multiboot2 header (multiboot2 spec, section 3.1). GRUB finds it in the
 * first 32 KiB of the image, 8-byte aligned. We ask for nothing optional:
 * GRUB then leaves EFI boot services and enters us in 32-bit protected mode
 * with paging off, on BIOS and UEFI alike.
 */
#define MB2_MAGIC 0xe85250d6
#define MB2_ARCH_I386 0

	.section .multiboot, "a"
	.balign 8
mb2_header:
	.long MB2_MAGIC
	.long MB2_ARCH_I386
	.long mb2_header_end - mb2_header
	.long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
	/* end tag: type 0, flags 0, size 8 */
	.balign 8
	.short 0
	.short 0
	.long 8
mb2_header_end:
