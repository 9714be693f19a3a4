// SPDX-License-Identifier: MIT
/*
 * Type-safe-by-RCU cache: objects recycle at once through per-CPU free
 * lists, and a page leaves the cache only through call_rcu() once all its
 * objects are free, so a reader's section never outlives the type of the
 * memory it reads.
 *
 * Each page is one slab:
 *
 *   +--------------------+--------------+---+--------------+---+-----
 *   | struct typesafe_slab | object 0     | L | object 1     | L | ...
 *   +--------------------+--------------+---+--------------+---+-----
 *                          <---------- stride ----------->
 *
 * L is the hidden link word of a free object. An object is either handed
 * out or on a free list (a CPU's, or its slab's); slab->inuse counts the
 * ones not on the slab's own list. When it drops to 0 the slab leaves the
 * cache and its page is freed a grace period later.
 */
#include "mm/rcu/typesafe_cache.h"

#include "mm/page_alloc.h"
#include "mm/rcu/rcu.h"

#define TYPESAFE_ALIGN 16
#define TYPESAFE_MAX_BATCH 32
#define TYPESAFE_POISON 0x6b /* a retired page, while the page allocator does not yet own it */
#define TYPESAFE_INUSE ((void *)0x1) /* the link of an allocated object (MM_DEBUG) */

struct typesafe_slab {
	struct rcu_head rcu; /* retirement */
	struct typesafe_cache *cache; /* immutable */
	/* cache->lock must be held when using these: */
	struct typesafe_slab *next, *prev; /* on cache->partial */
	void *free;
	unsigned int inuse;
	bool on_partial;
};

#define TYPESAFE_FIRST_OBJ \
	((sizeof(struct typesafe_slab) + TYPESAFE_ALIGN - 1) & ~(size_t)(TYPESAFE_ALIGN - 1))

static void **obj_link(struct typesafe_cache *c, void *obj)
{
	return (void **)((char *)obj + c->stride - sizeof(void *));
}

static struct typesafe_slab *obj_to_slab(void *obj)
{
	return (struct typesafe_slab *)((uintptr_t)obj & ~(PAGE_SIZE - 1));
}

static void *slab_obj(struct typesafe_cache *c, struct typesafe_slab *s, unsigned int i)
{
	return (char *)s + TYPESAFE_FIRST_OBJ + (size_t)i * c->stride;
}

void typesafe_cache_init(struct typesafe_cache *c, const char *name, size_t obj_size,
			 void (*ctor)(void *obj))
{
	c->name = name;
	c->obj_size = obj_size;
	c->stride = (obj_size + sizeof(void *) + TYPESAFE_ALIGN - 1) & ~(size_t)(TYPESAFE_ALIGN - 1);
	if (obj_size == 0 || c->stride > PAGE_SIZE - TYPESAFE_FIRST_OBJ)
		platform_panic("typesafe cache %s: object size %zu does not fit a page", name,
			       obj_size);
	c->objs_per_slab = (PAGE_SIZE - TYPESAFE_FIRST_OBJ) / c->stride;
	c->batch = c->objs_per_slab / 2;
	if (c->batch < 1)
		c->batch = 1;
	if (c->batch > TYPESAFE_MAX_BATCH)
		c->batch = TYPESAFE_MAX_BATCH;
	c->ctor = ctor;
	spin_lock_init(&c->lock, name);
	c->partial = NULL;
	c->nr_slabs = 0;
	atomic_store(&c->slabs_created, 0);
	atomic_store(&c->slabs_retired, 0);
	atomic_store(&c->pages_freed, 0);
	for (unsigned int cpu = 0; cpu < PLATFORM_MAX_CPUS; cpu++) {
		c->cpu[cpu].free = NULL;
		c->cpu[cpu].nr = 0;
	}
}

static void partial_add(struct typesafe_cache *c, struct typesafe_slab *s)
{
	s->prev = NULL;
	s->next = c->partial;
	if (c->partial)
		c->partial->prev = s;
	c->partial = s;
	s->on_partial = true;
}

static void partial_del(struct typesafe_cache *c, struct typesafe_slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->partial = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->on_partial = false;
}

static void cpu_push(struct typesafe_cache *c, struct typesafe_cpu_cache *cc, void *obj)
{
	*obj_link(c, obj) = cc->free;
	cc->free = obj;
	cc->nr++;
}

static void *cpu_pop(struct typesafe_cache *c, struct typesafe_cpu_cache *cc)
{
	void *obj = cc->free;

	cc->free = *obj_link(c, obj);
	cc->nr--;
	return obj;
}

