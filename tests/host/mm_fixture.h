// SPDX-License-Identifier: MIT
/*
 * What the TDP and shadow MMU host tests share (test_tdp.h, test_shadow.h):
 * the page allocator and RCU on a host arena, a gfn bitmap that a
 * mark_dirty callback fills, and the closing check that every page came
 * back to the allocator.
 */
#pragma once

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "mm/page_alloc.h"
#include "mm/rcu/rcu.h"
#include "tests/host/check.h"
#include "tests/host/platform_host.h"

/*
 * nr_cpus simulated CPUs, the allocator on [phys, phys + bytes) of a fresh
 * arena, RCU online on CPU 0, and flush_hook as the remote flush. Returns
 * the free pages at that point, for mm_fixture_check_all_back().
 */
static inline uint64_t mm_fixture_setup(unsigned int nr_cpus, unsigned long bytes,
					unsigned long phys, void (*flush_hook)(void *owner))
{
	struct mem_range usable = { phys, phys + bytes };
	struct page_alloc_stats st;
	const char *why = NULL;

	host_set_nr_cpus(nr_cpus);
	host_arena_create(bytes, phys);
	host_cpu_enter(0);
	if (!page_alloc_init(&usable, 1, NULL, 0, &why)) {
		fprintf(stderr, "page_alloc_init: %s\n", why);
		exit(1);
	}
	rcu_init(nr_cpus);
	rcu_online();
	host_set_flush_hook(flush_hook);
	page_alloc_get_stats(&st);
	return st.free_pages;
}

/* After the MMU's destroy and a grace period: every CPU's cache drained, every page back. */
static inline void mm_fixture_check_all_back(unsigned int nr_cpus, uint64_t free_at_start)
{
	struct page_alloc_stats st;

	for (unsigned int cpu = 0; cpu < nr_cpus; cpu++) {
		host_cpu_enter(cpu);
		page_alloc_drain_this_cpu();
	}
	host_cpu_enter(0);
	page_alloc_get_stats(&st);
	CHECK_EQ_U(st.free_pages, free_at_start);
}

/* One bit per gfn, set from any thread. */
static inline void mm_gfn_bit_set(atomic_ulong *bits, uint64_t gfn)
{
	atomic_fetch_or(&bits[gfn / 64], 1UL << (gfn % 64));
}

static inline bool mm_gfn_bit(atomic_ulong *bits, uint64_t gfn)
{
	return atomic_load(&bits[gfn / 64]) & (1UL << (gfn % 64));
}

static inline void mm_gfn_bits_clear(atomic_ulong *bits, size_t words)
{
	for (size_t i = 0; i < words; i++)
		atomic_store(&bits[i], 0);
}
