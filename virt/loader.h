// SPDX-License-Identifier: MIT
/*
 * The kernel loader: a kernel image (multiboot v1 with ELF32, ELF64 or
 * the a.out address fields; multiboot2 with ELF32, ELF64 or its address
 * tag; a Linux bzImage, boot protocol 2.10 on) into guest RAM, with its
 * modules and the boot information the specs promise. Pure C on lib/ alone, against a target that writes guest
 * memory, so a host fuzzer drives it on fake memory (tests/fuzz).
 *
 * Every field of the image is checked before it is used: a header or a
 * segment that does not fit gets one line in err naming what and why.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB1_BOOTLOADER_MAGIC 0x2badb002u
#define MB2_BOOTLOADER_MAGIC 0x36d76289u
#define PC_LOADER_MAX_MODULES 8
#define LINUX_DEFAULT_CMDLINE "console=ttyS0" /* a Linux guest's command line without guest_args= */

struct loader_module {
	const uint8_t *start;
	size_t len;
	const char *cmdline;
};

struct loader_target {
	/* Guest RAM: [0, low_end) and [high_start, ram_end); the kernel and its modules go high. */
	uint64_t low_end, high_start, ram_end;
	/* [info_base, info_end): where the boot information goes (inside low RAM). */
	uint64_t info_base, info_end;
	/* Reserved for the memory map: the ROM area [rom_base, rom_end). */
	uint64_t rom_base, rom_end;
	/* Copy len bytes of src (NULL: zeros) to gpa; the loader checks ranges first. */
	bool (*write)(void *ctx, uint64_t gpa, const void *src, size_t len);
	void *ctx;
	/* The ACPI RSDP (36 bytes, revision 2) for multiboot2's tags 14 and 15; NULL if none. */
	const uint8_t *rsdp;
	uint64_t rsdp_gpa;            /* where the guest finds it (Linux's acpi_rsdp_addr) */
};

struct loader_input {
	const uint8_t *image;
	size_t image_len;
	const char *cmdline;          /* the kernel's command line as the boot loader hands it */
	const char *args;             /* Linux's: the arguments without the name (NULL: cmdline; "": the default below) */
	/*
	 * Linux's: the TSC's rate, appended as tsc_early_khz= unless the line
	 * has that word already (0: nothing appended).
	 */
	uint64_t tsc_khz;
	const struct loader_module *modules;
	unsigned int nr_modules;
};

struct loader_result {
	uint32_t entry;       /* EIP */
	uint32_t magic;       /* EAX */
	uint32_t info;        /* EBX: the boot information */
	const char *format;   /* "multiboot ELF32", ... */
	uint64_t kernel_start, kernel_end; /* what the kernel occupies */
	/*
	 * A Linux bzImage starts through the 32-bit boot protocol: EAX = EBX
	 * = 0, ESI the zero page, the loader's GDT in GDTR, CS __BOOT_CS and
	 * DS/ES/SS __BOOT_DS (flat), EBP = EDI = 0.
	 */
	bool linux_boot;
	uint16_t linux_protocol;      /* its boot protocol version, 0x020f for 2.15 */
	uint32_t esi;
	uint32_t gdt_base;
	uint16_t gdt_limit, cs, ds;
	uint64_t initrd_start, initrd_end; /* the modules, concatenated; empty if none */
};

enum loader_status {
	LOADER_OK,
	LOADER_NOT_MULTIBOOT, /* neither a multiboot header nor a bzImage's "HdrS" */
	LOADER_BAD,           /* a kernel of a known format that cannot be loaded (err says why) */
};

enum loader_status loader_load(const struct loader_input *in, const struct loader_target *t,
			       struct loader_result *out, char *err, size_t err_len);

/* The Linux boot protocol (virt/loader_linux.c): LOADER_NOT_MULTIBOOT if image is no bzImage. */
enum loader_status loader_linux_load(const struct loader_input *in, const struct loader_target *t,
				     struct loader_result *out, char *err, size_t err_len);

/* 2 or 1 if image has a multiboot2 or multiboot header (valid or not), 0 if neither. */
unsigned int loader_multiboot_version(const uint8_t *image, size_t len);
