// SPDX-License-Identifier: MIT
// mb2: started as a multiboot2 kernel, it checks EAX and walks the boot
// information's tags, printing what it finds:
//
//   info: u32 total_size, u32 reserved, then tags, each 8-byte aligned:
//         u32 type, u32 size (header included), payload; type 0 ends them
//   1  cmdline         char string[]
//   4  basic meminfo   u32 mem_lower, u32 mem_upper (KiB)
//   6  memory map      u32 entry_size, u32 entry_version, entries[]
#include "hostile.h"

#define MB2_BOOTLOADER_MAGIC 0x36D76289u

void kernel_main(uint32_t magic, const uint8_t *info);

static uint32_t rd32(const uint8_t *p)
{
	return *(const uint32_t *)p;
}

void kernel_main(uint32_t magic, const uint8_t *info)
{
	const uint8_t *tag = info + 8, *end;
	unsigned int seen = 0, tags = 0;

	if (magic != MB2_BOOTLOADER_MAGIC) {
		serial_puts("mb2: FAIL EAX is not 0x36d76289\n");
		debug_exit(1);
	}
	serial_puts("mb2: magic ok\n");
	if ((uint32_t)info & 7) {
		serial_puts("mb2: FAIL the boot information is not 8-byte aligned\n");
		debug_exit(1);
	}
	end = info + rd32(info);
	while (tag + 8 <= end && rd32(tag) != 0) {
		uint32_t type = rd32(tag), size = rd32(tag + 4);

		if (size < 8 || size > (uint32_t)(end - tag)) {
			say_u("mb2: FAIL bad size of tag ", type);
			debug_exit(1);
		}
		tags++;
		switch (type) {
		case 1:
			serial_puts("mb2: cmdline=");
			serial_puts((const char *)tag + 8);
			serial_puts("\n");
			seen |= 1u << 1;
			break;
		case 4:
			say_u("mb2: mem_lower=", rd32(tag + 8));
			say_u("mb2: mem_upper=", rd32(tag + 12));
			seen |= 1u << 4;
			break;
		case 6:
			say_u("mb2: mmap entries=", (size - 16) / rd32(tag + 8));
			seen |= 1u << 6;
			break;
		}
		tag += (size + 7) & ~7u;
	}
	if (tag + 8 > end) {
		serial_puts("mb2: FAIL no end tag\n");
		debug_exit(1);
	}
	say_u("mb2: tags=", tags);
	if (seen != ((1u << 1) | (1u << 4) | (1u << 6))) {
		serial_puts("mb2: FAIL a requested tag is missing\n");
		debug_exit(1);
	}
	serial_puts("mb2: PASS\n");
	debug_exit(0);
}
