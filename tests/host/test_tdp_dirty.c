// SPDX-License-Identifier: MIT
/*
 * Unit tests for mm/ept's dirty logging (write-protect, clear-dirty),
 * page-size changes (eager split, lazy split, collapse), aging, and the
 * fast page fault, on EPT with and without A/D bits and on NPT.
 */
#define _GNU_SOURCE
#include "tests/host/test_tdp.h"

#include <pthread.h>

#define for_each_format(f) for (unsigned int f = 0; f < TT_NR_FORMATS; f++)

static unsigned long stat(struct tdp_mmu *mmu, size_t offset)
{
	return atomic_load((atomic_ulong *)((char *)tdp_mmu_stats(mmu) + offset));
}
#define STAT(mmu, field) stat(mmu, offsetof(struct mmu_stats, field))

static enum tdp_fault_result fault_at(struct tdp_mmu *mmu, struct tdp_page_cache *c, gfn_t gfn,
				      unsigned int level, unsigned int access)
{
	unsigned int saved = tt_slot.max_level;
	enum tdp_fault_result r;

	tt_slot.max_level = level;
	r = tdp_mmu_page_fault(mmu, c, gfn << PAGE_SHIFT, access);
	tt_slot.max_level = saved;
	return r;
}

static void map_4k(struct tdp_mmu *mmu, struct tdp_page_cache *c, gfn_t start, gfn_t end,
		   unsigned int access)
{
	for (gfn_t g = start; g < end; g++)
		if (fault_at(mmu, c, g, PG_LEVEL_4K, access) != TDP_FAULT_FIXED)
			CHECK(!"fault failed");
}

static unsigned long count_dirty(gfn_t start, gfn_t end)
{
	unsigned long n = 0;

	for (gfn_t g = start; g < end; g++)
		n += tt_dirty(g);
	return n;
}

static void test_write_protect_4k(void)
{
	for (unsigned int locked = 0; locked < 2; locked++) {
		for_each_format(f) {
			struct tdp_mmu_config cfg = tt_config(f);
			struct tdp_page_cache cache = { 0 };
			struct tdp_mmu *mmu;
			unsigned long locks;
			bool has_d = f != TT_EPT_NO_AD;

			cfg.policy.wp_locked = locked;
			mmu = tt_create(&cfg);
			map_4k(mmu, &cache, 0, 1024, TDP_ACC_WRITE); /* dirty */
			map_4k(mmu, &cache, 1024, 2048, TDP_ACC_READ); /* writable, clean if D exists */
			locks = locked ? STAT(mmu, lock_write) : STAT(mmu, lock_read);
			CHECK_EQ_U(tdp_mmu_write_protect_range(mmu, 0, 2048), 2048);
			CHECK_EQ_U(locked ? STAT(mmu, lock_write) : STAT(mmu, lock_read), locks + 1);
			CHECK_EQ_U(STAT(mmu, flushes), 1);
			CHECK_EQ_U(STAT(mmu, leaves_write_protected), 2048);
			for (gfn_t g = 0; g < 2048; g += 97)
				CHECK(!is_writable_spte(tt_leaf(mmu, g, NULL, NULL)));
			/* Dirty state left the entries through mark_dirty. */
			CHECK_EQ_U(count_dirty(0, 1024), 1024);
			CHECK_EQ_U(count_dirty(1024, 2048), has_d ? 0 : 1024);
			/* Nothing left to protect: no flush. */
			CHECK_EQ_U(tdp_mmu_write_protect_range(mmu, 0, 2048), 0);
			CHECK_EQ_U(STAT(mmu, flushes), 1);
			/* A part of a range; the next write fault makes a leaf writable again. */
			CHECK_EQ_U(fault_at(mmu, &cache, 5000, PG_LEVEL_4K, TDP_ACC_READ), TDP_FAULT_FIXED);
			CHECK_EQ_U(fault_at(mmu, &cache, 5001, PG_LEVEL_4K, TDP_ACC_READ), TDP_FAULT_FIXED);
			CHECK_EQ_U(tdp_mmu_write_protect_range(mmu, 5001, 5002), 1);
			CHECK(is_writable_spte(tt_leaf(mmu, 5000, NULL, NULL)));
			CHECK_EQ_U(fault_at(mmu, &cache, 7, PG_LEVEL_4K, TDP_ACC_WRITE), TDP_FAULT_FIXED);
			CHECK(is_dirty_spte(&mmu->fmt, tt_leaf(mmu, 7, NULL, NULL)));
			tt_destroy(mmu, &cache);
		}
	}
}

