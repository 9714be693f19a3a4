// SPDX-License-Identifier: MIT
/*
 * A PC guest: a kernel from outside (a multiboot or multiboot2 kernel, as
 * GRUB or QEMU's -kernel would start it) on a small PC: RAM below 640 KiB
 * and from 1 MiB, the ROM area with the ACPI tables, the devices of
 * virt/dev/, MSRs (virt/msr.c) and CPUID (virt/cpuid.c) as a CPU answers
 * them. Its vCPU 0 starts in 32-bit protected mode with paging off; the
 * others wait for INIT and SIPI from the guest's local APICs.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "virt/loader.h"
#include "virt/vm.h"

#define PC_MAX_MODULES PC_LOADER_MAX_MODULES

/* Guest-physical layout of a PC guest. */
#define PC_LOW_RAM_END 0x9fc00ull   /* RAM below 639 KiB: a PC's firmware keeps the last KiB (EBDA) */
#define PC_ROM_BASE 0xe0000ull      /* the ROM area: read-only, the ACPI tables */
#define PC_ROM_SIZE 0x20000ull
#define PC_HIGH_RAM 0x100000ull     /* RAM from 1 MiB */
#define PC_INFO_BASE 0x8000ull      /* the loader's boot information ... */
#define PC_INFO_END 0x90000ull      /* ... below here (the kernel may not load there) */
#define PC_MIN_RAM (4ull << 20)
#define PC_MAX_RAM (3ull << 30)     /* below the PCI hole, the I/O APIC and the local APIC */

struct pc_module {
	const uint8_t *start;
	size_t len;
	const char *cmdline;
};

struct pc_guest {
	const char *name;            /* its GRUB module's command line */
	const uint8_t *image;
	size_t image_len;
	const char *args;            /* the guest's own command line ("": none) */
	struct pc_module modules[PC_MAX_MODULES];
	unsigned int nr_modules;
	bool io_strict;              /* io=strict: a port with no device stops the VM */
};

/* vm_create's part for a PC guest: memory, loading, devices, vCPU start. */
bool pc_vm_setup(struct vm *vm, char *err, size_t len);
void pc_vm_teardown(struct vm *vm);
/* An exit of a PC guest's vCPU that the PC handles (port I/O, MSRs, ...): true if it did. */
bool pc_handle_exit(struct vcpu *v);
/* A fault on gpa with no RAM (or a write to the ROM area): emulated, or the VM stops (false). */
bool pc_mmio_exit(struct vcpu *v, uint64_t gpa, bool rom_write);
/* virt/pc_irq.c: interrupts, INIT/SIPI and HLT, on the vCPU's pCPU. */
bool pc_prepare_entry(struct vcpu *v); /* before an entry: false, do not enter now */
void pc_halt(struct vcpu *v);
void pc_vcpu_stopped(struct vcpu *v);
void pc_vcpu_kick(void *ctx, unsigned int vcpu_id); /* struct pc_config's kick */
uint64_t pc_clock(void);
/* The guest ended itself: status is what QEMU would exit with, -1 for a halt. */
void pc_guest_end(struct vcpu *v, int status, const char *how);
