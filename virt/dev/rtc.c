// SPDX-License-Identifier: MIT
/*
 * The MC146818 RTC and its NVRAM at 0x70 (index; bit 7 is the NMI mask,
 * ignored as QEMU does) and 0x71 (data), as QEMU's mc146818rtc with the
 * bytes QEMU's PC and SeaBIOS leave in it:
 *
 *   0x00-0x09  seconds, alarm, minutes, alarm, hours, alarm, weekday (1 =
 *              Sunday), day, month, year (BCD, 24-hour, as register B says)
 *   0x0a A     0x26: 32.768 kHz divider, 1024 Hz rate; UIP (bit 7) reads 0
 *   0x0b B     0x02: 24-hour, BCD. SET (bit 7) stops the clock; the time
 *              registers then keep what is written until SET is cleared
 *   0x0c C     interrupt flags, cleared by a read (no interrupt is raised)
 *   0x0d D     0x80: RAM and time valid
 *   0x10       floppy drive types: none        0x14  equipment: FPU, PS/2 mouse
 *   0x15-0x16  base memory, 640 KiB            0x17-0x18, 0x30-0x31  KiB above 1 MiB
 *   0x32, 0x37 century (BCD), part of the time 0x34-0x35  64 KiB units above 16 MiB
 *   0x38, 0x3d boot order "cad"                0x5b-0x5d  64 KiB units above 4 GiB
 *   0x5f       vCPUs - 1
 *
 * The clock is PC_RTC_START at the VM's creation, plus the seconds the
 * clock (the TSC) has counted since, plus what the guest's writes to the
 * time registers moved it by (rtc.offset): a fixed start keeps every run's
 * output the same. Everything is under d->lock.
 */
#include "virt/dev/pc.h"

#define PC_RTC_START 1767225600ll   /* 2026-01-01 00:00:00 UTC, a Thursday */
#define CLOCK_KHZ_UNKNOWN 1000000ull /* tsc_khz 0: a 1 GHz clock, as lapic_timer.c */
#define SECONDS_PER_DAY 86400

#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_WEEKDAY 0x06
#define RTC_DAY 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_CENTURY 0x32
#define RTC_PS2_CENTURY 0x37

#define REG_A_UIP 0x80
#define REG_B_SET 0x80
#define REG_B_UIE 0x10
#define REG_B_BINARY 0x04
#define REG_B_24H 0x02
#define REG_D_VRT 0x80
#define HOUR_PM 0x80

#define KIB 1024ull
#define MIB (1024 * KIB)
#define LOW_RAM_MAX 0xc0000000ull   /* QEMU's PC puts RAM above 3 GiB over 4 GiB */

static uint64_t clock_now(struct pc_devices *d)
{
	return d->cfg.clock ? d->cfg.clock() : 0;
}

static bool rtc_is_time(unsigned int reg)
{
	return reg == RTC_SECONDS || reg == RTC_MINUTES || reg == RTC_HOURS ||
	       (reg >= RTC_WEEKDAY && reg <= RTC_YEAR) || reg == RTC_CENTURY ||
	       reg == RTC_PS2_CENTURY;
}

/* Seconds since the epoch by the guest's clock, before its offset. */
static int64_t rtc_clock_seconds(struct pc_devices *d)
{
	uint64_t hz = (d->cfg.tsc_khz ? d->cfg.tsc_khz : CLOCK_KHZ_UNKNOWN) * 1000;
	uint64_t now = clock_now(d), start = d->rtc.start_clock;

	return PC_RTC_START + (int64_t)((now > start ? now - start : 0) / hz);
}

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t day)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + day - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *day)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*day = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

/* v in 0-99 (any other, from a guest's garbage, is taken modulo 100). */
static uint8_t rtc_to_reg(const struct pc_rtc *r, int64_t v)
{
	unsigned int u = (unsigned int)((v % 100 + 100) % 100);

	if (r->ram[RTC_REG_B] & REG_B_BINARY)
		return (uint8_t)u;
	return (uint8_t)((u / 10) << 4 | u % 10);
}

static int64_t rtc_from_reg(const struct pc_rtc *r, uint8_t v)
{
	if (r->ram[RTC_REG_B] & REG_B_BINARY)
		return v;
	return (v >> 4) * 10 + (v & 0xf);
}

/* Write the time t into the time registers, in register B's format. */
static void rtc_render(struct pc_rtc *r, int64_t t)
{
	int64_t sod = t % SECONDS_PER_DAY, days, y, m, day, hour;

	if (sod < 0)
		sod += SECONDS_PER_DAY;
	days = (t - sod) / SECONDS_PER_DAY;
	civil_from_days(days, &y, &m, &day);
	hour = sod / 3600;
	r->ram[RTC_SECONDS] = rtc_to_reg(r, sod % 60);
	r->ram[RTC_MINUTES] = rtc_to_reg(r, sod / 60 % 60);
	if (r->ram[RTC_REG_B] & REG_B_24H)
		r->ram[RTC_HOURS] = rtc_to_reg(r, hour);
	else
		r->ram[RTC_HOURS] = rtc_to_reg(r, hour % 12 ? hour % 12 : 12) |
				    (hour >= 12 ? HOUR_PM : 0);
	r->ram[RTC_WEEKDAY] = rtc_to_reg(r, ((days + 4) % 7 + 7) % 7 + 1); /* 1970-01-01: Thursday */
	r->ram[RTC_DAY] = rtc_to_reg(r, day);
	r->ram[RTC_MONTH] = rtc_to_reg(r, m);
	r->ram[RTC_YEAR] = rtc_to_reg(r, y % 100);
	r->ram[RTC_CENTURY] = r->ram[RTC_PS2_CENTURY] = rtc_to_reg(r, y / 100);
}

