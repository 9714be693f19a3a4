// SPDX-License-Identifier: MIT
/*
 * The funnel: every store to a shadow entry goes through one of the three
 * setters here and then through handle_changed_spte() (and a PAE-format
 * root's PDPTEs through shadow_set_pae_pdptes()), which keeps the
 * rmap and the parent links, hands dirty pages to ops->mark_dirty, decides
 * whether the change needs a remote TLB flush, and zaps the shadow pages
 * that lost their last link.
 *
 * A zapped shadow page is frozen: each entry becomes REMOVED by xchg (the
 * last A/D bits the CPU wrote are seen), so nothing points anywhere from
 * it; it waits on its call's chain for the remote flush, and only then goes
 * to call_rcu(): the CPUs' walkers are not RCU readers (a pCPU in guest
 * mode is RCU-offline), the flush is what ends their references, and the
 * grace period ends a lockless rmap walker's.
 *
 * This is the only file in mm/shadow that stores to an entry.
 */
#include "mm/shadow/shadow_internal.h"

static void handle_changed_spte(struct shadow_op *op, shadow_ptep_t sptep, uint64_t old_spte,
				uint64_t new_spte);

/* Before a change that may need a flush: count this call in mmu->unflushed (once). */
void shadow_op_count_unflushed(struct shadow_op *op)
{
	if (op->counted)
		return;
	/* seq_cst: ordered before our change; pairs with the load in shadow_op_end(). */
	atomic_fetch_add(&op->mmu->unflushed, 1);
	op->counted = true;
}

/*
 * Can a TLB (or paging-structure cache) hold something that old_spte
 * allowed and new_spte does not? A link that goes or points elsewhere; a
 * leaf that goes, changes frame, or loses W, U, execute or D (a TLB that
 * remembers D set would write without setting it again).
 */
static bool shadow_change_needs_flush(uint64_t old_spte, uint64_t new_spte, unsigned int level)
{
	if (!is_shadow_present(old_spte))
		return false;
	if (!is_shadow_present(new_spte) || shadow_spte_pfn(old_spte) != shadow_spte_pfn(new_spte))
		return true;
	if (level > 1)
		return false;
	return ((old_spte & ~new_spte) & (X86_PTE_RW | X86_PTE_US | X86_PTE_D)) ||
	       ((new_spte & ~old_spte) & X86_PTE_NX);
}

void shadow_mark_dirty(struct shadow_mmu *m, gfn_t gfn)
{
	if (m->ops.mark_dirty)
		m->ops.mark_dirty(m->owner, gfn);
	else if (m->ops.mark_dirty_range)
		m->ops.mark_dirty_range(m->owner, gfn, 1);
}

/* A link changed: the child's parent list follows, and a child nobody links to any more goes. */
static void handle_changed_link(struct shadow_op *op, shadow_ptep_t sptep, uint64_t old_spte,
				uint64_t new_spte)
{
	struct shadow_mmu *m = op->mmu;
	bool same = is_shadow_present(old_spte) && is_shadow_present(new_spte) &&
		    shadow_spte_pfn(old_spte) == shadow_spte_pfn(new_spte);

	if (same)
		return; /* only the A bit the CPU sets */
	if (is_shadow_present(old_spte)) {
		struct shadow_page *child = spte_to_child(old_spte);

		pte_list_remove(&child->parents, sptep, &m->shadow_lock);
		if (!child->zapped && !child->root_count && pte_list_empty(&child->parents))
			shadow_zap_page(op, child);
	}
	if (is_shadow_present(new_spte))
		pte_list_add(&spte_to_child(new_spte)->parents, sptep, &op->sv->descs,
			     &m->shadow_lock);
}

/*
 * Everything that follows from one entry changing from old_spte to
 * new_spte. Under shadow_lock, except for the W and A clears of
 * shadow_clear_spte_bits(), which never add or remove a leaf.
 */
