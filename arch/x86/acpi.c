// SPDX-License-Identifier: MIT
/*
 * The ACPI tables as firmware leaves them: untrusted bytes. Every read of
 * physical memory goes through acpi_map() with the length about to be read,
 * so a length field, an entry count or an MADT entry that runs past what is
 * mapped (or past its own table) is skipped, never followed.
 */
#include "arch/x86/acpi.h"
#include "arch/x86/cpu.h"
#include "lib/printf.h"
#include "lib/string.h"

#define MADT_LOCAL_APIC 0
#define MADT_IO_APIC 1
#define MADT_LOCAL_X2APIC 9
#define MADT_CPU_ENABLED 1u
#define MADT_ENTRIES 44 /* header + local APIC address + flags */
#define FADT_MIN_LEN 80 /* through PM_TMR_BLK, the last field read unconditionally */
#define FADT_TMR_VAL_EXT (1u << 8)
#define FADT_RESET_REG_SUP (1u << 10)
#define ACPI_SPACE_MEMORY 0
#define ACPI_SPACE_IO 1
#define ACPI_SPACE_PCI_CONFIG 2
#define GAS_SYSTEM_IO 1
#define PM1_SCI_EN 1u
#define PM1_SLP_EN (1u << 13)
#define RSDP_V1_LEN 20
#define RSDP_V2_LEN 36

struct acpi_info acpi;

/* Every table starts with this 36-byte header. */
struct sdt_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));

_Static_assert(sizeof(struct sdt_header) == 36, "ACPI table header is 36 bytes");

static uint8_t sum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (n--)
		s += *b++;
	return s;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* The table of signature sig at pa, whole and summing to 0, or NULL. */
static const struct sdt_header *table_at(uint64_t pa, const char *sig)
{
	const struct sdt_header *h = pa ? acpi_map(pa, sizeof(*h)) : NULL;
	uint32_t len;

	if (!h || memcmp(h->signature, sig, 4) || h->length < sizeof(*h))
		return NULL;
	len = h->length;
	h = acpi_map(pa, len); /* the same address: now known to be mapped to its end */
	if (!h || sum(h, len))
		return NULL;
	return h;
}

/* The first RSDP on a 16-byte boundary of the BIOS area (its v1 part sums to 0). */
static uint64_t find_rsdp_in_bios_area(void)
{
	for (uint64_t pa = 0xe0000; pa < 0x100000; pa += 16) {
		const uint8_t *p = acpi_map(pa, RSDP_V1_LEN);

		if (p && !memcmp(p, "RSD PTR ", 8) && !sum(p, RSDP_V1_LEN))
			return pa;
	}
	return 0;
}

static const struct sdt_header *find_table(const struct sdt_header *root, bool xsdt,
					   const char *sig)
{
	unsigned int width = xsdt ? 8 : 4;
	unsigned int n = (root->length - sizeof(*root)) / width;
	const uint8_t *entries = (const uint8_t *)(root + 1);

	for (unsigned int i = 0; i < n; i++) {
		uint64_t pa = xsdt ? rd64(entries + i * 8) : rd32(entries + i * 4);
		const struct sdt_header *h = table_at(pa, sig);

		if (h)
			return h;
	}
	return NULL;
}

static void add_cpu(uint32_t apic_id)
{
	for (unsigned int i = 0; i < acpi.nr_cpus; i++)
		if (acpi.cpu_apic_id[i] == apic_id)
			return; /* listed as both LAPIC and x2APIC */
	if (acpi.nr_cpus == PLATFORM_MAX_CPUS) {
		acpi.nr_cpus_ignored++;
		return;
	}
	acpi.cpu_apic_id[acpi.nr_cpus++] = apic_id;
}

/* Entries of 2 bytes or more, each inside the table; the first that is not ends the list. */
static void parse_madt(const struct sdt_header *madt)
{
	const uint8_t *t = (const uint8_t *)madt;
	uint32_t len = madt->length;

	for (uint32_t off = MADT_ENTRIES; off + 2 <= len;) {
		const uint8_t *p = t + off;

		if (p[1] < 2 || p[1] > len - off) {
			acpi.madt_problem = "an MADT entry runs past its table or is shorter than 2 bytes: the CPUs listed after it are ignored";
			break;
		}
		switch (p[0]) {
		case MADT_LOCAL_APIC: /* type, len, acpi id, apic id, flags(4) */
			if (p[1] >= 8 && (rd32(p + 4) & MADT_CPU_ENABLED))
				add_cpu(p[3]);
			break;
		case MADT_LOCAL_X2APIC: /* type, len, rsvd(2), x2apic id(4), flags(4), uid(4) */
			if (p[1] >= 16 && (rd32(p + 8) & MADT_CPU_ENABLED))
				add_cpu(rd32(p + 4));
			break;
		case MADT_IO_APIC:
			acpi.nr_ioapics++;
			break;
		}
		off += p[1];
	}
}

