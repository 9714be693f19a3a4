// SPDX-License-Identifier: MIT
/*
 * Finding a guest image by name (stress/guests.c): a GRUB module of that
 * name, else the built-in image (guest/images.h lists those).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct guest_image {
	const char *name;
	const uint8_t *start, *end;
};

/* NULL if no image has that name, or its GRUB module is empty (said on the console). */
const struct guest_image *guest_image_find(const char *name);
/* Is name one of guest/'s synthetic guests (built in, whether or not a module replaces it)? */
bool guest_image_is_builtin(const char *name);
/* Name every GRUB module that replaces no guest (nothing would use it). */
void guest_modules_check(void);
