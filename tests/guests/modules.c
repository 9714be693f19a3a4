// SPDX-License-Identifier: MIT
// modules: what the multiboot information says about the kernel's command
// line and its modules (GRUB's module lines, QEMU's -initrd): the words
// after the first (the first is the file's name, which differs between
// loaders), each module's size, alignment and first line, and the memory
// map's RAM below 1 MiB.
#include "lib.h"

const char test_name[] = "modules";

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
};

struct mb_module {
	uint32_t start, end, cmdline, reserved;
};

/* The command line after its first word. */
static const char *args_of(const char *s)
{
	while (*s && *s != ' ')
		s++;
	while (*s == ' ')
		s++;
	return s;
}

static void first_line(const char *p, uint32_t len, char *out, uint32_t max)
{
	uint32_t i = 0;

	for (; i < len && i + 1 < max && p[i] != '\n'; i++)
		out[i] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?';
	out[i] = '\0';
}

void test_main(uint32_t mbi)
{
	const struct mb_info *mb = (const struct mb_info *)mbi;
	char line[64];

	check(mb->flags & (1u << 0), "memory fields present");
	say("mem_lower=%u KiB", mb->mem_lower);
	if (check(mb->flags & (1u << 2), "command line present"))
		say("cmdline args='%s'", args_of((const char *)mb->cmdline));
	if (!check(mb->flags & (1u << 3), "module fields present"))
		return;
	say("modules=%u", mb->mods_count);
	for (uint32_t i = 0; i < mb->mods_count; i++) {
		const struct mb_module *m = (const struct mb_module *)mb->mods_addr + i;

		first_line((const char *)m->start, m->end - m->start, line, sizeof(line));
		say("module %u args='%s' bytes=%u first line='%s'", i + 1,
		    args_of((const char *)m->cmdline), m->end - m->start, line);
		check(!(m->start & 0xfff), "module %u starts on a page", i + 1);
		check(m->start >= 0x100000, "module %u lies above 1 MiB", i + 1);
	}
}