/* split=lazy keeps huge leaves mapped read-only; otherwise they go. */
static void test_write_protect_huge(void)
{
	for (unsigned int lazy = 0; lazy < 2; lazy++) {
		for_each_format(f) {
			struct tdp_mmu_config cfg = tt_config(f);
			struct tdp_page_cache cache = { 0 };
			struct tdp_mmu *mmu;
			unsigned int level = 0;
			uint64_t s;

			cfg.split_lazy = lazy;
			mmu = tt_create(&cfg);
			CHECK_EQ_U(fault_at(mmu, &cache, TT_2M, PG_LEVEL_2M, TDP_ACC_WRITE),
				   TDP_FAULT_FIXED);
			CHECK_EQ_U(fault_at(mmu, &cache, TT_1G, PG_LEVEL_1G, TDP_ACC_READ),
				   TDP_FAULT_FIXED);
			CHECK_EQ_U(tdp_mmu_write_protect_range(mmu, 0, 2 * TT_1G), 2);
			CHECK_EQ_U(STAT(mmu, flushes), 1);
			CHECK_EQ_U(count_dirty(TT_2M, 2 * TT_2M), TT_2M);
			s = tt_leaf(mmu, TT_2M + 3, &level, NULL);
			if (lazy) {
				CHECK(is_leaf_spte(s, level) && level == PG_LEVEL_2M);
				CHECK(!is_writable_spte(s));
				CHECK(!is_writable_spte(tt_leaf(mmu, TT_1G + 3, &level, NULL)));
				CHECK_EQ_U(level, PG_LEVEL_1G);
			} else {
				CHECK(!s);
				CHECK(!tt_leaf(mmu, TT_1G + 3, NULL, NULL));
				CHECK_EQ_U(STAT(mmu, leaves_zapped), 2);
			}
			/* Logging is on: the write fault maps 4 KiB (lazy: by splitting the huge page). */
			tt_slot.dirty_logging = true;
			CHECK_EQ_U(fault_at(mmu, &cache, TT_1G + 3, PG_LEVEL_1G, TDP_ACC_WRITE),
				   TDP_FAULT_FIXED);
			s = tt_leaf(mmu, TT_1G + 3, &level, NULL);
			CHECK(is_writable_spte(s) && level == PG_LEVEL_4K);
			CHECK_EQ_U(STAT(mmu, huge_split), lazy ? 2 : 0);
			s = tt_leaf(mmu, TT_1G + 4, &level, NULL);
			if (lazy) /* its neighbours stay mapped read-only: reads never fault */
				CHECK(is_leaf_spte(s, level) && level == PG_LEVEL_4K && !is_writable_spte(s));
			else
				CHECK(!s);
			tt_destroy(mmu, &cache);
		}
	}
}

