// SPDX-License-Identifier: MIT
/*
 * The 8254 PIT at 0x40-0x43 and port 0x61 (NMI status and control), as
 * QEMU's i8254 and pcspk: three channels counting 1.193182 MHz derived from
 * the clock (the TSC), each count computed from the clock at its load and
 * never decremented. d = ticks since the load, N = the count (0 is 65536):
 *
 *   mode         counter read           OUT (as QEMU's)        channel 0's edges
 *   0 int. on TC (N - d) & 0xffff       d >= N                 one, at d = N
 *   1 one-shot   (N - d) & 0xffff       d < N                  none
 *   2 rate gen.  N - d % N              d % N == 0 && d != 0   a pulse at every k * N
 *   3 square     N - 2d % N             d % N < (N + 1) / 2    rises at k * N
 *   4, 5 strobe  (N - d) & 0xffff       d == N                 a pulse at d = N
 *
 * Modes 6 and 7 are 2 and 3, as the 8254 data sheet says (QEMU keeps them
 * apart). A control word sets the mode and the access mode but leaves the
 * count running, as QEMU's; the count starts at its (last byte's) write.
 * The gate matters only for channel 2 (port 0x61 bit 0): its rising edge
 * restarts modes 1, 2, 3 and 5, as in QEMU, which counts modes 0 and 4
 * whatever the gate says.
 *
 * Port 0x61 reads bit 0 channel 2's gate, bit 1 the speaker data bit, bit
 * 4 a refresh toggle that flips on each read (BIOSes and Linux poll it),
 * bit 5 channel 2's OUT; writes set bits 0 and 1.
 *
 * Channel 0's OUT drives ISA IRQ 0, which QEMU's MADT (virt/dev/acpi.c)
 * overrides to I/O APIC pin 2. pc_pit_poll, on vCPU 0's pCPU before each
 * entry, sends what is due: the pin follows OUT, and a rising edge of OUT
 * missed between two polls is one pulse (several missed periods make one
 * interrupt, as the local APIC timer's). Everything is under d->lock but
 * d->pit_next, the clock of the next event, which the poll reads without
 * it; whoever moves it kicks vCPU 0, so that its poll sees the new one.
 */
#include "virt/dev/pc.h"

#define PIT_HZ 1193182ull
#define PIT_GSI 2                    /* ISA IRQ 0, through the MADT's override */
#define PIT_CONTROL_PORT 0x43
#define PIT_READ_BACK 3              /* control word bits 7:6 */
/*
 * Channel 0 sends at most one edge per 100 us of guest time, so that a
 * guest programming a tiny count cannot keep its pCPU busy taking timer
 * exits (the local APIC timer has its own floor, virt/dev/lapic_timer.c).
 * The counters the guest reads are not clamped.
 */
#define PIT_MIN_EDGE_NS 100000ull
#define NS_PER_S 1000000000ull
#define CLOCK_KHZ_UNKNOWN 1000000ull /* tsc_khz 0: a 1 GHz clock, as lapic_timer.c */

/* The access-mode states of QEMU's i8254 (control word bits 5:4 are the first three). */
#define RW_LSB 1
#define RW_MSB 2
#define RW_WORD0 3
#define RW_WORD1 4

#define PORT61_GATE2 0x01
#define PORT61_SPEAKER 0x02
#define PORT61_REFRESH 0x10
#define PORT61_OUT2 0x20

static uint64_t clock_now(struct pc_devices *d)
{
	return d->cfg.clock ? d->cfg.clock() : 0;
}

static uint64_t clock_hz(const struct pc_devices *d)
{
	return (d->cfg.tsc_khz ? d->cfg.tsc_khz : CLOCK_KHZ_UNKNOWN) * 1000;
}

/* PIT ticks from the channel's load to now (a clock behind the load counts none). */
static uint64_t pit_ticks(const struct pc_devices *d, const struct pc_pit_channel *ch,
			  uint64_t now)
{
	uint64_t hz = clock_hz(d), cycles = now > ch->load ? now - ch->load : 0;

	return cycles / hz * PIT_HZ + cycles % hz * PIT_HZ / hz;
}

