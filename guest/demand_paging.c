// SPDX-License-Identifier: MIT
/*
 * demand_paging (after KVM's demand_paging_test): after a barrier, each vCPU
 * writes one word into every 4 KiB page of its region (arg[1] = 1: all share
 * one region), timing that pass; then it reads every word back. Every page
 * holds a slot per vCPU, so the check works when regions overlap too.
 * Before that, each vCPU times its cheapest hypercall round trip: the bare
 * exit, against which one demand fault's cost is measured.
 *   arg[0] = bytes per vCPU;  reports: slot 0 = populate cycles, 1 = pages,
 *   2 = cheapest HC_VCPU_ID round trip in cycles, 3 = the TSC when its
 *   populate ended (the VM's span: from the first start to the last end)
 */
#include "guest/runtime.h"

#define PAGE 4096ull

static uint64_t stamp(uint64_t addr, unsigned int vcpu)
{
	return addr * 0x9e3779b97f4a7c15ull ^ vcpu;
}

void guest_main(unsigned int vcpu_id)
{
	uint64_t bytes = boot_info->arg[0], overlap = boot_info->arg[1];
	uint64_t base = boot_info->data_base + (overlap ? 0 : vcpu_id * bytes);
	uint64_t t0, t1, pages = 0, best = ~0ull;

	if (vcpu_id * 8 >= PAGE || base + bytes > boot_info->mem_bytes)
		guest_fail("region 0x%lx+0x%lx does not fit", (unsigned long)base,
			   (unsigned long)bytes);
	for (int i = 0; i < 64; i++) {
		uint64_t a = guest_rdtsc(), b;

		hypercall(HC_VCPU_ID, 0, 0, 0);
		b = guest_rdtsc();
		best = b - a < best ? b - a : best;
	}
	guest_report(2, best);
	guest_barrier();
	t0 = guest_rdtsc();
	for (uint64_t p = base; p < base + bytes; p += PAGE, pages++)
		*(volatile uint64_t *)(p + vcpu_id * 8) = stamp(p, vcpu_id);
	t1 = guest_rdtsc();
	for (uint64_t p = base; p < base + bytes; p += PAGE)
		if (*(volatile uint64_t *)(p + vcpu_id * 8) != stamp(p, vcpu_id))
			guest_fail("page 0x%lx lost its value", (unsigned long)p);
	guest_report(0, t1 - t0);
	guest_report(1, pages);
	guest_report(3, t1);
	guest_barrier();
}
