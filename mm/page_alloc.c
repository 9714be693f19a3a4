// SPDX-License-Identifier: MIT
/*
 * A binary buddy allocator over one pfn span, fronted by per-CPU caches of
 * order-0 pages: the fault path allocates and frees a page table without the
 * global lock, and the lock is taken once per batch.
 *
 * One state byte per pfn in [base_pfn, base_pfn + span):
 *
 *   7     6      5   4..0
 *  +----+------+---+-------+
 *  |FREE|RESVD | 0 | order |   FREE|order: head of a free block of 2^order pages
 *  +----+------+---+-------+   RESVD: hole or reserved, never merged
 *                              0: allocated, or inside a free block
 */
#include "mm/page_alloc.h"

#define PS_FREE 0x80
#define PS_RESERVED 0x40
#define PS_ORDER_MASK 0x1f
#define MAX_RESERVED 64
#define PCP_HIGH 64  /* a per-CPU cache drains above this many pages */
#define PCP_BATCH 16 /* pages moved per refill or drain */

struct free_block {
	struct free_block *next, *prev; /* stored in the free page itself */
};

static struct {
	spinlock_t lock;
	/* zone.lock must be held when using these: */
	struct free_block free_list[PAGE_MAX_ORDER + 1]; /* circular, sentinel heads */
	uint64_t buddy_free_pages;
	/* immutable after init: */
	uint64_t base_pfn, span, total_pages;
	uint8_t *state; /* entries change under zone.lock */
	atomic_ulong lock_acquires;
} zone;

/* Each cache is touched only by its own CPU (never from interrupt context). */
struct pcp {
	void *head; /* singly linked through each page's first word */
	unsigned int count;
	uint64_t hits;
} __cacheline_aligned;
static struct pcp pcp[PLATFORM_MAX_CPUS];

static void *pfn_to_virt(uint64_t pfn)
{
	return platform_phys_to_virt(pfn << PAGE_SHIFT);
}

static void list_add(unsigned int order, uint64_t pfn)
{
	struct free_block *b = pfn_to_virt(pfn), *head = &zone.free_list[order];

	b->next = head->next;
	b->prev = head;
	head->next->prev = b;
	head->next = b;
	zone.state[pfn - zone.base_pfn] = PS_FREE | order;
}

static void list_del(struct free_block *b)
{
	b->prev->next = b->next;
	b->next->prev = b->prev;
}

static void lock_zone(void)
{
	spin_lock(&zone.lock);
	atomic_fetch_add_explicit(&zone.lock_acquires, 1, memory_order_relaxed);
}

static void buddy_free(uint64_t pfn, unsigned int order)
{
	zone.buddy_free_pages += 1ull << order;
	while (order < PAGE_MAX_ORDER) {
		uint64_t buddy = pfn ^ (1ull << order);

		if (buddy < zone.base_pfn || buddy >= zone.base_pfn + zone.span ||
		    zone.state[buddy - zone.base_pfn] != (PS_FREE | order))
			break;
		list_del(pfn_to_virt(buddy));
		zone.state[buddy - zone.base_pfn] = 0;
		pfn &= ~(1ull << order);
		order++;
	}
	list_add(order, pfn);
}

/* Returns the pfn, or 0 (pfn 0 is never handed out: low memory is reserved). */
static uint64_t buddy_alloc(unsigned int order)
{
	unsigned int o;
	uint64_t pfn;
	struct free_block *b;

	for (o = order; o <= PAGE_MAX_ORDER; o++)
		if (zone.free_list[o].next != &zone.free_list[o])
			break;
	if (o > PAGE_MAX_ORDER)
		return 0;
	b = zone.free_list[o].next;
	list_del(b);
	pfn = platform_virt_to_phys(b) >> PAGE_SHIFT;
	zone.state[pfn - zone.base_pfn] = 0;
	while (o > order) {
		o--;
		list_add(o, pfn + (1ull << o));
	}
	zone.buddy_free_pages -= 1ull << order;
	return pfn;
}

/* Free [spfn, epfn) in the largest naturally aligned blocks that fit. */
static void free_pfn_range(uint64_t spfn, uint64_t epfn)
{
	while (spfn < epfn) {
		unsigned int order = PAGE_MAX_ORDER;

		while (order && ((spfn & ((1ull << order) - 1)) || spfn + (1ull << order) > epfn))
			order--;
		for (uint64_t p = spfn; p < spfn + (1ull << order); p++)
			zone.state[p - zone.base_pfn] = 0;
		zone.total_pages += 1ull << order;
		buddy_free(spfn, order);
		spfn += 1ull << order;
	}
}

