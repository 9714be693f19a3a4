// SPDX-License-Identifier: MIT
/*
 * A binary buddy allocator over one pfn span, fronted by per-CPU caches of
 * order-0 pages: the fault path allocates and frees a page table without the
 * zone lock, and the lock is taken once per batch.
 *
 * NUMA: one zone (free lists, lock, counters) per node. Until
 * page_alloc_set_nodes() every page is on node 0; after it, a pfn's node is
 * the node of the range that holds it (node 0 if none does), a free block
 * never spans two nodes, and buddies merge only within one. A CPU allocates
 * from its own node first, then from the others in turn.
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

struct zone {
	spinlock_t lock;
	/* lock must be held when using these: */
	struct free_block free_list[PAGE_MAX_ORDER + 1]; /* circular, sentinel heads */
	uint64_t buddy_free_pages;
	uint64_t total_pages; /* immutable after init (and page_alloc_set_nodes) */
	atomic_ulong lock_acquires;
} __cacheline_aligned;

static struct {
	/* immutable after init: */
	uint64_t base_pfn, span;
	uint8_t *state; /* entries change under the lock of the zone of their pfn */
	/* immutable after page_alloc_set_nodes (before the APs start): */
	unsigned int nr_nodes; /* 1 until then */
	unsigned int nr_ranges;
	struct { uint64_t spfn, epfn; unsigned int node; } range[PAGE_MAX_NODE_RANGES]; /* sorted */
	uint8_t cpu_node[PLATFORM_MAX_CPUS];
} mem = { .nr_nodes = 1 };

static struct zone zones[PAGE_MAX_NODES];

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

/* The node of pfn: the range that holds it (a binary search), else 0. */
static unsigned int pfn_node(uint64_t pfn)
{
	unsigned int lo = 0, hi = mem.nr_ranges;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		if (pfn < mem.range[mid].spfn)
			hi = mid;
		else if (pfn >= mem.range[mid].epfn)
			lo = mid + 1;
		else
			return mem.range[mid].node;
	}
	return 0;
}

static void list_add(struct zone *z, unsigned int order, uint64_t pfn)
{
	struct free_block *b = pfn_to_virt(pfn), *head = &z->free_list[order];

	b->next = head->next;
	b->prev = head;
	head->next->prev = b;
	head->next = b;
	mem.state[pfn - mem.base_pfn] = PS_FREE | order;
}

static void list_del(struct free_block *b)
{
	b->prev->next = b->next;
	b->next->prev = b->prev;
}

static void lock_zone(struct zone *z)
{
	spin_lock(&z->lock);
	atomic_fetch_add_explicit(&z->lock_acquires, 1, memory_order_relaxed);
}

/* Under the lock of zone node: a block of that node goes back, merged with its free buddies. */
static void buddy_free(unsigned int node, uint64_t pfn, unsigned int order)
{
	struct zone *z = &zones[node];

	z->buddy_free_pages += 1ull << order;
	while (order < PAGE_MAX_ORDER) {
		uint64_t buddy = pfn ^ (1ull << order);

		if (buddy < mem.base_pfn || buddy >= mem.base_pfn + mem.span ||
		    mem.state[buddy - mem.base_pfn] != (PS_FREE | order) ||
		    (mem.nr_ranges && pfn_node(buddy) != node))
			break;
		list_del(pfn_to_virt(buddy));
		mem.state[buddy - mem.base_pfn] = 0;
		pfn &= ~(1ull << order);
		order++;
	}
	list_add(z, order, pfn);
}

/* Returns the pfn, or 0 (pfn 0 is never handed out: low memory is reserved). */
static uint64_t buddy_alloc(struct zone *z, unsigned int order)
{
	unsigned int o;
	uint64_t pfn;
	struct free_block *b;

	for (o = order; o <= PAGE_MAX_ORDER; o++)
		if (z->free_list[o].next != &z->free_list[o])
			break;
	if (o > PAGE_MAX_ORDER)
		return 0;
	b = z->free_list[o].next;
	list_del(b);
	pfn = platform_virt_to_phys(b) >> PAGE_SHIFT;
	mem.state[pfn - mem.base_pfn] = 0;
	while (o > order) {
		o--;
		list_add(z, o, pfn + (1ull << o));
	}
	z->buddy_free_pages -= 1ull << order;
	return pfn;
}

