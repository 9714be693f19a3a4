// SPDX-License-Identifier: MIT
/*
 * pte_list (rmap.h): add, remove and the two walks. The lockless walk's
 * correctness rests on three rules, each kept in one place below:
 *  1. a descriptor is published (head store, release) only once its
 *     entries and next are written (pte_list_add);
 *  2. a remove moves the first descriptor's last entry into the hole,
 *     storing it there before it clears the old place (pte_list_remove);
 *  3. a reader reads each descriptor's entries top down, follows next, and
 *     starts over if the nulls value it ends on is not its head's
 *     (pte_list_walk_lockless).
 */
#include "mm/shadow/rmap.h"

#include "mm/rcu/rcu.h"
#include "mm/rcu/typesafe_cache.h"

/* Descriptors one lockless walk may follow before it assumes a cycle of recycled ones. */
#define RMAP_MAX_DESCS_PER_WALK 4096

static struct typesafe_cache rmap_desc_cache;
static atomic_bool rmap_ready;
static spinlock_t rmap_init_lock = SPINLOCK_INIT("rmap_init");
static atomic_long rmap_in_use; /* statistics: descriptors handed out */

#ifdef MM_DEBUG
#define rmap_assert_writer(lock) BUG_ON(!spin_is_locked(lock))
#else
#define rmap_assert_writer(lock) do { (void)(lock); } while (0)
#endif

static uintptr_t pte_list_nulls(struct pte_list_head *head)
{
	return (uintptr_t)head | 1;
}

static bool is_nulls(uintptr_t next)
{
	return next & 1;
}

static struct pte_list_desc *head_to_desc(uintptr_t val)
{
	return (struct pte_list_desc *)(val & ~(uintptr_t)1);
}

/* Runs once per object, when its page is carved: nothing, and a nulls naming no head. */
static void rmap_desc_ctor(void *obj)
{
	struct pte_list_desc *desc = obj;

	for (unsigned int i = 0; i < PTE_LIST_EXT; i++)
		atomic_store_explicit(&desc->sptes[i], NULL, memory_order_relaxed);
	atomic_store_explicit(&desc->next, 1, memory_order_relaxed);
	desc->count = 0;
}

void rmap_init(void)
{
	if (atomic_load_explicit(&rmap_ready, memory_order_acquire))
		return;
	spin_lock(&rmap_init_lock);
	if (!atomic_load_explicit(&rmap_ready, memory_order_relaxed)) {
		typesafe_cache_init(&rmap_desc_cache, "pte_list_desc", sizeof(struct pte_list_desc),
				    rmap_desc_ctor);
		atomic_store_explicit(&rmap_ready, true, memory_order_release);
	}
	spin_unlock(&rmap_init_lock);
}

bool rmap_desc_reserve_topup(struct rmap_desc_reserve *reserve)
{
	while (reserve->nr < RMAP_DESC_RESERVE) {
		struct pte_list_desc *desc = typesafe_alloc(&rmap_desc_cache);

		if (!desc)
			return false;
		atomic_fetch_add_explicit(&rmap_in_use, 1, memory_order_relaxed);
		reserve->desc[reserve->nr++] = desc;
	}
	return true;
}

static void rmap_desc_free(struct pte_list_desc *desc)
{
	atomic_fetch_sub_explicit(&rmap_in_use, 1, memory_order_relaxed);
	typesafe_free(&rmap_desc_cache, desc);
}

void rmap_desc_reserve_release(struct rmap_desc_reserve *reserve)
{
	while (reserve->nr)
		rmap_desc_free(reserve->desc[--reserve->nr]);
}

void rmap_desc_cache_drain_this_cpu(void)
{
	if (atomic_load_explicit(&rmap_ready, memory_order_acquire))
		typesafe_cache_drain_this_cpu(&rmap_desc_cache);
}

long rmap_descs_in_use(void)
{
	return atomic_load_explicit(&rmap_in_use, memory_order_relaxed);
}

