// SPDX-License-Identifier: MIT
/*
 * The framebuffer console: a grid of 8x16 cells over the loader's
 * framebuffer, drawn in place (no shadow copy), with the cursor at the end
 * of what was written. Called only under console_lock (arch/x86/console.c),
 * or by a panicking CPU that has broken that lock.
 *
 *   base                               pitch bytes a row
 *   +--------+--------+-- ... --+-------+
 *   | cell   | cell   |         |       |  one text row: 16 pixel rows
 *   | 0,0    | 1,0    |         |       |  (EGA text: one row of 2-byte cells,
 *   +--------+--------+-- ... --+-------+   character then attribute)
 *   | ...                               |
 */
#include "arch/x86/fbcon.h"
#include "arch/x86/font.h"
#include "lib/printf.h"
#include "lib/string.h"

#define IDENTITY_MAP_END (4ull << 30) /* boot/entry.S maps the first 4 GiB */
#define GREY 0xaa                     /* VGA's light grey: 0xaaaaaa */
#define EGA_GREY_ON_BLACK 0x07

/* Written by fbcon_init before the console list takes it; then console_lock. */
static struct {
	uint8_t *base;
	uint32_t pitch;
	uint32_t width, height;   /* pixels; EGA text: characters */
	unsigned int bytes;       /* a pixel's (2, 3 or 4); EGA text: a cell's (2) */
	bool text;                /* EGA text: cells, not pixels */
	uint32_t fg;              /* light grey in the framebuffer's own layout; black is 0 */
	unsigned int cols, rows;
	unsigned int col, row;    /* where the next character goes */
} fb;

/* One colour channel of 8 bits, in a field of size bits at pos. */
static uint32_t channel(uint8_t value, uint8_t pos, uint8_t size)
{
	uint32_t v = size <= 8 ? (uint32_t)value >> (8 - size) : (uint32_t)value << (size - 8);

	return size ? v << pos : 0;
}

static bool refuse(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool refuse(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fmt_vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return false;
}

static bool check(const struct mb2_framebuffer *f, char *why, size_t len)
{
	uint64_t end = f->addr + (uint64_t)f->pitch * f->height; /* mb2.c: does not wrap */

	if (f->addr >= IDENTITY_MAP_END || end > IDENTITY_MAP_END)
		return refuse(why, len, "at 0x%lx..0x%lx lies above 4 GiB, outside the identity map",
			      (unsigned long)f->addr, (unsigned long)end);
	if (f->type == MB2_FB_INDEXED)
		return refuse(why, len, "is an indexed-colour framebuffer (type 0), which the console does not draw");
	if (f->type == MB2_FB_EGA_TEXT && f->bpp != 16)
		return refuse(why, len, "is EGA text with %u-bit cells; the console writes 16-bit ones",
			      f->bpp);
	if (f->type == MB2_FB_RGB && f->bpp != 16 && f->bpp != 24 && f->bpp != 32)
		return refuse(why, len, "has %u bits a pixel; the console draws 16, 24 or 32", f->bpp);
	if (f->type == MB2_FB_RGB && (f->width < FONT_WIDTH || f->height < FONT_HEIGHT))
		return refuse(why, len, "is %ux%u pixels, smaller than one %ux%u character",
			      f->width, f->height, FONT_WIDTH, FONT_HEIGHT);
	return true;
}

/* The text row's first byte: EGA cells are one byte row each, pixels FONT_HEIGHT. */
static uint8_t *row_base(unsigned int row)
{
	return fb.base + (size_t)row * fb.pitch * (fb.text ? 1 : FONT_HEIGHT);
}

static size_t row_bytes(void)
{
	return (size_t)fb.pitch * (fb.text ? 1 : FONT_HEIGHT);
}

static void clear_row(unsigned int row)
{
	uint8_t *p = row_base(row);

	if (!fb.text) {
		memset(p, 0, row_bytes());
		return;
	}
	for (unsigned int c = 0; c < fb.cols; c++) {
		p[2 * c] = ' ';
		p[2 * c + 1] = EGA_GREY_ON_BLACK;
	}
}

static void put_pixel(uint8_t *p, uint32_t v)
{
	switch (fb.bytes) {
	case 4:
		*(uint32_t *)p = v;
		break;
	case 3:
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)(v >> 8);
		p[2] = (uint8_t)(v >> 16);
		break;
	default:
		*(uint16_t *)p = (uint16_t)v;
	}
}

static void draw(unsigned int col, unsigned int row, char c)
{
	const uint8_t *glyph;
	uint8_t *p;

	if (c < FONT_FIRST || c > FONT_LAST)
		c = '?';
	if (fb.text) {
		p = row_base(row) + 2 * col;
		p[0] = (uint8_t)c;
		p[1] = EGA_GREY_ON_BLACK;
		return;
	}
	glyph = font8x16[c - FONT_FIRST];
	p = row_base(row) + (size_t)col * FONT_WIDTH * fb.bytes;
	for (unsigned int y = 0; y < FONT_HEIGHT; y++, p += fb.pitch)
		for (unsigned int x = 0; x < FONT_WIDTH; x++)
			put_pixel(p + x * fb.bytes, glyph[y] & (0x80 >> x) ? fb.fg : 0);
}

/* The cursor to the next row's start; at the bottom, everything moves up one row. */
static void newline(void)
{
	fb.col = 0;
	if (fb.row + 1 < fb.rows) {
		fb.row++;
		return;
	}
	memmove(row_base(0), row_base(1), (fb.rows - 1) * row_bytes());
	clear_row(fb.rows - 1);
}

bool fbcon_init(const struct mb2_framebuffer *f, char *why, size_t why_len)
{
	if (!check(f, why, why_len))
		return false;
	fb.base = (uint8_t *)(uintptr_t)f->addr;
	fb.pitch = f->pitch;
	fb.width = f->width;
	fb.height = f->height;
	fb.text = f->type == MB2_FB_EGA_TEXT;
	fb.bytes = fb.text ? 2 : (f->bpp + 7) / 8;
	fb.fg = channel(GREY, f->red_pos, f->red_size) | channel(GREY, f->green_pos, f->green_size) |
		channel(GREY, f->blue_pos, f->blue_size);
	fb.cols = fb.text ? f->width : f->width / FONT_WIDTH;
	fb.rows = fb.text ? f->height : f->height / FONT_HEIGHT;
	fb.col = fb.row = 0;
	for (unsigned int r = 0; r < fb.rows; r++)
		clear_row(r);
	return true;
}

void fbcon_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r')
			continue;
		if (s[i] == '\n') {
			newline();
			continue;
		}
		if (fb.col == fb.cols) /* a long line goes on in the next row */
			newline();
		draw(fb.col++, fb.row, s[i]);
	}
}

void fbcon_describe(char *buf, size_t len)
{
	if (fb.text)
		fmt_snprintf(buf, len, "EGA text at 0x%lx: %ux%u characters",
			     (unsigned long)(uintptr_t)fb.base, fb.cols, fb.rows);
	else
		fmt_snprintf(buf, len, "%ux%u pixels of %u bytes, %u bytes a row, at 0x%lx: %ux%u characters",
			     fb.width, fb.height, fb.bytes, fb.pitch, (unsigned long)(uintptr_t)fb.base,
			     fb.cols, fb.rows);
}
