// SPDX-License-Identifier: MIT
/*
 * The guest's local APICs and I/O APIC (virt/dev/lapic*.c, ioapic.c) and
 * COM1's interrupt line, against a fake clock and a kick callback that
 * counts. Every expected value is written here from the Intel SDM vol. 3
 * ch. 10 (or QEMU's choice where the SDM leaves one), not from output.
 */
#include <pthread.h>
#include <stdint.h>

#include "tests/host/check.h"
#include "tests/host/platform_host.h"
#include "virt/dev/pc.h"

#define BASE 0xfee00000ull
#define IOAPIC 0xfec00000ull

/* xAPIC offsets, SDM table 10-1. */
#define ID 0x20
#define VER 0x30
#define TPR 0x80
#define PPR 0xa0
#define EOI 0xb0
#define LDR 0xd0
#define DFR 0xe0
#define SVR 0xf0
#define ISR 0x100
#define TMR 0x180
#define IRR 0x200
#define ESR 0x280
#define ICR_LO 0x300
#define ICR_HI 0x310
#define LVT_TIMER 0x320
#define LVT_THERMAL 0x330
#define LVT_LINT0 0x350
#define LVT_ERROR 0x370
#define TIMER_INIT 0x380
#define TIMER_CUR 0x390
#define TIMER_DCR 0x3e0

#define MASKED 0x10000u
#define PERIODIC (1u << 17)
#define TSC_DEADLINE_MODE (2u << 17)

/* ICR low: delivery mode << 8, logical 1 << 11, assert 1 << 14, level 1 << 15, shorthand << 18. */
#define DM_FIXED 0x000u
#define DM_LOWEST 0x100u
#define DM_NMI 0x400u
#define DM_INIT 0x500u
#define DM_SIPI 0x600u
#define LOGICAL 0x800u
#define ASSERT 0x4000u
#define LEVEL 0x8000u
#define SH_SELF (1u << 18)
#define SH_ALL (2u << 18)
#define SH_OTHERS (3u << 18)

#define APIC_BASE_MSR 0x1b
#define TSC_DEADLINE_MSR 0x6e0
#define EN 0x800ull
#define EXTD 0x400ull
#define BSP 0x100ull

static _Atomic uint64_t fake_now;
static atomic_uint kicks[PLATFORM_MAX_CPUS];

static uint64_t fake_clock(void)
{
	return atomic_load_explicit(&fake_now, memory_order_relaxed);
}

static void fake_kick(void *ctx, unsigned int n)
{
	(void)ctx;
	atomic_fetch_add(&kicks[n], 1);
}

/* COM1 prints finished lines: not here. */
void kprintf(const char *fmt, ...)
{
	(void)fmt;
}

static void set_now(uint64_t t)
{
	atomic_store(&fake_now, t);
}

static void kicks_clear(void)
{
	for (unsigned int i = 0; i < PLATFORM_MAX_CPUS; i++)
		atomic_store(&kicks[i], 0);
}

static unsigned int kicked(unsigned int n)
{
	return atomic_load(&kicks[n]);
}

static struct pc_devices *dev_create(unsigned int nr, uint64_t tsc_khz)
{
	struct pc_devices *d = calloc(1, sizeof(*d));

	d->cfg = (struct pc_config){
		.nr_vcpus = nr, .kick = fake_kick, .clock = fake_clock, .tsc_khz = tsc_khz
	};
	d->uart_out = malloc(PAGE_SIZE << PC_UART_OUT_ORDER);
	spin_lock_init(&d->lock, "pc_devices");
	pc_uart_reset(d);
	pc_lapic_reset(d);
	pc_ioapic_reset(d);
	set_now(0);
	kicks_clear();
	return d;
}

static void dev_destroy(struct pc_devices *d)
{
	free(d->uart_out);
	free(d);
}

static uint32_t rd(struct pc_devices *d, unsigned int n, unsigned int off)
{
	uint64_t v = 0xdeadbeef;

	CHECK(pc_lapic_mmio(d, n, BASE + off, 4, false, &v));
	return (uint32_t)v;
}

static void wr(struct pc_devices *d, unsigned int n, unsigned int off, uint32_t val)
{
	uint64_t v = val;

	CHECK(pc_lapic_mmio(d, n, BASE + off, 4, true, &v));
}

/* An MSR access: true if it went through, false if it #GPs. */
static bool msr_rd(struct pc_devices *d, unsigned int n, uint32_t msr, uint64_t *val)
{
	bool ok = false;

	CHECK(pc_lapic_msr(d, n, msr, false, val, &ok));
	return ok;
}

static bool msr_wr(struct pc_devices *d, unsigned int n, uint32_t msr, uint64_t val)
{
	bool ok = false;

	CHECK(pc_lapic_msr(d, n, msr, true, &val, &ok));
	return ok;
}

static bool irr(struct pc_devices *d, unsigned int n, unsigned int v)
{
	return atomic_load(&d->lapic[n].irr[v / 32]) & (1u << (v % 32));
}

static bool tmr(struct pc_devices *d, unsigned int n, unsigned int v)
{
	return atomic_load(&d->lapic[n].tmr[v / 32]) & (1u << (v % 32));
}

static bool isr(struct pc_devices *d, unsigned int n, unsigned int v)
{
	return d->lapic[n].isr[v / 32] & (1u << (v % 32));
}

static void enable_all(struct pc_devices *d)
{
	for (unsigned int n = 0; n < d->cfg.nr_vcpus; n++)
		wr(d, n, SVR, 0x1ff);
}

/* Take every pending vector and EOI it, so IRR and ISR are empty. */
/* Take and EOI everything deliverable; returns how many. */
static unsigned int drain(struct pc_devices *d, unsigned int n)
{
	unsigned int taken = 0;
	int v;

	while ((v = pc_lapic_pending_vector(d, n)) >= 0) {
		pc_lapic_ack(d, n, (unsigned int)v);
		wr(d, n, EOI, 0);
		taken++;
	}
	return taken;
}

static void ipi(struct pc_devices *d, unsigned int from, uint8_t dest, uint32_t low)
{
	wr(d, from, ICR_HI, (uint32_t)dest << 24);
	wr(d, from, ICR_LO, low);
}

static uint32_t io_rd(struct pc_devices *d, uint8_t reg)
{
	uint64_t v = reg;

	CHECK(pc_ioapic_mmio(d, 0, IOAPIC, 4, true, &v));
	CHECK(pc_ioapic_mmio(d, 0, IOAPIC + 0x10, 4, false, &v));
	return (uint32_t)v;
}

static void io_wr(struct pc_devices *d, uint8_t reg, uint32_t val)
{
	uint64_t v = reg;

	CHECK(pc_ioapic_mmio(d, 0, IOAPIC, 4, true, &v));
	v = val;
	CHECK(pc_ioapic_mmio(d, 0, IOAPIC + 0x10, 4, true, &v));
}

static void io_rte(struct pc_devices *d, unsigned int pin, uint32_t low, uint8_t dest)
{
	io_wr(d, (uint8_t)(0x11 + 2 * pin), (uint32_t)dest << 24);
	io_wr(d, (uint8_t)(0x10 + 2 * pin), low);
}

/* --- registers (xAPIC) --- */

