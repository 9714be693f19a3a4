// SPDX-License-Identifier: MIT
/*
 * The funnel: every change to an entry goes through one of the setters here
 * and then through handle_changed_spte(), which keeps the counters, hands
 * dirty pages to ops->mark_dirty, decides whether the change needs a remote
 * TLB flush, and freezes the tables that the change unlinked.
 *
 * A table that is unlinked is frozen: each of its entries becomes REMOVED by
 * xchg (so no fault can install into it, and the last A/D bits written by
 * the CPU are seen), its leaves and sub-tables are handled recursively, and
 * the table joins its call's chain. The chain is handed to call_rcu() only
 * after the remote flush: the CPUs' walkers are not RCU readers (a pCPU in
 * guest mode is RCU-offline), and the flush is what ends their references.
 *
 * This is the only file in mm/ept that stores to an entry.
 */
#include "mm/ept/tdp_mmu_internal.h"

/* What goes to call_rcu(): one page, carrying the chain of one flush's tables. */
struct tdp_free_batch {
	struct rcu_head rcu;
	struct tdp_mmu *mmu;
	uint64_t chain_pa;
	uint64_t nr;
};

static void handle_changed_spte(struct tdp_op *op, gfn_t gfn, uint64_t old_spte,
				uint64_t new_spte, unsigned int level);

#if defined(MM_DEBUG) || defined(TDP_PLANT_FREE_BEFORE_FLUSH)
/* Entries [first, 512) of a table get what a reader of freed memory must recognise. */
static void tdp_poison_table(tdp_ptep_t table, unsigned int first)
{
	for (unsigned int i = first; i < TDP_PTES_PER_TABLE; i++)
		atomic_store_explicit(&table[i], MMU_FREED_POISON, memory_order_relaxed);
}
#endif

/* Poison (MM_DEBUG) and free one table. */
static void tdp_free_table(tdp_ptep_t table)
{
#ifdef MM_DEBUG
	tdp_poison_table(table, 0);
#endif
	page_free((void *)table, 0);
}

/* The free-before-flush plant poisons frozen tables early itself: it is caught elsewhere. */
#if defined(MM_DEBUG) && !defined(TDP_PLANT_FREE_BEFORE_FLUSH)
#define TDP_CHECK_FROZEN_TABLES
/*
 * A frozen table must still hold REMOVED everywhere when it is freed: a
 * change after the freeze is a store that did not compare (a lockless
 * writer, such as the fast page fault, must use cmpxchg against the value
 * it read) and would be lost with the table.
 */
static void tdp_check_frozen_table(tdp_ptep_t table)
{
	for (unsigned int i = 0; i < TDP_PTES_PER_TABLE; i++) {
		uint64_t spte = tdp_read_spte(&table[i]);

		if (!is_removed_spte(spte))
			platform_panic("tdp: a frozen table's entry %u changed after the freeze: %#llx",
				       i, (unsigned long long)spte);
	}
}
#endif

/* Free every table of a chain; returns how many. */
static uint64_t tdp_free_chain(uint64_t chain_pa)
{
	uint64_t nr = 0;

	while (chain_pa) {
		tdp_ptep_t table = platform_phys_to_virt(chain_pa);

#ifdef TDP_CHECK_FROZEN_TABLES
		tdp_check_frozen_table(table);
#endif
		chain_pa = removed_spte_link(tdp_read_spte(&table[0]));
		tdp_free_table(table);
		nr++;
	}
	return nr;
}

static void tdp_free_batch_rcu(struct rcu_head *head)
{
	struct tdp_free_batch *batch = container_of(head, struct tdp_free_batch, rcu);
	uint64_t nr = tdp_free_chain(batch->chain_pa);

	BUG_ON(nr != batch->nr);
	tdp_stat_add(batch->mmu, tables_freed, nr);
	page_free(batch, 0);
}

/* Append a frozen table to a chain, through its entry 0. */
static void tdp_chain_push(uint64_t *chain_pa, tdp_ptep_t table)
{
	atomic_store_explicit(&table[0], make_removed_link_spte(*chain_pa), memory_order_relaxed);
	*chain_pa = platform_virt_to_phys((void *)table);
}

