// SPDX-License-Identifier: MIT
/*
 * dirty_log (after KVM's dirty_log_perf_test): each vCPU first writes every
 * page of its region once (populate), then keeps writing a sequence number
 * into every page, pass after pass, until the control CPU sets the stop word.
 * The word written names the vCPU and the pass, so a page the migration
 * test gets wrong says which write was lost.
 *   arg[0] = bytes per vCPU; control word 0 = stop;
 *   reports: 0 = populate cycles, 1 = pages written after populate, 2 = 1 (populated)
 */
#include "guest/runtime.h"

#define PAGE 4096ull

void guest_main(unsigned int vcpu_id)
{
	volatile uint64_t *stop = (volatile uint64_t *)boot_info->control;
	uint64_t bytes = boot_info->arg[0];
	uint64_t base = boot_info->data_base + vcpu_id * bytes;
	uint64_t t0, written = 0;

	if (base + bytes > boot_info->mem_bytes)
		guest_fail("region does not fit");
	guest_barrier();
	t0 = guest_rdtsc();
	for (uint64_t p = base; p < base + bytes; p += PAGE)
		*(volatile uint64_t *)p = (uint64_t)vcpu_id << 48;
	guest_report(0, guest_rdtsc() - t0);
	guest_report(2, 1);
	for (uint64_t pass = 1; !*stop; pass++)
		for (uint64_t p = base; p < base + bytes && !*stop; p += PAGE, written++)
			*(volatile uint64_t *)p = (uint64_t)vcpu_id << 48 | pass;
	guest_report(1, written);
}
