// SPDX-License-Identifier: MIT
/*
 * Unit tests for mm/ept: the entry formats, the iterator, the fault path,
 * zap and the flush-before-free order, teardown, and the SPTE funnel's
 * lock checks. Every operation runs on EPT (with and without A/D bits) and
 * on NPT. Dirty logging, splits and aging are in test_tdp_dirty.c.
 */
#define _GNU_SOURCE
#include "tests/host/expect_panic.h"
#include "tests/host/test_tdp.h"

#include <pthread.h>

#define for_each_format(f) for (unsigned int f = 0; f < TT_NR_FORMATS; f++)

static unsigned long stat(struct tdp_mmu *mmu, size_t offset)
{
	return atomic_load((atomic_ulong *)((char *)tdp_mmu_stats(mmu) + offset));
}
#define STAT(mmu, field) stat(mmu, offsetof(struct mmu_stats, field))

static enum tdp_fault_result fault(struct tdp_mmu *mmu, struct tdp_page_cache *c, gfn_t gfn,
				   unsigned int access)
{
	return tdp_mmu_page_fault(mmu, c, gfn << PAGE_SHIFT, access);
}

static void test_spte_formats(void)
{
	struct tdp_mmu_config cfg = tt_config(TT_EPT_AD);
	struct tdp_spte_format ept, ept_no_ad, npt;
	uint64_t s;

	tdp_spte_format_init(&ept, &cfg);
	cfg = tt_config(TT_EPT_NO_AD);
	tdp_spte_format_init(&ept_no_ad, &cfg);
	cfg = tt_config(TT_NPT);
	tdp_spte_format_init(&npt, &cfg);

	s = make_leaf_spte(&ept, 0x12345, PG_LEVEL_4K, true, true, true, true);
	CHECK_EQ_U(s, 0x12345000ULL | EPT_R | EPT_W | EPT_X | (6 << 3) | EPT_A | EPT_D |
			      SPTE_MMU_WRITABLE);
	CHECK(is_leaf_spte(s, PG_LEVEL_4K) && is_writable_spte(s) && is_dirty_spte(&ept, s));
	CHECK(is_executable_spte(&ept, s) && spte_memtype(&ept, s) == EPT_MEMTYPE_WB);
	CHECK_EQ_U(spte_to_pfn(s), 0x12345);
	s = make_leaf_spte(&ept_no_ad, 0x200, PG_LEVEL_2M, false, false, true, true);
	CHECK_EQ_U(s, 0x200000ULL | EPT_R | EPT_X | (6 << 3) | EPT_LARGE);
	CHECK(is_accessed_spte(&ept_no_ad, s) && !is_dirty_spte(&ept_no_ad, s));
	CHECK(is_dirty_spte(&ept_no_ad, s | EPT_W)); /* no D bit: writable means dirty */
	CHECK(!is_last_spte(make_nonleaf_spte(&ept, 0x5000), PG_LEVEL_2M));
	CHECK_EQ_U(make_nonleaf_spte(&ept, 0x5000), 0x5000 | EPT_R | EPT_W | EPT_X);

	s = make_leaf_spte(&npt, 0x40000, PG_LEVEL_1G, true, true, true, false);
	CHECK_EQ_U(s, 0x40000000ULL | NPT_P | NPT_RW | NPT_US | NPT_PS | NPT_A | SPTE_MMU_WRITABLE);
	CHECK(is_executable_spte(&npt, s) && !(s & NPT_NX));
	CHECK(is_accessed_spte(&npt, s) && !is_dirty_spte(&npt, s));
	CHECK_EQ_U(make_nonleaf_spte(&npt, 0x7000), 0x7000 | NPT_P | NPT_RW | NPT_US);
	/* A 4 KiB NPT entry must not carry bit 7 (PAT there). */
	CHECK(!(make_leaf_spte(&npt, 1, PG_LEVEL_4K, true, true, true, true) & NPT_PS));
	CHECK(!(make_split_child_spte(make_leaf_spte(&npt, 0x200, 2, true, true, true, true), 2, 3) &
		NPT_PS));
	CHECK_EQ_U(spte_to_pfn(make_split_child_spte(make_leaf_spte(&npt, 0x200, 2, 1, 1, 1, 1), 2, 3)),
		   0x203);
	CHECK_EQ_U(spte_to_pfn(make_split_child_spte(make_leaf_spte(&ept, 0x40000, 3, 1, 1, 1, 1), 3, 5)),
		   0x40000 + 5 * 512);
	CHECK(is_large_spte(make_split_child_spte(make_leaf_spte(&ept, 0x40000, 3, 1, 1, 1, 1), 3, 5)));

	/* MMU-writable: W implies it; alone it is neither present nor writable; a split keeps it. */
	CHECK(!is_mmu_writable_spte(make_leaf_spte(&npt, 1, PG_LEVEL_4K, false, false, true, false)));
	s = make_leaf_spte(&ept, 0x200, PG_LEVEL_2M, false, true, true, false);
	CHECK(is_mmu_writable_spte(s) && !is_writable_spte(s) && is_leaf_spte(s, PG_LEVEL_2M));
	CHECK(is_mmu_writable_spte(make_split_child_spte(s, PG_LEVEL_2M, 9)));
	CHECK(!is_shadow_present_spte(SPTE_MMU_WRITABLE) && !is_removed_spte(SPTE_MMU_WRITABLE));
	CHECK(!is_shadow_present_spte(MMU_REMOVED_SPTE) && is_removed_spte(MMU_REMOVED_SPTE));
	CHECK(is_removed_spte(make_removed_link_spte(0xabcde000)));
	CHECK_EQ_U(removed_spte_link(make_removed_link_spte(0xabcde000)), 0xabcde000);
	CHECK(!is_removed_spte(0) && !is_removed_spte(MMU_FREED_POISON));
	CHECK(!is_shadow_present_spte(MMU_FREED_POISON));
}

