// SPDX-License-Identifier: MIT
/*
 * Dirty logging and aging through the rmap. Both walk one gfn's pte_list
 * and clear one bit per entry with an atomic fetch_and
 * (shadow_clear_spte_bits()); the value it returns, not an earlier read,
 * decides. By default the walk takes no lock at all (RCU only, beside
 * faults and zaps); the wp=locked and age=locked twins walk under mmu_lock
 * held for write instead, with every writer of the rmap shut out, so both
 * can be measured in one boot.
 *
 * A lockless walk may wander onto another gfn's chain through a recycled
 * descriptor before its nulls check sends it back, so the per-entry step
 * skips entries whose page says they map another gfn: aging must not
 * credit gfn with another gfn's A bit (and lose it for that one). A walk
 * that keeps starting over gives up after SHADOW_RMAP_MAX_RESTARTS and
 * walks again under shadow_lock: it never reports a young gfn as old.
 */
#include "mm/shadow/shadow_internal.h"

struct rmap_bit_walk {
	struct shadow_op *op;
	gfn_t gfn;
	uint64_t bit;   /* X86_PTE_RW or X86_PTE_A */
	uint64_t found; /* entries that had it */
};

static void rmap_clear_bit_one(shadow_ptep_t sptep, void *arg)
{
	struct rmap_bit_walk *w = arg;
	uint64_t old;

	if (sptep_gfn(sptep) != w->gfn)
		return; /* a recycled descriptor's entry for another gfn */
	old = shadow_clear_spte_bits(w->op, sptep, w->bit);
	if (is_shadow_present(old) && (old & w->bit))
		w->found++;
}

/* Clear w->bit in every entry of head: lockless unless the call holds a lock that shuts writers out. */
static void shadow_rmap_clear_bit(struct shadow_op *op, struct pte_list_head *head,
				  struct rmap_bit_walk *w)
{
	struct shadow_mmu *m = op->mmu;
	unsigned long restarts = 0;

	shadow_assert_rcu();
	if (op->locked || op->lock == SHADOW_LOCK_WRITE) {
		pte_list_walk_locked(head, rmap_clear_bit_one, w);
		return;
	}
	shadow_xstat_inc(m, rmap_walks);
	if (pte_list_walk_lockless(head, rmap_clear_bit_one, w, SHADOW_RMAP_MAX_RESTARTS,
				   &restarts)) {
		shadow_xstat_add(m, rmap_restarts, restarts);
		return;
	}
	/* The chain kept changing under us: shadow_lock stops every writer of it. */
	shadow_xstat_add(m, rmap_restarts, restarts);
	shadow_xstat_inc(m, rmap_fallbacks);
	spin_lock(&m->shadow_lock);
	pte_list_walk_locked(head, rmap_clear_bit_one, w);
	spin_unlock(&m->shadow_lock);
}

/* Take W away from every mapping of gfn; returns how many were writable. */
uint64_t shadow_rmap_write_protect(struct shadow_op *op, struct pte_list_head *head, gfn_t gfn)
{
	struct rmap_bit_walk w = { .op = op, .gfn = gfn, .bit = X86_PTE_RW };

	shadow_rmap_clear_bit(op, head, &w);
	return w.found;
}

/* Clear A in every mapping of gfn; true if one had it. */
bool shadow_rmap_test_and_clear_young(struct shadow_op *op, struct pte_list_head *head, gfn_t gfn)
{
	struct rmap_bit_walk w = { .op = op, .gfn = gfn, .bit = X86_PTE_A };

	shadow_rmap_clear_bit(op, head, &w);
	return w.found != 0;
}

uint64_t shadow_mmu_write_protect_range(struct shadow_mmu *m, gfn_t start, gfn_t end)
{
	struct shadow_meta_iter it;
	struct shadow_op op;
	uint64_t nr = 0;

	if (!shadow_clamp_range(m, start, &end))
		return 0;
	/* The write-protect side of the dirty-log pair (rmap.h): after the caller's stores. */
	rmap_write_protect_begin();
	shadow_op_begin(&op, m, NULL, m->cfg.policy.wp_locked ? SHADOW_LOCK_WRITE : SHADOW_LOCK_NONE, false);
	op.guarantees_flushed = true;
	for_each_shadow_gfn_meta(it, m, start, end)
		if (!pte_list_empty(&it.meta->rmap))
			nr += shadow_rmap_write_protect(&op, &it.meta->rmap, it.gfn);
	shadow_stat_add(m, leaves_write_protected, nr);
	shadow_op_end(&op);
	return nr;
}

uint64_t shadow_mmu_test_and_clear_young(struct shadow_mmu *m, gfn_t start, gfn_t end,
					 uint64_t *young)
{
	struct shadow_meta_iter it;
	struct shadow_op op;
	uint64_t nr = 0;

	if (!shadow_clamp_range(m, start, &end))
		return 0;
	for (uint64_t i = 0; i < (end - start + 63) / 64; i++)
		young[i] = 0;
	shadow_op_begin(&op, m, NULL, m->cfg.policy.age_locked ? SHADOW_LOCK_WRITE : SHADOW_LOCK_NONE,
			false);
	for_each_shadow_gfn_meta(it, m, start, end) {
		if (pte_list_empty(&it.meta->rmap) ||
		    !shadow_rmap_test_and_clear_young(&op, &it.meta->rmap, it.gfn))
			continue;
		young[(it.gfn - start) / 64] |= 1ULL << ((it.gfn - start) % 64);
		nr++;
	}
	/*
	 * No flush: a vCPU may go on using a TLB entry without setting A again,
	 * so a page in use can look old later (as on Linux); what fetch_and
	 * found set is always reported.
	 */
	shadow_stat_add(m, young_cleared, nr);
	shadow_op_end(&op);
	return nr;
}
