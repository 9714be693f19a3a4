// SPDX-License-Identifier: MIT
/*
 * Interrupt messages between the APICs, and each local APIC's priority
 * logic. A message (ICR, SELF IPI, the I/O APIC, a timer) is matched
 * against every APIC's ID or LDR/DFR; each APIC that takes it gets an IRR
 * bit or a pending NMI, INIT or SIPI, set with atomics from whichever
 * pCPU sent it, and its vCPU is kicked. The owner then, on its own pCPU,
 * asks pc_lapic_pending_vector, acks (IRR -> ISR) and EOIs (ISR cleared;
 * a level vector's EOI goes on to the I/O APIC).
 *
 * Logical destinations (SDM 10.6.2.2, 10.12.10.2):
 *   xAPIC flat     (DFR 31:28 = 1111): dest[7:0] & LDR[31:24] != 0
 *   xAPIC cluster  (DFR 31:28 = 0000): dest[7:4] == LDR[31:28] (or 0xf, all
 *                                      clusters) and dest[3:0] & LDR[27:24]
 *   x2APIC cluster (LDR derived):      dest[31:16] == LDR[31:16] and
 *                                      dest[15:0] & LDR[15:0]
 * Lowest priority goes to the lowest-numbered APIC that matches and is
 * enabled, as QEMU's (it does no arbitration either).
 */
#include "virt/dev/lapic.h"

static bool vec_test(uint32_t word, unsigned int vector)
{
	return word & (1u << (vector & 31));
}

/* The highest vector set in an 8-word bitmap, or -1. */
static int highest_vector(const uint32_t words[8])
{
	for (int i = 7; i >= 0; i--)
		if (words[i])
			return i * 32 + 31 - __builtin_clz(words[i]);
	return -1;
}

static int highest_irr(struct pc_lapic *a)
{
	uint32_t w[8];

	/* Acquire: pairs with the sender's release fetch_or, so its TMR store is seen. */
	for (unsigned int i = 0; i < 8; i++)
		w[i] = atomic_load_explicit(&a->irr[i], memory_order_acquire);
	return highest_vector(w);
}

