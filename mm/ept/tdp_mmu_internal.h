// SPDX-License-Identifier: MIT
/*
 * What the files of mm/ept share: struct tdp_mmu, the per-call context
 * (struct tdp_op) that carries the flush a call owes and the tables that
 * wait for it, the SPTE setters (tdp_spte.c), and the lock assertions.
 * Nothing outside mm/ept includes this but the unit tests.
 */
#pragma once

#include "mm/ept/tdp_iter.h"
#include "mm/mmu_lock.h"
#include "mm/page_alloc.h"

/* Highest gfn + 1 a four-level table maps (48-bit guest-physical addresses). */
#define TDP_GFN_END (1ULL << (TDP_ROOT_LEVEL * TDP_LEVEL_BITS))
/* A fault needs at most one table per level below the root. */
#define TDP_PAGE_CACHE_MIN (TDP_ROOT_LEVEL - 1)
/* Inside one call, yielding is considered only every this many steps. */
#define TDP_YIELD_CHECK_STEPS 64

/* Each CPU's counters: written only by that CPU, summed by tdp_mmu_stats(). */
struct tdp_mmu_cpu_stats {
	struct mmu_stats s;
} __cacheline_aligned;

struct tdp_mmu {
	/* Immutable after tdp_mmu_create(). */
	struct tdp_mmu_config cfg;
	struct tdp_spte_format fmt;
	struct mmu_ops ops;
	void *owner;
	tdp_ptep_t root_pt;   /* the level-4 table; never unlinked before destroy */
	uint64_t root_pa;
	unsigned int alloc_order; /* of this struct's pages */
	/* Test hook, atomic, set from any CPU: yield every this many steps (0: only when
	   mmu_lock is wanted). */
	atomic_uint debug_yield_every;

	/*
	 * mmu_lock: read = may change entries, with cmpxchg only (tdp_set_spte_atomic);
	 * write = no other writer of entries, except the lockless ones every mode
	 * allows: aging's A-bit clear and the CPU's own A/D updates. See
	 * docs/LOCKING.md, "mmu_lock in the TDP MMU"; the lock itself is
	 * mm/mmu_lock.h.
	 */
	struct mmu_lock mmu_lock;

	/*
	 * Calls that may have made a change whose remote flush has not
	 * returned yet: raised (seq_cst) before such a change, lowered after
	 * the flush. A zap or write-protect that finds nothing left to change
	 * must still not return while another call's flush is pending for
	 * what it found gone, so it flushes itself when this is not zero.
	 */
	atomic_uint unflushed __cacheline_aligned;

	/*
	 * Tables unlinked so far, plus a base that differs from any other
	 * MMU's (tdp_mmu_create): the fault path's walk hints (struct
	 * tdp_walk_hint) are good only while it stays the value they were
	 * recorded with. handle_removed_table() raises it after the parent
	 * entry has changed and before the table goes to call_rcu(). So a
	 * table is freed only after a grace period that started after the
	 * raise, and a vCPU whose read-side section began after that grace
	 * period's quiescent state sees the new value (mm/rcu/rcu.h: a
	 * section after a quiescent state sees what was written before the
	 * grace period started). A fault that still reads the old value may
	 * find its hinted table unlinked, but never freed: the same race a
	 * walk from the root has with a concurrent unlink (REMOVED entries,
	 * or a cmpxchg the freeze then undoes). Its own line: read by every
	 * fault, written only by unlinks.
	 */
	atomic_ulong unlink_gen __cacheline_aligned;

	/* nr_cpus of each, after the struct in its own allocation (tdp_mmu_create). */
	unsigned int nr_cpus;
	struct tdp_mmu_cpu_stats *cpu_stats;
	/* tdp_mmu_stats()'s sum: written by whoever asks, read by the caller. */
	struct mmu_stats stats;
};

/*
 * Counters are bumped only by their own CPU, so a relaxed load and store is
 * enough (no locked RMW); readers sum them with relaxed loads.
 */
#define tdp_stat_add(mmu, field, n) tdp_stat_add_cpu(mmu, platform_cpu_id(), field, n)
#define tdp_stat_inc(mmu, field) tdp_stat_add(mmu, field, 1)
/* The same where the caller knows its CPU already. */
#define tdp_stat_add_cpu(mmu, cpu, field, n)                                        \
	do {                                                                        \
		atomic_ulong *tdp_c_ = &(mmu)->cpu_stats[cpu].s.field;              \
		atomic_store_explicit(tdp_c_,                                       \
				      atomic_load_explicit(tdp_c_, memory_order_relaxed) + (n), \
				      memory_order_relaxed);                        \
	} while (0)
