// SPDX-License-Identifier: MIT
/*
 * Shared by the TDP MMU's host tests (test_tdp_*.c): a guest-physical
 * layout whose gfn_to_pfn is a formula (no memory per gfn), a recording
 * mark_dirty, a counting flush hook, and the checks every test ends with:
 * the tables the stats say are alive are exactly the tables reachable from
 * the root, and after destroy every page is back in the allocator.
 */
#pragma once

#include "mm/ept/tdp_mmu_internal.h"
#include "tests/host/check.h"
#include "tests/host/mm_fixture.h"
#include "tests/host/platform_host.h"

#define TT_ARENA_BYTES (96UL << 20)
#define TT_ARENA_PHYS 0x100000000UL
/* Guest memory: gfns [0, TT_GFNS); host frame = gfn + TT_PFN_OFFSET (1 GiB aligned). */
#define TT_GFNS (1ULL << 20)
#define TT_PFN_OFFSET (1ULL << 22)
#define TT_2M 512ULL
#define TT_1G (512ULL * 512)

/* The test's memslot: one set of attributes for every gfn below TT_GFNS. */
struct tt_slot {
	unsigned int max_level;
	bool writable;
	bool dirty_logging;
};
/* The formats every operation is tested on. */
enum { TT_EPT_AD, TT_EPT_NO_AD, TT_NPT, TT_NR_FORMATS };

/*
 * tt_leaf(): the leaf that maps gfn (0 if none), its level and where it
 * lives. tt_count_tables(): tables reachable from the root, the root
 * included. tt_cpu_set_bits(): play the CPU's walker, which sets A and D
 * in the leaf. tt_destroy(): check the table accounting, destroy, and
 * check that every page came back.
 */
static __attribute__((unused)) struct tt_slot tt_slot;
static __attribute__((unused)) atomic_ulong tt_flushes;      /* flush hook calls */
static __attribute__((unused)) atomic_ulong tt_dirty_marked; /* mark_dirty calls */
static __attribute__((unused)) void (*tt_on_flush)(void);    /* called inside each flush, if set */
static __attribute__((unused)) const char *const tt_format_names[TT_NR_FORMATS] = { "ept", "ept-no-ad", "npt" };

static __attribute__((unused)) atomic_ulong tt_dirty_bits[TT_GFNS / 64];
static __attribute__((unused)) uint64_t tt_free_at_start;
static __attribute__((unused)) unsigned int tt_nr_cpus;

static inline bool tt_gfn_to_pfn(void *owner, gfn_t gfn, struct mmu_pfn_info *out)
{
	(void)owner;
	if (gfn >= TT_GFNS)
		return false;
	*out = (struct mmu_pfn_info){
		.pfn = gfn + TT_PFN_OFFSET,
		.writable = tt_slot.writable,
		.max_level = tt_slot.max_level,
		.dirty_logging = tt_slot.dirty_logging,
	};
	return true;
}

static inline void tt_mark_dirty(void *owner, gfn_t gfn)
{
	(void)owner;
	if (gfn < TT_GFNS)
		mm_gfn_bit_set(tt_dirty_bits, gfn);
	atomic_fetch_add(&tt_dirty_marked, 1);
}

static __attribute__((unused)) const struct mmu_ops tt_ops = {
	.gfn_to_pfn = tt_gfn_to_pfn,
	.mark_dirty = tt_mark_dirty,
};

static inline bool tt_dirty(gfn_t gfn)
{
	return mm_gfn_bit(tt_dirty_bits, gfn);
}

static inline void tt_dirty_reset(void)
{
	mm_gfn_bits_clear(tt_dirty_bits, ARRAY_SIZE(tt_dirty_bits));
	atomic_store(&tt_dirty_marked, 0);
}

static inline void tt_flush_hook(void *owner)
{
	(void)owner;
	atomic_fetch_add(&tt_flushes, 1);
	if (tt_on_flush)
		tt_on_flush();
}

static inline void tt_setup(unsigned int nr_cpus)
{
	tt_nr_cpus = nr_cpus;
	tt_free_at_start = mm_fixture_setup(nr_cpus, TT_ARENA_BYTES, TT_ARENA_PHYS, tt_flush_hook);
}

static inline struct tdp_mmu_config tt_config(unsigned int format)
{
	tt_slot = (struct tt_slot){ .max_level = PG_LEVEL_1G, .writable = true };
	tt_on_flush = NULL;
	atomic_store(&tt_flushes, 0);
	tt_dirty_reset();
	return (struct tdp_mmu_config){
		.format = format == TT_NPT ? TDP_FORMAT_NPT : TDP_FORMAT_EPT,
		.ept_ad_bits = format == TT_EPT_AD,
		.ept_memtype = EPT_MEMTYPE_WB,
		.max_level = PG_LEVEL_1G,
	};
}

struct tdp_mmu *tt_create(const struct tdp_mmu_config *cfg)
{
	struct tdp_mmu *mmu = tdp_mmu_create(cfg, &tt_ops, NULL);

	CHECK(mmu != NULL);
	if (!mmu)
		exit(1);
	return mmu;
}

static inline uint64_t tt_stat_tables_live(struct tdp_mmu *mmu)
{
	const struct mmu_stats *st = tdp_mmu_stats(mmu);

	return atomic_load(&st->tables_allocated) - atomic_load(&st->tables_freed);
}

static inline uint64_t tt_leaf(struct tdp_mmu *mmu, gfn_t gfn, unsigned int *level, tdp_ptep_t *sptep)
{
	struct tdp_iter iter;
	uint64_t spte = 0;

	rcu_read_lock();
	for_each_tdp_pte(iter, mmu->root_pt, gfn, gfn + 1) {
		if (!is_leaf_spte(iter.old_spte, iter.level))
			continue;
		spte = iter.old_spte;
		if (level)
			*level = iter.level;
		if (sptep)
			*sptep = iter.sptep;
		break;
	}
	rcu_read_unlock();
	return spte;
}

static inline uint64_t tt_count_tables(struct tdp_mmu *mmu)
{
	struct tdp_iter iter;
	uint64_t nr = 1;

	rcu_read_lock();
	for_each_tdp_pte(iter, mmu->root_pt, 0, TDP_GFN_END)
		nr += is_shadow_present_spte(iter.old_spte) && !is_last_spte(iter.old_spte, iter.level);
	rcu_read_unlock();
	return nr;
}

static inline void tt_cpu_set_bits(struct tdp_mmu *mmu, gfn_t gfn, uint64_t bits)
{
	tdp_ptep_t sptep = NULL;

	rcu_read_lock();
	if (tt_leaf(mmu, gfn, NULL, &sptep))
		atomic_fetch_or(sptep, bits);
	rcu_read_unlock();
}

static inline void tt_destroy(struct tdp_mmu *mmu, struct tdp_page_cache *cache)
{
	rcu_barrier();
	CHECK_EQ_U(tt_stat_tables_live(mmu), tt_count_tables(mmu));
	tdp_mmu_destroy(mmu);
	rcu_barrier();
	if (cache)
		tdp_page_cache_release(cache);
	mm_fixture_check_all_back(tt_nr_cpus, tt_free_at_start);
	tt_on_flush = NULL;
}
