// SPDX-License-Identifier: MIT
/*
 * The PC's legacy devices (virt/dev/pit.c, rtc.c, i8042.c) against a fake
 * clock, with the I/O APIC and local APIC behind them to see channel 0's
 * and the keyboard's interrupts. Expected values come from the Intel 8254
 * and MC146818 data sheets and from QEMU 7.2 with SeaBIOS (the reset state
 * a guest finds there: PIT read-back 0x34 / 0x86 / 0x86, port 0x61 0x30
 * then 0x20, i8042 status 0x1c, command byte 0x61, output port 0xcf, CMOS
 * 0x0a-0x0d = 26 02 00 80), not from this code's output.
 */
#include <stdint.h>

#include "tests/host/check.h"
#include "tests/host/platform_host.h"
#include "virt/dev/pc.h"

#define LAPIC 0xfee00000ull
#define IOAPIC 0xfec00000ull
#define SVR 0xf0
#define EOI 0xb0

/* A clock of 1.193182 GHz: one PIT tick is exactly 1000 cycles. */
#define PIT_KHZ 1193182ull
#define TICK 1000ull
/* A 1 GHz clock for the RTC: one second is 10^9 cycles. */
#define GHZ_KHZ 1000000ull
#define SECOND 1000000000ull

static _Atomic uint64_t fake_now;
static atomic_uint kicks[PLATFORM_MAX_CPUS];

static uint64_t fake_clock(void)
{
	return atomic_load(&fake_now);
}

static void fake_kick(void *ctx, unsigned int n)
{
	(void)ctx;
	atomic_fetch_add(&kicks[n], 1);
}

void kprintf(const char *fmt, ...)
{
	(void)fmt;
}

static void set_now(uint64_t t)
{
	atomic_store(&fake_now, t);
}

static struct pc_devices *dev_create(unsigned int nr, uint64_t tsc_khz, uint64_t ram)
{
	struct pc_devices *d = calloc(1, sizeof(*d));

	set_now(0);
	for (unsigned int i = 0; i < PLATFORM_MAX_CPUS; i++)
		atomic_store(&kicks[i], 0);
	d->cfg = (struct pc_config){ .nr_vcpus = nr, .ram_bytes = ram, .kick = fake_kick,
				     .clock = fake_clock, .tsc_khz = tsc_khz };
	spin_lock_init(&d->lock, "pc_devices");
	atomic_init(&d->exit_status, -1);
	pc_lapic_reset(d);
	pc_ioapic_reset(d);
	pc_pit_reset(d);
	pc_rtc_reset(d);
	pc_i8042_reset(d);
	return d;
}

/* One byte of port I/O as io.c's dispatcher makes it: under the lock, kicks after. */
static enum pc_io_result port(struct pc_devices *d, uint16_t p, bool in, uint32_t *val)
{
	enum pc_io_result r;

	spin_lock(&d->lock);
	if (p >= 0x40 && p <= 0x43)
		r = pc_pit_io(d, p, 1, in, val);
	else if (p == 0x61)
		r = pc_port61_io(d, p, 1, in, val);
	else if (p == 0x60 || p == 0x64)
		r = pc_i8042_io(d, p, 1, in, val);
	else if (p == 0x70 || p == 0x71)
		r = pc_rtc_io(d, p, 1, in, val);
	else
		r = pc_piix_rcr_io(d, p, 1, in, val);
	pc_unlock_and_kick(d);
	return r;
}

static uint8_t inb(struct pc_devices *d, uint16_t p)
{
	uint32_t v = 0xdeadbeef;

	CHECK_EQ_U(port(d, p, true, &v), PC_IO_DONE);
	CHECK(v <= 0xff);
	return (uint8_t)v;
}

static void outb(struct pc_devices *d, uint16_t p, uint8_t v)
{
	uint32_t x = v;

	CHECK_EQ_U(port(d, p, false, &x), PC_IO_DONE);
}

static uint16_t count_word(struct pc_devices *d, uint16_t p)
{
	uint8_t lo = inb(d, p);

	return (uint16_t)(lo | inb(d, p) << 8);
}

static void lapic_wr(struct pc_devices *d, unsigned int off, uint32_t val)
{
	uint64_t v = val;

	CHECK(pc_lapic_mmio(d, 0, LAPIC + off, 4, true, &v));
}

static void io_wr(struct pc_devices *d, uint8_t reg, uint32_t val)
{
	uint64_t v = reg;

	CHECK(pc_ioapic_mmio(d, 0, IOAPIC, 4, true, &v));
	v = val;
	CHECK(pc_ioapic_mmio(d, 0, IOAPIC + 0x10, 4, true, &v));
}

