// SPDX-License-Identifier: MIT
// For a boot test, not the differential test: the BSP halts with interrupts
// off while the APs (if any) still wait for INIT-SIPI. Nothing can ever
// wake this machine; a PC hangs, and the hypervisor must say so and end the
// VM instead of spinning on it.
#include "lib.h"

const char test_name[] = "haltoff";

void test_main(uint32_t mbi)
{
	(void)mbi;
	say("halting with interrupts off");
	for (;;)
		__asm__ volatile("cli; hlt");
}