static void test_xapic_reset_values(void)
{
	struct pc_devices *d = dev_create(4, 1000000);
	uint64_t v;

	CHECK_EQ_U(rd(d, 2, ID), 2u << 24);
	CHECK_EQ_U(rd(d, 0, VER), 0x50014);
	CHECK_EQ_U(rd(d, 0, SVR), 0xff);
	CHECK_EQ_U(rd(d, 0, TPR), 0);
	CHECK_EQ_U(rd(d, 0, PPR), 0);
	CHECK_EQ_U(rd(d, 0, LDR), 0);
	CHECK_EQ_U(rd(d, 0, DFR), 0xffffffffu);
	for (unsigned int off = LVT_TIMER; off <= LVT_ERROR; off += 0x10)
		CHECK_EQ_U(rd(d, 1, off), MASKED);
	CHECK(msr_rd(d, 0, APIC_BASE_MSR, &v));
	CHECK_EQ_U(v, 0xfee00000ull | EN | BSP);
	CHECK(msr_rd(d, 3, APIC_BASE_MSR, &v));
	CHECK_EQ_U(v, 0xfee00000ull | EN);
	dev_destroy(d);
}

static void test_xapic_register_rules(void)
{
	struct pc_devices *d = dev_create(4, 1000000);
	uint64_t v;

	wr(d, 2, ID, 0x07000000);
	CHECK_EQ_U(rd(d, 2, ID), 2u << 24); /* read-only here */
	wr(d, 0, VER, 0);
	CHECK_EQ_U(rd(d, 0, VER), 0x50014);

	/* Software-disabled: an LVT cannot be unmasked. */
	wr(d, 0, LVT_TIMER, 0x20);
	CHECK_EQ_U(rd(d, 0, LVT_TIMER), MASKED | 0x20);
	wr(d, 0, SVR, 0xffffffff);
	CHECK_EQ_U(rd(d, 0, SVR), 0x3ff);
	wr(d, 0, LVT_TIMER, 0x20);
	CHECK_EQ_U(rd(d, 0, LVT_TIMER), 0x20);
	wr(d, 0, LVT_TIMER, 0xffffffff);
	CHECK_EQ_U(rd(d, 0, LVT_TIMER), 0x700ff);
	wr(d, 0, LVT_THERMAL, 0xffffffff);
	CHECK_EQ_U(rd(d, 0, LVT_THERMAL), 0x107ff);
	wr(d, 0, LVT_LINT0, 0xffffffff);
	CHECK_EQ_U(rd(d, 0, LVT_LINT0), 0x1a7ff);
	wr(d, 0, LVT_ERROR, 0xffffffff);
	CHECK_EQ_U(rd(d, 0, LVT_ERROR), 0x100ff);
	wr(d, 0, LVT_LINT0, 0x700);
	/* Clearing the enable bit masks every LVT. */
	wr(d, 0, SVR, 0xff);
	CHECK_EQ_U(rd(d, 0, LVT_LINT0), MASKED | 0x700);

	wr(d, 0, TPR, 0x1ff);
	CHECK_EQ_U(rd(d, 0, TPR), 0xff);
	wr(d, 0, LDR, 0x12345678);
	CHECK_EQ_U(rd(d, 0, LDR), 0x12000000);
	wr(d, 0, DFR, 0);
	CHECK_EQ_U(rd(d, 0, DFR), 0x0fffffff);
	wr(d, 0, ICR_HI, 0xffffffff);
	CHECK_EQ_U(rd(d, 0, ICR_HI), 0xff000000);
	wr(d, 0, TIMER_CUR, 1234);
	CHECK_EQ_U(rd(d, 0, TIMER_CUR), 0);
	wr(d, 0, TIMER_DCR, 0xffffffff);
	CHECK_EQ_U(rd(d, 0, TIMER_DCR), 0xb);

	/* Narrow loads inside a register's first dword; bytes 4..15 read 0. */
	CHECK(pc_lapic_mmio(d, 2, BASE + ID + 3, 1, false, &v));
	CHECK_EQ_U(v, 2);
	CHECK(pc_lapic_mmio(d, 2, BASE + ID + 4, 4, false, &v));
	CHECK_EQ_U(v, 0);
	/* Only an aligned dword store reaches a register. */
	v = 0x40;
	CHECK(pc_lapic_mmio(d, 0, BASE + TPR, 2, true, &v));
	CHECK_EQ_U(rd(d, 0, TPR), 0xff);
	/* No register: reads 0, as do the x2APIC-only SELF IPI and write-only EOI. */
	CHECK_EQ_U(rd(d, 0, 0x400), 0);
	CHECK_EQ_U(rd(d, 0, 0x3f0), 0);
	CHECK_EQ_U(rd(d, 0, EOI), 0);
	dev_destroy(d);
}

static void test_esr_latch(void)
{
	struct pc_devices *d = dev_create(2, 1000000);

	enable_all(d);
	ipi(d, 0, 1, DM_FIXED | 5); /* vector 5: send illegal vector (bit 5) */
	CHECK(!irr(d, 1, 5));
	CHECK_EQ_U(kicked(1), 0);
	CHECK_EQ_U(rd(d, 0, ESR), 0); /* not latched until written */
	wr(d, 0, ESR, 0);
	CHECK_EQ_U(rd(d, 0, ESR), 0x20);
	wr(d, 0, ESR, 0);
	CHECK_EQ_U(rd(d, 0, ESR), 0);
	/* A received illegal vector (bit 6), here from the I/O APIC's message. */
	pc_lapic_deliver(d, 1, false, 0, 9, false);
	CHECK(!irr(d, 1, 9));
	wr(d, 1, ESR, 0);
	CHECK_EQ_U(rd(d, 1, ESR), 0x40);
	dev_destroy(d);
}

/* --- interrupt messages --- */

static void test_icr_physical_and_shorthands(void)
{
	struct pc_devices *d = dev_create(4, 1000000);

	enable_all(d);
	ipi(d, 0, 2, DM_FIXED | 0x41 | 0x1000); /* bit 12 (delivery status) is read-only */
	CHECK(irr(d, 2, 0x41));
	CHECK(!irr(d, 0, 0x41) && !irr(d, 1, 0x41) && !irr(d, 3, 0x41));
	CHECK(kicked(2) == 1 && kicked(0) + kicked(1) + kicked(3) == 0);
	CHECK_EQ_U(rd(d, 0, ICR_LO), 0x41);
	CHECK(!tmr(d, 2, 0x41));

	ipi(d, 1, 0xff, DM_FIXED | 0x42); /* physical broadcast */
	for (unsigned int n = 0; n < 4; n++)
		CHECK(irr(d, n, 0x42));

	kicks_clear();
	ipi(d, 1, 3, SH_SELF | 0x43); /* the destination field is ignored */
	CHECK(irr(d, 1, 0x43) && !irr(d, 3, 0x43));
	CHECK(kicked(1) == 1 && kicked(3) == 0);
	ipi(d, 3, 0, SH_ALL | 0x44);
	for (unsigned int n = 0; n < 4; n++)
		CHECK(irr(d, n, 0x44));
	kicks_clear();
	ipi(d, 3, 0, SH_OTHERS | 0x45);
	CHECK(irr(d, 0, 0x45) && irr(d, 1, 0x45) && irr(d, 2, 0x45) && !irr(d, 3, 0x45));
	CHECK(kicked(0) == 1 && kicked(1) == 1 && kicked(2) == 1 && kicked(3) == 0);

	/* A level-triggered fixed IPI sets TMR too. */
	ipi(d, 0, 1, DM_FIXED | ASSERT | LEVEL | 0x46);
	CHECK(irr(d, 1, 0x46) && tmr(d, 1, 0x46));

	/* A software-disabled APIC takes no fixed interrupt, and is not kicked. */
	wr(d, 3, SVR, 0xff);
	kicks_clear();
	ipi(d, 0, 3, DM_FIXED | 0x47);
	CHECK(!irr(d, 3, 0x47));
	CHECK_EQ_U(kicked(3), 0);
	dev_destroy(d);
}