/*
 * The remote flush this call owes, then the frozen tables to call_rcu().
 * The order is the point: a vCPU's walker may hold a frozen table in its
 * paging-structure cache until the flush, and a grace period does not wait
 * for a CPU in guest mode. Called inside the RCU section, before the call
 * reports a quiescent state.
 */
void tdp_op_flush(struct tdp_op *op)
{
	struct tdp_mmu *mmu = op->mmu;
	struct tdp_free_batch *batch;

	tdp_assert_rcu();
#ifdef TDP_PLANT_FREE_BEFORE_FLUSH
	/*
	 * Planted bug: the tables are freed before the flush. A free writes
	 * poison (MM_DEBUG) and hands the page back; this one does the
	 * poisoning now, while walkers may still use them, and leaves only
	 * the page_free() itself to RCU, so that the failure is always a read
	 * of freed memory and never a page already reused elsewhere.
	 */
	for (uint64_t pa = op->frozen_pa; pa;) {
		tdp_ptep_t table = platform_phys_to_virt(pa);

		pa = removed_spte_link(tdp_read_spte(&table[0]));
		tdp_poison_table(table, 1); /* entry 0 holds the chain */
	}
#endif
#ifdef TDP_PLANT_ZAP_NO_FLUSH
	if (op->zap)
		op->flush = false; /* planted bug: a zap forgets its flush */
#endif
	if (op->flush) {
		platform_flush_remote_tlbs(mmu->owner);
		tdp_op_stat_inc(op, flushes);
		op->flushes++;
		op->flush = false;
	}
	op->leaf_batch = NULL;
	if (!op->frozen_pa)
		return;
	batch = page_alloc(0);
	if (batch) {
		batch->mmu = mmu;
		batch->chain_pa = op->frozen_pa;
		batch->nr = op->nr_frozen;
		call_rcu(&batch->rcu, tdp_free_batch_rcu);
	} else {
		/* No page for the carrier: tdp_op_free_orphans() waits out a grace period. */
		while (op->frozen_pa) {
			tdp_ptep_t table = platform_phys_to_virt(op->frozen_pa);

			op->frozen_pa = removed_spte_link(tdp_read_spte(&table[0]));
			tdp_chain_push(&op->orphan_pa, table);
			op->nr_orphans++;
		}
	}
	op->frozen_pa = 0;
	op->nr_frozen = 0;
}

/* After the RCU section: the tables no carrier could take, freed the slow way. */
void tdp_op_free_orphans(struct tdp_op *op)
{
	if (!op->orphan_pa)
		return;
	synchronize_rcu();
	BUG_ON(tdp_free_chain(op->orphan_pa) != op->nr_orphans);
	tdp_op_stat_add(op, tables_freed, op->nr_orphans);
	op->orphan_pa = 0;
	op->nr_orphans = 0;
}

/*
 * The table that held the entries for [gfn, gfn + 512 * pages(level)) at
 * level has been unlinked by this call: freeze it. Only this CPU can reach
 * it for writing now (its parent entry no longer points to it), but faults
 * that descended before the unlink may still cmpxchg into it, and the CPU
 * may still set A/D bits, so every entry is taken with xchg.
 */
static void handle_removed_table(struct tdp_op *op, tdp_ptep_t table, gfn_t gfn,
				 unsigned int level)
{
#ifndef TDP_PLANT_HINT_NO_GEN
	/* Before call_rcu(), after the parent entry changed: the walk hints' rule (tdp_mmu_internal.h). */
	atomic_fetch_add_explicit(&op->mmu->unlink_gen, 1, memory_order_release);
#endif
	for (unsigned int i = 0; i < TDP_PTES_PER_TABLE; i++) {
		/*
		 * Release: a walker whose tdp_read_spte() (acquire) finds
		 * REMOVED walks again from the root and must then find the
		 * parent entry's new value, which was written before this.
		 */
		uint64_t old = atomic_exchange_explicit(&table[i], MMU_REMOVED_SPTE,
							memory_order_acq_rel);

		BUG_ON(is_removed_spte(old)); /* only the unlinker freezes a table */
		handle_changed_spte(op, gfn + i * tdp_pages_per_level(level), old,
				    MMU_REMOVED_SPTE, level);
	}
	op->flush = true;
	tdp_chain_push(&op->frozen_pa, table);
	op->nr_frozen++;
	if (op->mmu->cfg.policy.flush_eager)
		tdp_op_flush(op); /* the "before": one flush per table */
}

