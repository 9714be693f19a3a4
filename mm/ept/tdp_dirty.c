// SPDX-License-Identifier: MIT
/*
 * Dirty logging: take write access away (every format), or clear the D
 * bits (formats that have them). Either way the dirty state leaves the
 * entry through handle_changed_spte(), which hands it to ops->mark_dirty,
 * and the call flushes before it returns: a TLB entry that still allows a
 * write, or still remembers D as set, would let a write go unlogged.
 *
 * wp=lockless (the default) runs under mmu_lock held for read and clears W
 * in a 4 KiB leaf with one atomic fetch_and: at level 1 an entry is always
 * a leaf or empty, so whatever it became meanwhile, clearing W is right.
 * A huge leaf can turn into a table under us (a lazy split in a fault), so
 * it goes through cmpxchg. wp=locked takes mmu_lock for write instead.
 */
#include "mm/ept/tdp_mmu_internal.h"

/*
 * The W bit of every leaf in [start, end). A huge leaf becomes read-only
 * with split=lazy (the first write fault splits it, reads never fault) and
 * non-present otherwise (the next fault maps at the level the log allows).
 */
uint64_t tdp_mmu_write_protect_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end)
{
	struct tdp_iter iter;
	struct tdp_op op;
	uint64_t nr = 0;

	if (end > TDP_GFN_END)
		end = TDP_GFN_END;
	if (start >= end)
		return 0;
	tdp_op_begin(&op, mmu, tdp_mmu_change_lock(mmu, mmu->cfg.policy.wp_locked));
	op.guarantees_flushed = true;
	for_each_tdp_pte(iter, mmu->root_pt, start, end) {
		if (tdp_op_cond_yield(&op, &iter, NULL))
			continue;
		tdp_op_eager_leaf_batch(&op, &iter);
retry:
		if (tdp_iter_walk_again_if_removed(&iter))
			continue;
		if (!is_leaf_spte(iter.old_spte, iter.level) || !is_writable_spte(iter.old_spte))
			continue;
		if (iter.level == PG_LEVEL_4K && op.lock == TDP_LOCK_READ) {
			uint64_t old = tdp_clear_spte_bits(&op, &iter, SPTE_WRITABLE);

			nr += is_leaf_spte(old, iter.level) && is_writable_spte(old);
			tdp_iter_walk_again_if_removed(&iter); /* frozen under us */
			continue;
		}
		if (!tdp_set_spte(&op, &iter,
				  iter.level == PG_LEVEL_4K || mmu->cfg.split_lazy
					  ? iter.old_spte & ~SPTE_WRITABLE
					  : 0))
			goto retry;
		nr++;
	}
	tdp_op_end(&op);
	tdp_op_stat_add(&op, leaves_write_protected, nr);
	tdp_op_stat_add(&op, leaves_zapped, op.leaves_zapped);
	return nr;
}

/*
 * D-bit dirty logging: clear D in every leaf of [start, end) that has it,
 * handing each dirty page to mark_dirty; the leaves stay writable. Returns
 * the leaves cleaned (0 for EPT without A/D bits).
 */
uint64_t tdp_mmu_clear_dirty_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end)
{
	uint64_t d = mmu->fmt.dirty, nr = 0;
	struct tdp_iter iter;
	struct tdp_op op;

	if (end > TDP_GFN_END)
		end = TDP_GFN_END;
	if (!d || start >= end)
		return 0;
	tdp_op_begin(&op, mmu, tdp_mmu_change_lock(mmu, mmu->cfg.policy.wp_locked));
	op.guarantees_flushed = true;
	for_each_tdp_pte(iter, mmu->root_pt, start, end) {
		if (tdp_op_cond_yield(&op, &iter, NULL))
			continue;
		tdp_op_eager_leaf_batch(&op, &iter);
retry:
		if (tdp_iter_walk_again_if_removed(&iter))
			continue;
		if (!is_leaf_spte(iter.old_spte, iter.level) || !(iter.old_spte & d))
			continue;
		if (iter.level == PG_LEVEL_4K && op.lock == TDP_LOCK_READ) {
			uint64_t old = tdp_clear_spte_bits(&op, &iter, d);

			nr += is_leaf_spte(old, iter.level) && (old & d);
			tdp_iter_walk_again_if_removed(&iter); /* frozen under us */
			continue;
		}
		if (!tdp_set_spte(&op, &iter, iter.old_spte & ~d))
			goto retry;
		nr++;
	}
	tdp_op_end(&op);
	return nr;
}
