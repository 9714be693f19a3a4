// SPDX-License-Identifier: MIT
/*
 * The local APICs' registers: one APIC per vCPU, APIC ID = vCPU number,
 * reached as an xAPIC page at 0xfee00000 (pc_mmio) or as x2APIC MSRs
 * (pc_lapic_msr), as IA32_APIC_BASE selects. Interrupt messages, priority
 * and the INIT/SIPI/NMI inputs are in lapic_irq.c, the timer in
 * lapic_timer.c. Where the SDM leaves a choice, QEMU's hw/intc/apic.c is
 * followed, since guests are compared against it.
 *
 * Registers are 32 bits at 16-byte strides (xAPIC offset o is x2APIC MSR
 * 0x800 + o / 16):
 *
 *   0x020 ID        0x0b0 EOI (W)   0x100 ISR x8     0x300 ICR low   0x380 initial count
 *   0x030 version   0x0c0 RRD       0x180 TMR x8     0x310 ICR high  0x390 current count
 *   0x080 TPR       0x0d0 LDR       0x200 IRR x8     0x320 LVT timer 0x3e0 divide config
 *   0x090 APR       0x0e0 DFR       0x280 ESR        ..0x370 LVT error  0x3f0 SELF IPI (x2APIC, W)
 *   0x0a0 PPR       0x0f0 SVR
 *
 * x2APIC differs: ID is 32 bits, LDR is derived from it and read-only,
 * APR, RRD, DFR and ICR high do not exist, ICR is one 64-bit MSR with the
 * destination in 63:32, EOI and ESR take only 0. Every access there that
 * is not to a register, reads a write-only one or writes a read-only one
 * #GPs; the xAPIC page instead reads 0 and drops writes, as the chip.
 */
#include "virt/dev/lapic.h"

#define LAPIC_DEFAULT_BASE 0xfee00000ull
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_EXTD (1ull << 10)
#define APIC_BASE_EN (1ull << 11)
/* Bits 7:0 and 9, and those from MAXPHYADDR up: 36 here (the guest's is not handed in). */
#define APIC_BASE_RESERVED (0x2ffull | ~((1ull << 36) - 1))

#define LAPIC_VERSION_VALUE 0x50014u    /* max LVT entry 5 (6 LVTs), integrated APIC 0x14 */
#define LAPIC_SVR_RESET 0xffu           /* vector 0xff, software-disabled */
#define LAPIC_SVR_WRITABLE 0x3ffu       /* vector, enable (8), focus check (9) */
#define LAPIC_ICR_LOW_WRITABLE 0xccfffu /* vector, mode, dest mode, level, trigger, shorthand */
#define LAPIC_DFR_FLAT 0xffffffffu
/* x2APIC ICR bits that must be 0 (as KVM; bit 12, delivery status, is ignored). */
#define X2APIC_ICR_RESERVED (0xfff00000ull | 0x30000ull | 0x2000ull)

/* Writable bits of each LVT, timer first: vector, delivery mode, polarity, trigger, mask, timer mode. */
static const uint32_t lvt_writable[PC_LAPIC_NR_LVT] = {
	0x700ff, 0x107ff, 0x107ff, 0x1a7ff, 0x1a7ff, 0x100ff,
};

static uint32_t x2apic_ldr(unsigned int id)
{
	return ((id >> 4) << 16) | (1u << (id & 0xf));
}

static bool lapic_is_x2apic(const struct pc_lapic *a)
{
	return a->apic_base & APIC_BASE_EXTD;
}

/* The flags senders read: recomputed after every change of APIC_BASE or SVR. */
static void lapic_update_flags(struct pc_lapic *a)
{
	unsigned int f = 0;

	if (a->apic_base & APIC_BASE_EN)
		f |= PC_LAPIC_HW_ENABLED;
	if ((a->apic_base & APIC_BASE_EN) && (a->svr & LAPIC_SVR_ENABLE))
		f |= PC_LAPIC_SW_ENABLED;
	if (lapic_is_x2apic(a))
		f |= PC_LAPIC_X2APIC;
	atomic_store_explicit(&a->flags, f, memory_order_relaxed);
}

/*
 * The state INIT leaves (SDM 10.4.7.3): everything but the ID and
 * IA32_APIC_BASE; in x2APIC mode LDR keeps its derived value. Pending
 * NMI, INIT and SIPI are the caller's business.
 */
