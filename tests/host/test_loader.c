// SPDX-License-Identifier: MIT
/*
 * The kernel loader's Linux boot protocol (virt/loader_linux.c) on a
 * synthetic bzImage: a 2-sector setup with a protocol 2.15 header and a
 * patterned protected-mode part, loaded into a PC-shaped target whose
 * guest RAM is a host buffer. Checks where the kernel, the zero page, the
 * command line, the GDT and the initrd land and what the zero page says;
 * and that an old protocol, a zImage, a kernel or initrd too big for RAM
 * and a command line too long are refused with a line saying why. Every
 * truncation of the image must be refused or loaded without a stray access
 * (ASan).
 */
#include <stdint.h>
#include <sys/mman.h>

#include "tests/host/check.h"
#include "virt/loader.h"

#define RAM_MAX (64ull << 20)
#define LOW_END 0x9fc00ull
#define HIGH_START 0x100000ull
#define INFO_BASE 0x8000ull
#define INFO_END 0x90000ull
#define ROM_BASE 0xe0000ull
#define ROM_END 0x100000ull
#define MiB (1ull << 20)

#define SETUP_BYTES (2 * 512) /* setup_sects = 1: the boot sector and one more */
#define PAYLOAD_BYTES 8192
#define IMAGE_BYTES (SETUP_BYTES + PAYLOAD_BYTES)

static uint8_t *ram;

struct fake {
	struct loader_target t;
	unsigned int writes, stray;
};

static bool range_in(uint64_t gpa, uint64_t len, uint64_t lo, uint64_t hi)
{
	return gpa >= lo && gpa <= hi && len <= hi - gpa;
}

static bool fake_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	struct fake *f = ctx;

	f->writes++;
	if (!range_in(gpa, len, f->t.info_base, f->t.info_end) &&
	    !range_in(gpa, len, f->t.high_start, f->t.ram_end)) {
		f->stray++; /* the ROM, the hole, or past the end of RAM */
		return false;
	}
	if (src)
		memcpy(ram + gpa, src, len);
	else
		memset(ram + gpa, 0, len);
	return true;
}

static const uint8_t rsdp[36] = "RSD PTR ";

static void fake_init(struct fake *f, uint64_t ram_end)
{
	memset(ram + INFO_BASE, 0xcc, INFO_END - INFO_BASE); /* what the loader leaves alone shows */
	*f = (struct fake){ .t = {
		.low_end = LOW_END, .high_start = HIGH_START, .ram_end = ram_end,
		.info_base = INFO_BASE, .info_end = INFO_END,
		.rom_base = ROM_BASE, .rom_end = ROM_END,
		.write = fake_write, .rsdp = rsdp, .rsdp_gpa = 0xf0010,
	} };
	f->t.ctx = f;
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint8_t ld8(uint64_t gpa)
{
	return ram[gpa];
}

static uint16_t ld16(uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, ram + gpa, 2);
	return v;
}

static uint32_t ld32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, ram + gpa, 4);
	return v;
}

static uint64_t ld64(uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, ram + gpa, 8);
	return v;
}

/* A relocatable protocol-2.15 bzImage preferring 16 MiB, 8 MiB to decompress in. */
static void make_bzimage(uint8_t img[IMAGE_BYTES])
{
	memset(img, 0, IMAGE_BYTES);
	img[0x1f1] = 1;                    /* setup_sects */
	put16(img + 0x1fe, 0xaa55);        /* boot_flag */
	img[0x200] = 0xeb;                 /* jmp short over the header ... */
	img[0x201] = 0x268 - 0x202;        /* ... which ends at 0x268 */
	memcpy(img + 0x202, "HdrS", 4);
	put16(img + 0x206, 0x020f);
	img[0x211] = 0x01;                 /* loadflags: LOADED_HIGH */
	put32(img + 0x214, 0x100000);      /* code32_start */
	put32(img + 0x22c, 0x7fffffff);    /* initrd_addr_max */
	put32(img + 0x230, 0x200000);      /* kernel_alignment */
	img[0x234] = 1;                    /* relocatable_kernel */
	put16(img + 0x236, 0x7f);          /* xloadflags */
	put32(img + 0x238, 2047);          /* cmdline_size */
	put64(img + 0x258, 16 * MiB);      /* pref_address */
	put32(img + 0x260, 8 * MiB);       /* init_size */
	for (unsigned int i = 0; i < PAYLOAD_BYTES; i++)
		img[SETUP_BYTES + i] = (uint8_t)(i * 7 + 1);
}

static uint8_t initrd[3 * 4096 + 5], initrd2[100];

