// SPDX-License-Identifier: MIT
#include "arch/x86/console.h"
#include "boot/mb2.h"
#include "guest/images.h"
#include "lib/string.h"
#include "stress/guests.h"

#define DECLARE_IMAGE(n) extern const uint8_t guest_image_##n##_start[], guest_image_##n##_end[];
GUEST_IMAGES(DECLARE_IMAGE)

#define IMAGE_ENTRY(n) { #n, guest_image_##n##_start, guest_image_##n##_end },
static const struct guest_image images[] = { GUEST_IMAGES(IMAGE_ENTRY) };

/*
 * A GRUB module whose command line is a guest's name replaces the built-in
 * image of that name ("module2 /boot/my-hello.bin hello"): a test box can run
 * a guest that was not built into mmuvisor. The module must be a flat binary
 * linked at GUEST_IMAGE_BASE, as build/guest/<name>.bin is.
 */
static bool find_module(const char *name, struct guest_image *out)
{
	const struct mb2_info *mb = boot_mb2();

	for (unsigned int i = 0; i < mb->nr_modules; i++) {
		if (strcmp(mb->modules[i].cmdline, name))
			continue;
		*out = (struct guest_image){
			.name = mb->modules[i].cmdline,
			.start = platform_phys_to_virt(mb->modules[i].start),
			.end = platform_phys_to_virt(mb->modules[i].end),
		};
		return true;
	}
	return false;
}

bool guest_image_is_builtin(const char *name)
{
	for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++)
		if (!strcmp(images[i].name, name))
			return true;
	return false;
}

void guest_modules_check(void)
{
	const struct mb2_info *mb = boot_mb2();

	for (unsigned int i = 0; i < mb->nr_modules; i++)
		if (!guest_image_is_builtin(mb->modules[i].cmdline))
			kprintf("mmuvisor: warning: GRUB module %u is named '%s', which is no guest's name, so nothing uses it (a module replaces the built-in guest it names: hello, misbehave, hostile, ...)\n",
				i, mb->modules[i].cmdline);
}

const struct guest_image *guest_image_find(const char *name)
{
	static struct guest_image from_module; /* the control CPU's alone */

	if (find_module(name, &from_module)) {
		if (from_module.end <= from_module.start) {
			kprintf("mmuvisor: error: the GRUB module for guest '%s' is empty: the vCPUs would start on nothing; give module2 the guest's flat binary (build/guest/%s.bin)\n",
				name, name);
			return NULL;
		}
		kprintf("mmuvisor: guest '%s' comes from a GRUB module (%lu bytes), not the built-in image\n",
			name, (unsigned long)(from_module.end - from_module.start));
		return &from_module;
	}
	for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++)
		if (!strcmp(images[i].name, name))
			return &images[i];
	return NULL;
}
