// SPDX-License-Identifier: MIT
/*
 * Changing page sizes. A split replaces a huge leaf with a table that
 * repeats its translation one level down (same frames, permissions and
 * A/D bits), so it needs no flush: a TLB that still holds the huge
 * translation holds a right one. A collapse replaces a table with a huge
 * leaf where the slot allows it, which unlinks the table: that one is
 * flushed before it is freed.
 */
#include "mm/ept/tdp_mmu_internal.h"

/*
 * Under mmu_lock (either mode): split the huge leaf at iter with a table
 * from cache. Always by cmpxchg, even under the write lock: the children
 * are copies of iter->old_spte, so if the CPU set A or D meanwhile the copy
 * is stale and must be made again. Returns false if the entry changed
 * (iter->old_spte holds the new value) or the cache is empty.
 */
bool tdp_split_huge_spte(struct tdp_op *op, struct tdp_page_cache *cache, struct tdp_iter *iter)
{
	struct tdp_mmu *mmu = op->mmu;
	uint64_t huge = iter->old_spte;
	tdp_ptep_t table;

	tdp_assert_held(mmu);
	BUG_ON(!is_leaf_spte(huge, iter->level) || iter->level == PG_LEVEL_4K);
	table = tdp_page_cache_pop(cache);
	if (!table)
		return false;
	for (unsigned int i = 0; i < TDP_PTES_PER_TABLE; i++)
		tdp_init_private_spte(&table[i], make_split_child_spte(huge, iter->level, i));
	if (!tdp_set_spte_atomic(op, iter,
				 make_nonleaf_spte(&mmu->fmt, platform_virt_to_phys((void *)table)))) {
		tdp_page_cache_push(cache, (void *)table);
		return false;
	}
	tdp_op_stat_inc(op, tables_allocated);
	tdp_op_stat_inc(op, huge_split);
	return true;
}

/*
 * split=eager: when dirty logging starts, break every huge leaf of
 * [start, end) down to 4 KiB, so the write faults that follow only ever
 * make a 4 KiB leaf writable. The walk goes on into each new table, so a
 * 1 GiB leaf becomes 2 MiB leaves and then 4 KiB ones. When the cache runs
 * dry the call yields, tops it up and goes on. Returns the leaves split.
 */
uint64_t tdp_mmu_split_huge_range(struct tdp_mmu *mmu, struct tdp_page_cache *cache,
				  gfn_t start, gfn_t end)
{
	uint64_t nr = 0;
	struct tdp_iter iter;
	struct tdp_op op;

	if (!tdp_clamp_range(start, &end))
		return 0;
	tdp_page_cache_topup(cache);
	tdp_op_begin(&op, mmu, tdp_mmu_change_lock(mmu, false));
	for_each_tdp_pte(iter, mmu->root_pt, start, end) {
		if (tdp_op_cond_yield(&op, &iter, cache))
			continue;
retry:
		if (tdp_iter_walk_again_if_removed(&iter))
			continue;
		if (!is_leaf_spte(iter.old_spte, iter.level) || iter.level == PG_LEVEL_4K)
			continue;
		if (!cache->nr) {
			tdp_op_cond_yield(&op, &iter, cache);
			if (!cache->nr)
				break; /* out of memory: the rest stays huge */
			continue;
		}
		if (!tdp_split_huge_spte(&op, cache, &iter))
			goto retry;
		nr++;
	}
	tdp_op_end(&op);
	return nr;
}

/*
 * Logging is off again: put huge leaves back where the slot allows them.
 * Each table that lies wholly inside [start, end) at a level the MMU can
 * map is replaced by one leaf; the new leaf is young (A set), since its
 * small leaves may have been, and clean (their dirty bits went to
 * mark_dirty when the table was frozen). Calls ops->gfn_to_pfn under
 * mmu_lock. Returns the leaves installed.
 */
uint64_t tdp_mmu_collapse_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end)
{
	struct mmu_pfn_info info;
	struct tdp_iter iter;
	struct tdp_op op;
	uint64_t nr = 0;

	if (!tdp_clamp_range(start, &end))
		return 0;
	tdp_op_begin(&op, mmu, tdp_mmu_change_lock(mmu, false));
	for_each_tdp_pte(iter, mmu->root_pt, start, end) {
		uint64_t pages = tdp_pages_per_level(iter.level), leaf;

		if (tdp_op_cond_yield(&op, &iter, NULL))
			continue;
retry:
		if (tdp_iter_walk_again_if_removed(&iter))
			continue;
		if (!is_shadow_present_spte(iter.old_spte) || is_last_spte(iter.old_spte, iter.level))
			continue;
		if (iter.level > mmu->cfg.max_level || !tdp_iter_inside(&iter, start, end))
			continue;
		if (!mmu->ops.gfn_to_pfn(mmu->owner, iter.gfn, &info) || info.dirty_logging ||
		    info.max_level < iter.level || (info.pfn & (pages - 1)))
			continue; /* maybe a smaller page fits: the walk goes down */
		leaf = make_leaf_spte(&mmu->fmt, info.pfn, iter.level, info.writable, info.writable,
				      true, false);
		if (!tdp_set_spte(&op, &iter, leaf))
			goto retry;
		nr++;
	}
	tdp_op_end(&op);
	tdp_op_stat_add(&op, leaves_zapped, op.leaves_zapped);
	return nr;
}
