// SPDX-License-Identifier: MIT
/*
 * The multiboot loader (virt/loader.h). One pass finds the header, one
 * loads the kernel's segments (ELF program headers or the a.out address
 * fields), one places the modules after the kernel, page aligned, and one
 * writes the boot information into [info_base, info_end):
 *
 *   multiboot v1: struct at info_base, then its module list, memory map,
 *                 strings (the spec's "Boot information format")
 *   multiboot2:   a tag list at info_base, 8-byte aligned tags
 *
 * Sizes and offsets from the image are 32-bit or 64-bit numbers an
 * attacker chose: every sum is checked for overflow before it is compared.
 */
#include "lib/printf.h"
#include "lib/string.h"
#include "virt/loader.h"

#define MB1_HEADER_MAGIC 0x1badb002u
#define MB1_SEARCH 8192
#define MB1_PAGE_ALIGN (1u << 0)
#define MB1_MEMORY_INFO (1u << 1)
#define MB1_VIDEO_MODE (1u << 2)
#define MB1_AOUT_KLUDGE (1u << 16)
#define MB1_KNOWN (MB1_PAGE_ALIGN | MB1_MEMORY_INFO | MB1_VIDEO_MODE | MB1_AOUT_KLUDGE)

#define MB2_HEADER_MAGIC 0xe85250d6u
#define MB2_SEARCH 32768
#define MB2_TAG_OPTIONAL 1u

#define PAGE 4096ull
#define FAIL(...)                                           \
	do {                                                \
		fmt_snprintf(err, err_len, __VA_ARGS__);    \
		return LOADER_BAD;                          \
	} while (0)

/* What the multiboot header asks; filled by the header parsers. */
struct mb_request {
	unsigned int version;       /* 1 or 2 */
	size_t header_off;
	bool has_address;           /* a.out kludge / multiboot2 address tag */
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr;
	bool has_entry;
	uint32_t entry_addr;
	unsigned int wants;         /* multiboot2: bitmap of requested information tags */
};

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Is [gpa, gpa + len) inside high RAM? (len may be 0; no overflow.) */
static bool in_high_ram(const struct loader_target *t, uint64_t gpa, uint64_t len)
{
	return gpa >= t->high_start && gpa <= t->ram_end && len <= t->ram_end - gpa;
}

static enum loader_status find_mb1(const struct loader_input *in, struct mb_request *rq,
				   char *err, size_t err_len)
{
	size_t limit = in->image_len < MB1_SEARCH ? in->image_len : MB1_SEARCH;

	for (size_t off = 0; off + 12 <= limit; off += 4) {
		const uint8_t *h = in->image + off;
		uint32_t flags = rd32(h + 4);

		if (rd32(h) != MB1_HEADER_MAGIC)
			continue;
		if ((uint32_t)(rd32(h) + flags + rd32(h + 8)) != 0)
			FAIL("its multiboot header (offset 0x%zx) has a bad checksum", off);
		if (flags & 0xffff & ~MB1_KNOWN)
			FAIL("its multiboot header requires features 0x%x (flags bits 3-15) that no loader defines",
			     flags & 0xffff & ~MB1_KNOWN);
		*rq = (struct mb_request){ .version = 1, .header_off = off };
		if (flags & MB1_AOUT_KLUDGE) {
			if (off + 32 > in->image_len)
				FAIL("its multiboot header sets flag 16 but the image ends before the address fields");
			rq->has_address = rq->has_entry = true;
			rq->header_addr = rd32(h + 12);
			rq->load_addr = rd32(h + 16);
			rq->load_end_addr = rd32(h + 20);
			rq->bss_end_addr = rd32(h + 24);
			rq->entry_addr = rd32(h + 28);
		}
		return LOADER_OK;
	}
	return LOADER_NOT_MULTIBOOT;
}

/* The information tags a multiboot2 kernel may ask for, and which we give. */
#define MB2_INFO_CMDLINE 1
#define MB2_INFO_LOADER 2
#define MB2_INFO_MODULE 3
#define MB2_INFO_MEMINFO 4
#define MB2_INFO_MMAP 6
#define MB2_INFO_ACPI_OLD 14
#define MB2_INFO_ACPI_NEW 15
#define MB2_GIVEN ((1u << MB2_INFO_CMDLINE) | (1u << MB2_INFO_LOADER) | (1u << MB2_INFO_MODULE) | \
		   (1u << MB2_INFO_MEMINFO) | (1u << MB2_INFO_MMAP) | (1u << MB2_INFO_ACPI_OLD) | \
		   (1u << MB2_INFO_ACPI_NEW))

