// SPDX-License-Identifier: MIT
/*
 * The fault path: walk from the root to the level the fault maps at,
 * linking tables from the vCPU's cache on the way down, and install the
 * leaf with one cmpxchg. It runs under mmu_lock held for read, so any
 * number of vCPUs fault in parallel; when two race for the same entry the
 * cmpxchg picks one, and the other walks again and finds its work done.
 * A write to a leaf that is read-only only for dirty logging skips all of
 * that: the fast path gives W back under RCU alone.
 */
#include "mm/ept/tdp_mmu_internal.h"

/* Lost races before the fault gives up and lets the guest fault again. */
#define TDP_FAULT_MAX_TRIES 16

/* The largest level the slot, the hardware and the dirty log allow for this access. */
static unsigned int tdp_fault_level(const struct tdp_mmu *mmu, gfn_t gfn,
				    const struct mmu_pfn_info *info, bool write)
{
	unsigned int level = info->max_level < mmu->cfg.max_level ? info->max_level
								   : mmu->cfg.max_level;

	if (level < PG_LEVEL_4K || (write && info->dirty_logging))
		level = PG_LEVEL_4K;
	/* A huge page needs gfn and pfn aligned alike within it. */
	while (level > PG_LEVEL_4K && ((gfn ^ info->pfn) & (tdp_pages_per_level(level) - 1)))
		level--;
	return level;
}

/* Link a fresh table from the cache at iter's empty entry. */
static bool tdp_link_new_table(struct tdp_op *op, struct tdp_page_cache *cache,
			       struct tdp_iter *iter)
{
	struct tdp_mmu *mmu = op->mmu;
	void *table = tdp_page_cache_pop(cache);

	if (!table)
		return false;
	tdp_clear_private_table(table); /* the cache's pages are not zeroed */
	if (!tdp_set_spte(op, iter, make_nonleaf_spte(&mmu->fmt, platform_virt_to_phys(table)))) {
		tdp_page_cache_push(cache, table);
		return false;
	}
	tdp_op_stat_inc(op, tables_allocated);
	return true;
}

/*
 * The leaf for this fault. Reads map writable too where the slot allows
 * and no dirty log watches, so the first write does not fault again; A is
 * set (the access happened), D too for a write. An existing leaf's A/D
 * bits are kept. A read-only leaf of a writable slot is MMU-writable: its
 * first write takes the fast path.
 */
static uint64_t tdp_fault_leaf(const struct tdp_mmu *mmu, uint64_t old, gfn_t gfn,
			       const struct mmu_pfn_info *info, unsigned int level, bool write)
{
	uint64_t pfn = info->pfn - (gfn & (tdp_pages_per_level(level) - 1));
	bool writable = write || (info->writable && !info->dirty_logging);
	uint64_t leaf = make_leaf_spte(&mmu->fmt, pfn, level, writable, info->writable, true, write);

	if (is_leaf_spte(old, level) && spte_to_pfn(old) == pfn && writable)
		leaf |= old & mmu->fmt.dirty;
	return leaf;
}

static bool tdp_fault_is_spurious(uint64_t old, uint64_t leaf, unsigned int level, bool write)
{
	return is_leaf_spte(old, level) && spte_to_pfn(old) == spte_to_pfn(leaf) &&
	       (!write || is_writable_spte(old));
}

/*
 * The fault found a table where it may map a huge page. If a smaller leaf
 * below already allows the access (another vCPU was quicker, or the slot
 * grew huge pages since), the fault is spurious: replacing the table would
 * cost a flush for nothing.
 */
static bool tdp_fault_mapped_below(const struct tdp_mmu *mmu, gfn_t gfn, bool write)
{
	struct tdp_iter iter;

	for_each_tdp_pte(iter, mmu->root_pt, gfn, gfn + 1)
		if (is_leaf_spte(iter.old_spte, iter.level))
			return !write || is_writable_spte(iter.old_spte);
	return false;
}

/*
 * The walk hint (struct tdp_walk_hint): the lowest recorded table at or
 * above level that maps gfn, and its level; the root when there is none,
 * or when a table has been unlinked since the hint was recorded (gen).
 */
