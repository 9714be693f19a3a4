// SPDX-License-Identifier: MIT
/*
 * The local APIC timer, kept as clock (TSC) deadlines and never
 * decremented: the current count is computed from the clock when read.
 * Its bus clock runs at 1 GHz, one tick per ns as QEMU's, divided by the
 * divide configuration (1 .. 128), and converted with cfg.tsc_khz.
 *
 *   LVT timer bits 18:17   00 one-shot   01 periodic   10 TSC-deadline
 *
 * One-shot and periodic start at an initial-count write (0 stops them);
 * periodic periods count from that write, and a period is at least
 * LAPIC_TIMER_MIN_PERIOD_NS, so that a guest cannot keep its pCPU busy
 * taking timer exits (KVM's floor is 200 us by default). TSC-deadline
 * mode fires when the clock reaches IA32_TSC_DEADLINE; 0 disarms it, and
 * it reads 0 once fired. Moving into or out of TSC-deadline mode disarms
 * the timer and clears the initial count (SDM 10.5.4.1, as KVM).
 *
 * All of it is vCPU n's pCPU's only (pc_lapic_timer_poll and the
 * registers); nothing here is shared.
 */
#include "virt/dev/lapic.h"

#define LAPIC_TIMER_MIN_PERIOD_NS 10000ull /* 10 us */
#define NS_PER_MS 1000000ull

static uint64_t clock_now(struct pc_devices *d)
{
	return d->cfg.clock ? d->cfg.clock() : 0;
}

static uint64_t clock_khz(const struct pc_devices *d)
{
	return d->cfg.tsc_khz ? d->cfg.tsc_khz : NS_PER_MS; /* unknown: 1 GHz */
}

/* ns * khz / 10^6 without overflow for any ns below 2^64 / khz. */
static uint64_t ns_to_cycles(const struct pc_devices *d, uint64_t ns)
{
	uint64_t khz = clock_khz(d);

	return ns / NS_PER_MS * khz + ns % NS_PER_MS * khz / NS_PER_MS;
}

static uint64_t cycles_to_ns(const struct pc_devices *d, uint64_t cycles)
{
	uint64_t khz = clock_khz(d);

	return cycles / khz * NS_PER_MS + cycles % khz * NS_PER_MS / khz;
}

/* log2 of the divisor DCR selects: bits 3, 1:0 = 000 -> 2, ..., 110 -> 128, 111 -> 1. */
static unsigned int dcr_shift(uint32_t dcr)
{
	return (((dcr & 3) | ((dcr >> 1) & 4)) + 1) & 7;
}

static unsigned int timer_mode(const struct pc_lapic *a)
{
	unsigned int mode = LAPIC_LVT_TIMER_MODE(a->lvt[0]);

	return mode == 3 ? LAPIC_TIMER_ONESHOT : mode;
}

/* Cycles from the initial-count write to the count's reaching 0. */
static uint64_t timer_length(const struct pc_devices *d, const struct pc_lapic_timer *t)
{
	return ns_to_cycles(d, (uint64_t)t->initial << t->shift);
}

static uint64_t periodic_length(const struct pc_devices *d, const struct pc_lapic_timer *t)
{
	uint64_t len = timer_length(d, t), floor = ns_to_cycles(d, LAPIC_TIMER_MIN_PERIOD_NS);

	return len > floor ? len : floor;
}

/* The first period boundary after now. */
static uint64_t next_period(const struct pc_lapic_timer *t, uint64_t now)
{
	return t->start + ((now - t->start) / t->period + 1) * t->period;
}

void lapic_timer_set_initial(struct pc_devices *d, unsigned int n, uint32_t count)
{
	struct pc_lapic *a = &d->lapic[n];
	struct pc_lapic_timer *t = &a->timer;
	unsigned int mode = timer_mode(a);

	if (mode == LAPIC_TIMER_TSC_DEADLINE)
		return; /* ignored in TSC-deadline mode */
	t->initial = count;
	t->armed = count != 0;
	if (!count)
		return;
	t->shift = dcr_shift(t->dcr);
	t->start = clock_now(d);
	t->period = mode == LAPIC_TIMER_PERIODIC ? periodic_length(d, t) : timer_length(d, t);
	t->deadline = t->start + t->period;
}

