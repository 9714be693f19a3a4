// SPDX-License-Identifier: MIT
/*
 * Physical page allocator: a binary buddy over one pfn span, one zone per
 * NUMA node, with per-CPU caches of order-0 pages so the fault path
 * allocates and frees without touching a zone lock. Blocks are naturally aligned in physical
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

/*
 * NUMA. Once, on one CPU before the others allocate (the boot CPU, after
 * ACPI): the physical ranges of each node (node < PAGE_MAX_NODES; memory in
 * no range is on node 0). Free memory is re-sorted into one zone per node.
 * false (with *why) for too many or overlapping ranges.
 */
#define PAGE_MAX_NODES 16
#define PAGE_MAX_NODE_RANGES 64
struct mem_node_range {
	uint64_t start, end; /* physical, [start, end) */
	unsigned int node;
};
bool page_alloc_set_nodes(const struct mem_node_range *ranges, unsigned int nr,
			  const char **why);
unsigned int page_alloc_nr_nodes(void); /* 1 until page_alloc_set_nodes */
/* The node a CPU allocates from first (default 0); set before that CPU allocates. */
void page_alloc_set_cpu_node(unsigned int cpu, unsigned int node);
unsigned int page_alloc_cpu_node(unsigned int cpu);
/* From node first, then from the others in turn; NULL when all are out of memory. */
void *page_alloc_node(unsigned int order, unsigned int node);
/* The node of a page the allocator handed out. */
unsigned int page_node(const void *page);
/* A node's pages in its buddy lists (not the per-CPU caches) and in all. */
void page_alloc_get_node_stats(unsigned int node, uint64_t *free_pages, uint64_t *total_pages);

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