/* Pin to vector, edge, active high, fixed, vCPU 0; the APIC enabled. */
static void route(struct pc_devices *d, unsigned int pin, unsigned int vector)
{
	lapic_wr(d, SVR, 0x1ff);
	io_wr(d, (uint8_t)(0x11 + 2 * pin), 0);
	io_wr(d, (uint8_t)(0x10 + 2 * pin), vector);
}

/* How many times vector was delivered since the last call (0 or 1: IRR is one bit). */
static unsigned int took(struct pc_devices *d, unsigned int vector)
{
	unsigned int n = 0;
	int v;

	while ((v = pc_lapic_pending_vector(d, 0)) >= 0) {
		if ((unsigned int)v == vector)
			n++;
		pc_lapic_ack(d, 0, (unsigned int)v);
		lapic_wr(d, EOI, 0);
	}
	return n;
}

/* --- the PIT --- */

static void test_pit_reset_state(void)
{
	struct pc_devices *d = dev_create(1, PIT_KHZ, 256ull << 20);

	/* Read-back of the status alone: 0xe2 channel 0, 0xe4 channel 1, 0xe8 channel 2. */
	outb(d, 0x43, 0xe2);
	CHECK_EQ_U(inb(d, 0x40), 0x34); /* OUT low, lobyte/hibyte, mode 2: SeaBIOS's tick */
	outb(d, 0x43, 0xe4);
	CHECK_EQ_U(inb(d, 0x41), 0x86); /* OUT high, never programmed, mode 3 */
	outb(d, 0x43, 0xe8);
	CHECK_EQ_U(inb(d, 0x42), 0x86);
	/* Port 0x61: gate 2 low, speaker off, OUT2 high (mode 3, first half); refresh flips. */
	CHECK_EQ_U(inb(d, 0x61), 0x30);
	CHECK_EQ_U(inb(d, 0x61), 0x20);
	CHECK_EQ_U(inb(d, 0x61), 0x30);
	CHECK_EQ_U(inb(d, 0x43), 0); /* the control port is write-only */
	/* Channel 0 counts down from 65536 at 1.193182 MHz. */
	set_now(1000 * TICK);
	outb(d, 0x43, 0x00);
	CHECK_EQ_U(count_word(d, 0x40), 65536 - 1000);
	free(d);
}

static void test_pit_mode0_and_port61(void)
{
	struct pc_devices *d = dev_create(1, PIT_KHZ, 256ull << 20);

	/* Linux's pit_calibrate_tsc: gate high, speaker off, channel 2 mode 0, lobyte/hibyte. */
	outb(d, 0x61, (inb(d, 0x61) & ~0x02) | 0x01);
	outb(d, 0x43, 0xb0);
	outb(d, 0x42, 0x10);
	CHECK_EQ_U(inb(d, 0x61) & 0x21, 0x01); /* OUT2 low once the mode is set (count 65536, d = 0) */
	set_now(5 * TICK);                     /* the count starts at its second byte */
	outb(d, 0x42, 0x00);
	CHECK_EQ_U(inb(d, 0x61) & 0x21, 0x01);
	set_now(5 * TICK + 15 * TICK);
	CHECK_EQ_U(count_word(d, 0x42), 1);
	CHECK_EQ_U(inb(d, 0x61) & 0x21, 0x01);
	set_now(5 * TICK + 16 * TICK); /* terminal count: OUT rises, stays */
	CHECK_EQ_U(inb(d, 0x61) & 0x21, 0x21);
	CHECK_EQ_U(count_word(d, 0x42), 0);
	set_now(5 * TICK + 17 * TICK); /* and the counter wraps on */
	CHECK_EQ_U(count_word(d, 0x42), 0xffff);
	CHECK_EQ_U(inb(d, 0x61) & 0x21, 0x21);
	outb(d, 0x43, 0xe8);
	CHECK_EQ_U(inb(d, 0x42), 0xb0); /* OUT high, lobyte/hibyte, mode 0, binary */
	/* Speaker data bit kept; gate low again. */
	outb(d, 0x61, 0x02);
	CHECK_EQ_U(inb(d, 0x61) & 0x03, 0x02);
	free(d);
}

