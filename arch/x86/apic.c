// SPDX-License-Identifier: MIT
#include <stdatomic.h>

#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/interrupt.h"
#include "arch/x86/tsc.h"
#include "lib/printf.h"

#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_X2APIC (1ull << 10)
#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_ADDR_MASK 0x000ffffffffff000ull

/* Register offsets in the xAPIC page; the x2APIC MSR is 0x800 + offset / 16. */
#define APIC_ID 0x020
#define APIC_TPR 0x080
#define APIC_EOI 0x0b0
#define APIC_SVR 0x0f0
#define APIC_ESR 0x280
#define APIC_LDR 0x0d0
#define APIC_DFR 0x0e0
#define APIC_DFR_FLAT 0xffffffffu
#define APIC_ICR_LOW 0x300
#define APIC_ICR_HIGH 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_ERROR 0x370
#define APIC_TIMER_INITIAL 0x380
#define APIC_TIMER_CURRENT 0x390
#define APIC_TIMER_DIVIDE 0x3e0
#define APIC_TIMER_DIV_1 0xb
#define APIC_LVT_TSC_DEADLINE (2u << 17)
#define MSR_TSC_DEADLINE 0x6e0
#define APIC_SVR_ENABLE (1u << 8)
#define APIC_LVT_MASKED (1u << 16)
#define APIC_ICR_BUSY (1u << 12)
#define X2APIC_MSR(off) (0x800 + ((off) >> 4))

/* Immutable after apic_select_mode on the BSP. */
static bool x2apic;
/* The x2APIC logical ID that an x2APIC ID fixes (SDM 10.12.10.2): cluster and bit. */
static uint32_t x2apic_ldr_of(uint32_t id)
{
	return (id >> 4) << 16 | 1u << (id & 15);
}
static volatile uint32_t *xapic_mmio;
/*
 * xAPIC mode with an APIC ID of 8 or more in the MADT: the cluster model
 * (SDM 10.6.2.2), else the flat model. Every local APIC must use the same
 * one. Immutable after apic_choose_logical_model on the BSP.
 */
static bool xapic_cluster;
#define APIC_DFR_CLUSTER 0x0fffffffu
#define XAPIC_CLUSTER_IDS 60 /* clusters 0-14 of 4; cluster 15 is the broadcast */

void apic_choose_logical_model(uint32_t max_apic_id)
{
	xapic_cluster = !x2apic && max_apic_id >= 8;
}

bool apic_xapic_cluster(void)
{
	return xapic_cluster;
}
/* Immutable after apic_timer_calibrate on the BSP (before the APs start). */
static bool tsc_deadline;
static uint64_t ticks_per_2_32_tsc; /* one-shot mode: timer ticks (divide 1) per 2^32 TSC cycles */

static uint32_t apic_read(uint32_t off)
{
	return x2apic ? (uint32_t)rdmsr(X2APIC_MSR(off)) : xapic_mmio[off / 4];
}

static void apic_write(uint32_t off, uint32_t val)
{
	if (x2apic)
		wrmsr(X2APIC_MSR(off), val);
	else
		xapic_mmio[off / 4] = val;
}

bool apic_select_mode(unsigned int requested, char *err, size_t err_len)
{
	bool has_x2apic = cpu_has_x2apic();

	if (!(cpuid(1, 0).edx & (1u << 9))) {
		fmt_snprintf(err, err_len, "this CPU has no local APIC; mmuvisor needs one");
		return false;
	}
	if (requested == APIC_MODE_X2APIC && !has_x2apic) {
		fmt_snprintf(err, err_len,
			     "apic=x2apic but this CPU has no x2APIC; use apic=auto or apic=xapic");
		return false;
	}
	x2apic = requested == APIC_MODE_X2APIC || (requested == APIC_MODE_AUTO && has_x2apic);
	xapic_mmio = (volatile uint32_t *)(uintptr_t)(rdmsr(MSR_APIC_BASE) & APIC_BASE_ADDR_MASK);
	return true;
}

bool apic_x2apic_mode(void)
{
	return x2apic;
}