static unsigned int tdp_hint_start(const struct tdp_mmu *mmu, const struct tdp_walk_hint *hint,
				   unsigned long gen, gfn_t gfn, unsigned int level,
				   tdp_ptep_t *table)
{
	*table = mmu->root_pt;
	if (hint->mmu != mmu || hint->gen != gen)
		return TDP_ROOT_LEVEL;
	for (unsigned int l = level; l < TDP_ROOT_LEVEL; l++) {
		if (hint->tables[l - 1] && hint->base[l - 1] == gfn >> (l * TDP_LEVEL_BITS)) {
			*table = hint->tables[l - 1];
			return l;
		}
	}
	return TDP_ROOT_LEVEL;
}

/* Record the tables the walk went through below from, read under generation gen. */
static void tdp_hint_save(const struct tdp_mmu *mmu, struct tdp_walk_hint *hint,
			  unsigned long gen, const struct tdp_iter *iter, unsigned int from)
{
	if (hint->mmu != mmu || hint->gen != gen) {
		*hint = (struct tdp_walk_hint){ .mmu = mmu, .gen = gen };
		from = TDP_ROOT_LEVEL;
	}
	for (unsigned int l = iter->level; l < from; l++) {
		hint->tables[l - 1] = (void *)iter->pt_path[l - 1];
		hint->base[l - 1] = iter->next_last_level_gfn >> (l * TDP_LEVEL_BITS);
	}
}

/*
 * Under mmu_lock and RCU: map gfn at level, walking down from the hinted
 * table (or the root). A lost cmpxchg leaves the new value in
 * iter.old_spte, so the same entry is decided again; a REMOVED entry means
 * its table is being unlinked (its parent entry has changed already), so
 * the walk starts again from the root.
 */
static enum tdp_fault_result tdp_map(struct tdp_op *op, struct tdp_page_cache *cache, gfn_t gfn,
				     const struct mmu_pfn_info *info, unsigned int level, bool write)
{
	struct tdp_mmu *mmu = op->mmu;
	/* Acquire: pairs with the raise in handle_removed_table(). */
	unsigned long gen = atomic_load_explicit(&mmu->unlink_gen, memory_order_acquire);
	unsigned int tries = 0, from;
	struct tdp_iter iter;
	tdp_ptep_t table;

	tdp_assert_held(mmu);
	from = tdp_hint_start(mmu, &cache->hint, gen, gfn, level, &table);
	tdp_iter_start_at(&iter, mmu->root_pt, table, from, gfn);
	for (;;) {
		if (is_removed_spte(iter.old_spte)) {
			if (++tries > TDP_FAULT_MAX_TRIES)
				return TDP_FAULT_RETRY;
			tdp_iter_restart(&iter);
			from = TDP_ROOT_LEVEL;
			continue;
		}
		if (iter.level == level) {
			uint64_t leaf = tdp_fault_leaf(mmu, iter.old_spte, gfn, info, level, write);

			if (tdp_fault_is_spurious(iter.old_spte, leaf, level, write) ||
			    (is_shadow_present_spte(iter.old_spte) &&
			     !is_last_spte(iter.old_spte, level) &&
			     tdp_fault_mapped_below(mmu, gfn, write))) {
				if (from > iter.level)
					tdp_hint_save(mmu, &cache->hint, gen, &iter, from);
				tdp_op_stat_inc(op, faults_spurious);
				return TDP_FAULT_FIXED;
			}
			/* Over a table this unlinks it; tdp_op_end() flushes before the free. */
#ifdef EXIT_BREAKDOWN
			cache->bd_walked = platform_cycles();
#endif
			if (tdp_set_spte(op, &iter, leaf)) {
				if (from > iter.level) /* else the hint held this walk already */
					tdp_hint_save(mmu, &cache->hint, gen, &iter, from);
				tdp_op_stat_inc(op, faults_fixed);
				tdp_op_stat_inc(op, leaves_mapped[level]);
				return TDP_FAULT_FIXED;
			}
		} else if (is_shadow_present_spte(iter.old_spte) && !is_large_spte(iter.old_spte)) {
			tdp_iter_step_down(&iter); /* a table */
			continue;
		} else if (!cache->nr) {
			return TDP_FAULT_RETRY; /* the caller tops the cache up and faults again */
		} else if (!is_shadow_present_spte(iter.old_spte)) {
			if (tdp_link_new_table(op, cache, &iter)) {
				tdp_iter_step_down(&iter);
				continue;
			}
		} else {
			/* A huge leaf above the level we want: split it, keeping its translation. */
			if (tdp_split_huge_spte(op, cache, &iter)) {
				tdp_iter_step_down(&iter);
				continue;
			}
		}
		if (++tries > TDP_FAULT_MAX_TRIES)
			return TDP_FAULT_RETRY;
	}
}