static enum loader_status parse_mb2_tags(const struct loader_input *in, size_t off, uint32_t len,
					 struct mb_request *rq, char *err, size_t err_len)
{
	size_t pos = off + 16, end = off + len;

	for (;;) {
		const uint8_t *tag = in->image + pos;
		uint16_t type, tflags;
		uint32_t size;

		if (pos + 8 > end)
			FAIL("its multiboot2 header has no end tag within its %u bytes", len);
		type = rd16(tag);
		tflags = rd16(tag + 2);
		size = rd32(tag + 4);
		if (size < 8 || size > end - pos)
			FAIL("its multiboot2 header tag %u at offset 0x%zx has size %u, which overruns the header",
			     type, pos, size);
		switch (type) {
		case 0:
			return LOADER_OK;
		case 1: /* information request */
			for (uint32_t i = 8; i + 4 <= size; i += 4) {
				uint32_t want = rd32(tag + i);

				if (want < 32 && (MB2_GIVEN & (1u << want)))
					continue;
				if (!(tflags & MB2_TAG_OPTIONAL))
					FAIL("its multiboot2 header requires information tag %u, which mmuvisor's loader does not provide (it gives 1-4, 6, 14, 15)",
					     want);
			}
			break;
		case 2: /* address */
			if (size < 24)
				FAIL("its multiboot2 address tag is %u bytes, not 24", size);
			rq->has_address = true;
			rq->header_addr = rd32(tag + 8);
			rq->load_addr = rd32(tag + 12);
			rq->load_end_addr = rd32(tag + 16);
			rq->bss_end_addr = rd32(tag + 20);
			break;
		case 3: /* entry address (i386) */
			if (size < 12)
				FAIL("its multiboot2 entry tag is %u bytes, not 12", size);
			rq->has_entry = true;
			rq->entry_addr = rd32(tag + 8);
			break;
		case 4:  /* console flags: there is a serial console, no display */
		case 5:  /* framebuffer: text mode, as GRUB without a display */
		case 6:  /* module alignment: modules are page aligned anyway */
		case 10: /* relocatable: we load at the preferred address */
			break;
		default:
			if (!(tflags & MB2_TAG_OPTIONAL))
				FAIL("its multiboot2 header requires tag type %u (%s), which mmuvisor's loader does not support",
				     type, type == 7 ? "EFI boot services" : type == 8 || type == 9
				     ? "an EFI entry point" : "unknown");
			break;
		}
		pos += (size + 7) & ~7u;
	}
}

static enum loader_status find_mb2(const struct loader_input *in, struct mb_request *rq,
				   char *err, size_t err_len)
{
	size_t limit = in->image_len < MB2_SEARCH ? in->image_len : MB2_SEARCH;

	for (size_t off = 0; off + 16 <= limit; off += 8) {
		const uint8_t *h = in->image + off;
		uint32_t arch = rd32(h + 4), len = rd32(h + 8);

		if (rd32(h) != MB2_HEADER_MAGIC)
			continue;
		if ((uint32_t)(rd32(h) + arch + len + rd32(h + 12)) != 0)
			FAIL("its multiboot2 header (offset 0x%zx) has a bad checksum", off);
		if (arch != 0)
			FAIL("its multiboot2 header is for architecture %u, not i386 (0)", arch);
		if (len < 24 || len > in->image_len - off)
			FAIL("its multiboot2 header claims %u bytes, but the image has %zu from it",
			     len, in->image_len - off);
		*rq = (struct mb_request){ .version = 2, .header_off = off };
		return parse_mb2_tags(in, off, len, rq, err, err_len);
	}
	return LOADER_NOT_MULTIBOOT;
}

