// SPDX-License-Identifier: MIT
/*
 * The synthetic guests' runtime: hypercall wrappers over VMMCALL (AMD) or
 * VMCALL (Intel), chosen from the boot information, and a printf.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virt/guest_abi.h"

extern const struct guest_boot_info *boot_info;

/* Each guest program defines this; returning ends the vCPU (HC_DONE). */
void guest_main(unsigned int vcpu_id);

uint64_t hypercall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2);
void guest_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void guest_report(unsigned int slot, uint64_t value);
void guest_barrier(void);
_Noreturn void guest_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline uint64_t guest_rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
