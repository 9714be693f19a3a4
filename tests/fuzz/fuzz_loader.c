// SPDX-License-Identifier: MIT
/*
 * libFuzzer: the kernel loader (virt/loader.c, virt/loader_linux.c) on
 * any bytes as the kernel image, with 0-2 modules and a command line cut
 * from the front of the input, against a PC-shaped target whose guest
 * RAM is a host buffer. The bug oracle is the write callback: every byte
 * the loader writes must land in RAM it may use (the boot information
 * area, or RAM from 1 MiB up to ram_end), never in the ROM or the hole.
 * On success the boot information (multiboot's, or a bzImage's zero page)
 * is read back and checked against what the kernel was given.
 *
 * Input: byte 0 selects the layout, then the lengths it asks for, then
 * the command line and module bytes, then the image (the rest):
 *   bits 0-1  number of modules (3 counts as 0), each a u16 length
 *   bit 2     a command line, a u8 length
 *   bit 3     an RSDP (multiboot2 tags 14 and 15)
 *   bits 4-5  RAM: 64 MiB, 64 MiB less 1 byte, 2 MiB, 1 MiB + 4 KiB
 *   bit 6     a boot information area of 256 bytes instead of 0x88000
 * A raw kernel behind one zero byte is a seed (tests/fuzz/corpus-loader/).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "virt/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_BYTES (64ull << 20)
#define LOW_END 0x9fc00ull /* virt/pc.h: 639 KiB, a PC's firmware keeps the last one (EBDA) */
#define HIGH_START 0x100000ull
#define INFO_BASE 0x8000ull
#define INFO_END 0x90000ull
#define ROM_BASE 0xe0000ull
#define ROM_END 0x100000ull
#define PAGE 4096ull

static uint8_t *ram; /* RAM_BYTES, mapped once: pages are touched only where written */

struct fake_guest {
	const struct loader_target *t;
	unsigned int writes;
};

/* Is [gpa, gpa + len) inside [lo, hi)? (No overflow.) */
static bool range_in(uint64_t gpa, uint64_t len, uint64_t lo, uint64_t hi)
{
	return gpa >= lo && gpa <= hi && len <= hi - gpa;
}

static bool fake_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	struct fake_guest *g = ctx;
	const struct loader_target *t = g->t;

	g->writes++;
	if (!range_in(gpa, len, 0, RAM_BYTES))
		abort(); /* outside the host buffer */
	if (!range_in(gpa, len, t->info_base, t->info_end) &&
	    !range_in(gpa, len, t->high_start, t->ram_end))
		abort(); /* outside the RAM the loader may write: the ROM, the hole, past ram_end */
	if (src) {
		memcpy(ram + gpa, src, len); /* ASan checks the source */
	} else if (len) {
		/* A bss may be 64 MiB: zero its ends only, where an off-by-one would show. */
		size_t edge = len < 64 ? len : 64;

		memset(ram + gpa, 0, edge);
		memset(ram + gpa + len - edge, 0, edge);
	}
	return true;
}

static uint32_t ld32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, ram + gpa, 4);
	return v;
}

/* A NUL-terminated string in the information area equal to want. */
static void check_string(const struct loader_target *t, uint64_t gpa, const char *want)
{
	size_t n = strlen(want) + 1;

	if (!range_in(gpa, n, t->info_base, t->info_end) || memcmp(ram + gpa, want, n))
		abort();
}

/* A module range [start, end) the boot information names: page aligned, after the kernel, its bytes. */
static void check_module(const struct loader_target *t, const struct loader_result *r,
			 const struct loader_module *m, uint64_t start, uint64_t end,
			 uint64_t *prev_end)
{
	if (start % PAGE || end - start != m->len || start < r->kernel_end || start < *prev_end ||
	    !range_in(start, m->len, t->high_start, t->ram_end) ||
	    memcmp(ram + start, m->start, m->len))
		abort();
	*prev_end = end;
}

