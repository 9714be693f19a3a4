// SPDX-License-Identifier: MIT
#include "arch/x86/acpi.h"
#include "arch/x86/console.h"
#include "arch/x86/tsc.h"

#define PIT_HZ 1193182u
#define PM_TIMER_HZ 3579545u
#define CALIBRATE_MS 50
#define UNCALIBRATED_KHZ 3000000u /* a guess for timeouts before calibration */
#define PIT_SPIN_LIMIT 100000000u /* some UEFI boxes have no PIT */

uint64_t tsc_khz;

/* Gate PIT channel 2 for ms milliseconds; return the TSC cycles it took, 0 if no PIT. */
static uint64_t measure_with_pit(unsigned int ms)
{
	uint32_t latch = PIT_HZ * ms / 1000;
	uint64_t t0, t1;
	uint32_t spins = 0;

	outb(0x61, (inb(0x61) & ~0x02) | 0x01); /* gate on, speaker off */
	outb(0x43, 0xb0);                       /* channel 2, lo/hi byte, mode 0 */
	outb(0x42, latch & 0xff);
	outb(0x42, latch >> 8);
	t0 = rdtsc();
	while (!(inb(0x61) & 0x20)) /* OUT2 goes high at terminal count */
		if (++spins > PIT_SPIN_LIMIT)
			return 0;
	t1 = rdtsc();
	return t1 - t0;
}

static uint64_t measure_with_pm_timer(unsigned int ms)
{
	uint32_t mask = acpi.pm_timer_32bit ? 0xffffffffu : 0xffffffu;
	uint32_t ticks = PM_TIMER_HZ / 1000 * ms, start = acpi_pm_timer_read();
	uint64_t t0 = rdtsc();

	while (((acpi_pm_timer_read() - start) & mask) < ticks)
		cpu_relax();
	return rdtsc() - t0;
}

void tsc_calibrate(void)
{
	uint64_t pit = measure_with_pit(CALIBRATE_MS), pm = 0;

	if (acpi.pm_timer_port)
		pm = measure_with_pm_timer(CALIBRATE_MS);
	tsc_khz = (pit ? pit : pm) / CALIBRATE_MS;
	if (!tsc_khz) {
		tsc_khz = UNCALIBRATED_KHZ;
		kprintf("mmuvisor: warning: neither the PIT nor an ACPI PM timer answered; assuming a %u MHz TSC\n",
			UNCALIBRATED_KHZ / 1000);
		return;
	}
	if (pit && pm) {
		uint64_t diff = pit > pm ? pit - pm : pm - pit;
		unsigned int permille = (unsigned int)(diff * 1000 / pit);

		kprintf("mmuvisor: tsc: %lu kHz from the PIT; the ACPI PM timer says %lu kHz (%u.%u%% apart)%s\n",
			(unsigned long)tsc_khz, (unsigned long)(pm / CALIBRATE_MS), permille / 10,
			permille % 10, permille > 20 ? ": WARNING, clocks disagree" : "");
	} else {
		kprintf("mmuvisor: tsc: %lu kHz from the %s\n", (unsigned long)tsc_khz,
			pit ? "PIT (no ACPI PM timer to check against)" : "ACPI PM timer (no PIT)");
	}
}

uint64_t tsc_deadline_ms(uint64_t ms)
{
	return rdtsc() + ms * (tsc_khz ? tsc_khz : UNCALIBRATED_KHZ);
}

void udelay(uint64_t us)
{
	uint64_t end = rdtsc() + us * (tsc_khz ? tsc_khz : UNCALIBRATED_KHZ) / 1000;

	while (!tsc_passed(end))
		cpu_relax();
}

uint64_t tsc_to_ns(uint64_t cycles)
{
	if (!tsc_khz)
		return 0;
	/* cycles * 1e6 / khz, split to avoid overflow for long runs */
	return cycles / tsc_khz * 1000000 + cycles % tsc_khz * 1000000 / tsc_khz;
}
