// SPDX-License-Identifier: MIT
/*
 * The I/O APIC at 0xfec00000, as QEMU's (version 0x20, 24 pins): an
 * indirect register file behind IOREGSEL (0x00) and IOWIN (0x10), plus
 * version 0x20's EOI register (0x40). Each input pin is routed by its
 * redirection table entry (RTE) to the local APICs as an interrupt
 * message (pc_lapic_send):
 *
 *   RTE bits  7:0 vector   10:8 delivery mode   11 logical   12 delivery status (RO, idle)
 *             13 active low   14 Remote IRR (RO)   15 level   16 masked   63:56 destination
 *
 * An edge pin sends on its 0 -> 1 transition while unmasked (a masked
 * edge is lost, as the 82093AA says). A level pin sends while it is
 * asserted, unmasked and Remote IRR is clear, and sets Remote IRR; the
 * EOI of that vector (broadcast by a local APIC, or written to 0x40)
 * clears it and sends again if the pin is still asserted. Unmasking an
 * asserted level pin sends. The active-low bit inverts the input.
 *
 * Everything is under d->lock. Messages are sent under it (they only set
 * atomics); the vCPUs they reach are kicked after it is dropped
 * (pc_unlock_and_kick), since cfg.kick is called with no device lock.
 */
#include "virt/dev/pc.h"

#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VERSION 0x01
#define IOAPIC_REG_ARB 0x02
#define IOAPIC_REG_RTE 0x10
#define IOAPIC_VERSION_VALUE (((PC_IOAPIC_PINS - 1u) << 16) | 0x20u)

#define IOAPIC_MMIO_REGSEL 0x00
#define IOAPIC_MMIO_WINDOW 0x10
#define IOAPIC_MMIO_EOI 0x40

#define RTE_LOGICAL (1ull << 11)
#define RTE_DELIVERY_STATUS (1ull << 12)
#define RTE_ACTIVE_LOW (1ull << 13)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_LEVEL (1ull << 15)
#define RTE_MASKED (1ull << 16)
#define RTE_RO_BITS (RTE_DELIVERY_STATUS | RTE_REMOTE_IRR)

_Static_assert(IOAPIC_VERSION_VALUE == 0x00170020u, "QEMU 7.2's I/O APIC version register");

void pc_ioapic_reset(struct pc_devices *d)
{
	struct pc_ioapic *io = &d->ioapic;

	io->regsel = 0;
	io->id = (uint8_t)(d->cfg.nr_vcpus & 0xf); /* the MADT's I/O APIC ID (virt/dev/acpi.c) */
	io->input = 0;
	for (unsigned int i = 0; i < PC_IOAPIC_PINS; i++)
		io->rte[i] = RTE_MASKED;
	d->kicks_deferred = 0;
}

void pc_unlock_and_kick(struct pc_devices *d)
{
	uint64_t kicks;

	pc_assert_locked(d);
	kicks = d->kicks_deferred;
	d->kicks_deferred = 0;
	spin_unlock(&d->lock);
	pc_kick(d, kicks);
}

static bool pin_asserted(const struct pc_ioapic *io, unsigned int pin)
{
	return ((io->input >> pin) & 1) ^ !!(io->rte[pin] & RTE_ACTIVE_LOW);
}

/* Send pin's message; a level pin's Remote IRR is set whether or not an APIC takes it, as QEMU's. */
static void ioapic_send(struct pc_devices *d, unsigned int pin)
{
	uint64_t rte = d->ioapic.rte[pin];
	struct pc_apic_msg m = {
		.dest = (uint32_t)(rte >> 56),
		.logical = rte & RTE_LOGICAL,
		.mode = (rte >> 8) & 7,
		.vector = rte & 0xff,
		.level = rte & RTE_LEVEL,
	};

	if (rte & RTE_LEVEL)
		d->ioapic.rte[pin] |= RTE_REMOTE_IRR;
	d->kicks_deferred |= pc_lapic_send(d, &m);
}

/* A level pin: send if it is asserted, unmasked and not waiting for its EOI. */
static void ioapic_service_level(struct pc_devices *d, unsigned int pin)
{
	uint64_t rte = d->ioapic.rte[pin];

	if ((rte & RTE_LEVEL) && !(rte & (RTE_MASKED | RTE_REMOTE_IRR)) &&
	    pin_asserted(&d->ioapic, pin))
		ioapic_send(d, pin);
}

