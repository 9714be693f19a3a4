// SPDX-License-Identifier: MIT
/*
 * The multiboot2 header (multiboot2 spec, section 3.1). GRUB finds it in the
 * first 32 KiB of the image, 8-byte aligned. We ask for no EFI entry point
 * and no boot services: GRUB leaves EFI boot services and enters us in
 * 32-bit protected mode with paging off, on BIOS and UEFI alike. The one
 * request is an optional framebuffer, of any size (for console=fb): under
 * UEFI GRUB hands over the GOP's in tag 8; under BIOS tools/mkiso keeps
 * VGA text mode (gfxpayload=text), which tag 8 then describes as EGA text.
 */
#define MB2_MAGIC 0xe85250d6
#define MB2_ARCH_I386 0
#define MB2_HEADER_TAG_FRAMEBUFFER 5
#define MB2_HEADER_TAG_OPTIONAL 1

	.section .multiboot, "a"
	.balign 8
mb2_header:
	.long MB2_MAGIC
	.long MB2_ARCH_I386
	.long mb2_header_end - mb2_header
	.long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
	/* framebuffer tag: type 5, optional, size 20; width, height, depth 0: no preference */
	.balign 8
	.short MB2_HEADER_TAG_FRAMEBUFFER
	.short MB2_HEADER_TAG_OPTIONAL
	.long 20
	.long 0
	.long 0
	.long 0
	/* end tag: type 0, flags 0, size 8 */
	.balign 8
	.short 0
	.short 0
	.long 8
mb2_header_end:
