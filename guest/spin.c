// SPDX-License-Identifier: MIT
/*
 * spin: each vCPU says it is ready (report slot 0 = 1), then stays in guest
 * mode writing its own page until the control CPU sets the stop word
 * (GUEST_CONTROL). Shootdown IPIs are the only thing that makes it exit.
 */
#include "guest/runtime.h"

void guest_main(unsigned int vcpu_id)
{
	volatile uint64_t *stop = (volatile uint64_t *)boot_info->control;
	volatile uint64_t *mine = (volatile uint64_t *)(boot_info->data_base + 4096 * vcpu_id);

	*mine = 0;
	guest_report(0, 1);
	while (!*stop) {
		*mine += 1;
		asm volatile("pause");
	}
	guest_report(1, *mine);
}
