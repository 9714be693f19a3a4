// SPDX-License-Identifier: MIT
/*
 * The page allocator on a host arena: exact page accounting against an
 * independent count, natural alignment of every order, merging back to the
 * largest blocks, reserved ranges honoured, double frees caught, and a
 * multi-threaded torture in which every page carries its owner's pattern.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mm/page_alloc.h"
#include "tests/host/check.h"
#include "tests/host/platform_host.h"

#define MIB (1ull << 20)
#define BASE (4096 * MIB) /* a fake physical base above 4 GiB */
#define ARENA (64 * MIB)
#define NPAGES (ARENA / PAGE_SIZE)

static const struct mem_range usable[] = {
	{ BASE, BASE + 32 * MIB },
	{ BASE + 40 * MIB, BASE + 64 * MIB - 12345 }, /* ends mid-page */
};
static const struct mem_range reserved[] = {
	{ BASE + 1 * MIB + 100, BASE + 3 * MIB },     /* starts mid-page */
	{ BASE + 20 * MIB, BASE + 20 * MIB + 4096 },
	{ BASE + 50 * MIB, BASE + 52 * MIB },
};

static bool page_is_usable(uint64_t pa)
{
	bool in = false;

	for (unsigned int i = 0; i < ARRAY_SIZE(usable); i++)
		in |= pa >= usable[i].start && pa + PAGE_SIZE <= usable[i].end;
	for (unsigned int i = 0; i < ARRAY_SIZE(reserved); i++)
		if (pa < reserved[i].end && pa + PAGE_SIZE > reserved[i].start)
			return false;
	return in;
}

/* What the allocator must end up with, counted page by page. */
static uint64_t expected_pages(void)
{
	uint64_t n = 0, span = (usable[1].end / PAGE_SIZE) - (usable[0].start / PAGE_SIZE);

	for (uint64_t pa = BASE; pa < BASE + ARENA; pa += PAGE_SIZE)
		n += page_is_usable(pa);
	return n - (span + PAGE_SIZE - 1) / PAGE_SIZE; /* one state byte per pfn */
}

static void setup(void)
{
	const char *why = NULL;

	host_set_nr_cpus(4);
	host_cpu_enter(0);
	host_arena_create(ARENA, BASE);
	CHECK(page_alloc_init(usable, ARRAY_SIZE(usable), reserved, ARRAY_SIZE(reserved), &why));
}

static uint8_t seen[NPAGES];

static void test_accounting_and_exhaustion(void)
{
	struct page_alloc_stats st;
	void **pages = calloc(NPAGES, sizeof(void *));
	uint64_t n = 0;
	const char *why = "";

	setup();
	page_alloc_get_stats(&st);
	CHECK_EQ_U(st.total_pages, expected_pages());
	CHECK_EQ_U(st.free_pages, st.total_pages);
	memset(seen, 0, sizeof(seen));
	while ((pages[n] = page_alloc(0)) != NULL) {
		uint64_t pa = platform_virt_to_phys(pages[n]);

		CHECK(pa % PAGE_SIZE == 0);
		CHECK(page_is_usable(pa));
		CHECK(!seen[(pa - BASE) / PAGE_SIZE]); /* never handed out twice */
		seen[(pa - BASE) / PAGE_SIZE] = 1;
		n++;
	}
	CHECK_EQ_U(n, st.total_pages);
	CHECK(page_alloc(0) == NULL);
	for (uint64_t i = 0; i < n; i++)
		page_free(pages[i], 0);
	page_alloc_drain_this_cpu();
	CHECK(page_alloc_check(&why));
	page_alloc_get_stats(&st);
	CHECK_EQ_U(st.free_pages, st.total_pages);
	CHECK(st.pcp_hits > 0);
	free(pages);
	host_arena_destroy();
}

