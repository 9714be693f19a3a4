// SPDX-License-Identifier: MIT
/*
 * ACPI, just enough: RSDP -> XSDT (or RSDT) -> MADT for the CPUs, and the
 * FADT for the PM timer and for power-off (SLP_TYP from the DSDT's \_S5).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/platform.h"

#define ACPI_MAX_NODES 16
#define ACPI_MAX_NUMA_RANGES 64

struct acpi_numa_range {
	uint64_t base, len;
	unsigned int node;
};

struct acpi_info {
	int rsdp_revision;
	bool has_xsdt;
	unsigned int nr_cpus;         /* enabled CPUs, at most PLATFORM_MAX_CPUS */
	unsigned int nr_cpus_ignored; /* enabled CPUs beyond PLATFORM_MAX_CPUS */
	uint32_t cpu_apic_id[PLATFORM_MAX_CPUS];
	unsigned int nr_ioapics;
	uint16_t pm_timer_port; /* 0: none */
	bool pm_timer_32bit;
	uint16_t pm1a_cnt, pm1b_cnt;
	uint16_t smi_cmd;
	uint8_t acpi_enable_value;
	bool s5_found;
	uint8_t slp_typ_a, slp_typ_b;
	bool has_reset;               /* the FADT's RESET_REG, where FLAGS offers it */
	uint8_t reset_space, reset_value;
	uint64_t reset_addr;

	/*
	 * NUMA, from the SRAT (and the SLIT). A node is an enabled proximity
	 * domain, numbered in ascending domain order; without an SRAT there
	 * are none (one node, everything in it). A CPU the SRAT does not place
	 * is on node 0.
	 */
	bool srat_found, slit_found;
	unsigned int nr_nodes;                       /* at most ACPI_MAX_NODES */
	uint32_t node_domain[ACPI_MAX_NODES];        /* each node's proximity domain */
	uint16_t cpu_node[PLATFORM_MAX_CPUS];        /* for each cpu_apic_id[] entry */
	unsigned int nr_numa_ranges;
	struct acpi_numa_range numa_range[ACPI_MAX_NUMA_RANGES]; /* enabled memory, by node */
	uint8_t distance[ACPI_MAX_NODES][ACPI_MAX_NODES]; /* from the SLIT (10: local); 0: none */
	unsigned int numa_ignored;   /* SRAT entries that did not fit (domains, ranges) */
	const char *srat_problem;    /* a malformed SRAT or SLIT, in words; NULL if none */
	const char *madt_problem;    /* a malformed MADT, in words; NULL if none */
};

extern struct acpi_info acpi; /* filled by acpi_init on the BSP, then read-only */

/*
 * The parser's one way to physical memory: [pa, pa + len) as a pointer, or
 * NULL when any of it is not mapped (or pa + len overflows). The
 * hypervisor's is its identity map (arch/x86/paging.c); the fuzzer's is its
 * input (tests/fuzz/fuzz_acpi.c).
 */
const void *acpi_map(uint64_t pa, uint64_t len);

/*
 * @rsdp/@len: the copy from the multiboot2 tag, or len 0 to search the BIOS
 * area. false (with *err) when no usable table set is found. A table that
 * runs past mapped memory or fails its checksum is skipped.
 */
bool acpi_init(const uint8_t *rsdp, unsigned int len, char *err, size_t err_len);
uint32_t acpi_pm_timer_read(void);
void acpi_poweroff(void); /* returns only if power-off did not happen */
/* Write the FADT's RESET_VALUE to its RESET_REG; false if it has none. */
bool acpi_reset(void);
