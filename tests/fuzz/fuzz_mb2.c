// SPDX-License-Identifier: MIT
/*
 * libFuzzer: the multiboot2 information parser (boot/mb2.c) on any bytes,
 * as a loader or a firmware could hand them over. ASan and UBSan watch the
 * reads; the checks below are what the parser promises on success.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/mb2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mb2_info out;
	struct mem_range ranges[MB2_MAX_MEM_ENTRIES];
	uint8_t *copy;
	char err[256];
	unsigned int n;

	/* An exact-size, 8-aligned heap copy: ASan sees one byte too far. */
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	if (mb2_parse(copy, size, &out, err, sizeof(err))) {
		if (out.nr_mmap > MB2_MAX_MEM_ENTRIES || out.nr_efi_mmap > MB2_MAX_MEM_ENTRIES ||
		    out.nr_modules > MB2_MAX_MODULES || out.total_size > size)
			abort();
		n = mb2_usable_ranges(&out, ranges, MB2_MAX_MEM_ENTRIES);
		for (unsigned int i = 0; i < n; i++)
			if (ranges[i].start >= ranges[i].end)
				abort();
	} else if (!memchr(err, 0, sizeof(err)) || !err[0]) {
		abort(); /* a refusal must say why */
	}
	free(copy);
	return 0;
}