static void test_pit_modes_2_and_3(void)
{
	struct pc_devices *d = dev_create(1, PIT_KHZ, 256ull << 20);

	outb(d, 0x61, 0x01);
	/* Mode 2, N = 100: N - d % N; OUT high for the tick at each period's end (QEMU). */
	outb(d, 0x43, 0xb4);
	outb(d, 0x42, 100);
	outb(d, 0x42, 0);
	CHECK_EQ_U(count_word(d, 0x42), 100);
	set_now(30 * TICK);
	CHECK_EQ_U(count_word(d, 0x42), 70);
	CHECK_EQ_U(inb(d, 0x61) & 0x20, 0);
	set_now(100 * TICK);
	CHECK_EQ_U(count_word(d, 0x42), 100);
	CHECK_EQ_U(inb(d, 0x61) & 0x20, 0x20);
	set_now(101 * TICK);
	CHECK_EQ_U(count_word(d, 0x42), 99);
	CHECK_EQ_U(inb(d, 0x61) & 0x20, 0);

	/* Mode 3, N = 100: counts by twos, OUT high for the first half. */
	set_now(0);
	outb(d, 0x43, 0xb6);
	outb(d, 0x42, 100);
	outb(d, 0x42, 0);
	set_now(10 * TICK);
	CHECK_EQ_U(count_word(d, 0x42), 80);
	CHECK_EQ_U(inb(d, 0x61) & 0x20, 0x20);
	set_now(60 * TICK);
	CHECK_EQ_U(count_word(d, 0x42), 80);
	CHECK_EQ_U(inb(d, 0x61) & 0x20, 0);
	set_now(100 * TICK);
	CHECK_EQ_U(inb(d, 0x61) & 0x20, 0x20);
	/* Odd N = 5: high for (N + 1) / 2 = 3 ticks, low for 2. */
	set_now(0);
	outb(d, 0x42, 5);
	outb(d, 0x42, 0);
	set_now(2 * TICK);
	CHECK_EQ_U(inb(d, 0x61) & 0x20, 0x20);
	set_now(3 * TICK);
	CHECK_EQ_U(inb(d, 0x61) & 0x20, 0);
	set_now(5 * TICK);
	CHECK_EQ_U(inb(d, 0x61) & 0x20, 0x20);
	/* Gate low, then high: modes 2 and 3 restart from the full count. */
	set_now(1000 * TICK);
	outb(d, 0x43, 0xb4);
	outb(d, 0x42, 100);
	outb(d, 0x42, 0);
	outb(d, 0x61, 0x00);
	set_now(1040 * TICK);
	outb(d, 0x61, 0x01);
	set_now(1050 * TICK);
	CHECK_EQ_U(count_word(d, 0x42), 90);
	/* Mode 4, N = 10: OUT is high only at the tick the count reaches 0. */
	set_now(0);
	outb(d, 0x43, 0xb8);
	outb(d, 0x42, 10);
	outb(d, 0x42, 0);
	set_now(9 * TICK);
	CHECK_EQ_U(inb(d, 0x61) & 0x20, 0);
	set_now(10 * TICK);
	CHECK_EQ_U(inb(d, 0x61) & 0x20, 0x20);
	set_now(11 * TICK);
	CHECK_EQ_U(inb(d, 0x61) & 0x20, 0);
	free(d);
}

static void test_pit_access_latch_readback(void)
{
	struct pc_devices *d = dev_create(1, PIT_KHZ, 256ull << 20);

	/* Lobyte/hibyte: the low byte first, both ways. */
	outb(d, 0x43, 0xb4);
	outb(d, 0x42, 0x34);
	outb(d, 0x42, 0x12);
	CHECK_EQ_U(inb(d, 0x42), 0x34);
	CHECK_EQ_U(inb(d, 0x42), 0x12);
	/* Lobyte only: the count is that byte, and reads give the low byte each time. */
	outb(d, 0x43, 0x94);
	outb(d, 0x42, 0x56);
	CHECK_EQ_U(inb(d, 0x42), 0x56);
	CHECK_EQ_U(inb(d, 0x42), 0x56);
	/* Hibyte only: count 0x1200. */
	outb(d, 0x43, 0xa4);
	outb(d, 0x42, 0x12);
	CHECK_EQ_U(inb(d, 0x42), 0x12);
	set_now(0x100 * TICK);
	CHECK_EQ_U(inb(d, 0x42), 0x11);

	/* Counter latch: the count at the latch, until read; a second latch is ignored. */
	set_now(0);
	outb(d, 0x43, 0xb4);
	outb(d, 0x42, 1000 & 0xff);
	outb(d, 0x42, 1000 >> 8);
	set_now(10 * TICK);
	outb(d, 0x43, 0x80);
	set_now(20 * TICK);
	outb(d, 0x43, 0x80);
	set_now(30 * TICK);
	CHECK_EQ_U(count_word(d, 0x42), 990);
	CHECK_EQ_U(count_word(d, 0x42), 970); /* live again */

	/* Read-back of count and status (0xc8): status first, then the count. */
	set_now(40 * TICK);
	outb(d, 0x43, 0xc8);
	set_now(50 * TICK);
	CHECK_EQ_U(inb(d, 0x42), 0x34); /* OUT low, lobyte/hibyte, mode 2 */
	CHECK_EQ_U(count_word(d, 0x42), 960);
	/* A control word with a BCD bit shows in the status; 6 and 7 are modes 2 and 3. */
	outb(d, 0x43, 0xbd); /* mode 6, BCD */
	outb(d, 0x43, 0xe8);
	CHECK_EQ_U(inb(d, 0x42) & 0x3f, 0x3d);
	free(d);
}

