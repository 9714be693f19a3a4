// SPDX-License-Identifier: MIT
/*
 * A local APIC stub in xAPIC mode at 0xfee00000, enough for a guest to
 * find its APIC ID and to try its INIT-SIPI-SIPI: ID and version read as
 * an xAPIC's, the spurious-vector register keeps what is written, the ICR
 * takes writes and is always idle (an IPI goes nowhere), and every other
 * register reads 0 and drops writes. Each vCPU sees its own APIC at the
 * same address, so the state is per vCPU and only its pCPU touches it.
 *
 * Registers are 32 bits at 16-byte strides; bytes 4..15 of each read 0.
 */
#include "virt/dev/pc.h"

#define LAPIC_BASE 0xfee00000ull
#define LAPIC_ID 0x020
#define LAPIC_VERSION 0x030
#define LAPIC_SVR 0x0f0
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310

#define LAPIC_VERSION_VALUE 0x50014u /* 6 LVT entries, integrated APIC version 0x14 */
#define LAPIC_SVR_RESET 0xffu        /* vector 0xff, software-disabled */
#define LAPIC_SVR_WRITABLE 0x3ffu    /* vector, enable, focus check (no EOI suppression) */
#define LAPIC_ICR_LOW_WRITABLE 0xcdfffu /* vector, mode, dest mode, level, trigger, shorthand */
#define LAPIC_ICR_HIGH_WRITABLE 0xff000000u

void pc_lapic_reset(struct pc_devices *d)
{
	for (unsigned int i = 0; i < d->cfg.nr_vcpus; i++)
		d->lapic[i] = (struct pc_lapic){ .svr = LAPIC_SVR_RESET };
}

static uint32_t lapic_read(const struct pc_lapic *a, unsigned int vcpu_id, unsigned int reg)
{
	switch (reg) {
	case LAPIC_ID:
		return vcpu_id << 24;
	case LAPIC_VERSION:
		return LAPIC_VERSION_VALUE;
	case LAPIC_SVR:
		return a->svr;
	case LAPIC_ICR_LOW:
		return a->icr_low; /* delivery status (bit 12) always idle */
	case LAPIC_ICR_HIGH:
		return a->icr_high;
	default:
		return 0;
	}
}

static void lapic_write(struct pc_lapic *a, unsigned int reg, uint32_t v)
{
	switch (reg) {
	case LAPIC_SVR:
		a->svr = v & LAPIC_SVR_WRITABLE;
		break;
	case LAPIC_ICR_LOW:
		a->icr_low = v & LAPIC_ICR_LOW_WRITABLE; /* the IPI is sent to no one */
		break;
	case LAPIC_ICR_HIGH:
		a->icr_high = v & LAPIC_ICR_HIGH_WRITABLE;
		break;
	default:
		break;
	}
}

bool pc_lapic_mmio(struct pc_devices *d, unsigned int vcpu_id, uint64_t gpa, unsigned int size,
		   bool write, uint64_t *val)
{
	struct pc_lapic *a = &d->lapic[vcpu_id];
	unsigned int offset = (unsigned int)(gpa - LAPIC_BASE);
	unsigned int reg = offset & ~0xfu, byte = offset & 0xf;

	if (write) {
		/* Only an aligned 32-bit store reaches a register, as on the chip. */
		if (byte == 0 && size == 4)
			lapic_write(a, reg, (uint32_t)*val);
		return true;
	}
	if (byte >= 4) {
		*val = 0;
		return true;
	}
	*val = (uint64_t)(lapic_read(a, vcpu_id, reg) >> (8 * byte));
	if (size < 4)
		*val &= pc_io_mask(size);
	return true;
}
