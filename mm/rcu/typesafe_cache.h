// SPDX-License-Identifier: MIT
/*
 * A type-safe-by-RCU object cache (Linux's SLAB_TYPESAFE_BY_RCU): a freed
 * object may be handed out again at once, but only as an object of the same
 * cache; its page goes back to page_alloc() only a grace period after the
 * last object on it was freed.
 *
 * The reader contract. A lockless reader inside rcu_read_lock() that
 * reaches an object through an RCU-protected pointer may find it freed, or
 * freed and reallocated for something else, but it always finds an object
 * of this cache: the memory is never anything else while the reader's
 * section lasts. So the reader must
 *  - read the fields it decides on with atomics (they may change under it);
 *  - re-validate after reading: check that the object is still the one it
 *    looked for (a key, a generation, or the nulls value that ends an rmap
 *    chain), and restart the lookup if not.
 * The cache never writes an object's bytes after the constructor: the
 * free-list link lives in a hidden word after each object, so a freed
 * object keeps its last contents (a generation stays readable, a nulls
 * marker stays a nulls marker).
 *
 * Context: any online RCU CPU (retiring a page uses call_rcu()), never an
 * interrupt handler. Objects are at most about half a page.
 */
#pragma once

#include "mm/platform.h"

struct typesafe_slab;

/* Each CPU's free objects: touched only by that CPU. */
struct typesafe_cpu_cache {
	void *free; /* linked through the hidden word */
	unsigned int nr;
} __cacheline_aligned;

struct typesafe_cache {
	/* Immutable after typesafe_cache_init(). */
	const char *name;
	size_t obj_size;
	size_t stride;          /* object + hidden link, rounded to 16 */
	unsigned int objs_per_slab;
	unsigned int batch;     /* objects moved per refill or flush */
	void (*ctor)(void *obj); /* runs once per object, when its page is carved */

	spinlock_t lock;
	/* lock must be held when using these: */
	struct typesafe_slab *partial; /* slabs with objects on their own free list */
	unsigned long nr_slabs;        /* slabs carved and not yet retired */

	/* Statistics, relaxed. */
	atomic_ulong slabs_created;
	atomic_ulong slabs_retired; /* handed to call_rcu */
	atomic_ulong pages_freed;   /* given back to page_alloc after the grace period */

	struct typesafe_cpu_cache cpu[PLATFORM_MAX_CPUS];
};

void typesafe_cache_init(struct typesafe_cache *c, const char *name, size_t obj_size,
			 void (*ctor)(void *obj));
void *typesafe_alloc(struct typesafe_cache *c); /* NULL when page_alloc() fails */
void typesafe_free(struct typesafe_cache *c, void *obj);
/* Give this CPU's free objects back to their slabs, retiring empty ones. */
void typesafe_cache_drain_this_cpu(struct typesafe_cache *c);

struct typesafe_cache_stats {
	uint64_t slabs_live;    /* carved, not yet retired */
	uint64_t slabs_created;
	uint64_t slabs_retired;
	uint64_t pages_freed;
};
void typesafe_cache_get_stats(struct typesafe_cache *c, struct typesafe_cache_stats *st);