static void test_iterator_preorder(void)
{
	struct tdp_mmu_config cfg = tt_config(TT_NPT);
	struct tdp_page_cache cache = { 0 };
	struct tdp_mmu *mmu;
	struct tdp_iter iter;
	unsigned int visits = 0, leaves = 0, last_level = TDP_ROOT_LEVEL + 1;
	gfn_t last_gfn = 0;
	bool ordered = true;

	tt_slot.max_level = PG_LEVEL_4K;
	mmu = tt_create(&cfg);
	/* Two leaves in one table, one in the next 2 MiB, one in the next 1 GiB. */
	CHECK_EQ_U(fault(mmu, &cache, 5, TDP_ACC_READ), TDP_FAULT_FIXED);
	CHECK_EQ_U(fault(mmu, &cache, 7, TDP_ACC_READ), TDP_FAULT_FIXED);
	CHECK_EQ_U(fault(mmu, &cache, TT_2M + 1, TDP_ACC_READ), TDP_FAULT_FIXED);
	CHECK_EQ_U(fault(mmu, &cache, TT_1G + 2, TDP_ACC_READ), TDP_FAULT_FIXED);
	CHECK_EQ_U(tt_count_tables(mmu), 1 + 1 + 2 + 3);

	rcu_read_lock();
	for_each_tdp_pte(iter, mmu->root_pt, 0, TDP_GFN_END) {
		visits++;
		/* Pre-order: a step down goes one level, and gfns never go back within a level. */
		if (iter.level < last_level && last_level <= TDP_ROOT_LEVEL && iter.level != last_level - 1)
			ordered = false;
		if (iter.level == last_level && iter.gfn <= last_gfn)
			ordered = false;
		last_level = iter.level;
		last_gfn = iter.gfn;
		leaves += is_leaf_spte(iter.old_spte, iter.level);
	}
	CHECK(ordered);
	CHECK_EQ_U(leaves, 4);
	/* Every entry of the 7 tables: root, one level 3, two level 2, three level 1. */
	CHECK_EQ_U(visits, 512 * 7);

	/* A range visits only the entries that map part of it. */
	visits = 0;
	for_each_tdp_pte(iter, mmu->root_pt, 6, 8)
		visits += iter.level == PG_LEVEL_4K;
	CHECK_EQ_U(visits, 2);

	/* min_level stops the descent; a yield restarts from the root at the same gfn. */
	visits = 0;
	for_each_tdp_pte_min_level(iter, mmu->root_pt, PG_LEVEL_2M, 0, 2 * TT_2M) {
		CHECK(iter.level >= PG_LEVEL_2M);
		if (iter.level == PG_LEVEL_2M && iter.gfn == TT_2M && !visits++)
			iter.restart = true;
	}
	CHECK_EQ_U(visits, 2); /* the 2 MiB entry at TT_2M, seen again after the restart */
	rcu_read_unlock();
	tt_destroy(mmu, &cache);
}

