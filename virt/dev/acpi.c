// SPDX-License-Identifier: MIT
/*
 * The guest's ACPI tables, written once into its BIOS ROM area, where an
 * OS scans for the RSDP (16-byte boundaries in 0xE0000-0xFFFFF):
 *
 *   RSDP (rev 2) --> RSDT (32-bit) --+--> FADT (rev 3) --> DSDT (_S5 only), FACS
 *                \-> XSDT (64-bit) --/--> MADT: one local APIC per vCPU, the
 *                                          I/O APIC, QEMU's PIIX overrides
 *
 * The FADT describes virt/dev/pm_timer.c's ports. Every address is guest
 * physical; every table is laid out from the ROM's start in the order
 * above (FACS 64-byte aligned) and summed to zero.
 */
#include "lib/string.h"
#include "virt/dev/acpi_tables.h"
#include "virt/dev/pc.h"

#define ACPI_OEM_ID "MMUVSR"
#define ACPI_OEM_TABLE_ID "MMUVISOR"
#define ACPI_CREATOR_ID "MMUV"
#define RSDP_SCAN_START 0xe0000ull
#define RSDP_SCAN_END 0x100000ull
#define LAPIC_ADDRESS 0xfee00000u
#define IOAPIC_ADDRESS 0xfec00000u
#define SCI_IRQ 9
#define PM_BASE 0x600

#define MADT_PCAT_COMPAT 1u
#define MADT_LAPIC_ENABLED 1u
#define MADT_ISO_LEVEL_HIGH 0x000d /* active high, level triggered */
#define FADT_WBINVD (1u << 0)
#define FADT_PROC_C1 (1u << 2)
#define FADT_PWR_BUTTON (1u << 4)  /* no fixed-feature power button */
#define FADT_SLP_BUTTON (1u << 5)  /* no fixed-feature sleep button */
#define FADT_BOOT_LEGACY_DEVICES (1u << 0) /* no 8042 (bit 1 clear): none here */
#define ACPI_SPACE_IO 1

/* QEMU's PIIX: IRQ0 goes to pin 2; the PCI interrupts 5, 9, 10, 11 are level, active high. */
static const uint8_t level_irqs[] = { 5, 9, 10, 11 };

static void acpi_header_fill(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = 1;
}

static void acpi_header_seal(struct acpi_header *h)
{
	h->checksum = 0;
	h->checksum = (uint8_t)-acpi_sum(h, h->length);
}

static struct acpi_gas gas_io(uint16_t port, uint8_t bytes)
{
	return (struct acpi_gas){ .space_id = ACPI_SPACE_IO, .bit_width = (uint8_t)(8 * bytes),
				  .address = port };
}

/* Where each table goes, as offsets from the ROM's start. */
struct acpi_layout {
	size_t rsdp, facs, dsdt, fadt, madt, rsdt, xsdt, end;
	uint32_t madt_len;
};

static size_t layout_place(uint64_t rom_gpa, size_t *cursor, size_t len, size_t align)
{
	size_t at = (size_t)(((rom_gpa + *cursor + align - 1) & ~(uint64_t)(align - 1)) - rom_gpa);

	*cursor = at + len;
	return at;
}

/*
 * The DSDT's AML: only the S5 sleep object, as QEMU's PIIX DSDT has it,
 * Name (_S5, Package (4) { 0, 0, 0, 0 }): SLP_TYP 0 in PM1a_CNT with
 * SLP_EN powers off (virt/dev/pm_timer.c). Without it Linux has no way to
 * power off and halts instead.
 */
static const uint8_t dsdt_aml[] = {
	0x08, '_', 'S', '5', '_',       /* NameOp "_S5_" */
	0x12, 0x06, 0x04,               /* PackageOp, PkgLength 6, 4 elements */
	0x00, 0x00, 0x00, 0x00,         /* ZeroOp x 4 */
};