/*
 * The demand fault's short way: a 4 KiB leaf into an empty entry of the
 * level-1 table the walk hint holds, which is every fault of a region that
 * faults page by page but the first. Filling an empty entry owes no flush
 * and unlinks nothing (tdp_set_spte_atomic() has nothing to do after its
 * cmpxchg), and it needs no table from the cache, so none of struct
 * tdp_op's bookkeeping is needed: the hint's check and one load under RCU,
 * then the lock and one cmpxchg (tdp_fill_empty_spte()). The op below
 * never leaves this function (only the inline lock and counters read it),
 * so the compiler keeps just the four fields they use.
 *
 * The hint is trusted as tdp_map() trusts it: its gen read inside the RCU
 * section, which lasts until the cmpxchg is done. Waiting for mmu_lock
 * inside it costs nothing new: the CPU reports no quiescent state before
 * it is back in its run loop either way. If the table was unlinked
 * meanwhile, its entry is REMOVED by now and the cmpxchg fails, or the
 * unlink's freeze finds our leaf and zaps it like any other. Only an
 * entry seen empty takes the lock, so a fault this cannot help (a leaf
 * there already) takes it once, in tdp_map(). With mmu_lock=exclusive the
 * lock is taken for write.
 *
 * False when it does not apply or the cmpxchg lost: tdp_map() decides.
 */
static bool tdp_map_hinted_empty(struct tdp_mmu *mmu, struct tdp_page_cache *cache,
				 unsigned int cpu, gfn_t gfn, const struct mmu_pfn_info *info,
				 bool write)
{
	const struct tdp_walk_hint *hint = &cache->hint;
	struct tdp_op op = { .mmu = mmu, .cpu = cpu, .stats = &mmu->cpu_stats[cpu].s,
			     .lock = tdp_mmu_change_lock(mmu, false) };
	tdp_ptep_t table = hint->tables[PG_LEVEL_4K - 1];
	bool fixed = false;
	tdp_ptep_t sptep;
	uint64_t old, leaf;

	/* The hint is this vCPU's own: it is read outside any lock. */
	if (!table || hint->base[PG_LEVEL_4K - 1] != gfn >> TDP_LEVEL_BITS || hint->mmu != mmu)
		return false;
	rcu_read_lock();
	/* Acquire: pairs with the raise in handle_removed_table(). */
	if (hint->gen != atomic_load_explicit(&mmu->unlink_gen, memory_order_acquire))
		goto out;
	sptep = table + tdp_spte_index(gfn, PG_LEVEL_4K);
	old = tdp_read_spte(sptep);
	tdp_check_spte(old, PG_LEVEL_4K, gfn);
	if (is_shadow_present_spte(old) || is_removed_spte(old))
		goto out;
	tdp_op_lock(&op);
#ifdef EXIT_BREAKDOWN
	/* The walk (the hint's check and the entry's load) came before the lock: in mmu_prep. */
	cache->bd_locked = platform_cycles();
#endif
	leaf = tdp_fault_leaf(mmu, old, gfn, info, PG_LEVEL_4K, write);
#ifdef EXIT_BREAKDOWN
	cache->bd_walked = platform_cycles();
#endif
	fixed = tdp_fill_empty_spte(mmu, sptep, old, leaf);
	if (fixed) {
		tdp_op_stat_inc(&op, faults_fixed);
		tdp_op_stat_inc(&op, leaves_mapped[PG_LEVEL_4K]);
	} else {
		tdp_op_stat_inc(&op, retries);
	}
	tdp_op_unlock(&op);
#ifdef EXIT_BREAKDOWN
	cache->bd_unlocked = platform_cycles();
#endif
out:
	rcu_read_unlock();
	return fixed;
}

