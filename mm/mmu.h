// SPDX-License-Identifier: MIT
/*
 * The floor both MMUs stand on (mm/ept/: two-dimensional paging; mm/shadow/:
 * shadow paging): what a VM hands an MMU, what either MMU reports, and the
 * marker both write into a page table on its way out. Neither MMU includes
 * the other; both include this (and mm/mmu_lock.h for mmu_lock).
 */
#pragma once

#include "mm/platform.h"

typedef uint64_t gfn_t;

/* Mapping levels: 1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB. */
#define PG_LEVEL_4K 1
#define PG_LEVEL_2M 2
#define PG_LEVEL_1G 3

/*
 * The algorithm choices both MMUs honour, each with its "before" kept so
 * the two can be measured in one boot.
 */
struct mmu_policy {
	bool lock_exclusive; /* mmu_lock=exclusive: faults and zaps take mmu_lock for write */
	bool flush_eager;    /* flush=eager: one remote flush per unlinked table */
	bool wp_locked;      /* wp=locked: write-protect under mmu_lock (W), not lockless */
	bool age_locked;     /* age=locked: aging under mmu_lock (W), not lockless */
};

/* Where a gfn lives in host memory: the VM's memslots answer this. */
struct mmu_pfn_info {
	uint64_t pfn;           /* host frame of gfn */
	bool writable;          /* the slot allows writes */
	unsigned int max_level; /* the largest level the slot allows around gfn
				   (host and guest frames aligned alike, slot covers it) */
	bool dirty_logging;     /* the slot logs dirty pages: map writes at 4 KiB */
};

/* What the VM hands an MMU at creation (virt/vm.c: the memslots and the dirty log). */
struct mmu_ops {
	/*
	 * false: no memslot covers gfn (a wild access; the caller stops the
	 * guest). A gfn's pfn must not change while the MMU lives (memslots
	 * are fixed when the VM is made): the MMUs remember it (the shadow
	 * MMU's guest frame cache, the TDP MMU's present leaves). writable
	 * and dirty_logging may change.
	 */
	bool (*gfn_to_pfn)(void *owner, gfn_t gfn, struct mmu_pfn_info *out);
	/* Optional: a leaf that was writable and dirty lost write access or was zapped. */
	void (*mark_dirty)(void *owner, gfn_t gfn);
	/* Optional, preferred to mark_dirty: the same for [gfn, gfn + nr) (a huge leaf at once). */
	void (*mark_dirty_range)(void *owner, gfn_t gfn, uint64_t nr);
};

/* The counters both MMUs keep; a snapshot sums them over CPUs. */
struct mmu_stats {
	atomic_ulong faults;          /* page fault calls */
	atomic_ulong faults_fixed;    /* ... that installed or upgraded a leaf */
	atomic_ulong faults_spurious; /* ... that found the mapping already there */
	atomic_ulong fast_faults;     /* ... fixed by the fast path, without mmu_lock */
	atomic_ulong retries;         /* cmpxchg lost to another CPU; walked again */
	atomic_ulong leaves_mapped[PG_LEVEL_1G + 1]; /* by level */
	atomic_ulong tables_allocated;
	atomic_ulong tables_freed;    /* after their grace period */
	atomic_ulong flushes;         /* platform_flush_remote_tlbs() calls */
	atomic_ulong zap_flushes;     /* ... made by a zap */
	atomic_ulong zap_yields;      /* times a zap gave up mmu_lock midway (each may flush) */
	atomic_ulong leaves_zapped;
	atomic_ulong leaves_write_protected;
	atomic_ulong huge_split;
	atomic_ulong young_cleared;
	atomic_ulong lock_read;       /* mmu_lock acquisitions */
	atomic_ulong lock_write;
};

/*
 * REMOVED: what every entry of an unlinked ("frozen") table holds until the
 * table is freed. A fault that reads it retries from the root instead of
 * installing into a table on its way out. The marker sits in bits 58:52,
 * which the CPU ignores in a non-present entry of every format here (EPT,
 * NPT, the x86-64 tables the shadow MMU builds); bits 2:0 are clear, so no
 * walker sees it present, and W (bit 1) and A (bit 5) are clear, so a
 * lockless walker's atomic clear of either leaves it as it is.
 *
 * Bits 51:12 are the link field: the TDP MMU chains a frozen table to the
 * next one waiting for the same flush through its entry 0 (mm/ept/tdp_spte.c).
 * Readers only ever test the marker.
 */
#define MMU_REMOVED_SPTE 0x05a0000000000000ULL
#define MMU_REMOVED_LINK_MASK 0x000ffffffffff000ULL /* bits 51:12 */

/* What MM_DEBUG builds write over every entry of a table before they free it. */
#define MMU_FREED_POISON 0x6b6b6b6b6b6b6b00ULL

_Static_assert((MMU_REMOVED_SPTE & ~(0x7fULL << 52)) == 0, "REMOVED lives in bits 58:52 only");
_Static_assert(!(MMU_REMOVED_SPTE & ((1ULL << 0) | (1ULL << 1) | (1ULL << 2) | (1ULL << 5))),
	       "REMOVED is not present (bits 2:0) and has neither W nor A");
_Static_assert(!(MMU_FREED_POISON & 7), "poison is not present");
_Static_assert((MMU_FREED_POISON & ~MMU_REMOVED_LINK_MASK) != MMU_REMOVED_SPTE,
	       "poison is not REMOVED");

static inline bool is_removed_spte(uint64_t spte)
{
	return (spte & ~MMU_REMOVED_LINK_MASK) == MMU_REMOVED_SPTE;
}