static void acpi_plan(struct acpi_layout *l, uint64_t rom_gpa, unsigned int nr_vcpus)
{
	size_t cursor = 0;

	l->madt_len = sizeof(struct acpi_madt) + nr_vcpus * sizeof(struct madt_lapic) +
		      sizeof(struct madt_ioapic) +
		      (1 + ARRAY_SIZE(level_irqs)) * sizeof(struct madt_override) +
		      sizeof(struct madt_lapic_nmi);
	l->rsdp = layout_place(rom_gpa, &cursor, sizeof(struct acpi_rsdp), 16);
	l->facs = layout_place(rom_gpa, &cursor, sizeof(struct acpi_facs), 64);
	l->dsdt = layout_place(rom_gpa, &cursor, sizeof(struct acpi_header) + sizeof(dsdt_aml), 16);
	l->fadt = layout_place(rom_gpa, &cursor, sizeof(struct acpi_fadt), 16);
	l->madt = layout_place(rom_gpa, &cursor, l->madt_len, 16);
	l->rsdt = layout_place(rom_gpa, &cursor, sizeof(struct acpi_header) + 2 * 4, 16);
	l->xsdt = layout_place(rom_gpa, &cursor, sizeof(struct acpi_header) + 2 * 8, 16);
	l->end = cursor;
}

static void build_fadt(uint8_t *rom, uint64_t rom_gpa, const struct acpi_layout *l)
{
	struct acpi_fadt *f = (struct acpi_fadt *)(rom + l->fadt);

	acpi_header_fill(&f->h, "FACP", sizeof(*f), 3);
	f->firmware_ctrl = (uint32_t)(rom_gpa + l->facs);
	f->dsdt = (uint32_t)(rom_gpa + l->dsdt);
	f->x_firmware_ctrl = rom_gpa + l->facs;
	f->x_dsdt = rom_gpa + l->dsdt;
	f->sci_int = SCI_IRQ;
	f->pm1a_evt_blk = PM_BASE;
	f->pm1_evt_len = 4;
	f->pm1a_cnt_blk = PM_BASE + 4;
	f->pm1_cnt_len = 2;
	f->pm_tmr_blk = PM_BASE + 8;
	f->pm_tmr_len = 4;
	f->x_pm1a_evt_blk = gas_io(PM_BASE, 4);
	f->x_pm1a_cnt_blk = gas_io(PM_BASE + 4, 2);
	f->x_pm_tmr_blk = gas_io(PM_BASE + 8, 4);
	/* No C2/C3: latencies above 100 and 1000 us say so. */
	f->p_lvl2_lat = 0xfff;
	f->p_lvl3_lat = 0xffff;
	f->iapc_boot_arch = FADT_BOOT_LEGACY_DEVICES;
	f->flags = FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON; /* TMR_VAL_EXT = 0 */
	acpi_header_seal(&f->h);
}

static void build_madt(uint8_t *rom, const struct acpi_layout *l, unsigned int nr_vcpus)
{
	struct acpi_madt *m = (struct acpi_madt *)(rom + l->madt);
	uint8_t *p = rom + l->madt + sizeof(*m);
	struct madt_ioapic *io;
	struct madt_override *iso;
	struct madt_lapic_nmi *nmi;

	acpi_header_fill(&m->h, "APIC", l->madt_len, 1);
	m->lapic_address = LAPIC_ADDRESS;
	m->flags = MADT_PCAT_COMPAT;
	for (unsigned int i = 0; i < nr_vcpus; i++, p += sizeof(struct madt_lapic))
		*(struct madt_lapic *)p = (struct madt_lapic){
			.type = 0, .length = sizeof(struct madt_lapic), .processor_uid = (uint8_t)i,
			.apic_id = (uint8_t)i, .flags = MADT_LAPIC_ENABLED,
		};
	io = (struct madt_ioapic *)p;
	*io = (struct madt_ioapic){ .type = 1, .length = sizeof(*io), .id = (uint8_t)nr_vcpus,
				    .address = IOAPIC_ADDRESS, .gsi_base = 0 };
	p += sizeof(*io);
	iso = (struct madt_override *)p;
	*iso = (struct madt_override){ .type = 2, .length = sizeof(*iso), .bus = 0, .source = 0,
				       .gsi = 2, .flags = 0 };
	p += sizeof(*iso);
	for (size_t i = 0; i < ARRAY_SIZE(level_irqs); i++, p += sizeof(*iso)) {
		iso = (struct madt_override *)p;
		*iso = (struct madt_override){ .type = 2, .length = sizeof(*iso), .bus = 0,
					       .source = level_irqs[i], .gsi = level_irqs[i],
					       .flags = MADT_ISO_LEVEL_HIGH };
	}
	nmi = (struct madt_lapic_nmi *)p;
	*nmi = (struct madt_lapic_nmi){ .type = 4, .length = sizeof(*nmi), .processor_uid = 0xff,
					.flags = 0, .lint = 1 };
	p += sizeof(*nmi);
	BUG_ON(p != rom + l->madt + l->madt_len);
	acpi_header_seal(&m->h);
}