static void test_icr_logical(void)
{
	struct pc_devices *d = dev_create(4, 1000000);

	enable_all(d);
	for (unsigned int n = 0; n < 4; n++)
		wr(d, n, LDR, 1u << (24 + n)); /* flat: one bit each */
	ipi(d, 0, 0x05, LOGICAL | 0x50);
	CHECK(irr(d, 0, 0x50) && !irr(d, 1, 0x50) && irr(d, 2, 0x50) && !irr(d, 3, 0x50));
	ipi(d, 0, 0xff, LOGICAL | 0x51); /* every flat APIC with an LDR bit */
	for (unsigned int n = 0; n < 4; n++)
		CHECK(irr(d, n, 0x51));

	/* Lowest priority: one APIC of the set, the lowest numbered. */
	kicks_clear();
	ipi(d, 0, 0x0c, LOGICAL | DM_LOWEST | 0x52);
	CHECK(irr(d, 2, 0x52) && !irr(d, 3, 0x52));
	CHECK(kicked(2) == 1 && kicked(3) == 0);
	wr(d, 2, SVR, 0xff); /* one that cannot take it is passed over */
	ipi(d, 0, 0x0c, LOGICAL | DM_LOWEST | 0x53);
	CHECK(!irr(d, 2, 0x53) && irr(d, 3, 0x53));
	wr(d, 2, SVR, 0x1ff);

	/* Cluster model: cluster in LDR[31:28], members in LDR[27:24]. */
	for (unsigned int n = 0; n < 4; n++)
		wr(d, n, DFR, 0x0fffffff);
	wr(d, 0, LDR, 0x11000000);
	wr(d, 1, LDR, 0x12000000);
	wr(d, 2, LDR, 0x21000000);
	wr(d, 3, LDR, 0x22000000);
	ipi(d, 0, 0x13, LOGICAL | 0x54);
	CHECK(irr(d, 0, 0x54) && irr(d, 1, 0x54) && !irr(d, 2, 0x54) && !irr(d, 3, 0x54));
	ipi(d, 0, 0x22, LOGICAL | 0x55);
	CHECK(!irr(d, 0, 0x55) && !irr(d, 1, 0x55) && !irr(d, 2, 0x55) && irr(d, 3, 0x55));
	ipi(d, 0, 0xf1, LOGICAL | 0x56); /* cluster 0xf: every cluster, member bit 0 */
	CHECK(irr(d, 0, 0x56) && !irr(d, 1, 0x56) && irr(d, 2, 0x56) && !irr(d, 3, 0x56));
	ipi(d, 0, 0x30, LOGICAL | 0x57); /* no member bit: nobody */
	for (unsigned int n = 0; n < 4; n++)
		CHECK(!irr(d, n, 0x57));
	dev_destroy(d);
}

static void test_nmi_init_sipi(void)
{
	struct pc_devices *d = dev_create(4, 1000000);

	/* All software-disabled (reset): NMI, INIT and SIPI are still taken. */
	ipi(d, 0, 3, DM_NMI | 0x99);
	CHECK_EQ_U(kicked(3), 1);
	CHECK(pc_lapic_take_nmi(d, 3));
	CHECK(!pc_lapic_take_nmi(d, 3));
	CHECK(!irr(d, 3, 0x99));

	ipi(d, 0, 2, DM_INIT | LEVEL); /* INIT level de-assert: ignored */
	CHECK(!pc_lapic_take_init(d, 2));
	CHECK_EQ_U(kicked(2), 0);

	ipi(d, 0, 1, DM_INIT | ASSERT);
	ipi(d, 0, 1, DM_SIPI | ASSERT | 0x08); /* back to back, before vCPU 1 looks */
	CHECK(pc_lapic_take_init(d, 1));
	CHECK_EQ_U(pc_lapic_take_sipi(d, 1), 0x08);
	CHECK_EQ_U(pc_lapic_take_sipi(d, 1), (uint64_t)-1);
	/* A SIPI followed by an INIT: the INIT discards it. */
	ipi(d, 0, 2, DM_SIPI | 0x09);
	ipi(d, 0, 2, DM_INIT | ASSERT | LEVEL);
	CHECK(pc_lapic_take_init(d, 2));
	CHECK_EQ_U(pc_lapic_take_sipi(d, 2), (uint64_t)-1);

	/* INIT to all but self, SIPI to all but self (the usual AP boot). */
	ipi(d, 0, 0, SH_OTHERS | DM_INIT | ASSERT);
	ipi(d, 0, 0, SH_OTHERS | DM_SIPI | 0x10);
	CHECK(!pc_lapic_take_init(d, 0));
	for (unsigned int n = 1; n < 4; n++) {
		CHECK(pc_lapic_take_init(d, n));
		CHECK_EQ_U(pc_lapic_take_sipi(d, n), 0x10);
	}

	/* Hardware-disabled (APIC_BASE.EN = 0): takes nothing. */
	CHECK(msr_wr(d, 3, APIC_BASE_MSR, 0xfee00000ull));
	ipi(d, 0, 3, DM_NMI);
	ipi(d, 0, 3, DM_INIT | ASSERT);
	CHECK(!pc_lapic_take_nmi(d, 3));
	CHECK(!pc_lapic_take_init(d, 3));
	dev_destroy(d);
}

static void test_init_resets_apic(void)
{
	struct pc_devices *d = dev_create(2, 1000000);
	uint64_t v;

	enable_all(d);
	wr(d, 1, TPR, 0x20);
	wr(d, 1, LDR, 0x04000000);
	wr(d, 1, DFR, 0x0fffffff);
	wr(d, 1, LVT_TIMER, 0x30);
	wr(d, 1, TIMER_INIT, 1000);
	ipi(d, 0, 1, 0x60);
	ipi(d, 0, 1, ASSERT | LEVEL | 0x70);
	pc_lapic_ack(d, 1, 0x70);
	CHECK(msr_wr(d, 1, APIC_BASE_MSR, 0xfee00000ull | EN));

	ipi(d, 0, 1, DM_INIT | ASSERT);
	CHECK(pc_lapic_take_init(d, 1));
	CHECK_EQ_U(rd(d, 1, ID), 1u << 24);
	CHECK(msr_rd(d, 1, APIC_BASE_MSR, &v));
	CHECK_EQ_U(v, 0xfee00000ull | EN);
	CHECK_EQ_U(rd(d, 1, SVR), 0xff);
	CHECK_EQ_U(rd(d, 1, TPR), 0);
	CHECK_EQ_U(rd(d, 1, LDR), 0);
	CHECK_EQ_U(rd(d, 1, DFR), 0xffffffff);
	CHECK_EQ_U(rd(d, 1, LVT_TIMER), MASKED);
	CHECK_EQ_U(rd(d, 1, TIMER_INIT), 0);
	CHECK(!irr(d, 1, 0x60) && !isr(d, 1, 0x70) && !tmr(d, 1, 0x70));
	CHECK_EQ_U(rd(d, 1, IRR + 0x30), 0); /* IRR bits 127:96 */
	CHECK_EQ_U(pc_lapic_timer_poll(d, 1), 0);
	dev_destroy(d);
}

