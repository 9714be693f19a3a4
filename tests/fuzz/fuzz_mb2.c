// SPDX-License-Identifier: MIT
/*
 * libFuzzer: the multiboot2 information parser (boot/mb2.c) on any bytes,
 * as a loader or a firmware could hand them over. ASan and UBSan watch the
 * reads; the checks below are what the parser promises on success.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/mb2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static bool field_fits(uint8_t pos, uint8_t len, uint8_t bpp)
{
	return (unsigned int)pos + len <= bpp;
}

/*
 * The framebuffer fields come only from a well-formed tag 8: the one tag 8
 * among the (already accepted) tags, read again here without the parser's help,
 * and all zero when there is none.
 */
static bool framebuffer_agrees(const uint8_t *data, const struct mb2_info *out)
{
	static const struct mb2_framebuffer none;
	const struct mb2_framebuffer *fb = &out->fb;
	const uint8_t *t = NULL;
	unsigned int tags = 0;
	uint32_t size = 0;
	uint64_t row;

	for (uint32_t off = 8; rd32(data + off) != 0; off += (rd32(data + off + 4) + 7) & ~7u)
		if (rd32(data + off) == 8)
			t = data + off, size = rd32(data + off + 4), tags++;
	if (!out->has_framebuffer)
		return tags == 0 && !memcmp(fb, &none, sizeof(none));
	if (tags != 1 || size < 32)
		return false;
	if (fb->addr != rd64(t + 8) || fb->pitch != rd32(t + 16) || fb->width != rd32(t + 20) ||
	    fb->height != rd32(t + 24) || fb->bpp != t[28] || fb->type != t[29])
		return false;
	row = ((uint64_t)fb->width * fb->bpp + 7) / 8;
	if (fb->type > 2 || !fb->width || !fb->height || !fb->bpp || fb->bpp > 32 ||
	    fb->pitch < row || (uint64_t)fb->pitch * fb->height > UINT64_MAX - fb->addr)
		return false;
	if (fb->type == 0 && (size < 34 || size < 34 + 3 * (uint32_t)(t[32] | t[33] << 8)))
		return false;
	if (fb->type != 1)
		return !fb->red_pos && !fb->red_size && !fb->green_pos && !fb->green_size &&
		       !fb->blue_pos && !fb->blue_size;
	return size >= 38 && fb->red_pos == t[32] && fb->red_size == t[33] &&
	       fb->green_pos == t[34] && fb->green_size == t[35] && fb->blue_pos == t[36] &&
	       fb->blue_size == t[37] && field_fits(fb->red_pos, fb->red_size, fb->bpp) &&
	       field_fits(fb->green_pos, fb->green_size, fb->bpp) &&
	       field_fits(fb->blue_pos, fb->blue_size, fb->bpp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mb2_info out;
	struct mem_range ranges[MB2_MAX_MEM_ENTRIES];
	uint8_t *copy;
	char err[256];
	unsigned int n;

	/* An exact-size, 8-aligned heap copy: ASan sees one byte too far. */
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	if (mb2_parse(copy, size, &out, err, sizeof(err))) {
		if (out.nr_mmap > MB2_MAX_MEM_ENTRIES || out.nr_efi_mmap > MB2_MAX_MEM_ENTRIES ||
		    out.nr_modules > MB2_MAX_MODULES || out.total_size > size)
			abort();
		if (!framebuffer_agrees(copy, &out))
			abort();
		n = mb2_usable_ranges(&out, ranges, MB2_MAX_MEM_ENTRIES);
		for (unsigned int i = 0; i < n; i++)
			if (ranges[i].start >= ranges[i].end)
				abort();
	} else if (!memchr(err, 0, sizeof(err)) || !err[0]) {
		abort(); /* a refusal must say why */
	}
	free(copy);
	return 0;
}
