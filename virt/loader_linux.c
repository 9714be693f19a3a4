// SPDX-License-Identifier: MIT
/*
 * The Linux x86 boot protocol (Documentation/arch/x86/boot.rst), version
 * 2.10 and later, through its 32-bit entry: the bzImage's protected-mode
 * part goes where the kernel prefers, the zero page (struct boot_params)
 * carries the setup header, the command line, the e820 map and the
 * initrd, and a GDT with the flat __BOOT_CS and __BOOT_DS the protocol
 * asks for is left in the information area. The real-mode setup code
 * never runs: what it would have found out, the zero page says.
 *
 *   bzImage                                  information area (info_base up)
 *   0x000   boot sector (unused)             zero page  4 KiB, page aligned
 *   0x1f1   struct setup_header              GDT        null, null, 0x10 code, 0x18 data
 *   (setup_sects + 1) * 512                  command line
 *           protected-mode kernel: loaded
 *           at pref_address or 1 MiB
 *
 * A bzImage's header offsets are its zero page's: the header is copied to
 * the same place. Every number in it is the image's, checked before use.
 */
#include "lib/printf.h"
#include "lib/string.h"
#include "virt/loader.h"

/* struct setup_header, at the same offsets in the image and the zero page */
#define HDR_START 0x1f1        /* setup_sects: the header's first byte */
#define HDR_SETUP_SECTS 0x1f1  /* u8, 0 means 4 */
#define HDR_BOOT_FLAG 0x1fe    /* u16 0xaa55 */
#define HDR_JUMP_LEN 0x201     /* u8: the header ends at 0x202 + this */
#define HDR_MAGIC 0x202        /* "HdrS" */
#define HDR_VERSION 0x206      /* u16: major << 8 | minor */
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_CODE32_START 0x214
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE 0x234  /* u8 */
#define HDR_CMDLINE_SIZE 0x238
#define HDR_PREF_ADDRESS 0x258 /* u64 */
#define HDR_INIT_SIZE 0x260
#define HDR_MIN_END 0x264      /* what protocol 2.10 defines */
#define HDR_MAX_END 0x290      /* boot_params' edd_mbr_sig_buffer follows */

#define LOADED_HIGH 0x01
#define KEEP_SEGMENTS 0x40
#define CAN_USE_HEAP 0x80

/* struct boot_params, outside the header */
#define BP_EXT_MEM_K 0x002     /* u16, in screen_info */
#define BP_ACPI_RSDP_ADDR 0x070 /* u64 */
#define BP_ALT_MEM_K 0x1e0     /* u32 */
#define BP_E820_ENTRIES 0x1e8  /* u8 */
#define BP_E820_TABLE 0x2d0    /* 20-byte entries: u64 addr, u64 size, u32 type */
#define BP_SIZE 4096

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_MAX 4
#define LOW_MEMORY_END 0xa0000ull /* 640 KiB: the VGA hole from here */

#define GDT_BYTES 32
#define BOOT_CS 0x10
#define BOOT_DS 0x18
#define DEFAULT_LOAD 0x100000ull /* a kernel that cannot move runs from 1 MiB */
#define INITRD_ALIGN 4           /* GRUB's padding between concatenated initrds */