void lapic_init_state(struct pc_lapic *a, unsigned int n)
{
	for (unsigned int i = 0; i < 8; i++) {
		atomic_store_explicit(&a->irr[i], 0, memory_order_relaxed);
		atomic_store_explicit(&a->tmr[i], 0, memory_order_relaxed);
		a->isr[i] = 0;
	}
	atomic_store_explicit(&a->esr_pending, 0, memory_order_relaxed);
	a->svr = LAPIC_SVR_RESET;
	a->tpr = a->esr = a->icr_low = a->icr_high = 0;
	for (unsigned int i = 0; i < PC_LAPIC_NR_LVT; i++)
		a->lvt[i] = LAPIC_LVT_MASKED;
	a->timer = (struct pc_lapic_timer){ 0 };
	atomic_store_explicit(&a->ldr, lapic_is_x2apic(a) ? x2apic_ldr(n) : 0,
			      memory_order_relaxed);
	atomic_store_explicit(&a->dfr, LAPIC_DFR_FLAT, memory_order_relaxed);
	lapic_update_flags(a);
}

void pc_lapic_reset(struct pc_devices *d)
{
	for (unsigned int n = 0; n < d->cfg.nr_vcpus; n++) {
		struct pc_lapic *a = &d->lapic[n];

		a->apic_base = LAPIC_DEFAULT_BASE | APIC_BASE_EN | (n == 0 ? APIC_BASE_BSP : 0);
		lapic_init_state(a, n);
		atomic_store_explicit(&a->nmi_pending, false, memory_order_relaxed);
		atomic_store_explicit(&a->init_pending, false, memory_order_relaxed);
		atomic_store_explicit(&a->sipi_vector, -1, memory_order_relaxed);
	}
}

/* IRR, ISR and TMR as the guest reads them: word i of 8. */
static uint32_t lapic_irr_word(struct pc_lapic *a, unsigned int i)
{
	return atomic_load_explicit(&a->irr[i], memory_order_relaxed);
}

/* A register read: false if reg is none in this mode (x2APIC: #GP). */
static bool lapic_read(struct pc_devices *d, unsigned int n, unsigned int reg, bool x2,
		       uint64_t *val)
{
	struct pc_lapic *a = &d->lapic[n];

	*val = 0;
	if (reg >= LAPIC_ISR && reg < LAPIC_ISR + 0x80) {
		*val = a->isr[(reg - LAPIC_ISR) >> 4];
		return true;
	}
	if (reg >= LAPIC_TMR && reg < LAPIC_TMR + 0x80) {
		*val = atomic_load_explicit(&a->tmr[(reg - LAPIC_TMR) >> 4], memory_order_relaxed);
		return true;
	}
	if (reg >= LAPIC_IRR && reg < LAPIC_IRR + 0x80) {
		*val = lapic_irr_word(a, (reg - LAPIC_IRR) >> 4);
		return true;
	}
	if (reg >= LAPIC_LVT_TIMER && reg <= LAPIC_LVT_ERROR) {
		*val = a->lvt[(reg - LAPIC_LVT_TIMER) >> 4];
		return true;
	}
	switch (reg) {
	case LAPIC_ID:
		*val = x2 ? n : n << 24;
		return true;
	case LAPIC_VERSION:
		*val = LAPIC_VERSION_VALUE;
		return true;
	case LAPIC_TPR:
		*val = a->tpr;
		return true;
	case LAPIC_PPR:
		*val = lapic_ppr(a);
		return true;
	case LAPIC_LDR:
		*val = atomic_load_explicit(&a->ldr, memory_order_relaxed);
		return true;
	case LAPIC_SVR:
		*val = a->svr;
		return true;
	case LAPIC_ESR:
		*val = a->esr;
		return true;
	case LAPIC_ICR_LOW:
		*val = x2 ? ((uint64_t)a->icr_high << 32) | a->icr_low : a->icr_low;
		return true;
	case LAPIC_TIMER_INITIAL:
		*val = a->timer.initial;
		return true;
	case LAPIC_TIMER_CURRENT:
		*val = lapic_timer_current(d, n);
		return true;
	case LAPIC_TIMER_DCR:
		*val = a->timer.dcr;
		return true;
	case LAPIC_APR: /* arbitration priority: reads 0, as QEMU's */
	case LAPIC_EOI:
	case LAPIC_RRD:
		return !x2;
	case LAPIC_DFR:
		*val = atomic_load_explicit(&a->dfr, memory_order_relaxed);
		return !x2;
	case LAPIC_ICR_HIGH:
		*val = a->icr_high;
		return !x2;
	default:
		return !x2; /* the xAPIC page reads 0 wherever there is no register */
	}
}

static void lapic_write_svr(struct pc_lapic *a, uint32_t v)
{
	a->svr = v & LAPIC_SVR_WRITABLE;
	/* Software-disabled: every LVT is masked, and stays so (SDM 10.4.7.2). */
	if (!(a->svr & LAPIC_SVR_ENABLE))
		for (unsigned int i = 0; i < PC_LAPIC_NR_LVT; i++)
			a->lvt[i] |= LAPIC_LVT_MASKED;
	lapic_update_flags(a);
}

