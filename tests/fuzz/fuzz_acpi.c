// SPDX-License-Identifier: MIT
/*
 * libFuzzer: the host's ACPI parser (arch/x86/acpi.c: RSDP -> RSDT or
 * XSDT -> MADT, FADT, the DSDT's \_S5) on any bytes as firmware's tables.
 * Physical memory is the input: acpi_map() below gives [pa, pa + len) as a
 * heap copy of exactly len bytes (NULL past the input's end), freed after
 * the run, so ASan sees any read past what the parser mapped: past a
 * table's own length, not only past the input. The oracle: no sanitizer
 * report, no hang (libFuzzer's -timeout), the same answer from a
 * second run, and what acpi_init promises: at most PLATFORM_MAX_CPUS CPUs,
 * each APIC ID once, an XSDT only from a v2 RSDP, counts the input could
 * hold, nothing reported from a table whose signature is not in the input,
 * NUMA nodes, ranges and distances that are consistent (check_numa), and a
 * refusal that says why.
 *
 * Input: byte 0, then physical memory (the whole input, byte 0 included):
 *   bits 0-5  the RSDP length the loader hands over (above 36: 36), its
 *             bytes from byte 1; 0: no RSDP tag, search the BIOS area, and
 *             the input lies at physical 0xe0000 (an RSDP at a multiple of
 *             16 there)
 *   bit 7     fix the checksums first, as firmware would: every table whose
 *             signature and length fit (and, at 0xe0000, every RSDP) is made
 *             to sum to 0, so mutations get past them; acpi.c still checks
 * A table's physical address is its offset (+ 0xe0000 with no RSDP tag).
 * The seeds are in tests/fuzz/corpus/acpi/.
 */
#define _GNU_SOURCE /* memmem */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/acpi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BIOS_AREA 0xe0000ull
#define RSDP_MAX 36
#define LEN_MASK 0x3f
#define FIX_SUMS 0x80
#define SDT_HEADER 36
#define SDT_CHECKSUM 9
#define NO_APIC_ID 0xffffffffu /* acpi_init's boot-CPU-alone entry */

static const uint8_t *mem; /* the input, physical memory from mem_base */
static uint64_t mem_base, mem_size;
static void **maps; /* what acpi_map() handed out this run */
static size_t nr_maps, max_maps;

const void *acpi_map(uint64_t pa, uint64_t len)
{
	void *copy;

	if (pa < mem_base || pa - mem_base > mem_size || len > mem_size - (pa - mem_base))
		return NULL;
	if (nr_maps == max_maps) {
		max_maps = max_maps ? 2 * max_maps : 64;
		maps = realloc(maps, max_maps * sizeof(*maps));
		if (!maps)
			abort();
	}
	copy = malloc(len ? len : 1);
	if (!copy)
		abort();
	memcpy(copy, mem + (pa - mem_base), len);
	maps[nr_maps++] = copy;
	return copy;
}