/*
 * Call fn on each part of [start, end) that no reserved range covers.
 * Recursion depth is bounded by the number of reserved ranges.
 */
static void for_each_unreserved(uint64_t start, uint64_t end, const struct mem_range *res,
				unsigned int nr_res, void (*fn)(uint64_t, uint64_t, void *),
				void *arg)
{
	for (unsigned int i = 0; i < nr_res; i++) {
		if (res[i].end <= start || res[i].start >= end)
			continue;
		if (res[i].start > start)
			for_each_unreserved(start, res[i].start, res + i + 1, nr_res - i - 1, fn, arg);
		if (res[i].end < end)
			for_each_unreserved(res[i].end, end, res + i + 1, nr_res - i - 1, fn, arg);
		return;
	}
	fn(start, end, arg);
}

struct meta_search {
	uint64_t need;  /* bytes */
	uint64_t found; /* physical address, 0 if none yet */
};

static void find_meta_room(uint64_t start, uint64_t end, void *arg)
{
	struct meta_search *s = arg;
	uint64_t aligned = (start + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);

	if (!s->found && aligned < end && end - aligned >= s->need)
		s->found = aligned;
}

static void add_free_memory(uint64_t start, uint64_t end, void *arg)
{
	uint64_t spfn = (start + PAGE_SIZE - 1) >> PAGE_SHIFT, epfn = end >> PAGE_SHIFT;

	(void)arg;
	if (spfn < epfn)
		free_pfn_range(spfn, epfn);
}

bool page_alloc_init(const struct mem_range *usable, unsigned int nr_usable,
		     const struct mem_range *reserved, unsigned int nr_reserved,
		     const char **why)
{
	struct mem_range res[MAX_RESERVED + 1];
	struct meta_search search = { 0, 0 };
	uint64_t lo = UINT64_MAX, hi = 0;
	unsigned int i;

	if (nr_reserved > MAX_RESERVED) {
		*why = "too many reserved ranges";
		return false;
	}
	for (i = 0; i < nr_usable; i++) {
		uint64_t s = (usable[i].start + PAGE_SIZE - 1) >> PAGE_SHIFT;
		uint64_t e = usable[i].end >> PAGE_SHIFT;

		if (s >= e)
			continue;
		lo = s < lo ? s : lo;
		hi = e > hi ? e : hi;
	}
	if (hi <= lo) {
		*why = "the memory map lists no usable RAM";
		return false;
	}
	spin_lock_init(&zone.lock, "page_alloc");
	for (i = 0; i <= PAGE_MAX_ORDER; i++)
		zone.free_list[i].next = zone.free_list[i].prev = &zone.free_list[i];
	zone.base_pfn = lo;
	zone.span = hi - lo;
	zone.total_pages = zone.buddy_free_pages = 0;

	/* The state array takes one byte per pfn, from the first free room. */
	search.need = zone.span;
	for (i = 0; i < nr_usable; i++)
		for_each_unreserved(usable[i].start, usable[i].end, reserved, nr_reserved,
				    find_meta_room, &search);
	if (!search.found) {
		*why = "no free run of RAM is large enough for the allocator's page state";
		return false;
	}
	zone.state = platform_phys_to_virt(search.found);
	__builtin_memset(zone.state, PS_RESERVED, zone.span);

	for (i = 0; i < nr_reserved; i++)
		res[i] = reserved[i];
	res[i++] = (struct mem_range){ search.found,
				       (search.found + zone.span + PAGE_SIZE - 1) &
					       ~(PAGE_SIZE - 1) };
	for (unsigned int u = 0; u < nr_usable; u++)
		for_each_unreserved(usable[u].start, usable[u].end, res, i, add_free_memory,
				    NULL);
	if (!zone.total_pages) {
		*why = "every usable page is reserved";
		return false;
	}
	return true;
}