static void test_pit_channel0_irq(void)
{
	struct pc_devices *d = dev_create(1, PIT_KHZ, 256ull << 20);
	uint64_t next, t0 = 200000 * TICK;

	route(d, 2, 0x50); /* ISA IRQ 0 is GSI 2 (the MADT's override) */
	/* SeaBIOS's tick: mode 2, 65536, from time 0. */
	CHECK_EQ_U(pc_pit_poll(d), 65536 * TICK);
	set_now(65536 * TICK - 1);
	CHECK_EQ_U(pc_pit_poll(d), 65536 * TICK);
	CHECK_EQ_U(took(d, 0x50), 0);
	set_now(65536 * TICK);
	CHECK_EQ_U(pc_pit_poll(d), 2 * 65536 * TICK);
	CHECK_EQ_U(took(d, 0x50), 1);

	/* Linux's periodic tick: mode 2, LATCH = 1193 (1 kHz). Reprogramming kicks vCPU 0. */
	set_now(t0);
	atomic_store(&kicks[0], 0);
	outb(d, 0x43, 0x34);
	outb(d, 0x40, 1193 & 0xff);
	outb(d, 0x40, 1193 >> 8);
	CHECK(atomic_load(&kicks[0]) >= 1);
	CHECK_EQ_U(took(d, 0x50), 0); /* no edge at the load in mode 2 */
	next = pc_pit_poll(d);
	CHECK_EQ_U(next, t0 + 1193 * TICK);
	for (unsigned int k = 1; k <= 3; k++) {
		set_now(t0 + k * 1193 * TICK);
		CHECK_EQ_U(pc_pit_poll(d), t0 + (k + 1) * 1193 * TICK);
		CHECK_EQ_U(took(d, 0x50), 1);
	}
	/* Five periods missed: one interrupt, and the next boundary after now. */
	set_now(t0 + 8 * 1193 * TICK + 7);
	CHECK_EQ_U(pc_pit_poll(d), t0 + 9 * 1193 * TICK);
	CHECK_EQ_U(took(d, 0x50), 1);

	/* Mode 0 (Linux's one-shot): one edge at the terminal count, then nothing. */
	t0 = 300000 * TICK;
	set_now(t0);
	outb(d, 0x43, 0x30);
	outb(d, 0x40, 200);
	outb(d, 0x40, 0);
	CHECK_EQ_U(pc_pit_poll(d), t0 + 200 * TICK);
	CHECK_EQ_U(took(d, 0x50), 0);
	set_now(t0 + 200 * TICK);
	CHECK_EQ_U(pc_pit_poll(d), 0);
	CHECK_EQ_U(took(d, 0x50), 1);
	set_now(t0 + 100000 * TICK);
	CHECK_EQ_U(pc_pit_poll(d), 0);
	CHECK_EQ_U(took(d, 0x50), 0);

	/*
	 * Mode 3, N = 1000: OUT is high at the load, falls at 500, rises at
	 * 1000. The line was already high (mode 0 after its terminal count),
	 * so the load is no edge.
	 */
	t0 = 500000 * TICK;
	set_now(t0);
	outb(d, 0x43, 0x36);
	outb(d, 0x40, 1000 & 0xff);
	outb(d, 0x40, 1000 >> 8);
	CHECK_EQ_U(took(d, 0x50), 0);
	CHECK_EQ_U(pc_pit_poll(d), t0 + 500 * TICK);
	set_now(t0 + 500 * TICK);
	CHECK_EQ_U(pc_pit_poll(d), t0 + 1000 * TICK);
	CHECK_EQ_U(took(d, 0x50), 0);
	set_now(t0 + 1000 * TICK);
	CHECK_EQ_U(pc_pit_poll(d), t0 + 1500 * TICK);
	CHECK_EQ_U(took(d, 0x50), 1);
	/* Polled late in the low half: the missed rise is still one edge. */
	set_now(t0 + 2700 * TICK);
	CHECK_EQ_U(pc_pit_poll(d), t0 + 3000 * TICK);
	CHECK_EQ_U(took(d, 0x50), 1);

	/* Masked at the I/O APIC: the edges are lost, the PIT goes on. */
	io_wr(d, 0x10 + 2 * 2, 0x10000 | 0x50);
	set_now(t0 + 3000 * TICK);
	CHECK_EQ_U(pc_pit_poll(d), t0 + 3500 * TICK);
	CHECK_EQ_U(took(d, 0x50), 0);
	/* A load sets the line at once (QEMU's pit_load_count): mode 0 drops it, mode 3 raises it. */
	io_wr(d, 0x10 + 2 * 2, 0x50);
	set_now(t0 + 3100 * TICK);
	outb(d, 0x43, 0x30);
	outb(d, 0x40, 100);
	outb(d, 0x40, 0);
	CHECK_EQ_U(took(d, 0x50), 0);
	outb(d, 0x43, 0x36);
	outb(d, 0x40, 100);
	outb(d, 0x40, 0);
	CHECK_EQ_U(took(d, 0x50), 1);
	free(d);
}