static void lapic_write_lvt(struct pc_devices *d, unsigned int n, unsigned int i, uint32_t v)
{
	struct pc_lapic *a = &d->lapic[n];

	v &= lvt_writable[i];
	if (!(a->svr & LAPIC_SVR_ENABLE))
		v |= LAPIC_LVT_MASKED;
	if (i == 0)
		lapic_timer_set_lvt(d, n, v);
	else
		a->lvt[i] = v;
}

/* Send the IPI the ICR now holds (dest: ICR high, or bits 63:32 in x2APIC). */
static void lapic_send_icr(struct pc_devices *d, unsigned int n, bool x2)
{
	struct pc_lapic *a = &d->lapic[n];
	uint32_t low = a->icr_low;
	struct pc_apic_msg m = {
		.dest = x2 ? a->icr_high : a->icr_high >> 24,
		.logical = low & (1u << 11),
		.x2apic_format = x2,
		.mode = (low >> 8) & 7,
		.vector = low & 0xff,
		.level = low & (1u << 15),
		.shorthand = (low >> 18) & 3,
		.self = n,
	};

	/* INIT level de-assert (level 0, trigger level): nothing on a P4 or later. */
	if (m.mode == PC_APIC_DM_INIT && (low & (1u << 15)) && !(low & (1u << 14)))
		return;
	if (m.mode == PC_APIC_DM_INIT || m.mode == PC_APIC_DM_SIPI || m.mode == PC_APIC_DM_NMI)
		m.level = false;
	if ((m.mode == PC_APIC_DM_FIXED || m.mode == PC_APIC_DM_LOWEST) && m.vector < 16) {
		atomic_fetch_or_explicit(&a->esr_pending, LAPIC_ESR_SEND_ILLEGAL,
					 memory_order_relaxed);
		return;
	}
	pc_kick(d, pc_lapic_send(d, &m));
}

/* A register write: false if it must #GP (x2APIC only; the page drops what it cannot take). */
static bool lapic_write(struct pc_devices *d, unsigned int n, unsigned int reg, bool x2, uint64_t v)
{
	struct pc_lapic *a = &d->lapic[n];
	uint32_t v32 = (uint32_t)v;

	if (reg >= LAPIC_LVT_TIMER && reg <= LAPIC_LVT_ERROR) {
		lapic_write_lvt(d, n, (reg - LAPIC_LVT_TIMER) >> 4, v32);
		return true;
	}
	switch (reg) {
	case LAPIC_TPR:
		a->tpr = v32 & 0xff;
		return true;
	case LAPIC_EOI:
		if (x2 && v32)
			return false;
		lapic_eoi(d, n);
		return true;
	case LAPIC_LDR:
		if (x2)
			return false;
		atomic_store_explicit(&a->ldr, v32 & 0xff000000u, memory_order_relaxed);
		return true;
	case LAPIC_DFR:
		if (x2)
			return false;
		atomic_store_explicit(&a->dfr, v32 | 0x0fffffffu, memory_order_relaxed);
		return true;
	case LAPIC_SVR:
		lapic_write_svr(a, v32);
		return true;
	case LAPIC_ESR:
		if (x2 && v32)
			return false;
		/* The write latches the errors seen since the last one (SDM 10.5.3). */
		a->esr = atomic_exchange_explicit(&a->esr_pending, 0, memory_order_relaxed);
		return true;
	case LAPIC_ICR_LOW:
		if (x2) {
			if (v & X2APIC_ICR_RESERVED)
				return false;
			a->icr_high = (uint32_t)(v >> 32);
		}
		a->icr_low = v32 & LAPIC_ICR_LOW_WRITABLE;
		lapic_send_icr(d, n, x2);
		return true;
	case LAPIC_ICR_HIGH:
		if (x2)
			return false;
		a->icr_high = v32 & 0xff000000u;
		return true;
	case LAPIC_TIMER_INITIAL:
		lapic_timer_set_initial(d, n, v32);
		return true;
	case LAPIC_TIMER_DCR:
		a->timer.dcr = v32 & 0xb;
		return true;
	case LAPIC_SELF_IPI:
		if (!x2)
			return true;
		/* An edge fixed interrupt to self; vectors below 16 are illegal. */
		if ((v32 & 0xff) < 16) {
			atomic_fetch_or_explicit(&a->esr_pending, LAPIC_ESR_SEND_ILLEGAL,
						 memory_order_relaxed);
			return true;
		}
		lapic_send_self(d, n, v32 & 0xff);
		return true;
	default:
		/* ID, version, PPR, ISR/TMR/IRR, current count: read-only; the rest reserved. */
		return !x2;
	}
}

