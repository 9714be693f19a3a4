// SPDX-License-Identifier: MIT
/*
 * A live migration's destination, as the pre-copy fills it: a copy of guest
 * memory [base, base + bytes) taken once in full after the dirty log is on,
 * then page by page from each harvest of the log, and compared with guest
 * memory byte for byte once the vCPUs have stopped. Used by
 * scenario=dirty_log (stress/dirty_log.c) and beside a PC guest
 * (stress/guest_beside.c). The control CPU's alone.
 */
#pragma once

#include "virt/vm.h"

/* The pause between two harvest rounds: the vCPUs dirty some memory meanwhile. */
#define MIGRATE_ROUND_GAP_US 2000

struct migrate_image {
	uint64_t base, bytes; /* the guest-physical range copied, page-aligned */
	uint8_t **chunk;      /* one 2 MiB host chunk per 2 MiB of the range */
	unsigned int nr, array_order;
};

bool migrate_image_alloc(struct migrate_image *im, uint64_t base, uint64_t bytes);
void migrate_image_free(struct migrate_image *im);
/* The copy of the guest page at gpa, inside the range. */
uint8_t *migrate_image_page(struct migrate_image *im, uint64_t gpa);
/* Copy the pages of [gpa, gpa + len), inside the range, as they are now (the first pass). */
void migrate_copy_range(struct vm *vm, struct migrate_image *im, uint64_t gpa, uint64_t len);
/*
 * Copy every page of the range whose bit is set in a harvested dirty log
 * (one bit per gfn from 0, vm_dirty_log_get()'s); returns how many.
 */
uint64_t migrate_copy_dirty(struct vm *vm, struct migrate_image *im, const uint64_t *bits);
/* The pages of the copy that differ from guest memory; *first_gpa is the lowest, if any. */
uint64_t migrate_compare(struct vm *vm, struct migrate_image *im, uint64_t *first_gpa);
/* Print the first words of the page at gpa that differ between the copy and guest memory. */
void migrate_describe(struct vm *vm, struct migrate_image *im, uint64_t gpa);