#define tdp_stat_inc_cpu(mmu, cpu, field) tdp_stat_add_cpu(mmu, cpu, field, 1)
/* The same inside a call, whose CPU is known (op->cpu). */
#define tdp_op_stat_add(op, field, n)                                               \
	do {                                                                        \
		atomic_ulong *tdp_c_ = &(op)->stats->field;                         \
		atomic_store_explicit(tdp_c_,                                       \
				      atomic_load_explicit(tdp_c_, memory_order_relaxed) + (n), \
				      memory_order_relaxed);                        \
	} while (0)
#define tdp_op_stat_inc(op, field) tdp_op_stat_add(op, field, 1)

/* Lock preconditions: the first line of every function that has one. */
#ifdef MM_DEBUG
#define tdp_assert_held_read(mmu) BUG_ON(!mmu_lock_held_read(&(mmu)->mmu_lock))
#define tdp_assert_held_write(mmu) BUG_ON(!mmu_lock_held_write(&(mmu)->mmu_lock))
#define tdp_assert_held(mmu)                                             \
	BUG_ON(!mmu_lock_held_read(&(mmu)->mmu_lock) &&                   \
	       !mmu_lock_held_write(&(mmu)->mmu_lock))
#define tdp_assert_rcu() RCU_CHECK(rcu_read_lock_held(), "tdp: needs rcu_read_lock")
#else
#define tdp_assert_held_read(mmu) do { (void)(mmu); } while (0)
#define tdp_assert_held_write(mmu) do { (void)(mmu); } while (0)
#define tdp_assert_held(mmu) do { (void)(mmu); } while (0)
#define tdp_assert_rcu() do { } while (0)
#endif

enum tdp_lock_mode {
	TDP_LOCK_NONE,  /* RCU only: aging */
	TDP_LOCK_READ,  /* mmu_lock for read: entries change by cmpxchg */
	TDP_LOCK_WRITE, /* mmu_lock for write */
};

/*
 * One call's context, on its stack: the lock it holds, the remote flush it
 * owes, and the frozen tables that may be freed only after that flush. The
 * tables are chained through their entry 0 (make_removed_link_spte), so
 * queueing one never allocates. Every call begins by zeroing it (a fault
 * too), so it is kept small: 80 bytes.
 */
struct tdp_op {
	struct tdp_mmu *mmu;
	struct mmu_stats *stats; /* this CPU's counters in mmu */
	uint64_t frozen_pa;     /* chain of unlinked tables waiting for the flush */
	uint64_t orphan_pa;     /* tables for which no RCU carrier could be had */
	uint64_t leaves_zapped; /* present leaves that became non-present */
	tdp_ptep_t leaf_batch;  /* flush=eager: the table whose leaf changes are unflushed */
	unsigned int cpu;       /* platform_cpu_id(), once */
	enum tdp_lock_mode lock;
	unsigned int nr_frozen;
	unsigned int nr_orphans;
	unsigned int steps;     /* iterator steps since the last yield check */
	unsigned int flushes;   /* remote flushes this call made */
	unsigned int yields;    /* times this call gave up mmu_lock midway */
	bool flush;             /* a change needs a remote flush before anything is freed */
	bool zap;               /* tdp_mmu_zap_range()'s (the planted no-flush bug needs to know) */
	bool counted;           /* this call holds one count of mmu->unflushed */
	bool guarantees_flushed; /* returns only once no TLB holds what its range lost */
};
_Static_assert(sizeof(struct tdp_op) <= 80, "struct tdp_op is zeroed by every call");

void tdp_op_flush(struct tdp_op *op);
void tdp_op_free_orphans(struct tdp_op *op);

/*
 * Taking and leaving mmu_lock and the RCU section: inline, since every
 * call, a fault too, begins and ends with them.
 */
__attribute__((always_inline)) static inline void tdp_op_lock(struct tdp_op *op)
{
	struct tdp_mmu *mmu = op->mmu;

	if (op->lock == TDP_LOCK_READ) {
		mmu_read_lock(&mmu->mmu_lock, op->cpu);
		tdp_op_stat_inc(op, lock_read);
	} else if (op->lock == TDP_LOCK_WRITE) {
		mmu_write_lock(&mmu->mmu_lock, op->cpu);
		tdp_op_stat_inc(op, lock_write);
	}
	rcu_read_lock();
}

__attribute__((always_inline)) static inline void tdp_op_unlock(struct tdp_op *op)
{
	rcu_read_unlock();
	if (op->lock == TDP_LOCK_READ)
		mmu_read_unlock(&op->mmu->mmu_lock, op->cpu);
	else if (op->lock == TDP_LOCK_WRITE)
		mmu_write_unlock(&op->mmu->mmu_lock);
}