/* True while vCPU n's xAPIC page is there: enabled, in xAPIC mode, at the default base. */
static bool lapic_page_present(const struct pc_lapic *a)
{
	return (a->apic_base & (APIC_BASE_EN | APIC_BASE_EXTD)) == APIC_BASE_EN &&
	       (a->apic_base & ~0xfffull) == LAPIC_DEFAULT_BASE;
}

/*
 * The xAPIC page. Only an aligned 32-bit store reaches a register; a load
 * of 1, 2 or 4 bytes inside a register's first dword reads it, bytes 4..15
 * read 0. With the APIC disabled or in x2APIC mode (or moved, which is not
 * followed) the page reads 0 and drops writes.
 */
bool pc_lapic_mmio(struct pc_devices *d, unsigned int vcpu_id, uint64_t gpa, unsigned int size,
		   bool write, uint64_t *val)
{
	unsigned int offset = (unsigned int)(gpa & 0xfff);
	unsigned int reg = offset & ~0xfu, byte = offset & 0xf;
	uint64_t v;

	if (!lapic_page_present(&d->lapic[vcpu_id])) {
		if (!write)
			*val = 0;
		return true;
	}
	if (write) {
		if (byte == 0 && size == 4)
			lapic_write(d, vcpu_id, reg, false, (uint32_t)*val);
		return true;
	}
	if (byte >= 4 || byte + size > 4) {
		*val = 0;
		return true;
	}
	lapic_read(d, vcpu_id, reg, false, &v);
	*val = (v >> (8 * byte)) & pc_io_mask(size);
	return true;
}

static bool lapic_write_apic_base(struct pc_devices *d, unsigned int n, uint64_t v)
{
	struct pc_lapic *a = &d->lapic[n];
	uint64_t old = a->apic_base;
	bool was_on = old & APIC_BASE_EN, on = v & APIC_BASE_EN;
	bool was_x2 = old & APIC_BASE_EXTD, x2 = v & APIC_BASE_EXTD;

	if ((v & APIC_BASE_RESERVED) || ((v ^ old) & APIC_BASE_BSP))
		return false;
	/* SDM 10.12.5: EXTD without EN, x2APIC -> xAPIC and disabled -> x2APIC are illegal. */
	if ((x2 && !on) || (was_x2 && on && !x2) || (!was_on && x2))
		return false;
	a->apic_base = v;
	if (was_on && !on)
		lapic_init_state(a, n); /* as at power-up: what re-enabling it finds */
	else if (!was_x2 && x2)
		atomic_store_explicit(&a->ldr, x2apic_ldr(n), memory_order_relaxed);
	lapic_update_flags(a);
	return true;
}

/* CR8 is TPR[7:4] (SDM vol. 3 10.8.6.1); a write clears TPR[3:0]. */
unsigned int pc_lapic_cr8(struct pc_devices *d, unsigned int vcpu_id)
{
	BUG_ON(vcpu_id >= d->cfg.nr_vcpus);
	return d->lapic[vcpu_id].tpr >> 4;
}

void pc_lapic_set_cr8(struct pc_devices *d, unsigned int vcpu_id, unsigned int cr8)
{
	BUG_ON(vcpu_id >= d->cfg.nr_vcpus);
	d->lapic[vcpu_id].tpr = (cr8 & 0xf) << 4;
}

bool pc_lapic_msr(struct pc_devices *d, unsigned int vcpu_id, uint32_t msr, bool write,
		  uint64_t *val, bool *ok)
{
	struct pc_lapic *a = &d->lapic[vcpu_id];
	unsigned int reg;

	BUG_ON(vcpu_id >= d->cfg.nr_vcpus);
	*ok = true;
	if (msr == MSR_IA32_APIC_BASE) {
		if (write)
			*ok = lapic_write_apic_base(d, vcpu_id, *val);
		else
			*val = a->apic_base;
		return true;
	}
	if (msr == MSR_IA32_TSC_DEADLINE) {
		if (write)
			lapic_timer_set_tsc_deadline(d, vcpu_id, *val);
		else
			*val = lapic_timer_tsc_deadline(a);
		return true;
	}
	if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST)
		return false;
	if (!lapic_is_x2apic(a) || !(a->apic_base & APIC_BASE_EN)) {
		*ok = false;
		return true;
	}
	reg = (msr - MSR_X2APIC_FIRST) << 4;
	if (!write) {
		/* EOI and SELF IPI are write-only: #GP, as every non-register. */
		*ok = reg != LAPIC_EOI && reg != LAPIC_SELF_IPI &&
		      lapic_read(d, vcpu_id, reg, true, val);
		return true;
	}
	/* Bits 63:32 are reserved everywhere but in the ICR. */
	if (reg != LAPIC_ICR_LOW && (*val >> 32)) {
		*ok = false;
		return true;
	}
	*ok = lapic_write(d, vcpu_id, reg, true, *val);
	return true;
}