/* The first clock value at which pit_ticks reaches t. */
static uint64_t pit_tick_clock(const struct pc_devices *d, const struct pc_pit_channel *ch,
			       uint64_t t)
{
	uint64_t hz = clock_hz(d);

	return ch->load + t / PIT_HZ * hz + (t % PIT_HZ * hz + PIT_HZ - 1) / PIT_HZ;
}

static unsigned int pit_mode(const struct pc_pit_channel *ch)
{
	return ch->mode >= 6 ? ch->mode - 4u : ch->mode;
}

static bool pit_out(const struct pc_pit_channel *ch, uint64_t d)
{
	switch (pit_mode(ch)) {
	case 0:
		return d >= ch->count;
	case 1:
		return d < ch->count;
	case 2:
		return d % ch->count == 0 && d != 0;
	case 3:
		return d % ch->count < (ch->count + 1) / 2;
	default:
		return d == ch->count;
	}
}

static uint32_t pit_counter(const struct pc_pit_channel *ch, uint64_t d)
{
	switch (pit_mode(ch)) {
	case 2:
		return ch->count - (uint32_t)(d % ch->count);
	case 3:
		return ch->count - (uint32_t)(2 * d % ch->count);
	default:
		return (uint32_t)(ch->count - d) & 0xffff;
	}
}

/* --- Channel 0's line: rising edges of OUT counted since the load, and the pin's level --- */

static uint64_t pit_rises(const struct pc_pit_channel *ch, uint64_t d)
{
	switch (pit_mode(ch)) {
	case 1:
		return 0;
	case 2:
		return d / ch->count;
	case 3:
		return ch->count > 1 ? d / ch->count : 0; /* N = 1: OUT stays high */
	default:
		return d >= ch->count;
	}
}

/* The pin once the edges are sent: a pulse (modes 2, 4, 5) leaves it low. */
static bool pit_pin_level(const struct pc_pit_channel *ch, uint64_t d)
{
	switch (pit_mode(ch)) {
	case 0:
	case 1:
	case 3:
		return pit_out(ch, d);
	default:
		return false;
	}
}

/* The first tick after d at which the pin changes or OUT rises; 0: never. */
static uint64_t pit_next_event(const struct pc_pit_channel *ch, uint64_t d)
{
	uint64_t n = ch->count, base = d - d % n, half = (n + 1) / 2;

	switch (pit_mode(ch)) {
	case 2:
		return base + n;
	case 3:
		if (n == 1)
			return 0;
		return d - base < half ? base + half : base + n;
	default:
		return d < n ? n : 0;
	}
}

static void pit_set_pin(struct pc_devices *d, bool level, uint64_t now)
{
	struct pc_pit *p = &d->pit;

	if (level && !p->irq_level)
		p->irq_last_edge = now;
	p->irq_level = level;
	pc_ioapic_set_irq_locked(d, PIT_GSI, level);
}

/* Store and return the clock of channel 0's next event after tick t (0: none). */
static uint64_t pit_irq_schedule(struct pc_devices *d, uint64_t t)
{
	const struct pc_pit *p = &d->pit;
	uint64_t next_tick = pit_next_event(&p->ch[0], t), next, floor;

	next = next_tick ? pit_tick_clock(d, &p->ch[0], next_tick) : 0;
	floor = p->irq_last_edge + PIT_MIN_EDGE_NS * clock_hz(d) / NS_PER_S;
	if (next && next < floor)
		next = floor;
	atomic_store_explicit(&d->pit_next, next, memory_order_release);
	return next;
}

/* Send channel 0's due edges; return the clock of its next event (0: none). */
static uint64_t pit_irq_update(struct pc_devices *d, uint64_t now)
{
	struct pc_pit *p = &d->pit;
	const struct pc_pit_channel *ch = &p->ch[0];
	uint64_t t = pit_ticks(d, ch, now), rises = pit_rises(ch, t);
	bool level = pit_pin_level(ch, t);

	pc_assert_locked(d);
	if (rises != p->irq_rises) {
		if (p->irq_level)
			pit_set_pin(d, false, now);
		pit_set_pin(d, true, now);
		p->irq_rises = rises;
	}
	if (level != p->irq_level)
		pit_set_pin(d, level, now);
	return pit_irq_schedule(d, t);
}