static void test_pit_floor(void)
{
	struct pc_devices *d = dev_create(1, PIT_KHZ, 256ull << 20);
	/* 100 us at 1.193182 GHz. */
	const uint64_t floor = 119318, t0 = 1000000 * TICK;
	unsigned int edges = 0;
	uint64_t next;

	route(d, 2, 0x50);
	set_now(t0);
	outb(d, 0x43, 0x34);
	outb(d, 0x40, 2); /* a 1.7 us period */
	outb(d, 0x40, 0);
	set_now(t0 + 2 * TICK);
	next = pc_pit_poll(d);
	CHECK_EQ_U(took(d, 0x50), 1);
	CHECK_EQ_U(next, t0 + 2 * TICK + floor);
	/* 10 ms of polls every microsecond and a bit: about one edge per 100 us. */
	for (uint64_t t = t0 + 3 * TICK; t < t0 + 10 * 1193182; t += 1193) {
		set_now(t);
		pc_pit_poll(d);
		edges += took(d, 0x50);
	}
	CHECK(edges >= 95 && edges <= 101);
	/* The counter itself is not clamped: 2 - d % 2. */
	set_now(t0 + 11933 * TICK);
	outb(d, 0x43, 0x00);
	CHECK_EQ_U(count_word(d, 0x40), 1);
	free(d);
}

/* --- the RTC and NVRAM --- */

static uint8_t cmos(struct pc_devices *d, uint8_t reg)
{
	outb(d, 0x70, reg);
	return inb(d, 0x71);
}

static void cmos_wr(struct pc_devices *d, uint8_t reg, uint8_t v)
{
	outb(d, 0x70, reg);
	outb(d, 0x71, v);
}

static void check_time(struct pc_devices *d, uint8_t cent, uint8_t year, uint8_t month,
		       uint8_t day, uint8_t wday, uint8_t hour, uint8_t min, uint8_t sec)
{
	CHECK_EQ_U(cmos(d, 0x32), cent);
	CHECK_EQ_U(cmos(d, 0x37), cent);
	CHECK_EQ_U(cmos(d, 0x09), year);
	CHECK_EQ_U(cmos(d, 0x08), month);
	CHECK_EQ_U(cmos(d, 0x07), day);
	CHECK_EQ_U(cmos(d, 0x06), wday);
	CHECK_EQ_U(cmos(d, 0x04), hour);
	CHECK_EQ_U(cmos(d, 0x02), min);
	CHECK_EQ_U(cmos(d, 0x00), sec);
}