static void tdp_mark_dirty_range(struct tdp_mmu *mmu, gfn_t gfn, unsigned int level)
{
	if (mmu->ops.mark_dirty_range) {
		mmu->ops.mark_dirty_range(mmu->owner, gfn, tdp_pages_per_level(level));
		return;
	}
	if (!mmu->ops.mark_dirty)
		return;
	for (uint64_t i = 0; i < tdp_pages_per_level(level); i++)
		mmu->ops.mark_dirty(mmu->owner, gfn + i);
}

/*
 * Can a TLB (or paging-structure cache) hold something that old_spte
 * allowed and new_spte does not? A table that goes, a leaf that goes or
 * changes frame, loses W, or loses D (a TLB that remembers D set would
 * write without setting it again). A split keeps the translation.
 */
static bool tdp_change_needs_flush(const struct tdp_spte_format *f, uint64_t old_spte,
				   uint64_t new_spte, unsigned int level)
{
	bool is_present = is_shadow_present_spte(new_spte);

	if (!is_shadow_present_spte(old_spte))
		return false;
	if (!is_last_spte(old_spte, level))
		return !is_present || is_last_spte(new_spte, level) ||
		       spte_to_pfn(old_spte) != spte_to_pfn(new_spte);
	if (is_present && !is_last_spte(new_spte, level))
		return false;
	return !is_present || spte_to_pfn(old_spte) != spte_to_pfn(new_spte) ||
	       (is_writable_spte(old_spte) && !is_writable_spte(new_spte)) ||
	       ((old_spte & f->dirty) && !(new_spte & f->dirty));
}

/* Before a change that may need a flush: count this call in mmu->unflushed (once). */
static void tdp_op_count_unflushed(struct tdp_op *op)
{
	if (op->counted)
		return;
	/* seq_cst: ordered before our change; pairs with the load in tdp_op_end(). */
	atomic_fetch_add(&op->mmu->unflushed, 1);
	op->counted = true;
}

/*
 * Everything that follows from one entry changing from old_spte to
 * new_spte, whoever changed it. The entry maps gfn at level.
 */
static void handle_changed_spte(struct tdp_op *op, gfn_t gfn, uint64_t old_spte,
				uint64_t new_spte, unsigned int level)
{
	struct tdp_mmu *mmu = op->mmu;
	bool was_present = is_shadow_present_spte(old_spte);
	bool was_leaf = was_present && is_last_spte(old_spte, level);
	bool is_present = is_shadow_present_spte(new_spte);
	bool is_leaf = is_present && is_last_spte(new_spte, level);
	bool same_pfn = spte_to_pfn(old_spte) == spte_to_pfn(new_spte);

	if (old_spte == new_spte || !was_present)
		return;

	if (!was_leaf) {
		/* A table stays linked until the entry points elsewhere. */
		if (is_present && !is_leaf && same_pfn)
			return; /* only the A bit (or nothing) changed */
		BUG_ON(is_present && !is_leaf); /* never one table for another */
		handle_removed_table(op, tdp_spte_to_child_pt(old_spte),
				     gfn & ~(tdp_pages_per_level(level) - 1), level - 1);
		return;
	}

	if (is_present && !is_leaf) {
		/*
		 * A split: the new table repeats the leaf's translation, A/D
		 * bits included, one level down. The TLB may keep the huge
		 * translation, it is still right; the dirty state moved along.
		 */
		return;
	}
	/* W implies MMU-writable: write-protect leaves it, for the fast page fault. */
	BUG_ON(is_leaf && is_writable_spte(new_spte) && !is_mmu_writable_spte(new_spte));
	if (!is_present)
		op->leaves_zapped++;
	if (is_dirty_spte(&mmu->fmt, old_spte) &&
	    !(is_leaf && same_pfn && is_dirty_spte(&mmu->fmt, new_spte)))
		tdp_mark_dirty_range(mmu, gfn, level);
	if (tdp_change_needs_flush(&mmu->fmt, old_spte, new_spte, level))
		op->flush = true;
}