static void test_clear_dirty(void)
{
	for_each_format(f) {
		struct tdp_mmu_config cfg = tt_config(f);
		struct tdp_page_cache cache = { 0 };
		struct tdp_mmu *mmu = tt_create(&cfg);
		bool has_d = f != TT_EPT_NO_AD;

		map_4k(mmu, &cache, 0, 512, TDP_ACC_WRITE);
		map_4k(mmu, &cache, 512, 600, TDP_ACC_READ);
		CHECK_EQ_U(fault_at(mmu, &cache, 2 * TT_2M, PG_LEVEL_2M, TDP_ACC_WRITE), TDP_FAULT_FIXED);
		CHECK_EQ_U(tdp_mmu_clear_dirty_range(mmu, 0, 3 * TT_2M), has_d ? 513 : 0);
		CHECK_EQ_U(STAT(mmu, flushes), has_d ? 1 : 0);
		CHECK_EQ_U(count_dirty(0, 3 * TT_2M), has_d ? 1024 : 0);
		CHECK(is_writable_spte(tt_leaf(mmu, 3, NULL, NULL)));
		CHECK_EQ_U(tdp_mmu_clear_dirty_range(mmu, 0, 3 * TT_2M), 0);
		if (has_d) {
			/* The CPU writes through a writable leaf: sets D; the next harvest sees it. */
			tt_dirty_reset();
			tt_cpu_set_bits(mmu, 550, mmu->fmt.dirty);
			CHECK_EQ_U(tdp_mmu_clear_dirty_range(mmu, 0, 3 * TT_2M), 1);
			CHECK(tt_dirty(550) && count_dirty(0, 3 * TT_2M) == 1);
		}
		tt_destroy(mmu, &cache);
	}
}

static void check_split_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end, bool writable,
			      bool dirty)
{
	struct tdp_iter iter;
	unsigned long leaves = 0, bad = 0;

	rcu_read_lock();
	for_each_tdp_pte(iter, mmu->root_pt, start, end) {
		if (!is_leaf_spte(iter.old_spte, iter.level))
			continue;
		leaves++;
		bad += iter.level != PG_LEVEL_4K;
		bad += spte_to_pfn(iter.old_spte) != iter.gfn + TT_PFN_OFFSET;
		bad += is_writable_spte(iter.old_spte) != writable;
		bad += !!(iter.old_spte & mmu->fmt.dirty) != (dirty && mmu->fmt.dirty);
		bad += !is_accessed_spte(&mmu->fmt, iter.old_spte);
		bad += !!(iter.old_spte & SPTE_LARGE);
	}
	rcu_read_unlock();
	CHECK_EQ_U(leaves, end - start);
	CHECK_EQ_U(bad, 0);
}

/* split=eager: huge leaves become 4 KiB leaves with the same translation, without a flush. */
static void test_split_eager(void)
{
	for (unsigned int exclusive = 0; exclusive < 2; exclusive++) {
		for_each_format(f) {
			struct tdp_mmu_config cfg = tt_config(f);
			struct tdp_page_cache cache = { 0 };
			struct tdp_mmu *mmu;
			uint64_t tables;

			cfg.policy.lock_exclusive = exclusive;
			mmu = tt_create(&cfg);
			CHECK_EQ_U(fault_at(mmu, &cache, 5 * TT_2M, PG_LEVEL_2M, TDP_ACC_WRITE),
				   TDP_FAULT_FIXED);
			CHECK_EQ_U(fault_at(mmu, &cache, TT_1G, PG_LEVEL_1G, TDP_ACC_READ),
				   TDP_FAULT_FIXED);
			tdp_page_cache_release(&cache); /* the split must top up as it goes */
			tables = tt_count_tables(mmu);
			CHECK_EQ_U(tdp_mmu_split_huge_range(mmu, &cache, 0, 2 * TT_1G), 1 + 1 + 512);
			CHECK_EQ_U(tt_count_tables(mmu), tables + 1 + 1 + 512);
			CHECK_EQ_U(STAT(mmu, huge_split), 514);
			CHECK_EQ_U(STAT(mmu, flushes), 0);
			check_split_range(mmu, 5 * TT_2M, 6 * TT_2M, true, true);
			check_split_range(mmu, TT_1G, 2 * TT_1G, true, false);
			CHECK_EQ_U(tdp_mmu_split_huge_range(mmu, &cache, 0, 2 * TT_1G), 0);
			CHECK_EQ_U(count_dirty(0, 2 * TT_1G), 0); /* the dirty state moved along */
			tt_destroy(mmu, &cache);
		}
	}
}