static void test_rtc_clock(void)
{
	struct pc_devices *d = dev_create(1, GHZ_KHZ, 256ull << 20);

	CHECK_EQ_U(cmos(d, 0x0a), 0x26);
	CHECK_EQ_U(cmos(d, 0x0b), 0x02);
	CHECK_EQ_U(cmos(d, 0x0c), 0x00);
	CHECK_EQ_U(cmos(d, 0x0d), 0x80);
	CHECK_EQ_U(inb(d, 0x70), 0xff);
	/* 2026-01-01 00:00:00, a Thursday (weekday 5, Sunday = 1), BCD. */
	check_time(d, 0x20, 0x26, 0x01, 0x01, 0x05, 0x00, 0x00, 0x00);
	/* One day, one hour, one minute and one second later, and a half. */
	set_now(90061 * SECOND + SECOND / 2);
	check_time(d, 0x20, 0x26, 0x01, 0x02, 0x06, 0x01, 0x01, 0x01);
	/* 59 days after New Year: Sunday 2026-03-01. */
	set_now(59 * 86400 * SECOND);
	check_time(d, 0x20, 0x26, 0x03, 0x01, 0x01, 0x00, 0x00, 0x00);
	/* Binary, 12-hour: 13:05:09 is 1 PM (bit 7). */
	set_now((86400 + 13 * 3600 + 5 * 60 + 9) * SECOND);
	cmos_wr(d, 0x0b, 0x04);
	CHECK_EQ_U(cmos(d, 0x04), 0x81);
	CHECK_EQ_U(cmos(d, 0x02), 5);
	CHECK_EQ_U(cmos(d, 0x00), 9);
	CHECK_EQ_U(cmos(d, 0x09), 26);
	set_now(86400 * SECOND + 30); /* 00:00:00: 12 AM */
	CHECK_EQ_U(cmos(d, 0x04), 12);
	cmos_wr(d, 0x0b, 0x02);
	/* The NMI-mask bit of the index is not part of it. */
	outb(d, 0x70, 0x8d);
	CHECK_EQ_U(inb(d, 0x71), 0x80);
	/* UIP and C, D are not writable. */
	cmos_wr(d, 0x0a, 0xa6);
	CHECK_EQ_U(cmos(d, 0x0a), 0x26);
	cmos_wr(d, 0x0c, 0xff);
	cmos_wr(d, 0x0d, 0x00);
	CHECK_EQ_U(cmos(d, 0x0c), 0x00);
	CHECK_EQ_U(cmos(d, 0x0d), 0x80);
	free(d);
}

static void test_rtc_set(void)
{
	struct pc_devices *d = dev_create(1, GHZ_KHZ, 256ull << 20);

	/* With SET the clock stands and keeps what is written; clearing it starts there. */
	set_now(1000 * SECOND);
	cmos_wr(d, 0x0b, 0x82);
	set_now(5000 * SECOND);
	CHECK_EQ_U(cmos(d, 0x02), 0x16); /* 00:16:40, when SET was written */
	CHECK_EQ_U(cmos(d, 0x00), 0x40);
	cmos_wr(d, 0x32, 0x19);
	cmos_wr(d, 0x09, 0x99);
	cmos_wr(d, 0x08, 0x12);
	cmos_wr(d, 0x07, 0x31);
	cmos_wr(d, 0x04, 0x23);
	cmos_wr(d, 0x02, 0x59);
	cmos_wr(d, 0x00, 0x59);
	set_now(6000 * SECOND);
	CHECK_EQ_U(cmos(d, 0x00), 0x59);
	cmos_wr(d, 0x0b, 0x02);
	set_now(6001 * SECOND);
	/* 1999-12-31 23:59:59 + 1 s: Saturday 2000-01-01 (weekday 7). */
	check_time(d, 0x20, 0x00, 0x01, 0x01, 0x07, 0x00, 0x00, 0x00);
	/* A time register written while the clock runs moves it. */
	cmos_wr(d, 0x02, 0x30);
	CHECK_EQ_U(cmos(d, 0x02), 0x30);
	set_now(6061 * SECOND);
	CHECK_EQ_U(cmos(d, 0x02), 0x31);
	CHECK_EQ_U(cmos(d, 0x04), 0x00);
	/* The alarm registers and the rest of the NVRAM are plain bytes. */
	cmos_wr(d, 0x01, 0x42);
	cmos_wr(d, 0x40, 0xa5);
	CHECK_EQ_U(cmos(d, 0x01), 0x42);
	CHECK_EQ_U(cmos(d, 0x40), 0xa5);
	free(d);
}

