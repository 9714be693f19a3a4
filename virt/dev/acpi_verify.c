// SPDX-License-Identifier: MIT
/*
 * A self-check of the tables virt/dev/acpi.c wrote, walked as a guest's OS
 * would: find the RSDP on a 16-byte boundary, sum it, follow the RSDT and
 * the XSDT (which must list the same tables), sum each table, and follow
 * the FADT to the DSDT and the FACS and the MADT's entries to their end.
 * Every pointer must land inside the ROM with the whole table behind it.
 */
#include "lib/string.h"
#include "virt/dev/acpi_tables.h"
#include "virt/dev/pc.h"

struct rom_view {
	const uint8_t *base;
	uint64_t gpa;
	size_t len;
};

/* The host pointer of len bytes at guest-physical gpa, or NULL if they are not all in the ROM. */
static const uint8_t *rom_at(const struct rom_view *r, uint64_t gpa, size_t len)
{
	if (gpa < r->gpa || gpa - r->gpa > r->len || len > r->len - (gpa - r->gpa))
		return NULL;
	return r->base + (gpa - r->gpa);
}

/* A table with signature sig (NULL: any) at gpa, its length in range and its sum 0. */
static const struct acpi_header *table_at(const struct rom_view *r, uint64_t gpa, const char *sig)
{
	const struct acpi_header *h = (const struct acpi_header *)rom_at(r, gpa, sizeof(*h));

	if (!h || (sig && memcmp(h->signature, sig, 4) != 0) || h->length < sizeof(*h))
		return NULL;
	if (!rom_at(r, gpa, h->length) || acpi_sum(h, h->length) != 0)
		return NULL;
	return h;
}

static const struct acpi_rsdp *rsdp_find(const struct rom_view *r)
{
	uint64_t first = (r->gpa + 15) & ~15ull;

	for (uint64_t gpa = first; rom_at(r, gpa, sizeof(struct acpi_rsdp)); gpa += 16) {
		const struct acpi_rsdp *p = (const struct acpi_rsdp *)rom_at(r, gpa, sizeof(*p));

		if (memcmp(p->signature, "RSD PTR ", 8) == 0)
			return p;
	}
	return NULL;
}

static bool fadt_ok(const struct rom_view *r, const struct acpi_fadt *f)
{
	const struct acpi_facs *facs;

	if (f->h.length < sizeof(*f))
		return false;
	if (f->x_dsdt != f->dsdt || f->x_firmware_ctrl != f->firmware_ctrl)
		return false;
	if (!table_at(r, f->x_dsdt, "DSDT"))
		return false;
	facs = (const struct acpi_facs *)rom_at(r, f->x_firmware_ctrl, sizeof(*facs));
	return facs && (f->x_firmware_ctrl & 63) == 0 && memcmp(facs->signature, "FACS", 4) == 0 &&
	       facs->length >= sizeof(*facs);
}

static bool madt_ok(const struct acpi_madt *m)
{
	const uint8_t *p = (const uint8_t *)m + sizeof(*m), *end = (const uint8_t *)m + m->h.length;
	unsigned int lapics = 0;

	if (m->h.length < sizeof(*m))
		return false;
	while (p < end) {
		if (end - p < 2 || p[1] < 2 || p[1] > end - p)
			return false;
		if (p[0] == 0)
			lapics++;
		p += p[1];
	}
	return lapics > 0;
}

/* seen: bit 0 once a good FADT is found, bit 1 a good MADT. */
static bool table_ok(const struct rom_view *r, uint64_t gpa, unsigned int *seen)
{
	const struct acpi_header *h = table_at(r, gpa, NULL);

	if (!h)
		return false;
	if (memcmp(h->signature, "FACP", 4) == 0) {
		*seen |= 1;
		return fadt_ok(r, (const struct acpi_fadt *)h);
	}
	if (memcmp(h->signature, "APIC", 4) == 0) {
		*seen |= 2;
		return madt_ok((const struct acpi_madt *)h);
	}
	return true;
}

bool pc_acpi_verify(const void *rom, uint64_t rom_gpa, size_t rom_len)
{
	const struct rom_view r = { .base = rom, .gpa = rom_gpa, .len = rom_len };
	const struct acpi_rsdp *rsdp = rsdp_find(&r);
	const struct acpi_header *rsdt, *xsdt;
	unsigned int seen = 0;
	size_t n;

	if (!rsdp || acpi_sum(rsdp, 20) != 0 || rsdp->revision < 2 ||
	    rsdp->length != sizeof(*rsdp) || acpi_sum(rsdp, sizeof(*rsdp)) != 0)
		return false;
	rsdt = table_at(&r, rsdp->rsdt_address, "RSDT");
	xsdt = table_at(&r, rsdp->xsdt_address, "XSDT");
	if (!rsdt || !xsdt)
		return false;
	n = (rsdt->length - sizeof(*rsdt)) / 4;
	if (rsdt->length != sizeof(*rsdt) + n * 4 || xsdt->length != sizeof(*xsdt) + n * 8)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint32_t addr32;
		uint64_t addr64;

		memcpy(&addr32, (const uint8_t *)rsdt + sizeof(*rsdt) + i * 4, 4);
		memcpy(&addr64, (const uint8_t *)xsdt + sizeof(*xsdt) + i * 8, 8);
		if (addr32 != addr64 || !table_ok(&r, addr64, &seen))
			return false;
	}
	return seen == 3;
}
