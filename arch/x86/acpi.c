// SPDX-License-Identifier: MIT
#include "arch/x86/acpi.h"
#include "arch/x86/cpu.h"
#include "lib/printf.h"
#include "lib/string.h"

#define MADT_LOCAL_APIC 0
#define MADT_IO_APIC 1
#define MADT_LOCAL_X2APIC 9
#define MADT_CPU_ENABLED 1u
#define FADT_TMR_VAL_EXT (1u << 8)
#define GAS_SYSTEM_IO 1
#define PM1_SCI_EN 1u
#define PM1_SLP_EN (1u << 13)

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

static const struct sdt_header *table_at(uint64_t pa, const char *sig)
{
	const struct sdt_header *h = (const struct sdt_header *)(uintptr_t)pa;

	if (!pa || memcmp(h->signature, sig, 4) || h->length < sizeof(*h) ||
	    sum(h, h->length))
		return NULL;
	return h;
}

static const uint8_t *find_rsdp_in_bios_area(void)
{
	for (uint64_t pa = 0xe0000; pa < 0x100000; pa += 16) {
		const uint8_t *p = (const uint8_t *)(uintptr_t)pa;

		if (!memcmp(p, "RSD PTR ", 8) && !sum(p, 20))
			return p;
	}
	return NULL;
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

static void parse_madt(const struct sdt_header *madt)
{
	const uint8_t *p = (const uint8_t *)madt + 44; /* header + LAPIC addr + flags */
	const uint8_t *end = (const uint8_t *)madt + madt->length;

	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
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
		p += p[1];
	}
}

/* A generic address structure: u8 space, width, offset, access; u64 address. */
static uint16_t gas_io_port(const uint8_t *gas)
{
	return gas[0] == GAS_SYSTEM_IO ? (uint16_t)rd64(gas + 4) : 0;
}

/*
 * \_S5 is "Name(_S5, Package() { SLP_TYPa, SLP_TYPb, ... })" in AML:
 *   08 '_S5_' 12 <PkgLength> <NumElements> <elem> <elem>
 * where an element is 0A nn (BytePrefix), 00 (Zero) or 01 (One).
 */
static bool aml_byte(const uint8_t **p, uint8_t *out)
{
	if (**p == 0x0a) {
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
	const uint8_t *p = (const uint8_t *)(dsdt + 1);
	const uint8_t *end = (const uint8_t *)dsdt + dsdt->length;

	for (; p + 16 < end; p++) {
		const uint8_t *q;

		if (memcmp(p, "_S5_", 4) || p[4] != 0x12)
			continue;
		if (p[-1] != 0x08 && !(p[-1] == '\\' && p[-2] == 0x08))
			continue;
		q = p + 5;
		q += 1 + (*q >> 6); /* PkgLength: bits 7:6 count the extra bytes */
		q++;                /* NumElements */
		if (aml_byte(&q, &acpi.slp_typ_a) && aml_byte(&q, &acpi.slp_typ_b)) {
			acpi.s5_found = true;
			return;
		}
	}
}

static void parse_fadt(const struct sdt_header *fadt)
{
	const uint8_t *f = (const uint8_t *)fadt;
	uint32_t len = fadt->length;
	uint64_t dsdt_pa = 0;

	acpi.smi_cmd = (uint16_t)rd32(f + 48);
	acpi.acpi_enable_value = f[52];
	acpi.pm1a_cnt = (uint16_t)rd32(f + 64);
	acpi.pm1b_cnt = (uint16_t)rd32(f + 68);
	acpi.pm_timer_port = (uint16_t)rd32(f + 76);
	if (len >= 116)
		acpi.pm_timer_32bit = rd32(f + 112) & FADT_TMR_VAL_EXT;
	if (len >= 184 && !acpi.pm1a_cnt)
		acpi.pm1a_cnt = gas_io_port(f + 172);
	if (len >= 220 && !acpi.pm_timer_port)
		acpi.pm_timer_port = gas_io_port(f + 208);
	if (len >= 148)
		dsdt_pa = rd64(f + 140);
	if (!dsdt_pa)
		dsdt_pa = rd32(f + 40);
	if (table_at(dsdt_pa, "DSDT"))
		find_s5(table_at(dsdt_pa, "DSDT"));
}

bool acpi_init(const uint8_t *rsdp, unsigned int len, char *err, size_t err_len)
{
	const struct sdt_header *root, *madt, *fadt;

	if (!len) {
		rsdp = find_rsdp_in_bios_area();
		if (!rsdp) {
			fmt_snprintf(err, err_len,
				     "no ACPI RSDP from the loader or in the BIOS area; mmuvisor needs ACPI (MADT) to find the CPUs");
			return false;
		}
		len = rsdp[15] >= 2 ? 36 : 20;
	}
	acpi.rsdp_revision = rsdp[15];
	acpi.has_xsdt = len >= 36 && rsdp[15] >= 2 && rd64(rsdp + 24);
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
