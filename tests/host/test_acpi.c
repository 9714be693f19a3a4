// SPDX-License-Identifier: MIT
/*
 * The ACPI parser (arch/x86/acpi.c) on synthetic tables: the MADT's CPUs
 * (xAPIC and x2APIC entries, disabled and online-capable ones, IDs above
 * 255 and with holes, more than PLATFORM_MAX_CPUS), the SRAT's nodes and
 * the SLIT's distances (two and eight nodes), the FADT's reset register,
 * and the malformed SRAT and SLIT each reported in one line.
 *
 * Physical memory is img[] from 0: the RSDP at 1 (the loader's copy is
 * handed over too), the XSDT at 0x100, then the tables. With a directory
 * as argv[1], each image is also written there as a seed for fuzz_acpi
 * (byte 0: the RSDP length, and "fix the checksums").
 */
#include <stdio.h>
#include <string.h>

#include "arch/x86/acpi.h"
#include "tests/host/check.h"

#define IMG_BYTES (128u << 10)
#define XSDT_AT 0x100u
#define FIRST_TABLE 0x400u

static uint8_t img[IMG_BYTES];
static uint32_t img_end;   /* where the next table goes */
static uint32_t nr_tables; /* in the XSDT */
static const char *seed_dir;
static char err[256];

const void *acpi_map(uint64_t pa, uint64_t len)
{
	return pa <= IMG_BYTES && len <= IMG_BYTES - pa ? img + pa : NULL;
}

static void put32(uint32_t at, uint32_t v)
{
	memcpy(img + at, &v, 4);
}

static void put64(uint32_t at, uint64_t v)
{
	memcpy(img + at, &v, 8);
}

static void checksum(uint32_t at, uint32_t len, uint32_t sum_at)
{
	uint8_t s = 0;

	img[sum_at] = 0;
	for (uint32_t i = 0; i < len; i++)
		s += img[at + i];
	img[sum_at] = (uint8_t)-s;
}

/* A fresh image: a v2 RSDP at 1 and an empty XSDT. */
static void img_reset(void)
{
	memset(img, 0, sizeof(img));
	memcpy(img + 1, "RSD PTR ", 8);
	img[1 + 15] = 2;
	put32(1 + 20, 36);
	put64(1 + 24, XSDT_AT);
	checksum(1, 20, 1 + 8);
	checksum(1, 36, 1 + 32);
	img_end = FIRST_TABLE;
	nr_tables = 0;
}

/* Open a table of sig at img_end; returns its offset. */
static uint32_t table_begin(const char *sig)
{
	uint32_t at = img_end;

	memcpy(img + at, sig, 4);
	img[at + 8] = 1;
	img_end = at + 36;
	return at;
}

/* Close it (length, checksum) and list it in the XSDT. */
static void table_end(uint32_t at)
{
	uint32_t len = img_end - at;

	put32(at + 4, len);
	checksum(at, len, at + 9);
	put64(XSDT_AT + 36 + nr_tables * 8, at);
	nr_tables++;
	memcpy(img + XSDT_AT, "XSDT", 4);
	put32(XSDT_AT + 4, 36 + nr_tables * 8);
	checksum(XSDT_AT, 36 + nr_tables * 8, XSDT_AT + 9);
	img_end = (img_end + 15) & ~15u;
}

static void put_bytes(const void *p, uint32_t n)
{
	memcpy(img + img_end, p, n);
	img_end += n;
}

static uint32_t madt_begin(void)
{
	uint32_t at = table_begin("APIC");

	put_bytes((uint32_t[2]){ 0xfee00000, 1 }, 8);
	return at;
}

static void madt_lapic(uint8_t apic_id, uint32_t flags)
{
	uint8_t e[8] = { 0, 8, apic_id, apic_id };

	memcpy(e + 4, &flags, 4);
	put_bytes(e, 8);
}

static void madt_x2apic(uint32_t id, uint32_t flags)
{
	uint8_t e[16] = { 9, 16 };

	memcpy(e + 4, &id, 4);
	memcpy(e + 8, &flags, 4);
	memcpy(e + 12, &id, 4);
	put_bytes(e, 16);
}

static uint32_t srat_begin(void)
{
	uint32_t at = table_begin("SRAT");

	put_bytes((uint8_t[12]){ 1 }, 12);
	return at;
}

static void srat_lapic(uint8_t apic_id, uint32_t domain, uint32_t flags)
{
	uint8_t e[16] = { 0, 16, (uint8_t)domain, apic_id };

	memcpy(e + 4, &flags, 4);
	e[9] = (uint8_t)(domain >> 8), e[10] = (uint8_t)(domain >> 16), e[11] = (uint8_t)(domain >> 24);
	put_bytes(e, 16);
}

static void srat_x2apic(uint32_t id, uint32_t domain, uint32_t flags)
{
	uint8_t e[24] = { 2, 24 };

	memcpy(e + 4, &domain, 4);
	memcpy(e + 8, &id, 4);
	memcpy(e + 12, &flags, 4);
	put_bytes(e, 24);
}

