// SPDX-License-Identifier: MIT
/*
 * access_tracking (after KVM's access_tracking_perf_test): each vCPU touches
 * a working set that changes every round: the pages i of its region with
 * i % 4 == round % 4, written in odd rounds and read in even ones. Once it
 * has been over the whole set for the current round it acknowledges the
 * round (control word 2 + vcpu) and keeps going until the round changes.
 *   arg[0] = bytes per vCPU; control word 0 = stop, word 1 = round;
 *   reports: 0 = accesses, 1 = 1 (populated)
 */
#include "guest/runtime.h"

#define PAGE 4096ull

void guest_main(unsigned int vcpu_id)
{
	volatile uint64_t *control = (volatile uint64_t *)boot_info->control;
	uint64_t bytes = boot_info->arg[0];
	uint64_t base = boot_info->data_base + vcpu_id * bytes, accesses = 0;

	if (base + bytes > boot_info->mem_bytes || 2 + vcpu_id >= 512)
		guest_fail("region does not fit");
	for (uint64_t p = base; p < base + bytes; p += PAGE)
		*(volatile uint64_t *)p = 0;
	guest_report(1, 1);
	while (!control[0]) {
		uint64_t round = control[1];

		for (uint64_t i = round % 4; i * PAGE < bytes; i += 4, accesses++) {
			volatile uint64_t *p = (volatile uint64_t *)(base + i * PAGE);

			if (round % 2)
				*p = round;
			else
				(void)*p;
		}
		control[2 + vcpu_id] = round; /* a whole pass over this round's set is done */
	}
	guest_report(0, accesses);
}