static void test_fault_maps_each_level(void)
{
	for_each_format(f) {
		struct tdp_mmu_config cfg = tt_config(f);
		struct tdp_page_cache cache = { 0 };
		unsigned int level = 0;
		struct tdp_mmu *mmu = tt_create(&cfg);
		uint64_t s;

		/* 4 KiB. */
		tt_slot.max_level = PG_LEVEL_4K;
		CHECK_EQ_U(fault(mmu, &cache, 0x1234, TDP_ACC_READ), TDP_FAULT_FIXED);
		s = tt_leaf(mmu, 0x1234, &level, NULL);
		CHECK_EQ_U(level, PG_LEVEL_4K);
		CHECK_EQ_U(spte_to_pfn(s), 0x1234 + TT_PFN_OFFSET);
		CHECK(is_writable_spte(s) && is_accessed_spte(&mmu->fmt, s));
		CHECK(!(s & mmu->fmt.dirty)); /* a read: clean */
		CHECK_EQ_U(tt_count_tables(mmu), 4);
		CHECK_EQ_U(STAT(mmu, leaves_mapped[PG_LEVEL_4K]), 1);
		/* 2 MiB: the frame is the 2 MiB-aligned one. */
		tt_slot.max_level = PG_LEVEL_2M;
		CHECK_EQ_U(fault(mmu, &cache, 3 * TT_2M + 77, TDP_ACC_WRITE), TDP_FAULT_FIXED);
		s = tt_leaf(mmu, 3 * TT_2M + 100, &level, NULL);
		CHECK_EQ_U(level, PG_LEVEL_2M);
		CHECK_EQ_U(spte_to_pfn(s), 3 * TT_2M + TT_PFN_OFFSET);
		CHECK(is_dirty_spte(&mmu->fmt, s));
		/* 1 GiB. */
		tt_slot.max_level = PG_LEVEL_1G;
		CHECK_EQ_U(fault(mmu, &cache, 2 * TT_1G + 12345, TDP_ACC_EXEC), TDP_FAULT_FIXED);
		s = tt_leaf(mmu, 2 * TT_1G + 99999, &level, NULL);
		CHECK_EQ_U(level, PG_LEVEL_1G);
		CHECK_EQ_U(spte_to_pfn(s), 2 * TT_1G + TT_PFN_OFFSET);
		CHECK(is_executable_spte(&mmu->fmt, s));
		CHECK_EQ_U(STAT(mmu, faults_fixed), 3);
		CHECK_EQ_U(STAT(mmu, leaves_mapped[PG_LEVEL_2M]), 1);
		CHECK_EQ_U(STAT(mmu, leaves_mapped[PG_LEVEL_1G]), 1);
		/* The same access again finds its mapping. */
		CHECK_EQ_U(fault(mmu, &cache, 0x1234, TDP_ACC_READ), TDP_FAULT_FIXED);
		CHECK_EQ_U(STAT(mmu, faults_spurious), 1);
		CHECK_EQ_U(STAT(mmu, flushes), 0);
		tt_destroy(mmu, &cache);
	}
}

static void test_fault_refusals(void)
{
	for_each_format(f) {
		struct tdp_mmu_config cfg = tt_config(f);
		struct tdp_page_cache cache = { 0 };
		struct tdp_mmu *mmu = tt_create(&cfg);
		unsigned int level = 0;

		CHECK_EQ_U(fault(mmu, &cache, TT_GFNS, TDP_ACC_READ), TDP_FAULT_NO_SLOT);
		CHECK_EQ_U(fault(mmu, &cache, TDP_GFN_END + 1, TDP_ACC_READ), TDP_FAULT_NO_SLOT);
		tt_slot.writable = false;
		CHECK_EQ_U(fault(mmu, &cache, 10, TDP_ACC_WRITE), TDP_FAULT_READONLY);
		CHECK_EQ_U(fault(mmu, &cache, 10, TDP_ACC_READ), TDP_FAULT_FIXED);
		CHECK(!is_writable_spte(tt_leaf(mmu, 10, &level, NULL)));
		CHECK_EQ_U(level, PG_LEVEL_1G);
		CHECK_EQ_U(tt_count_tables(mmu), 2);
		CHECK_EQ_U(STAT(mmu, faults), 4);
		CHECK_EQ_U(STAT(mmu, faults_fixed), 1);
		tt_destroy(mmu, &cache);
	}
}

/* Dirty logging: a write maps 4 KiB even where the slot allows more; a read maps read-only. */
static void test_fault_dirty_logging(void)
{
	for_each_format(f) {
		struct tdp_mmu_config cfg = tt_config(f);
		struct tdp_page_cache cache = { 0 };
		struct tdp_mmu *mmu = tt_create(&cfg);
		unsigned int level = 0;
		uint64_t s;

		tt_slot.dirty_logging = true;
		tt_slot.max_level = PG_LEVEL_2M;
		CHECK_EQ_U(fault(mmu, &cache, TT_2M + 3, TDP_ACC_WRITE), TDP_FAULT_FIXED);
		s = tt_leaf(mmu, TT_2M + 3, &level, NULL);
		CHECK_EQ_U(level, PG_LEVEL_4K);
		CHECK(is_writable_spte(s) && is_dirty_spte(&mmu->fmt, s));
		CHECK_EQ_U(fault(mmu, &cache, 4 * TT_2M, TDP_ACC_READ), TDP_FAULT_FIXED);
		s = tt_leaf(mmu, 4 * TT_2M + 9, &level, NULL);
		CHECK_EQ_U(level, PG_LEVEL_2M);
		CHECK(!is_writable_spte(s));
		/* The first write into the read-only huge page splits it: reads never fault again. */
		CHECK_EQ_U(fault(mmu, &cache, 4 * TT_2M + 9, TDP_ACC_WRITE), TDP_FAULT_FIXED);
		CHECK(is_writable_spte(tt_leaf(mmu, 4 * TT_2M + 9, &level, NULL)));
		CHECK_EQ_U(level, PG_LEVEL_4K);
		s = tt_leaf(mmu, 4 * TT_2M + 10, &level, NULL);
		CHECK(is_leaf_spte(s, level) && level == PG_LEVEL_4K && !is_writable_spte(s));
		CHECK_EQ_U(spte_to_pfn(s), 4 * TT_2M + 10 + TT_PFN_OFFSET);
		CHECK_EQ_U(STAT(mmu, huge_split), 1);
		CHECK_EQ_U(fault(mmu, &cache, 4 * TT_2M + 10, TDP_ACC_READ), TDP_FAULT_FIXED);
		CHECK_EQ_U(STAT(mmu, faults_spurious), 1);
		CHECK_EQ_U(STAT(mmu, flushes), 0); /* a split keeps the translation */
		tt_destroy(mmu, &cache);
	}
}

