// SPDX-License-Identifier: MIT
/*
 * isolation: each vCPU, round after round, writes its VM's pattern into
 * every 64-byte line of its region and reads it all back, while the
 * control CPU zaps, write-protects and ages the VM's memory and other VMs
 * run, misbehave and get stopped beside it. A word that reads another VM's
 * pattern (one of the tags 1..arg[2] other than ours) is the failure this
 * scenario exists to catch; any other wrong word is a lost write.
 *   arg[0] = bytes per vCPU, arg[1] = this VM's tag (1..arg[2]),
 *   arg[2] = how many VMs there are, arg[3] = what vCPU 0 does instead:
 *   0 the same as the others, 1 a fatal fault after 2 rounds, 2 a flood
 *   of hypercalls until the stop word;
 *   control word 0 = stop; reports: 0 = rounds, 1 = hypercalls (flood),
 *   2 = what went wrong before HC_FAIL: 1 another VM's pattern, 2 a lost write
 */
#include "guest/runtime.h"

#define LINE 64ull
#define TAG_SHIFT 48

/* The pattern of VM tag at gpa: the tag in the top 16 bits, a hash of both below. */
static uint64_t pattern(uint64_t tag, uint64_t gpa, uint64_t round)
{
	uint64_t h = (gpa * 0x9e3779b97f4a7c15ull) ^ (tag * 0xc2b2ae3d27d4eb4full) ^ (round << 20);

	return tag << TAG_SHIFT | (h & ((1ull << TAG_SHIFT) - 1));
}

static void flood(volatile uint64_t *stop)
{
	uint64_t calls = 0;

	guest_report(0, 1); /* counts as ready */
	while (!*stop) {
		hypercall(HC_VCPU_ID, 0, 0, 0);
		calls++;
		if (!(calls & 1023))
			guest_report(1, calls);
	}
	guest_report(1, calls);
}

void guest_main(unsigned int vcpu_id)
{
	volatile uint64_t *stop = (volatile uint64_t *)boot_info->control;
	uint64_t bytes = boot_info->arg[0], tag = boot_info->arg[1], vms = boot_info->arg[2];
	uint64_t base = boot_info->data_base + vcpu_id * bytes;
	uint64_t round = 0;

	if (base + bytes > boot_info->mem_bytes || tag == 0 || tag > vms)
		guest_fail("region 0x%lx+0x%lx or tag %lu of %lu does not fit", (unsigned long)base,
			   (unsigned long)bytes, (unsigned long)tag, (unsigned long)vms);
	if (vcpu_id == 0 && boot_info->arg[3] == 2) {
		flood(stop);
		return;
	}
	while (!*stop) {
		round++;
		if (vcpu_id == 0 && boot_info->arg[3] == 1 && round > 2)
			asm volatile("ud2"); /* no IDT: #UD, #GP, then the double fault that stops the VM */
		for (uint64_t a = base; a < base + bytes; a += LINE)
			*(volatile uint64_t *)a = pattern(tag, a, round);
		for (uint64_t a = base; a < base + bytes; a += LINE) {
			uint64_t got = *(volatile uint64_t *)a, owner = got >> TAG_SHIFT;

			if (got == pattern(tag, a, round))
				continue;
			if (owner && owner != tag && owner <= vms) {
				guest_report(2, 1);
				guest_fail("gpa 0x%lx reads VM tag %lu's pattern 0x%lx in round %lu (mine: tag %lu)",
					   (unsigned long)a, (unsigned long)owner, (unsigned long)got,
					   (unsigned long)round, (unsigned long)tag);
			}
			guest_report(2, 2);
			guest_fail("gpa 0x%lx reads 0x%lx in round %lu, wrote 0x%lx", (unsigned long)a,
				   (unsigned long)got, (unsigned long)round,
				   (unsigned long)pattern(tag, a, round));
		}
		guest_report(0, round);
	}
}