static void check_mb1_info(const struct loader_input *in, const struct loader_target *t,
			   const struct loader_result *r)
{
	uint64_t mods, prev_end = 0;

	if (!range_in(r->info, 116, t->info_base, t->info_end))
		abort();
	check_string(t, ld32(r->info + 16), in->cmdline);
	if (ld32(r->info + 20) != in->nr_modules)
		abort();
	mods = ld32(r->info + 24);
	for (unsigned int i = 0; i < in->nr_modules; i++) {
		uint64_t e = mods + 16 * i;

		if (!range_in(e, 16, t->info_base, t->info_end))
			abort();
		check_module(t, r, &in->modules[i], ld32(e), ld32(e + 4), &prev_end);
		check_string(t, ld32(e + 8), in->modules[i].cmdline);
	}
	if (!range_in(ld32(r->info + 48), ld32(r->info + 44), t->info_base, t->info_end))
		abort();
}

static void check_mb2_info(const struct loader_input *in, const struct loader_target *t,
			   const struct loader_result *r)
{
	uint64_t at = r->info + 8, end, prev_end = 0;
	unsigned int mod = 0;
	bool cmdline = false, mmap = false;

	if (r->info % 8 || !range_in(r->info, 8, t->info_base, t->info_end))
		abort();
	end = r->info + ld32(r->info);
	if (!range_in(r->info, end - r->info, t->info_base, t->info_end))
		abort();
	for (;;) {
		uint32_t type, tsize;

		if (at + 8 > end)
			abort(); /* no end tag */
		type = ld32(at);
		tsize = ld32(at + 4);
		if (tsize < 8 || tsize > end - at)
			abort();
		if (type == 0)
			break;
		if (type == 1) {
			check_string(t, at + 8, in->cmdline);
			cmdline = true;
		} else if (type == 3) {
			if (mod >= in->nr_modules)
				abort();
			check_module(t, r, &in->modules[mod], ld32(at + 8), ld32(at + 12),
				     &prev_end);
			check_string(t, at + 16, in->modules[mod].cmdline);
			mod++;
		} else if (type == 6) {
			mmap = ld32(at + 8) == 24 && tsize == 16 + 3 * 24;
		}
		at += (tsize + 7) & ~7u;
	}
	if (!cmdline || !mmap || mod != in->nr_modules)
		abort();
}

/*
 * A Linux bzImage's: the entry at the kernel's start, the zero page and
 * its GDT in the information area, the command line there, the initrd
 * (the modules, 4-byte aligned) after the kernel.
 */
static void check_linux(const struct loader_input *in, const struct loader_target *t,
			const struct loader_result *r)
{
	uint64_t zp = r->esi, rd, rd_len, at;

	if (r->entry != r->kernel_start || r->magic || r->info || r->cs != 0x10 || r->ds != 0x18 ||
	    !range_in(zp, 4096, t->info_base, t->info_end) ||
	    !range_in(r->gdt_base, r->gdt_limit + 1u, t->info_base, t->info_end) ||
	    ld32(zp + 0x214) != r->entry)
		abort();
	rd = ld32(zp + 0x218);
	rd_len = ld32(zp + 0x21c);
	/* The arguments as given; none: the loader's default (the console on COM1). */
	check_string(t, ld32(zp + 0x228), in->cmdline[0] ? in->cmdline : LINUX_DEFAULT_CMDLINE);
	if (rd != r->initrd_start || rd + rd_len != r->initrd_end || (rd_len && !rd) ||
	    (rd_len && (rd % PAGE || rd < r->kernel_end ||
			!range_in(rd, rd_len, t->high_start, t->ram_end))))
		abort();
	at = rd;
	for (unsigned int i = 0; i < in->nr_modules; i++) {
		at = (at + 3) & ~3ull;
		if (memcmp(ram + at, in->modules[i].start, in->modules[i].len))
			abort();
		at += in->modules[i].len;
	}
	if (at != rd + rd_len)
		abort();
}