void lapic_timer_set_lvt(struct pc_devices *d, unsigned int n, uint32_t lvt)
{
	struct pc_lapic *a = &d->lapic[n];
	struct pc_lapic_timer *t = &a->timer;
	unsigned int old = timer_mode(a), mode;
	uint64_t now;

	a->lvt[0] = lvt;
	mode = timer_mode(a);
	if (mode == old)
		return;
	if (old == LAPIC_TIMER_TSC_DEADLINE || mode == LAPIC_TIMER_TSC_DEADLINE) {
		t->armed = false;
		t->initial = 0;
		t->tsc_deadline = 0;
		return;
	}
	if (!t->initial)
		return;
	/*
	 * One-shot <-> periodic with a count loaded: the count goes on from
	 * its initial-count write in the new mode, as in QEMU. An expiry
	 * already due and not yet polled is kept.
	 */
	now = clock_now(d);
	if (t->armed && t->deadline <= now)
		return;
	if (mode == LAPIC_TIMER_PERIODIC) {
		t->period = periodic_length(d, t);
		t->deadline = next_period(t, now);
		t->armed = true;
	} else {
		t->period = timer_length(d, t);
		t->deadline = t->start + t->period;
		t->armed = t->deadline > now;
	}
}

uint32_t lapic_timer_current(struct pc_devices *d, unsigned int n)
{
	struct pc_lapic *a = &d->lapic[n];
	struct pc_lapic_timer *t = &a->timer;
	uint64_t elapsed, ticks;

	if (!t->armed || timer_mode(a) == LAPIC_TIMER_TSC_DEADLINE)
		return 0;
	elapsed = clock_now(d) - t->start;
	if (timer_mode(a) == LAPIC_TIMER_PERIODIC)
		elapsed %= t->period;
	/* As QEMU: initial - elapsed ticks / divisor; 0 once it has run out. */
	ticks = cycles_to_ns(d, elapsed) >> t->shift;
	return ticks >= t->initial ? 0 : t->initial - (uint32_t)ticks;
}

void lapic_timer_set_tsc_deadline(struct pc_devices *d, unsigned int n, uint64_t tsc)
{
	struct pc_lapic *a = &d->lapic[n];
	struct pc_lapic_timer *t = &a->timer;

	if (timer_mode(a) != LAPIC_TIMER_TSC_DEADLINE)
		return; /* ignored in the other modes (SDM 10.5.4.1) */
	t->tsc_deadline = tsc;
	t->deadline = tsc;
	t->armed = tsc != 0;
}

uint64_t lapic_timer_tsc_deadline(const struct pc_lapic *a)
{
	return timer_mode(a) == LAPIC_TIMER_TSC_DEADLINE ? a->timer.tsc_deadline : 0;
}

uint64_t pc_lapic_timer_poll(struct pc_devices *d, unsigned int vcpu_id)
{
	struct pc_lapic *a = &d->lapic[vcpu_id];
	struct pc_lapic_timer *t = &a->timer;
	uint64_t now;

	if (!t->armed)
		return 0;
	now = clock_now(d);
	if (now < t->deadline)
		return t->deadline;
	if (!(a->lvt[0] & LAPIC_LVT_MASKED))
		lapic_send_self(d, vcpu_id, a->lvt[0] & 0xff);
	if (timer_mode(a) == LAPIC_TIMER_PERIODIC) {
		/* However many periods have gone by, one interrupt; the next is in the future. */
		t->deadline = next_period(t, now);
		return t->deadline;
	}
	t->armed = false;
	t->tsc_deadline = 0;
	return 0;
}