/*
 * The SRAT: processor (type 0: APIC ID at 3, domain in bytes 2, 9-11,
 * flags at 4), memory (type 1: domain at 2, base at 8, length at 16, flags
 * at 28) and x2APIC (type 2: domain at 4, x2APIC ID at 8, flags at 12)
 * affinity, each with bit 0 of its flags "enabled". Collected here, then
 * turned into nodes once the MADT's CPUs are known (numa_finish).
 */
#define SRAT_ENTRIES 48 /* header + reserved(4) + reserved(8) */
#define SRAT_CPU 0
#define SRAT_MEMORY 1
#define SRAT_X2APIC 2
#define SRAT_MAX_CPUS 1024
#define SLIT_ENTRIES 44 /* header + the locality count (8) */

static struct { uint32_t apic_id, domain; } srat_cpu[SRAT_MAX_CPUS];
static unsigned int nr_srat_cpus;
static struct { uint64_t base, len; uint32_t domain; } srat_mem[ACPI_MAX_NUMA_RANGES];
static unsigned int nr_srat_mem;
static const struct sdt_header *slit;

/* Add domain to the sorted node list; false if the list is full. */
static bool add_domain(uint32_t domain)
{
	unsigned int i = 0;

	while (i < acpi.nr_nodes && acpi.node_domain[i] < domain)
		i++;
	if (i < acpi.nr_nodes && acpi.node_domain[i] == domain)
		return true;
	if (acpi.nr_nodes == ACPI_MAX_NODES)
		return false;
	memmove(&acpi.node_domain[i + 1], &acpi.node_domain[i],
		(acpi.nr_nodes - i) * sizeof(acpi.node_domain[0]));
	acpi.node_domain[i] = domain;
	acpi.nr_nodes++;
	return true;
}

/* The node of domain, or -1 if it is not one (ignored for want of room). */
static int node_of(uint32_t domain)
{
	for (unsigned int i = 0; i < acpi.nr_nodes; i++)
		if (acpi.node_domain[i] == domain)
			return (int)i;
	return -1;
}

static void srat_add_cpu(uint32_t apic_id, uint32_t domain)
{
	if (nr_srat_cpus == SRAT_MAX_CPUS || !add_domain(domain)) {
		acpi.numa_ignored++;
		return;
	}
	srat_cpu[nr_srat_cpus].apic_id = apic_id;
	srat_cpu[nr_srat_cpus++].domain = domain;
}

static void parse_srat(const struct sdt_header *srat)
{
	const uint8_t *t = (const uint8_t *)srat;
	uint32_t len = srat->length, off;

	acpi.srat_found = true;
	for (off = SRAT_ENTRIES; off + 2 <= len;) {
		const uint8_t *p = t + off;

		if (p[1] < 2 || p[1] > len - off) {
			acpi.srat_problem = "an SRAT entry runs past its table or is shorter than 2 bytes: the entries after it are ignored";
			break;
		}
		if (p[0] == SRAT_CPU && p[1] >= 16 && (rd32(p + 4) & 1)) {
			srat_add_cpu(p[3], p[2] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 |
					     (uint32_t)p[11] << 24);
		} else if (p[0] == SRAT_X2APIC && p[1] >= 24 && (rd32(p + 12) & 1)) {
			srat_add_cpu(rd32(p + 8), rd32(p + 4));
		} else if (p[0] == SRAT_MEMORY && p[1] >= 40 && (rd32(p + 28) & 1)) {
			uint64_t base = rd64(p + 8), size = rd64(p + 16);

			if (!size || base + size < base)
				acpi.srat_problem = "an SRAT memory range is empty or wraps past 2^64: ignored";
			else if (nr_srat_mem == ACPI_MAX_NUMA_RANGES || !add_domain(rd32(p + 2)))
				acpi.numa_ignored++;
			else
				srat_mem[nr_srat_mem].base = base, srat_mem[nr_srat_mem].len = size,
				srat_mem[nr_srat_mem++].domain = rd32(p + 2);
		}
		off += p[1];
	}
}

