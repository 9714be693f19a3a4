// SPDX-License-Identifier: MIT
/*
 * Port I/O dispatch: one sorted, const table of port ranges, searched by
 * bisection. A port in no range goes to the unknown-port path
 * (virt/dev/devices.c). The dispatcher takes the devices' lock around a
 * handler unless the range is marked lockless, and kicks the vCPUs an
 * interrupt raised under it reached once it has dropped it.
 */
#include "virt/dev/pc.h"

static const struct pc_port_range pc_ports[] = {
	{ .first = 0x020, .last = 0x021, .io = pc_pic_master_io, .name = "pic master", .bytewise = true },
	{ .first = 0x040, .last = 0x043, .io = pc_pit_io, .name = "pit", .bytewise = true },
	{ .first = 0x060, .last = 0x060, .io = pc_i8042_io, .name = "i8042 data", .bytewise = true },
	{ .first = 0x061, .last = 0x061, .io = pc_port61_io, .name = "port 0x61", .bytewise = true },
	{ .first = 0x064, .last = 0x064, .io = pc_i8042_io, .name = "i8042 command", .bytewise = true },
	{ .first = 0x070, .last = 0x071, .io = pc_rtc_io, .name = "rtc", .bytewise = true },
	{ .first = 0x080, .last = 0x080, .io = pc_port80_io, .name = "port 0x80", .lockless = true },
	{ .first = 0x0a0, .last = 0x0a1, .io = pc_pic_slave_io, .name = "pic slave", .bytewise = true },
	{ .first = 0x0f4, .last = 0x0f7, .io = pc_debug_exit_io, .name = "isa-debug-exit", .lockless = true },
	{ .first = 0x3f8, .last = 0x3ff, .io = pc_uart_io, .name = "com1", .bytewise = true },
	{ .first = 0x4d0, .last = 0x4d1, .io = pc_elcr_io, .name = "elcr", .bytewise = true },
	{ .first = 0x510, .last = 0x511, .io = pc_fw_cfg_io, .name = "fw_cfg" },
	{ .first = 0x600, .last = 0x605, .io = pc_pm1_io, .name = "pm1a", .lockless = true },
	{ .first = 0x608, .last = 0x60b, .io = pc_pm_timer_io, .name = "pm timer", .lockless = true },
	{ .first = 0xcf9, .last = 0xcf9, .io = pc_piix_rcr_io, .name = "piix rcr", .bytewise = true },
};

static const struct pc_port_range *port_range_find(uint16_t port)
{
	size_t lo = 0, hi = ARRAY_SIZE(pc_ports);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (port < pc_ports[mid].first)
			hi = mid;
		else if (port > pc_ports[mid].last)
			lo = mid + 1;
		else
			return &pc_ports[mid];
	}
	return NULL;
}

static enum pc_io_result port_access(struct pc_devices *d, uint16_t port, unsigned int size,
				     bool in, uint32_t *val);

/* As QEMU splits an access wider than a device's registers: byte by byte, low first. */
static enum pc_io_result port_access_bytewise(struct pc_devices *d, uint16_t port,
					      unsigned int size, bool in, uint32_t *val)
{
	uint32_t assembled = 0;

	for (unsigned int i = 0; i < size; i++) {
		uint32_t byte = in ? 0 : (*val >> (8 * i)) & 0xff;
		enum pc_io_result r = port_access(d, (uint16_t)(port + i), 1, in, &byte);

		if (r != PC_IO_DONE)
			return r;
		assembled |= (byte & 0xff) << (8 * i);
	}
	if (in)
		*val = assembled;
	return PC_IO_DONE;
}

static enum pc_io_result port_access(struct pc_devices *d, uint16_t port, unsigned int size,
				     bool in, uint32_t *val)
{
	const struct pc_port_range *r = port_range_find(port);
	enum pc_io_result res;

	if (!r)
		return pc_unknown_port_io(d, port, size, in, val);
	if (r->bytewise && size > 1)
		return port_access_bytewise(d, port, size, in, val);
	if (r->lockless)
		return r->io(d, port, size, in, val);
	spin_lock(&d->lock);
	res = r->io(d, port, size, in, val);
	pc_unlock_and_kick(d); /* a device may have raised an interrupt (COM1's IRQ 4), or moved the PIT */
	return res;
}

enum pc_io_result pc_port_io(struct pc_devices *d, unsigned int vcpu_id, uint16_t port,
			     unsigned int size, bool in, uint32_t *val)
{
	uint32_t mask = pc_io_mask(size);
	enum pc_io_result res;

	BUG_ON(size != 1 && size != 2 && size != 4);
	BUG_ON(vcpu_id >= d->cfg.nr_vcpus);
	if (!in)
		*val &= mask;
	res = port_access(d, port, size, in, val);
	if (in)
		*val &= mask;
	return res;
}

/*
 * MMIO dispatch: the same shape, but no lock is taken here. The local APIC
 * is per vCPU and takes none; the I/O APIC takes d->lock itself.
 */
static const struct pc_mmio_range pc_mmio_ranges[] = {
	{ .first = 0xfec00000, .last = 0xfec00fff, .access = pc_ioapic_mmio, .name = "io apic" },
	{ .first = 0xfee00000, .last = 0xfee00fff, .access = pc_lapic_mmio, .name = "local apic" },
};

bool pc_mmio(struct pc_devices *d, unsigned int vcpu_id, uint64_t gpa, unsigned int size,
	     bool write, uint64_t *val)
{
	BUG_ON(size != 1 && size != 2 && size != 4 && size != 8);
	BUG_ON(vcpu_id >= d->cfg.nr_vcpus);
	for (size_t i = 0; i < ARRAY_SIZE(pc_mmio_ranges); i++) {
		const struct pc_mmio_range *r = &pc_mmio_ranges[i];

		if (gpa >= r->first && gpa + size - 1 <= r->last)
			return r->access(d, vcpu_id, gpa, size, write, val);
	}
	return false;
}

void pc_io_check_tables(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(pc_ports); i++) {
		BUG_ON(pc_ports[i].first > pc_ports[i].last);
		BUG_ON(i > 0 && pc_ports[i].first <= pc_ports[i - 1].last);
	}
	for (size_t i = 0; i < ARRAY_SIZE(pc_mmio_ranges); i++) {
		BUG_ON(pc_mmio_ranges[i].first > pc_mmio_ranges[i].last);
		BUG_ON(i > 0 && pc_mmio_ranges[i].first <= pc_mmio_ranges[i - 1].last);
	}
}