/* The time the time registers say (any garbage in them gives some time). */
static int64_t rtc_parse(const struct pc_rtc *r)
{
	int64_t hour, days;
	uint8_t h = r->ram[RTC_HOURS];

	if (r->ram[RTC_REG_B] & REG_B_24H)
		hour = rtc_from_reg(r, h);
	else
		hour = rtc_from_reg(r, h & ~HOUR_PM) % 12 + (h & HOUR_PM ? 12 : 0);
	days = days_from_civil(rtc_from_reg(r, r->ram[RTC_CENTURY]) * 100 +
				       rtc_from_reg(r, r->ram[RTC_YEAR]),
			       rtc_from_reg(r, r->ram[RTC_MONTH]), rtc_from_reg(r, r->ram[RTC_DAY]));
	return days * SECONDS_PER_DAY + hour * 3600 + rtc_from_reg(r, r->ram[RTC_MINUTES]) * 60 +
	       rtc_from_reg(r, r->ram[RTC_SECONDS]);
}

/* The time registers now say the time: the clock runs on from it. */
static void rtc_take_time(struct pc_devices *d)
{
	d->rtc.offset = rtc_parse(&d->rtc) - rtc_clock_seconds(d);
}

static uint8_t rtc_read(struct pc_devices *d, unsigned int reg)
{
	struct pc_rtc *r = &d->rtc;
	uint8_t v;

	if (rtc_is_time(reg) && !(r->ram[RTC_REG_B] & REG_B_SET))
		rtc_render(r, rtc_clock_seconds(d) + r->offset);
	v = r->ram[reg];
	if (reg == RTC_REG_C)
		r->ram[RTC_REG_C] = 0;
	return v;
}

static void rtc_write(struct pc_devices *d, unsigned int reg, uint8_t v)
{
	struct pc_rtc *r = &d->rtc;
	bool set = r->ram[RTC_REG_B] & REG_B_SET;

	if (rtc_is_time(reg)) {
		if (set) {
			r->ram[reg] = v; /* taken when SET is cleared */
			return;
		}
		rtc_render(r, rtc_clock_seconds(d) + r->offset);
		r->ram[reg] = v;
		rtc_take_time(d);
		return;
	}
	switch (reg) {
	case RTC_REG_A:
		r->ram[reg] = v & ~REG_A_UIP;
		break;
	case RTC_REG_B:
		if ((v & REG_B_SET) && !set)
			rtc_render(r, rtc_clock_seconds(d) + r->offset); /* stopped at this time */
		else if (!(v & REG_B_SET) && set)
			rtc_take_time(d); /* in the format the registers were written in */
		r->ram[reg] = v & REG_B_SET ? v & ~REG_B_UIE : v;
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		r->ram[reg] = v;
		break;
	}
}

enum pc_io_result pc_rtc_io(struct pc_devices *d, uint16_t port, unsigned int size, bool in,
			    uint32_t *val)
{
	struct pc_rtc *r = &d->rtc;

	pc_assert_locked(d);
	BUG_ON(size != 1);
	if (port == 0x70) {
		if (in)
			*val = 0xff; /* QEMU's index port reads all ones */
		else
			r->index = *val & 0x7f;
		return PC_IO_DONE;
	}
	if (in)
		*val = rtc_read(d, r->index);
	else
		rtc_write(d, r->index, (uint8_t)*val);
	return PC_IO_DONE;
}

static void nvram_word(struct pc_rtc *r, unsigned int at, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	r->ram[at] = (uint8_t)v;
	r->ram[at + 1] = (uint8_t)(v >> 8);
}

/* QEMU's pc_cmos_init for its "pc" machine with -nodefaults (no floppy), SeaBIOS's boot order. */
void pc_rtc_reset(struct pc_devices *d)
{
	struct pc_rtc *r = &d->rtc;
	uint64_t ram = d->cfg.ram_bytes, below_4g = ram < LOW_RAM_MAX ? ram : LOW_RAM_MAX;
	uint64_t above_4g = (ram - below_4g) / (64 * KIB);

	*r = (struct pc_rtc){ .start_clock = clock_now(d) };
	r->ram[RTC_REG_A] = 0x26;
	r->ram[RTC_REG_B] = REG_B_24H;
	r->ram[RTC_REG_D] = REG_D_VRT;
	r->ram[0x14] = 0x06;
	nvram_word(r, 0x15, 640);
	nvram_word(r, 0x17, below_4g > MIB ? (below_4g - MIB) / KIB : 0);
	nvram_word(r, 0x30, below_4g > MIB ? (below_4g - MIB) / KIB : 0);
	nvram_word(r, 0x34, below_4g > 16 * MIB ? (below_4g - 16 * MIB) / (64 * KIB) : 0);
	r->ram[0x38] = 0x30;
	r->ram[0x3d] = 0x12;
	r->ram[0x5b] = (uint8_t)above_4g;
	r->ram[0x5c] = (uint8_t)(above_4g >> 8);
	r->ram[0x5d] = (uint8_t)(above_4g >> 16);
	r->ram[0x5f] = (uint8_t)(d->cfg.nr_vcpus - 1);
	rtc_render(r, PC_RTC_START);
}