static void handle_changed_spte(struct shadow_op *op, shadow_ptep_t sptep, uint64_t old_spte,
				uint64_t new_spte)
{
	struct shadow_mmu *m = op->mmu;
	unsigned int level = sptep_to_sp(sptep)->role.level;
	bool was_leaf = is_shadow_leaf(old_spte, level), is_leaf = is_shadow_leaf(new_spte, level);
	bool same_leaf = was_leaf && is_leaf &&
			 shadow_spte_pfn(old_spte) == shadow_spte_pfn(new_spte);
	struct shadow_gfn_meta *meta;
	gfn_t gfn;

	if (old_spte == new_spte)
		return;
	if (shadow_change_needs_flush(old_spte, new_spte, level))
		op->flush = true;
	if (level > 1) {
		handle_changed_link(op, sptep, old_spte, new_spte);
		return;
	}
	if (!was_leaf && !is_leaf)
		return;
	gfn = sptep_gfn(sptep);
	BUG_ON(gfn == SHADOW_NO_GFN);
	meta = shadow_gfn_meta(m, gfn);
	BUG_ON(!meta); /* allocated before the leaf was first installed */
	if (was_leaf && (old_spte & X86_PTE_RW) && !(same_leaf && (new_spte & X86_PTE_RW))) {
		op->write_protected++;
		if (old_spte & X86_PTE_D)
			shadow_mark_dirty(m, gfn); /* written through it: the log must know */
	}
	if (was_leaf && !same_leaf) {
		op->leaves_zapped++;
		if (!op->teardown) /* else the whole chain goes at once (shadow_mmu_destroy()) */
			pte_list_remove(&meta->rmap, sptep, &m->shadow_lock);
	}
	if (is_leaf && !same_leaf) {
		/*
		 * After the entry's store (the caller's cmpxchg) and its slot's gfn:
		 * pte_list_add()'s release pairs with pte_list_walk_lockless()'s
		 * acquire, so a walker that finds the entry sees both.
		 */
		pte_list_add(&meta->rmap, sptep, &op->sv->descs, &m->shadow_lock);
	}
	if (is_leaf && (new_spte & X86_PTE_RW) && !(same_leaf && (old_spte & X86_PTE_RW))) {
		/*
		 * Made writable, in the rmap: now the dirty log may learn of it.
		 * Pairs with rmap_write_protect_begin(): either the write-protect
		 * walk finds this entry, or mark_dirty sees the log's state that
		 * the write-protect's caller stored before it.
		 */
		rmap_mb();
		shadow_mark_dirty(m, gfn);
	}
}

/*
 * Under shadow_lock: install new_spte at sptep and return what it
 * replaced. Other CPUs may still change the entry meanwhile: the CPU sets A
 * and D, lockless walkers clear W and A. So it is a cmpxchg loop; a leaf
 * that stays the same frame keeps the CPU's A and D (D only while
 * writable: W taken away gives D to the log).
 */
uint64_t shadow_set_spte(struct shadow_op *op, shadow_ptep_t sptep, uint64_t new_spte)
{
	unsigned int level = sptep_to_sp(sptep)->role.level;
	uint64_t old = atomic_load_explicit(sptep, memory_order_acquire), want;

	shadow_assert_locked(op->mmu);
	BUG_ON(is_removed_spte(old)); /* nobody reaches a frozen page under the lock */
	for (;;) {
		want = new_spte;
		if (is_shadow_leaf(old, level) && is_shadow_leaf(new_spte, level) &&
		    shadow_spte_pfn(old) == shadow_spte_pfn(new_spte))
			want |= (old & X86_PTE_A) | ((new_spte & X86_PTE_RW) ? old & X86_PTE_D : 0);
		if (shadow_change_needs_flush(old, want, level))
			shadow_op_count_unflushed(op);
		platform_torture_delay();
		/* Release: a table linked here is seen zeroed; acquire: a lost race's value. */
		if (atomic_compare_exchange_strong_explicit(sptep, &old, want, memory_order_acq_rel,
							    memory_order_acquire))
			break;
	}
	handle_changed_spte(op, sptep, old, want);
	return old;
}

/*
 * Under shadow_lock: a level-1 entry that maps gfn. The page's slot learns
 * its gfn before the entry becomes present, so a lockless rmap walker that
 * finds the entry finds the gfn too (the rmap add's release orders them).
 */
