// SPDX-License-Identifier: MIT
/*
 * The TSC as our clock. Calibrated once on the BSP against PIT channel 2,
 * then cross-checked against the ACPI PM timer when the FADT has one.
 * Under Bochs the TSC counts emulated instructions: cycle figures there are
 * exact and repeatable, nanoseconds are not.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/cpu.h"

extern uint64_t tsc_khz; /* 0 until calibrated; read-only afterwards */

void tsc_calibrate(void);
uint64_t tsc_deadline_ms(uint64_t ms);
void udelay(uint64_t us);
uint64_t tsc_to_ns(uint64_t cycles);

static inline bool tsc_passed(uint64_t deadline)
{
	return (int64_t)(rdtsc() - deadline) >= 0;
}