/* The table that holds gfn's entry at level. */
static tdp_ptep_t table_of(struct tdp_mmu *mmu, gfn_t gfn, unsigned int level)
{
	struct tdp_iter iter;
	tdp_ptep_t table = NULL;

	rcu_read_lock();
	for_each_tdp_pte(iter, mmu->root_pt, gfn, gfn + 1)
		if (iter.level == level)
			table = tdp_iter_table(&iter);
	rcu_read_unlock();
	return table;
}

static struct tdp_mmu *ordering_mmu;
static unsigned long ordering_freed_at_flush;
static tdp_ptep_t ordering_table;
static bool ordering_frozen;

/* Inside the flush: the unlinked table is frozen, and nothing has been freed yet. */
static void check_nothing_freed_yet(void)
{
	bool frozen = true;

	ordering_freed_at_flush = STAT(ordering_mmu, tables_freed);
	if (ordering_table)
		for (unsigned int i = 0; i < TDP_PTES_PER_TABLE; i++)
			frozen &= is_removed_spte(tdp_read_spte(&ordering_table[i]));
	ordering_frozen = frozen;
}

/* A huge page over a table: unlink, flush, and only then free, through RCU. */
static void test_fault_huge_over_table(void)
{
	for_each_format(f) {
		struct tdp_mmu_config cfg = tt_config(f);
		struct tdp_page_cache cache = { 0 };
		struct tdp_mmu *mmu = tt_create(&cfg);
		unsigned int level = 0;
		uint64_t s;

		tt_slot.max_level = PG_LEVEL_4K;
		CHECK_EQ_U(fault(mmu, &cache, TT_2M + 1, TDP_ACC_WRITE), TDP_FAULT_FIXED);
		ordering_table = table_of(mmu, TT_2M + 1, PG_LEVEL_4K);
		ordering_mmu = mmu;
		tt_on_flush = check_nothing_freed_yet;
		tt_slot.max_level = PG_LEVEL_2M;
		CHECK_EQ_U(fault(mmu, &cache, TT_2M + 2, TDP_ACC_READ), TDP_FAULT_FIXED);
		s = tt_leaf(mmu, TT_2M + 1, &level, NULL);
		CHECK_EQ_U(level, PG_LEVEL_2M);
		CHECK_EQ_U(spte_to_pfn(s), TT_2M + TT_PFN_OFFSET);
		CHECK_EQ_U(atomic_load(&tt_flushes), 1);
		CHECK_EQ_U(STAT(mmu, flushes), 1);
		CHECK_EQ_U(ordering_freed_at_flush, 0);
		CHECK(ordering_frozen);
		/* The dirty 4 KiB leaf was handed to mark_dirty when its table was frozen. */
		CHECK(tt_dirty(TT_2M + 1));
		rcu_barrier();
		CHECK_EQ_U(STAT(mmu, tables_freed), 1);
		ordering_table = NULL;
		tt_destroy(mmu, &cache);
	}
}

/*
 * The demand fault's short way (tdp_map_hinted_empty()): once a fault has
 * walked to a level-1 table, the next 4 KiB fault into an empty entry of
 * it takes the lock once and allocates nothing; one over a leaf takes the
 * lock once too (in tdp_map()); one after an unlink walks from the root.
 */
