// SPDX-License-Identifier: MIT
#include "boot/mb2.h"
#include "lib/printf.h"

#define EFI_BOOT_SERVICES_CODE 3
#define EFI_BOOT_SERVICES_DATA 4
#define EFI_CONVENTIONAL_MEMORY 7
#define EFI_DESC_MIN_SIZE 40

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static bool is_nul_terminated(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\0')
			return true;
	return false;
}

static uint8_t byte_sum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	while (n--)
		sum += *p++;
	return sum;
}

#define FAIL(...)                                          \
	do {                                               \
		fmt_snprintf(err, err_len, __VA_ARGS__);   \
		return false;                              \
	} while (0)

static bool decode_mmap_entry(const uint8_t *e, uint32_t i, struct mb2_mem_entry *m, char *err,
			      size_t err_len)
{
	uint64_t start = get64(e), len = get64(e + 8);

	if (start + len < start)
		FAIL("memory map entry %u wraps around the address space (base 0x%lx, length 0x%lx)",
		     i, (unsigned long)start, (unsigned long)len);
	*m = (struct mb2_mem_entry){ .start = start, .end = start + len, .type = get32(e + 16) };
	return true;
}

static bool decode_efi_desc(const uint8_t *d, uint32_t i, struct mb2_mem_entry *m, char *err,
			    size_t err_len)
{
	uint64_t start = get64(d + 8), pages = get64(d + 24);

	if (pages > (UINT64_MAX - start) >> 12)
		FAIL("EFI memory descriptor %u wraps around the address space", i);
	*m = (struct mb2_mem_entry){
		.start = start, .end = start + (pages << 12), .type = get32(d)
	};
	return true;
}

/*
 * The two memory-map tags have one layout: a 16-byte header whose word at
 * 8 is the size of each entry, then the entries. What tells them apart:
 */
struct map_tag {
	const char *name;       /* in messages: "<name> tag (<type>)" */
	uint32_t type;
	const char *size_field; /* the header's name for the entry size */
	const char *entries;    /* what its entries are called */
	uint32_t min_entry;     /* the smallest entry size that holds what decode reads */
	bool whole;             /* the entries must fill the tag exactly */
	bool (*decode)(const uint8_t *e, uint32_t i, struct mb2_mem_entry *m, char *err,
		       size_t err_len);
};

static const struct map_tag mmap_tag = {
	.name = "memory map", .type = MB2_TAG_MMAP, .size_field = "entry_size",
	.entries = "entries", .min_entry = 24, .whole = true, .decode = decode_mmap_entry,
};
static const struct map_tag efi_mmap_tag = {
	.name = "EFI memory map", .type = MB2_TAG_EFI_MMAP, .size_field = "descriptor_size",
	.entries = "descriptors", .min_entry = EFI_DESC_MIN_SIZE, .whole = false,
	.decode = decode_efi_desc,
};

/* Check a memory-map tag and append its entries to map[*nr...]; *has: it was there. */
static bool parse_map(const struct map_tag *t, const uint8_t *tag, uint32_t size,
		      struct mb2_mem_entry *map, unsigned int *nr, bool *has, char *err,
		      size_t err_len)
{
	uint32_t entry_size, n;

	if (size < 16)
		FAIL("%s tag (%u) is %u bytes, shorter than its 16-byte header", t->name, t->type,
		     size);
	entry_size = get32(tag + 8);
	if (entry_size < t->min_entry || entry_size % 8)
		FAIL("%s tag (%u) has %s %u; it must be a multiple of 8, at least %u", t->name,
		     t->type, t->size_field, entry_size, t->min_entry);
	if (t->whole && (size - 16) % entry_size)
		FAIL("%s tag (%u) holds %u bytes of entries, not a whole number of %u-byte entries",
		     t->name, t->type, size - 16, entry_size);
	n = (size - 16) / entry_size;
	if (n > MB2_MAX_MEM_ENTRIES)
		FAIL("%s tag (%u) has %u %s; at most %u are supported", t->name, t->type, n,
		     t->entries, MB2_MAX_MEM_ENTRIES);
	/* A second tag of the same type appends: the two together must fit. */
	if (n > MB2_MAX_MEM_ENTRIES - *nr)
		FAIL("%s tag (%u) has %u %s after %u from an earlier one; at most %u are supported in all",
		     t->name, t->type, n, t->entries, *nr, MB2_MAX_MEM_ENTRIES);
	for (uint32_t i = 0; i < n; i++, (*nr)++)
		if (!t->decode(tag + 16 + (size_t)i * entry_size, i, &map[*nr], err, err_len))
			return false;
	*has = true;
	return true;
}