void rmap_write_protect_begin(void)
{
#ifndef RMAP_PLANT_NO_BARRIER
	rmap_mb(); /* pairs with rmap_mb() between the fault's pte_list_add() and mark_dirty() */
#endif
}

/*
 * A descriptor from the reserve, filled before anyone can see it: it may be
 * a recycled one that a stale reader still walks, so every field is
 * written with an atomic store, and it only becomes reachable from head
 * with the caller's release store.
 */
static struct pte_list_desc *rmap_desc_fill(struct rmap_desc_reserve *reserve, shadow_ptep_t a,
					    shadow_ptep_t b, uintptr_t next)
{
	struct pte_list_desc *desc;

	BUG_ON(!reserve || !reserve->nr); /* the caller topped it up for every add */
	desc = reserve->desc[--reserve->nr];
	for (unsigned int i = 2; i < PTE_LIST_EXT; i++)
		atomic_store_explicit(&desc->sptes[i], NULL, memory_order_relaxed);
	/*
	 * Release, not relaxed: a stale reader reaches a recycled descriptor by
	 * its old chain, not by head's release, and goes straight from the entry
	 * it reads here to the entry's shadow page (sptep_gfn()): the acquire in
	 * pte_list_walk_lockless() must pair with this store itself.
	 */
	atomic_store_explicit(&desc->sptes[1], b, memory_order_release);
	atomic_store_explicit(&desc->sptes[0], a, memory_order_release);
	atomic_store_explicit(&desc->next, next, memory_order_relaxed);
	desc->count = b ? 2 : 1;
	return desc;
}

void pte_list_add_slow(struct pte_list_head *head, shadow_ptep_t sptep,
		       struct rmap_desc_reserve *reserve, spinlock_t *lock)
{
	uintptr_t val = atomic_load_explicit(&head->val, memory_order_relaxed);
	struct pte_list_desc *first, *desc;

	rmap_assert_writer(lock);
	BUG_ON(!sptep || ((uintptr_t)sptep & 7));
	if (!val) {
		atomic_store_explicit(&head->val, (uintptr_t)sptep, memory_order_release);
		return;
	}
	if (!(val & 1)) {
		/* One entry becomes a descriptor holding both; the chain ends in our nulls. */
		desc = rmap_desc_fill(reserve, (shadow_ptep_t)val, sptep, pte_list_nulls(head));
		atomic_store_explicit(&head->val, (uintptr_t)desc | 1, memory_order_release);
		return;
	}
	first = head_to_desc(val);
	if (first->count < PTE_LIST_EXT) {
		/* Release: a reader that sees the entry sees the SPTE it points to as set. */
		atomic_store_explicit(&first->sptes[first->count], sptep, memory_order_release);
		first->count++;
		return;
	}
	desc = rmap_desc_fill(reserve, sptep, NULL, (uintptr_t)first);
	atomic_store_explicit(&head->val, (uintptr_t)desc | 1, memory_order_release);
}

/*
 * Fill the hole at desc->sptes[i] from the first descriptor's last entry.
 * The entry is stored in the hole before its old place is cleared, and
 * the hole is where a reader comes later than the old place (a later
 * descriptor, or a lower index of the first one), so a reader that finds
 * the old place empty finds the entry in the hole.
 */
