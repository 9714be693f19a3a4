// SPDX-License-Identifier: MIT
/*
 * The multiboot2 parser against well-formed BIOS- and UEFI-style
 * information, each kind of malformed tag, every truncation of a valid
 * block, and random corruption (ASan catches any read out of bounds).
 */
#include <stdint.h>

#include "boot/mb2.h"
#include "tests/host/check.h"

struct builder {
	uint8_t buf[16384] __attribute__((aligned(8)));
	uint32_t len;
};

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static void begin(struct builder *b)
{
	memset(b->buf, 0, sizeof(b->buf));
	b->len = 8;
}

/* Append a tag with @payload_len payload bytes; returns the payload. */
static uint8_t *tag(struct builder *b, uint32_t type, uint32_t payload_len)
{
	uint8_t *t = b->buf + b->len;

	put32(t, type);
	put32(t + 4, 8 + payload_len);
	b->len += (8 + payload_len + 7) & ~7u;
	return t + 8;
}

static void finish(struct builder *b)
{
	tag(b, MB2_TAG_END, 0);
	put32(b->buf, b->len);
}

static void add_string(struct builder *b, uint32_t type, const char *s)
{
	memcpy(tag(b, type, strlen(s) + 1), s, strlen(s) + 1);
}

static void add_mmap(struct builder *b, const uint64_t (*e)[3], unsigned int n)
{
	uint8_t *p = tag(b, MB2_TAG_MMAP, 8 + 24 * n);

	put32(p, 24);
	put32(p + 4, 0);
	for (unsigned int i = 0; i < n; i++) {
		put64(p + 8 + 24 * i, e[i][0]);
		put64(p + 8 + 24 * i + 8, e[i][1]);
		put32(p + 8 + 24 * i + 16, (uint32_t)e[i][2]);
	}
}

static void fix_checksum(uint8_t *p, size_t n, size_t at)
{
	uint8_t s = 0;

	p[at] = 0;
	for (size_t i = 0; i < n; i++)
		s += p[i];
	p[at] = (uint8_t)-s;
}

static void add_rsdp_v1(struct builder *b)
{
	uint8_t *r = tag(b, MB2_TAG_ACPI_OLD, 20);

	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "MMUVSR", 6);
	put32(r + 16, 0x7fe0000);
	fix_checksum(r, 20, 8);
}

/* Tag 8 as GRUB writes it: 32 bytes, then type 1's six colour bytes. */
static uint8_t *add_fb(struct builder *b, uint64_t addr, uint32_t pitch, uint32_t width,
		       uint32_t height, uint8_t bpp, uint8_t type)
{
	uint8_t *p = tag(b, MB2_TAG_FRAMEBUFFER, type == MB2_FB_RGB ? 30 : 24);

	put64(p, addr);
	put32(p + 8, pitch);
	put32(p + 12, width);
	put32(p + 16, height);
	p[20] = bpp;
	p[21] = type;
	if (type == MB2_FB_RGB) { /* x8r8g8b8, as OVMF's GOP gives it */
		p[24] = 16, p[25] = 8;
		p[26] = 8, p[27] = 8;
		p[28] = 0, p[29] = 8;
	}
	return p;
}

static const uint64_t bios_map[][3] = {
	{ 0x0, 0x9fc00, 1 },
	{ 0x9fc00, 0x400, 2 },
	{ 0x100000, 0x1fee0000, 1 },
	{ 0x1ffe0000, 0x20000, 3 },
};

static void build_bios_info(struct builder *b)
{
	begin(b);
	add_string(b, MB2_TAG_CMDLINE, "scenario=none cpus=2");
	add_string(b, MB2_TAG_LOADER_NAME, "GRUB 2.06");
	put32(tag(b, MB2_TAG_BASIC_MEMINFO, 8), 639);
	add_mmap(b, bios_map, 4);
	add_rsdp_v1(b);
	finish(b);
}

/* The BIOS block with OVMF's GOP framebuffer too (which BIOS never has; the parser does not care). */
static void build_fb_info(struct builder *b)
{
	build_bios_info(b);
	b->len -= 8; /* drop the end tag */
	add_fb(b, 0x80000000, 3200, 800, 600, 32, MB2_FB_RGB);
	finish(b);
}