/* Load one segment: filesz bytes from the image at file_off, zeros to memsz. */
static enum loader_status load_segment(const struct loader_input *in, const struct loader_target *t,
				       uint64_t paddr, uint64_t file_off, uint64_t filesz,
				       uint64_t memsz, unsigned int n, struct loader_result *out,
				       char *err, size_t err_len)
{
	if (filesz > memsz)
		FAIL("segment %u has %lu bytes in the file but only %lu in memory", n,
		     (unsigned long)filesz, (unsigned long)memsz);
	if (file_off > in->image_len || filesz > in->image_len - file_off)
		FAIL("segment %u's %lu bytes at file offset 0x%lx lie beyond the image's end (%zu bytes)",
		     n, (unsigned long)filesz, (unsigned long)file_off, in->image_len);
	if (!in_high_ram(t, paddr, memsz))
		FAIL("segment %u (0x%lx, %lu bytes) lies outside guest RAM (0x%lx-0x%lx); give the VM more mem= or link the kernel there",
		     n, (unsigned long)paddr, (unsigned long)memsz, (unsigned long)t->high_start,
		     (unsigned long)t->ram_end);
	if (!t->write(t->ctx, paddr, in->image + file_off, filesz) ||
	    !t->write(t->ctx, paddr + filesz, NULL, memsz - filesz))
		FAIL("segment %u could not be written to guest memory", n);
	if (!out->kernel_end || paddr < out->kernel_start)
		out->kernel_start = paddr;
	if (paddr + memsz > out->kernel_end)
		out->kernel_end = paddr + memsz;
	return LOADER_OK;
}

/*
 * ELF32 (EM_386) or ELF64 (EM_X86_64) executables: each PT_LOAD at its
 * physical address. The entry point is virtual; where a segment's virtual
 * and physical addresses differ, it is moved as GRUB does.
 */
static enum loader_status load_elf(const struct loader_input *in, const struct loader_target *t,
				   struct loader_result *out, char *err, size_t err_len)
{
	const uint8_t *e = in->image;
	bool is64;
	uint64_t entry, phoff;
	unsigned int phentsize, phnum;
	bool entry_found = false;

	if (in->image_len < 52 || memcmp(e, "\x7f" "ELF", 4))
		FAIL("it is not ELF and its multiboot header gives no load addresses");
	if (e[4] != 1 && e[4] != 2)
		FAIL("its ELF class %u is neither ELF32 nor ELF64", e[4]);
	is64 = e[4] == 2;
	if (e[5] != 1)
		FAIL("it is a big-endian ELF");
	if (is64 && in->image_len < 64)
		FAIL("its ELF64 header is cut short");
	if (rd16(e + 16) != 2)
		FAIL("it is an ELF of type %u, not an executable (2)", rd16(e + 16));
	if (rd16(e + 18) != (is64 ? 62 : 3))
		FAIL("it is an ELF%s for machine %u, not %s", is64 ? "64" : "32", rd16(e + 18),
		     is64 ? "x86-64 (62)" : "i386 (3)");
	entry = is64 ? rd64(e + 24) : rd32(e + 24);
	phoff = is64 ? rd64(e + 32) : rd32(e + 28);
	phentsize = rd16(e + (is64 ? 54 : 42));
	phnum = rd16(e + (is64 ? 56 : 44));
	if (phentsize < (is64 ? 56u : 32u))
		FAIL("its program headers are %u bytes each, too small", phentsize);
	if (phoff > in->image_len || (uint64_t)phnum * phentsize > in->image_len - phoff)
		FAIL("its %u program headers at 0x%lx lie beyond the image's end", phnum,
		     (unsigned long)phoff);
	out->format = in->image[4] == 2 ? "ELF64" : "ELF32";
	for (unsigned int i = 0; i < phnum; i++) {
		const uint8_t *ph = e + phoff + (uint64_t)i * phentsize;
		uint64_t off, vaddr, paddr, filesz, memsz;
		enum loader_status s;

		if (rd32(ph) != 1 /* PT_LOAD */)
			continue;
		off = is64 ? rd64(ph + 8) : rd32(ph + 4);
		vaddr = is64 ? rd64(ph + 16) : rd32(ph + 8);
		paddr = is64 ? rd64(ph + 24) : rd32(ph + 12);
		filesz = is64 ? rd64(ph + 32) : rd32(ph + 16);
		memsz = is64 ? rd64(ph + 40) : rd32(ph + 20);
		if (!memsz)
			continue;
		s = load_segment(in, t, paddr, off, filesz, memsz, i, out, err, err_len);
		if (s != LOADER_OK)
			return s;
		if (!entry_found && entry >= vaddr && entry - vaddr < memsz) {
			entry = entry - vaddr + paddr;
			entry_found = true;
		}
	}
	if (!out->kernel_end)
		FAIL("its ELF has no loadable segment");
	if (!entry_found)
		FAIL("its entry point 0x%lx lies in none of its loaded segments", (unsigned long)entry);
	if (entry > UINT32_MAX)
		FAIL("its entry point 0x%lx is above 4 GiB: a 32-bit entry cannot reach it",
		     (unsigned long)entry);
	out->entry = (uint32_t)entry;
	return LOADER_OK;
}