/* The end of the run of pfns from pfn on one node, at most epfn. */
static uint64_t node_run_end(uint64_t pfn, uint64_t epfn)
{
	unsigned int node = pfn_node(pfn);

	for (unsigned int i = 0; i < mem.nr_ranges; i++) {
		uint64_t edge = pfn < mem.range[i].spfn ? mem.range[i].spfn
			      : pfn < mem.range[i].epfn ? mem.range[i].epfn : 0;

		if (edge > pfn && edge < epfn && pfn_node(edge) != node)
			epfn = edge;
	}
	return epfn;
}

/* Free [spfn, epfn) in the largest naturally aligned blocks that fit, each inside one node. */
static void free_pfn_range(uint64_t spfn, uint64_t epfn, bool count)
{
	while (spfn < epfn) {
		uint64_t end = node_run_end(spfn, epfn);
		unsigned int order = PAGE_MAX_ORDER, node = pfn_node(spfn);

		while (order && ((spfn & ((1ull << order) - 1)) || spfn + (1ull << order) > end))
			order--;
		for (uint64_t p = spfn; p < spfn + (1ull << order); p++)
			mem.state[p - mem.base_pfn] = 0;
		if (count)
			zones[node].total_pages += 1ull << order;
		buddy_free(node, spfn, order);
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
		free_pfn_range(spfn, epfn, true);
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
	mem.nr_nodes = 1;
	mem.nr_ranges = 0;
	for (unsigned int n = 0; n < PAGE_MAX_NODES; n++) {
		struct zone *z = &zones[n];

		spin_lock_init(&z->lock, "page_alloc");
		for (i = 0; i <= PAGE_MAX_ORDER; i++)
			z->free_list[i].next = z->free_list[i].prev = &z->free_list[i];
		z->total_pages = z->buddy_free_pages = 0;
		atomic_store_explicit(&z->lock_acquires, 0, memory_order_relaxed);
	}
	for (i = 0; i < PLATFORM_MAX_CPUS; i++)
		mem.cpu_node[i] = 0;
	mem.base_pfn = lo;
	mem.span = hi - lo;

	/* The state array takes one byte per pfn, from the first free room. */
	search.need = mem.span;
	for (i = 0; i < nr_usable; i++)
		for_each_unreserved(usable[i].start, usable[i].end, reserved, nr_reserved,
				    find_meta_room, &search);
	if (!search.found) {
		*why = "no free run of RAM is large enough for the allocator's page state";
		return false;
	}
	mem.state = platform_phys_to_virt(search.found);
	__builtin_memset(mem.state, PS_RESERVED, mem.span);

	for (i = 0; i < nr_reserved; i++)
		res[i] = reserved[i];
	res[i++] = (struct mem_range){ search.found,
				       (search.found + mem.span + PAGE_SIZE - 1) &
					       ~(PAGE_SIZE - 1) };
	for (unsigned int u = 0; u < nr_usable; u++)
		for_each_unreserved(usable[u].start, usable[u].end, res, i, add_free_memory,
				    NULL);
	if (!zones[0].total_pages) {
		*why = "every usable page is reserved";
		return false;
	}
	return true;
}

/* Refill c from the zones, node first, then the others in turn. */
static void pcp_refill(struct pcp *c, unsigned int node)
{
	for (unsigned int k = 0; k < mem.nr_nodes && !c->count; k++) {
		struct zone *z = &zones[(node + k) % mem.nr_nodes];

		lock_zone(z);
		while (c->count < PCP_BATCH) {
			uint64_t pfn = buddy_alloc(z, 0);
			void *page;

			if (!pfn)
				break;
			page = pfn_to_virt(pfn);
			*(void **)page = c->head;
			c->head = page;
			c->count++;
		}
		spin_unlock(&z->lock);
	}
}

static void *alloc_order0_cached(void)
{
	unsigned int cpu = platform_cpu_id();
	struct pcp *c = &pcp[cpu];
	void *page;

	if (!c->count) {
		pcp_refill(c, mem.cpu_node[cpu]);
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

void *page_alloc_node(unsigned int order, unsigned int node)
{
	if (order > PAGE_MAX_ORDER)
		return NULL;
	if (node >= mem.nr_nodes)
		node = 0;
	for (unsigned int k = 0; k < mem.nr_nodes; k++) {
		struct zone *z = &zones[(node + k) % mem.nr_nodes];
		uint64_t pfn;

		lock_zone(z);
		pfn = buddy_alloc(z, order);
		spin_unlock(&z->lock);
		if (pfn)
			return pfn_to_virt(pfn);
	}
	return NULL;
}

void *page_alloc(unsigned int order)
{
	if (order == 0)
		return alloc_order0_cached();
	return page_alloc_node(order, mem.cpu_node[platform_cpu_id()]);
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

	if (pfn < mem.base_pfn || pfn + (1ull << order) > mem.base_pfn + mem.span ||
	    (pfn & ((1ull << order) - 1)))
		platform_panic("page_free: 0x%lx (order %u) was never handed out by the allocator",
			       (unsigned long)(pfn << PAGE_SHIFT), order);
	s = mem.state[pfn - mem.base_pfn];
	if (s & (PS_FREE | PS_RESERVED))
		platform_panic("page_free: 0x%lx (order %u) is %s", (unsigned long)(pfn << PAGE_SHIFT),
			       order, s & PS_FREE ? "already free (double free)" : "reserved");
}

/* Each page to its own node's zone; one lock held for a run of pages of one node. */
static void drain(struct pcp *c, unsigned int keep)
{
	struct zone *held = NULL;

	while (c->count > keep) {
		void *page = c->head;
		uint64_t pfn = platform_virt_to_phys(page) >> PAGE_SHIFT;
		unsigned int node = pfn_node(pfn);

		if (held != &zones[node]) {
			if (held)
				spin_unlock(&held->lock);
			held = &zones[node];
			lock_zone(held);
		}
		c->head = *(void **)page;
		c->count--;
		buddy_free(node, pfn, 0);
	}
	if (held)
		spin_unlock(&held->lock);
}

void page_free(void *page, unsigned int order)
{
	uint64_t pfn = platform_virt_to_phys(page) >> PAGE_SHIFT;
	unsigned int node;

	check_freeable(pfn, order);
	if (order == 0) {
		struct pcp *c = &pcp[platform_cpu_id()];

		*(void **)page = c->head;
		c->head = page;
		if (++c->count > PCP_HIGH)
			drain(c, PCP_HIGH - PCP_BATCH);
		return;
	}
	node = pfn_node(pfn);
	lock_zone(&zones[node]);
	buddy_free(node, pfn, order);
	spin_unlock(&zones[node].lock);
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
	*st = (struct page_alloc_stats){ .free_pages = cached, .pcp_hits = hits };
	for (unsigned int n = 0; n < mem.nr_nodes; n++) {
		struct zone *z = &zones[n];

		spin_lock(&z->lock);
		st->free_pages += z->buddy_free_pages;
		spin_unlock(&z->lock);
		st->total_pages += z->total_pages;
		st->lock_acquires += atomic_load_explicit(&z->lock_acquires, memory_order_relaxed);
	}
}

void page_alloc_get_node_stats(unsigned int node, uint64_t *free_pages, uint64_t *total_pages)
{
	struct zone *z = &zones[node < mem.nr_nodes ? node : 0];

	spin_lock(&z->lock);
	*free_pages = z->buddy_free_pages; /* per-CPU caches not included */
	spin_unlock(&z->lock);
	*total_pages = z->total_pages;
}

unsigned int page_alloc_nr_nodes(void)
{
	return mem.nr_nodes;
}

void page_alloc_set_cpu_node(unsigned int cpu, unsigned int node)
{
	if (cpu < PLATFORM_MAX_CPUS && node < mem.nr_nodes)
		mem.cpu_node[cpu] = (uint8_t)node;
}

unsigned int page_alloc_cpu_node(unsigned int cpu)
{
	return cpu < PLATFORM_MAX_CPUS ? mem.cpu_node[cpu] : 0;
}

unsigned int page_node(const void *page)
{
	return pfn_node(platform_virt_to_phys(page) >> PAGE_SHIFT);
}

bool page_alloc_set_nodes(const struct mem_node_range *ranges, unsigned int nr,
			  const char **why)
{
	struct free_block *taken = NULL;
	unsigned int nr_nodes = 1;

	if (nr > PAGE_MAX_NODE_RANGES) {
		*why = "more NUMA memory ranges than PAGE_MAX_NODE_RANGES";
		return false;
	}
	/* Sorted by start (insertion), in pfns, each inside the span and not overlapping the one before. */
	mem.nr_ranges = 0;
	for (unsigned int i = 0; i < nr; i++) {
		uint64_t s = ranges[i].start >> PAGE_SHIFT, e = ranges[i].end >> PAGE_SHIFT;
		unsigned int at = mem.nr_ranges;

		if (ranges[i].node >= PAGE_MAX_NODES) {
			*why = "a NUMA node number at or above PAGE_MAX_NODES";
			mem.nr_ranges = 0;
			return false;
		}
		if (s >= e)
			continue;
		while (at && mem.range[at - 1].spfn > s) {
			mem.range[at] = mem.range[at - 1];
			at--;
		}
		mem.range[at].spfn = s;
		mem.range[at].epfn = e;
		mem.range[at].node = ranges[i].node;
		mem.nr_ranges++;
		if (ranges[i].node + 1 > nr_nodes)
			nr_nodes = ranges[i].node + 1;
	}
	for (unsigned int i = 1; i < mem.nr_ranges; i++) {
		if (mem.range[i].spfn < mem.range[i - 1].epfn) {
			*why = "two NUMA memory ranges overlap";
			mem.nr_ranges = 0;
			return false;
		}
	}
	/*
	 * Every free block leaves zone 0 and goes back through free_pfn_range,
	 * which splits it at node edges; then each zone's total is counted
	 * from the page states (allocated pages count for their node).
	 */
	lock_zone(&zones[0]);
	for (unsigned int o = 0; o <= PAGE_MAX_ORDER; o++) {
		struct free_block *head = &zones[0].free_list[o];

		while (head->next != head) {
			struct free_block *b = head->next;
			uint64_t pfn = platform_virt_to_phys(b) >> PAGE_SHIFT;

			list_del(b);
			mem.state[pfn - mem.base_pfn] = o; /* not free while it waits: its order in the low bits */
			b->next = taken;
			taken = b;
		}
	}
	zones[0].buddy_free_pages = 0;
	mem.nr_nodes = nr_nodes;
	while (taken) {
		struct free_block *b = taken;
		uint64_t pfn = platform_virt_to_phys(b) >> PAGE_SHIFT;
		unsigned int order = mem.state[pfn - mem.base_pfn] & PS_ORDER_MASK;

		taken = b->next;
		free_pfn_range(pfn, pfn + (1ull << order), false);
	}
	for (unsigned int n = 0; n < nr_nodes; n++)
		zones[n].total_pages = 0;
	for (uint64_t p = 0; p < mem.span; p++)
		if (!(mem.state[p] & PS_RESERVED))
			zones[pfn_node(mem.base_pfn + p)].total_pages++;
	spin_unlock(&zones[0].lock);
	return true;
}

bool page_alloc_check(const char **why)
{
	bool ok = true;

	for (unsigned int n = 0; n < mem.nr_nodes && ok; n++) {
		struct zone *z = &zones[n];
		uint64_t counted = 0;

		spin_lock(&z->lock);
		for (unsigned int o = 0; o <= PAGE_MAX_ORDER && ok; o++) {
			for (struct free_block *b = z->free_list[o].next; b != &z->free_list[o];
			     b = b->next) {
				uint64_t pfn = platform_virt_to_phys(b) >> PAGE_SHIFT;

				if (pfn < mem.base_pfn || pfn >= mem.base_pfn + mem.span ||
				    mem.state[pfn - mem.base_pfn] != (PS_FREE | o) ||
				    (pfn & ((1ull << o) - 1)) || b->next->prev != b) {
					*why = "a free list entry disagrees with the page state";
					ok = false;
					break;
				}
				if (pfn_node(pfn) != n || pfn_node(pfn + (1ull << o) - 1) != n) {
					*why = "a free block is not wholly on its zone's node";
					ok = false;
					break;
				}
				counted += 1ull << o;
			}
		}
		if (ok && counted != z->buddy_free_pages) {
			*why = "the free lists do not add up to the free page count";
			ok = false;
		}
		spin_unlock(&z->lock);
	}
	return ok;
}