static void pte_list_fill_hole(struct pte_list_head *head, struct pte_list_desc *first,
			       struct pte_list_desc *desc, unsigned int i)
{
	unsigned int j = first->count - 1;
	shadow_ptep_t moved = atomic_load_explicit(&first->sptes[j], memory_order_relaxed);
	uintptr_t next;

#ifdef RMAP_PLANT_BACKWARD_MOVE
	/*
	 * Planted bug: the hole is filled from the place readers visit last
	 * (the tail descriptor's slot 0), which the first descriptor's last
	 * entry then refills. A reader past the hole and not yet at the tail
	 * misses the entry that moved back.
	 */
	{
		struct pte_list_desc *tail = first;

		while (!is_nulls(next = atomic_load_explicit(&tail->next, memory_order_relaxed)))
			tail = head_to_desc(next);
		if (!(desc == first && i == j) && !(desc == tail && i == 0)) {
			shadow_ptep_t back = atomic_load_explicit(&tail->sptes[0], memory_order_relaxed);

			atomic_store_explicit(&desc->sptes[i], back, memory_order_release);
			atomic_store_explicit(&tail->sptes[0], moved, memory_order_release);
			i = j;
			desc = first;
		}
	}
#endif
	if (desc != first || i != j)
		atomic_store_explicit(&desc->sptes[i], moved, memory_order_release);
	/* Release: ordered after the store into the hole (rule 2). */
	atomic_store_explicit(&first->sptes[j], NULL, memory_order_release);
	if (--first->count)
		return;
	/*
	 * The first descriptor is empty: the head skips it, and it is freed at
	 * once. A reader still inside it goes on through its next (the new
	 * first descriptor, or our nulls) until someone reuses it; then it
	 * ends on whatever chain that is, and the nulls check sends it back.
	 */
	next = atomic_load_explicit(&first->next, memory_order_relaxed);
	atomic_store_explicit(&head->val, is_nulls(next) ? 0 : next | 1, memory_order_release);
	rmap_desc_free(first);
}

#ifdef MM_DEBUG
/* Descriptors pte_list_remove() looked at: the host tests bound a teardown's work by it. */
static atomic_ulong remove_visits;

unsigned long rmap_debug_remove_visits(void)
{
	return atomic_load(&remove_visits);
}
#define COUNT_REMOVE_VISIT() atomic_fetch_add_explicit(&remove_visits, 1, memory_order_relaxed)
#else
#define COUNT_REMOVE_VISIT() ((void)0)
#endif

void pte_list_remove(struct pte_list_head *head, shadow_ptep_t sptep, spinlock_t *lock)
{
	uintptr_t val = atomic_load_explicit(&head->val, memory_order_relaxed);
	struct pte_list_desc *first, *desc;

	rmap_assert_writer(lock);
	if (val == (uintptr_t)sptep) {
		atomic_store_explicit(&head->val, 0, memory_order_release);
		return;
	}
	if (!(val & 1))
		platform_panic("pte_list_remove: %p is not in the list of %p", (void *)sptep,
			       (void *)head);
	first = head_to_desc(val);
	for (desc = first;;) {
		uintptr_t next;

		COUNT_REMOVE_VISIT();
		for (unsigned int i = 0; i < desc->count; i++) {
			if (atomic_load_explicit(&desc->sptes[i], memory_order_relaxed) == sptep) {
				pte_list_fill_hole(head, first, desc, i);
				return;
			}
		}
		next = atomic_load_explicit(&desc->next, memory_order_relaxed);
		if (is_nulls(next))
			platform_panic("pte_list_remove: %p is not in the list of %p",
				       (void *)sptep, (void *)head);
		desc = head_to_desc(next);
	}
}

void pte_list_drop_all(struct pte_list_head *head, spinlock_t *lock)
{
	uintptr_t val = atomic_load_explicit(&head->val, memory_order_relaxed), next;
	struct pte_list_desc *desc;

	rmap_assert_writer(lock);
	atomic_store_explicit(&head->val, 0, memory_order_release);
	if (!(val & 1))
		return;
	for (desc = head_to_desc(val);; desc = head_to_desc(next)) {
		next = atomic_load_explicit(&desc->next, memory_order_relaxed);
		rmap_desc_free(desc); /* type-safe by RCU: next was read first */
		if (is_nulls(next))
			return;
	}
}

