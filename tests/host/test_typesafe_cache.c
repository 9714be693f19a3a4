// SPDX-License-Identifier: MIT
/*
 * Unit tests for mm/rcu/typesafe_cache: objects recycle at once, the cache
 * never writes an object's bytes after its constructor, and a page goes
 * back to the page allocator only after a grace period. One thread plays
 * two CPUs in turn, so the grace period is scripted.
 */
#define _GNU_SOURCE
#include "mm/page_alloc.h"
#include "mm/rcu/rcu.h"
#include "mm/rcu/typesafe_cache.h"
#include "tests/host/check.h"
#include "tests/host/expect_panic.h"
#include "tests/host/platform_host.h"


#define ARENA_BYTES (16UL << 20)
#define ARENA_PHYS 0x40000000UL

struct thing {
	uint64_t magic;
	uint64_t payload[5];
};
#define THING_MAGIC 0x7468696e67UL

static struct typesafe_cache things;
static unsigned long ctor_calls;

static void thing_ctor(void *obj)
{
	struct thing *t = obj;

	t->magic = THING_MAGIC;
	ctor_calls++;
}

static uint64_t free_pages(void)
{
	struct page_alloc_stats st;

	page_alloc_get_stats(&st);
	return st.free_pages;
}

static void setup(void)
{
	host_set_nr_cpus(2);
	rcu_init(2);
	host_cpu_enter(0);
	rcu_online();
	typesafe_cache_init(&things, "things", sizeof(struct thing), thing_ctor);
	ctor_calls = 0;
}

static void teardown(void)
{
	host_cpu_enter(1);
	typesafe_cache_drain_this_cpu(&things);
	host_cpu_enter(0);
	typesafe_cache_drain_this_cpu(&things);
	rcu_barrier();
	rcu_offline();
}

static void test_objects_are_distinct_and_constructed_once(void)
{
	struct thing *a, *b;

	setup();
	a = typesafe_alloc(&things);
	b = typesafe_alloc(&things);
	CHECK(a && b && a != b);
	CHECK_EQ_U(a->magic, THING_MAGIC);
	CHECK_EQ_U(ctor_calls, things.objs_per_slab); /* the whole first page */
	CHECK_EQ_U((uintptr_t)a % 16, 0);
	typesafe_free(&things, a);
	typesafe_free(&things, b);
	CHECK_EQ_U(ctor_calls, things.objs_per_slab);
	teardown();
}

static void test_free_then_alloc_reuses_at_once(void)
{
	struct thing *a, *again;

	setup();
	a = typesafe_alloc(&things);
	typesafe_free(&things, a);
	again = typesafe_alloc(&things); /* no grace period in between */
	CHECK(again == a);
	typesafe_free(&things, again);
	teardown();
}

static void test_free_keeps_the_objects_bytes(void)
{
	struct thing *a;
	uint64_t copy[sizeof(struct thing) / 8];

	setup();
	a = typesafe_alloc(&things);
	for (unsigned int i = 0; i < ARRAY_SIZE(a->payload); i++)
		a->payload[i] = 0x1111111111111111UL * (i + 1);
	memcpy(copy, a, sizeof(copy));
	typesafe_free(&things, a);
	CHECK(memcmp(copy, a, sizeof(copy)) == 0);
	teardown();
}