static void test_orders_are_aligned_and_merge_back(void)
{
	void *blocks[64];
	unsigned int first = 0, again = 0;
	const char *why = "";

	setup();
	for (unsigned int order = 1; order <= PAGE_MAX_ORDER; order++) {
		void *p = page_alloc(order);

		CHECK(p != NULL);
		CHECK(platform_virt_to_phys(p) % (PAGE_SIZE << order) == 0);
		page_free(p, order);
	}
	CHECK(page_alloc(PAGE_MAX_ORDER + 1) == NULL);
	/* Take every 4 MiB block, give them back, split them up, merge again. */
	while (first < 64 && (blocks[first] = page_alloc(PAGE_MAX_ORDER)) != NULL)
		first++;
	CHECK(first >= 8);
	for (unsigned int i = 0; i < first; i++)
		page_free(blocks[i], PAGE_MAX_ORDER);
	for (int i = 0; i < 5000; i++)
		blocks[i % 64] = page_alloc(i % 3), page_free(blocks[i % 64], i % 3);
	page_alloc_drain_this_cpu();
	while (again < 64 && (blocks[again] = page_alloc(PAGE_MAX_ORDER)) != NULL)
		again++;
	CHECK_EQ_U(again, first);
	for (unsigned int i = 0; i < again; i++)
		page_free(blocks[i], PAGE_MAX_ORDER);
	CHECK(page_alloc_check(&why));
	host_arena_destroy();
}

static void test_zeroed(void)
{
	uint8_t *p;

	setup();
	p = page_alloc(2);
	memset(p, 0xaa, 4 * PAGE_SIZE);
	page_free(p, 2);
	p = page_alloc_zeroed(2);
	for (unsigned int i = 0; i < 4 * PAGE_SIZE; i++)
		if (p[i]) {
			CHECK(!"page_alloc_zeroed returned a dirty byte");
			break;
		}
	page_free(p, 2);
	host_arena_destroy();
}

static void test_nothing_usable(void)
{
	static const struct mem_range tiny[] = { { BASE + 100, BASE + 4000 } };
	const char *why = NULL;

	host_arena_create(ARENA, BASE);
	CHECK(!page_alloc_init(tiny, 1, NULL, 0, &why));
	CHECK_STR_CONTAINS(why, "no usable RAM");
	host_arena_destroy();
}

/* A double free must panic (platform_panic aborts): run it in a child. */
static void test_double_free_is_caught(void)
{
	int fds[2], status = 0;
	char msg[512] = { 0 };
	pid_t pid;

	CHECK(pipe(fds) == 0);
	fflush(stdout); /* or the child repeats our buffered lines */
	pid = fork();
	if (pid == 0) {
		void *p;

		dup2(fds[1], 2);
		setup();
		p = page_alloc(3);
		page_free(p, 3);
		page_free(p, 3);
		_exit(0);
	}
	close(fds[1]);
	for (size_t got = 0, n; got < sizeof(msg) - 1; got += n)
		if ((n = read(fds[0], msg + got, sizeof(msg) - 1 - got)) <= 0)
			break;
	waitpid(pid, &status, 0);
	close(fds[0]);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	CHECK_STR_CONTAINS(msg, "double free");
}

#define THREADS 4
#define ROUNDS 300000

static void *torture_thread(void *arg)
{
	unsigned int cpu = (unsigned int)(uintptr_t)arg;
	struct { uint64_t *p; unsigned int order; } held[32] = { { 0, 0 } };
	uint64_t bad = 0;

	host_cpu_enter(cpu);
	for (int r = 0; r < ROUNDS; r++) {
		unsigned int slot = host_rand() % 32;

		if (held[slot].p) {
			/* Every word still carries our stamp: nobody else got this page. */
			for (unsigned int w = 0; w < (PAGE_SIZE << held[slot].order) / 8; w += 64)
				bad += held[slot].p[w] != ((uint64_t)cpu << 56 | (uint64_t)(uintptr_t)held[slot].p);
			page_free(held[slot].p, held[slot].order);
			held[slot].p = NULL;
		} else {
			unsigned int order = host_rand() % 8 == 0 ? host_rand() % 4 : 0;

			held[slot].p = page_alloc(order);
			held[slot].order = order;
			if (held[slot].p)
				for (unsigned int w = 0; w < (PAGE_SIZE << order) / 8; w += 64)
					held[slot].p[w] = (uint64_t)cpu << 56 | (uint64_t)(uintptr_t)held[slot].p;
		}
	}
	for (unsigned int i = 0; i < 32; i++)
		if (held[i].p)
			page_free(held[i].p, held[i].order);
	page_alloc_drain_this_cpu();
	return (void *)(uintptr_t)bad;
}

static void test_threads_torture(void)
{
	pthread_t t[THREADS];
	struct page_alloc_stats st;
	uint64_t bad = 0;
	const char *why = "";

	setup();
	page_alloc_drain_this_cpu();
	for (uintptr_t i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, torture_thread, (void *)i) == 0);
	for (int i = 0; i < THREADS; i++) {
		void *ret;

		pthread_join(t[i], &ret);
		bad += (uintptr_t)ret;
	}
	CHECK_EQ_U(bad, 0);
	CHECK(page_alloc_check(&why));
	page_alloc_get_stats(&st);
	CHECK_EQ_U(st.free_pages, st.total_pages);
	host_arena_destroy();
}