static void build_sdts(uint8_t *rom, uint64_t rom_gpa, const struct acpi_layout *l)
{
	struct acpi_header *rsdt = (struct acpi_header *)(rom + l->rsdt);
	struct acpi_header *xsdt = (struct acpi_header *)(rom + l->xsdt);
	const size_t tables[] = { l->fadt, l->madt };

	acpi_header_fill(rsdt, "RSDT", sizeof(*rsdt) + ARRAY_SIZE(tables) * 4, 1);
	acpi_header_fill(xsdt, "XSDT", sizeof(*xsdt) + ARRAY_SIZE(tables) * 8, 1);
	for (size_t i = 0; i < ARRAY_SIZE(tables); i++) {
		uint32_t addr32 = (uint32_t)(rom_gpa + tables[i]);
		uint64_t addr64 = rom_gpa + tables[i];

		memcpy(rom + l->rsdt + sizeof(*rsdt) + i * 4, &addr32, 4);
		memcpy(rom + l->xsdt + sizeof(*xsdt) + i * 8, &addr64, 8);
	}
	acpi_header_seal(rsdt);
	acpi_header_seal(xsdt);
}

bool pc_acpi_build(const struct pc_devices *d, void *rom_area, uint64_t rom_gpa, size_t rom_len)
{
	uint8_t *rom = rom_area;
	struct acpi_layout l;
	struct acpi_rsdp *rsdp;
	struct acpi_facs *facs;
	struct acpi_header *dsdt;

	acpi_plan(&l, rom_gpa, d->cfg.nr_vcpus);
	if (l.end > rom_len || rom_gpa + l.rsdp < RSDP_SCAN_START ||
	    rom_gpa + l.rsdp + sizeof(*rsdp) > RSDP_SCAN_END)
		return false;
	memset(rom, 0, l.end);

	facs = (struct acpi_facs *)(rom + l.facs);
	memcpy(facs->signature, "FACS", 4);
	facs->length = sizeof(*facs);
	facs->version = 1;

	dsdt = (struct acpi_header *)(rom + l.dsdt);
	acpi_header_fill(dsdt, "DSDT", sizeof(*dsdt) + sizeof(dsdt_aml), 1);
	memcpy(dsdt + 1, dsdt_aml, sizeof(dsdt_aml));
	acpi_header_seal(dsdt);

	build_fadt(rom, rom_gpa, &l);
	build_madt(rom, &l, d->cfg.nr_vcpus);
	build_sdts(rom, rom_gpa, &l);

	rsdp = (struct acpi_rsdp *)(rom + l.rsdp);
	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, ACPI_OEM_ID, 6);
	rsdp->revision = 2;
	rsdp->rsdt_address = (uint32_t)(rom_gpa + l.rsdt);
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt_address = rom_gpa + l.xsdt;
	rsdp->checksum = (uint8_t)-acpi_sum(rsdp, 20);
	rsdp->extended_checksum = (uint8_t)-acpi_sum(rsdp, sizeof(*rsdp));

	return pc_acpi_verify(rom, rom_gpa, rom_len);
}