static void test_page_freed_only_after_grace_period(void)
{
	struct typesafe_cache_stats st;
	struct thing *objs[512];
	unsigned int n;
	uint64_t before;

	setup();
	host_cpu_enter(1);
	rcu_online(); /* cpu 1 will hold the grace period */
	host_cpu_enter(0);
	n = things.objs_per_slab;
	CHECK(n <= ARRAY_SIZE(objs));
	for (unsigned int i = 0; i < n; i++)
		objs[i] = typesafe_alloc(&things);
	page_alloc_drain_this_cpu();
	before = free_pages();
	for (unsigned int i = 0; i < n; i++)
		typesafe_free(&things, objs[i]);
	typesafe_cache_drain_this_cpu(&things);
	typesafe_cache_get_stats(&things, &st);
	CHECK_EQ_U(st.slabs_live, 0);
	CHECK_EQ_U(st.slabs_retired, 1);
	CHECK_EQ_U(st.pages_freed, 0);
	for (int i = 0; i < 5; i++)
		rcu_quiescent_state();
	typesafe_cache_get_stats(&things, &st);
	CHECK_EQ_U(st.pages_freed, 0); /* cpu 1 has not passed a quiescent state */
	CHECK_EQ_U(objs[0]->magic, THING_MAGIC); /* still a thing to a late reader */
	host_cpu_enter(1);
	rcu_quiescent_state();
	rcu_offline();
	host_cpu_enter(0);
	rcu_quiescent_state();
	rcu_quiescent_state();
	typesafe_cache_get_stats(&things, &st);
	CHECK_EQ_U(st.pages_freed, 1);
	CHECK(objs[n - 1]->magic != THING_MAGIC); /* poisoned on its way out (MM_DEBUG) */
	page_alloc_drain_this_cpu();
	CHECK_EQ_U(free_pages(), before + 1);
	teardown();
}

static void test_cross_cpu_free_and_full_return(void)
{
	struct typesafe_cache_stats st;
	static struct thing *objs[2000];
	uint64_t before;

	setup();
	page_alloc_drain_this_cpu();
	before = free_pages();
	for (unsigned int i = 0; i < ARRAY_SIZE(objs); i++)
		objs[i] = typesafe_alloc(&things);
	typesafe_cache_get_stats(&things, &st);
	CHECK(st.slabs_live >= ARRAY_SIZE(objs) / things.objs_per_slab);
	host_cpu_enter(1);
	rcu_online();
	for (unsigned int i = 0; i < ARRAY_SIZE(objs); i += 2)
		typesafe_free(&things, objs[i]); /* freed on another cpu than allocated */
	typesafe_cache_drain_this_cpu(&things);
	rcu_offline();
	host_cpu_enter(0);
	for (unsigned int i = 1; i < ARRAY_SIZE(objs); i += 2)
		typesafe_free(&things, objs[i]);
	teardown();
	typesafe_cache_get_stats(&things, &st);
	CHECK_EQ_U(st.slabs_live, 0);
	CHECK_EQ_U(st.pages_freed, st.slabs_created);
	host_cpu_enter(0);
	page_alloc_drain_this_cpu();
	host_cpu_enter(1);
	page_alloc_drain_this_cpu();
	CHECK_EQ_U(free_pages(), before);
}

static void double_free(void)
{
	struct thing *a;

	setup();
	a = typesafe_alloc(&things);
	typesafe_free(&things, a);
	typesafe_free(&things, a);
}

static void foreign_free(void)
{
	struct thing *a;

	setup();
	a = typesafe_alloc(&things);
	typesafe_free(&things, (char *)a + 8);
}

static void test_debug_checks_panic(void)
{
	expect_panic(double_free, "double free");
	expect_panic(foreign_free, "not an object of this cache");
}

int main(void)
{
	struct mem_range usable = { ARENA_PHYS, ARENA_PHYS + ARENA_BYTES };
	const char *why = NULL;

	host_set_nr_cpus(2);
	host_arena_create(ARENA_BYTES, ARENA_PHYS);
	host_cpu_enter(0);
	if (!page_alloc_init(&usable, 1, NULL, 0, &why)) {
		fprintf(stderr, "page_alloc_init: %s\n", why);
		return 1;
	}
	RUN_TEST(test_objects_are_distinct_and_constructed_once);
	RUN_TEST(test_free_then_alloc_reuses_at_once);
	RUN_TEST(test_free_keeps_the_objects_bytes);
	RUN_TEST(test_page_freed_only_after_grace_period);
	RUN_TEST(test_cross_cpu_free_and_full_return);
	RUN_TEST(test_debug_checks_panic);
	host_arena_destroy();
	return check_summary("test_typesafe_cache");
}
