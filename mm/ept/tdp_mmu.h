// SPDX-License-Identifier: MIT
/*
 * The two-dimensional-paging MMU: one set of page tables per VM that maps
 * guest-physical frames (gfn) to host frames, in the Intel EPT or the AMD NPT
 * entry format (chosen at init; mm/ept/spte.h keeps the formats behind one set
 * of predicates and constructors).
 *
 * Faults run in parallel under mmu_lock held for read and install entries
 * with cmpxchg; page tables that get unlinked are frozen (REMOVED), flushed
 * from every TLB through platform_flush_remote_tlbs(), then freed with
 * call_rcu(). Lock-free walkers (aging, the hardware walker) only need RCU.
 *
 * This header is the contract between mm/ept/ and its users (virt/ in the
 * hypervisor, tests/host in the harness). Everything here takes an online RCU
 * CPU (mm/rcu/rcu.h) and must not be called from interrupt context.
 * Everything but the accessors may report a quiescent state (a long walk
 * yields, tdp_mmu_destroy() waits for callbacks), so call them outside any
 * read-side section, holding no lock.
 */
#pragma once

#include "mm/mmu.h"
#include "mm/rcu/rcu.h"

enum tdp_format {
	TDP_FORMAT_EPT, /* Intel: R/W/X bits, memory type, optional A/D (bits 8/9) */
	TDP_FORMAT_NPT, /* AMD: x86-64 long-mode page table format, P/RW/US/A/D/NX */
};

/* The root is level 4 (levels: mm/mmu.h). */
#define TDP_ROOT_LEVEL 4

#define TDP_ACC_READ 1u
#define TDP_ACC_WRITE 2u
#define TDP_ACC_EXEC 4u
/*
 * A hint a fault may carry: the hardware says the entry it faulted on was
 * not present (NPF error code P clear, EPT qualification bits 3-5 clear),
 * so the fast page fault, which only gives W back to a present leaf,
 * cannot help and is not tried. Without it the fast path is tried on
 * every write fault.
 */
#define TDP_ACC_NOT_PRESENT 8u

struct tdp_mmu_config {
	enum tdp_format format;
	bool ept_ad_bits;        /* EPT: A/D bits enabled in the EPT pointer */
	unsigned int ept_memtype; /* EPT: leaf memory type (6 = WB) */
	unsigned int max_level;  /* largest page the hardware maps: 1..3 */
	bool split_lazy;         /* split=lazy: write-protect leaves huge pages read-only */
	struct mmu_policy policy;
};

struct tdp_mmu; /* opaque: mm/ept/tdp_mmu_internal.h */

/*
 * Where the vCPU's last faults walked: the table below the root at each
 * level, and the gfns it maps (gfn >> (level * 9)). The next fault in the
 * same range starts at the lowest of them instead of at the root. It is
 * the fault path's own (mm/ept/tdp_fault.c), written and read only by the
 * vCPU that owns the cache, and trusted only while the MMU's count of
 * unlinked tables is still gen: see tdp_mmu.unlink_gen for why that
 * keeps a table from being freed under the walk.
 */
struct tdp_walk_hint {
	const struct tdp_mmu *mmu; /* whose tables; NULL: no hint */
	unsigned long gen;
	void *tables[TDP_ROOT_LEVEL - 1]; /* [level - 1]; NULL: none at that level */
	gfn_t base[TDP_ROOT_LEVEL - 1];
};

/* A vCPU's cache of table pages (not zeroed), topped up outside mmu_lock, and its walk hint. */
#define TDP_PAGE_CACHE_SIZE 8
struct tdp_page_cache {
	void *pages[TDP_PAGE_CACHE_SIZE];
	unsigned int nr;
	struct tdp_walk_hint hint;
#ifdef EXIT_BREAKDOWN
	/*
	 * The kernel's make BREAKDOWN=1 (virt/breakdown.h): platform_cycles()
	 * of the last slow-path fault with this cache once mmu_lock was held,
	 * right before its leaf was set, and once the lock was dropped (its
	 * flush done); 0 where that fault did not get there.
	 */
	uint64_t bd_locked, bd_walked, bd_unlocked;
#endif
};

