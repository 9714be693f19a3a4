// SPDX-License-Identifier: MIT
/*
 * zap_stress: each vCPU, round after round, writes a stamp of (page, round)
 * into every page of its region and reads them all back, while the control
 * CPU zaps the mappings under it. A zap must never change what a vCPU
 * reads; a wrong value means a mapping to the wrong frame or a lost write.
 *   arg[0] = bytes per vCPU; control word 0 = stop; reports: 0 = rounds
 */
#include "guest/runtime.h"

#define PAGE 4096ull

static uint64_t stamp(uint64_t page, uint64_t round)
{
	return (page * 0x9e3779b97f4a7c15ull) ^ (round << 1) ^ 1;
}

void guest_main(unsigned int vcpu_id)
{
	volatile uint64_t *stop = (volatile uint64_t *)boot_info->control;
	uint64_t bytes = boot_info->arg[0];
	uint64_t base = boot_info->data_base + vcpu_id * bytes;
	uint64_t round = 0;

	if (base + bytes > boot_info->mem_bytes)
		guest_fail("region does not fit");
	guest_report(1, 1); /* ready */
	while (!*stop) {
		round++;
		for (uint64_t p = base; p < base + bytes; p += PAGE)
			*(volatile uint64_t *)(p + 8 * (round % 64)) = stamp(p, round);
		for (uint64_t p = base; p < base + bytes; p += PAGE) {
			uint64_t got = *(volatile uint64_t *)(p + 8 * (round % 64));

			if (got != stamp(p, round))
				guest_fail("round %lu: page 0x%lx reads 0x%lx, wrote 0x%lx",
					   (unsigned long)round, (unsigned long)p, (unsigned long)got,
					   (unsigned long)stamp(p, round));
		}
	}
	guest_report(0, round);
}