/*
 * For mmu_lock held for read (or write): install new_spte where iter points
 * if it still holds iter->old_spte. Returns false when another CPU changed
 * the entry first; iter->old_spte then holds what it wrote, and the caller
 * decides again. Release pairs with tdp_read_spte()'s acquire: a table
 * linked here is seen with its contents.
 */
bool tdp_set_spte_atomic(struct tdp_op *op, struct tdp_iter *iter, uint64_t new_spte)
{
	uint64_t old = iter->old_spte;
	/* Over an empty entry (every demand fault) nothing follows: no flush, no dirty page. */
	bool was_present = is_shadow_present_spte(old);

	tdp_assert_held(op->mmu);
	BUG_ON(is_removed_spte(old)); /* nobody installs into a frozen table */
	if (was_present && tdp_change_needs_flush(&op->mmu->fmt, old, new_spte, iter->level))
		tdp_op_count_unflushed(op);
	platform_torture_delay();
	if (!atomic_compare_exchange_strong_explicit(iter->sptep, &old, new_spte,
						     memory_order_acq_rel, memory_order_acquire)) {
		iter->old_spte = old;
		tdp_op_stat_inc(op, retries);
		return false;
	}
	if (was_present)
		handle_changed_spte(op, iter->gfn, old, new_spte, iter->level);
	iter->old_spte = new_spte;
	return true;
}

/*
 * The demand fault's short way (tdp_fault.c: tdp_map_hinted_empty()):
 * fill the empty entry at sptep, under mmu_lock for read or write, if it
 * is still old. An empty entry's fill is tdp_set_spte_atomic()'s with
 * nothing after the cmpxchg: no flush is owed, no page gets dirty, no
 * table is unlinked, so no struct tdp_op is needed. Release as there.
 */
bool tdp_fill_empty_spte(struct tdp_mmu *mmu, tdp_ptep_t sptep, uint64_t old,
			 uint64_t new_spte)
{
	tdp_assert_held(mmu);
	BUG_ON(is_shadow_present_spte(old) || is_removed_spte(old));
	platform_torture_delay();
	return atomic_compare_exchange_strong_explicit(sptep, &old, new_spte, memory_order_acq_rel,
						       memory_order_acquire);
}

/*
 * For mmu_lock held for write: no other CPU changes the entry's shape, but
 * aging may clear the A bit and the CPU may set A or D at any time. When
 * the entry stays the same leaf, the A/D bits that changed since
 * iter->old_spte was read are taken as they are now: a D bit the CPU set
 * meanwhile is not lost, an A bit aging took is not given back.
 *
 * The fast page fault takes no mmu_lock either: it may give W (with A and
 * D) back to an MMU-writable 4 KiB leaf at any time. W is not carried over
 * like A/D: it follows new_spte, the caller's decision, so a write-protect
 * takes the W the fast path just gave (and handle_changed_spte() sees the
 * D it set). At worst an upgrade is lost and the vCPU faults again.
 */
void tdp_set_spte_exclusive(struct tdp_op *op, struct tdp_iter *iter, uint64_t new_spte)
{
	const struct tdp_spte_format *f = &op->mmu->fmt;
	uint64_t volatile_bits = f->accessed | f->dirty;
	uint64_t lockless_bits = volatile_bits;
	uint64_t old = iter->old_spte;
	uint64_t want = new_spte;

	tdp_assert_held_write(op->mmu);
	BUG_ON(is_removed_spte(old));
	if (iter->level == PG_LEVEL_4K && is_leaf_spte(old, iter->level) &&
	    is_mmu_writable_spte(old) && !is_writable_spte(old))
		lockless_bits |= SPTE_WRITABLE; /* the fast page fault */
	if (tdp_change_needs_flush(f, old, new_spte, iter->level))
		tdp_op_count_unflushed(op);
	while (!atomic_compare_exchange_strong_explicit(iter->sptep, &old, want,
							memory_order_acq_rel,
							memory_order_acquire)) {
		uint64_t changed = (old ^ iter->old_spte) & volatile_bits;

		BUG_ON((old ^ iter->old_spte) & ~lockless_bits);
		if (is_leaf_spte(new_spte, iter->level) && spte_to_pfn(new_spte) == spte_to_pfn(old))
			want = (new_spte & ~changed) | (old & changed);
	}
	handle_changed_spte(op, iter->gfn, old, want, iter->level);
	iter->old_spte = want;
}

