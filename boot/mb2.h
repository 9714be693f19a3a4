// SPDX-License-Identifier: MIT
/*
 * The multiboot2 boot information (multiboot2 spec, section 3.6), checked
 * and copied into one flat struct. The parser is pure C with no hypervisor
 * dependencies, so tests/host runs it on malformed and truncated inputs.
 *
 *   +0  u32 total_size     +4 u32 reserved
 *   +8  tags, each 8-byte aligned:  u32 type, u32 size (header included)
 *       ... ending with type 0, size 8
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/page_alloc.h"

#define MB2_TAG_END 0
#define MB2_TAG_CMDLINE 1
#define MB2_TAG_LOADER_NAME 2
#define MB2_TAG_MODULE 3
#define MB2_TAG_BASIC_MEMINFO 4
#define MB2_TAG_MMAP 6
#define MB2_TAG_FRAMEBUFFER 8
#define MB2_TAG_EFI64 12
#define MB2_TAG_ACPI_OLD 14
#define MB2_TAG_ACPI_NEW 15
#define MB2_TAG_EFI_MMAP 17
#define MB2_TAG_EFI_BS_NOT_TERMINATED 18

#define MB2_MMAP_AVAILABLE 1
#define MB2_MMAP_ACPI_RECLAIMABLE 3
#define MB2_MMAP_ACPI_NVS 4

#define MB2_MAX_MODULES 16
#define MB2_MAX_MEM_ENTRIES 256
#define MB2_INFO_MAX_SIZE (1u << 20) /* anything larger is corrupt */

struct mb2_mem_entry {
	uint64_t start;
	uint64_t end; /* exclusive */
	uint32_t type; /* multiboot2 type for tag 6, EFI type for tag 17 */
};

struct mb2_module {
	uint64_t start;
	uint64_t end; /* exclusive */
	const char *cmdline;
};

/*
 * The framebuffer tag (8), as GRUB writes it (multiboot2 spec 3.6.12):
 *   +8  u64 addr   +16 u32 pitch (bytes a row)   +20 u32 width   +24 u32 height
 *   +28 u8 bpp     +29 u8 type                   +30 u16 reserved
 *   type 0 (indexed): +32 u16 palette colours, then 3 bytes each (r, g, b)
 *   type 1 (RGB):     +32 u8 red position, red size, green ..., blue ... (38 in all)
 *   type 2 (EGA text): nothing more; width and height count characters
 */
#define MB2_FB_INDEXED 0
#define MB2_FB_RGB 1
#define MB2_FB_EGA_TEXT 2

struct mb2_framebuffer {
	uint64_t addr;  /* physical; addr + pitch * height does not wrap */
	uint32_t pitch; /* at least width * bpp / 8 (rounded up) */
	uint32_t width, height; /* pixels, or characters for EGA text; never 0 */
	uint8_t bpp;    /* 1..32 */
	uint8_t type;   /* MB2_FB_* */
	/* RGB only (0 otherwise): each field lies within bpp. */
	uint8_t red_pos, red_size, green_pos, green_size, blue_pos, blue_size;
};

struct mb2_info {
	uint32_t total_size;
	const char *cmdline;     /* "" when the tag is absent */
	const char *loader_name; /* "" when the tag is absent */
	bool has_basic_meminfo;
	uint32_t mem_lower_kib, mem_upper_kib;

	unsigned int nr_mmap; /* tag 6 */
	struct mb2_mem_entry mmap[MB2_MAX_MEM_ENTRIES];
	unsigned int nr_efi_mmap; /* tag 17 */
	struct mb2_mem_entry efi_mmap[MB2_MAX_MEM_ENTRIES];
	bool has_mmap, has_efi_mmap, booted_from_efi;

	unsigned int nr_modules;
	struct mb2_module modules[MB2_MAX_MODULES];

	unsigned int rsdp_len;  /* 0: no ACPI tag; 20: RSDP v1; >= 36: v2+ */
	uint8_t rsdp[36];       /* a copy: the tag may be overwritten later */

	bool has_framebuffer;   /* a well-formed tag 8; all of fb is 0 without one */
	struct mb2_framebuffer fb;
};

/*
 * Check and copy the information at @info, of which at most @avail bytes are
 * readable. On failure returns false and writes one plain sentence into
 * @err: what is wrong and where.
 */
bool mb2_parse(const void *info, size_t avail, struct mb2_info *out,
	       char *err, size_t err_len);

/*
 * The usable RAM ranges: tag 6's available entries, or, without tag 6, the
 * EFI map's conventional and boot-services memory (GRUB has left boot
 * services). Returns the number written (at most @max).
 */
unsigned int mb2_usable_ranges(const struct mb2_info *info,
			       struct mem_range *out, unsigned int max);

/*
 * This boot's information: parsed once on the BSP by boot_mb2_parse (from
 * init/main.c) before anything else reads it, read-only afterwards.
 */
bool boot_mb2_parse(uint64_t mbi_pa, char *err, size_t err_len);
const struct mb2_info *boot_mb2(void);