/* Nodes for the MADT's CPUs and the memory ranges, and the SLIT's distances between nodes. */
static void numa_finish(void)
{
	uint64_t n;

	for (unsigned int c = 0; c < acpi.nr_cpus; c++) {
		acpi.cpu_node[c] = 0;
		for (unsigned int i = 0; i < nr_srat_cpus; i++)
			if (srat_cpu[i].apic_id == acpi.cpu_apic_id[c] && node_of(srat_cpu[i].domain) >= 0)
				acpi.cpu_node[c] = (uint16_t)node_of(srat_cpu[i].domain);
	}
	for (unsigned int i = 0; i < nr_srat_mem; i++)
		acpi.numa_range[acpi.nr_numa_ranges++] = (struct acpi_numa_range){
			.base = srat_mem[i].base, .len = srat_mem[i].len,
			.node = (unsigned int)node_of(srat_mem[i].domain),
		};
	if (!slit || !acpi.nr_nodes)
		return;
	if (slit->length < SLIT_ENTRIES) {
		acpi.srat_problem = "the SLIT is too short for its locality count: no distances";
		return;
	}
	n = rd64((const uint8_t *)slit + 36);
	if (n > 0xffff || n * n > slit->length - SLIT_ENTRIES) {
		acpi.srat_problem = "the SLIT's locality count does not fit its length: no distances";
		return;
	}
	for (unsigned int a = 0; a < acpi.nr_nodes; a++)
		for (unsigned int b = 0; b < acpi.nr_nodes; b++)
			if (acpi.node_domain[a] < n && acpi.node_domain[b] < n)
				acpi.distance[a][b] = ((const uint8_t *)slit)[SLIT_ENTRIES +
					acpi.node_domain[a] * n + acpi.node_domain[b]];
	acpi.slit_found = true;
}

/* A generic address structure: u8 space, width, offset, access; u64 address. */
static uint16_t gas_io_port(const uint8_t *gas)
{
	return gas[0] == GAS_SYSTEM_IO ? (uint16_t)rd64(gas + 4) : 0;
}

/*
 * \_S5 is "Name(_S5, Package() { SLP_TYPa, SLP_TYPb, ... })" in AML:
 *   08 '_S5_' 12 <PkgLength> <NumElements> <elem> <elem>
 * where an element is 0A nn (BytePrefix), 00 (Zero) or 01 (One). The
 * cursor never passes end: AML cut short inside the package is no match.
 */
static bool aml_byte(const uint8_t **p, const uint8_t *end, uint8_t *out)
{
	if (*p >= end)
		return false;
	if (**p == 0x0a) {
		if (end - *p < 2)
			return false;
		*out = (*p)[1];
		*p += 2;
		return true;
	}
	if (**p == 0x00 || **p == 0x01) {
		*out = **p;
		*p += 1;
		return true;
	}
	return false;
}

static void find_s5(const struct sdt_header *dsdt)
{
	const uint8_t *aml = (const uint8_t *)dsdt;
	const uint8_t *end = aml + dsdt->length;

	/* The name comes after its NameOp: the AML's second byte at the earliest. */
	for (uint32_t off = sizeof(*dsdt) + 1; off + 6 <= dsdt->length; off++) {
		const uint8_t *p = aml + off, *q;
		uint8_t typ_a, typ_b;

		if (memcmp(p, "_S5_", 4) || p[4] != 0x12)
			continue;
		if (p[-1] != 0x08 && !(p[-1] == '\\' && p[-2] == 0x08))
			continue;
		q = p + 5;
		if (end - q < 2 + (*q >> 6))
			continue; /* PkgLength (bits 7:6 count its extra bytes), NumElements */
		q += 1 + (*q >> 6) + 1;
		if (aml_byte(&q, end, &typ_a) && aml_byte(&q, end, &typ_b)) {
			acpi.slp_typ_a = typ_a;
			acpi.slp_typ_b = typ_b;
			acpi.s5_found = true;
			return;
		}
	}
}

static void parse_fadt(const struct sdt_header *fadt)
{
	const uint8_t *f = (const uint8_t *)fadt;
	uint32_t len = fadt->length;
	const struct sdt_header *dsdt;
	uint64_t dsdt_pa = 0;

	if (len < FADT_MIN_LEN)
		return; /* too short for the fields every revision has: malformed */
	acpi.smi_cmd = (uint16_t)rd32(f + 48);
	acpi.acpi_enable_value = f[52];
	acpi.pm1a_cnt = (uint16_t)rd32(f + 64);
	acpi.pm1b_cnt = (uint16_t)rd32(f + 68);
	acpi.pm_timer_port = (uint16_t)rd32(f + 76);
	if (len >= 116)
		acpi.pm_timer_32bit = rd32(f + 112) & FADT_TMR_VAL_EXT;
	/* RESET_REG (a generic address at 116) and RESET_VALUE (128), when FLAGS says so. */
	if (len >= 129 && (rd32(f + 112) & FADT_RESET_REG_SUP) && f[116] <= ACPI_SPACE_PCI_CONFIG &&
	    rd64(f + 120)) {
		acpi.reset_space = f[116];
		acpi.reset_addr = rd64(f + 120);
		acpi.reset_value = f[128];
		acpi.has_reset = true;
	}
	if (len >= 184 && !acpi.pm1a_cnt)
		acpi.pm1a_cnt = gas_io_port(f + 172);
	if (len >= 220 && !acpi.pm_timer_port)
		acpi.pm_timer_port = gas_io_port(f + 208);
	if (len >= 148)
		dsdt_pa = rd64(f + 140);
	if (!dsdt_pa)
		dsdt_pa = rd32(f + 40);
	dsdt = table_at(dsdt_pa, "DSDT");
	if (dsdt)
		find_s5(dsdt);
}