/*
 * Two NUMA nodes whose edge is not 4 MiB aligned (so blocks must split
 * there), after some pages are already out: every free block stays on one
 * node, each node serves its own first and the other once it is empty,
 * the per-node totals add up, and a page freed goes back to its own node.
 */
#define NODE_EDGE (BASE + 10 * MIB + 8192)
static void test_numa_zones(void)
{
	static const struct mem_node_range nodes[] = {
		{ NODE_EDGE, BASE + ARENA, 1 }, /* out of order on purpose */
		{ BASE, NODE_EDGE, 0 },
	};
	static const struct mem_node_range overlap[] = {
		{ BASE, NODE_EDGE + PAGE_SIZE, 0 }, { NODE_EDGE, BASE + ARENA, 1 },
	};
	void **pages = calloc(NPAGES, sizeof(void *));
	uint64_t free0, total0, free1, total1, n = 0, on[2] = { 0, 0 };
	struct page_alloc_stats st;
	const char *why = "";
	void *early, *p;

	setup();
	early = page_alloc(3); /* out before the zones exist: freed to its node later */
	CHECK(!page_alloc_set_nodes(overlap, 2, &why));
	CHECK_STR_CONTAINS(why, "overlap");
	CHECK_EQ_U(page_alloc_nr_nodes(), 1);
	CHECK(page_alloc_set_nodes(nodes, 2, &why));
	CHECK_EQ_U(page_alloc_nr_nodes(), 2);
	CHECK(page_alloc_check(&why));
	page_alloc_get_node_stats(0, &free0, &total0);
	page_alloc_get_node_stats(1, &free1, &total1);
	page_alloc_get_stats(&st);
	CHECK_EQ_U(total0 + total1, st.total_pages);
	CHECK(total0 > 0 && total1 > total0);
	CHECK(page_node(early) == (platform_virt_to_phys(early) < NODE_EDGE ? 0u : 1u));

	p = page_alloc_node(PAGE_MAX_ORDER, 1);
	CHECK(p && page_node(p) == 1 && platform_virt_to_phys(p) >= NODE_EDGE);
	page_free(p, PAGE_MAX_ORDER);
	/* Node 0's pages first, then node 1's: never one before the other is empty. */
	while ((pages[n] = page_alloc_node(0, 0)) != NULL) {
		unsigned int node = page_node(pages[n]);

		CHECK(node == (platform_virt_to_phys(pages[n]) < NODE_EDGE ? 0u : 1u));
		if (node == 0 && on[1])
			CHECK(!"node 0 served a page after it had fallen back to node 1");
		on[node]++;
		n++;
	}
	CHECK_EQ_U(on[0], free0);
	CHECK_EQ_U(on[1], free1);
	for (uint64_t i = 0; i < n; i++)
		page_free(pages[i], 0);
	page_free(early, 3);
	page_alloc_drain_this_cpu();
	CHECK(page_alloc_check(&why));
	page_alloc_get_node_stats(0, &free0, &total0);
	page_alloc_get_node_stats(1, &free1, &total1);
	CHECK_EQ_U(free0, total0);
	CHECK_EQ_U(free1, total1);

	/* A CPU on node 1 gets node 1's pages from page_alloc(), order 0 and more. */
	page_alloc_set_cpu_node(1, 1);
	host_cpu_enter(1);
	p = page_alloc(0);
	CHECK(p && page_node(p) == 1);
	page_free(p, 0);
	p = page_alloc(2);
	CHECK(p && page_node(p) == 1);
	page_free(p, 2);
	page_alloc_drain_this_cpu();
	host_cpu_enter(0);
	CHECK(page_alloc_check(&why));
	free(pages);
	host_arena_destroy();
}

int main(void)
{
	RUN_TEST(test_accounting_and_exhaustion);
	RUN_TEST(test_orders_are_aligned_and_merge_back);
	RUN_TEST(test_zeroed);
	RUN_TEST(test_nothing_usable);
	RUN_TEST(test_double_free_is_caught);
	RUN_TEST(test_threads_torture);
	RUN_TEST(test_numa_zones);
	return check_summary("page_alloc");
}
