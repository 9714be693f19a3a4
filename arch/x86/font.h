// SPDX-License-Identifier: MIT
/*
 * The framebuffer console's font: the printable ASCII characters 0x20..0x7e,
 * 8x16 pixels, one byte a row, the leftmost pixel in bit 7 (PSF's order).
 * The array is generated at build time (tools/psf.py, build/font/font8x16.c)
 * from a font in Debian's archive (tools/fetch-font): none is kept in git.
 */
#pragma once

#include <stdint.h>

#define FONT_FIRST 0x20
#define FONT_LAST 0x7e
#define FONT_GLYPHS (FONT_LAST - FONT_FIRST + 1)
#define FONT_WIDTH 8
#define FONT_HEIGHT 16

extern const uint8_t font8x16[FONT_GLYPHS][FONT_HEIGHT];