/*
 * Channel 0 was reprogrammed: its edges count from here, and vCPU 0 must
 * poll again (its host timer may be armed for the old next event). A
 * count's load sets the pin to OUT at once, as QEMU's; a control word
 * leaves it until the next event, as QEMU's, so that the control word and
 * count a guest writes one after the other raise nothing in between.
 */
static void pit_irq_restart(struct pc_devices *d, uint64_t now, bool loaded)
{
	struct pc_pit *p = &d->pit;
	const struct pc_pit_channel *ch = &p->ch[0];
	uint64_t t = pit_ticks(d, ch, now);

	p->irq_rises = pit_rises(ch, t);
	if (loaded && pit_pin_level(ch, t) != p->irq_level)
		pit_set_pin(d, !p->irq_level, now);
	pit_irq_schedule(d, t);
	d->kicks_deferred |= 1; /* vCPU 0 */
}

uint64_t pc_pit_poll(struct pc_devices *d)
{
	uint64_t next = atomic_load_explicit(&d->pit_next, memory_order_acquire);

	if (!next || clock_now(d) < next)
		return next;
	spin_lock(&d->lock);
	next = pit_irq_update(d, clock_now(d));
	pc_unlock_and_kick(d);
	return next;
}

/* --- Registers --- */

static void pit_load(struct pc_devices *d, unsigned int c, uint32_t count)
{
	struct pc_pit_channel *ch = &d->pit.ch[c];

	ch->count = count ? count : 0x10000;
	ch->load = clock_now(d);
	if (c == 0)
		pit_irq_restart(d, ch->load, true);
}

static void pit_latch_count(struct pc_devices *d, struct pc_pit_channel *ch)
{
	if (ch->count_latched)
		return; /* the first latch holds until it is read */
	ch->latched_count = (uint16_t)pit_counter(ch, pit_ticks(d, ch, clock_now(d)));
	ch->count_latched = ch->rw_mode;
}

/*
 * Read-back (bits 7:6 = 3): bit 5 clear latches the count, bit 4 clear
 * the status, of each channel whose bit (1, 2, 3) is set. Status: OUT,
 * null count (0), access mode, mode, BCD.
 */
static void pit_read_back(struct pc_devices *d, uint8_t v)
{
	for (unsigned int c = 0; c < PC_PIT_CHANNELS; c++) {
		struct pc_pit_channel *ch = &d->pit.ch[c];

		if (!(v & (2u << c)))
			continue;
		if (!(v & 0x20))
			pit_latch_count(d, ch);
		if (!(v & 0x10) && !ch->status_latched) {
			ch->status = (uint8_t)(pit_out(ch, pit_ticks(d, ch, clock_now(d))) << 7 |
					       ch->rw_mode << 4 | ch->mode << 1 | ch->bcd);
			ch->status_latched = true;
		}
	}
}

static void pit_write_control(struct pc_devices *d, uint8_t v)
{
	unsigned int c = v >> 6, access = (v >> 4) & 3;
	struct pc_pit_channel *ch;

	if (c == PIT_READ_BACK) {
		pit_read_back(d, v);
		return;
	}
	ch = &d->pit.ch[c];
	if (!access) {
		pit_latch_count(d, ch); /* counter latch command */
		return;
	}
	ch->rw_mode = ch->read_state = ch->write_state = (uint8_t)access;
	ch->mode = (v >> 1) & 7;
	ch->bcd = v & 1;
	if (c == 0)
		pit_irq_restart(d, clock_now(d), false);
}

static void pit_write_count(struct pc_devices *d, unsigned int c, uint8_t v)
{
	struct pc_pit_channel *ch = &d->pit.ch[c];

	switch (ch->write_state) {
	case RW_MSB:
		pit_load(d, c, (uint32_t)v << 8);
		break;
	case RW_WORD0:
		ch->write_latch = v;
		ch->write_state = RW_WORD1;
		break;
	case RW_WORD1:
		ch->write_state = RW_WORD0;
		pit_load(d, c, ch->write_latch | (uint32_t)v << 8);
		break;
	default: /* RW_LSB, or never programmed */
		pit_load(d, c, v);
		break;
	}
}

