// SPDX-License-Identifier: MIT
// fwcfg: QEMU's fw_cfg (signature, ID, CPU counts, RAM size, file directory,
// etc/e820) and the ACPI tables (RSDP, RSDT, MADT, FACP and its PM timer).
// Paging stays off, so ACPI tables are read at their physical addresses.
#include "lib.h"

const char test_name[] = "fwcfg";

#define E820_RAM 1

static uint8_t checksum(const void *p, uint32_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;
	while (len--)
		sum += *b++;
	return sum;
}

static uint32_t le32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision, creator_id, creator_revision;
} __attribute__((packed));

static const uint8_t *find_rsdp(void)
{
	for (uint32_t a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp((const void *)a, "RSD PTR ", 8))
			return (const uint8_t *)a;
	return NULL;
}

static unsigned nb_cpus;

static void check_fw_cfg(void)
{
	char sig[5] = {0};
	fw_cfg_select(FW_CFG_SIGNATURE);
	fw_cfg_read(sig, 4);
	if (!check(!memcmp(sig, "QEMU", 4), "signature QEMU"))
		finish();

	// Bit 0: the traditional interface; bit 1 (DMA) differs between platforms.
	say("traditional=%u", (unsigned)(fw_cfg_read_le(FW_CFG_ID, 4) & 1));
	nb_cpus = (unsigned)fw_cfg_read_le(FW_CFG_NB_CPUS, 2);
	say("nb_cpus=%u", nb_cpus);
	say("max_cpus=%u", (unsigned)fw_cfg_read_le(FW_CFG_MAX_CPUS, 2));
	say("ram_size=%u MiB", (unsigned)(fw_cfg_read_le(FW_CFG_RAM_SIZE, 8) >> 20));

	uint8_t count_be[4];
	fw_cfg_select(FW_CFG_FILE_DIR);
	fw_cfg_read(count_be, 4);
	check(count_be[0] | count_be[1] | count_be[2] | count_be[3], "file directory not empty");

	uint16_t sel;
	uint32_t size;
	if (!check(fw_cfg_find_file("etc/e820", &sel, &size), "etc/e820 present"))
		return;
	// Entries are { u64 address; u64 length; u32 type; }, little-endian.
	check(size % 20 == 0 && size > 0, "etc/e820 size is a multiple of 20");
	uint64_t ram = 0;
	fw_cfg_select(sel);
	for (uint32_t off = 0; off + 20 <= size; off += 20) {
		uint8_t e[20];
		fw_cfg_read(e, 20);
		uint64_t len = le32(e + 8) | (uint64_t)le32(e + 12) << 32;
		if (le32(e + 16) == E820_RAM)
			ram += len;
	}
	say("e820 ram=%u MiB", (unsigned)(ram >> 20));
}

static void check_madt(const struct acpi_header *h)
{
	// After the header: u32 local APIC address, u32 flags, then entries { u8 type; u8 length; ... }.
	const uint8_t *p = (const uint8_t *)h + sizeof(*h) + 8, *end = (const uint8_t *)h + h->length;
	unsigned lapics = 0, ioapics = 0, bad = 0;
	while (p + 2 <= end) {
		if (p[1] < 2 || p + p[1] > end) {
			bad = 1;
			break;
		}
		if (p[0] == 0 && p[1] >= 8 && (le32(p + 4) & 1))
			lapics++;
		if (p[0] == 1)
			ioapics++;
		p += p[1];
	}
	check(!bad, "madt entries well formed");
	say("madt enabled lapics=%u ioapics=%u", lapics, ioapics);
	check(lapics == nb_cpus, "madt lapic count equals nb_cpus");
}

static void check_pm_timer(const struct acpi_header *h)
{
	if (h->length < 80) {
		fail("facp too short for pm_tmr_blk");
		return;
	}
	uint32_t port = le32((const uint8_t *)h + 76);
	if (!check(port != 0 && port < 0x10000, "pm timer present"))
		return;
	// A 24-bit counter at 3.579545 MHz; wait for it to move, then require a
	// small forward step modulo 2^24 (a wrap is allowed).
	uint32_t first = inl((uint16_t)port) & 0xffffff, now = first;
	for (uint32_t i = 0; i < 10000000 && now == first; i++)
		now = inl((uint16_t)port) & 0xffffff;
	uint32_t delta = (now - first) & 0xffffff;
	check(delta != 0 && delta < 0x800000, "pm timer runs");
}

static void check_acpi(void)
{
	const uint8_t *rsdp = find_rsdp();
	if (!check(rsdp && checksum(rsdp, 20) == 0, "rsdp"))
		return;
	const struct acpi_header *rsdt = (const void *)le32(rsdp + 16);
	if (!check(!memcmp(rsdt->signature, "RSDT", 4) && checksum(rsdt, rsdt->length) == 0, "rsdt"))
		return;
	// Found first and checked after, so the output does not follow table order.
	const struct acpi_header *madt = NULL, *facp = NULL;
	unsigned n = (rsdt->length - sizeof(*rsdt)) / 4, bad = 0, madts = 0, facps = 0;
	const uint8_t *entries = (const uint8_t *)rsdt + sizeof(*rsdt);
	for (unsigned i = 0; i < n; i++) {
		const struct acpi_header *h = (const void *)le32(entries + 4 * i);
		if (checksum(h, h->length) != 0) {
			bad++;
			continue;
		}
		if (!memcmp(h->signature, "APIC", 4)) {
			madts++;
			madt = h;
		} else if (!memcmp(h->signature, "FACP", 4)) {
			facps++;
			facp = h;
		}
	}
	check(bad == 0, "table checksums");
	check(madts == 1, "one madt");
	check(facps == 1, "one facp");
	if (madt)
		check_madt(madt);
	if (facp)
		check_pm_timer(facp);
}

void test_main(uint32_t mbi)
{
	(void)mbi;
	check_fw_cfg();
	check_acpi();
}