shadow_ptep_t pte_list_first(struct pte_list_head *head, spinlock_t *lock)
{
	uintptr_t val = atomic_load_explicit(&head->val, memory_order_relaxed);
	struct pte_list_desc *first;

	rmap_assert_writer(lock);
	if (!(val & 1))
		return (shadow_ptep_t)val;
	first = head_to_desc(val);
	return atomic_load_explicit(&first->sptes[first->count - 1], memory_order_relaxed);
}

unsigned long pte_list_count(struct pte_list_head *head, spinlock_t *lock)
{
	uintptr_t val = atomic_load_explicit(&head->val, memory_order_relaxed);
	unsigned long nr = 0;

	rmap_assert_writer(lock);
	if (!(val & 1))
		return val != 0;
	for (struct pte_list_desc *desc = head_to_desc(val);;) {
		nr += desc->count;
		val = atomic_load_explicit(&desc->next, memory_order_relaxed);
		if (is_nulls(val))
			return nr;
		desc = head_to_desc(val);
	}
}

void pte_list_walk_locked(struct pte_list_head *head, rmap_fn fn, void *arg)
{
	uintptr_t val = atomic_load_explicit(&head->val, memory_order_relaxed);

	if (!(val & 1)) {
		if (val)
			fn((shadow_ptep_t)val, arg);
		return;
	}
	for (struct pte_list_desc *desc = head_to_desc(val);;) {
		for (unsigned int i = desc->count; i-- > 0;)
			fn(atomic_load_explicit(&desc->sptes[i], memory_order_relaxed), arg);
		val = atomic_load_explicit(&desc->next, memory_order_relaxed);
		if (is_nulls(val))
			return;
		desc = head_to_desc(val);
	}
}

#ifdef MM_DEBUG
static void rmap_check_not_freed(uintptr_t word)
{
	if (unlikely(word == (uintptr_t)RMAP_FREED_POISON))
		platform_panic("rmap: a lockless walk read freed memory (%#lx)", (unsigned long)word);
}
#else
static inline void rmap_check_not_freed(uintptr_t word) { (void)word; }
#endif

bool pte_list_walk_lockless(struct pte_list_head *head, rmap_fn fn, void *arg,
			    unsigned int max_restarts, unsigned long *restarts)
{
	uintptr_t nulls = pte_list_nulls(head), val, next;
	unsigned int tries = 0, steps;

	RCU_CHECK(rcu_read_lock_held(), "pte_list_walk_lockless outside rcu_read_lock");
restart:
	/* Acquire: pairs with the release that published the first descriptor (rule 1). */
	val = atomic_load_explicit(&head->val, memory_order_acquire);
	if (!(val & 1)) {
		/* The fast path: no descriptor, so nothing can be recycled under us. */
		if (val)
			fn((shadow_ptep_t)val, arg);
		return true;
	}
	steps = 0;
	for (struct pte_list_desc *desc = head_to_desc(val);;) {
		for (unsigned int i = PTE_LIST_EXT; i-- > 0;) {
			/* Acquire: pairs with rule 2's release of the emptied old place. */
			shadow_ptep_t sptep = atomic_load_explicit(&desc->sptes[i], memory_order_acquire);

			rmap_check_not_freed((uintptr_t)sptep);
			if (sptep)
				fn(sptep, arg);
			platform_torture_delay();
		}
		next = atomic_load_explicit(&desc->next, memory_order_acquire);
		rmap_check_not_freed(next);
		if (is_nulls(next))
			break;
		desc = head_to_desc(next);
		if (unlikely(++steps > RMAP_MAX_DESCS_PER_WALK))
			break; /* round and round recycled descriptors: start over */
	}
	if (unlikely(next != nulls)) {
#ifdef RMAP_PLANT_NO_NULLS_CHECK
		if (is_nulls(next))
			return true; /* planted bug: the walk believes whatever chain it ended on */
#endif
		/* We ended on another chain: our descriptor was freed and reused under us (rule 3). */
		++*restarts;
		if (++tries > max_restarts)
			return false;
		goto restart;
	}
	return true;
}