static void srat_memory(uint32_t domain, uint64_t base, uint64_t len, uint32_t flags)
{
	uint8_t e[40] = { 1, 40 };

	memcpy(e + 2, &domain, 4);
	memcpy(e + 8, &base, 8);
	memcpy(e + 16, &len, 8);
	memcpy(e + 28, &flags, 4);
	put_bytes(e, 40);
}

/* A SLIT over n domains: 10 on the diagonal, 10 + 10 * |a - b| elsewhere. */
static void slit(uint64_t n, uint64_t count_says)
{
	uint32_t at = table_begin("SLIT");

	put_bytes(&count_says, 8);
	for (uint64_t a = 0; a < n; a++)
		for (uint64_t b = 0; b < n; b++)
			img[img_end++] = (uint8_t)(10 + 10 * (a > b ? a - b : b - a));
	table_end(at);
}

static bool parse(const char *seed)
{
	memset(&acpi, 0, sizeof(acpi));
	err[0] = 0;
	if (seed_dir) {
		char path[512];
		FILE *f;
		uint8_t flags = 36 | 0x80;

		snprintf(path, sizeof(path), "%s/%s", seed_dir, seed);
		f = fopen(path, "wb");
		if (f) {
			fwrite(&flags, 1, 1, f);
			fwrite(img + 1, 1, img_end - 1, f);
			fclose(f);
		}
	}
	return acpi_init(img + 1, 36, err, sizeof(err));
}

static void test_madt_mixed(void)
{
	uint32_t at;

	img_reset();
	at = madt_begin();
	madt_lapic(0, 1);
	madt_lapic(1, 0);     /* disabled */
	madt_lapic(2, 2);     /* online-capable, not enabled: not a CPU now */
	madt_lapic(3, 1);
	madt_x2apic(3, 1);    /* the same CPU again, as x2APIC */
	madt_x2apic(300, 1);  /* above 255 */
	madt_x2apic(301, 0);
	table_end(at);
	CHECK(parse("madt-mixed"));
	CHECK_EQ_U(acpi.nr_cpus, 3);
	CHECK(acpi.cpu_apic_id[0] == 0 && acpi.cpu_apic_id[1] == 3 && acpi.cpu_apic_id[2] == 300);
	CHECK(!acpi.srat_found && acpi.nr_nodes == 0 && !acpi.srat_problem);
}

static void test_madt_x2apic_1024(void)
{
	uint32_t at;

	img_reset();
	at = madt_begin();
	for (uint32_t i = 0; i < PLATFORM_MAX_CPUS + 6; i++)
		madt_x2apic(i * 2 + 1000, 1); /* holes: every other ID */
	table_end(at);
	CHECK(parse("madt-x2apic-1024"));
	CHECK_EQ_U(acpi.nr_cpus, PLATFORM_MAX_CPUS);
	CHECK_EQ_U(acpi.nr_cpus_ignored, 6);
	CHECK_EQ_U(acpi.cpu_apic_id[PLATFORM_MAX_CPUS - 1], (PLATFORM_MAX_CPUS - 1) * 2 + 1000);
}

/* Two nodes as QEMU builds them: CPUs 0-1 and 2-3, memory below and above 256 MiB. */
static void test_two_nodes(void)
{
	uint32_t at;

	img_reset();
	at = madt_begin();
	for (uint8_t i = 0; i < 4; i++)
		madt_lapic(i, 1);
	table_end(at);
	at = srat_begin();
	for (uint8_t i = 0; i < 4; i++)
		srat_lapic(i, i / 2, 1);
	srat_memory(0, 0, 0xa0000, 1);
	srat_memory(0, 0x100000, 0xff00000, 1);
	srat_memory(1, 0x10000000, 0x10000000, 1);
	srat_memory(1, 0x20000000, 0x10000000, 2); /* hot-pluggable, not enabled */
	table_end(at);
	slit(2, 2);
	CHECK(parse("srat-two-nodes"));
	CHECK(acpi.srat_found && acpi.slit_found && !acpi.srat_problem);
	CHECK_EQ_U(acpi.nr_nodes, 2);
	CHECK(acpi.cpu_node[0] == 0 && acpi.cpu_node[1] == 0 && acpi.cpu_node[2] == 1 &&
	      acpi.cpu_node[3] == 1);
	CHECK_EQ_U(acpi.nr_numa_ranges, 3);
	CHECK(acpi.numa_range[2].base == 0x10000000 && acpi.numa_range[2].node == 1);
	CHECK(acpi.distance[0][0] == 10 && acpi.distance[0][1] == 20 && acpi.distance[1][0] == 20);
}