static bool parse(struct builder *b, size_t avail, struct mb2_info *info, char *err)
{
	return mb2_parse(b->buf, avail, info, err, 256);
}

static struct mb2_info info; /* large: keep it off the stack */

static void test_bios_info(void)
{
	struct builder b;
	struct mem_range r[8];
	char err[256] = "";

	build_bios_info(&b);
	CHECK(parse(&b, b.len, &info, err));
	CHECK(strcmp(info.cmdline, "scenario=none cpus=2") == 0);
	CHECK(strcmp(info.loader_name, "GRUB 2.06") == 0);
	CHECK_EQ_U(info.nr_mmap, 4);
	CHECK_EQ_U(info.mmap[2].start, 0x100000);
	CHECK_EQ_U(info.mmap[2].end, 0x1ffe0000);
	CHECK_EQ_U(info.rsdp_len, 20);
	CHECK(memcmp(info.rsdp, "RSD PTR ", 8) == 0);
	CHECK(!info.booted_from_efi);
	CHECK_EQ_U(mb2_usable_ranges(&info, r, 8), 2);
	CHECK_EQ_U(r[1].end - r[1].start, 0x1fee0000);
}

static void test_efi_info(void)
{
	struct builder b;
	struct mem_range r[8];
	char err[256] = "";
	uint8_t *p, *rsdp;
	/* EFI types: 7 conventional, 4 boot services data, 0 reserved, 9 ACPI reclaim */
	static const uint64_t descs[][3] = {
		{ 7, 0x1000, 0x9f }, { 4, 0x100000, 0x100 }, { 0, 0x200000, 0x10 },
		{ 9, 0x7f00000, 0x10 }, { 7, 0x300000, 0x1000 },
	};

	begin(&b);
	add_string(&b, MB2_TAG_CMDLINE, "");
	tag(&b, MB2_TAG_EFI64, 8);
	p = tag(&b, MB2_TAG_EFI_MMAP, 8 + 48 * 5);
	put32(p, 48);
	put32(p + 4, 1);
	for (int i = 0; i < 5; i++) {
		put32(p + 8 + 48 * i, (uint32_t)descs[i][0]);
		put64(p + 8 + 48 * i + 8, descs[i][1]);
		put64(p + 8 + 48 * i + 24, descs[i][2]);
	}
	rsdp = tag(&b, MB2_TAG_ACPI_NEW, 36);
	memcpy(rsdp, "RSD PTR ", 8);
	rsdp[15] = 2;
	put32(rsdp + 20, 36);
	put64(rsdp + 24, 0x7f00000);
	fix_checksum(rsdp, 20, 8);
	fix_checksum(rsdp, 36, 32);
	finish(&b);

	CHECK(parse(&b, b.len, &info, err));
	CHECK(info.booted_from_efi);
	CHECK(info.has_efi_mmap && !info.has_mmap);
	CHECK_EQ_U(info.nr_efi_mmap, 5);
	CHECK_EQ_U(info.rsdp_len, 36);
	/* Without tag 6, conventional and boot-services memory is usable. */
	CHECK_EQ_U(mb2_usable_ranges(&info, r, 8), 3);
	CHECK_EQ_U(r[0].start, 0x1000);
	CHECK_EQ_U(r[0].end, 0x1000 + 0x9f * 4096);
	CHECK_EQ_U(r[1].start, 0x100000);
	CHECK_EQ_U(r[2].end, 0x300000 + 0x1000ull * 4096);
}

