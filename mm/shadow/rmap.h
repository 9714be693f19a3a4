// SPDX-License-Identifier: MIT
/*
 * The reverse map: for each gfn, every shadow entry that maps it, as a
 * pte_list (KVM's name). The same list keeps a shadow page's parent entries.
 *
 *   head.val == 0                   empty
 *   head.val == sptep               one entry, inline (bit 0 clear)
 *   head.val == first_desc | 1      descriptors:
 *
 *   head --> [first desc] --next--> [desc] --next--> ... [last desc] --next--> head | 1 ("nulls")
 *             count < EXT            full                 full
 *
 * Only the first descriptor has free slots (entries [0, count) are used);
 * an add fills it, or puts a new first descriptor in front. A remove fills
 * the hole with the first descriptor's last entry ("forward": from the
 * place a reader visits first to where it comes later), and frees the
 * first descriptor once it is empty.
 *
 * Writers hold the lock given to them (shadow_lock). Readers walk without
 * any lock, inside an RCU read-side section: descriptors come from a
 * type-safe-by-RCU cache, so a reader may find its descriptor freed and
 * reused, even on another gfn's chain, but never anything but a
 * descriptor. It reads each descriptor's entries top down, and a walk that
 * ends on a nulls value that is not its own head's starts over: then it
 * never misses an entry that stayed in the list for its whole walk
 * (docs/SHADOW_MMU.md draws the cases; tests/model/pte_list.pml checks them).
 */
#pragma once

#include "mm/lock.h"
#include "mm/platform.h"

/* An entry of a shadow table (the one setter: mm/shadow/shadow_spte.c). */
typedef _Atomic uint64_t *shadow_ptep_t;

#define PTE_LIST_EXT 14

struct pte_list_head {
	_Atomic uintptr_t val; /* writers: their lock; readers: lockless, acquire */
};

struct pte_list_desc {
	_Atomic(shadow_ptep_t) sptes[PTE_LIST_EXT]; /* writers: their lock; readers: lockless */
	_Atomic uintptr_t next;                     /* the next desc, or head | 1 (nulls) */
	unsigned int count;                         /* writers only: entries in use */
};

_Static_assert(sizeof(struct pte_list_desc) == 128, "a descriptor is two cache lines");

/* What MM_DEBUG builds write over a retired cache page (typesafe_cache.c): freed memory. */
#define RMAP_FREED_POISON 0x6b6b6b6b6b6b6b6bULL

/* Descriptors a writer may need under its lock, taken beforehand: one per add. */
#define RMAP_DESC_RESERVE 4
struct rmap_desc_reserve {
	struct pte_list_desc *desc[RMAP_DESC_RESERVE];
	unsigned int nr;
};

/* Set the descriptor cache up (once, whoever calls first). */
void rmap_init(void);
/* Fill reserve (outside any lock); false when the cache had no memory for it. */
bool rmap_desc_reserve_topup(struct rmap_desc_reserve *reserve);
void rmap_desc_reserve_release(struct rmap_desc_reserve *reserve);
/* Give this CPU's free descriptors back to the page allocator (teardown, tests). */
void rmap_desc_cache_drain_this_cpu(void);
/* Descriptors handed out and not yet freed, all CPUs (tests). */
long rmap_descs_in_use(void);

/* Writers, holding lock. An add takes a descriptor from reserve when it needs one. */
void pte_list_add_slow(struct pte_list_head *head, shadow_ptep_t sptep,
		       struct rmap_desc_reserve *reserve, spinlock_t *lock);

/*
 * Inline, an empty head's add (a frame's first mapping, the demand
 * fault's): the entry itself becomes the head, published with release as
 * pte_list_add_slow() does; the rest, and a bad sptep, go there.
 */
static inline void pte_list_add(struct pte_list_head *head, shadow_ptep_t sptep,
				struct rmap_desc_reserve *reserve, spinlock_t *lock)
{
#ifdef MM_DEBUG
	BUG_ON(!spin_is_locked(lock));
#endif
	if (atomic_load_explicit(&head->val, memory_order_relaxed) == 0 && sptep &&
	    !((uintptr_t)sptep & 7)) {
		atomic_store_explicit(&head->val, (uintptr_t)sptep, memory_order_release);
		return;
	}
	pte_list_add_slow(head, sptep, reserve, lock);
}
void pte_list_remove(struct pte_list_head *head, shadow_ptep_t sptep, spinlock_t *lock);
/*
 * Empty head's chain at once, each descriptor freed: for a whole MMU's
 * teardown, whose entries all go. One pte_list_remove() per entry scans
 * the chain each time: N x 512 leaves of one frame took time quadratic in
 * them (15 s at N = 256 under QEMU).
 */
void pte_list_drop_all(struct pte_list_head *head, spinlock_t *lock);
#ifdef MM_DEBUG
unsigned long rmap_debug_remove_visits(void);
#endif
shadow_ptep_t pte_list_first(struct pte_list_head *head, spinlock_t *lock);
unsigned long pte_list_count(struct pte_list_head *head, spinlock_t *lock);

static inline bool pte_list_empty(struct pte_list_head *head)
{
	return atomic_load_explicit(&head->val, memory_order_relaxed) == 0;
}

typedef void (*rmap_fn)(shadow_ptep_t sptep, void *arg);

/* With the writers' lock held (or every writer excluded): fn on each entry. */
void pte_list_walk_locked(struct pte_list_head *head, rmap_fn fn, void *arg);

/*
 * Inside rcu_read_lock(), no lock: fn on each entry; an entry may be seen
 * twice, or be one that was added or removed meanwhile (fn must check what
 * it finds), but an entry that is in the list from the start of the call
 * to its end is always seen. Returns false if the walk had to start over
 * more than max_restarts times: the caller then walks under the lock.
 * *restarts counts the fresh starts.
 */
bool pte_list_walk_lockless(struct pte_list_head *head, rmap_fn fn, void *arg,
			    unsigned int max_restarts, unsigned long *restarts);

/*
 * The dirty-log barrier pair (docs/SHADOW_MMU.md, "Barrier pairs"):
 *   fault:         SPTE made writable; pte_list_add(); rmap_mb(); mark_dirty()
 *   write-protect: (caller: logging on, bitmap taken); rmap_write_protect_begin(); rmap walk
 * Either the walk sees the new entry, or mark_dirty() sees what the caller
 * stored before the write-protect. Both sides store, then load: x86 lets a
 * load pass an earlier store, so both need the full barrier.
 */
static inline void rmap_mb(void)
{
#ifdef __SANITIZE_THREAD__
	atomic_int slot = 0; /* gcc 12's TSan rejects fences: a locked add, x86's smp_mb() */

	atomic_fetch_add_explicit(&slot, 0, memory_order_seq_cst);
#else
	atomic_thread_fence(memory_order_seq_cst);
#endif
}

/* The write-protect side of the pair above: call once before the walks. */
void rmap_write_protect_begin(void);