static void shadow_leaf_slot_gfn(struct shadow_page *sp, unsigned int i, gfn_t gfn)
{
	if (sp->role.direct) {
		BUG_ON(sp->gfn + i != gfn);
	} else {
		uint32_t cur = atomic_load_explicit(&sp->slot_gfn[i], memory_order_relaxed);

		/* A slot maps one gfn for the page's life: its guest entry is write-protected. */
		BUG_ON(cur && cur != gfn + 1);
		atomic_store_explicit(&sp->slot_gfn[i], (uint32_t)(gfn + 1), memory_order_relaxed);
	}
}

uint64_t shadow_set_leaf(struct shadow_op *op, shadow_ptep_t sptep, gfn_t gfn, uint64_t new_spte)
{
	struct shadow_page *sp = sptep_to_sp(sptep);

	shadow_assert_locked(op->mmu);
	BUG_ON(sp->role.level != 1);
	shadow_leaf_slot_gfn(sp, sptep_index(sptep), gfn);
	return shadow_set_spte(op, sptep, new_spte);
}

/*
 * Under shadow_lock: shadow_set_leaf() for an entry that is empty (not
 * present, not REMOVED), the demand fault's case, in the few steps that
 * case takes: no A/D to carry over, no flush owed, no old leaf to take
 * out of the rmap; the new one goes into its gfn's rmap, and a writable
 * one tells the dirty log, in the order handle_changed_spte() keeps.
 * meta is gfn's (shadow_gfn_meta_alloc()). Returns false, having changed
 * nothing but the slot's gfn (which it keeps anyway), if the entry was not
 * empty after all.
 */
bool shadow_fill_empty_leaf(struct shadow_op *op, shadow_ptep_t sptep, gfn_t gfn,
			    struct shadow_gfn_meta *meta, uint64_t new_spte)
{
	struct shadow_mmu *m = op->mmu;
	struct shadow_page *sp = sptep_to_sp(sptep);
	uint64_t old = 0;

	shadow_assert_locked(m);
	BUG_ON(sp->role.level != 1 || !is_shadow_present(new_spte));
	shadow_leaf_slot_gfn(sp, sptep_index(sptep), gfn);
	platform_torture_delay();
	if (!atomic_compare_exchange_strong_explicit(sptep, &old, new_spte, memory_order_acq_rel,
						     memory_order_acquire))
		return false;
	pte_list_add(&meta->rmap, sptep, &op->sv->descs, &m->shadow_lock);
	if (new_spte & X86_PTE_RW) {
		rmap_mb(); /* see handle_changed_spte() */
		shadow_mark_dirty(m, gfn);
	}
	return true;
}

/*
 * Clear W or A (or both) in a level-1 entry with one fetch_and, with or
 * without shadow_lock: the lockless rmap walkers' setter. The value
 * fetch_and returns decides: an empty or REMOVED entry has neither bit and
 * stays as it is; a leaf that lost W owes a flush, and its D bit to the log.
 */
uint64_t shadow_clear_spte_bits(struct shadow_op *op, shadow_ptep_t sptep, uint64_t mask)
{
	uint64_t old;

	shadow_assert_rcu();
	BUG_ON(mask & ~(X86_PTE_RW | X86_PTE_A));
	BUG_ON(sptep_to_sp(sptep)->role.level != 1);
	if (mask & X86_PTE_RW)
		shadow_op_count_unflushed(op);
	platform_torture_delay();
	old = atomic_fetch_and_explicit(sptep, ~mask, memory_order_acq_rel);
#ifdef MM_DEBUG
	if (unlikely(old == MMU_FREED_POISON))
		platform_panic("shadow: an rmap walk reached a freed shadow table (entry %p)",
			       (void *)sptep);
#endif
	if (!is_shadow_present(old) || !(old & mask & X86_PTE_RW))
		return old;
	op->flush = true;
	op->write_protected++;
	if (old & X86_PTE_D)
		shadow_mark_dirty(op->mmu, sptep_gfn(sptep));
	return old;
}