/* --- priority --- */

static void test_priority_and_eoi_order(void)
{
	struct pc_devices *d = dev_create(1, 1000000);

	CHECK_EQ_U(pc_lapic_pending_vector(d, 0), (uint64_t)-1);
	pc_lapic_deliver(d, 0, false, 0, 0x31, false);
	CHECK(!irr(d, 0, 0x31)); /* software-disabled: not taken */
	wr(d, 0, SVR, 0x1ff);
	pc_lapic_deliver(d, 0, false, 0, 0x31, false);
	pc_lapic_deliver(d, 0, false, 0, 0x52, false);
	pc_lapic_deliver(d, 0, false, 0, 0x55, false);
	CHECK_EQ_U(rd(d, 0, IRR + 0x20), (1u << (0x52 - 64)) | (1u << (0x55 - 64)));
	CHECK_EQ_U(pc_lapic_pending_vector(d, 0), 0x55);
	pc_lapic_ack(d, 0, 0x55);
	CHECK(isr(d, 0, 0x55) && !irr(d, 0, 0x55));
	CHECK_EQ_U(rd(d, 0, ISR + 0x20), 1u << (0x55 - 64));
	CHECK_EQ_U(rd(d, 0, PPR), 0x50);
	CHECK_EQ_U(pc_lapic_pending_vector(d, 0), (uint64_t)-1); /* 0x52: class 5, not above 5 */
	pc_lapic_deliver(d, 0, false, 0, 0x61, false);
	CHECK_EQ_U(pc_lapic_pending_vector(d, 0), 0x61);
	pc_lapic_ack(d, 0, 0x61); /* nested */
	CHECK_EQ_U(rd(d, 0, PPR), 0x60);
	wr(d, 0, EOI, 0); /* the highest in service: 0x61 */
	CHECK(!isr(d, 0, 0x61) && isr(d, 0, 0x55));
	CHECK_EQ_U(rd(d, 0, PPR), 0x50);
	wr(d, 0, EOI, 0);
	CHECK(!isr(d, 0, 0x55));
	CHECK_EQ_U(rd(d, 0, PPR), 0);
	CHECK_EQ_U(pc_lapic_pending_vector(d, 0), 0x52);
	pc_lapic_ack(d, 0, 0x52);
	wr(d, 0, TPR, 0x57); /* the same class as ISR's: PPR is TPR */
	CHECK_EQ_U(rd(d, 0, PPR), 0x57);
	wr(d, 0, TPR, 0x47);
	CHECK_EQ_U(rd(d, 0, PPR), 0x50);
	wr(d, 0, TPR, 0);
	wr(d, 0, EOI, 0);

	/* TPR: PPR is TPR when its class is at least the in-service one's. */
	wr(d, 0, TPR, 0x40);
	CHECK_EQ_U(rd(d, 0, PPR), 0x40);
	CHECK_EQ_U(pc_lapic_pending_vector(d, 0), (uint64_t)-1); /* 0x31 is below */
	wr(d, 0, TPR, 0x2f);
	CHECK_EQ_U(rd(d, 0, PPR), 0x2f);
	CHECK_EQ_U(pc_lapic_pending_vector(d, 0), 0x31);
	pc_lapic_ack(d, 0, 0x31);
	CHECK_EQ_U(rd(d, 0, PPR), 0x30); /* ISR class 3 above TPR class 2 */
	wr(d, 0, EOI, 0);
	wr(d, 0, EOI, 0); /* nothing in service: no effect */
	CHECK_EQ_U(rd(d, 0, PPR), 0x2f);

	/* CR8 is TPR[7:4]; writing it clears TPR[3:0]. */
	CHECK_EQ_U(pc_lapic_cr8(d, 0), 2);
	pc_lapic_deliver(d, 0, false, 0, 0x31, false);
	pc_lapic_set_cr8(d, 0, 3);
	CHECK_EQ_U(rd(d, 0, TPR), 0x30);
	CHECK_EQ_U(pc_lapic_pending_vector(d, 0), (uint64_t)-1); /* class 3, not above 3 */
	pc_lapic_set_cr8(d, 0, 2);
	CHECK_EQ_U(pc_lapic_pending_vector(d, 0), 0x31);
	pc_lapic_ack(d, 0, 0x31);
	wr(d, 0, EOI, 0);
	pc_lapic_set_cr8(d, 0, 0);
	CHECK_EQ_U(rd(d, 0, PPR), 0);

	/* Software-disabled: nothing is delivered, IRR is held. */
	pc_lapic_deliver(d, 0, false, 0, 0x80, false);
	wr(d, 0, SVR, 0xff);
	CHECK_EQ_U(pc_lapic_pending_vector(d, 0), (uint64_t)-1);
	wr(d, 0, SVR, 0x1ff);
	CHECK_EQ_U(pc_lapic_pending_vector(d, 0), 0x80);
	dev_destroy(d);
}

/* --- the I/O APIC --- */

static void test_ioapic_registers(void)
{
	struct pc_devices *d = dev_create(4, 1000000);
	uint64_t v;

	CHECK_EQ_U(io_rd(d, 0x00), 4u << 24); /* the MADT's ID: nr_vcpus */
	io_wr(d, 0x00, 0xffffffff);
	CHECK_EQ_U(io_rd(d, 0x00), 0x0f000000);
	CHECK_EQ_U(io_rd(d, 0x01), 0x00170020);
	io_wr(d, 0x01, 0);
	CHECK_EQ_U(io_rd(d, 0x01), 0x00170020);
	for (unsigned int pin = 0; pin < 24; pin++) {
		CHECK_EQ_U(io_rd(d, (uint8_t)(0x10 + 2 * pin)), MASKED);
		CHECK_EQ_U(io_rd(d, (uint8_t)(0x11 + 2 * pin)), 0);
	}
	/* Delivery status (12) and Remote IRR (14) are read-only. */
	io_wr(d, 0x10 + 2 * 5, 0xffffffff);
	CHECK_EQ_U(io_rd(d, 0x10 + 2 * 5), 0xffffafff);
	io_wr(d, 0x11 + 2 * 5, 0xff000000);
	CHECK_EQ_U(io_rd(d, 0x11 + 2 * 5), 0xff000000);
	CHECK_EQ_U(io_rd(d, 0x40), 0); /* past pin 23 */
	v = 0x23;
	CHECK(pc_ioapic_mmio(d, 0, IOAPIC, 1, true, &v));
	CHECK(pc_ioapic_mmio(d, 0, IOAPIC, 4, false, &v));
	CHECK_EQ_U(v, 0x23);
	dev_destroy(d);
}