static inline void tdp_op_begin(struct tdp_op *op, struct tdp_mmu *mmu, enum tdp_lock_mode lock)
{
	unsigned int cpu = platform_cpu_id();

	*op = (struct tdp_op){ .mmu = mmu, .cpu = cpu, .stats = &mmu->cpu_stats[cpu].s, .lock = lock };
	tdp_op_lock(op);
}

/*
 * Flush what the call owes, free through RCU, then leave the section and
 * the lock. A zap or write-protect that found its range already cleared by
 * another call whose flush has not returned flushes as well: its caller
 * relies on no TLB holding what the range lost once it returns. The load
 * of unflushed comes after the walk that saw the other call's changes and
 * pairs with the seq_cst add in tdp_op_count_unflushed().
 */
static inline void tdp_op_end(struct tdp_op *op)
{
	if (op->guarantees_flushed && !op->flush &&
	    atomic_load(&op->mmu->unflushed) > (op->counted ? 1u : 0u))
		op->flush = true;
	if (op->flush || op->frozen_pa)
		tdp_op_flush(op);
	op->leaf_batch = NULL;
	if (op->counted)
		atomic_fetch_sub(&op->mmu->unflushed, 1); /* after our flush returned */
	op->counted = false;
	tdp_op_unlock(op);
	if (unlikely(op->orphan_pa))
		tdp_op_free_orphans(op);
}

/* tdp_mmu.c: yielding in the middle of a walk. */
bool tdp_op_cond_yield(struct tdp_op *op, struct tdp_iter *iter, struct tdp_page_cache *cache);
void tdp_op_eager_leaf_batch(struct tdp_op *op, const struct tdp_iter *iter);

/* Which lock a call that changes entries takes: write if it must, or if mmu_lock=exclusive. */
static inline enum tdp_lock_mode tdp_mmu_change_lock(const struct tdp_mmu *mmu, bool wants_write)
{
	return wants_write || mmu->cfg.policy.lock_exclusive ? TDP_LOCK_WRITE : TDP_LOCK_READ;
}

/*
 * Each range call's first step: cut end down to what a table maps. False
 * when nothing of [start, end) is left (the call has nothing to do).
 */
static inline bool tdp_clamp_range(gfn_t start, gfn_t *end)
{
	if (*end > TDP_GFN_END)
		*end = TDP_GFN_END;
	return start < *end;
}

/*
 * The head of each entry in a walk that changes leaves (zap, write-protect,
 * clear-dirty): yield if it is time (true: the walk restarts from the root,
 * skip this entry), else with flush=eager flush the last table's leaf
 * changes once the walk has left it.
 */
static inline bool tdp_op_yield_or_batch(struct tdp_op *op, struct tdp_iter *iter)
{
	if (tdp_op_cond_yield(op, iter, NULL))
		return true;
	tdp_op_eager_leaf_batch(op, iter);
	return false;
}

/* tdp_spte.c: the only code that writes entries. */
bool tdp_set_spte_atomic(struct tdp_op *op, struct tdp_iter *iter, uint64_t new_spte);
void tdp_set_spte_exclusive(struct tdp_op *op, struct tdp_iter *iter, uint64_t new_spte);

/* Whichever of the two the call's lock calls for. */
static inline bool tdp_set_spte(struct tdp_op *op, struct tdp_iter *iter, uint64_t new_spte)
{
	if (op->lock == TDP_LOCK_WRITE) {
		tdp_set_spte_exclusive(op, iter, new_spte);
		return true;
	}
	return tdp_set_spte_atomic(op, iter, new_spte);
}

bool tdp_fill_empty_spte(struct tdp_mmu *mmu, tdp_ptep_t sptep, uint64_t old,
			 uint64_t new_spte);
uint64_t tdp_clear_spte_bits(struct tdp_op *op, struct tdp_iter *iter, uint64_t mask);
bool tdp_set_spte_fast_writable(struct tdp_op *op, struct tdp_iter *iter, uint64_t new_spte);
void tdp_init_private_spte(tdp_ptep_t sptep, uint64_t spte);
void tdp_clear_private_table(tdp_ptep_t table);

/* tdp_mmu.c: the per-vCPU table cache. */
void *tdp_page_cache_pop(struct tdp_page_cache *cache);
void tdp_page_cache_push(struct tdp_page_cache *cache, void *page);

/* tdp_split.c: replace the huge leaf at iter with a table of the same translation. */
bool tdp_split_huge_spte(struct tdp_op *op, struct tdp_page_cache *cache, struct tdp_iter *iter);