/*
 * A PAE-format root's 4 PDPTEs (shadow_root.c): P and the table of each
 * level-2 page, 0 where there is none (bits 2:1, 8:5 and 63 are reserved
 * in a PDPTE: a link's usual bits would not do). Written when the root is
 * built and cleared when the vCPU lets go of it, never in between: the
 * CPU loads PDPTEs at VM entry and would not see a change, so the pages
 * are held by root_count rather than linked, and no bookkeeping follows.
 * The slot is the vCPU's, and no CPU holds it meanwhile (shadow_root.c).
 */
void shadow_set_pae_pdptes(shadow_ptep_t pdptes, struct shadow_page *const page[X86_PAE_NR_PDPTES])
{
	for (unsigned int i = 0; i < X86_PAE_NR_PDPTES; i++)
		atomic_store_explicit(&pdptes[i], page[i] ? X86_PTE_P | sp_table_pa(page[i]) : 0,
				      memory_order_relaxed);
}

/*
 * Under shadow_lock: take sp out of the shadow. It leaves the hash (a new
 * lookup builds a fresh one), its guest table is no longer tracked by it,
 * every entry linking to it goes, then every entry of its own is frozen,
 * which unlinks its children (a child left without links goes too) and
 * takes its leaves out of the rmap. A vCPU's root stays allocated,
 * frozen, until the last vCPU lets go of it (shadow_put_root()).
 */
void shadow_zap_page(struct shadow_op *op, struct shadow_page *sp)
{
	struct shadow_mmu *m = op->mmu;
	shadow_ptep_t table = sp_table(sp);

	shadow_assert_locked(m);
	if (sp->zapped)
		return;
	sp->zapped = true;
	shadow_hash_remove(m, sp);
	if (!sp->role.direct)
		shadow_untrack_gfn(op, sp->gfn);
	while (!pte_list_empty(&sp->parents))
		shadow_set_spte(op, pte_list_first(&sp->parents, &m->shadow_lock), 0);
	shadow_op_count_unflushed(op);
	for (unsigned int i = 0; i < X86_PTES_PER_TABLE; i++) {
		uint64_t old = atomic_exchange_explicit(&table[i], MMU_REMOVED_SPTE,
							memory_order_acq_rel);

		BUG_ON(is_removed_spte(old)); /* only the zapper freezes a page */
		handle_changed_spte(op, &table[i], old, MMU_REMOVED_SPTE);
	}
	op->flush = true; /* its table may sit in a paging-structure cache, or in a CR3 */
	if (sp->root_count)
		return;
	sp->free_next = op->zapped;
	op->zapped = sp;
	if (m->cfg.policy.flush_eager)
		shadow_op_flush(op); /* the "before": one flush per shadow page */
}

/* MM_DEBUG: a freed table reads as poison; the header keeps its role for the walkers' checks. */
static void shadow_page_free_rcu(struct rcu_head *head)
{
	struct shadow_page *sp = container_of(head, struct shadow_page, rcu);
	struct shadow_mmu *m = sp->mmu;
	shadow_ptep_t table = sp_table(sp);

#ifdef MM_DEBUG
	for (unsigned int i = 0; i < X86_PTES_PER_TABLE; i++)
		atomic_store_explicit(&table[i], MMU_FREED_POISON, memory_order_relaxed);
#endif
	page_free((void *)table, SHADOW_PAGE_ORDER);
	shadow_stat_inc(m, tables_freed);
}

/*
 * The remote flush this call owes, then the zapped pages to call_rcu(). The
 * order is the point: a vCPU's walker may hold a zapped table in its
 * paging-structure cache until the flush, and a grace period does not wait
 * for a CPU in guest mode. Inside the call's RCU section.
 */
void shadow_op_flush(struct shadow_op *op)
{
	struct shadow_mmu *m = op->mmu;

	shadow_assert_rcu();
	if (op->flush) {
		platform_flush_remote_tlbs(m->owner);
		shadow_stat_inc(m, flushes);
		op->flush = false;
	}
	while (op->zapped) {
		struct shadow_page *sp = op->zapped;

		op->zapped = sp->free_next;
		call_rcu(&sp->rcu, shadow_page_free_rcu);
	}
}
