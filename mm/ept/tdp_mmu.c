// SPDX-License-Identifier: MIT
/*
 * The TDP MMU's life and its zaps: one root per VM, built at create and
 * torn down at destroy; the per-vCPU table cache; how a call takes
 * mmu_lock and its RCU section, and how it yields them in the middle of a
 * long walk; and tdp_mmu_zap_range(), the one operation that unmaps.
 */
#include "mm/ept/tdp_mmu_internal.h"

/* --- the per-vCPU cache of table pages --------------------------------- */

/*
 * Outside mmu_lock, where the allocator's lock may be taken. The pages are
 * not zeroed here: a fault links a table only every 512 pages, and a
 * cache holds more than one fault needs, so zeroing on the way in cleared
 * pages that were never used (in Bochs, 4 KiB of stores each: a third of
 * a demand fault's cost, on average). Whoever takes one fills it whole
 * before linking it: tdp_link_new_table() zeroes it, a split writes every
 * entry.
 */
bool tdp_page_cache_topup(struct tdp_page_cache *cache)
{
	if (cache->nr >= TDP_PAGE_CACHE_MIN)
		return true;
	while (cache->nr < TDP_PAGE_CACHE_SIZE) {
		void *page = page_alloc(0);

		if (!page)
			break;
		cache->pages[cache->nr++] = page;
	}
	return cache->nr >= TDP_PAGE_CACHE_MIN;
}

void tdp_page_cache_release(struct tdp_page_cache *cache)
{
	while (cache->nr)
		page_free(cache->pages[--cache->nr], 0);
	cache->hint.mmu = NULL;
}

void *tdp_page_cache_pop(struct tdp_page_cache *cache)
{
	return cache->nr ? cache->pages[--cache->nr] : NULL;
}

/* A table taken for a link that lost its race, back unlinked. */
void tdp_page_cache_push(struct tdp_page_cache *cache, void *page)
{
	BUG_ON(cache->nr >= TDP_PAGE_CACHE_SIZE);
	cache->pages[cache->nr++] = page;
}

/* --- mmu_lock, the RCU section, yielding ------------------------------- */

/* flush=eager: the leaf changes of one table are flushed before the walk leaves it. */
void tdp_op_eager_leaf_batch(struct tdp_op *op, const struct tdp_iter *iter)
{
	tdp_ptep_t table = tdp_iter_table(iter);

	if (!op->mmu->cfg.policy.flush_eager || table == op->leaf_batch)
		return;
	if (op->flush)
		tdp_op_flush(op);
	op->leaf_batch = table;
}

static bool tdp_op_should_yield(struct tdp_op *op)
{
	unsigned int every = atomic_load_explicit(&op->mmu->debug_yield_every, memory_order_relaxed);

	op->steps++;
	if (every)
		return op->steps % every == 0;
	return op->lock == TDP_LOCK_READ && op->steps % TDP_YIELD_CHECK_STEPS == 0 &&
	       mmu_lock_writer_waiting(&op->mmu->mmu_lock);
}

/*
 * In the middle of a long walk: give mmu_lock to a writer that waits, and
 * report a quiescent state so grace periods (and our own frees) move on.
 * What the call owes is settled first: its flush, then its frozen tables to
 * call_rcu(), both before the quiescent state. The walk then restarts from
 * the root at the gfn it had reached; cache, if given, is topped up while
 * nothing is held. Returns true if it yielded.
 */
bool tdp_op_cond_yield(struct tdp_op *op, struct tdp_iter *iter, struct tdp_page_cache *cache)
{
	bool need_pages = cache && cache->nr == 0;

	if (iter->next_last_level_gfn == iter->yielded_gfn && !need_pages)
		return false; /* no progress since the last yield */
	if (!need_pages && !tdp_op_should_yield(op))
		return false;
	tdp_op_flush(op);
	tdp_op_unlock(op);
	tdp_op_free_orphans(op);
	op->yields++;
	rcu_quiescent_state();
	if (need_pages)
		tdp_page_cache_topup(cache);
	tdp_op_lock(op);
	iter->restart = true;
	return true;
}

void tdp_mmu_debug_yield_every(struct tdp_mmu *mmu, unsigned int steps)
{
	atomic_store_explicit(&mmu->debug_yield_every, steps, memory_order_relaxed);
}

uint64_t tdp_mmu_lookup(struct tdp_mmu *mmu, gfn_t gfn, unsigned int *level)
{
	struct tdp_iter iter;
	struct tdp_op op;
	uint64_t spte = 0;

	*level = 0;
	if (gfn >= TDP_GFN_END)
		return 0;
	tdp_op_begin(&op, mmu, TDP_LOCK_NONE);
	for_each_tdp_pte(iter, mmu->root_pt, gfn, gfn + 1) {
		if (!is_leaf_spte(iter.old_spte, iter.level))
			continue;
		spte = iter.old_spte;
		*level = iter.level;
		break;
	}
	tdp_op_end(&op);
	return spte;
}

/* --- create, destroy, accessors ---------------------------------------- */

/* Each MMU's unlink_gen starts 2^32 above the last one's. */
static atomic_ulong tdp_mmu_generations;