static void *alloc_order0_cached(void)
{
	struct pcp *c = &pcp[platform_cpu_id()];
	void *page;

	if (!c->count) {
		lock_zone();
		while (c->count < PCP_BATCH) {
			uint64_t pfn = buddy_alloc(0);

			if (!pfn)
				break;
			page = pfn_to_virt(pfn);
			*(void **)page = c->head;
			c->head = page;
			c->count++;
		}
		spin_unlock(&zone.lock);
		if (!c->count)
			return NULL;
	} else {
		c->hits++;
	}
	page = c->head;
	c->head = *(void **)page;
	c->count--;
	return page;
}

void *page_alloc(unsigned int order)
{
	uint64_t pfn;

	if (order > PAGE_MAX_ORDER)
		return NULL;
	if (order == 0)
		return alloc_order0_cached();
	lock_zone();
	pfn = buddy_alloc(order);
	spin_unlock(&zone.lock);
	return pfn ? pfn_to_virt(pfn) : NULL;
}

void *page_alloc_zeroed(unsigned int order)
{
	void *p = page_alloc(order);

	if (p)
		__builtin_memset(p, 0, PAGE_SIZE << order);
	return p;
}

static void check_freeable(uint64_t pfn, unsigned int order)
{
	uint8_t s;

	if (pfn < zone.base_pfn || pfn + (1ull << order) > zone.base_pfn + zone.span ||
	    (pfn & ((1ull << order) - 1)))
		platform_panic("page_free: 0x%lx (order %u) was never handed out by the allocator",
			       (unsigned long)(pfn << PAGE_SHIFT), order);
	s = zone.state[pfn - zone.base_pfn];
	if (s & (PS_FREE | PS_RESERVED))
		platform_panic("page_free: 0x%lx (order %u) is %s", (unsigned long)(pfn << PAGE_SHIFT),
			       order, s & PS_FREE ? "already free (double free)" : "reserved");
}

static void drain(struct pcp *c, unsigned int keep)
{
	lock_zone();
	while (c->count > keep) {
		void *page = c->head;

		c->head = *(void **)page;
		c->count--;
		buddy_free(platform_virt_to_phys(page) >> PAGE_SHIFT, 0);
	}
	spin_unlock(&zone.lock);
}

void page_free(void *page, unsigned int order)
{
	uint64_t pfn = platform_virt_to_phys(page) >> PAGE_SHIFT;

	check_freeable(pfn, order);
	if (order == 0) {
		struct pcp *c = &pcp[platform_cpu_id()];

		*(void **)page = c->head;
		c->head = page;
		if (++c->count > PCP_HIGH)
			drain(c, PCP_HIGH - PCP_BATCH);
		return;
	}
	lock_zone();
	buddy_free(pfn, order);
	spin_unlock(&zone.lock);
}

void page_alloc_drain_this_cpu(void)
{
	drain(&pcp[platform_cpu_id()], 0);
}

void page_alloc_get_stats(struct page_alloc_stats *st)
{
	uint64_t cached = 0, hits = 0;

	for (unsigned int i = 0; i < PLATFORM_MAX_CPUS; i++) {
		cached += pcp[i].count;
		hits += pcp[i].hits;
	}
	spin_lock(&zone.lock);
	st->free_pages = zone.buddy_free_pages + cached;
	spin_unlock(&zone.lock);
	st->total_pages = zone.total_pages;
	st->lock_acquires = atomic_load_explicit(&zone.lock_acquires, memory_order_relaxed);
	st->pcp_hits = hits;
}

bool page_alloc_check(const char **why)
{
	uint64_t counted = 0;
	bool ok = true;

	spin_lock(&zone.lock);
	for (unsigned int o = 0; o <= PAGE_MAX_ORDER && ok; o++) {
		for (struct free_block *b = zone.free_list[o].next; b != &zone.free_list[o];
		     b = b->next) {
			uint64_t pfn = platform_virt_to_phys(b) >> PAGE_SHIFT;

			if (pfn < zone.base_pfn || pfn >= zone.base_pfn + zone.span ||
			    zone.state[pfn - zone.base_pfn] != (PS_FREE | o) ||
			    (pfn & ((1ull << o) - 1)) || b->next->prev != b) {
				*why = "a free list entry disagrees with the page state";
				ok = false;
				break;
			}
			counted += 1ull << o;
		}
	}
	if (ok && counted != zone.buddy_free_pages) {
		*why = "the free lists do not add up to the free page count";
		ok = false;
	}
	spin_unlock(&zone.lock);
	return ok;
}