static void test_ioapic_level_pin_and_eoi(void)
{
	struct pc_devices *d = dev_create(2, 1000000);

	enable_all(d);
	io_rte(d, 9, 0x8000 | 0x60, 0); /* level, active high, fixed, physical 0 */
	pc_ioapic_set_irq(d, 9, true);
	CHECK(irr(d, 0, 0x60) && tmr(d, 0, 0x60));
	CHECK_EQ_U(kicked(0), 1);
	CHECK_EQ_U(io_rd(d, 0x10 + 2 * 9), 0x8000 | 0x4000 | 0x60); /* Remote IRR */
	CHECK_EQ_U(pc_lapic_pending_vector(d, 0), 0x60);
	pc_lapic_ack(d, 0, 0x60);
	pc_ioapic_set_irq(d, 9, true); /* still high, Remote IRR set: nothing new */
	CHECK(!irr(d, 0, 0x60));
	wr(d, 0, EOI, 0); /* broadcast: Remote IRR cleared, still high: sent again */
	CHECK(irr(d, 0, 0x60));
	CHECK_EQ_U(kicked(0), 2);
	CHECK_EQ_U(io_rd(d, 0x10 + 2 * 9) & 0x4000, 0x4000);
	pc_lapic_ack(d, 0, 0x60);
	pc_ioapic_set_irq(d, 9, false);
	wr(d, 0, EOI, 0);
	CHECK(!irr(d, 0, 0x60));
	CHECK_EQ_U(io_rd(d, 0x10 + 2 * 9) & 0x4000, 0);

	/* Masked while high: nothing; unmasking sends. */
	io_rte(d, 9, MASKED | 0x8000 | 0x60, 0);
	pc_ioapic_set_irq(d, 9, true);
	CHECK(!irr(d, 0, 0x60));
	io_rte(d, 9, 0x8000 | 0x60, 0);
	CHECK(irr(d, 0, 0x60));
	/* Version 0x20's EOI register clears Remote IRR too (and resends: still high). */
	pc_lapic_ack(d, 0, 0x60);
	{
		uint64_t v = 0x60;

		CHECK(pc_ioapic_mmio(d, 0, IOAPIC + 0x40, 4, true, &v));
	}
	CHECK(irr(d, 0, 0x60));
	CHECK(isr(d, 0, 0x60)); /* the EOI register is the I/O APIC's, not the local APIC's */
	pc_ioapic_set_irq(d, 9, false);
	wr(d, 0, EOI, 0);
	CHECK(!isr(d, 0, 0x60));
	drain(d, 0);
	CHECK_EQ_U(io_rd(d, 0x10 + 2 * 9) & 0x4000, 0);

	/* Active low: an input at 0 is asserted. */
	io_rte(d, 10, 0x8000 | 0x2000 | 0x61, 1);
	CHECK(irr(d, 1, 0x61) && tmr(d, 1, 0x61));
	/* Logical destination from the I/O APIC: LDR flat bit 1 is vCPU 1. */
	wr(d, 1, LDR, 0x02000000);
	io_rte(d, 11, LOGICAL | 0x62, 0x02);
	pc_ioapic_set_irq(d, 11, true);
	CHECK(irr(d, 1, 0x62) && !irr(d, 0, 0x62) && !tmr(d, 1, 0x62));
	dev_destroy(d);
}

static void test_ioapic_edge_pin(void)
{
	struct pc_devices *d = dev_create(2, 1000000);

	enable_all(d);
	io_rte(d, 4, 0x24, 1);
	pc_ioapic_set_irq(d, 4, true);
	CHECK(irr(d, 1, 0x24) && !tmr(d, 1, 0x24));
	CHECK_EQ_U(io_rd(d, 0x10 + 2 * 4), 0x24); /* no Remote IRR for an edge pin */
	drain(d, 1);
	pc_ioapic_set_irq(d, 4, true); /* no 0 -> 1 transition */
	CHECK(!irr(d, 1, 0x24));
	pc_ioapic_set_irq(d, 4, false);
	pc_ioapic_set_irq(d, 4, true);
	CHECK(irr(d, 1, 0x24));
	drain(d, 1);
	/* Masked: the edge is lost, and unmasking does not bring it back. */
	io_rte(d, 4, MASKED | 0x24, 1);
	pc_ioapic_set_irq(d, 4, false);
	pc_ioapic_set_irq(d, 4, true);
	io_rte(d, 4, 0x24, 1);
	CHECK(!irr(d, 1, 0x24));
	/* Lowest priority, physical broadcast: one APIC, the lowest. */
	io_rte(d, 3, DM_LOWEST | 0x25, 0xff);
	pc_ioapic_set_irq(d, 3, true);
	CHECK(irr(d, 0, 0x25) && !irr(d, 1, 0x25));
	dev_destroy(d);
}

/* --- x2APIC --- */

static void test_x2apic_msrs(void)
{
	struct pc_devices *d = dev_create(20, 1000000);
	uint64_t v;

	CHECK(!msr_rd(d, 0, 0x802, &v)); /* xAPIC mode: #GP */
	CHECK(!msr_wr(d, 0, 0x808, 0));
	for (unsigned int n = 0; n < 20; n++)
		CHECK(msr_wr(d, n, APIC_BASE_MSR, 0xfee00000ull | EN | EXTD | (n ? 0 : BSP)));
	CHECK(msr_rd(d, 3, 0x802, &v));
	CHECK_EQ_U(v, 3);
	CHECK(msr_rd(d, 3, 0x80d, &v));
	CHECK_EQ_U(v, 1u << 3);
	CHECK(msr_rd(d, 17, 0x80d, &v));
	CHECK_EQ_U(v, (1u << 16) | (1u << 1));
	CHECK(msr_rd(d, 0, 0x803, &v));
	CHECK_EQ_U(v, 0x50014);
	CHECK(msr_rd(d, 0, 0x80f, &v));
	CHECK_EQ_U(v, 0xff);

	/* Read-only registers, write-only ones, and ones x2APIC does not have. */
	CHECK(!msr_wr(d, 0, 0x802, 0));  /* ID */
	CHECK(!msr_wr(d, 0, 0x803, 0));  /* version */
	CHECK(!msr_wr(d, 0, 0x80a, 0));  /* PPR */
	CHECK(!msr_wr(d, 0, 0x80d, 0));  /* LDR */
	CHECK(!msr_wr(d, 0, 0x810, 0));  /* ISR */
	CHECK(!msr_wr(d, 0, 0x839, 0));  /* current count */
	CHECK(!msr_rd(d, 0, 0x80b, &v)); /* EOI */
	CHECK(!msr_rd(d, 0, 0x83f, &v)); /* SELF IPI */
	CHECK(!msr_rd(d, 0, 0x80e, &v)); /* DFR */
	CHECK(!msr_wr(d, 0, 0x80e, 0));
	CHECK(!msr_rd(d, 0, 0x831, &v)); /* ICR high */
	CHECK(!msr_rd(d, 0, 0x809, &v)); /* APR */
	CHECK(!msr_rd(d, 0, 0x80c, &v)); /* RRD */
	CHECK(!msr_rd(d, 0, 0x804, &v)); /* reserved */
	CHECK(!msr_rd(d, 0, 0x82f, &v)); /* CMCI: not offered (6 LVTs) */
	CHECK(!msr_rd(d, 0, 0x8ff, &v));
	CHECK(!msr_wr(d, 0, 0x80b, 1)); /* EOI takes only 0 */
	CHECK(msr_wr(d, 0, 0x80b, 0));
	CHECK(!msr_wr(d, 0, 0x828, 1)); /* ESR likewise */
	CHECK(msr_wr(d, 0, 0x828, 0));
	CHECK(!msr_wr(d, 0, 0x808, 1ull << 32)); /* bits 63:32 reserved */
	CHECK(msr_wr(d, 0, 0x808, 0x30));
	CHECK(msr_rd(d, 0, 0x808, &v));
	CHECK_EQ_U(v, 0x30);
	CHECK(msr_wr(d, 0, 0x808, 0));
	/* Not APIC MSRs at all: the caller goes on. */
	{
		bool ok;

		v = 0;
		CHECK(!pc_lapic_msr(d, 0, 0x7ff, false, &v, &ok));
		CHECK(!pc_lapic_msr(d, 0, 0x900, false, &v, &ok));
	}

	/* The page is gone in x2APIC mode: reads 0, writes dropped. */
	CHECK_EQ_U(rd(d, 0, VER), 0);
	wr(d, 0, TPR, 0x50);
	CHECK(msr_rd(d, 0, 0x808, &v));
	CHECK_EQ_U(v, 0);
	dev_destroy(d);
}

