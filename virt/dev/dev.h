// SPDX-License-Identifier: MIT
/*
 * The PC a guest kernel written for QEMU's "pc" machine expects to find:
 * COM1, isa-debug-exit, fw_cfg, the two 8259s, the PIIX4 PM timer and ACPI
 * tables, each behaving as QEMU's does. One struct pc_devices per VM; the
 * vCPU run loop hands every port I/O (and MMIO) exit to it.
 *
 * Every port without a device reads all ones and drops writes, as on the
 * ISA bus, and is reported once; with io_strict it stops the VM instead.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pc_config {            /* handed in by the VM's creator */
	unsigned int nr_vcpus;    /* 1 .. PLATFORM_MAX_CPUS */
	uint64_t ram_bytes;       /* guest RAM as the guest is told (fw_cfg RAM size, etc/e820) */
	bool io_strict;           /* io=strict: an unknown port stops the VM instead of all-ones/drop */
	unsigned int vm_id;       /* for the console prefix */
};

struct pc_devices;            /* opaque (virt/dev/pc.h) */

/* NULL when out of memory. */
struct pc_devices *pc_devices_create(const struct pc_config *cfg);
/* Flushes a partial COM1 line first. No vCPU may be doing I/O. */
void pc_devices_destroy(struct pc_devices *d);

enum pc_io_result {
	PC_IO_DONE,        /* *val filled (in) or the write taken */
	PC_IO_EXIT,        /* the guest wrote isa-debug-exit: pc_exit_status() has the status */
	PC_IO_STRICT_STOP, /* io_strict and no device at that port (nothing printed) */
};

/*
 * Port I/O of size 1, 2 or 4 by vCPU vcpu_id. in: *val is set (all ones
 * where nothing answers, masked to size); out: *val holds the value (only
 * its low size bytes count). Called concurrently from several vCPUs' pCPUs.
 */
enum pc_io_result pc_port_io(struct pc_devices *d, unsigned int vcpu_id, uint16_t port,
			     unsigned int size, bool in, uint32_t *val);

/*
 * MMIO of size 1, 2, 4 or 8 at guest-physical gpa by vCPU vcpu_id: false
 * when no device is mapped there (the caller decides). The local APIC page
 * at 0xfee00000 is an xAPIC stub (virt/dev/lapic.c).
 */
bool pc_mmio(struct pc_devices *d, unsigned int vcpu_id, uint64_t gpa, unsigned int size,
	     bool write, uint64_t *val);

/*
 * The status QEMU's process would exit with after the guest's first write
 * of V to isa-debug-exit: ((V << 1) | 1) & 0xff (exit(3) keeps 8 bits);
 * -1 if there has been none. Later writes do not change it.
 */
int pc_exit_status(const struct pc_devices *d);

/*
 * Write the ACPI tables (RSDP v2, RSDT, XSDT, FADT, FACS, DSDT, MADT) into
 * the guest's ROM area: rom is the host mapping of guest-physical rom_gpa ..
 * rom_gpa + rom_len (0xE0000, 128 KiB). Writes only the first few KiB,
 * from offset 0, the RSDP first. False if they do not fit, if the RSDP
 * would fall outside 0xE0000-0xFFFFF, or if pc_acpi_verify rejects them.
 */
bool pc_acpi_build(const struct pc_devices *d, void *rom, uint64_t rom_gpa, size_t rom_len);
/* Re-walk the tables from the RSDP: every checksum, length and pointer. */
bool pc_acpi_verify(const void *rom, uint64_t rom_gpa, size_t rom_len);

/*
 * The COM1 output so far (every byte transmitted, '\r' and '\n' included;
 * at most 64 KiB, later bytes are counted and dropped). Not NUL-terminated.
 * Read it once the vCPUs have stopped.
 */
size_t pc_uart_output(const struct pc_devices *d, const char **text);

/*
 * Print the ports without a device the guest touched, each once, with its
 * counts: "vm N: unhandled ports: 0x80 (12 writes), ..." (nothing if none),
 * and the COM1 bytes dropped past the output buffer, if any.
 */
void pc_devices_report(const struct pc_devices *d);