/* The a.out kludge (v1 flag 16) or multiboot2's address tag: one range from the file. */
static enum loader_status load_address_fields(const struct loader_input *in,
					      const struct loader_target *t,
					      const struct mb_request *rq,
					      struct loader_result *out, char *err, size_t err_len)
{
	uint64_t load_end = rq->load_end_addr, bss_end = rq->bss_end_addr, file_off, filesz;

	if (rq->header_addr < rq->load_addr || rq->header_addr - rq->load_addr > rq->header_off)
		FAIL("its header address 0x%x and load address 0x%x put the load before the file's start",
		     rq->header_addr, rq->load_addr);
	file_off = rq->header_off - (rq->header_addr - rq->load_addr);
	if (!load_end)
		load_end = rq->load_addr + (in->image_len - file_off);
	if (load_end < rq->load_addr)
		FAIL("its load end 0x%lx is below its load address 0x%x", (unsigned long)load_end,
		     rq->load_addr);
	filesz = load_end - rq->load_addr;
	if (!bss_end)
		bss_end = load_end;
	if (bss_end < load_end)
		FAIL("its bss end 0x%lx is below its load end 0x%lx", (unsigned long)bss_end,
		     (unsigned long)load_end);
	out->format = "a.out kludge";
	if (load_segment(in, t, rq->load_addr, file_off, filesz, bss_end - rq->load_addr, 0, out,
			 err, err_len) != LOADER_OK)
		return LOADER_BAD;
	if (!rq->has_entry)
		FAIL("its multiboot2 header gives load addresses but no entry address tag");
	if (rq->entry_addr < out->kernel_start || rq->entry_addr >= out->kernel_end)
		FAIL("its entry address 0x%x lies outside what it loads (0x%lx-0x%lx)",
		     rq->entry_addr, (unsigned long)out->kernel_start,
		     (unsigned long)out->kernel_end);
	out->entry = rq->entry_addr;
	return LOADER_OK;
}

/* Modules after the kernel, each on its own page, as GRUB places them. */
static enum loader_status place_modules(const struct loader_input *in,
					const struct loader_target *t, uint64_t *mod_start,
					char *err, size_t err_len, uint64_t kernel_end)
{
	uint64_t at = align_up(kernel_end, PAGE);

	for (unsigned int i = 0; i < in->nr_modules; i++) {
		const struct loader_module *m = &in->modules[i];

		if (!in_high_ram(t, at, m->len) || m->len > UINT32_MAX)
			FAIL("module %u ('%s', %zu bytes) does not fit in guest RAM after the kernel; give the VM more mem=",
			     i + 1, m->cmdline, m->len);
		if (!t->write(t->ctx, at, m->start, m->len))
			FAIL("module %u could not be written to guest memory", i + 1);
		mod_start[i] = at;
		at = align_up(at + m->len, PAGE);
	}
	return LOADER_OK;
}

/* A bump allocator over [info_base, info_end) for the boot information. */
struct info_writer {
	const struct loader_target *t;
	uint64_t next;
	bool full;
};

static uint64_t info_put(struct info_writer *w, const void *src, size_t len, uint64_t align)
{
	uint64_t at = align_up(w->next, align);

	if (at > w->t->info_end || len > w->t->info_end - at || !w->t->write(w->t->ctx, at, src, len)) {
		w->full = true;
		return 0;
	}
	w->next = at + len;
	return at;
}

static uint64_t info_str(struct info_writer *w, const char *s)
{
	return info_put(w, s, strlen(s) + 1, 1);
}

/* The PC memory map: low RAM, the ROM area reserved, RAM from high_start. */
struct mmap_entry {
	uint64_t base, len;
	uint32_t type;
};