static void test_x2apic_ipis(void)
{
	struct pc_devices *d = dev_create(20, 1000000);
	uint64_t v;

	for (unsigned int n = 0; n < 20; n++) {
		CHECK(msr_wr(d, n, APIC_BASE_MSR, 0xfee00000ull | EN | EXTD | (n ? 0 : BSP)));
		CHECK(msr_wr(d, n, 0x80f, 0x1ff));
	}
	CHECK(msr_wr(d, 0, 0x830, (2ull << 32) | 0x45));
	CHECK(irr(d, 2, 0x45) && !irr(d, 0, 0x45));
	CHECK(msr_rd(d, 0, 0x830, &v));
	CHECK_EQ_U(v, (2ull << 32) | 0x45);
	CHECK(!msr_wr(d, 0, 0x830, (2ull << 32) | 0x2000 | 0x46)); /* bit 13 reserved */
	CHECK(!irr(d, 2, 0x46));
	/* Physical 0xff is APIC ID 255 in x2APIC, no broadcast; 0xffffffff is. */
	CHECK(msr_wr(d, 0, 0x830, (0xffull << 32) | 0x47));
	for (unsigned int n = 0; n < 20; n++)
		CHECK(!irr(d, n, 0x47));
	CHECK(msr_wr(d, 0, 0x830, (0xffffffffull << 32) | 0x48));
	for (unsigned int n = 0; n < 20; n++)
		CHECK(irr(d, n, 0x48));
	/* Cluster 0, members 1 and 2; cluster 1, member 1 (= APIC 17). */
	CHECK(msr_wr(d, 0, 0x830, (0x00000006ull << 32) | LOGICAL | 0x49));
	for (unsigned int n = 0; n < 20; n++)
		CHECK(irr(d, n, 0x49) == (n == 1 || n == 2));
	CHECK(msr_wr(d, 0, 0x830, (0x00010002ull << 32) | LOGICAL | 0x4a));
	for (unsigned int n = 0; n < 20; n++)
		CHECK(irr(d, n, 0x4a) == (n == 17));
	/* SELF IPI: fixed, edge, to self. */
	kicks_clear();
	CHECK(msr_wr(d, 5, 0x83f, 0x51));
	CHECK(irr(d, 5, 0x51) && kicked(5) == 1);
	/* INIT keeps x2APIC mode and its derived LDR. */
	CHECK(msr_wr(d, 0, 0x830, (17ull << 32) | DM_INIT | ASSERT));
	CHECK(pc_lapic_take_init(d, 17));
	CHECK(msr_rd(d, 17, 0x80d, &v));
	CHECK_EQ_U(v, (1u << 16) | (1u << 1));
	CHECK(msr_rd(d, 17, 0x80f, &v));
	CHECK_EQ_U(v, 0xff);
	dev_destroy(d);
}

static void test_apic_base_transitions(void)
{
	struct pc_devices *d = dev_create(2, 1000000);
	uint64_t v;

	CHECK(!msr_wr(d, 0, APIC_BASE_MSR, 0xfee00000ull | EN | BSP | 1));     /* bit 0 */
	CHECK(!msr_wr(d, 0, APIC_BASE_MSR, 0xfee00000ull | EN | BSP | 0x200)); /* bit 9 */
	CHECK(!msr_wr(d, 0, APIC_BASE_MSR, (1ull << 36) | 0xfee00000ull | EN | BSP));
	CHECK(!msr_wr(d, 0, APIC_BASE_MSR, 0xfee00000ull | EN)); /* BSP is fixed */
	CHECK(!msr_wr(d, 1, APIC_BASE_MSR, 0xfee00000ull | EN | BSP));
	CHECK(!msr_wr(d, 1, APIC_BASE_MSR, 0xfee00000ull | EXTD)); /* EXTD without EN */

	/* xAPIC state survives nothing once the APIC is disabled. */
	wr(d, 1, SVR, 0x1ff);
	wr(d, 1, TPR, 0x20);
	CHECK(msr_wr(d, 1, APIC_BASE_MSR, 0xfee00000ull));
	CHECK_EQ_U(rd(d, 1, VER), 0); /* no page while disabled */
	CHECK(!msr_rd(d, 1, 0x802, &v));
	CHECK(!msr_wr(d, 1, APIC_BASE_MSR, 0xfee00000ull | EN | EXTD)); /* disabled -> x2APIC */
	CHECK(msr_wr(d, 1, APIC_BASE_MSR, 0xfee00000ull | EN));
	CHECK_EQ_U(rd(d, 1, SVR), 0xff);
	CHECK_EQ_U(rd(d, 1, TPR), 0);
	CHECK(msr_wr(d, 1, APIC_BASE_MSR, 0xfee00000ull | EN | EXTD));
	CHECK(!msr_wr(d, 1, APIC_BASE_MSR, 0xfee00000ull | EN)); /* x2APIC -> xAPIC */
	CHECK(msr_rd(d, 1, APIC_BASE_MSR, &v));
	CHECK_EQ_U(v, 0xfee00000ull | EN | EXTD);
	CHECK(msr_wr(d, 1, APIC_BASE_MSR, 0xfee00000ull));      /* x2APIC -> disabled */
	CHECK(msr_wr(d, 1, APIC_BASE_MSR, 0xfee00000ull | EN)); /* and back to xAPIC */
	CHECK_EQ_U(rd(d, 1, ID), 1u << 24);
	CHECK_EQ_U(rd(d, 1, LDR), 0);
	dev_destroy(d);
}

/* --- the timer --- */