static void test_fault_short_way(void)
{
	for (unsigned int exclusive = 0; exclusive < 2; exclusive++) {
		for_each_format(f) {
			struct tdp_mmu_config cfg = tt_config(f);
			struct tdp_page_cache cache = { 0 };
			unsigned long locks, writes, tables;
			unsigned int level = 0;
			struct tdp_mmu *mmu;
			uint64_t s;

			cfg.policy.lock_exclusive = exclusive;
			mmu = tt_create(&cfg);
#define LOCKS() (STAT(mmu, lock_read) + STAT(mmu, lock_write))
			tt_slot.max_level = PG_LEVEL_4K;
			CHECK_EQ_U(fault(mmu, &cache, 5 * TT_2M + 7, TDP_ACC_READ), TDP_FAULT_FIXED);
			CHECK_EQ_U(tt_count_tables(mmu), 4);
			locks = LOCKS();
			writes = STAT(mmu, lock_write);
			tables = STAT(mmu, tables_allocated);
			/* The same table, an empty entry: one lock, no table, the right leaf. */
			CHECK_EQ_U(fault(mmu, &cache, 5 * TT_2M + 8, TDP_ACC_WRITE), TDP_FAULT_FIXED);
			CHECK_EQ_U(LOCKS(), locks + 1);
			CHECK_EQ_U(STAT(mmu, lock_write), writes + exclusive);
			CHECK_EQ_U(STAT(mmu, tables_allocated), tables);
			s = tt_leaf(mmu, 5 * TT_2M + 8, &level, NULL);
			CHECK_EQ_U(level, PG_LEVEL_4K);
			CHECK_EQ_U(spte_to_pfn(s), 5 * TT_2M + 8 + TT_PFN_OFFSET);
			CHECK(is_writable_spte(s) && is_dirty_spte(&mmu->fmt, s));
			CHECK_EQ_U(STAT(mmu, faults_fixed), 2);
			CHECK_EQ_U(STAT(mmu, leaves_mapped[PG_LEVEL_4K]), 2);
			/* A read there: a clean leaf. */
			CHECK_EQ_U(fault(mmu, &cache, 5 * TT_2M + 511, TDP_ACC_READ), TDP_FAULT_FIXED);
			s = tt_leaf(mmu, 5 * TT_2M + 511, &level, NULL);
			CHECK(is_accessed_spte(&mmu->fmt, s) && !(s & mmu->fmt.dirty));
			/* Over the leaf: spurious, and still one lock. */
			locks = LOCKS();
			CHECK_EQ_U(fault(mmu, &cache, 5 * TT_2M + 8, TDP_ACC_READ), TDP_FAULT_FIXED);
			CHECK_EQ_U(LOCKS(), locks + 1);
			CHECK_EQ_U(STAT(mmu, faults_spurious), 1);
			/* The next region: a walk, a new level-1 table. */
			CHECK_EQ_U(fault(mmu, &cache, 6 * TT_2M, TDP_ACC_READ), TDP_FAULT_FIXED);
			CHECK_EQ_U(tt_count_tables(mmu), 5);
			/* The hinted table unlinked: the walk from the root links a new one. */
			CHECK_EQ_U(tdp_mmu_zap_range(mmu, 6 * TT_2M, 7 * TT_2M), 1);
			CHECK_EQ_U(tt_count_tables(mmu), 4);
			tables = STAT(mmu, tables_allocated);
			CHECK_EQ_U(fault(mmu, &cache, 6 * TT_2M + 1, TDP_ACC_READ), TDP_FAULT_FIXED);
			CHECK_EQ_U(STAT(mmu, tables_allocated), tables + 1);
			CHECK_EQ_U(spte_to_pfn(tt_leaf(mmu, 6 * TT_2M + 1, NULL, NULL)),
				   6 * TT_2M + 1 + TT_PFN_OFFSET);
			CHECK_EQ_U(STAT(mmu, faults_fixed), 5);
#undef LOCKS
			tt_destroy(mmu, &cache);
		}
	}
}

static void map_range_4k(struct tdp_mmu *mmu, struct tdp_page_cache *c, gfn_t start, gfn_t end,
			 unsigned int access)
{
	unsigned int saved = tt_slot.max_level;

	tt_slot.max_level = PG_LEVEL_4K;
	for (gfn_t g = start; g < end; g++)
		if (fault(mmu, c, g, access) != TDP_FAULT_FIXED)
			CHECK(!"fault failed");
	tt_slot.max_level = saved;
}

