// SPDX-License-Identifier: MIT
/*
 * PIIX4's power-management block at QEMU's base 0x600 (the FADT points
 * here): PM1a_EVT (0x600, status and enable) and PM1a_CNT (0x604) read 0
 * and drop writes (no SCI), but for SLP_EN with SLP_TYP 0, the DSDT's S5,
 * which powers off as QEMU's PIIX4 does; and the PM timer at 0x608: a
 * free-running 24-bit counter at 3.579545 MHz (FADT TMR_VAL_EXT = 0),
 * derived from the TSC so that every vCPU reads the same clock without a
 * lock. Reads of size 1 or 2 see the low bytes from the port's offset on.
 */
#include "arch/x86/tsc.h"
#include "virt/dev/pc.h"

#define PM_TIMER_HZ 3579545ull
#define PM_TIMER_MASK 0xffffffu
#define PM_TIMER_PORT 0x608
#define UNCALIBRATED_KHZ 3000000ull /* tsc_khz is 0 only before calibration */

void pc_pm_timer_setup(struct pc_devices *d)
{
	uint64_t khz = tsc_khz ? tsc_khz : UNCALIBRATED_KHZ;

	/* ticks = cycles * PM_TIMER_HZ / (khz * 1000), as 32.32 fixed point. */
	d->pm_timer_mult = (PM_TIMER_HZ << 32) / (khz * 1000);
}

static uint32_t pm_timer_now(const struct pc_devices *d)
{
	unsigned __int128 ticks = (unsigned __int128)rdtsc() * d->pm_timer_mult;

	return (uint32_t)(ticks >> 32) & PM_TIMER_MASK;
}

enum pc_io_result pc_pm_timer_io(struct pc_devices *d, uint16_t port, unsigned int size,
				 bool in, uint32_t *val)
{
	if (in)
		*val = (pm_timer_now(d) >> (8 * (port - PM_TIMER_PORT))) & pc_io_mask(size);
	return PC_IO_DONE; /* the counter is read-only */
}

#define PM1_CNT_PORT 0x604
#define PM1_SLP_TYP_SHIFT 10
#define PM1_SLP_EN (1u << 13)

enum pc_io_result pc_pm1_io(struct pc_devices *d, uint16_t port, unsigned int size, bool in,
			    uint32_t *val)
{
	uint32_t cnt;

	(void)d;
	if (in) {
		*val = 0;
		return PC_IO_DONE;
	}
	if (port < PM1_CNT_PORT)
		return PC_IO_DONE;
	/* PM1a_CNT as a 16-bit register, whichever byte the write starts at. */
	cnt = (*val & pc_io_mask(size)) << (8 * (port - PM1_CNT_PORT));
	if ((cnt & PM1_SLP_EN) && !((cnt >> PM1_SLP_TYP_SHIFT) & 7))
		return PC_IO_POWEROFF;
	return PC_IO_DONE;
}