static bool parse_rsdp(const uint8_t *tag, uint32_t size, uint32_t type,
		       struct mb2_info *out, char *err, size_t err_len)
{
	const uint8_t *rsdp = tag + 8;
	uint32_t len = size - 8, need = type == MB2_TAG_ACPI_OLD ? 20 : 36;

	if (len < need)
		FAIL("ACPI RSDP tag (%u) holds %u bytes; an RSDP v%u needs %u", type, len,
		     type == MB2_TAG_ACPI_OLD ? 1 : 2, need);
	if (get32(rsdp) != 0x20445352 || get32(rsdp + 4) != 0x20525450) /* "RSD PTR " */
		FAIL("ACPI RSDP tag (%u) does not start with the signature \"RSD PTR \"", type);
	if (byte_sum(rsdp, 20))
		FAIL("ACPI RSDP tag (%u) fails its checksum", type);
	if (need == 36 && byte_sum(rsdp, 36))
		FAIL("ACPI RSDP tag (%u) fails its extended checksum", type);
	/* Prefer the v2 RSDP (XSDT) when the loader gives both. */
	if (out->rsdp_len < need) {
		for (uint32_t i = 0; i < need; i++)
			out->rsdp[i] = rsdp[i];
		out->rsdp_len = need;
	}
	return true;
}

static bool check_rgb_field(const char *name, uint8_t pos, uint8_t size, uint8_t bpp,
			    char *err, size_t err_len)
{
	if ((unsigned int)pos + size > bpp)
		FAIL("framebuffer tag (8): the %s field (position %u, size %u) does not fit in %u bits per pixel",
		     name, pos, size, bpp);
	return true;
}