static void test_rtc_nvram(void)
{
	struct pc_devices *d = dev_create(1, GHZ_KHZ, 256ull << 20);

	CHECK_EQ_U(cmos(d, 0x10), 0x00); /* no floppy */
	CHECK_EQ_U(cmos(d, 0x14), 0x06); /* FPU, PS/2 mouse */
	CHECK_EQ_U(cmos(d, 0x15), 0x80); /* 640 KiB */
	CHECK_EQ_U(cmos(d, 0x16), 0x02);
	/* 255 MiB above 1 MiB = 261120 KiB: capped at 0xffff. */
	CHECK_EQ_U(cmos(d, 0x17), 0xff);
	CHECK_EQ_U(cmos(d, 0x18), 0xff);
	CHECK_EQ_U(cmos(d, 0x30), 0xff);
	CHECK_EQ_U(cmos(d, 0x31), 0xff);
	/* 240 MiB above 16 MiB = 3840 units of 64 KiB. */
	CHECK_EQ_U(cmos(d, 0x34), 0x00);
	CHECK_EQ_U(cmos(d, 0x35), 0x0f);
	CHECK_EQ_U(cmos(d, 0x38), 0x30);
	CHECK_EQ_U(cmos(d, 0x3d), 0x12);
	CHECK_EQ_U(cmos(d, 0x5b), 0);
	CHECK_EQ_U(cmos(d, 0x5c), 0);
	CHECK_EQ_U(cmos(d, 0x5d), 0);
	CHECK_EQ_U(cmos(d, 0x5f), 0);
	CHECK_EQ_U(cmos(d, 0x0e), 0);
	CHECK_EQ_U(cmos(d, 0x7f), 0);
	free(d);

	/* 3 GiB, 4 vCPUs: 3056 MiB above 16 MiB = 48896 = 0xbf00 units. */
	d = dev_create(4, GHZ_KHZ, 3ull << 30);
	CHECK_EQ_U(cmos(d, 0x17), 0xff);
	CHECK_EQ_U(cmos(d, 0x18), 0xff);
	CHECK_EQ_U(cmos(d, 0x34), 0x00);
	CHECK_EQ_U(cmos(d, 0x35), 0xbf);
	CHECK_EQ_U(cmos(d, 0x5b), 0);
	CHECK_EQ_U(cmos(d, 0x5f), 3);
	free(d);

	/* 32 MiB: 31744 KiB above 1 MiB = 0x7c00; 16 MiB above 16 MiB = 0x100 units. */
	d = dev_create(2, GHZ_KHZ, 32ull << 20);
	CHECK_EQ_U(cmos(d, 0x17), 0x00);
	CHECK_EQ_U(cmos(d, 0x18), 0x7c);
	CHECK_EQ_U(cmos(d, 0x30), 0x00);
	CHECK_EQ_U(cmos(d, 0x31), 0x7c);
	CHECK_EQ_U(cmos(d, 0x34), 0x00);
	CHECK_EQ_U(cmos(d, 0x35), 0x01);
	CHECK_EQ_U(cmos(d, 0x5f), 1);
	free(d);
}

/* --- the i8042 and the reset paths --- */

static void test_i8042(void)
{
	struct pc_devices *d = dev_create(1, GHZ_KHZ, 256ull << 20);

	CHECK_EQ_U(inb(d, 0x64), 0x1c);
	outb(d, 0x64, 0x20);
	CHECK_EQ_U(inb(d, 0x64), 0x1d);
	CHECK_EQ_U(inb(d, 0x60), 0x61);
	CHECK_EQ_U(inb(d, 0x64), 0x1c);
	outb(d, 0x64, 0xaa);
	CHECK_EQ_U(inb(d, 0x64), 0x1d);
	CHECK_EQ_U(inb(d, 0x60), 0x55);
	CHECK_EQ_U(inb(d, 0x60), 0x55); /* an empty buffer reads its last byte */
	CHECK_EQ_U(inb(d, 0x64), 0x1c);
	outb(d, 0x64, 0xd0);
	CHECK_EQ_U(inb(d, 0x60), 0xcf);
	outb(d, 0x64, 0xab);
	CHECK_EQ_U(inb(d, 0x60), 0x00);
	/* Command byte written and read back; mouse and keyboard enable bits. */
	outb(d, 0x64, 0x60);
	outb(d, 0x60, 0x45);
	outb(d, 0x64, 0xa8);
	outb(d, 0x64, 0xad);
	outb(d, 0x64, 0x20);
	CHECK_EQ_U(inb(d, 0x60), 0x55);
	outb(d, 0x64, 0xae);
	outb(d, 0x64, 0xa7);
	outb(d, 0x64, 0x20);
	CHECK_EQ_U(inb(d, 0x60), 0x65);
	/* Keyboard identify, translated: ACK, 0xab, 0x41. */
	outb(d, 0x60, 0xf2);
	CHECK_EQ_U(inb(d, 0x60), 0xfa);
	CHECK_EQ_U(inb(d, 0x60), 0xab);
	CHECK_EQ_U(inb(d, 0x60), 0x41);
	/* The mouse's identify: mouse data (status bit 5), ACK and ID 0. */
	outb(d, 0x64, 0xd4);
	outb(d, 0x60, 0xf2);
	CHECK_EQ_U(inb(d, 0x64), 0x3d);
	CHECK_EQ_U(inb(d, 0x60), 0xfa);
	CHECK_EQ_U(inb(d, 0x60), 0x00);
	CHECK_EQ_U(inb(d, 0x64), 0x1c);

	/* IRQ 1: each byte for the keyboard is an edge while the command byte enables it. */
	route(d, 1, 0x41);
	outb(d, 0x64, 0x20);
	CHECK_EQ_U(took(d, 0x41), 1);
	outb(d, 0x60, 0xff); /* keyboard reset: ACK, then 0xaa */
	CHECK_EQ_U(inb(d, 0x60), 0x65);
	CHECK_EQ_U(took(d, 0x41), 1);
	CHECK_EQ_U(inb(d, 0x60), 0xfa);
	CHECK_EQ_U(took(d, 0x41), 1);
	CHECK_EQ_U(inb(d, 0x60), 0xaa);
	CHECK_EQ_U(took(d, 0x41), 0);
	outb(d, 0x64, 0x60);
	outb(d, 0x60, 0x64); /* keyboard interrupt off */
	outb(d, 0x64, 0x20);
	CHECK_EQ_U(took(d, 0x41), 0);
	CHECK_EQ_U(inb(d, 0x60), 0x64);
	CHECK(pc_reset_cause(d) == NULL);
	free(d);
}