static void test_zap_batched_and_eager(void)
{
	for (unsigned int eager = 0; eager < 2; eager++) {
		for_each_format(f) {
			struct tdp_mmu_config cfg = tt_config(f);
			struct tdp_page_cache cache = { 0 };
			struct tdp_mmu *mmu;
			uint64_t zapped;

			cfg.policy.flush_eager = eager;
			mmu = tt_create(&cfg);
			/* Nothing mapped: nothing to flush. */
			CHECK_EQ_U(tdp_mmu_zap_range(mmu, 0, TT_1G), 0);
			CHECK_EQ_U(STAT(mmu, flushes), 0);
			/* Four tables' worth, zapped whole: four tables unlinked. */
			map_range_4k(mmu, &cache, 0, 4 * TT_2M, TDP_ACC_WRITE);
			ordering_mmu = mmu;
			ordering_table = NULL;
			tt_on_flush = check_nothing_freed_yet;
			zapped = tdp_mmu_zap_range(mmu, 0, 4 * TT_2M);
			CHECK_EQ_U(zapped, 4 * TT_2M);
			CHECK_EQ_U(STAT(mmu, flushes), eager ? 4 : 1);
			CHECK_EQ_U(ordering_freed_at_flush, 0);
			CHECK_EQ_U(STAT(mmu, leaves_zapped), 4 * TT_2M);
			CHECK(!tt_leaf(mmu, 5, NULL, NULL));
			for (gfn_t g = 0; g < 4 * TT_2M; g++)
				if (!tt_dirty(g))
					CHECK(!"a dirty leaf was zapped without mark_dirty");
			CHECK_EQ_U(STAT(mmu, tables_freed), 0); /* not before a grace period */
			rcu_barrier();
			CHECK_EQ_U(STAT(mmu, tables_freed), 4);
			/* Part of a table: leaves only, one flush (eager: one per table touched). */
			map_range_4k(mmu, &cache, 0, 2 * TT_2M, TDP_ACC_READ);
			atomic_store(&tt_flushes, 0);
			zapped = tdp_mmu_zap_range(mmu, 100, TT_2M + 50);
			CHECK_EQ_U(zapped, TT_2M + 50 - 100);
			CHECK_EQ_U(atomic_load(&tt_flushes), eager ? 2 : 1);
			CHECK(tt_leaf(mmu, 99, NULL, NULL) && !tt_leaf(mmu, 100, NULL, NULL));
			CHECK(tt_leaf(mmu, TT_2M + 50, NULL, NULL) && !tt_leaf(mmu, TT_2M + 49, NULL, NULL));
			/* A huge leaf that only overlaps the range goes whole. */
			tt_slot.max_level = PG_LEVEL_2M;
			CHECK_EQ_U(fault(mmu, &cache, 8 * TT_2M, TDP_ACC_READ), TDP_FAULT_FIXED);
			CHECK_EQ_U(tdp_mmu_zap_range(mmu, 8 * TT_2M + 5, 8 * TT_2M + 6), 1);
			CHECK(!tt_leaf(mmu, 8 * TT_2M, NULL, NULL));
			tt_destroy(mmu, &cache);
		}
	}
}

/* Yielding in the middle of a zap settles its flush and its frees before the quiescent state. */
static void test_zap_yields(void)
{
	for_each_format(f) {
		struct tdp_mmu_config cfg = tt_config(f);
		struct tdp_page_cache cache = { 0 };
		struct tdp_mmu *mmu = tt_create(&cfg);

		map_range_4k(mmu, &cache, 0, 3 * TT_2M, TDP_ACC_READ);
		tdp_mmu_debug_yield_every(mmu, 7);
		CHECK_EQ_U(tdp_mmu_zap_range(mmu, 0, 3 * TT_2M), 3 * TT_2M);
		CHECK(STAT(mmu, flushes) >= 1);
		rcu_barrier();
		CHECK_EQ_U(STAT(mmu, tables_freed), 3);
		/* Yielding walks elsewhere reach the same result. */
		map_range_4k(mmu, &cache, 0, TT_2M, TDP_ACC_READ);
		CHECK_EQ_U(tdp_mmu_write_protect_range(mmu, 0, TT_2M), TT_2M);
		CHECK(!is_writable_spte(tt_leaf(mmu, TT_2M - 1, NULL, NULL)));
		tt_destroy(mmu, &cache);
	}
}

static struct tdp_mmu *nested_mmu;
static uint64_t nested_zapped, nested_protected;
static unsigned long nested_flushes;
static bool nested_done;

/*
 * Inside the first zap's flush (its count in unflushed still held), CPU 1
 * zaps and write-protects the same, now empty, range: nothing left to
 * change, yet they must not return before a flush, or a TLB could keep
 * what the first zap removed.
 */
static void zap_again_from_cpu1(void)
{
	unsigned long before;

	if (nested_done)
		return;
	nested_done = true;
	host_cpu_enter(1);
	rcu_online();
	before = atomic_load(&tt_flushes);
	nested_zapped = tdp_mmu_zap_range(nested_mmu, 0, TT_2M);
	nested_protected = tdp_mmu_write_protect_range(nested_mmu, 0, TT_2M);
	nested_flushes = atomic_load(&tt_flushes) - before;
	rcu_offline();
	host_cpu_enter(0);
}