static enum loader_status load(struct fake *f, const uint8_t *img, size_t len,
			       const char *args, unsigned int nr_modules,
			       struct loader_result *r, char *err, size_t err_len)
{
	struct loader_module mods[2] = {
		{ initrd, sizeof(initrd), "linux.1" },
		{ initrd2, sizeof(initrd2), "linux.2" },
	};
	struct loader_input in = { .image = img, .image_len = len,
				   .cmdline = args ? "linux ignored-name-args" : "linux",
				   .args = args, .modules = mods, .nr_modules = nr_modules };

	err[0] = '\0';
	return loader_load(&in, &f->t, r, err, err_len);
}

static void test_load_at_pref_address(void)
{
	static uint8_t img[IMAGE_BYTES];
	struct loader_result r;
	struct fake f;
	char err[200];
	uint64_t zp, rd, e820;

	make_bzimage(img);
	for (unsigned int i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	fake_init(&f, RAM_MAX);
	CHECK_EQ_U(load(&f, img, sizeof(img), "console=ttyS0 quiet", 1, &r, err, sizeof(err)),
		   LOADER_OK);
	CHECK_EQ_U(f.stray, 0);
	CHECK(r.linux_boot);
	CHECK_STR_CONTAINS(r.format, "Linux");
	CHECK_EQ_U(r.linux_protocol, 0x020f);
	/* The 32-bit entry: EIP the load address, ESI the zero page, EAX = EBX = 0. */
	CHECK_EQ_U(r.entry, 16 * MiB);
	CHECK_EQ_U(r.kernel_start, 16 * MiB);
	CHECK_EQ_U(r.kernel_end, 16 * MiB + PAYLOAD_BYTES);
	CHECK_EQ_U(r.magic, 0);
	CHECK_EQ_U(r.info, 0);
	CHECK(!memcmp(ram + 16 * MiB, img + SETUP_BYTES, PAYLOAD_BYTES));
	zp = r.esi;
	CHECK_EQ_U(zp, INFO_BASE);
	/* The GDT: flat code at 0x10, flat data at 0x18. */
	CHECK_EQ_U(r.cs, 0x10);
	CHECK_EQ_U(r.ds, 0x18);
	CHECK_EQ_U(r.gdt_limit, 31);
	CHECK(range_in(r.gdt_base, 32, INFO_BASE, INFO_END));
	CHECK_EQ_U(ld64(r.gdt_base + 0x10), 0x00cf9b000000ffffull);
	CHECK_EQ_U(ld64(r.gdt_base + 0x18), 0x00cf93000000ffffull);
	CHECK_EQ_U(ld64(r.gdt_base), 0);
	/* The zero page: the header copied, then the loader's fields. */
	CHECK(!memcmp(ram + zp + 0x202, "HdrS", 4));
	CHECK_EQ_U(ld16(zp + 0x206), 0x020f);
	CHECK_EQ_U(ld8(zp + 0x1ef), 0); /* sentinel */
	CHECK_EQ_U(ld8(zp + 0x210), 0xff);
	CHECK_EQ_U(ld8(zp + 0x211) & 0x01, 0x01);
	CHECK_EQ_U(ld8(zp + 0x211) & 0xc0, 0);
	CHECK_EQ_U(ld32(zp + 0x214), 16 * MiB);
	CHECK_EQ_U(ld32(zp + 0x230), 0x200000);
	CHECK_EQ_U(ld32(zp + 0x260), 8 * MiB);
	CHECK_EQ_U(ld8(zp + 0x268), 0); /* past the header: zero, not 0xcc */
	CHECK_EQ_U(ld64(zp + 0x070), 0xf0010);
	/* The command line: the arguments alone. */
	CHECK(range_in(ld32(zp + 0x228), 20, INFO_BASE, INFO_END));
	CHECK(!strcmp((const char *)ram + ld32(zp + 0x228), "console=ttyS0 quiet"));
	CHECK_EQ_U(ld32(zp + 0xc8), 0);
	/* e820: low RAM, the EBDA, the ROM area, RAM from 1 MiB. */
	CHECK_EQ_U(ld8(zp + 0x1e8), 4);
	e820 = zp + 0x2d0;
	CHECK_EQ_U(ld64(e820 + 0), 0);
	CHECK_EQ_U(ld64(e820 + 8), LOW_END);
	CHECK_EQ_U(ld32(e820 + 16), 1);
	CHECK_EQ_U(ld64(e820 + 20), LOW_END);
	CHECK_EQ_U(ld64(e820 + 28), 0xa0000 - LOW_END);
	CHECK_EQ_U(ld32(e820 + 36), 2);
	CHECK_EQ_U(ld64(e820 + 40), ROM_BASE);
	CHECK_EQ_U(ld64(e820 + 48), ROM_END - ROM_BASE);
	CHECK_EQ_U(ld32(e820 + 56), 2);
	CHECK_EQ_U(ld64(e820 + 60), HIGH_START);
	CHECK_EQ_U(ld64(e820 + 68), RAM_MAX - HIGH_START);
	CHECK_EQ_U(ld32(e820 + 76), 1);
	CHECK_EQ_U(ld32(zp + 0x1e0), (RAM_MAX - HIGH_START) >> 10);
	/* The initrd: at the top of RAM, page aligned, its bytes. */
	rd = ld32(zp + 0x218);
	CHECK_EQ_U(ld32(zp + 0x21c), sizeof(initrd));
	CHECK_EQ_U(rd % 4096, 0);
	CHECK(rd + sizeof(initrd) <= RAM_MAX && rd + sizeof(initrd) + 4096 > RAM_MAX);
	CHECK(rd >= 24 * MiB);
	CHECK(!memcmp(ram + rd, initrd, sizeof(initrd)));
	CHECK_EQ_U(r.initrd_start, rd);
	CHECK_EQ_U(r.initrd_end, rd + sizeof(initrd));
	CHECK_EQ_U(ld32(zp + 0xc0), 0);
}

static void test_fixed_kernel_at_1mib(void)
{
	static uint8_t img[IMAGE_BYTES];
	struct loader_result r;
	struct fake f;
	char err[200];

	make_bzimage(img);
	img[0x234] = 0; /* not relocatable: 1 MiB, it moves itself to pref_address */
	fake_init(&f, RAM_MAX);
	CHECK_EQ_U(load(&f, img, sizeof(img), "", 0, &r, err, sizeof(err)), LOADER_OK);
	CHECK_EQ_U(r.entry, HIGH_START);
	CHECK_EQ_U(ld32(r.esi + 0x214), HIGH_START);
	CHECK(!memcmp(ram + HIGH_START, img + SETUP_BYTES, PAYLOAD_BYTES));
	CHECK_EQ_U(ld32(r.esi + 0x218), 0); /* no modules, no initrd */
	CHECK_EQ_U(ld32(r.esi + 0x21c), 0);
	/* No guest_args: the default command line, the console on COM1. */
	CHECK(!strcmp((const char *)ram + ld32(r.esi + 0x228), "console=ttyS0"));
}

static void test_initrd_below_initrd_addr_max(void)
{
	static uint8_t img[IMAGE_BYTES];
	struct loader_result r;
	struct fake f;
	char err[200];
	uint64_t rd, len = ((sizeof(initrd) + 3) & ~3ul) + sizeof(initrd2);

	make_bzimage(img);
	put32(img + 0x22c, 32 * MiB - 1);
	memset(initrd2, 0x77, sizeof(initrd2));
	fake_init(&f, RAM_MAX);
	memset(ram + 31 * MiB, 0xcc, MiB);
	CHECK_EQ_U(load(&f, img, sizeof(img), "x", 2, &r, err, sizeof(err)), LOADER_OK);
	rd = ld32(r.esi + 0x218);
	/* Both modules, the second 4-byte aligned after the first: GRUB's `initrd a b`. */
	CHECK_EQ_U(ld32(r.esi + 0x21c), len);
	CHECK(rd + len <= 32 * MiB && rd + len + 4096 > 32 * MiB);
	CHECK(!memcmp(ram + rd, initrd, sizeof(initrd)));
	CHECK_EQ_U(ld8(rd + sizeof(initrd)), 0); /* padding */
	CHECK(!memcmp(ram + rd + len - sizeof(initrd2), initrd2, sizeof(initrd2)));
}

static void test_refusals(void)
{
	static uint8_t img[IMAGE_BYTES];
	struct loader_result r;
	struct fake f;
	char err[200], longline[3000];

	make_bzimage(img);
	put16(img + 0x206, 0x0209);
	fake_init(&f, RAM_MAX);
	CHECK_EQ_U(load(&f, img, sizeof(img), "", 0, &r, err, sizeof(err)), LOADER_BAD);
	CHECK_STR_CONTAINS(err, "boot protocol 2.09");
	CHECK_STR_CONTAINS(err, "2.10 or later");
	CHECK_EQ_U(f.writes, 0);

	make_bzimage(img);
	img[0x211] = 0; /* a zImage */
	fake_init(&f, RAM_MAX);
	CHECK_EQ_U(load(&f, img, sizeof(img), "", 0, &r, err, sizeof(err)), LOADER_BAD);
	CHECK_STR_CONTAINS(err, "zImage");

	/* 16 MiB + 8 MiB to decompress in: 20 MiB of RAM is too little. */
	make_bzimage(img);
	fake_init(&f, 20 * MiB);
	CHECK_EQ_U(load(&f, img, sizeof(img), "", 0, &r, err, sizeof(err)), LOADER_BAD);
	CHECK_STR_CONTAINS(err, "needs RAM up to 0x1800000");
	CHECK_STR_CONTAINS(err, "more mem=");
	CHECK_EQ_U(f.writes, 0);

	/* 24 MiB for the kernel, 12 KiB of initrd: 24 MiB + 8 KiB of RAM is too little. */
	fake_init(&f, 24 * MiB + 8192);
	CHECK_EQ_U(load(&f, img, sizeof(img), "", 1, &r, err, sizeof(err)), LOADER_BAD);
	CHECK_STR_CONTAINS(err, "initrd");
	CHECK_EQ_U(f.stray, 0);
	fake_init(&f, 24 * MiB + 4 * 4096);
	CHECK_EQ_U(load(&f, img, sizeof(img), "", 1, &r, err, sizeof(err)), LOADER_OK);
	CHECK_EQ_U(ld32(r.esi + 0x218), 24 * MiB);

	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	fake_init(&f, RAM_MAX);
	CHECK_EQ_U(load(&f, img, sizeof(img), longline, 0, &r, err, sizeof(err)), LOADER_BAD);
	CHECK_STR_CONTAINS(err, "cmdline_size 2047");

	make_bzimage(img);
	put32(img + 0x230, 0x300000); /* not a power of two */
	fake_init(&f, RAM_MAX);
	CHECK_EQ_U(load(&f, img, sizeof(img), "", 0, &r, err, sizeof(err)), LOADER_BAD);
	CHECK_STR_CONTAINS(err, "kernel_alignment");
}

static void test_not_a_kernel(void)
{
	static uint8_t img[IMAGE_BYTES];
	struct loader_result r;
	struct fake f;
	char err[200];

	make_bzimage(img);
	memcpy(img + 0x202, "HdrZ", 4);
	fake_init(&f, RAM_MAX);
	CHECK_EQ_U(load(&f, img, sizeof(img), "", 0, &r, err, sizeof(err)), LOADER_NOT_MULTIBOOT);
	CHECK_EQ_U(f.writes, 0);
	CHECK_EQ_U(loader_multiboot_version(img, sizeof(img)), 0);
}

/* Every truncation: refused with a reason, or loaded, never a stray write (ASan: no stray read). */
static void test_truncations(void)
{
	static uint8_t img[IMAGE_BYTES];
	struct loader_result r;
	struct fake f;
	char err[200];

	make_bzimage(img);
	for (size_t len = 0; len <= SETUP_BYTES + 16; len++) {
		uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees one byte too far */
		enum loader_status s;

		memcpy(copy, img, len);
		fake_init(&f, RAM_MAX);
		s = load(&f, copy, len, "a", 1, &r, err, sizeof(err));
		CHECK_EQ_U(f.stray, 0);
		if (s == LOADER_BAD)
			CHECK(err[0]);
		if (len <= SETUP_BYTES)
			CHECK(s != LOADER_OK);
		else
			CHECK_EQ_U(s, LOADER_OK);
		free(copy);
	}
}

/* The loader appends the TSC's rate as tsc_early_khz=, unless the line has that word. */
static void test_tsc_early_khz(void)
{
	static uint8_t img[IMAGE_BYTES];
	static const struct { const char *args, *want; } cases[] = {
		{ "console=ttyS0 files=20", "console=ttyS0 files=20 tsc_early_khz=2600123" },
		{ "", "console=ttyS0 tsc_early_khz=2600123" }, /* the default line, then it */
		{ "quiet tsc_early_khz=1000", "quiet tsc_early_khz=1000" }, /* the user's wins */
		{ "mytsc_early_khz=5", "mytsc_early_khz=5 tsc_early_khz=2600123" }, /* not the word */
	};
	struct loader_result r;
	struct fake f;
	char err[200];

	make_bzimage(img);
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct loader_input in = { .image = img, .image_len = sizeof(img),
					   .cmdline = "linux", .args = cases[i].args,
					   .tsc_khz = 2600123 };
		const char *got;

		fake_init(&f, RAM_MAX);
		CHECK_EQ_U(loader_load(&in, &f.t, &r, err, sizeof(err)), LOADER_OK);
		got = (const char *)ram + ld32(r.esi + 0x228);
		CHECK_STR_CONTAINS(got, cases[i].want);
		CHECK_EQ_U(strlen(got), strlen(cases[i].want));
	}
}

int main(void)
{
	ram = mmap(NULL, RAM_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		return 1;
	RUN_TEST(test_load_at_pref_address);
	RUN_TEST(test_tsc_early_khz);
	RUN_TEST(test_fixed_kernel_at_1mib);
	RUN_TEST(test_initrd_below_initrd_addr_max);
	RUN_TEST(test_refusals);
	RUN_TEST(test_not_a_kernel);
	RUN_TEST(test_truncations);
	munmap(ram, RAM_MAX);
	return check_summary("test_loader");
}