static unsigned int memory_map(const struct loader_target *t, struct mmap_entry m[3])
{
	m[0] = (struct mmap_entry){ 0, t->low_end, 1 };
	m[1] = (struct mmap_entry){ t->rom_base, t->rom_end - t->rom_base, 2 };
	m[2] = (struct mmap_entry){ t->high_start, t->ram_end - t->high_start, 1 };
	return 3;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (unsigned int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t mem_upper_kib(const struct loader_target *t)
{
	uint64_t kib = (t->ram_end - t->high_start) >> 10;

	return kib > 0xffffffffu - 1024 ? 0xffffffffu - 1024 : (uint32_t)kib;
}

/* Multiboot v1's information structure (the spec's offsets 0-88). */
static bool write_mb1_info(const struct loader_input *in, const struct loader_target *t,
			   const uint64_t *mod_start, uint32_t *info)
{
	struct info_writer w = { .t = t, .next = t->info_base };
	uint8_t mbi[116] = { 0 }, mods[PC_LOADER_MAX_MODULES * 16], mm[3 * 24];
	struct mmap_entry m[3];
	unsigned int n = memory_map(t, m);
	uint64_t at = info_put(&w, mbi, sizeof(mbi), 8), cmdline, name, mods_at = 0, mm_at;

	for (unsigned int i = 0; i < in->nr_modules; i++) {
		put32(mods + 16 * i, (uint32_t)mod_start[i]);
		put32(mods + 16 * i + 4, (uint32_t)(mod_start[i] + in->modules[i].len));
		put32(mods + 16 * i + 8, (uint32_t)info_str(&w, in->modules[i].cmdline));
		put32(mods + 16 * i + 12, 0);
	}
	if (in->nr_modules)
		mods_at = info_put(&w, mods, 16 * in->nr_modules, 16);
	for (unsigned int i = 0; i < n; i++) {
		put32(mm + 24 * i, 20); /* size of what follows */
		put64(mm + 24 * i + 4, m[i].base);
		put64(mm + 24 * i + 12, m[i].len);
		put32(mm + 24 * i + 20, m[i].type);
	}
	mm_at = info_put(&w, mm, 24 * n, 8);
	cmdline = info_str(&w, in->cmdline);
	name = info_str(&w, "mmuvisor");
	if (w.full)
		return false;
	put32(mbi, (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
	put32(mbi + 4, (uint32_t)(t->low_end >> 10));
	put32(mbi + 8, mem_upper_kib(t));
	put32(mbi + 16, (uint32_t)cmdline);
	put32(mbi + 20, in->nr_modules);
	put32(mbi + 24, (uint32_t)mods_at);
	put32(mbi + 44, 24 * n);
	put32(mbi + 48, (uint32_t)mm_at);
	put32(mbi + 64, (uint32_t)name);
	*info = (uint32_t)at;
	return t->write(t->ctx, at, mbi, sizeof(mbi));
}

/* One multiboot2 tag: header then payload, 8-byte aligned. */
static void mb2_tag(struct info_writer *w, uint32_t type, const void *a, size_t alen,
		    const void *b, size_t blen)
{
	uint8_t hdr[8];

	put32(hdr, type);
	put32(hdr + 4, (uint32_t)(8 + alen + blen));
	info_put(w, hdr, 8, 8);
	if (alen)
		info_put(w, a, alen, 1);
	if (blen)
		info_put(w, b, blen, 1);
}

static bool write_mb2_info(const struct loader_input *in, const struct loader_target *t,
			   const uint64_t *mod_start, uint32_t *info)
{
	struct info_writer w = { .t = t, .next = t->info_base };
	uint8_t head[8] = { 0 }, meminfo[8], mm[8 + 3 * 24] = { 0 };
	struct mmap_entry m[3];
	unsigned int n = memory_map(t, m);
	uint64_t at = info_put(&w, head, 8, 8);

	mb2_tag(&w, MB2_INFO_CMDLINE, in->cmdline, strlen(in->cmdline) + 1, NULL, 0);
	mb2_tag(&w, MB2_INFO_LOADER, "mmuvisor", 9, NULL, 0);
	for (unsigned int i = 0; i < in->nr_modules; i++) {
		uint8_t range[8];

		put32(range, (uint32_t)mod_start[i]);
		put32(range + 4, (uint32_t)(mod_start[i] + in->modules[i].len));
		mb2_tag(&w, MB2_INFO_MODULE, range, 8, in->modules[i].cmdline,
			strlen(in->modules[i].cmdline) + 1);
	}
	put32(meminfo, (uint32_t)(t->low_end >> 10));
	put32(meminfo + 4, mem_upper_kib(t));
	mb2_tag(&w, MB2_INFO_MEMINFO, meminfo, 8, NULL, 0);
	put32(mm, 24);    /* entry size */
	put32(mm + 4, 0); /* entry version */
	for (unsigned int i = 0; i < n; i++) {
		put64(mm + 8 + 24 * i, m[i].base);
		put64(mm + 8 + 24 * i + 8, m[i].len);
		put32(mm + 8 + 24 * i + 16, m[i].type);
	}
	mb2_tag(&w, MB2_INFO_MMAP, mm, 8 + 24 * n, NULL, 0);
	if (t->rsdp) {
		mb2_tag(&w, MB2_INFO_ACPI_OLD, t->rsdp, 20, NULL, 0);
		mb2_tag(&w, MB2_INFO_ACPI_NEW, t->rsdp, 36, NULL, 0);
	}
	mb2_tag(&w, 0, NULL, 0, NULL, 0);
	if (w.full)
		return false;
	put32(head, (uint32_t)(w.next - at)); /* total size */
	*info = (uint32_t)at;
	return t->write(t->ctx, at, head, 8);
}

unsigned int loader_multiboot_version(const uint8_t *image, size_t len)
{
	struct loader_input in = { .image = image, .image_len = len };
	struct mb_request rq;
	char err[8];
	size_t err_len = sizeof(err);

	if (find_mb2(&in, &rq, err, err_len) != LOADER_NOT_MULTIBOOT)
		return 2;
	return find_mb1(&in, &rq, err, err_len) != LOADER_NOT_MULTIBOOT ? 1 : 0;
}

enum loader_status loader_load(const struct loader_input *in, const struct loader_target *t,
			       struct loader_result *out, char *err, size_t err_len)
{
	struct mb_request rq;
	uint64_t mod_start[PC_LOADER_MAX_MODULES];
	enum loader_status s;
	bool ok;

	*out = (struct loader_result){ 0 };
	if (in->nr_modules > PC_LOADER_MAX_MODULES)
		FAIL("%u modules; at most %u", in->nr_modules, PC_LOADER_MAX_MODULES);
	s = find_mb2(in, &rq, err, err_len);
	if (s == LOADER_NOT_MULTIBOOT)
		s = find_mb1(in, &rq, err, err_len);
	if (s == LOADER_NOT_MULTIBOOT) /* a bzImage has no multiboot header */
		return loader_linux_load(in, t, out, err, err_len);
	if (s != LOADER_OK)
		return s;
	s = rq.has_address ? load_address_fields(in, t, &rq, out, err, err_len)
			   : load_elf(in, t, out, err, err_len);
	if (s != LOADER_OK)
		return s;
	if (rq.version == 2 && rq.has_entry) {
		if (rq.entry_addr < out->kernel_start || rq.entry_addr >= out->kernel_end)
			FAIL("its entry address 0x%x lies outside what it loads (0x%lx-0x%lx)",
			     rq.entry_addr, (unsigned long)out->kernel_start,
			     (unsigned long)out->kernel_end);
		out->entry = rq.entry_addr;
	}
	if (place_modules(in, t, mod_start, err, err_len, out->kernel_end) != LOADER_OK)
		return LOADER_BAD;
	ok = rq.version == 1 ? write_mb1_info(in, t, mod_start, &out->info)
			     : write_mb2_info(in, t, mod_start, &out->info);
	if (!ok)
		FAIL("the boot information (command line, module names) does not fit in %lu bytes",
		     (unsigned long)(t->info_end - t->info_base));
	out->magic = rq.version == 1 ? MB1_BOOTLOADER_MAGIC : MB2_BOOTLOADER_MAGIC;
	out->format = rq.version == 1 ? (rq.has_address ? "multiboot a.out kludge"
				       : out->format[3] == '6' ? "multiboot ELF64" : "multiboot ELF32")
			: (rq.has_address ? "multiboot2 address tag"
			   : out->format[3] == '6' ? "multiboot2 ELF64" : "multiboot2 ELF32");
	return LOADER_OK;
}
