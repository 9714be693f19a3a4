// SPDX-License-Identifier: MIT
/*
 * The pre-order walk of tdp_iter.h: step down into a table when the entry
 * points to one, else step to the next entry of the same table, else step
 * up and on. The root is a 512-entry table at TDP_ROOT_LEVEL.
 */
#include "mm/ept/tdp_iter.h"

static gfn_t round_gfn_for_level(gfn_t gfn, unsigned int level)
{
	return gfn & ~(tdp_pages_per_level(level) - 1);
}

/* Point at the entry for iter->gfn in the table at iter->level and read it. */
static void tdp_iter_refresh_sptep(struct tdp_iter *iter)
{
	iter->sptep = tdp_iter_table(iter) + tdp_spte_index(iter->gfn, iter->level);
	iter->old_spte = tdp_read_spte(iter->sptep);
	tdp_iter_check_spte(iter);
}

void tdp_iter_restart(struct tdp_iter *iter)
{
	iter->restart = false;
	iter->yielded_gfn = iter->next_last_level_gfn;
	iter->level = TDP_ROOT_LEVEL;
	iter->gfn = round_gfn_for_level(iter->next_last_level_gfn, iter->level);
	tdp_iter_refresh_sptep(iter);
	iter->valid = true;
}

void tdp_iter_start(struct tdp_iter *iter, tdp_ptep_t root_pt, unsigned int min_level, gfn_t gfn)
{
	RCU_CHECK(rcu_read_lock_held(), "tdp_iter_start outside rcu_read_lock");
	BUG_ON(min_level < PG_LEVEL_4K || min_level > TDP_ROOT_LEVEL);
	iter->pt_path[TDP_ROOT_LEVEL - 1] = root_pt;
	iter->min_level = min_level;
	iter->next_last_level_gfn = gfn;
	tdp_iter_restart(iter);
}

/* Into the table the current entry points to, if it points to one. */
static bool try_step_down(struct tdp_iter *iter)
{
	if (iter->level == iter->min_level)
		return false;
	/* old_spte, not a re-read: the caller decided on this value (a zap set it to 0). */
	if (!is_shadow_present_spte(iter->old_spte) || is_last_spte(iter->old_spte, iter->level))
		return false;
	tdp_iter_step_down(iter);
	return true;
}

/* To the next entry of the same table, unless this was its last. */
static bool try_step_side(struct tdp_iter *iter)
{
	if (tdp_spte_index(iter->gfn, iter->level) == TDP_PTES_PER_TABLE - 1)
		return false;
	iter->gfn += tdp_pages_per_level(iter->level);
	iter->next_last_level_gfn = iter->gfn;
	iter->sptep++;
	iter->old_spte = tdp_read_spte(iter->sptep);
	tdp_iter_check_spte(iter);
	return true;
}

/* Back to the entry that points to this table. */
static bool try_step_up(struct tdp_iter *iter)
{
	if (iter->level == TDP_ROOT_LEVEL)
		return false;
	iter->level++;
	iter->gfn = round_gfn_for_level(iter->gfn, iter->level);
	tdp_iter_refresh_sptep(iter);
	return true;
}

/*
 * Pre-order: down if possible, else sideways, else up until a sideways step
 * works. After a yield the tables may have changed completely, and after a
 * REMOVED entry the table is on its way out, so the walk starts again from
 * the root at the gfn it had reached (an entry that holds
 * next_last_level_gfn, so the current one is visited again).
 */
void tdp_iter_next(struct tdp_iter *iter)
{
	if (iter->restart) {
		tdp_iter_restart(iter);
		return;
	}
	if (try_step_down(iter))
		return;
	do {
		if (try_step_side(iter))
			return;
	} while (try_step_up(iter));
	iter->valid = false;
}