static void test_collapse(void)
{
	for_each_format(f) {
		struct tdp_mmu_config cfg = tt_config(f);
		struct tdp_page_cache cache = { 0 };
		struct tdp_mmu *mmu = tt_create(&cfg);
		unsigned int level = 0;
		uint64_t s;

		map_4k(mmu, &cache, 0, 2 * TT_2M, TDP_ACC_WRITE);
		/* While logging, nothing collapses. */
		tt_slot.dirty_logging = true;
		CHECK_EQ_U(tdp_mmu_collapse_range(mmu, 0, TT_1G), 0);
		tt_slot.dirty_logging = false;
		/* The slot allows 2 MiB: both tables go, after one flush. */
		tt_slot.max_level = PG_LEVEL_2M;
		CHECK_EQ_U(tdp_mmu_collapse_range(mmu, 0, TT_1G), 2);
		CHECK_EQ_U(STAT(mmu, flushes), 1);
		s = tt_leaf(mmu, TT_2M + 7, &level, NULL);
		CHECK(level == PG_LEVEL_2M && spte_to_pfn(s) == TT_2M + TT_PFN_OFFSET);
		CHECK(is_writable_spte(s) && is_accessed_spte(&mmu->fmt, s));
		CHECK_EQ_U(count_dirty(0, 2 * TT_2M), 2 * TT_2M);
		rcu_barrier();
		CHECK_EQ_U(STAT(mmu, tables_freed), 2);
		/* 1 GiB over a level-2 table that still holds a table: three tables go. */
		map_4k(mmu, &cache, TT_1G + 5, TT_1G + 6, TDP_ACC_READ);
		CHECK_EQ_U(fault_at(mmu, &cache, TT_1G + TT_2M, PG_LEVEL_2M, TDP_ACC_READ),
			   TDP_FAULT_FIXED);
		tt_slot.max_level = PG_LEVEL_1G;
		CHECK_EQ_U(tdp_mmu_collapse_range(mmu, TT_1G, 2 * TT_1G), 1);
		rcu_barrier();
		CHECK_EQ_U(STAT(mmu, tables_freed), 2 + 2);
		CHECK(tt_leaf(mmu, TT_1G + 5, &level, NULL) && level == PG_LEVEL_1G);
		/* A range that covers only part of a table collapses nothing. */
		map_4k(mmu, &cache, 4 * TT_2M, 4 * TT_2M + 3, TDP_ACC_READ);
		CHECK_EQ_U(tdp_mmu_collapse_range(mmu, 4 * TT_2M, 5 * TT_2M - 1), 0);
		tt_destroy(mmu, &cache);
	}
}

static bool young_bit(const uint64_t *young, uint64_t i)
{
	return young[i / 64] & (1ULL << (i % 64));
}

