// SPDX-License-Identifier: MIT
/*
 * Physical page allocator: a binary buddy over one pfn span, with per-CPU
 * caches of order-0 pages so the fault path allocates and frees without
 * touching the global lock. Blocks are naturally aligned in physical
 * memory, so an order-9 block is a 2 MiB-aligned 2 MiB page.
 *
 * Context: any CPU, never from an interrupt handler (the per-CPU cache is
 * not interrupt-safe, and it does not need to be: IPI handlers here never
 * allocate).
 */
#pragma once

#include "mm/platform.h"

#define PAGE_MAX_ORDER 10 /* largest block: 4 MiB */

struct mem_range {
	uint64_t start; /* physical, inclusive */
	uint64_t end;   /* physical, exclusive */
};

/*
 * Build the allocator from the usable RAM ranges minus the reserved ranges
 * (kernel image, modules, boot information...). Ranges need not be sorted or
 * page aligned; partial pages are dropped. The allocator's own metadata is
 * carved out of the usable memory. Returns false (with *why set) when there
 * is no usable memory at all or no room for the metadata.
 */
bool page_alloc_init(const struct mem_range *usable, unsigned int nr_usable,
		     const struct mem_range *reserved, unsigned int nr_reserved,
		     const char **why);

/* The smallest order whose block holds bytes. */
static inline unsigned int page_order_for(size_t bytes)
{
	unsigned int order = 0;

	while ((PAGE_SIZE << order) < bytes)
		order++;
	return order;
}

void *page_alloc(unsigned int order);        /* NULL when out of memory */
void *page_alloc_zeroed(unsigned int order); /* NULL when out of memory */
void page_free(void *page, unsigned int order);

/* Return the calling CPU's cached pages to the buddy lists. */
void page_alloc_drain_this_cpu(void);

struct page_alloc_stats {
	uint64_t total_pages;  /* pages handed to the allocator at init */
	uint64_t free_pages;   /* in buddy lists and per-CPU caches */
	uint64_t lock_acquires;
	uint64_t pcp_hits;     /* order-0 allocations served by a per-CPU cache */
};
void page_alloc_get_stats(struct page_alloc_stats *st);

/* Debug/test: check the buddy lists against the per-page state. */
bool page_alloc_check(const char **why);