/* Tag 8: the layout is drawn in mb2.h. Copied only once every check has passed. */
static bool parse_framebuffer(const uint8_t *tag, uint32_t size, struct mb2_info *out,
			      char *err, size_t err_len)
{
	struct mb2_framebuffer fb;
	uint64_t row;

	if (size < 32)
		FAIL("framebuffer tag (8) is %u bytes, shorter than its 32-byte header", size);
	if (out->has_framebuffer)
		FAIL("a second framebuffer tag (8); a loader passes one");
	fb = (struct mb2_framebuffer){
		.addr = get64(tag + 8), .pitch = get32(tag + 16), .width = get32(tag + 20),
		.height = get32(tag + 24), .bpp = tag[28], .type = tag[29],
	};
	if (fb.type > MB2_FB_EGA_TEXT)
		FAIL("framebuffer tag (8) has type %u; it must be 0 (indexed), 1 (RGB) or 2 (EGA text)",
		     fb.type);
	if (!fb.width || !fb.height)
		FAIL("framebuffer tag (8) is %ux%u; neither may be 0", fb.width, fb.height);
	if (!fb.bpp || fb.bpp > 32)
		FAIL("framebuffer tag (8) has %u bits per pixel; it must be 1 to 32", fb.bpp);
	row = ((uint64_t)fb.width * fb.bpp + 7) / 8;
	if (fb.pitch < row)
		FAIL("framebuffer tag (8) has pitch %u, less than the %lu bytes of a %u-pixel row at %u bits per pixel",
		     fb.pitch, (unsigned long)row, fb.width, fb.bpp);
	if ((uint64_t)fb.pitch * fb.height > UINT64_MAX - fb.addr)
		FAIL("framebuffer tag (8) at 0x%lx, %u rows of %u bytes, wraps around the address space",
		     (unsigned long)fb.addr, fb.height, fb.pitch);
	if (fb.type == MB2_FB_INDEXED) {
		uint32_t colours = size < 34 ? 0 : (uint32_t)tag[32] | (uint32_t)tag[33] << 8;

		if (size < 34 || size - 34 < colours * 3)
			FAIL("framebuffer tag (8) of type 0 (indexed) is %u bytes; its palette of %u colours needs %u",
			     size, colours, 34 + colours * 3);
	}
	if (fb.type == MB2_FB_RGB) {
		if (size < 38)
			FAIL("framebuffer tag (8) of type 1 (RGB) is %u bytes; its colour fields need 38",
			     size);
		fb.red_pos = tag[32], fb.red_size = tag[33];
		fb.green_pos = tag[34], fb.green_size = tag[35];
		fb.blue_pos = tag[36], fb.blue_size = tag[37];
		if (!check_rgb_field("red", fb.red_pos, fb.red_size, fb.bpp, err, err_len) ||
		    !check_rgb_field("green", fb.green_pos, fb.green_size, fb.bpp, err, err_len) ||
		    !check_rgb_field("blue", fb.blue_pos, fb.blue_size, fb.bpp, err, err_len))
			return false;
	}
	out->fb = fb;
	out->has_framebuffer = true;
	return true;
}

static bool parse_tag(const uint8_t *tag, uint32_t type, uint32_t size,
		      struct mb2_info *out, char *err, size_t err_len)
{
	switch (type) {
	case MB2_TAG_CMDLINE:
	case MB2_TAG_LOADER_NAME:
		if (!is_nul_terminated(tag + 8, size - 8))
			FAIL("%s tag (%u) is not NUL-terminated",
			     type == MB2_TAG_CMDLINE ? "command line" : "boot loader name", type);
		if (type == MB2_TAG_CMDLINE)
			out->cmdline = (const char *)tag + 8;
		else
			out->loader_name = (const char *)tag + 8;
		return true;
	case MB2_TAG_MODULE: {
		uint64_t start, end;

		if (size < 17 || !is_nul_terminated(tag + 16, size - 16))
			FAIL("module tag (3) is %u bytes or its string is not NUL-terminated", size);
		if (out->nr_modules == MB2_MAX_MODULES)
			FAIL("more than %u modules; load fewer module2 lines", MB2_MAX_MODULES);
		start = get32(tag + 8);
		end = get32(tag + 12);
		if (end < start)
			FAIL("module %u ends (0x%lx) before it starts (0x%lx)", out->nr_modules,
			     (unsigned long)end, (unsigned long)start);
		out->modules[out->nr_modules++] = (struct mb2_module){
			.start = start, .end = end, .cmdline = (const char *)tag + 16
		};
		return true;
	}
	case MB2_TAG_BASIC_MEMINFO:
		if (size < 16)
			FAIL("basic memory information tag (4) is %u bytes, not 16", size);
		out->has_basic_meminfo = true;
		out->mem_lower_kib = get32(tag + 8);
		out->mem_upper_kib = get32(tag + 12);
		return true;
	case MB2_TAG_MMAP:
		return parse_map(&mmap_tag, tag, size, out->mmap, &out->nr_mmap, &out->has_mmap, err,
				 err_len);
	case MB2_TAG_EFI_MMAP:
		return parse_map(&efi_mmap_tag, tag, size, out->efi_mmap, &out->nr_efi_mmap,
				 &out->has_efi_mmap, err, err_len);
	case MB2_TAG_ACPI_OLD:
	case MB2_TAG_ACPI_NEW:
		return parse_rsdp(tag, size, type, out, err, err_len);
	case MB2_TAG_FRAMEBUFFER:
		return parse_framebuffer(tag, size, out, err, err_len);
	case MB2_TAG_EFI64:
		out->booted_from_efi = true;
		return true;
	case MB2_TAG_EFI_BS_NOT_TERMINATED:
		FAIL("the loader left EFI boot services running (tag 18), which mmuvisor never asks for");
	default:
		return true; /* tags we do not use */
	}
}