static void test_aging(void)
{
	static uint64_t young[(2 * TT_1G) / 64];

	for_each_format(f) {
		struct tdp_mmu_config cfg = tt_config(f);
		struct tdp_page_cache cache = { 0 };
		struct tdp_mmu *mmu = tt_create(&cfg);
		bool has_a = f != TT_EPT_NO_AD;
		uint64_t all = 64 + TT_2M + TT_1G;
		unsigned long locks;

		map_4k(mmu, &cache, 0, 64, TDP_ACC_READ);
		CHECK_EQ_U(fault_at(mmu, &cache, TT_2M, PG_LEVEL_2M, TDP_ACC_READ), TDP_FAULT_FIXED);
		CHECK_EQ_U(fault_at(mmu, &cache, TT_1G, PG_LEVEL_1G, TDP_ACC_READ), TDP_FAULT_FIXED);
		locks = STAT(mmu, lock_read) + STAT(mmu, lock_write);
		CHECK_EQ_U(tdp_mmu_test_young(mmu, 0, 2 * TT_1G, young), all);
		CHECK(young_bit(young, 63) && !young_bit(young, 64) && young_bit(young, TT_2M));
		CHECK_EQ_U(tdp_mmu_test_and_clear_young(mmu, 0, 2 * TT_1G, young), all);
		CHECK_EQ_U(STAT(mmu, young_cleared), has_a ? 66 : 0);
		/* Without A bits everything mapped stays young; with them, nothing is now. */
		CHECK_EQ_U(tdp_mmu_test_and_clear_young(mmu, 0, 2 * TT_1G, young), has_a ? 0 : all);
		CHECK_EQ_U(tdp_mmu_test_young(mmu, 0, 2 * TT_1G, young), has_a ? 0 : all);
		/* The CPU uses gfn 5 and the 2 MiB page: exactly those are young again. */
		tt_cpu_set_bits(mmu, 5, mmu->fmt.accessed);
		tt_cpu_set_bits(mmu, TT_2M + 9, mmu->fmt.accessed);
		CHECK_EQ_U(tdp_mmu_test_and_clear_young(mmu, 0, 2 * TT_1G, young),
			   has_a ? 1 + TT_2M : all);
		CHECK(young_bit(young, 5) && young_bit(young, TT_2M + 511));
		if (has_a)
			CHECK(!young_bit(young, 4) && !young_bit(young, TT_1G));
		/* A range cuts a huge leaf: only its own bits. */
		tt_cpu_set_bits(mmu, TT_2M, mmu->fmt.accessed);
		CHECK_EQ_U(tdp_mmu_test_young(mmu, TT_2M + 10, TT_2M + 20, young), 10);
		CHECK(young_bit(young, 0) && young_bit(young, 9));
		/* Aging takes no lock; a yielding walk counts each gfn once. */
		CHECK_EQ_U(STAT(mmu, lock_read) + STAT(mmu, lock_write), locks);
		tdp_mmu_debug_yield_every(mmu, 3);
		CHECK_EQ_U(tdp_mmu_test_young(mmu, 0, 2 * TT_1G, young), has_a ? TT_2M : all);
		tt_destroy(mmu, &cache);
	}
}

static unsigned long locks_taken(struct tdp_mmu *mmu)
{
	return STAT(mmu, lock_read) + STAT(mmu, lock_write);
}

/*
 * A write to a 4 KiB leaf that write-protect made read-only for logging is
 * fixed without mmu_lock: W, A and D come back, MMU-writable stays, and the
 * fast path marks nothing dirty itself (its D bit goes to the next
 * write-protect). Every other case takes the lock.
 */