static void unmap_all(void)
{
	while (nr_maps)
		free(maps[--nr_maps]);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static bool has_bytes(const void *needle, size_t n)
{
	return memmem(mem, mem_size, needle, n) != NULL;
}

/* Make the byte at sum_at the one that brings [at, at + len) to 0 (len known to fit). */
static void fix_sum(uint8_t *m, size_t at, size_t len, size_t sum_at)
{
	m[at + sum_at] -= sum(m + at, len);
}

/* Back to front, so that a table inside another is fixed before the one around it. */
static void fix_checksums(uint8_t *m, size_t size, bool bios)
{
	static const char *const sigs[] = { "RSDT", "XSDT", "APIC", "FACP", "DSDT" };

	for (size_t at = size; at-- > 0;) {
		if (bios && at % 16 == 0 && size - at >= 20 && !memcmp(m + at, "RSD PTR ", 8)) {
			if (size - at >= RSDP_MAX)
				fix_sum(m, at, RSDP_MAX, 32); /* the extended checksum */
			fix_sum(m, at, 20, 8);
			continue;
		}
		if (size - at < SDT_HEADER || !memchr("RXAFD", m[at], 5))
			continue; /* no table starts here (a quick test of the first byte) */
		for (unsigned int i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
			uint32_t len;

			memcpy(&len, m + at + 4, 4);
			if (!memcmp(m + at, sigs[i], 4) && len >= SDT_HEADER && len <= size - at)
				fix_sum(m, at, len, SDT_CHECKSUM);
		}
	}
}

/*
 * NUMA: nodes only from an SRAT in the input, at most ACPI_MAX_NODES, their
 * domains strictly ascending; every CPU and range on a node that exists; a
 * range non-empty and not wrapping; distances only from a SLIT.
 */
static void check_numa(void)
{
	if ((acpi.srat_found || acpi.nr_nodes || acpi.nr_numa_ranges) && !has_bytes("SRAT", 4))
		abort();
	if (acpi.nr_nodes > ACPI_MAX_NODES || acpi.nr_numa_ranges > ACPI_MAX_NUMA_RANGES)
		abort();
	if (acpi.slit_found && (!has_bytes("SLIT", 4) || !acpi.nr_nodes))
		abort();
	for (unsigned int n = 1; n < acpi.nr_nodes; n++)
		if (acpi.node_domain[n] <= acpi.node_domain[n - 1])
			abort();
	for (unsigned int c = 0; c < acpi.nr_cpus; c++)
		if (acpi.cpu_node[c] >= (acpi.nr_nodes ? acpi.nr_nodes : 1))
			abort();
	for (unsigned int r = 0; r < acpi.nr_numa_ranges; r++) {
		const struct acpi_numa_range *m = &acpi.numa_range[r];

		if (m->node >= acpi.nr_nodes || !m->len || m->base + m->len < m->base)
			abort();
	}
	for (unsigned int a = 0; !acpi.slit_found && a < ACPI_MAX_NODES; a++)
		for (unsigned int b = 0; b < ACPI_MAX_NODES; b++)
			if (acpi.distance[a][b])
				abort();
}

/* What a successful acpi_init leaves in acpi, given the RSDP it was handed. */
static void check_found(const uint8_t *rsdp, unsigned int rsdp_len)
{
	unsigned int madt_entries = acpi.nr_cpus + acpi.nr_cpus_ignored + acpi.nr_ioapics;
	bool alone = acpi.nr_cpus == 1 && acpi.cpu_apic_id[0] == NO_APIC_ID;

	if (acpi.nr_cpus == 0 || acpi.nr_cpus > PLATFORM_MAX_CPUS)
		abort();
	if (acpi.nr_cpus_ignored && acpi.nr_cpus != PLATFORM_MAX_CPUS)
		abort(); /* a CPU was dropped while there was room */
	for (unsigned int i = 0; i < acpi.nr_cpus; i++)
		for (unsigned int j = i + 1; j < acpi.nr_cpus; j++)
			if (acpi.cpu_apic_id[i] == acpi.cpu_apic_id[j])
				abort(); /* one CPU listed as LAPIC and x2APIC counts once */
	if (rsdp_len && acpi.rsdp_revision != rsdp[15])
		abort();
	if (acpi.has_xsdt && (acpi.rsdp_revision < 2 || (rsdp_len && rsdp_len < RSDP_MAX)))
		abort();
	if (!has_bytes(acpi.has_xsdt ? "XSDT" : "RSDT", 4))
		abort();
	/* Every MADT entry counted is 2 bytes at least, and inside the input. */
	if (!alone || acpi.nr_ioapics) {
		if (!has_bytes("APIC", 4) || (uint64_t)madt_entries * 2 > mem_size)
			abort();
	}
	if ((acpi.pm_timer_port || acpi.pm1a_cnt || acpi.pm1b_cnt || acpi.smi_cmd) &&
	    !has_bytes("FACP", 4))
		abort();
	if (acpi.s5_found && (!has_bytes("DSDT", 4) || !has_bytes("_S5_", 4)))
		abort();
	if (acpi.has_reset && !has_bytes("FACP", 4))
		abort();
	if (acpi.madt_problem && !has_bytes("APIC", 4))
		abort();
	check_numa();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct acpi_info first;
	unsigned int len;
	uint8_t *copy, *rsdp = NULL;
	char err[256];
	bool ok;

	if (size < 1)
		return 0;
	len = data[0] & LEN_MASK;
	if (len > RSDP_MAX)
		len = RSDP_MAX;
	if (len > size - 1)
		len = (unsigned int)(size - 1);
	/* Physical memory (acpi_map() copies from it), and the loader's RSDP: exactly len bytes. */
	copy = malloc(size);
	memcpy(copy, data, size);
	if (data[0] & FIX_SUMS)
		fix_checksums(copy, size, !len);
	mem = copy;
	mem_size = size;
	mem_base = len ? 0 : BIOS_AREA;
	if (len) {
		rsdp = malloc(len);
		memcpy(rsdp, copy + 1, len);
	}

	for (int run = 0; run < 2; run++) {
		memset(&acpi, 0, sizeof(acpi)); /* the hypervisor's is zeroed .bss, filled once */
		memset(err, 0xff, sizeof(err));
		ok = acpi_init(rsdp, len, err, sizeof(err));
		if (ok)
			check_found(rsdp, len);
		else if (!memchr(err, 0, sizeof(err)) || !err[0])
			abort(); /* a refusal must say why, NUL-terminated */
		unmap_all();
		if (run == 0)
			memcpy(&first, &acpi, sizeof(acpi));
		else if (memcmp(&first, &acpi, sizeof(acpi)))
			abort(); /* the same tables, the same answer */
	}
	free(rsdp);
	free(copy);
	return 0;
}