#define PAGE 4096ull
#define FAIL(...)                                           \
	do {                                                \
		fmt_snprintf(err, err_len, __VA_ARGS__);    \
		return LOADER_BAD;                          \
	} while (0)

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void put_le(uint8_t *p, uint64_t v, unsigned int bytes)
{
	for (unsigned int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* What the header says, checked; and where the loader puts things. */
struct bz_layout {
	uint16_t version;
	size_t setup_bytes, hdr_end;
	uint64_t load;          /* the protected-mode kernel, code32_start */
	uint64_t run_end;       /* the end of what it decompresses into */
	uint64_t initrd, initrd_len;
	uint64_t zero_page, gdt, cmdline;
};

/* A bzImage: "HdrS" where the setup header says it, in the image. */
static bool is_bzimage(const struct loader_input *in)
{
	return in->image_len >= HDR_VERSION + 2 && !memcmp(in->image + HDR_MAGIC, "HdrS", 4);
}

static enum loader_status check_header(const struct loader_input *in, struct bz_layout *bz,
				       char *err, size_t err_len)
{
	const uint8_t *img = in->image;
	unsigned int sects;

	bz->version = rd16(img + HDR_VERSION);
	if (bz->version < 0x020a)
		FAIL("it is a Linux kernel with boot protocol %u.%02u; mmuvisor's loader needs 2.10 or later (Linux 2.6.31 on)",
		     bz->version >> 8, bz->version & 0xff);
	if (rd16(img + HDR_BOOT_FLAG) != 0xaa55)
		FAIL("its Linux setup header has boot_flag 0x%x, not 0xaa55", rd16(img + HDR_BOOT_FLAG));
	bz->hdr_end = HDR_MAGIC + (size_t)img[HDR_JUMP_LEN];
	if (bz->hdr_end < HDR_MIN_END || bz->hdr_end > in->image_len)
		FAIL("its Linux setup header ends at 0x%zx, before protocol 2.10's fields (0x%x) or past the image (%zu bytes)",
		     bz->hdr_end, HDR_MIN_END, in->image_len);
	if (bz->hdr_end > HDR_MAX_END)
		bz->hdr_end = HDR_MAX_END; /* newer fields than boot_params knows: not ours */
	if (!(img[HDR_LOADFLAGS] & LOADED_HIGH))
		FAIL("it is a zImage (loaded low, below 640 KiB), not a bzImage");
	sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
	bz->setup_bytes = (size_t)(sects + 1) * 512;
	if (bz->setup_bytes >= in->image_len)
		FAIL("its %zu bytes of setup code leave no protected-mode kernel in its %zu bytes",
		     bz->setup_bytes, in->image_len);
	return LOADER_OK;
}

/*
 * Where the protected-mode kernel goes, and how far it reaches. A
 * relocatable kernel decompresses at its load address aligned up to
 * kernel_alignment but never below LOAD_PHYSICAL_ADDR (pref_address), a
 * fixed one at LOAD_PHYSICAL_ADDR (arch/x86/boot/compressed/head_64.S):
 * init_size bytes from there must be RAM.
 */
static enum loader_status place_kernel(const struct loader_input *in,
				       const struct loader_target *t, struct bz_layout *bz,
				       char *err, size_t err_len)
{
	const uint8_t *img = in->image;
	uint64_t pref = rd64(img + HDR_PREF_ADDRESS), align = rd32(img + HDR_KERNEL_ALIGNMENT);
	uint64_t payload = in->image_len - bz->setup_bytes, need = rd32(img + HDR_INIT_SIZE);
	bool relocatable = img[HDR_RELOCATABLE];
	uint64_t base;

	if (need < payload)
		need = payload;
	if (relocatable && (!align || (align & (align - 1))))
		FAIL("it is a relocatable Linux kernel whose kernel_alignment 0x%lx is not a power of two",
		     (unsigned long)align);
	bz->load = DEFAULT_LOAD;
	if (relocatable && pref >= t->high_start && pref % align == 0 && pref <= t->ram_end &&
	    need <= t->ram_end - pref && pref + need <= 1ull << 32)
		bz->load = pref;
	base = relocatable ? align_up(bz->load, align) : bz->load;
	if (pref > base)
		base = pref;
	if (bz->load < t->high_start || base > t->ram_end || need > t->ram_end - base)
		FAIL("its Linux kernel needs RAM up to 0x%lx (%lu MiB: init_size %lu bytes from 0x%lx), but the VM has %lu MiB; give it more mem=",
		     (unsigned long)(base + need), (unsigned long)((base + need + (1u << 20) - 1) >> 20),
		     (unsigned long)need, (unsigned long)base, (unsigned long)(t->ram_end >> 20));
	bz->run_end = base + need;
	return LOADER_OK;
}

/*
 * The initrd: the modules one after another, each 4-byte aligned as GRUB's
 * `initrd a b` concatenates them (an initramfs is a series of cpio
 * archives), as high as the kernel lets it be, page aligned, above the
 * kernel's decompression area.
 */
static enum loader_status place_initrd(const struct loader_input *in,
				       const struct loader_target *t, struct bz_layout *bz,
				       char *err, size_t err_len)
{
	uint64_t len = 0, top = (uint64_t)rd32(in->image + HDR_INITRD_ADDR_MAX) + 1, at;

	for (unsigned int i = 0; i < in->nr_modules; i++)
		len = align_up(len, INITRD_ALIGN) + in->modules[i].len;
	bz->initrd = bz->initrd_len = 0;
	if (!len)
		return LOADER_OK;
	if (top > t->ram_end)
		top = t->ram_end;
	if (len > UINT32_MAX || len > top || ((top - len) & ~(PAGE - 1)) < bz->run_end)
		FAIL("its initrd (%lu bytes) does not fit between the kernel's end (0x%lx) and 0x%lx (initrd_addr_max or the end of RAM); give the VM more mem=",
		     (unsigned long)len, (unsigned long)bz->run_end, (unsigned long)top);
	bz->initrd = (top - len) & ~(PAGE - 1);
	bz->initrd_len = len;
	at = bz->initrd;
	for (unsigned int i = 0; i < in->nr_modules; i++) {
		uint64_t pad = align_up(at, INITRD_ALIGN) - at;

		if (!t->write(t->ctx, at, NULL, pad) ||
		    !t->write(t->ctx, at + pad, in->modules[i].start, in->modules[i].len))
			FAIL("module %u (the initrd) could not be written to guest memory", i + 1);
		at += pad + in->modules[i].len;
	}
	return LOADER_OK;
}

/* The e820 map: the PC's, as the multiboot memory map gives it, and the EBDA. */
static unsigned int e820_map(const struct loader_target *t, uint8_t table[E820_MAX * 20])
{
	uint64_t m[E820_MAX][3];
	unsigned int n = 0;

	m[n][0] = 0, m[n][1] = t->low_end, m[n++][2] = E820_RAM;
	if (t->low_end < LOW_MEMORY_END)
		m[n][0] = t->low_end, m[n][1] = LOW_MEMORY_END - t->low_end, m[n++][2] = E820_RESERVED;
	m[n][0] = t->rom_base, m[n][1] = t->rom_end - t->rom_base, m[n++][2] = E820_RESERVED;
	m[n][0] = t->high_start, m[n][1] = t->ram_end - t->high_start, m[n++][2] = E820_RAM;
	for (unsigned int i = 0; i < n; i++) {
		put_le(table + 20 * i, m[i][0], 8);
		put_le(table + 20 * i + 8, m[i][1], 8);
		put_le(table + 20 * i + 16, m[i][2], 4);
	}
	return n;
}

/* One field of the zero page, written through the target. */
struct zp_writer {
	const struct loader_target *t;
	uint64_t base;
	bool ok;
};

static void zp_put(struct zp_writer *w, unsigned int off, uint64_t v, unsigned int bytes)
{
	uint8_t b[8];

	put_le(b, v, bytes);
	w->ok = w->ok && w->t->write(w->t->ctx, w->base + off, b, bytes);
}

/* The GDT the 32-bit entry asks for: flat 4 GiB code at 0x10 and data at 0x18 (accessed set, as the hidden parts are). */
static const uint8_t boot_gdt[GDT_BYTES] = {
	[16] = 0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0, /* __BOOT_CS: base 0, limit 4 GiB, code, D, G */
	[24] = 0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0, /* __BOOT_DS: data, read/write */
};

static bool write_zero_page(const struct loader_input *in, const struct loader_target *t,
			    const struct bz_layout *bz, const char *cmdline, const char *extra)
{
	struct zp_writer w = { .t = t, .base = bz->zero_page, .ok = true };
	uint64_t high_kib = (t->ram_end - t->high_start) >> 10;
	uint8_t e820[E820_MAX * 20];
	unsigned int n = e820_map(t, e820);

	w.ok = t->write(t->ctx, bz->zero_page, NULL, BP_SIZE) &&
	       t->write(t->ctx, bz->zero_page + HDR_START, in->image + HDR_START,
			bz->hdr_end - HDR_START) &&
	       t->write(t->ctx, bz->zero_page + BP_E820_TABLE, e820, 20 * n) &&
	       t->write(t->ctx, bz->gdt, boot_gdt, GDT_BYTES) &&
	       t->write(t->ctx, bz->cmdline, cmdline, strlen(cmdline)) &&
	       t->write(t->ctx, bz->cmdline + strlen(cmdline), extra, strlen(extra) + 1);
	zp_put(&w, BP_E820_ENTRIES, n, 1);
	zp_put(&w, BP_EXT_MEM_K, high_kib > 0xfc00 ? 0xfc00 : high_kib, 2);
	zp_put(&w, BP_ALT_MEM_K, high_kib > UINT32_MAX ? UINT32_MAX : high_kib, 4);
	zp_put(&w, BP_ACPI_RSDP_ADDR, t->rsdp ? t->rsdp_gpa : 0, 8);
	zp_put(&w, HDR_TYPE_OF_LOADER, 0xff, 1); /* a loader without an assigned ID */
	/*
	 * No CAN_USE_HEAP (heap_end_ptr is the real-mode setup code's, which
	 * never runs) and no KEEP_SEGMENTS (the segments are the GDT's).
	 */
	zp_put(&w, HDR_LOADFLAGS, in->image[HDR_LOADFLAGS] & ~(KEEP_SEGMENTS | CAN_USE_HEAP), 1);
	zp_put(&w, HDR_CODE32_START, bz->load, 4);
	zp_put(&w, HDR_RAMDISK_IMAGE, bz->initrd, 4);
	zp_put(&w, HDR_RAMDISK_SIZE, bz->initrd_len, 4);
	zp_put(&w, HDR_CMD_LINE_PTR, bz->cmdline, 4);
	return w.ok;
}

/* Does the command line have a word that starts with prefix? */
static bool has_word(const char *line, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *p = line; *p; p++) {
		size_t k = 0;

		while (k < n && p[k] == prefix[k]) /* stops at the line's NUL too */
			k++;
		if (k == n && (p == line || p[-1] == ' '))
			return true;
	}
	return false;
}

enum loader_status loader_linux_load(const struct loader_input *in, const struct loader_target *t,
				     struct loader_result *out, char *err, size_t err_len)
{
	const char *cmdline = in->args ? in->args : in->cmdline;
	char extra[40] = "";
	size_t cmdline_len;

	/*
	 * No arguments: the console on COM1, where the PC's only output is.
	 * Nothing else: the PC has what Linux looks for (PIT, RTC, PM timer,
	 * APIC timer with TSC-deadline, ACPI S5), so no word turns code off.
	 */
	if (!cmdline[0])
		cmdline = LINUX_DEFAULT_CMDLINE;
	/*
	 * The TSC's rate, as a loader may hand it: Linux calibrates the TSC
	 * against the PIT and the PM timer with busy loops of port reads,
	 * which fail where an exit's cost varies (QEMU TCG: "Marking TSC
	 * unstable due to could not calculate TSC khz", then every clock read
	 * a PM timer exit). It turns nothing off: Linux still checks it.
	 */
	if (in->tsc_khz && !has_word(cmdline, "tsc_early_khz="))
		fmt_snprintf(extra, sizeof(extra), "%stsc_early_khz=%lu", cmdline[0] ? " " : "",
			     (unsigned long)in->tsc_khz);
	cmdline_len = strlen(cmdline) + strlen(extra);
	struct bz_layout bz = { 0 };
	uint64_t payload;

	if (!is_bzimage(in))
		return LOADER_NOT_MULTIBOOT;
	if (check_header(in, &bz, err, err_len) != LOADER_OK ||
	    place_kernel(in, t, &bz, err, err_len) != LOADER_OK)
		return LOADER_BAD;
	if (cmdline_len > rd32(in->image + HDR_CMDLINE_SIZE))
		FAIL("its command line (%zu bytes) is longer than the kernel takes (cmdline_size %u)",
		     cmdline_len, rd32(in->image + HDR_CMDLINE_SIZE));
	bz.zero_page = align_up(t->info_base, PAGE);
	bz.gdt = bz.zero_page + BP_SIZE;
	bz.cmdline = bz.gdt + GDT_BYTES;
	if (bz.cmdline > t->info_end || cmdline_len >= t->info_end - bz.cmdline ||
	    t->info_end > LOW_MEMORY_END)
		FAIL("the zero page and command line (%zu bytes) do not fit in the boot information area (0x%lx-0x%lx)",
		     cmdline_len, (unsigned long)t->info_base, (unsigned long)t->info_end);
	payload = in->image_len - bz.setup_bytes;
	if (!t->write(t->ctx, bz.load, in->image + bz.setup_bytes, payload))
		FAIL("its protected-mode kernel could not be written to guest memory");
	if (place_initrd(in, t, &bz, err, err_len) != LOADER_OK)
		return LOADER_BAD;
	if (!write_zero_page(in, t, &bz, cmdline, extra))
		FAIL("the zero page could not be written to guest memory");
	*out = (struct loader_result){
		.entry = (uint32_t)bz.load,
		.format = "Linux bzImage",
		.kernel_start = bz.load,
		.kernel_end = bz.load + payload,
		.linux_boot = true,
		.linux_protocol = bz.version,
		.esi = (uint32_t)bz.zero_page,
		.gdt_base = (uint32_t)bz.gdt,
		.gdt_limit = GDT_BYTES - 1,
		.cs = BOOT_CS,
		.ds = BOOT_DS,
		.initrd_start = bz.initrd,
		.initrd_end = bz.initrd + bz.initrd_len,
	};
	return LOADER_OK;
}