/* A new page: a batch of its objects goes to this CPU, the rest stay on the slab. */
static bool typesafe_grow(struct typesafe_cache *c, struct typesafe_cpu_cache *cc)
{
	struct typesafe_slab *s = page_alloc(0);

	if (!s)
		return false;
	s->cache = c;
	s->free = NULL;
	s->inuse = 0;
	s->on_partial = false;
	for (unsigned int i = c->objs_per_slab; i-- > 0;) {
		void *obj = slab_obj(c, s, i);

		if (c->ctor)
			c->ctor(obj);
		if (s->inuse < c->batch) {
			cpu_push(c, cc, obj);
			s->inuse++;
		} else {
			*obj_link(c, obj) = s->free;
			s->free = obj;
		}
	}
	spin_lock(&c->lock);
	c->nr_slabs++;
	if (s->free)
		partial_add(c, s);
	spin_unlock(&c->lock);
	atomic_fetch_add_explicit(&c->slabs_created, 1, memory_order_relaxed);
	return true;
}

static bool typesafe_refill(struct typesafe_cache *c, struct typesafe_cpu_cache *cc)
{
	spin_lock(&c->lock);
	while (cc->nr < c->batch && c->partial) {
		struct typesafe_slab *s = c->partial;

		while (s->free && cc->nr < c->batch) {
			void *obj = s->free;

			s->free = *obj_link(c, obj);
			s->inuse++;
			cpu_push(c, cc, obj);
		}
		if (!s->free)
			partial_del(c, s);
	}
	spin_unlock(&c->lock);
	return cc->nr || typesafe_grow(c, cc);
}

void *typesafe_alloc(struct typesafe_cache *c)
{
	struct typesafe_cpu_cache *cc = &c->cpu[platform_cpu_id()];
	void *obj;

	if (!cc->free && !typesafe_refill(c, cc))
		return NULL;
	obj = cpu_pop(c, cc);
#ifdef MM_DEBUG
	*obj_link(c, obj) = TYPESAFE_INUSE;
#endif
	return obj;
}

static void typesafe_slab_free_rcu(struct rcu_head *head)
{
	struct typesafe_slab *s = container_of(head, struct typesafe_slab, rcu);

	atomic_fetch_add_explicit(&s->cache->pages_freed, 1, memory_order_relaxed);
#ifdef MM_DEBUG
	/* A reader that outlived the grace period now reads poison, not an object. */
	__builtin_memset(s, TYPESAFE_POISON, PAGE_SIZE);
#endif
	page_free(s, 0);
}

/* Give objects back to their slabs until this CPU keeps only `keep`. */
static void typesafe_flush(struct typesafe_cache *c, struct typesafe_cpu_cache *cc,
			   unsigned int keep)
{
	struct typesafe_slab *retire = NULL;

	spin_lock(&c->lock);
	while (cc->nr > keep) {
		void *obj = cpu_pop(c, cc);
		struct typesafe_slab *s = obj_to_slab(obj);

		*obj_link(c, obj) = s->free;
		s->free = obj;
		if (--s->inuse == 0) {
			if (s->on_partial)
				partial_del(c, s);
			c->nr_slabs--;
			s->next = retire;
			retire = s;
		} else if (!s->on_partial) {
			partial_add(c, s);
		}
	}
	spin_unlock(&c->lock);
	/*
	 * No object of these slabs is reachable for a new reader (each was
	 * unpublished before it was freed), but a reader in an older section
	 * may still hold one: the page stays this cache's until the grace
	 * period ends.
	 */
	while (retire) {
		struct typesafe_slab *s = retire;

		retire = s->next;
		atomic_fetch_add_explicit(&c->slabs_retired, 1, memory_order_relaxed);
#ifdef TYPESAFE_PLANT_EARLY_FREE
		typesafe_slab_free_rcu(&s->rcu); /* planted bug: no grace period */
#else
		call_rcu(&s->rcu, typesafe_slab_free_rcu);
#endif
	}
}

void typesafe_free(struct typesafe_cache *c, void *obj)
{
	struct typesafe_cpu_cache *cc = &c->cpu[platform_cpu_id()];

#ifdef MM_DEBUG
	struct typesafe_slab *s = obj_to_slab(obj);
	size_t offset = (size_t)((char *)obj - (char *)s) - TYPESAFE_FIRST_OBJ;

	if (s->cache != c || offset % c->stride || offset / c->stride >= c->objs_per_slab)
		platform_panic("typesafe_free(%s, %p): not an object of this cache", c->name, obj);
	if (*obj_link(c, obj) != TYPESAFE_INUSE)
		platform_panic("typesafe_free(%s, %p): double free", c->name, obj);
#endif
	cpu_push(c, cc, obj);
	if (cc->nr > 2 * c->batch)
		typesafe_flush(c, cc, c->batch);
}

void typesafe_cache_drain_this_cpu(struct typesafe_cache *c)
{
	typesafe_flush(c, &c->cpu[platform_cpu_id()], 0);
}

void typesafe_cache_get_stats(struct typesafe_cache *c, struct typesafe_cache_stats *st)
{
	spin_lock(&c->lock);
	st->slabs_live = c->nr_slabs;
	spin_unlock(&c->lock);
	st->slabs_created = atomic_load_explicit(&c->slabs_created, memory_order_relaxed);
	st->slabs_retired = atomic_load_explicit(&c->slabs_retired, memory_order_relaxed);
	st->pages_freed = atomic_load_explicit(&c->pages_freed, memory_order_relaxed);
}