/* PPR (SDM 10.8.3.1): TPR if its class is at least the highest in-service one's. */
uint32_t lapic_ppr(const struct pc_lapic *a)
{
	int isrv = highest_vector(a->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;

	return (a->tpr & 0xf0) >= isr_class ? a->tpr : isr_class;
}

/* A message reaches APIC t: is it one of the destinations? */
static bool lapic_matches(struct pc_lapic *t, unsigned int id, const struct pc_apic_msg *m)
{
	unsigned int flags = atomic_load_explicit(&t->flags, memory_order_relaxed);
	uint32_t ldr, dfr, dest = m->dest;

	if (!m->logical) {
		if (m->x2apic_format ? dest == 0xffffffffu : dest == 0xff)
			return true;
		return dest == id;
	}
	ldr = atomic_load_explicit(&t->ldr, memory_order_relaxed);
	if (flags & PC_LAPIC_X2APIC) {
		if (m->x2apic_format && dest == 0xffffffffu)
			return true;
		return (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xffff);
	}
	dest &= 0xff;
	ldr >>= 24;
	dfr = atomic_load_explicit(&t->dfr, memory_order_relaxed) >> 28;
	if (dfr == 0xf)
		return dest & ldr;
	if (dfr == 0)
		return ((dest >> 4) == 0xf || (dest >> 4) == (ldr >> 4)) && (dest & ldr & 0xf);
	return false; /* a DFR model the SDM does not define */
}

/* APIC n takes message m, if it is in a state to: true if it did (kick it). */
static bool lapic_accept(struct pc_devices *d, unsigned int n, const struct pc_apic_msg *m)
{
	struct pc_lapic *a = &d->lapic[n];
	unsigned int flags = atomic_load_explicit(&a->flags, memory_order_relaxed);
	unsigned int word = m->vector / 32;
	uint32_t bit = 1u << (m->vector & 31);

	if (!(flags & PC_LAPIC_HW_ENABLED))
		return false;
	switch (m->mode) {
	case PC_APIC_DM_FIXED:
	case PC_APIC_DM_LOWEST:
		if (!(flags & PC_LAPIC_SW_ENABLED))
			return false;
		if (m->vector < 16) {
			atomic_fetch_or_explicit(&a->esr_pending, LAPIC_ESR_RECV_ILLEGAL,
						 memory_order_relaxed);
			return false;
		}
		if (m->level)
			atomic_fetch_or_explicit(&a->tmr[word], bit, memory_order_relaxed);
		else
			atomic_fetch_and_explicit(&a->tmr[word], ~bit, memory_order_relaxed);
		/* Release: the TMR store above is seen by whoever sees this bit. */
		atomic_fetch_or_explicit(&a->irr[word], bit, memory_order_release);
		return true;
	case PC_APIC_DM_NMI:
		atomic_store_explicit(&a->nmi_pending, true, memory_order_release);
		return true;
	case PC_APIC_DM_INIT:
		/*
		 * INIT discards a SIPI that came before it. Done here, not when
		 * the target takes the INIT, so that an INIT and a SIPI sent back
		 * to back before the target looks keep the SIPI.
		 */
		atomic_store_explicit(&a->sipi_vector, -1, memory_order_relaxed);
		atomic_store_explicit(&a->init_pending, true, memory_order_release);
		return true;
	case PC_APIC_DM_SIPI:
		atomic_store_explicit(&a->sipi_vector, (int)m->vector, memory_order_release);
		return true;
	default:
		return false; /* SMI, ExtINT, reserved: not modelled */
	}
}

uint64_t pc_lapic_send(struct pc_devices *d, const struct pc_apic_msg *m)
{
	uint64_t targets = 0, kicks = 0;

	for (unsigned int n = 0; n < d->cfg.nr_vcpus; n++) {
		bool hit;

		switch (m->shorthand) {
		case PC_APIC_SH_SELF:
			hit = n == m->self;
			break;
		case PC_APIC_SH_ALL:
			hit = true;
			break;
		case PC_APIC_SH_OTHERS:
			hit = n != m->self;
			break;
		default:
			hit = lapic_matches(&d->lapic[n], n, m);
			break;
		}
		if (hit)
			targets |= 1ull << n;
	}
	if (m->mode == PC_APIC_DM_LOWEST) {
		for (unsigned int n = 0; targets >> n; n++)
			if (((targets >> n) & 1) && lapic_accept(d, n, m))
				return 1ull << n;
		return 0;
	}
	for (unsigned int n = 0; targets >> n; n++)
		if (((targets >> n) & 1) && lapic_accept(d, n, m))
			kicks |= 1ull << n;
	return kicks;
}

void pc_kick(struct pc_devices *d, uint64_t mask)
{
	if (!d->cfg.kick)
		return;
	for (unsigned int n = 0; mask >> n; n++)
		if ((mask >> n) & 1)
			d->cfg.kick(d->cfg.kick_ctx, n);
}

void lapic_send_self(struct pc_devices *d, unsigned int n, unsigned int vector)
{
	struct pc_apic_msg m = {
		.mode = PC_APIC_DM_FIXED,
		.vector = vector,
		.shorthand = PC_APIC_SH_SELF,
		.self = n,
	};

	pc_kick(d, pc_lapic_send(d, &m));
}

void pc_lapic_deliver(struct pc_devices *d, uint32_t dest, bool logical, unsigned int mode,
		      unsigned int vector, bool level)
{
	struct pc_apic_msg m = {
		.dest = dest,
		.logical = logical,
		.x2apic_format = dest > 0xff,
		.mode = mode,
		.vector = vector & 0xff,
		.level = level && mode <= PC_APIC_DM_LOWEST,
	};

	pc_kick(d, pc_lapic_send(d, &m));
}

int pc_lapic_pending_vector(struct pc_devices *d, unsigned int vcpu_id)
{
	struct pc_lapic *a = &d->lapic[vcpu_id];
	unsigned int flags = atomic_load_explicit(&a->flags, memory_order_relaxed);
	int v;

	if (!(flags & PC_LAPIC_SW_ENABLED))
		return -1;
	v = highest_irr(a);
	if (v < 0 || ((unsigned int)v & 0xf0) <= (lapic_ppr(a) & 0xf0))
		return -1;
	return v;
}

void pc_lapic_ack(struct pc_devices *d, unsigned int vcpu_id, unsigned int vector)
{
	struct pc_lapic *a = &d->lapic[vcpu_id];
	uint32_t bit = 1u << (vector & 31);

	BUG_ON(vector > 255);
	atomic_fetch_and_explicit(&a->irr[vector / 32], ~bit, memory_order_relaxed);
	a->isr[vector / 32] |= bit;
}

/* EOI: the highest in-service vector is done; a level one's EOI goes on to the I/O APIC. */
void lapic_eoi(struct pc_devices *d, unsigned int n)
{
	struct pc_lapic *a = &d->lapic[n];
	int v = highest_vector(a->isr);
	uint32_t tmr;

	if (v < 0)
		return;
	a->isr[v / 32] &= ~(1u << (v & 31));
	tmr = atomic_load_explicit(&a->tmr[v / 32], memory_order_relaxed);
	if (vec_test(tmr, (unsigned int)v))
		pc_ioapic_eoi(d, (unsigned int)v);
}

bool pc_lapic_take_nmi(struct pc_devices *d, unsigned int vcpu_id)
{
	return atomic_exchange_explicit(&d->lapic[vcpu_id].nmi_pending, false,
					memory_order_acquire);
}

bool pc_lapic_take_init(struct pc_devices *d, unsigned int vcpu_id)
{
	struct pc_lapic *a = &d->lapic[vcpu_id];

	if (!atomic_exchange_explicit(&a->init_pending, false, memory_order_acquire))
		return false;
	lapic_init_state(a, vcpu_id);
	return true;
}

int pc_lapic_take_sipi(struct pc_devices *d, unsigned int vcpu_id)
{
	return atomic_exchange_explicit(&d->lapic[vcpu_id].sipi_vector, -1, memory_order_acquire);
}