/* Eight nodes by x2APIC affinity, domains 10..17 out of order, 2 CPUs each. */
static void test_eight_nodes(void)
{
	uint32_t at;

	img_reset();
	at = madt_begin();
	for (uint32_t i = 0; i < 16; i++)
		madt_x2apic(0x100 + i, 1);
	table_end(at);
	at = srat_begin();
	for (uint32_t i = 0; i < 16; i++)
		srat_x2apic(0x100 + i, 17 - i / 2, 1);
	for (uint32_t d = 0; d < 8; d++)
		srat_memory(10 + d, (uint64_t)d << 30, 1ull << 30, 1);
	table_end(at);
	slit(18, 18);
	CHECK(parse("srat-eight-nodes"));
	CHECK_EQ_U(acpi.nr_nodes, 8);
	for (unsigned int n = 0; n < 8; n++)
		CHECK_EQ_U(acpi.node_domain[n], 10 + n);
	CHECK_EQ_U(acpi.cpu_node[0], 7); /* APIC ID 0x100 is in domain 17 */
	CHECK_EQ_U(acpi.cpu_node[15], 0);
	CHECK_EQ_U(acpi.numa_range[3].node, 3);
	CHECK_EQ_U(acpi.distance[0][7], 80); /* domains 10 and 17 */
	CHECK_EQ_U(acpi.distance[3][3], 10);
}

static void test_too_many_domains(void)
{
	uint32_t at;

	img_reset();
	at = madt_begin();
	madt_lapic(0, 1);
	table_end(at);
	at = srat_begin();
	for (uint32_t d = 0; d < ACPI_MAX_NODES + 3; d++)
		srat_memory(d, (uint64_t)d << 28, 1ull << 28, 1);
	srat_lapic(0, ACPI_MAX_NODES + 2, 1); /* in a domain that did not fit: node 0 */
	table_end(at);
	CHECK(parse("srat-too-many-domains"));
	CHECK_EQ_U(acpi.nr_nodes, ACPI_MAX_NODES);
	CHECK_EQ_U(acpi.numa_ignored, 4);
	CHECK_EQ_U(acpi.cpu_node[0], 0);
	CHECK(!acpi.slit_found);
}

static void test_malformed(void)
{
	uint32_t at;

	/* An entry longer than what is left of its table. */
	img_reset();
	at = madt_begin();
	madt_lapic(0, 1);
	table_end(at);
	at = srat_begin();
	srat_lapic(0, 1, 1);
	put_bytes((uint8_t[4]){ 1, 200 }, 4);
	table_end(at);
	CHECK(parse("srat-entry-past-end"));
	CHECK(acpi.srat_problem && strstr(acpi.srat_problem, "runs past its table"));
	CHECK_EQ_U(acpi.nr_nodes, 1);

	/* An MADT entry whose length runs past the table: the CPUs before it count. */
	img_reset();
	at = madt_begin();
	madt_lapic(0, 1);
	madt_lapic(1, 1);
	put_bytes((uint8_t[4]){ 0, 40 }, 4);
	table_end(at);
	CHECK(parse("madt-entry-past-end"));
	CHECK_EQ_U(acpi.nr_cpus, 2);
	CHECK(acpi.madt_problem && strstr(acpi.madt_problem, "runs past its table"));

	/* A memory range that wraps. */
	img_reset();
	at = srat_begin();
	srat_memory(0, ~0ull - 4095, 8192, 1);
	table_end(at);
	CHECK(parse("srat-wrap"));
	CHECK(acpi.srat_problem && strstr(acpi.srat_problem, "wraps"));
	CHECK_EQ_U(acpi.nr_numa_ranges, 0);

	/* A SLIT whose count asks for more bytes than it has. */
	img_reset();
	at = srat_begin();
	srat_memory(0, 0, 1 << 20, 1);
	srat_memory(1, 1 << 20, 1 << 20, 1);
	table_end(at);
	slit(2, 3);
	CHECK(parse("slit-short"));
	CHECK(acpi.srat_problem && strstr(acpi.srat_problem, "SLIT's locality count"));
	CHECK(!acpi.slit_found && acpi.distance[0][1] == 0);
	CHECK_EQ_U(acpi.nr_nodes, 2);
}

static void test_fadt_reset(void)
{
	uint32_t at;

	img_reset();
	at = table_begin("FACP");
	img_end = at + 244;
	put32(at + 112, 1u << 10); /* RESET_REG_SUP */
	img[at + 116] = 1;         /* system I/O */
	img[at + 117] = 8;
	put64(at + 120, 0xcf9);
	img[at + 128] = 6;
	table_end(at);
	CHECK(parse("fadt-reset"));
	CHECK(acpi.has_reset && acpi.reset_space == 1 && acpi.reset_addr == 0xcf9 &&
	      acpi.reset_value == 6);

	put32(at + 112, 0); /* no RESET_REG_SUP: the register is not offered */
	checksum(at, 244, at + 9);
	CHECK(parse("fadt-no-reset"));
	CHECK(!acpi.has_reset);
}

int main(int argc, char **argv)
{
	seed_dir = argc > 1 ? argv[1] : NULL;
	RUN_TEST(test_madt_mixed);
	RUN_TEST(test_madt_x2apic_1024);
	RUN_TEST(test_two_nodes);
	RUN_TEST(test_eight_nodes);
	RUN_TEST(test_too_many_domains);
	RUN_TEST(test_malformed);
	RUN_TEST(test_fadt_reset);
	return check_summary("test_acpi");
}