void pc_ioapic_set_irq_locked(struct pc_devices *d, unsigned int irq, bool level)
{
	struct pc_ioapic *io = &d->ioapic;
	bool was;

	pc_assert_locked(d);
	BUG_ON(irq >= PC_IOAPIC_PINS);
	was = pin_asserted(io, irq);
	io->input = (io->input & ~(1u << irq)) | ((uint32_t)level << irq);
	if (io->rte[irq] & RTE_LEVEL)
		ioapic_service_level(d, irq);
	else if (!was && pin_asserted(io, irq) && !(io->rte[irq] & RTE_MASKED))
		ioapic_send(d, irq);
}

void pc_ioapic_set_irq(struct pc_devices *d, unsigned int irq, bool level)
{
	spin_lock(&d->lock);
	pc_ioapic_set_irq_locked(d, irq, level);
	pc_unlock_and_kick(d);
}

static void ioapic_eoi_locked(struct pc_devices *d, unsigned int vector)
{
	pc_assert_locked(d);
	for (unsigned int pin = 0; pin < PC_IOAPIC_PINS; pin++) {
		uint64_t *rte = &d->ioapic.rte[pin];

		if ((*rte & 0xff) != vector || !(*rte & RTE_REMOTE_IRR))
			continue;
		*rte &= ~RTE_REMOTE_IRR;
		ioapic_service_level(d, pin);
	}
}

void pc_ioapic_eoi(struct pc_devices *d, unsigned int vector)
{
	spin_lock(&d->lock);
	ioapic_eoi_locked(d, vector);
	pc_unlock_and_kick(d);
}

static uint32_t ioapic_read(const struct pc_ioapic *io)
{
	unsigned int reg = io->regsel, pin = (reg - IOAPIC_REG_RTE) >> 1;

	switch (reg) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB: /* QEMU answers the arbitration ID with the ID */
		return (uint32_t)io->id << 24;
	case IOAPIC_REG_VERSION:
		return IOAPIC_VERSION_VALUE;
	}
	if (reg < IOAPIC_REG_RTE || pin >= PC_IOAPIC_PINS)
		return 0;
	return (uint32_t)(io->rte[pin] >> (reg & 1 ? 32 : 0));
}

static void ioapic_write(struct pc_devices *d, uint32_t val)
{
	struct pc_ioapic *io = &d->ioapic;
	unsigned int reg = io->regsel, pin = (reg - IOAPIC_REG_RTE) >> 1;
	uint64_t rte;

	if (reg == IOAPIC_REG_ID) {
		io->id = (val >> 24) & 0xf;
		return;
	}
	if (reg < IOAPIC_REG_RTE || pin >= PC_IOAPIC_PINS)
		return; /* version, arbitration: read-only */
	rte = io->rte[pin];
	if (reg & 1)
		rte = (rte & 0xffffffffull) | ((uint64_t)val << 32);
	else
		rte = (rte & ~0xffffffffull) | (val & ~RTE_RO_BITS) | (rte & RTE_RO_BITS);
	if (!(rte & RTE_LEVEL))
		rte &= ~RTE_REMOTE_IRR; /* an edge pin waits for no EOI */
	io->rte[pin] = rte;
	ioapic_service_level(d, pin);
}

/*
 * The register page: offsets are taken modulo 0x100 as QEMU does. IOREGSEL
 * takes any size; IOWIN and EOI only 32-bit accesses; the rest read 0.
 */
bool pc_ioapic_mmio(struct pc_devices *d, unsigned int vcpu_id, uint64_t gpa, unsigned int size,
		    bool write, uint64_t *val)
{
	struct pc_ioapic *io = &d->ioapic;
	unsigned int offset = (unsigned int)(gpa & 0xff);
	uint64_t v = 0;

	(void)vcpu_id;
	spin_lock(&d->lock);
	switch (offset) {
	case IOAPIC_MMIO_REGSEL:
		if (write)
			io->regsel = (uint8_t)*val;
		else
			v = io->regsel;
		break;
	case IOAPIC_MMIO_WINDOW:
		if (size != 4)
			break;
		if (write)
			ioapic_write(d, (uint32_t)*val);
		else
			v = ioapic_read(io);
		break;
	case IOAPIC_MMIO_EOI:
		if (write && size == 4)
			ioapic_eoi_locked(d, *val & 0xff);
		break;
	default:
		break;
	}
	pc_unlock_and_kick(d);
	if (!write)
		*val = v & (size >= 8 ? ~0ull : (1ull << (8 * size)) - 1);
	return true;
}