struct tdp_mmu *tdp_mmu_create(const struct tdp_mmu_config *cfg, const struct mmu_ops *ops,
			       void *owner)
{
	/* The struct, then a reader word and a stats block per CPU there is. */
	unsigned int nr = platform_nr_cpus();
	size_t lock_at = (sizeof(struct tdp_mmu) + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1);
	size_t stats_at = lock_at + nr * sizeof(struct mmu_lock_cpu);
	unsigned int order = page_order_for(stats_at + nr * sizeof(struct tdp_mmu_cpu_stats));
	struct tdp_mmu *mmu;
	void *root;

	if (!ops || !ops->gfn_to_pfn || cfg->max_level < PG_LEVEL_4K ||
	    cfg->max_level > PG_LEVEL_1G ||
	    (cfg->format != TDP_FORMAT_EPT && cfg->format != TDP_FORMAT_NPT))
		return NULL;
	mmu = page_alloc_zeroed(order);
	if (!mmu)
		return NULL;
	root = page_alloc_zeroed(0);
	if (!root) {
		page_free(mmu, order);
		return NULL;
	}
	mmu->cfg = *cfg;
	tdp_spte_format_init(&mmu->fmt, cfg);
	mmu->ops = *ops;
	mmu->owner = owner;
	mmu->alloc_order = order;
	mmu->root_pt = root;
	mmu->root_pa = platform_virt_to_phys(root);
	mmu->nr_cpus = nr;
	mmu->cpu_stats = (struct tdp_mmu_cpu_stats *)((char *)mmu + stats_at);
	mmu_lock_init(&mmu->mmu_lock, (struct mmu_lock_cpu *)((char *)mmu + lock_at), nr);
	/* A hint left from an MMU that lived at this address before can never match. */
	atomic_store_explicit(&mmu->unlink_gen,
			      atomic_fetch_add_explicit(&tdp_mmu_generations, 1UL << 32,
							memory_order_relaxed),
			      memory_order_relaxed);
	tdp_stat_inc(mmu, tables_allocated);
	return mmu;
}

/*
 * Zap everything under the write lock (tables go through the usual flush
 * and call_rcu), wait for every callback that may still count into this
 * MMU, then free the root and the MMU itself.
 */
void tdp_mmu_destroy(struct tdp_mmu *mmu)
{
	struct tdp_op op;
	struct tdp_iter iter;

	if (!mmu)
		return;
	tdp_op_begin(&op, mmu, TDP_LOCK_WRITE);
	for_each_tdp_pte_min_level(iter, mmu->root_pt, TDP_ROOT_LEVEL, 0, TDP_GFN_END)
		if (is_shadow_present_spte(iter.old_spte))
			tdp_set_spte_exclusive(&op, &iter, 0);
	tdp_op_end(&op);
	rcu_barrier();
	page_free((void *)mmu->root_pt, 0);
	page_free(mmu, mmu->alloc_order);
}

uint64_t tdp_mmu_root_pa(const struct tdp_mmu *mmu)
{
	return mmu->root_pa;
}

const struct tdp_mmu_config *tdp_mmu_config(const struct tdp_mmu *mmu)
{
	return &mmu->cfg;
}

/* Sum every CPU's counters into mmu->stats. */
const struct mmu_stats *tdp_mmu_stats(const struct tdp_mmu *cmmu)
{
	struct tdp_mmu *mmu = (struct tdp_mmu *)cmmu;
	enum { NR = sizeof(struct mmu_stats) / sizeof(atomic_ulong) };
	unsigned long sum[NR] = { 0 };
	atomic_ulong *out = (atomic_ulong *)&mmu->stats;

	_Static_assert(sizeof(struct mmu_stats) % sizeof(atomic_ulong) == 0,
		       "tdp_mmu_stats holds counters only");
	for (unsigned int cpu = 0; cpu < mmu->nr_cpus; cpu++) {
		atomic_ulong *in = (atomic_ulong *)&mmu->cpu_stats[cpu].s;

		for (unsigned int i = 0; i < NR; i++)
			sum[i] += atomic_load_explicit(&in[i], memory_order_relaxed);
	}
	for (unsigned int i = 0; i < NR; i++)
		atomic_store_explicit(&out[i], sum[i], memory_order_relaxed);
	return &mmu->stats;
}

/* --- zap --------------------------------------------------------------- */

/*
 * Unmap [start, end). An entry that lies wholly inside the range goes in
 * one change, leaf or table alike: a table goes with everything below it
 * (frozen, then freed after the flush). A huge leaf that only overlaps the
 * range goes too (mapping less is always allowed). Entries that straddle an
 * edge are walked into. flush=batched: one flush for the whole call, at its
 * end, before the RCU section closes; flush=eager: one per table unlinked
 * and one per table whose leaves changed.
 */
uint64_t tdp_mmu_zap_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end)
{
	struct tdp_op op;
	struct tdp_iter iter;

	if (!tdp_clamp_range(start, &end))
		return 0;
	tdp_op_begin(&op, mmu, tdp_mmu_change_lock(mmu, false));
	op.zap = true;
	op.guarantees_flushed = true;
	for_each_tdp_pte(iter, mmu->root_pt, start, end) {
		if (tdp_op_yield_or_batch(&op, &iter))
			continue;
retry:
		if (tdp_iter_walk_again_if_removed(&iter) || !is_shadow_present_spte(iter.old_spte))
			continue;
		if (!is_last_spte(iter.old_spte, iter.level) && !tdp_iter_inside(&iter, start, end))
			continue; /* straddles an edge: walk into it */
		if (!tdp_set_spte(&op, &iter, 0))
			goto retry;
	}
	tdp_op_end(&op);
	tdp_op_stat_add(&op, leaves_zapped, op.leaves_zapped);
	tdp_op_stat_add(&op, zap_flushes, op.flushes);
	tdp_op_stat_add(&op, zap_yields, op.yields);
	return op.leaves_zapped;
}