static void test_framebuffer(void)
{
	struct builder b;
	char err[256] = "";

	build_bios_info(&b);
	CHECK(parse(&b, b.len, &info, err));
	CHECK(!info.has_framebuffer && info.fb.addr == 0 && info.fb.width == 0);

	begin(&b);
	add_mmap(&b, bios_map, 4);
	add_fb(&b, 0x80000000, 3200, 800, 600, 32, MB2_FB_RGB);
	finish(&b);
	CHECK(parse(&b, b.len, &info, err));
	CHECK(info.has_framebuffer);
	CHECK_EQ_U(info.fb.addr, 0x80000000);
	CHECK_EQ_U(info.fb.pitch, 3200);
	CHECK_EQ_U(info.fb.width, 800);
	CHECK_EQ_U(info.fb.height, 600);
	CHECK_EQ_U(info.fb.bpp, 32);
	CHECK_EQ_U(info.fb.type, MB2_FB_RGB);
	CHECK(info.fb.red_pos == 16 && info.fb.red_size == 8 && info.fb.green_pos == 8 &&
	      info.fb.green_size == 8 && info.fb.blue_pos == 0 && info.fb.blue_size == 8);

	/* GRUB under BIOS with gfxpayload=text: VGA text at 0xb8000, 80x25 characters. */
	begin(&b);
	add_mmap(&b, bios_map, 4);
	add_fb(&b, 0xb8000, 160, 80, 25, 16, MB2_FB_EGA_TEXT);
	finish(&b);
	CHECK(parse(&b, b.len, &info, err));
	CHECK(info.has_framebuffer && info.fb.type == MB2_FB_EGA_TEXT && info.fb.red_size == 0);
	CHECK_EQ_U(info.fb.width, 80);

	/* Indexed: a palette of 2 colours. */
	begin(&b);
	add_mmap(&b, bios_map, 4);
	{
		uint8_t *p = tag(&b, MB2_TAG_FRAMEBUFFER, 24 + 2 + 6);

		put64(p, 0xa0000);
		put32(p + 8, 40);
		put32(p + 12, 320);
		put32(p + 16, 200);
		p[20] = 1;
		p[21] = MB2_FB_INDEXED;
		p[24] = 2;
	}
	finish(&b);
	CHECK(parse(&b, b.len, &info, err));
	CHECK(info.has_framebuffer && info.fb.type == MB2_FB_INDEXED && info.fb.bpp == 1);
}

/* Build a valid block, apply @mutate, and expect an error mentioning @needle. */
static void expect_error(void (*mutate)(struct builder *), const char *needle)
{
	struct builder b;
	char err[256] = "";

	mutate(&b);
	CHECK(!parse(&b, b.len, &info, err));
	CHECK_STR_CONTAINS(err, needle);
}

static void no_end_tag(struct builder *b)
{
	build_bios_info(b);
	b->len -= 8;
	put32(b->buf, b->len);
}

static void end_tag_too_big(struct builder *b)
{
	build_bios_info(b);
	put32(b->buf + b->len - 4, 16);
}

static void tag_smaller_than_header(struct builder *b)
{
	build_bios_info(b);
	put32(b->buf + 12, 4); /* the first tag's size */
}

static void tag_overruns(struct builder *b)
{
	build_bios_info(b);
	put32(b->buf + 12, 4000);
}

static void cmdline_unterminated(struct builder *b)
{
	begin(b);
	memcpy(tag(b, MB2_TAG_CMDLINE, 4), "abcd", 4);
	add_mmap(b, bios_map, 4);
	finish(b);
}

static void mmap_bad_entry_size(struct builder *b)
{
	build_bios_info(b);
	for (uint32_t off = 8; off < b->len;) {
		uint32_t type, size;

		memcpy(&type, b->buf + off, 4);
		memcpy(&size, b->buf + off + 4, 4);
		if (type == MB2_TAG_MMAP) {
			put32(b->buf + off + 8, 20);
			return;
		}
		off += (size + 7) & ~7u;
	}
}

static void mmap_partial_entry(struct builder *b)
{
	begin(b);
	put32(tag(b, MB2_TAG_MMAP, 8 + 24 + 8), 24);
	finish(b);
}

static void mmap_wraps(struct builder *b)
{
	static const uint64_t wrap[][3] = { { 0xfffffffffffff000ull, 0x2000, 1 } };

	begin(b);
	add_mmap(b, wrap, 1);
	finish(b);
}

static void no_memory_map(struct builder *b)
{
	begin(b);
	add_string(b, MB2_TAG_CMDLINE, "scenario=none");
	finish(b);
}

static void rsdp_bad_checksum(struct builder *b)
{
	build_bios_info(b);
	for (uint32_t off = 8; off < b->len; off += 8)
		if (!memcmp(b->buf + off, "RSD PTR ", 8))
			b->buf[off + 9] ^= 0xff;
}