static void test_timer_oneshot(void)
{
	struct pc_devices *d = dev_create(1, 2000000); /* 2 GHz: 2 cycles per ns */

	wr(d, 0, SVR, 0x1ff);
	wr(d, 0, LVT_TIMER, 0x40);
	wr(d, 0, TIMER_DCR, 0x3); /* divide by 16 */
	set_now(1000);
	wr(d, 0, TIMER_INIT, 1000); /* 16000 ns = 32000 cycles */
	CHECK_EQ_U(rd(d, 0, TIMER_INIT), 1000);
	CHECK_EQ_U(rd(d, 0, TIMER_CUR), 1000);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 33000);
	set_now(1000 + 3200); /* 1600 ns: 100 ticks of 16 ns */
	CHECK_EQ_U(rd(d, 0, TIMER_CUR), 900);
	set_now(32999);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 33000);
	CHECK(!irr(d, 0, 0x40));
	set_now(33000);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 0);
	CHECK(irr(d, 0, 0x40));
	CHECK_EQ_U(rd(d, 0, TIMER_CUR), 0);
	drain(d, 0);
	set_now(100000);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 0); /* once only */
	CHECK(!irr(d, 0, 0x40));

	/* Masked: it runs out all the same, without an interrupt. */
	wr(d, 0, LVT_TIMER, MASKED | 0x40);
	wr(d, 0, TIMER_INIT, 10);
	set_now(100000 + 320);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 0);
	CHECK(!irr(d, 0, 0x40));
	/* Initial count 0 stops it. */
	wr(d, 0, LVT_TIMER, 0x40);
	wr(d, 0, TIMER_INIT, 10);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 100320 + 320);
	wr(d, 0, TIMER_INIT, 0);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 0);
	CHECK_EQ_U(rd(d, 0, TIMER_CUR), 0);
	dev_destroy(d);
}

static void test_timer_divide(void)
{
	/* DCR bits 3,1:0 -> divisor (SDM figure 10-10). */
	static const struct {
		uint32_t dcr, div;
	} cases[] = {
		{ 0x0, 2 },  { 0x1, 4 },  { 0x2, 8 },   { 0x3, 16 },
		{ 0x8, 32 }, { 0x9, 64 }, { 0xa, 128 }, { 0xb, 1 },
	};
	struct pc_devices *d = dev_create(1, 1000000); /* 1 GHz: 1 cycle per ns */

	wr(d, 0, SVR, 0x1ff);
	wr(d, 0, LVT_TIMER, 0x40);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		set_now(5000);
		wr(d, 0, TIMER_DCR, cases[i].dcr);
		wr(d, 0, TIMER_INIT, 1000000);
		CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 5000 + 1000000ull * cases[i].div);
		set_now(5000 + 12800);
		CHECK_EQ_U(rd(d, 0, TIMER_CUR), 1000000 - 12800 / cases[i].div);
	}
	dev_destroy(d);
}

static void test_timer_periodic(void)
{
	struct pc_devices *d = dev_create(1, 1000000);

	wr(d, 0, SVR, 0x1ff);
	wr(d, 0, LVT_TIMER, PERIODIC | 0x41);
	wr(d, 0, TIMER_DCR, 0xb);
	wr(d, 0, TIMER_INIT, 100000); /* 100 us */
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 100000);
	set_now(100000);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 200000);
	CHECK(irr(d, 0, 0x41));
	drain(d, 0);
	set_now(150000);
	CHECK_EQ_U(rd(d, 0, TIMER_CUR), 50000);
	/* Late by 2.5 periods: one interrupt, and the next period is in the future. */
	set_now(350000);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 400000);
	CHECK(irr(d, 0, 0x41));
	drain(d, 0);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 400000);
	CHECK(!irr(d, 0, 0x41));
	CHECK_EQ_U(rd(d, 0, TIMER_CUR), 50000);

	/* The floor: initial count 1, divide 1 is 1 ns; the period is 10 us. */
	set_now(1000000);
	wr(d, 0, TIMER_INIT, 1);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 1010000);
	set_now(1010000);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 1020000);
	CHECK(irr(d, 0, 0x41));
	dev_destroy(d);

	/* At 3 GHz: 100000 ticks divided by 2 are 200 us, 600000 cycles. */
	d = dev_create(1, 3000000);
	wr(d, 0, SVR, 0x1ff);
	wr(d, 0, LVT_TIMER, PERIODIC | 0x41);
	wr(d, 0, TIMER_DCR, 0x0);
	set_now(7);
	wr(d, 0, TIMER_INIT, 100000);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 600007);
	set_now(600007 + 300000);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 1200007);
	CHECK_EQ_U(rd(d, 0, TIMER_CUR), 50000);
	/* Periodic -> one-shot after the first period: nothing left to count. */
	wr(d, 0, LVT_TIMER, 0x41);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 0);
	dev_destroy(d);
}

static void test_timer_tsc_deadline(void)
{
	struct pc_devices *d = dev_create(1, 1000000);
	uint64_t v;

	wr(d, 0, SVR, 0x1ff);
	CHECK(msr_wr(d, 0, TSC_DEADLINE_MSR, 5000)); /* not in TSC-deadline mode: ignored */
	CHECK(msr_rd(d, 0, TSC_DEADLINE_MSR, &v));
	CHECK_EQ_U(v, 0);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 0);

	wr(d, 0, LVT_TIMER, TSC_DEADLINE_MODE | 0x42);
	set_now(1000);
	CHECK(msr_wr(d, 0, TSC_DEADLINE_MSR, 5000));
	CHECK(msr_rd(d, 0, TSC_DEADLINE_MSR, &v));
	CHECK_EQ_U(v, 5000);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 5000);
	wr(d, 0, TIMER_INIT, 100); /* ignored in this mode */
	CHECK_EQ_U(rd(d, 0, TIMER_INIT), 0);
	CHECK_EQ_U(rd(d, 0, TIMER_CUR), 0);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 5000);
	set_now(5000);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 0);
	CHECK(irr(d, 0, 0x42));
	CHECK(msr_rd(d, 0, TSC_DEADLINE_MSR, &v));
	CHECK_EQ_U(v, 0);
	drain(d, 0);
	/* A deadline in the past fires at the next poll; 0 disarms. */
	CHECK(msr_wr(d, 0, TSC_DEADLINE_MSR, 10));
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 0);
	CHECK(irr(d, 0, 0x42));
	drain(d, 0);
	CHECK(msr_wr(d, 0, TSC_DEADLINE_MSR, 9000));
	CHECK(msr_wr(d, 0, TSC_DEADLINE_MSR, 0));
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 0);
	/* Leaving TSC-deadline mode disarms it. */
	CHECK(msr_wr(d, 0, TSC_DEADLINE_MSR, 9000));
	wr(d, 0, LVT_TIMER, 0x42);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 0);
	CHECK(msr_rd(d, 0, TSC_DEADLINE_MSR, &v));
	CHECK_EQ_U(v, 0);
	/* Entering it stops a count-down and clears the initial count. */
	wr(d, 0, TIMER_INIT, 100); /* DCR 0: divide by 2, 200 ns */
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 5200);
	wr(d, 0, LVT_TIMER, TSC_DEADLINE_MODE | 0x42);
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 0);
	CHECK_EQ_U(rd(d, 0, TIMER_INIT), 0);
	dev_destroy(d);
}