static void test_empty_zap_waits_for_pending_flush(void)
{
	for_each_format(f) {
		struct tdp_mmu_config cfg = tt_config(f);
		struct tdp_page_cache cache = { 0 };
		struct tdp_mmu *mmu = tt_create(&cfg);

		map_range_4k(mmu, &cache, 0, 16, TDP_ACC_WRITE);
		nested_mmu = mmu;
		nested_done = false;
		tt_on_flush = zap_again_from_cpu1;
		CHECK_EQ_U(tdp_mmu_zap_range(mmu, 0, TT_2M), 16);
		CHECK(nested_done);
		CHECK_EQ_U(nested_zapped, 0);
		CHECK_EQ_U(nested_protected, 0);
		CHECK_EQ_U(nested_flushes, 2); /* one each, though neither changed anything */
		CHECK_EQ_U(atomic_load(&mmu->unflushed), 0);
		/* With no flush pending, an empty zap flushes nothing. */
		atomic_store(&tt_flushes, 0);
		CHECK_EQ_U(tdp_mmu_zap_range(mmu, 0, TT_2M), 0);
		CHECK_EQ_U(atomic_load(&tt_flushes), 0);
		tt_destroy(mmu, &cache);
	}
}

/* Take every free page (linked through their first word); returns the list. */
static void *hoard_all_pages(void)
{
	void *list = NULL, *page;

	for (unsigned int order = PAGE_MAX_ORDER + 1; order-- > 0;)
		while ((page = page_alloc(order))) {
			for (unsigned long i = 0; i < (1UL << order); i++) {
				void **p = (void **)((char *)page + i * PAGE_SIZE);

				*p = list;
				list = p;
			}
		}
	return list;
}

static void release_pages(void *list)
{
	while (list) {
		void *next = *(void **)list;

		page_free(list, 0);
		list = next;
	}
}

/* Out of memory: faults say so, and a zap frees its tables the slow way. */
static void test_out_of_memory(void)
{
	for_each_format(f) {
		struct tdp_mmu_config cfg = tt_config(f);
		struct tdp_page_cache cache = { 0 }, empty = { 0 };
		struct tdp_mmu *mmu = tt_create(&cfg);
		void *hoard;

		map_range_4k(mmu, &cache, 0, 2 * TT_2M, TDP_ACC_READ);
		tdp_page_cache_release(&cache);
		hoard = hoard_all_pages();
		CHECK_EQ_U(fault(mmu, &empty, TT_1G, TDP_ACC_READ), TDP_FAULT_NOMEM);
		/* No page for the RCU carrier: the zap waits a grace period and frees itself. */
		CHECK_EQ_U(tdp_mmu_zap_range(mmu, 0, 2 * TT_2M), 2 * TT_2M);
		CHECK_EQ_U(STAT(mmu, tables_freed), 2);
		CHECK_EQ_U(STAT(mmu, flushes), 1);
		release_pages(hoard);
		tt_destroy(mmu, &cache);
	}
}

static void test_zap_exclusive_lock(void)
{
	for_each_format(f) {
		struct tdp_mmu_config cfg = tt_config(f);
		struct tdp_page_cache cache = { 0 };
		struct tdp_mmu *mmu;

		cfg.policy.lock_exclusive = true;
		mmu = tt_create(&cfg);
		map_range_4k(mmu, &cache, 0, 600, TDP_ACC_READ);
		CHECK_EQ_U(tdp_mmu_zap_range(mmu, 0, TT_2M), 512);
		CHECK_EQ_U(STAT(mmu, lock_read), 0);
		CHECK_EQ_U(STAT(mmu, lock_write), 601);
		CHECK_EQ_U(STAT(mmu, flushes), 1);
		tt_destroy(mmu, &cache);
	}
}

/* Destroy after mixed sizes: every table returns to the allocator. */
static void test_destroy_frees_everything(void)
{
	for_each_format(f) {
		struct tdp_mmu_config cfg = tt_config(f);
		struct tdp_page_cache cache = { 0 };
		struct tdp_mmu *mmu = tt_create(&cfg);

		map_range_4k(mmu, &cache, TT_1G - 700, TT_1G + 700, TDP_ACC_WRITE);
		tt_slot.max_level = PG_LEVEL_2M;
		CHECK_EQ_U(fault(mmu, &cache, 7 * TT_1G / 4, TDP_ACC_READ), TDP_FAULT_FIXED);
		tt_slot.max_level = PG_LEVEL_1G;
		CHECK_EQ_U(fault(mmu, &cache, 3 * TT_1G + 5, TDP_ACC_READ), TDP_FAULT_FIXED);
		CHECK_EQ_U(tt_stat_tables_live(mmu), tt_count_tables(mmu));
		tt_destroy(mmu, &cache); /* checks the allocator's count */
	}
}

struct racer {
	struct tdp_mmu *mmu;
	unsigned int cpu;
	gfn_t gfn;
	pthread_barrier_t *start;
	enum tdp_fault_result result;
	struct tdp_page_cache cache;
};

static void *race_fault(void *arg)
{
	struct racer *r = arg;

	host_cpu_enter(r->cpu);
	rcu_online();
	tdp_page_cache_topup(&r->cache);
	pthread_barrier_wait(r->start);
	r->result = fault(r->mmu, &r->cache, r->gfn, TDP_ACC_WRITE);
	rcu_offline();
	return NULL;
}