static void rsdp_too_short(struct builder *b)
{
	begin(b);
	add_mmap(b, bios_map, 4);
	memcpy(tag(b, MB2_TAG_ACPI_NEW, 20), "RSD PTR ", 8);
	finish(b);
}

static void module_backwards(struct builder *b)
{
	uint8_t *m;

	begin(b);
	add_mmap(b, bios_map, 4);
	m = tag(b, MB2_TAG_MODULE, 8 + 6);
	put32(m, 0x400000);
	put32(m + 4, 0x300000);
	memcpy(m + 8, "guest", 6);
	finish(b);
}

static void boot_services_running(struct builder *b)
{
	begin(b);
	add_mmap(b, bios_map, 4);
	tag(b, MB2_TAG_EFI_BS_NOT_TERMINATED, 0);
	finish(b);
}

/* Two tag-6 maps of 200 entries: each fits on its own, the two do not. */
static void two_mmaps_too_many(struct builder *b)
{
	static uint64_t many[200][3];

	for (unsigned int i = 0; i < 200; i++) {
		many[i][0] = 0x100000ull + i * 0x1000ull;
		many[i][1] = 0x1000;
		many[i][2] = 1;
	}
	begin(b);
	add_mmap(b, (const uint64_t (*)[3])many, 200);
	add_mmap(b, (const uint64_t (*)[3])many, 200);
	finish(b);
}

static void total_too_small(struct builder *b)
{
	begin(b);
	b->len = 8;
	put32(b->buf, 8);
}

static void fb_begin(struct builder *b)
{
	begin(b);
	add_mmap(b, bios_map, 4);
}

static void fb_short(struct builder *b)
{
	fb_begin(b);
	tag(b, MB2_TAG_FRAMEBUFFER, 16);
	finish(b);
}

static void fb_rgb_short(struct builder *b)
{
	fb_begin(b);
	put32(add_fb(b, 0x80000000, 3200, 800, 600, 32, MB2_FB_RGB) - 4, 8 + 26);
	finish(b);
}

static void fb_bad_type(struct builder *b)
{
	fb_begin(b);
	add_fb(b, 0x80000000, 3200, 800, 600, 32, 3);
	finish(b);
}

static void fb_zero_height(struct builder *b)
{
	fb_begin(b);
	add_fb(b, 0x80000000, 3200, 800, 0, 32, MB2_FB_RGB);
	finish(b);
}

static void fb_zero_bpp(struct builder *b)
{
	fb_begin(b);
	add_fb(b, 0x80000000, 3200, 800, 600, 0, MB2_FB_RGB);
	finish(b);
}

static void fb_pitch_short(struct builder *b)
{
	fb_begin(b);
	add_fb(b, 0x80000000, 2400, 800, 600, 32, MB2_FB_RGB);
	finish(b);
}

static void fb_wraps(struct builder *b)
{
	fb_begin(b);
	add_fb(b, 0xffffffffffff0000ull, 3200, 800, 600, 32, MB2_FB_RGB);
	finish(b);
}

static void fb_field_outside(struct builder *b)
{
	fb_begin(b);
	add_fb(b, 0x80000000, 1600, 800, 600, 16, MB2_FB_RGB)[24] = 12; /* red at 12, 8 bits */
	finish(b);
}

static void fb_palette_short(struct builder *b)
{
	uint8_t *p;

	fb_begin(b);
	p = tag(b, MB2_TAG_FRAMEBUFFER, 26); /* 256 colours in a 34-byte tag */
	put64(p, 0xa0000);
	put32(p + 8, 320);
	put32(p + 12, 320);
	put32(p + 16, 200);
	p[20] = 8;
	p[21] = MB2_FB_INDEXED;
	p[24] = 0, p[25] = 1;
	finish(b);
}

static void fb_twice(struct builder *b)
{
	fb_begin(b);
	add_fb(b, 0x80000000, 3200, 800, 600, 32, MB2_FB_RGB);
	add_fb(b, 0x80000000, 3200, 800, 600, 32, MB2_FB_RGB);
	finish(b);
}

