// SPDX-License-Identifier: MIT
/*
 * The framebuffer console (console=fb): text drawn with the 8x16 font
 * (arch/x86/font.h), light grey on black, on the loader's linear RGB
 * framebuffer (16, 24 or 32 bits a pixel), or written into the VGA text
 * buffer when the loader left the card in EGA text mode (GRUB under BIOS).
 * At the bottom it scrolls up by one text row. One screen, no locking of
 * its own: arch/x86/console.c calls it under console_lock.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "boot/mb2.h"

/*
 * Take the framebuffer and clear it. false, with why ("at 0x... lies above
 * 4 GiB, outside the identity map"), for one it cannot draw on.
 */
bool fbcon_init(const struct mb2_framebuffer *fb, char *why, size_t why_len);
/* '\n' starts a new row, '\r' is ignored, anything outside 0x20..0x7e is drawn as '?'. */
void fbcon_write(const char *s, size_t n);
/* "800x600 pixels of 4 bytes, 3200 bytes a row, at 0x80000000: 100x37 characters". */
void fbcon_describe(char *buf, size_t len);