static void test_fast_fault(void)
{
	for (unsigned int exclusive = 0; exclusive < 2; exclusive++) {
		for_each_format(f) {
			struct tdp_mmu_config cfg = tt_config(f);
			struct tdp_page_cache cache = { 0 };
			unsigned long locks, fast;
			struct tdp_mmu *mmu;
			unsigned int level = 0;
			uint64_t s;

			cfg.policy.lock_exclusive = exclusive;
			cfg.split_lazy = true;
			mmu = tt_create(&cfg);
			tt_slot.dirty_logging = true;
			map_4k(mmu, &cache, 0, 64, TDP_ACC_WRITE);
			CHECK_EQ_U(tdp_mmu_write_protect_range(mmu, 0, 64), 64);
			tdp_mmu_clear_dirty_range(mmu, 0, 64); /* so the fast path must set D itself */
			s = tt_leaf(mmu, 3, NULL, NULL);
			CHECK(!is_writable_spte(s) && is_mmu_writable_spte(s) && !(s & mmu->fmt.dirty));
			tt_dirty_reset();

			/* The fast path: no lock, no table, nothing marked by the fault itself. */
			locks = locks_taken(mmu);
			CHECK_EQ_U(fault_at(mmu, &cache, 3, PG_LEVEL_4K, TDP_ACC_WRITE), TDP_FAULT_FIXED);
			CHECK_EQ_U(locks_taken(mmu), locks);
			CHECK_EQ_U(STAT(mmu, fast_faults), 1);
			s = tt_leaf(mmu, 3, &level, NULL);
			CHECK(level == PG_LEVEL_4K && is_writable_spte(s) && is_mmu_writable_spte(s));
			CHECK(is_accessed_spte(&mmu->fmt, s) && is_dirty_spte(&mmu->fmt, s));
			CHECK_EQ_U(spte_to_pfn(s), 3 + TT_PFN_OFFSET);
			CHECK(!tt_dirty(3));
			/* Again: spurious, still no lock. */
			CHECK_EQ_U(fault_at(mmu, &cache, 3, PG_LEVEL_4K, TDP_ACC_WRITE), TDP_FAULT_FIXED);
			CHECK_EQ_U(locks_taken(mmu), locks);
			CHECK_EQ_U(STAT(mmu, fast_faults), 1);
			/* The next write-protect finds it writable and dirty. */
			CHECK_EQ_U(tdp_mmu_write_protect_range(mmu, 0, 64), 1);
			CHECK(tt_dirty(3) && count_dirty(0, 64) == 1);
			CHECK(is_mmu_writable_spte(tt_leaf(mmu, 3, NULL, NULL)));

			/* A read never takes it; its leaf in a logged slot is MMU-writable. */
			locks = locks_taken(mmu);
			fast = STAT(mmu, fast_faults);
			CHECK_EQ_U(fault_at(mmu, &cache, 200, PG_LEVEL_4K, TDP_ACC_READ), TDP_FAULT_FIXED);
			CHECK_EQ_U(locks_taken(mmu), locks + 1);
			s = tt_leaf(mmu, 200, NULL, NULL);
			CHECK(!is_writable_spte(s) && is_mmu_writable_spte(s));
			CHECK_EQ_U(fault_at(mmu, &cache, 200, PG_LEVEL_4K, TDP_ACC_WRITE), TDP_FAULT_FIXED);
			CHECK_EQ_U(locks_taken(mmu), locks + 1);
			CHECK_EQ_U(STAT(mmu, fast_faults), fast + 1);

			/* Fallbacks, each under the lock: no leaf ... */
			fast = STAT(mmu, fast_faults);
			CHECK_EQ_U(fault_at(mmu, &cache, 300, PG_LEVEL_4K, TDP_ACC_WRITE), TDP_FAULT_FIXED);
			CHECK_EQ_U(locks_taken(mmu), locks + 2);
			/* ... read-only not for logging (the slot was read-only when it was made) ... */
			tt_slot.writable = false;
			CHECK_EQ_U(fault_at(mmu, &cache, 400, PG_LEVEL_4K, TDP_ACC_READ), TDP_FAULT_FIXED);
			tt_slot.writable = true;
			CHECK(!is_mmu_writable_spte(tt_leaf(mmu, 400, NULL, NULL)));
			CHECK_EQ_U(fault_at(mmu, &cache, 400, PG_LEVEL_4K, TDP_ACC_WRITE), TDP_FAULT_FIXED);
			CHECK_EQ_U(locks_taken(mmu), locks + 4);
			CHECK(is_writable_spte(tt_leaf(mmu, 400, NULL, NULL)));
			/* ... and a huge leaf, read-only after a lazy write-protect (split by the slow path). */
			tt_slot.dirty_logging = false;
			CHECK_EQ_U(fault_at(mmu, &cache, 4 * TT_2M, PG_LEVEL_2M, TDP_ACC_WRITE),
				   TDP_FAULT_FIXED);
			CHECK_EQ_U(tdp_mmu_write_protect_range(mmu, 4 * TT_2M, 5 * TT_2M), 1);
			s = tt_leaf(mmu, 4 * TT_2M + 1, &level, NULL);
			CHECK(level == PG_LEVEL_2M && !is_writable_spte(s) && is_mmu_writable_spte(s));
			tt_slot.dirty_logging = true;
			CHECK_EQ_U(fault_at(mmu, &cache, 4 * TT_2M + 1, PG_LEVEL_2M, TDP_ACC_WRITE),
				   TDP_FAULT_FIXED);
			CHECK_EQ_U(locks_taken(mmu), locks + 7);
			CHECK_EQ_U(STAT(mmu, fast_faults), fast);
			s = tt_leaf(mmu, 4 * TT_2M + 1, &level, NULL);
			CHECK(level == PG_LEVEL_4K && is_writable_spte(s));
			/* The split copied MMU-writable to the small leaves: their writes are fast. */
			s = tt_leaf(mmu, 4 * TT_2M + 2, &level, NULL);
			CHECK(level == PG_LEVEL_4K && !is_writable_spte(s) && is_mmu_writable_spte(s));
			CHECK_EQ_U(fault_at(mmu, &cache, 4 * TT_2M + 2, PG_LEVEL_2M, TDP_ACC_WRITE),
				   TDP_FAULT_FIXED);
			CHECK_EQ_U(locks_taken(mmu), locks + 7);
			CHECK_EQ_U(STAT(mmu, fast_faults), fast + 1);
			/* Aging and clear-dirty leave MMU-writable; a zap takes it with the entry. */
			tdp_mmu_test_and_clear_young(mmu, 0, 64, (uint64_t[1]){ 0 });
			tdp_mmu_clear_dirty_range(mmu, 0, 64);
			CHECK(is_mmu_writable_spte(tt_leaf(mmu, 3, NULL, NULL)));
			tdp_mmu_zap_range(mmu, 0, 64);
			CHECK(!tt_leaf(mmu, 3, NULL, NULL));
			fast = STAT(mmu, fast_faults);
			CHECK_EQ_U(fault_at(mmu, &cache, 3, PG_LEVEL_4K, TDP_ACC_WRITE), TDP_FAULT_FIXED);
			CHECK_EQ_U(STAT(mmu, fast_faults), fast);
			tt_destroy(mmu, &cache);
		}
	}
}

