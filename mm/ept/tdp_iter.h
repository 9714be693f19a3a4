// SPDX-License-Identifier: MIT
/*
 * The one walker of the two-dimensional MMU's tables: a pre-order iterator
 * over every entry that maps part of [start, end), from the root down to
 * min_level. Nothing else in mm/ept walks the levels by hand.
 *
 * It runs with no lock at all: the tables it reaches are kept alive by RCU,
 * so the caller holds rcu_read_lock() from tdp_iter_start() to the last
 * step (mmu_lock only decides who may change entries). An entry may change
 * under the iterator at any time; iter.old_spte is the value it last read,
 * and the setters (tdp_spte.c) refresh it when a change fails or succeeds.
 */
#pragma once

#include "mm/ept/spte.h"

/*
 * A pointer to an entry of a live page table. Entries are only reached
 * inside an RCU read-side section and only read through tdp_read_spte();
 * they change only through the setters in tdp_spte.c.
 */
typedef _Atomic uint64_t *tdp_ptep_t;

/*
 * Acquire: pairs with the release of the cmpxchg that linked a table (in
 * tdp_set_spte_atomic()), so a walker that finds a new non-leaf entry also
 * finds the child table's zeroed or pre-filled entries.
 */
static inline uint64_t tdp_read_spte(tdp_ptep_t sptep)
{
	return atomic_load_explicit(sptep, memory_order_acquire);
}

static inline tdp_ptep_t tdp_spte_to_child_pt(uint64_t spte)
{
	return platform_phys_to_virt(spte & SPTE_PFN_MASK);
}

struct tdp_iter {
	/* The 4 KiB gfn the walk is headed for: a restart resumes from here. */
	gfn_t next_last_level_gfn;
	/* next_last_level_gfn at the last yield: no second yield without progress. */
	gfn_t yielded_gfn;
	/* The table visited at each level: pt_path[level - 1]. */
	tdp_ptep_t pt_path[TDP_ROOT_LEVEL];
	tdp_ptep_t sptep;  /* the current entry */
	gfn_t gfn;         /* the first gfn it maps */
	uint64_t old_spte; /* its value when last read */
	unsigned int level;
	unsigned int min_level;
	bool valid;   /* false once the walk has left the tree */
	bool restart; /* set by a yield or a frozen entry: the next step starts from the root */
};

void tdp_iter_start(struct tdp_iter *iter, tdp_ptep_t root_pt, unsigned int min_level, gfn_t gfn);
void tdp_iter_next(struct tdp_iter *iter);
void tdp_iter_restart(struct tdp_iter *iter);

#ifdef MM_DEBUG
/*
 * Every non-present entry that mmuvisor writes is 0 or REMOVED; anything
 * else (the poison of a freed table, the page allocator's free-list link)
 * means the walk reached a table that is no longer a table.
 */
static inline void tdp_check_spte(uint64_t spte, unsigned int level, gfn_t gfn)
{
	if (!is_shadow_present_spte(spte) && spte && !is_removed_spte(spte))
		platform_panic("tdp_iter: read a freed table: entry %#llx at level %u, gfn %#llx",
			       (unsigned long long)spte, level, (unsigned long long)gfn);
}
#else
static inline void tdp_check_spte(uint64_t spte, unsigned int level, gfn_t gfn)
{
	(void)spte, (void)level, (void)gfn;
}
#endif

static inline void tdp_iter_check_spte(const struct tdp_iter *iter)
{
	tdp_check_spte(iter->old_spte, iter->level, iter->gfn);
}

/* The table that holds the current entry. */
static inline tdp_ptep_t tdp_iter_table(const struct tdp_iter *iter)
{
	return iter->pt_path[iter->level - 1];
}

/* Does the current entry map gfns inside [start, end) only? */
static inline bool tdp_iter_inside(const struct tdp_iter *iter, gfn_t start, gfn_t end)
{
	return iter->gfn >= start && iter->gfn + tdp_pages_per_level(iter->level) <= end;
}

/*
 * A REMOVED entry means the walk is inside a table that is being unlinked:
 * its parent entry changed before the table was frozen, so a walk from the
 * root to the same gfn finds what replaced it (a huge leaf, or nothing).
 * Going on sideways instead would skip that replacement. Returns true when
 * the caller should go on to the next step (`continue`).
 */
static inline bool tdp_iter_walk_again_if_removed(struct tdp_iter *iter)
{
	if (!is_removed_spte(iter->old_spte))
		return false;
	iter->restart = true;
	return true;
}

/*
 * For a walk to one gfn that only ever steps down (the fault path): start
 * at table, which holds the entries of level for gfn, instead of at the
 * root. The tables between the root and table are not recorded, so such a
 * walk must never step up or sideways, and it never uses min_level, valid,
 * restart or yielded_gfn (left unset); tdp_iter_restart() still goes back
 * to the root, and sets them. The caller vouches that table is still a
 * page table (mm/ept/tdp_fault.c: the walk hint).
 */
static inline void tdp_iter_start_at(struct tdp_iter *iter, tdp_ptep_t root_pt, tdp_ptep_t table,
				     unsigned int level, gfn_t gfn)
{
	RCU_CHECK(rcu_read_lock_held(), "tdp_iter_start_at outside rcu_read_lock");
	iter->pt_path[TDP_ROOT_LEVEL - 1] = root_pt;
	iter->pt_path[level - 1] = table;
	iter->next_last_level_gfn = gfn;
	iter->level = level;
	iter->gfn = gfn & ~(tdp_pages_per_level(level) - 1);
	iter->sptep = table + tdp_spte_index(gfn, level);
	iter->old_spte = tdp_read_spte(iter->sptep);
	tdp_iter_check_spte(iter);
}

/* Into the table the current entry points to; the caller saw that it is one. */
static inline void tdp_iter_step_down(struct tdp_iter *iter)
{
	tdp_ptep_t child = tdp_spte_to_child_pt(iter->old_spte);

	iter->level--;
	iter->pt_path[iter->level - 1] = child;
	platform_torture_delay(); /* the table may be unlinked meanwhile: RCU keeps it */
	iter->gfn = iter->next_last_level_gfn & ~(tdp_pages_per_level(iter->level) - 1);
	iter->sptep = child + tdp_spte_index(iter->gfn, iter->level);
	iter->old_spte = tdp_read_spte(iter->sptep);
	tdp_iter_check_spte(iter);
}

#define for_each_tdp_pte_min_level(iter, root_pt, min_level, start, end)          \
	for (tdp_iter_start(&(iter), (root_pt), (min_level), (start));            \
	     (iter).valid && (iter).gfn < (end); tdp_iter_next(&(iter)))

#define for_each_tdp_pte(iter, root_pt, start, end) \
	for_each_tdp_pte_min_level(iter, root_pt, PG_LEVEL_4K, start, end)