static uint8_t pit_read_count(struct pc_devices *d, struct pc_pit_channel *ch)
{
	uint32_t count;

	if (ch->status_latched) {
		ch->status_latched = false;
		return ch->status;
	}
	switch (ch->count_latched) {
	case RW_MSB:
		ch->count_latched = 0;
		return ch->latched_count >> 8;
	case RW_WORD0:
		ch->count_latched = RW_MSB;
		return ch->latched_count & 0xff;
	case RW_LSB:
		ch->count_latched = 0;
		return ch->latched_count & 0xff;
	default:
		break;
	}
	count = pit_counter(ch, pit_ticks(d, ch, clock_now(d)));
	switch (ch->read_state) {
	case RW_MSB:
		return (count >> 8) & 0xff;
	case RW_WORD0:
		ch->read_state = RW_WORD1;
		return count & 0xff;
	case RW_WORD1:
		ch->read_state = RW_WORD0;
		return (count >> 8) & 0xff;
	default:
		return count & 0xff;
	}
}

enum pc_io_result pc_pit_io(struct pc_devices *d, uint16_t port, unsigned int size, bool in,
			    uint32_t *val)
{
	unsigned int c = port & 3;

	pc_assert_locked(d);
	BUG_ON(size != 1);
	if (port == PIT_CONTROL_PORT) {
		if (in)
			*val = 0; /* write-only; QEMU reads 0 */
		else
			pit_write_control(d, (uint8_t)*val);
		return PC_IO_DONE;
	}
	if (in)
		*val = pit_read_count(d, &d->pit.ch[c]);
	else
		pit_write_count(d, c, (uint8_t)*val);
	return PC_IO_DONE;
}

/* Channel 2's gate: a rising edge restarts modes 1, 2, 3 and 5 (QEMU's pit_set_gate). */
static void pit_set_gate2(struct pc_devices *d, bool gate)
{
	struct pc_pit_channel *ch = &d->pit.ch[2];

	if (gate && !ch->gate && pit_mode(ch) != 0 && pit_mode(ch) != 4)
		ch->load = clock_now(d);
	ch->gate = gate;
}

enum pc_io_result pc_port61_io(struct pc_devices *d, uint16_t port, unsigned int size, bool in,
			       uint32_t *val)
{
	struct pc_pit *p = &d->pit;
	const struct pc_pit_channel *ch = &p->ch[2];

	(void)port;
	pc_assert_locked(d);
	BUG_ON(size != 1);
	if (!in) {
		p->speaker_data = *val & PORT61_SPEAKER;
		pit_set_gate2(d, *val & PORT61_GATE2);
		return PC_IO_DONE;
	}
	p->refresh ^= PORT61_REFRESH;
	*val = (ch->gate ? PORT61_GATE2 : 0) | (p->speaker_data ? PORT61_SPEAKER : 0) | p->refresh |
	       (pit_out(ch, pit_ticks(d, ch, clock_now(d))) ? PORT61_OUT2 : 0);
	return PC_IO_DONE;
}

/*
 * As a guest finds the PIT on QEMU once SeaBIOS has booted it: every
 * channel reset to mode 3 with a count of 65536, channel 2's gate low;
 * then channel 0 in mode 2, lobyte/hibyte, count 65536 (SeaBIOS's 18.2 Hz
 * tick, read back as status 0x34). Port 0x61's first read has bit 4 set,
 * as it has there.
 */
void pc_pit_reset(struct pc_devices *d)
{
	struct pc_pit *p = &d->pit;
	uint64_t now = clock_now(d);

	*p = (struct pc_pit){ 0 };
	for (unsigned int c = 0; c < PC_PIT_CHANNELS; c++)
		p->ch[c] = (struct pc_pit_channel){ .count = 0x10000, .load = now, .mode = 3,
						    .gate = c != 2 };
	spin_lock(&d->lock);
	pit_write_control(d, 0x34);
	pit_write_count(d, 0, 0);
	pit_write_count(d, 0, 0);
	d->kicks_deferred = 0; /* nobody to kick yet */
	spin_unlock(&d->lock);
}
