// SPDX-License-Identifier: MIT
// aout: started through the a.out kludge, it checks what that path owes it:
// EAX, the boot information, and a bss the loader zeroed (bss_end_addr).
#include "hostile.h"

#define MB1_BOOTLOADER_MAGIC 0x2BADB002u

void kernel_main(uint32_t magic, const uint32_t *mbi);

static uint32_t bss[1024];                       // must read as zeros
static volatile uint32_t data_word = 0x5a5a5a5a; // in the file, up to load_end_addr

void kernel_main(uint32_t magic, const uint32_t *mbi)
{
	unsigned int failures = 0, nonzero = 0;

	serial_puts("aout: started by the a.out kludge\n");
	if (magic != MB1_BOOTLOADER_MAGIC) {
		serial_puts("aout: FAIL EAX is not 0x2badb002\n");
		debug_exit(1);
	}
	serial_puts("aout: magic ok\n");
	for (unsigned int i = 0; i < sizeof(bss) / sizeof(bss[0]); i++)
		nonzero += bss[i] != 0;
	if (nonzero) {
		say_u("aout: FAIL nonzero bss words=", nonzero);
		failures++;
	} else {
		serial_puts("aout: bss zeroed\n");
	}
	if (data_word != 0x5a5a5a5a) {
		serial_puts("aout: FAIL data not loaded\n");
		failures++;
	}
	if (mbi[0] & 1) // flags bit 0: mem_lower, mem_upper
		say_u("aout: mem_lower=", mbi[1]);
	serial_puts(failures ? "aout: FAIL\n" : "aout: PASS\n");
	debug_exit(failures ? 1 : 0);
}