static void test_no_clock_no_kick(void)
{
	struct pc_devices *d = dev_create(2, 0);

	d->cfg.clock = NULL; /* the clock stands at 0 */
	d->cfg.kick = NULL;
	enable_all(d);
	ipi(d, 0, 1, 0x40);
	CHECK(irr(d, 1, 0x40));
	wr(d, 0, LVT_TIMER, 0x41);
	wr(d, 0, TIMER_INIT, 100); /* DCR 0: divide by 2; tsc_khz 0: counted as 1 GHz */
	CHECK_EQ_U(pc_lapic_timer_poll(d, 0), 200);
	CHECK_EQ_U(rd(d, 0, TIMER_CUR), 100);
	dev_destroy(d);
}

/* --- COM1's interrupt --- */

static uint8_t uart_io(struct pc_devices *d, unsigned int reg, bool in, uint8_t val)
{
	uint32_t v = val;

	spin_lock(&d->lock);
	pc_uart_io(d, (uint16_t)(0x3f8 + reg), 1, in, &v);
	pc_unlock_and_kick(d);
	return (uint8_t)v;
}

static void test_uart_irq4(void)
{
	struct pc_devices *d = dev_create(1, 1000000);

	enable_all(d);
	io_rte(d, 4, 0x24, 0);     /* edge, active high, vCPU 0 */
	uart_io(d, 0, false, 'x'); /* IER clear: no interrupt */
	CHECK(!irr(d, 0, 0x24));
	CHECK_EQ_U(kicked(0), 0);
	uart_io(d, 1, false, 0x02); /* IER.THRI with THR empty: raised at once */
	CHECK(irr(d, 0, 0x24));
	CHECK_EQ_U(kicked(0), 1);
	drain(d, 0);
	CHECK_EQ_U(uart_io(d, 2, true, 0), 0x02); /* IIR: THR empty, which acknowledges it */
	CHECK_EQ_U(uart_io(d, 2, true, 0), 0x01); /* nothing pending */
	CHECK(!irr(d, 0, 0x24));
	uart_io(d, 0, false, 'y'); /* every byte sent is one more edge */
	CHECK(irr(d, 0, 0x24));
	CHECK_EQ_U(kicked(0), 2);
	drain(d, 0);
	uart_io(d, 0, false, 'z'); /* even with IIR not yet read */
	CHECK(irr(d, 0, 0x24));
	drain(d, 0);
	uart_io(d, 1, false, 0x00);
	uart_io(d, 0, false, '\n');
	CHECK(!irr(d, 0, 0x24));
	dev_destroy(d);
}

/* --- threads: IPIs, an I/O APIC pin and EOIs from several pCPUs at once --- */

#define THREAD_VCPUS 4
#define THREAD_ROUNDS 20000

struct thread_arg {
	struct pc_devices *d;
	unsigned int n;
	unsigned int sent_to[THREAD_VCPUS];
	unsigned int taken;
};

static void *vcpu_thread(void *p)
{
	struct thread_arg *a = p;
	struct pc_devices *d = a->d;
	unsigned int n = a->n;

	host_cpu_enter(n);
	for (unsigned int i = 0; i < THREAD_ROUNDS; i++) {
		unsigned int to = (n + 1 + i % (THREAD_VCPUS - 1)) % THREAD_VCPUS;
		int v;

		ipi(d, n, (uint8_t)to, 0x40 + n);
		a->sent_to[to]++;
		while ((v = pc_lapic_pending_vector(d, n)) >= 0) {
			pc_lapic_ack(d, n, (unsigned int)v);
			a->taken++;
			wr(d, n, EOI, 0);
		}
	}
	host_cpu_leave();
	return NULL;
}

static void *pin_thread(void *p)
{
	struct thread_arg *a = p;

	host_cpu_enter(THREAD_VCPUS);
	for (unsigned int i = 0; i < THREAD_ROUNDS; i++)
		pc_ioapic_set_irq(a->d, 9, i & 1);
	pc_ioapic_set_irq(a->d, 9, false);
	host_cpu_leave();
	return NULL;
}

static void test_threads(void)
{
	struct pc_devices *d = dev_create(THREAD_VCPUS, 1000000);
	struct thread_arg args[THREAD_VCPUS + 1] = { 0 };
	pthread_t t[THREAD_VCPUS + 1];
	unsigned int sent[THREAD_VCPUS] = { 0 };

	host_set_nr_cpus(THREAD_VCPUS + 1);
	host_cpu_enter(0);
	enable_all(d);
	io_rte(d, 9, 0x8000 | 0x90, 0xff); /* level, physical broadcast */
	host_cpu_leave();
	kicks_clear();
	for (unsigned int i = 0; i <= THREAD_VCPUS; i++) {
		args[i] = (struct thread_arg){ .d = d, .n = i };
		pthread_create(&t[i], NULL, i < THREAD_VCPUS ? vcpu_thread : pin_thread, &args[i]);
	}
	for (unsigned int i = 0; i <= THREAD_VCPUS; i++)
		pthread_join(t[i], NULL);
	host_cpu_enter(0);
	for (unsigned int i = 0; i < THREAD_VCPUS; i++)
		for (unsigned int to = 0; to < THREAD_VCPUS; to++)
			sent[to] += args[i].sent_to[to];
	for (unsigned int n = 0; n < THREAD_VCPUS; n++) {
		/* Every IPI reached an enabled APIC, so every one kicked; pin 9 kicked more. */
		CHECK(kicked(n) >= sent[n]);
		/*
		 * IPIs were sent to n, so it took at least one: in its loop or,
		 * if it ran its rounds before any arrived, now.
		 */
		CHECK(args[n].taken + drain(d, n) >= 1);
		CHECK_EQ_U(pc_lapic_pending_vector(d, n), (uint64_t)-1);
		CHECK_EQ_U(rd(d, n, ISR + 0x20), 0);
	}
	/* The pin ended low and every EOI came: Remote IRR is clear. */
	CHECK_EQ_U(io_rd(d, 0x10 + 2 * 9) & 0x4000, 0);
	host_cpu_leave();
	dev_destroy(d);
}

int main(void)
{
	host_set_nr_cpus(THREAD_VCPUS + 1);
	host_cpu_enter(0);
	RUN_TEST(test_xapic_reset_values);
	RUN_TEST(test_xapic_register_rules);
	RUN_TEST(test_esr_latch);
	RUN_TEST(test_icr_physical_and_shorthands);
	RUN_TEST(test_icr_logical);
	RUN_TEST(test_nmi_init_sipi);
	RUN_TEST(test_init_resets_apic);
	RUN_TEST(test_priority_and_eoi_order);
	RUN_TEST(test_ioapic_registers);
	RUN_TEST(test_ioapic_level_pin_and_eoi);
	RUN_TEST(test_ioapic_edge_pin);
	RUN_TEST(test_x2apic_msrs);
	RUN_TEST(test_x2apic_ipis);
	RUN_TEST(test_apic_base_transitions);
	RUN_TEST(test_timer_oneshot);
	RUN_TEST(test_timer_divide);
	RUN_TEST(test_timer_periodic);
	RUN_TEST(test_timer_tsc_deadline);
	RUN_TEST(test_no_clock_no_kick);
	RUN_TEST(test_uart_irq4);
	host_cpu_leave();
	RUN_TEST(test_threads);
	return check_summary("test_lapic");
}