/*
 * The fast path against a concurrent write-protect: a vCPU (CPU 1) writes
 * over 512 logged pages while CPU 0 write-protects them, clears their D
 * bits (read-only leaves keep D after a write-protect) and harvests the
 * dirty log, round after round. A fault that made a leaf writable (fast or
 * slow, not spurious) after round p began (the vCPU read round p before
 * the fault) and finished before round r began (it read r - 1 after) left
 * a writable, dirty leaf whose dirty state one of rounds p..r hands on. So
 * the page is in one of harvests p..r, whatever the interleaving: the
 * check cannot flake. Only the MMU marks pages here (no vm_dirty_log_write_fault), so
 * what is tested is that the fast path sets D and that no write-protect
 * misses a W it set. A spurious fix is left out: the CPU sets D when it
 * writes, and this test has no CPU.
 */
#define RACE_GFNS 512
#define RACE_ROUNDS 400
#define RACE_KEEP 8 /* harvests kept: a fault that spans more rounds is not checked */

static struct {
	struct tdp_mmu *mmu;
	atomic_uint round;
	atomic_ulong fixed_rounds[RACE_GFNS]; /* round before << 32 | round after the fault */
	atomic_bool stop;
	unsigned long fixed;
} race;

static void *race_writer(void *arg)
{
	struct tdp_page_cache cache = { 0 };
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	(void)arg;
	host_cpu_enter(1);
	rcu_online();
	while (!atomic_load(&race.stop)) {
		unsigned long made, before;
		gfn_t g;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		g = x % RACE_GFNS;
		made = STAT(race.mmu, fast_faults) + STAT(race.mmu, faults_fixed);
		before = atomic_load(&race.round); /* seq_cst, before */
		if (tdp_mmu_page_fault(race.mmu, &cache, g << PAGE_SHIFT, TDP_ACC_WRITE) !=
			    TDP_FAULT_FIXED ||
		    STAT(race.mmu, fast_faults) + STAT(race.mmu, faults_fixed) == made)
			continue; /* spurious: D is the CPU's to set when it writes, not the MMU's */
		atomic_store(&race.fixed_rounds[g], before << 32 | atomic_load(&race.round)); /* after */
		race.fixed++;
		rcu_quiescent_state();
	}
	tdp_page_cache_release(&cache);
	rcu_offline();
	return NULL;
}