static void test_resets(void)
{
	struct pc_devices *d = dev_create(1, GHZ_KHZ, 256ull << 20);
	uint32_t v = 0xfe;

	/* Linux's reboot=k: command 0xfe pulses the reset line. */
	CHECK_EQ_U(port(d, 0x64, false, &v), PC_IO_RESET);
	CHECK_STR_CONTAINS(pc_reset_cause(d), "reset through the keyboard controller");
	/* The first cause is kept. */
	v = 0x06;
	CHECK_EQ_U(port(d, 0xcf9, false, &v), PC_IO_RESET);
	CHECK_STR_CONTAINS(pc_reset_cause(d), "keyboard controller");
	free(d);

	/* The output port with bit 0 clear. */
	d = dev_create(1, GHZ_KHZ, 256ull << 20);
	outb(d, 0x64, 0xd1);
	v = 0xce;
	CHECK_EQ_U(port(d, 0x60, false, &v), PC_IO_RESET);
	CHECK_STR_CONTAINS(pc_reset_cause(d), "keyboard controller");
	free(d);

	/* Pulses that leave bit 0 alone do nothing; 0xf0 pulses all four. */
	d = dev_create(1, GHZ_KHZ, 256ull << 20);
	outb(d, 0x64, 0xff);
	outb(d, 0x64, 0xf1);
	CHECK(pc_reset_cause(d) == NULL);
	v = 0xf0;
	CHECK_EQ_U(port(d, 0x64, false, &v), PC_IO_RESET);
	free(d);

	/* PIIX's 0xcf9: bit 1 is kept, bit 2 resets (0x06 and 0x0e as Linux's reboot=pci writes). */
	d = dev_create(1, GHZ_KHZ, 256ull << 20);
	CHECK_EQ_U(inb(d, 0xcf9), 0);
	outb(d, 0xcf9, 0x02);
	CHECK_EQ_U(inb(d, 0xcf9), 0x02);
	CHECK(pc_reset_cause(d) == NULL);
	v = 0x0e;
	CHECK_EQ_U(port(d, 0xcf9, false, &v), PC_IO_RESET);
	CHECK_STR_CONTAINS(pc_reset_cause(d), "reset control register (port 0xcf9)");
	free(d);
}

int main(void)
{
	host_set_nr_cpus(1);
	host_cpu_enter(0);
	RUN_TEST(test_pit_reset_state);
	RUN_TEST(test_pit_mode0_and_port61);
	RUN_TEST(test_pit_modes_2_and_3);
	RUN_TEST(test_pit_access_latch_readback);
	RUN_TEST(test_pit_channel0_irq);
	RUN_TEST(test_pit_floor);
	RUN_TEST(test_rtc_clock);
	RUN_TEST(test_rtc_set);
	RUN_TEST(test_rtc_nvram);
	RUN_TEST(test_i8042);
	RUN_TEST(test_resets);
	host_cpu_leave();
	return check_summary("test_pcdev");
}