bool acpi_init(const uint8_t *rsdp, unsigned int len, char *err, size_t err_len)
{
	const struct sdt_header *root, *madt, *fadt, *srat;

	nr_srat_cpus = nr_srat_mem = 0;
	slit = NULL;
	if (!len) {
		uint64_t pa = find_rsdp_in_bios_area();

		if (!pa) {
			fmt_snprintf(err, err_len,
				     "no ACPI RSDP from the loader or in the BIOS area; mmuvisor needs ACPI (MADT) to find the CPUs");
			return false;
		}
		rsdp = acpi_map(pa, RSDP_V2_LEN);
		len = RSDP_V2_LEN;
		if (!rsdp || rsdp[15] < 2) { /* v1, or a v2 whose last 16 bytes are not mapped */
			rsdp = acpi_map(pa, RSDP_V1_LEN);
			len = RSDP_V1_LEN;
		}
	}
	if (len < RSDP_V1_LEN) {
		fmt_snprintf(err, err_len, "the ACPI RSDP is %u bytes; even a v1 RSDP has %u", len,
			     RSDP_V1_LEN);
		return false;
	}
	acpi.rsdp_revision = rsdp[15];
	acpi.has_xsdt = len >= RSDP_V2_LEN && rsdp[15] >= 2 && rd64(rsdp + 24);
	root = acpi.has_xsdt ? table_at(rd64(rsdp + 24), "XSDT")
			     : table_at(rd32(rsdp + 16), "RSDT");
	if (!root) {
		fmt_snprintf(err, err_len, "the ACPI %s is missing or fails its checksum",
			     acpi.has_xsdt ? "XSDT" : "RSDT");
		return false;
	}
	madt = find_table(root, acpi.has_xsdt, "APIC");
	if (madt)
		parse_madt(madt);
	fadt = find_table(root, acpi.has_xsdt, "FACP");
	if (fadt)
		parse_fadt(fadt);
	if (!acpi.nr_cpus) {
		/* No MADT: run on the boot CPU alone. */
		acpi.cpu_apic_id[0] = 0xffffffff; /* smp.c fills in the BSP's own ID */
		acpi.nr_cpus = 1;
	}
	srat = find_table(root, acpi.has_xsdt, "SRAT");
	if (srat) {
		parse_srat(srat);
		slit = find_table(root, acpi.has_xsdt, "SLIT");
	}
	numa_finish();
	return true;
}

uint32_t acpi_pm_timer_read(void)
{
	uint32_t v = inl(acpi.pm_timer_port);

	return acpi.pm_timer_32bit ? v : v & 0xffffff;
}

void acpi_poweroff(void)
{
	if (!acpi.s5_found || !acpi.pm1a_cnt)
		return;
	/* Firmware may leave ACPI in legacy mode: SLP_EN then does nothing. */
	if (!(inw(acpi.pm1a_cnt) & PM1_SCI_EN) && acpi.smi_cmd && acpi.acpi_enable_value) {
		outb(acpi.smi_cmd, acpi.acpi_enable_value);
		for (int i = 0; i < 1000000 && !(inw(acpi.pm1a_cnt) & PM1_SCI_EN); i++)
			cpu_relax();
	}
	outw(acpi.pm1a_cnt, (uint16_t)(acpi.slp_typ_a << 10) | PM1_SLP_EN);
	if (acpi.pm1b_cnt)
		outw(acpi.pm1b_cnt, (uint16_t)(acpi.slp_typ_b << 10) | PM1_SLP_EN);
}

bool acpi_reset(void)
{
	uint64_t a = acpi.reset_addr;

	if (!acpi.has_reset)
		return false;
	switch (acpi.reset_space) {
	case ACPI_SPACE_MEMORY:
		if (a >= 1ull << 32)
			return false; /* outside the identity map's first 4 GiB */
		*(volatile uint8_t *)(uintptr_t)a = acpi.reset_value;
		break;
	case ACPI_SPACE_IO:
		outb((uint16_t)a, acpi.reset_value);
		break;
	default: /* PCI configuration space of bus 0: device at 32, function at 16, offset */
		outl(0xcf8, 0x80000000u | (uint32_t)((a >> 32) & 0x1f) << 11 |
			    (uint32_t)((a >> 16) & 7) << 8 | (uint32_t)(a & 0xfc));
		outb((uint16_t)(0xcfc + (a & 3)), acpi.reset_value);
		break;
	}
	return true;
}
