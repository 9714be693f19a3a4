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
 * Clear bit in every leaf of [start, end) that has it, under the lock
 * wp=locked asks for: a 4 KiB leaf under the read lock by fetch_and (see
 * above), any other through the setter (cmpxchg under the read lock).
 * wp: bit is W, a huge leaf goes instead unless split=lazy, and the call
 * counts what it did. Returns the leaves that had bit. Inlined into both
 * callers, so that each walk is compiled for its own bit.
 */
static inline __attribute__((always_inline)) uint64_t
tdp_clear_leaf_bit_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end, uint64_t bit, bool wp)
{
	struct tdp_iter iter;
	struct tdp_op op;
	uint64_t nr = 0;

	tdp_op_begin(&op, mmu, tdp_mmu_change_lock(mmu, mmu->cfg.policy.wp_locked));
	op.guarantees_flushed = true;
	for_each_tdp_pte(iter, mmu->root_pt, start, end) {
		bool huge;

		if (tdp_op_yield_or_batch(&op, &iter))
			continue;
retry:
		if (tdp_iter_walk_again_if_removed(&iter))
			continue;
		if (!is_leaf_spte(iter.old_spte, iter.level) || !(iter.old_spte & bit))
			continue;
		if (iter.level == PG_LEVEL_4K && op.lock == TDP_LOCK_READ) {
			uint64_t old = tdp_clear_spte_bits(&op, &iter, bit);

			nr += is_leaf_spte(old, iter.level) && (old & bit);
			tdp_iter_walk_again_if_removed(&iter); /* frozen under us */
			continue;
		}
		huge = iter.level != PG_LEVEL_4K;
		if (!tdp_set_spte(&op, &iter,
				  huge && wp && !mmu->cfg.split_lazy ? 0 : iter.old_spte & ~bit))
			goto retry;
		nr++;
	}
	tdp_op_end(&op);
	if (wp) {
		tdp_op_stat_add(&op, leaves_write_protected, nr);
		tdp_op_stat_add(&op, leaves_zapped, op.leaves_zapped);
	}
	return nr;
}

/*
 * The W bit of every leaf in [start, end). A huge leaf becomes read-only
 * with split=lazy (the first write fault splits it, reads never fault) and
 * non-present otherwise (the next fault maps at the level the log allows).
 */
uint64_t tdp_mmu_write_protect_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end)
{
	if (!tdp_clamp_range(start, &end))
		return 0;
	return tdp_clear_leaf_bit_range(mmu, start, end, SPTE_WRITABLE, true);
}

/*
 * D-bit dirty logging: clear D in every leaf of [start, end) that has it,
 * handing each dirty page to mark_dirty; the leaves stay writable. Returns
 * the leaves cleaned (0 for EPT without A/D bits).
 */
uint64_t tdp_mmu_clear_dirty_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end)
{
	if (!mmu->fmt.dirty || !tdp_clamp_range(start, &end))
		return 0;
	return tdp_clear_leaf_bit_range(mmu, start, end, mmu->fmt.dirty, false);
}