/*
 * The fast page fault's one store, with RCU and no mmu_lock: give W back,
 * with A and D, to the MMU-writable 4 KiB leaf at iter, if it still holds
 * iter->old_spte. It must compare: between the walk's read and this store
 * a zap may have cleared the entry, a freeze made it REMOVED, or aging
 * cleared A, and each of those wins (the caller takes the slow path). A
 * write-protect never loses to it: that one only acts on a writable entry,
 * with an atomic RMW too, so whichever comes second sees the other.
 */
bool tdp_set_spte_fast_writable(struct tdp_op *op, struct tdp_iter *iter, uint64_t new_spte)
{
	const struct tdp_spte_format *f = &op->mmu->fmt;
	uint64_t old = iter->old_spte;

	tdp_assert_rcu();
	BUG_ON(op->lock != TDP_LOCK_NONE || iter->level != PG_LEVEL_4K);
	BUG_ON(!is_leaf_spte(old, iter->level) || is_writable_spte(old) || !is_mmu_writable_spte(old));
	BUG_ON(!is_writable_spte(new_spte) ||
	       ((old ^ new_spte) & ~(SPTE_WRITABLE | f->accessed | f->dirty)));
	platform_torture_delay();
#ifdef TDP_PLANT_FAST_PF_NO_CMPXCHG
	/* Planted bug: a plain store, which brings back an entry zapped or frozen meanwhile. */
	atomic_store_explicit(iter->sptep, new_spte, memory_order_release);
#else
	if (!atomic_compare_exchange_strong_explicit(iter->sptep, &old, new_spte,
						     memory_order_acq_rel, memory_order_acquire)) {
		iter->old_spte = old;
		tdp_op_stat_inc(op, retries);
		return false;
	}
#endif
	handle_changed_spte(op, iter->gfn, old, new_spte, iter->level);
	iter->old_spte = new_spte;
	return true;
}

/*
 * Clear mask's bits with one atomic fetch_and; returns the value it
 * replaced. Safe without a retry because the bits allowed here mean nothing
 * harmful on whatever the entry may have become meanwhile:
 *  - A: in a leaf, aging's business; in a table, a hint the CPU set; no
 *    mmu_lock needed at all;
 *  - D: meaningless in a table;
 *  - W: only at level 1, where an entry is always a leaf or empty; it
 *    leaves MMU-writable, so the next write can take the fast path.
 * Empty and REMOVED entries have none of these bits and stay as they are.
 */
uint64_t tdp_clear_spte_bits(struct tdp_op *op, struct tdp_iter *iter, uint64_t mask)
{
	const struct tdp_spte_format *f = &op->mmu->fmt;
	uint64_t old;

	BUG_ON(mask & ~(f->accessed | f->dirty | SPTE_WRITABLE));
	BUG_ON((mask & SPTE_WRITABLE) && iter->level != PG_LEVEL_4K);
	if (mask != f->accessed)
		tdp_assert_held(op->mmu);
	tdp_assert_rcu();
	if (mask & (SPTE_WRITABLE | f->dirty))
		tdp_op_count_unflushed(op);
	platform_torture_delay();
	old = atomic_fetch_and_explicit(iter->sptep, ~mask, memory_order_acq_rel);
	handle_changed_spte(op, iter->gfn, old, old & ~mask, iter->level);
	iter->old_spte = old & ~mask;
	return old;
}

/* An entry of a table that no other CPU can reach yet (before it is linked). */
void tdp_init_private_spte(tdp_ptep_t sptep, uint64_t spte)
{
	atomic_store_explicit(sptep, spte, memory_order_relaxed);
}

/*
 * Empty a table that no other CPU can reach yet, before it is linked. Plain
 * stores are enough: the link's release cmpxchg (tdp_set_spte_atomic())
 * publishes them, and before that nobody can read the page as a table.
 */
void tdp_clear_private_table(tdp_ptep_t table)
{
	__builtin_memset((void *)table, 0, TDP_PTES_PER_TABLE * sizeof(*table));
}