/* Create and destroy (destroy frees every table; nothing may use the MMU). */
struct tdp_mmu *tdp_mmu_create(const struct tdp_mmu_config *cfg,
			       const struct mmu_ops *ops, void *owner);
void tdp_mmu_destroy(struct tdp_mmu *mmu);
/* Physical address of the root table: for the EPT pointer or nCR3. */
uint64_t tdp_mmu_root_pa(const struct tdp_mmu *mmu);
const struct tdp_mmu_config *tdp_mmu_config(const struct tdp_mmu *mmu);
const struct mmu_stats *tdp_mmu_stats(const struct tdp_mmu *mmu);

/* Refill cache to TDP_PAGE_CACHE_SIZE once it is below what one fault needs; false: no memory. */
bool tdp_page_cache_topup(struct tdp_page_cache *cache);
void tdp_page_cache_release(struct tdp_page_cache *cache);

enum tdp_fault_result {
	TDP_FAULT_FIXED,    /* a mapping now allows the access: re-enter the guest */
	TDP_FAULT_RETRY,    /* raced with another change: re-enter, it faults again if needed */
	TDP_FAULT_NO_SLOT,  /* no memslot: a wild access */
	TDP_FAULT_READONLY, /* a write to a read-only slot */
	TDP_FAULT_NOMEM,    /* no page for a table */
};

/*
 * Handle a TDP violation (EPT violation / NPF) at gpa for the access bits in
 * access. Tops up cache before taking mmu_lock (read, or write when
 * lock_exclusive). Maps the largest page the slot and max_level allow.
 */
enum tdp_fault_result tdp_mmu_page_fault(struct tdp_mmu *mmu, struct tdp_page_cache *cache,
					 uint64_t gpa, unsigned int access);

/*
 * Zap every mapping of [start, end) (gfns). Tables left empty are unlinked,
 * frozen and freed through RCU after the flush. flush=batched: at most one
 * remote flush per call; flush=eager: one per unlinked table and one per
 * leaf batch. Returns the number of leaves zapped.
 */
uint64_t tdp_mmu_zap_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end);

/* Dirty logging: take write access away from [start, end); flushes before returning. */
uint64_t tdp_mmu_write_protect_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end);
/*
 * D-bit dirty logging (NPT, EPT with A/D): clear the dirty bits of [start,
 * end), passing each dirty gfn to ops->mark_dirty; leaves stay writable.
 * Flushes before returning. Returns the leaves cleaned (0 without D bits).
 */
uint64_t tdp_mmu_clear_dirty_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end);
/* Split huge leaves in [start, end) into 4 KiB leaves (split=eager). */
uint64_t tdp_mmu_split_huge_range(struct tdp_mmu *mmu, struct tdp_page_cache *cache,
				  gfn_t start, gfn_t end);
/*
 * Collapse 4 KiB leaves back into huge pages where the slot allows (logging
 * off). Calls ops->gfn_to_pfn under mmu_lock.
 */
uint64_t tdp_mmu_collapse_range(struct tdp_mmu *mmu, gfn_t start, gfn_t end);

/*
 * Aging under RCU alone (no mmu_lock): set bit (gfn - start) in young for
 * every gfn whose leaf had its accessed bit set, and clear the bit. Never
 * reports a young gfn as old. Returns the number of young gfns. young holds
 * (end - start) bits, in 64-bit words; the call clears it first.
 */
uint64_t tdp_mmu_test_and_clear_young(struct tdp_mmu *mmu, gfn_t start, gfn_t end,
				      uint64_t *young);
uint64_t tdp_mmu_test_young(struct tdp_mmu *mmu, gfn_t start, gfn_t end, uint64_t *young);

/* The leaf that maps gfn now and its level (0 and 0: none), for messages. */
uint64_t tdp_mmu_lookup(struct tdp_mmu *mmu, gfn_t gfn, unsigned int *level);

/* Test hook: make every walk yield (as if mmu_lock were wanted) each steps entries; 0: off. */
void tdp_mmu_debug_yield_every(struct tdp_mmu *mmu, unsigned int steps);