/* What a successful load promises: a sane entry, magic and boot information. */
static void check_loaded(const struct loader_input *in, const struct loader_target *t,
			 const struct loader_result *r)
{
	bool v2 = r->magic == MB2_BOOTLOADER_MAGIC;

	if (r->linux_boot) {
		if (r->kernel_start >= r->kernel_end ||
		    !range_in(r->kernel_start, r->kernel_end - r->kernel_start, t->high_start,
			      t->ram_end))
			abort();
		check_linux(in, t, r);
		return;
	}

	if (!r->format || (r->magic != MB1_BOOTLOADER_MAGIC && !v2) ||
	    v2 != !strncmp(r->format, "multiboot2 ", 11))
		abort();
	if (r->kernel_start >= r->kernel_end ||
	    !range_in(r->kernel_start, r->kernel_end - r->kernel_start, t->high_start, t->ram_end))
		abort();
	/* The vCPU would start outside what was loaded (found here: a multiboot2 ELF's entry tag). */
	if (r->entry < r->kernel_start || r->entry >= r->kernel_end)
		abort();
	if (v2)
		check_mb2_info(in, t, r);
	else
		check_mb1_info(in, t, r);
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees one byte too far */

	memcpy(copy, p, n);
	return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t ram_ends[4] = { RAM_BYTES, RAM_BYTES - 1, 2ull << 20,
					      HIGH_START + PAGE };
	static const char *const names[2] = { "mod1 with args", "" };
	static uint8_t rsdp[36] = "RSD PTR ";
	struct loader_module mods[2];
	struct loader_input in = { .modules = mods };
	struct loader_result r;
	struct fake_guest g = { 0 };
	struct loader_target t = {
		.low_end = LOW_END,
		.high_start = HIGH_START,
		.info_base = INFO_BASE,
		.info_end = INFO_END,
		.rom_base = ROM_BASE,
		.rom_end = ROM_END,
		.write = fake_write,
		.ctx = &g,
	};
	size_t pos = 1, lens[2] = { 0, 0 }, cmdline_len = 0;
	uint8_t ctl, *image;
	char err[200], *cmdline;
	enum loader_status s;
	unsigned int version;
	bool bzimage;

	if (!ram) {
		ram = mmap(NULL, RAM_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			   0);
		if (ram == MAP_FAILED)
			abort();
	}
	if (size < 1)
		return 0;
	ctl = data[0];
	in.nr_modules = (ctl & 3) == 3 ? 0 : ctl & 3;
	for (unsigned int i = 0; i < in.nr_modules && pos + 2 <= size; i++, pos += 2)
		lens[i] = (size_t)(data[pos] | data[pos + 1] << 8);
	if ((ctl & 4) && pos < size)
		cmdline_len = data[pos++];
	t.rsdp = ctl & 8 ? rsdp : NULL;
	t.ram_end = ram_ends[(ctl >> 4) & 3];
	if (ctl & 64)
		t.info_end = INFO_BASE + 256;
	g.t = &t;

	if (cmdline_len > size - pos)
		cmdline_len = size - pos;
	cmdline = malloc(cmdline_len + 1);
	memcpy(cmdline, data + pos, cmdline_len);
	cmdline[cmdline_len] = '\0';
	pos += cmdline_len;
	in.cmdline = cmdline;
	for (unsigned int i = 0; i < in.nr_modules; i++) {
		if (lens[i] > size - pos)
			lens[i] = size - pos;
		mods[i] =
			(struct loader_module){ dup_bytes(data + pos, lens[i]), lens[i], names[i] };
		pos += lens[i];
	}
	image = dup_bytes(data + pos, size - pos);
	in.image = image;
	in.image_len = size - pos;

	memset(err, 0x5a, sizeof(err));
	s = loader_load(&in, &t, &r, err, sizeof(err));
	if (s == LOADER_OK)
		check_loaded(&in, &t, &r);
	else if (s == LOADER_BAD && (!memchr(err, 0, sizeof(err)) || !err[0]))
		abort(); /* a refusal must say why */
	else if (s == LOADER_NOT_MULTIBOOT && g.writes)
		abort(); /* "not multiboot" is decided before anything is written */
	/* scenario=guest asks this first: it must agree with loader_load(). */
	version = loader_multiboot_version(in.image, in.image_len);
	bzimage = in.image_len >= 0x208 && !memcmp(in.image + 0x202, "HdrS", 4);
	if ((version == 0 && !bzimage) != (s == LOADER_NOT_MULTIBOOT) ||
	    (s == LOADER_OK && r.linux_boot != (version == 0)) ||
	    (s == LOADER_OK && version && version != (r.magic == MB2_BOOTLOADER_MAGIC ? 2u : 1u)))
		abort();

	free(image);
	for (unsigned int i = 0; i < in.nr_modules; i++)
		free((void *)mods[i].start);
	free(cmdline);
	return 0;
}
