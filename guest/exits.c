// SPDX-License-Identifier: MIT
/*
 * exits: each vCPU says it is ready (report slot 0 = 1), then exits to the
 * hypervisor as fast as it can (the cheapest hypercall, in a loop) until the
 * control CPU sets the stop word; reports slot 1 = its hypercalls.
 */
#include "guest/runtime.h"

void guest_main(unsigned int vcpu_id)
{
	volatile uint64_t *stop = (volatile uint64_t *)boot_info->control;
	uint64_t calls = 0;

	(void)vcpu_id;
	guest_report(0, 1);
	while (!*stop) {
		hypercall(HC_VCPU_ID, 0, 0, 0);
		calls++;
	}
	guest_report(1, calls);
}