uint32_t apic_init_this_cpu(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	uint32_t logical = 0;

	if (x2apic) {
		wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE | APIC_BASE_X2APIC);
		/*
		 * Once more, the same value: Bochs 2.7 derives the logical ID
		 * (LDR) only on a write made while already in x2APIC mode
		 * (docs/PLATFORM_FINDINGS.md); a CPU ignores it.
		 */
		wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE | APIC_BASE_X2APIC);
		logical = x2apic_ldr_of(apic_read(APIC_ID));
		if ((uint32_t)rdmsr(X2APIC_MSR(APIC_LDR)) != logical)
			logical = 0;
	} else {
		/* Leaving x2APIC mode needs a pass through "disabled" (SDM 10.12.5). */
		if (base & APIC_BASE_X2APIC)
			wrmsr(MSR_APIC_BASE, base & ~(APIC_BASE_ENABLE | APIC_BASE_X2APIC));
		wrmsr(MSR_APIC_BASE, (base & ~APIC_BASE_X2APIC) | APIC_BASE_ENABLE);
	}
	apic_write(APIC_TPR, 0);
	apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED);
	apic_write(APIC_LVT_LINT0, APIC_LVT_MASKED); /* the legacy PIC is masked anyway */
	apic_write(APIC_LVT_ERROR, APIC_LVT_MASKED);
	apic_write(APIC_SVR, APIC_SVR_ENABLE | VEC_SPURIOUS);
	apic_write(APIC_TIMER_DIVIDE, APIC_TIMER_DIV_1);
	if (!x2apic) {
		uint32_t id = apic_read_id();

		apic_write(APIC_ESR, 0); /* back-to-back writes clear it */
		apic_write(APIC_ESR, 0);
		/*
		 * The flat model: the LDR's top byte is a bit of 8, and one ICR
		 * write reaches every CPU whose bit its mask names (SDM
		 * 10.6.2.2). An ID of 8 or more has no bit: it is sent to alone.
		 * The cluster model, where the MADT has such IDs: the top byte
		 * is a cluster (high nibble) and a bit of 4, and one write
		 * reaches the CPUs its bits name in one cluster. Kept in
		 * percpu.ipi_logical as cluster << 16 | bit, as x2APIC's is; an
		 * ID of 60 or more has none (LDR 0 matches nothing).
		 */
		if (xapic_cluster) {
			uint32_t ldr = (id / 4) << 4 | 1u << (id % 4);

			apic_write(APIC_DFR, APIC_DFR_CLUSTER);
			apic_write(APIC_LDR, id < XAPIC_CLUSTER_IDS ? ldr << 24 : 0);
			if (id < XAPIC_CLUSTER_IDS && apic_read(APIC_LDR) >> 24 == ldr)
				logical = (id / 4) << 16 | 1u << (id % 4);
		} else if (id < 8) {
			apic_write(APIC_DFR, APIC_DFR_FLAT);
			apic_write(APIC_LDR, (1u << id) << 24);
			if (apic_read(APIC_LDR) >> 24 == 1u << id)
				logical = 1u << id;
		}
	}
	return logical;
}

uint32_t apic_read_id(void)
{
	return x2apic ? apic_read(APIC_ID) : apic_read(APIC_ID) >> 24;
}

void apic_eoi(void)
{
	apic_write(APIC_EOI, 0);
}

void apic_send_icr(uint32_t dest, uint32_t icr_low)
{
	bool irqs;

	if (x2apic) { /* one WRMSR: nothing can come between its halves */
		wrmsr(X2APIC_MSR(APIC_ICR_LOW), ((uint64_t)dest << 32) | icr_low);
		return;
	}
	irqs = irq_save(); /* an IPI sent from a handler must not split ours */
	while (xapic_mmio[APIC_ICR_LOW / 4] & APIC_ICR_BUSY)
		cpu_relax();
	xapic_mmio[APIC_ICR_HIGH / 4] = dest << 24;
	xapic_mmio[APIC_ICR_LOW / 4] = icr_low;
	irq_restore(irqs);
}

uint32_t apic_logical_dest(uint32_t cluster, uint32_t bits)
{
	return x2apic ? cluster << 16 | bits : xapic_cluster ? cluster << 4 | bits : bits;
}

void apic_send_nmi_all_but_self(void)
{
	apic_send_icr(0, APIC_DM_NMI | APIC_LEVEL_ASSERT | APIC_DEST_ALL_BUT_SELF);
}

/*
 * The timer as a wake-up at a TSC value (apic_timer_arm): TSC-deadline mode
 * where the CPU has it; otherwise one-shot mode, with the timer's rate
 * against the TSC measured here once (every CPU's timer runs on the same
 * bus clock). One millisecond of TSC, so under Bochs one million
 * instructions.
 */
void apic_timer_calibrate(void)
{
	uint64_t start, cycles;
	uint32_t left;

	if (cpuid(1, 0).ecx & (1u << 24)) {
		tsc_deadline = true;
		return;
	}
	apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED);
	apic_write(APIC_TIMER_INITIAL, 0xffffffffu);
	start = rdtsc();
	udelay(1000);
	left = apic_read(APIC_TIMER_CURRENT);
	cycles = rdtsc() - start;
	apic_write(APIC_TIMER_INITIAL, 0);
	if (cycles)
		ticks_per_2_32_tsc = ((uint64_t)(0xffffffffu - left) << 32) / cycles;
	if (!ticks_per_2_32_tsc)
		ticks_per_2_32_tsc = 1ull << 32; /* a timer we cannot measure: assume the TSC's rate */
}

void apic_timer_arm(uint64_t tsc)
{
	uint64_t now, ticks;

	if (tsc_deadline) {
		apic_write(APIC_LVT_TIMER, APIC_LVT_TSC_DEADLINE | VEC_TIMER);
		wrmsr(MSR_TSC_DEADLINE, tsc ? tsc : 1);
		return;
	}
	now = rdtsc();
	ticks = (int64_t)(tsc - now) <= 0 ? 1
		: (unsigned __int128)(tsc - now) * ticks_per_2_32_tsc >> 32;
	if (ticks > 0xffffffffu)
		ticks = 0xffffffffu; /* early: the caller checks the time and arms again */
	apic_write(APIC_LVT_TIMER, VEC_TIMER);
	apic_write(APIC_TIMER_INITIAL, ticks ? (uint32_t)ticks : 1);
}

/* Armed and not yet fired: an early one-shot (the rate is measured) is armed again. */
bool apic_timer_pending(void)
{
	if (tsc_deadline)
		return rdmsr(MSR_TSC_DEADLINE) != 0;
	return apic_read(APIC_TIMER_CURRENT) != 0;
}

void apic_timer_disarm(void)
{
	if (tsc_deadline)
		wrmsr(MSR_TSC_DEADLINE, 0);
	else
		apic_write(APIC_TIMER_INITIAL, 0);
}
