// SPDX-License-Identifier: MIT
/*
 * Bringing up the machine, for the top-level main (init/main.c), in this
 * order: arch_early_init, arch_memory_init, arch_platform_init,
 * arch_smp_init. A step that fails on bad input (boot information, ACPI, a
 * missing CPU feature) prints one plain error line and ends the boot with
 * EXIT_CONFIG (machine_end), never a hang.
 */
#pragma once

#include <stdint.h>

#include "boot/mb2.h"

/* crash=: fault on purpose on the last CPU, to show the fatal-exception path. */
enum crash_kind { CRASH_NONE, CRASH_UD, CRASH_PF, CRASH_GP };

/* This CPU's IDT and per-CPU area, and the serial console. */
void arch_early_init(void);
/* The loader's handover state, checked against what multiboot2 promises. */
void arch_report_handover(void);
/* The page allocator over the usable RAM mb lists, less what is in use (mbi_pa: the information itself). */
void arch_memory_init(const struct mb2_info *mb, uint64_t mbi_pa);
/* ACPI (RSDP from mb), the local APIC in apic_mode (enum apic_mode), the TSC. */
void arch_platform_init(const struct mb2_info *mb, unsigned int apic_mode);
/* RCU, then up to max_cpus CPUs online, each answering a call. */
void arch_smp_init(unsigned int max_cpus);
/* Fault with kind on the last online CPU (crash=); the fatal-exception path ends the boot. */
void arch_crash_on_purpose(enum crash_kind kind);
