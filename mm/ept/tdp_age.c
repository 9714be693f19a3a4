// SPDX-License-Identifier: MIT
/*
 * Aging: which gfns were used since the last look. It runs under RCU alone,
 * with no mmu_lock (but with mmu_lock=exclusive or age=locked, the "before"),
 * beside faults and zaps: the A bit is cleared with one atomic fetch_and, and the value that fetch_and returns, not an earlier
 * read, says whether the page was young. So a page whose A bit was set
 * when we cleared it is always reported young; if the leaf was zapped
 * first there is nothing left to report, and if it was split meanwhile
 * the walk goes on into the new table, whose leaves inherited the A bit.
 * If the walk finds itself in a table being unlinked (REMOVED entries),
 * it starts again from the root: the A bits frozen with that table are
 * gone, and the huge leaf that replaced it (collapse, or a huge fault) was
 * made young for that reason.
 *
 * There is no flush: a vCPU may keep using a TLB entry after its A bit was
 * cleared without setting it again, so a page can look old while in use
 * (as on Linux). Without A bits (EPT without A/D) every mapped page counts
 * as young.
 */
#include "mm/ept/tdp_mmu_internal.h"

/* Set the bits of [gfn, gfn + pages) inside [start, end) in young; returns how many were new. */
static uint64_t tdp_mark_young(uint64_t *young, gfn_t start, gfn_t end, gfn_t gfn,
			       uint64_t pages)
{
	gfn_t from = gfn > start ? gfn : start;
	gfn_t to = gfn + pages < end ? gfn + pages : end;
	uint64_t nr = 0;

	for (gfn_t g = from; g < to; g++) {
		uint64_t bit = 1ULL << ((g - start) % 64);
		uint64_t *word = &young[(g - start) / 64];

		if (*word == ~0ULL && (g - start) % 64 == 0 && to - g >= 64) {
			g += 63; /* a whole word already young (a revisit after a yield) */
			continue;
		}
		nr += !(*word & bit);
		*word |= bit;
	}
	return nr;
}

static uint64_t tdp_age_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end, uint64_t *young,
			      bool clear)
{
	uint64_t a = mmu->fmt.accessed, nr = 0;
	struct tdp_iter iter;
	struct tdp_op op;

	if (!tdp_clamp_range(start, &end))
		return 0;
	for (uint64_t i = 0; i < (end - start + 63) / 64; i++)
		young[i] = 0;
	/*
	 * mmu_lock=exclusive or age=locked, the "before": aging takes the write
	 * lock, and faults wait for it, instead of running under RCU beside them.
	 */
	tdp_op_begin(&op, mmu, mmu->cfg.policy.lock_exclusive || mmu->cfg.policy.age_locked ? TDP_LOCK_WRITE
									     : TDP_LOCK_NONE);
	for_each_tdp_pte(iter, mmu->root_pt, start, end) {
		uint64_t old = iter.old_spte;

		if (tdp_op_cond_yield(&op, &iter, NULL) || tdp_iter_walk_again_if_removed(&iter))
			continue;
		if (!is_leaf_spte(old, iter.level) || !is_accessed_spte(&mmu->fmt, old))
			continue;
		if (clear && a) {
			old = tdp_clear_spte_bits(&op, &iter, a);
			/* Changed since we looked: only what fetch_and found counts. */
			if (tdp_iter_walk_again_if_removed(&iter) || !is_leaf_spte(old, iter.level) ||
			    !(old & a))
				continue;
			tdp_op_stat_inc(&op, young_cleared);
		}
		nr += tdp_mark_young(young, start, end, iter.gfn, tdp_pages_per_level(iter.level));
	}
	tdp_op_end(&op);
	return nr;
}

uint64_t tdp_mmu_test_and_clear_young(struct tdp_mmu *mmu, gfn_t start, gfn_t end,
				      uint64_t *young)
{
	return tdp_age_range(mmu, start, end, young, true);
}

uint64_t tdp_mmu_test_young(struct tdp_mmu *mmu, gfn_t start, gfn_t end, uint64_t *young)
{
	return tdp_age_range(mmu, start, end, young, false);
}