static void test_malformed_framebuffer(void)
{
	expect_error(fb_short, "framebuffer tag (8) is 24 bytes, shorter than its 32-byte header");
	expect_error(fb_rgb_short, "of type 1 (RGB) is 34 bytes; its colour fields need 38");
	expect_error(fb_bad_type, "has type 3; it must be 0 (indexed), 1 (RGB) or 2 (EGA text)");
	expect_error(fb_zero_height, "is 800x0; neither may be 0");
	expect_error(fb_zero_bpp, "has 0 bits per pixel");
	expect_error(fb_pitch_short, "has pitch 2400, less than the 3200 bytes");
	expect_error(fb_wraps, "wraps around the address space");
	expect_error(fb_field_outside, "the red field (position 12, size 8) does not fit in 16 bits");
	expect_error(fb_palette_short, "its palette of 256 colours needs 802");
	expect_error(fb_twice, "a second framebuffer tag (8)");
}

static void test_malformed_tags(void)
{
	expect_error(no_end_tag, "no end tag");
	expect_error(end_tag_too_big, "tag type 0");
	expect_error(tag_smaller_than_header, "smaller than its 8-byte header");
	expect_error(tag_overruns, "bytes are left");
	expect_error(cmdline_unterminated, "not NUL-terminated");
	expect_error(mmap_bad_entry_size, "entry_size 20");
	expect_error(mmap_partial_entry, "not a whole number");
	expect_error(mmap_wraps, "wraps around");
	expect_error(no_memory_map, "no memory map");
	expect_error(rsdp_bad_checksum, "checksum");
	expect_error(rsdp_too_short, "needs 36");
	expect_error(module_backwards, "before it starts");
	expect_error(boot_services_running, "boot services");
	expect_error(total_too_small, "total_size is 8");
	expect_error(two_mmaps_too_many,
		     "memory map tag (6) has 200 entries after 200 from an earlier one");
}

static void test_every_truncation_fails_cleanly(void)
{
	struct builder b;
	char err[256];
	unsigned int failures = 0;

	build_fb_info(&b);
	CHECK(mb2_parse(b.buf, b.len, &info, err, sizeof(err)) && info.has_framebuffer);
	for (uint32_t avail = 0; avail < b.len; avail++) {
		/* A heap copy of exactly avail bytes, so ASan sees any overread. */
		uint8_t *copy = malloc(avail ? avail : 1);

		memcpy(copy, b.buf, avail);
		failures += !mb2_parse(copy, avail, &info, err, sizeof(err));
		free(copy);
	}
	CHECK_EQ_U(failures, b.len);
	/* The same block, shortened by lowering total_size: must not parse. */
	for (uint32_t total = 0; total < b.len; total += 4) {
		put32(b.buf, total);
		CHECK(!mb2_parse(b.buf, b.len, &info, err, sizeof(err)));
	}
}

static void test_random_corruption_never_overreads(void)
{
	struct builder b;
	char err[256];
	unsigned int seed = 12345, parsed = 0;

	for (int round = 0; round < 20000; round++) {
		uint8_t *copy;

		if (round & 1)
			build_fb_info(&b);
		else
			build_bios_info(&b);
		for (int k = 0; k < 3; k++) {
			seed = seed * 1103515245 + 12345;
			b.buf[(seed >> 8) % b.len] ^= (uint8_t)(1u << ((seed >> 4) & 7));
		}
		copy = malloc(b.len);
		memcpy(copy, b.buf, b.len);
		parsed += mb2_parse(copy, b.len, &info, err, sizeof(err));
		free(copy);
	}
	/* Some flips hit bytes the parser ignores; most must be caught or harmless. */
	CHECK(parsed > 0);
}

int main(void)
{
	RUN_TEST(test_bios_info);
	RUN_TEST(test_efi_info);
	RUN_TEST(test_framebuffer);
	RUN_TEST(test_malformed_tags);
	RUN_TEST(test_malformed_framebuffer);
	RUN_TEST(test_every_truncation_fails_cleanly);
	RUN_TEST(test_random_corruption_never_overreads);
	return check_summary("mb2");
}