bool mb2_parse(const void *info, size_t avail, struct mb2_info *out, char *err,
	       size_t err_len)
{
	const uint8_t *base = info;
	uint32_t total, off;

	*out = (struct mb2_info){ .cmdline = "", .loader_name = "" };
	if (avail < 8)
		FAIL("the information is %zu bytes; even its 8-byte header does not fit", avail);
	total = get32(base);
	if (total < 16)
		FAIL("total_size is %u; the header and the end tag alone need 16", total);
	if (total > MB2_INFO_MAX_SIZE)
		FAIL("total_size is %u bytes, more than the %u a loader could plausibly pass",
		     total, MB2_INFO_MAX_SIZE);
	if (total > avail)
		FAIL("total_size is %u but only %zu bytes are there: the information is truncated",
		     total, avail);
	out->total_size = total;

	for (off = 8;;) {
		uint32_t type, size;

		if (total - off < 8)
			FAIL("no end tag: the tags run out at offset %u of %u", off, total);
		type = get32(base + off);
		size = get32(base + off + 4);
		if (size < 8)
			FAIL("tag type %u at offset %u has size %u, smaller than its 8-byte header",
			     type, off, size);
		if (size > total - off)
			FAIL("tag type %u at offset %u has size %u but only %u bytes are left",
			     type, off, size, total - off);
		if (type == MB2_TAG_END) {
			if (size != 8)
				FAIL("end tag at offset %u has size %u, not 8", off, size);
			break;
		}
		if (!parse_tag(base + off, type, size, out, err, err_len))
			return false;
		off += (size + 7) & ~7u;
		if (off > total)
			FAIL("tag type %u's padding runs past total_size %u", type, total);
	}
	if (!out->has_mmap && !out->has_efi_mmap)
		FAIL("no memory map (tag 6 or tag 17); boot mmuvisor with GRUB 2's multiboot2 command");
	return true;
}

static bool efi_type_is_usable(uint32_t type)
{
	return type == EFI_CONVENTIONAL_MEMORY || type == EFI_BOOT_SERVICES_CODE ||
	       type == EFI_BOOT_SERVICES_DATA;
}

unsigned int mb2_usable_ranges(const struct mb2_info *info, struct mem_range *out,
			       unsigned int max)
{
	unsigned int n = 0;

	if (info->has_mmap) {
		for (unsigned int i = 0; i < info->nr_mmap && n < max; i++)
			if (info->mmap[i].type == MB2_MMAP_AVAILABLE &&
			    info->mmap[i].end > info->mmap[i].start)
				out[n++] = (struct mem_range){ info->mmap[i].start,
							       info->mmap[i].end };
		return n;
	}
	for (unsigned int i = 0; i < info->nr_efi_mmap && n < max; i++)
		if (efi_type_is_usable(info->efi_mmap[i].type) &&
		    info->efi_mmap[i].end > info->efi_mmap[i].start)
			out[n++] = (struct mem_range){ info->efi_mmap[i].start,
						       info->efi_mmap[i].end };
	return n;
}

static struct mb2_info boot_info; /* see boot_mb2_parse() */

bool boot_mb2_parse(uint64_t mbi_pa, char *err, size_t err_len)
{
	return mb2_parse((const void *)(uintptr_t)mbi_pa, MB2_INFO_MAX_SIZE, &boot_info, err,
			 err_len);
}

const struct mb2_info *boot_mb2(void)
{
	return &boot_info;
}