/* Two vCPUs fault on the same gfn: both succeed, exactly one mapping is installed. */
static void test_two_vcpus_same_gfn(void)
{
	for_each_format(f) {
		struct tdp_mmu_config cfg = tt_config(f);
		struct tdp_mmu *mmu = tt_create(&cfg);
		pthread_barrier_t start;
		struct racer r[2] = { { .cpu = 1 }, { .cpu = 2 } };
		unsigned long rounds = 200;

		tt_slot.max_level = PG_LEVEL_4K;
		pthread_barrier_init(&start, NULL, 2);
		rcu_offline(); /* main waits for the racers without holding up grace periods */
		for (unsigned long i = 0; i < rounds; i++) {
			pthread_t t[2];

			for (int k = 0; k < 2; k++) {
				r[k].mmu = mmu;
				r[k].gfn = i * 7919 % TT_GFNS;
				r[k].start = &start;
				pthread_create(&t[k], NULL, race_fault, &r[k]);
			}
			for (int k = 0; k < 2; k++)
				pthread_join(t[k], NULL);
			host_cpu_enter(0);
			CHECK(r[0].result == TDP_FAULT_FIXED || r[0].result == TDP_FAULT_RETRY);
			CHECK(r[1].result == TDP_FAULT_FIXED || r[1].result == TDP_FAULT_RETRY);
		}
		rcu_online();
		CHECK_EQ_U(STAT(mmu, leaves_mapped[PG_LEVEL_4K]), rounds);
		CHECK_EQ_U(STAT(mmu, faults_fixed), rounds);
		CHECK_EQ_U(STAT(mmu, faults), 2 * rounds);
		for (int k = 0; k < 2; k++) {
			host_cpu_enter(r[k].cpu);
			tdp_page_cache_release(&r[k].cache);
		}
		host_cpu_enter(0);
		pthread_barrier_destroy(&start);
		tt_destroy(mmu, NULL);
	}
}

static struct tdp_mmu *assert_mmu;

static void set_spte_without_lock(void)
{
	struct tdp_op op = { .mmu = assert_mmu, .lock = TDP_LOCK_READ };
	struct tdp_iter iter;

	rcu_read_lock();
	tdp_iter_start(&iter, assert_mmu->root_pt, TDP_ROOT_LEVEL, 0);
	tdp_set_spte_atomic(&op, &iter, 0);
}

static void clear_w_without_lock(void)
{
	struct tdp_op op = { .mmu = assert_mmu, .lock = TDP_LOCK_NONE };
	struct tdp_iter iter;

	rcu_read_lock();
	for_each_tdp_pte(iter, assert_mmu->root_pt, 0, 1)
		if (iter.level == PG_LEVEL_4K)
			tdp_clear_spte_bits(&op, &iter, SPTE_WRITABLE);
}

static void walk_without_rcu(void)
{
	struct tdp_iter iter;

	tdp_iter_start(&iter, assert_mmu->root_pt, PG_LEVEL_4K, 0);
}

/* The funnel's preconditions are checked (MM_DEBUG). */
static void test_setters_assert_their_locks(void)
{
	struct tdp_mmu_config cfg = tt_config(TT_NPT);
	struct tdp_page_cache cache = { 0 };

	assert_mmu = tt_create(&cfg);
	tt_slot.max_level = PG_LEVEL_4K;
	CHECK_EQ_U(fault(assert_mmu, &cache, 0, TDP_ACC_WRITE), TDP_FAULT_FIXED);
	expect_panic(set_spte_without_lock, "BUG at");
	expect_panic(clear_w_without_lock, "BUG at");
	expect_panic(walk_without_rcu, "outside rcu_read_lock");
	tt_destroy(assert_mmu, &cache);
}

int main(void)
{
	tt_setup(3);
	RUN_TEST(test_spte_formats);
	RUN_TEST(test_iterator_preorder);
	RUN_TEST(test_fault_maps_each_level);
	RUN_TEST(test_fault_refusals);
	RUN_TEST(test_fault_dirty_logging);
	RUN_TEST(test_fault_huge_over_table);
	RUN_TEST(test_fault_short_way);
	RUN_TEST(test_zap_batched_and_eager);
	RUN_TEST(test_zap_yields);
	RUN_TEST(test_zap_exclusive_lock);
	RUN_TEST(test_empty_zap_waits_for_pending_flush);
	RUN_TEST(test_out_of_memory);
	RUN_TEST(test_destroy_frees_everything);
	RUN_TEST(test_two_vcpus_same_gfn);
	RUN_TEST(test_setters_assert_their_locks);
	rcu_offline();
	host_arena_destroy();
	return check_summary("test_tdp_mmu");
}
