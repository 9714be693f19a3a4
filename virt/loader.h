// SPDX-License-Identifier: MIT
/*
 * The multiboot loader: a kernel image (multiboot v1 with ELF32, ELF64 or
 * the a.out address fields; multiboot2 with ELF32, ELF64 or its address
 * tag) into guest RAM, with its modules and the boot information the specs
 * promise. Pure C on lib/ alone, against a target that writes guest
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
};

struct loader_input {
	const uint8_t *image;
	size_t image_len;
	const char *cmdline;          /* the kernel's command line as the boot loader hands it */
	const struct loader_module *modules;
	unsigned int nr_modules;
};

struct loader_result {
	uint32_t entry;       /* EIP */
	uint32_t magic;       /* EAX */
	uint32_t info;        /* EBX: the boot information */
	const char *format;   /* "multiboot ELF32", ... */
	uint64_t kernel_start, kernel_end; /* what the kernel occupies */
};

enum loader_status {
	LOADER_OK,
	LOADER_NOT_MULTIBOOT, /* no multiboot header at all: maybe another format */
	LOADER_BAD,           /* a multiboot kernel that cannot be loaded (err says why) */
};

enum loader_status loader_load(const struct loader_input *in, const struct loader_target *t,
			       struct loader_result *out, char *err, size_t err_len);

/* 2 or 1 if image has a multiboot2 or multiboot header (valid or not), 0 if neither. */
unsigned int loader_multiboot_version(const uint8_t *image, size_t len);