/*
 * The fast page fault, for a write to a 4 KiB leaf that write-protect took
 * W from for dirty logging: under RCU alone, walk to the leaf and give W
 * back, with A and D, by one cmpxchg. No mmu_lock, no table cache. The D
 * bit it sets is what hands the page to the next write-protect (through
 * handle_changed_spte() and mark_dirty); the write the guest retries is
 * logged by the caller (virt/: vm_dirty_log_write_fault() after FIXED).
 *
 * The leaf's frame is trusted as it stands: a present leaf at gfn maps the
 * frame its slot gave when it was made, and anything that changes that
 * changes the entry, so the cmpxchg fails. It is checked against the slot
 * anyway, since the caller has asked the slot already.
 *
 * Returns false when it cannot help (not a leaf, huge, read-only for
 * another reason, another frame, or the cmpxchg lost): the slow path decides.
 */
static bool tdp_fast_page_fault(struct tdp_mmu *mmu, gfn_t gfn, const struct mmu_pfn_info *info)
{
	const struct tdp_spte_format *f = &mmu->fmt;
	struct tdp_iter iter;
	struct tdp_op op;
	bool fixed = false;

	tdp_op_begin(&op, mmu, TDP_LOCK_NONE);
	for_each_tdp_pte(iter, mmu->root_pt, gfn, gfn + 1) {
		uint64_t spte = iter.old_spte;

		if (iter.level != PG_LEVEL_4K)
			continue; /* the iterator steps down only into present tables */
		if (!is_leaf_spte(spte, iter.level) || spte_to_pfn(spte) != info->pfn)
			break;
		if (is_writable_spte(spte)) {
			tdp_op_stat_inc(&op, faults_spurious); /* another vCPU, or a stale TLB */
			fixed = true;
		} else if (is_mmu_writable_spte(spte) &&
			   tdp_set_spte_fast_writable(&op, &iter,
						      spte | SPTE_WRITABLE | f->accessed | f->dirty)) {
			tdp_op_stat_inc(&op, fast_faults);
			fixed = true;
		}
		break;
	}
	tdp_op_end(&op);
	return fixed;
}

enum tdp_fault_result tdp_mmu_page_fault(struct tdp_mmu *mmu, struct tdp_page_cache *cache,
					 uint64_t gpa, unsigned int access)
{
	bool write = access & TDP_ACC_WRITE;
	unsigned int cpu = platform_cpu_id(), level;
	gfn_t gfn = gpa >> PAGE_SHIFT;
	enum tdp_fault_result ret;
	struct mmu_pfn_info info;
	struct tdp_op op;

	tdp_stat_inc_cpu(mmu, cpu, faults);
#ifdef EXIT_BREAKDOWN
	cache->bd_locked = cache->bd_walked = cache->bd_unlocked = 0;
#endif
	if (gfn >= TDP_GFN_END || !mmu->ops.gfn_to_pfn(mmu->owner, gfn, &info))
		return TDP_FAULT_NO_SLOT;
	if (write && !info.writable)
		return TDP_FAULT_READONLY;
	if (write && !(access & TDP_ACC_NOT_PRESENT) && tdp_fast_page_fault(mmu, gfn, &info))
		return TDP_FAULT_FIXED;
	level = tdp_fault_level(mmu, gfn, &info, write);
	if (level == PG_LEVEL_4K && tdp_map_hinted_empty(mmu, cache, cpu, gfn, &info, write))
		return TDP_FAULT_FIXED;
	if (cache->nr < TDP_PAGE_CACHE_MIN && !tdp_page_cache_topup(cache))
		return TDP_FAULT_NOMEM;

	tdp_op_begin(&op, mmu, tdp_mmu_change_lock(mmu, false));
#ifdef EXIT_BREAKDOWN
	cache->bd_locked = platform_cycles();
#endif
	ret = tdp_map(&op, cache, gfn, &info, level, write);
	tdp_op_end(&op);
#ifdef EXIT_BREAKDOWN
	cache->bd_unlocked = platform_cycles();
#endif
	if (op.leaves_zapped)
		tdp_op_stat_add(&op, leaves_zapped, op.leaves_zapped);
	return ret;
}