static void harvest(uint64_t *out)
{
	for (unsigned int i = 0; i < RACE_GFNS / 64; i++)
		out[i] = atomic_exchange(&tt_dirty_bits[i], 0);
}

static void test_fast_fault_vs_write_protect(void)
{
	for (unsigned int locked = 0; locked < 2; locked++) {
		for_each_format(f) {
			struct tdp_mmu_config cfg = tt_config(f);
			struct tdp_page_cache cache = { 0 };
			uint64_t bits[RACE_KEEP][RACE_GFNS / 64] = { { 0 } };
			unsigned long missed = 0, checked = 0;
			pthread_t t;

			cfg.policy.wp_locked = locked;
			race.mmu = tt_create(&cfg);
			tt_slot.dirty_logging = true;
			map_4k(race.mmu, &cache, 0, RACE_GFNS, TDP_ACC_WRITE);
			tdp_mmu_write_protect_range(race.mmu, 0, RACE_GFNS);
			tt_dirty_reset();
			atomic_store(&race.round, 1);
			atomic_store(&race.stop, false);
			for (unsigned int g = 0; g < RACE_GFNS; g++)
				atomic_store(&race.fixed_rounds[g], 0);
			race.fixed = 0;
			pthread_create(&t, NULL, race_writer, NULL);
			for (unsigned int r = 2; r < RACE_ROUNDS + 2; r++) {
				uint64_t *now = bits[r % RACE_KEEP];

				atomic_store(&race.round, r); /* seq_cst, before the write-protect */
				tdp_mmu_write_protect_range(race.mmu, 0, RACE_GFNS);
				/* Read-only leaves lose D too: the next fast fix must set it again. */
				tdp_mmu_clear_dirty_range(race.mmu, 0, RACE_GFNS);
				harvest(now);
				for (unsigned int g = 0; g < RACE_GFNS; g++) {
					uint64_t rounds = atomic_load(&race.fixed_rounds[g]);
					unsigned int p = (unsigned int)(rounds >> 32);
					bool found = false;

					if ((uint32_t)rounds != r - 1 || r - p >= RACE_KEEP)
						continue;
					for (unsigned int q = p; q <= r; q++)
						found |= bits[q % RACE_KEEP][g / 64] >> (g % 64) & 1;
					checked++;
					if (found)
						continue;
					if (++missed <= 5)
						fprintf(stderr, "  missed gfn %u, rounds %u..%u: leaf %#llx\n",
							g, p, r,
							(unsigned long long)tt_leaf(race.mmu, g, NULL, NULL));
				}
				rcu_quiescent_state();
			}
			atomic_store(&race.stop, true);
			pthread_join(t, NULL);
			host_cpu_enter(0);
			CHECK_EQ_U(missed, 0);
			CHECK(checked > 0);
			printf("  %s wp=%s: %lu writes fixed, %lu by the fast path, %lu by the slow one, "
			       "%lu spurious; %lu checked against the harvests\n", tt_format_names[f],
			       locked ? "locked" : "lockless", race.fixed, STAT(race.mmu, fast_faults),
			       STAT(race.mmu, faults_fixed) - RACE_GFNS,
			       STAT(race.mmu, faults_spurious), checked);
			CHECK(STAT(race.mmu, fast_faults) > 0);
			tt_destroy(race.mmu, &cache);
		}
	}
}

int main(void)
{
	tt_setup(2);
	RUN_TEST(test_write_protect_4k);
	RUN_TEST(test_write_protect_huge);
	RUN_TEST(test_clear_dirty);
	RUN_TEST(test_split_eager);
	RUN_TEST(test_collapse);
	RUN_TEST(test_aging);
	RUN_TEST(test_fast_fault);
	RUN_TEST(test_fast_fault_vs_write_protect);
	rcu_offline();
	host_arena_destroy();
	return check_summary("test_tdp_dirty");
}
