// SPDX-License-Identifier: MIT
#include "guest/images.h"
#include "lib/string.h"

#define DECLARE_IMAGE(n) extern const uint8_t guest_image_##n##_start[], guest_image_##n##_end[];
GUEST_IMAGES(DECLARE_IMAGE)

#define IMAGE_ENTRY(n) { #n, guest_image_##n##_start, guest_image_##n##_end },
static const struct guest_image images[] = { GUEST_IMAGES(IMAGE_ENTRY) };

const struct guest_image *guest_image_find(const char *name)
{
	for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++)
		if (!strcmp(images[i].name, name))
			return &images[i];
	return NULL;
}
