// SPDX-License-Identifier: MIT
/*
 * Unit tests for mm/rcu: one thread plays several CPUs in turn
 * (host_cpu_enter), so each race is scripted step by step; a few tests use
 * real threads, and the debug checks are tested in a forked child.
 */
#define _GNU_SOURCE
#include "mm/rcu/rcu_internal.h"
#include "tests/host/check.h"
#include "tests/host/expect_panic.h"
#include "tests/host/platform_host.h"

#include <pthread.h>
#include <sched.h>

static void setup(unsigned int nr_cpus)
{
	host_set_nr_cpus(nr_cpus);
	rcu_init(nr_cpus);
}

static void as_cpu(unsigned int cpu)
{
	host_cpu_enter(cpu);
}

/* Everything online in the scripted tests goes offline again at the end. */
static void all_offline(unsigned int nr_cpus)
{
	for (unsigned int cpu = 0; cpu < nr_cpus; cpu++) {
		as_cpu(cpu);
		if (rcu_cpu_is_online(&rcu_cpus[cpu]))
			rcu_offline();
	}
}

static unsigned long counted;

static void count_cb(struct rcu_head *head)
{
	(void)head;
	counted++;
}

static void test_seq_compare_wraps(void)
{
	CHECK(rcu_seq_before(0UL - 4, 0));
	CHECK(rcu_seq_before(0UL - 4, 4));
	CHECK(!rcu_seq_before(4, 0UL - 4));
	CHECK(rcu_seq_done(0, 0UL - 4));
	CHECK(!rcu_seq_done(0UL - 4, 0));
	CHECK_EQ_U(rcu_seq_snap(0UL - 4), 0);         /* idle: the next grace period */
	CHECK_EQ_U(rcu_seq_snap(0UL - 3), 4);         /* running: the one after it */
	CHECK_EQ_U(rcu_seq_snap(8), 12);
	CHECK_EQ_U(rcu_seq_snap(9), 16);
}

static void test_init_starts_below_wrap(void)
{
	setup(2);
	CHECK_EQ_U(atomic_load(&rcu_state.gp_seq), RCU_SEQ_INIT);
	CHECK(RCU_SEQ_INIT > ~0UL - 64 * RCU_SEQ_STEP); /* MM_DEBUG */
	CHECK(!rcu_cpu_is_online(&rcu_cpus[0]));
	CHECK(!rcu_cpu_is_online(&rcu_cpus[1]));
}

static void test_read_lock_nests(void)
{
	setup(1);
	as_cpu(0);
	rcu_online();
	CHECK(!rcu_read_lock_held());
	rcu_read_lock();
	rcu_read_lock();
	CHECK(rcu_read_lock_held());
	rcu_read_unlock();
	CHECK(rcu_read_lock_held());
	rcu_read_unlock();
	CHECK(!rcu_read_lock_held());
	all_offline(1);
}

static void test_synchronize_alone_crosses_wrap(void)
{
	struct rcu_stats st;

	setup(4); /* cpus 1..3 never come online: they must not delay anything */
	as_cpu(0);
	rcu_online();
	for (int i = 0; i < 20; i++)
		synchronize_rcu();
	rcu_get_stats(&st);
	CHECK_EQ_U(st.gp_completed, 20);
	CHECK(rcu_seq_before(RCU_SEQ_INIT, atomic_load(&rcu_state.gp_seq)));
	CHECK(atomic_load(&rcu_state.gp_seq) < RCU_SEQ_INIT); /* it wrapped */
	CHECK(st.gp_longest_cycles > 0);
	all_offline(4);
}

static void test_gp_waits_for_reader(void)
{
	unsigned long cookie;

	setup(2);
	as_cpu(1);
	rcu_online();
	rcu_read_lock();
	as_cpu(0);
	rcu_online();
	cookie = rcu_gp_start();
	rcu_quiescent_state();
	CHECK(!rcu_gp_done(cookie));
	as_cpu(1);
	rcu_read_unlock();
	as_cpu(0);
	CHECK(!rcu_gp_done(cookie)); /* unlock is not a quiescent state */
	as_cpu(1);
	rcu_quiescent_state();
	as_cpu(0);
	CHECK(rcu_gp_done(cookie));
	all_offline(2);
}

static void test_cookie_taken_mid_gp_needs_the_next(void)
{
	unsigned long first, second;

	setup(2);
	as_cpu(0);
	rcu_online();
	as_cpu(1);
	rcu_online();
	first = rcu_gp_start(); /* starts a grace period */
	second = rcu_gp_start(); /* taken while it runs */
	CHECK(rcu_seq_before(first, second));
	rcu_quiescent_state();
	as_cpu(0);
	rcu_quiescent_state(); /* last holdout: ends the first, starts the second */
	CHECK(rcu_gp_done(first));
	CHECK(!rcu_gp_done(second));
	rcu_quiescent_state();
	as_cpu(1);
	rcu_quiescent_state();
	CHECK(rcu_gp_done(second));
	all_offline(2);
}

static void test_online_is_quiescent_for_running_gp(void)
{
	unsigned long cookie;

	setup(2);
	as_cpu(0);
	rcu_online();
	cookie = rcu_gp_start();
	rcu_quiescent_state();
	as_cpu(1);
	rcu_online(); /* came online after the grace period started */
	as_cpu(0);
	CHECK(rcu_gp_done(cookie));

	/* Online before the grace period starts: it holds out until it reports. */
	cookie = rcu_gp_start();
	rcu_quiescent_state();
	CHECK(!rcu_gp_done(cookie));
	as_cpu(1);
	rcu_offline(); /* going offline releases it */
	as_cpu(0);
	CHECK(rcu_gp_done(cookie));
	all_offline(2);
}

static void test_call_rcu_waits_for_every_cpu(void)
{
	struct rcu_head head;
	struct rcu_stats st;

	setup(2);
	counted = 0;
	as_cpu(0);
	rcu_online();
	as_cpu(1);
	rcu_online();
	as_cpu(0);
	call_rcu(&head, count_cb);
	CHECK(rcu_cpu_has_callbacks());
	for (int i = 0; i < 5; i++)
		rcu_quiescent_state();
	CHECK_EQ_U(counted, 0); /* cpu 1 has not reported */
	as_cpu(1);
	CHECK(!rcu_cpu_has_callbacks());
	rcu_quiescent_state();
	as_cpu(0);
	rcu_quiescent_state();
	CHECK_EQ_U(counted, 1);
	CHECK(!rcu_cpu_has_callbacks());
	rcu_get_stats(&st);
	CHECK_EQ_U(st.cb_queued, 1);
	CHECK_EQ_U(st.cb_invoked, 1);
	all_offline(2);
}

static void test_callbacks_run_in_batches(void)
{
	static struct rcu_head heads[3 * RCU_BATCH + 10];

	setup(2); /* cpu 1 stays offline */
	counted = 0;
	as_cpu(0);
	rcu_online();
	for (unsigned int i = 0; i < ARRAY_SIZE(heads); i++)
		call_rcu(&heads[i], count_cb);
	rcu_quiescent_state(); /* chooses the grace period */
	CHECK_EQ_U(counted, 0);
	rcu_quiescent_state(); /* ends it, runs one batch */
	CHECK_EQ_U(counted, RCU_BATCH);
	rcu_quiescent_state();
	CHECK_EQ_U(counted, 2 * RCU_BATCH);
	rcu_quiescent_state();
	rcu_quiescent_state();
	CHECK_EQ_U(counted, ARRAY_SIZE(heads));
	all_offline(2);
}

static void test_overload_pushes_gp_and_lifts_batch(void)
{
	static struct rcu_head heads[RCU_CB_HIGH + 500];
	struct rcu_stats st;

	setup(1);
	counted = 0;
	as_cpu(0);
	rcu_online();
	rcu_read_lock(); /* call_rcu may not report a quiescent state for us */
	for (unsigned int i = 0; i < ARRAY_SIZE(heads); i++)
		call_rcu(&heads[i], count_cb);
	rcu_read_unlock();
	rcu_get_stats(&st);
	CHECK(st.cb_overloads > 0);
	CHECK_EQ_U(counted, 0);
	rcu_quiescent_state(); /* the pushed grace period ends; no batch limit */
	CHECK(counted > RCU_CB_HIGH);
	rcu_barrier();
	CHECK_EQ_U(counted, ARRAY_SIZE(heads));
	all_offline(1);
}

static unsigned int ran_on_cpu;

static void where_cb(struct rcu_head *head)
{
	(void)head;
	ran_on_cpu = platform_cpu_id();
	counted++;
}

static void test_barrier_runs_offline_cpus_callbacks(void)
{
	struct rcu_head heads[5];

	setup(2);
	counted = 0;
	as_cpu(0);
	rcu_online();
	as_cpu(1);
	rcu_online();
	for (int i = 0; i < 5; i++)
		call_rcu(&heads[i], where_cb);
	rcu_offline(); /* into guest mode with callbacks queued */
	as_cpu(0);
	rcu_barrier();
	CHECK_EQ_U(counted, 5);
	CHECK_EQ_U(ran_on_cpu, 0);
	as_cpu(1);
	rcu_online(); /* the claim came back */
	CHECK(!rcu_cpu_has_callbacks());
	all_offline(2);
}

static struct rcu_head chained_second;

static void chain_cb(struct rcu_head *head)
{
	(void)head;
	counted++;
	call_rcu(&chained_second, count_cb);
}

static void test_callback_may_queue_a_callback(void)
{
	struct rcu_head first;

	setup(1);
	counted = 0;
	as_cpu(0);
	rcu_online();
	call_rcu(&first, chain_cb);
	rcu_barrier();
	CHECK_EQ_U(counted, 1);
	rcu_barrier();
	CHECK_EQ_U(counted, 2);
	all_offline(1);
}

/* Threads: two CPUs in synchronize_rcu at once must not wait for each other. */
static atomic_bool sync_stop;

static void *sync_thread(void *arg)
{
	unsigned int cpu = (unsigned int)(uintptr_t)arg;

	host_cpu_enter(cpu);
	rcu_online();
	for (int i = 0; i < 3000; i++) {
		rcu_read_lock();
		rcu_read_unlock();
		synchronize_rcu();
	}
	rcu_offline();
	return NULL;
}

static void test_concurrent_synchronize(void)
{
	pthread_t t[2];

	setup(2);
	alarm(30);
	for (uintptr_t i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, sync_thread, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	alarm(0);
	CHECK(!rcu_cpu_is_online(&rcu_cpus[0]) && !rcu_cpu_is_online(&rcu_cpus[1]));
}

/* An offline caller of synchronize_rcu waits for the online ones only. */
static atomic_bool quiescer_online;

static void *quiescing_thread(void *arg)
{
	(void)arg;
	host_cpu_enter(1);
	rcu_online();
	atomic_store(&quiescer_online, true);
	while (!atomic_load(&sync_stop))
		rcu_quiescent_state();
	rcu_offline();
	return NULL;
}

static void test_synchronize_from_offline_cpu(void)
{
	struct rcu_stats before, after;
	pthread_t t;

	setup(2);
	atomic_store(&sync_stop, false);
	atomic_store(&quiescer_online, false);
	pthread_create(&t, NULL, quiescing_thread, NULL);
	/* With no CPU online there is nothing to wait for: let it come online first. */
	while (!atomic_load(&quiescer_online))
		sched_yield();
	as_cpu(0); /* offline */
	rcu_get_stats(&before);
	for (int i = 0; i < 100; i++)
		synchronize_rcu();
	atomic_store(&sync_stop, true);
	pthread_join(t, NULL);
	/* After the join: the thread that ended the last grace period bumps the count after its CAS. */
	rcu_get_stats(&after);
	CHECK(after.gp_completed - before.gp_completed >= 100);
}

/* The debug checks: each runs in a child that must panic with the message. */
static void qs_in_section(void)
{
	setup(1);
	as_cpu(0);
	rcu_online();
	rcu_read_lock();
	rcu_quiescent_state();
}

static void offline_in_section(void)
{
	setup(1);
	as_cpu(0);
	rcu_online();
	rcu_read_lock();
	rcu_offline();
}

static void synchronize_in_section(void)
{
	setup(1);
	as_cpu(0);
	rcu_online();
	rcu_read_lock();
	synchronize_rcu();
}

static void unbalanced_unlock(void)
{
	setup(1);
	as_cpu(0);
	rcu_online();
	rcu_read_unlock();
}

static void read_lock_offline(void)
{
	setup(1);
	as_cpu(0);
	rcu_read_lock();
}

static void call_rcu_offline(void)
{
	static struct rcu_head head;

	setup(1);
	as_cpu(0);
	call_rcu(&head, count_cb);
}

static void online_twice(void)
{
	setup(1);
	as_cpu(0);
	rcu_online();
	rcu_online();
}

static int *_Atomic some_pointer;

static void dereference_outside_section(void)
{
	setup(1);
	as_cpu(0);
	rcu_online();
	(void)rcu_dereference(some_pointer);
}

static void cpu_beyond_init(void)
{
	host_set_nr_cpus(4);
	rcu_init(2);
	as_cpu(3);
	rcu_online();
}

static void test_debug_checks_panic(void)
{
	expect_panic(qs_in_section, "quiescent state inside a read-side section");
	expect_panic(offline_in_section, "rcu_offline: quiescent state inside");
	expect_panic(synchronize_in_section, "synchronize_rcu: quiescent state inside");
	expect_panic(unbalanced_unlock, "rcu_read_unlock without rcu_read_lock");
	expect_panic(read_lock_offline, "rcu_read_lock on offline cpu");
	expect_panic(call_rcu_offline, "call_rcu on an offline cpu");
	expect_panic(online_twice, "which is online");
	expect_panic(dereference_outside_section, "rcu_dereference outside rcu_read_lock");
	expect_panic(cpu_beyond_init, "outside rcu_init(2)");
}

int main(void)
{
	RUN_TEST(test_seq_compare_wraps);
	RUN_TEST(test_init_starts_below_wrap);
	RUN_TEST(test_read_lock_nests);
	RUN_TEST(test_synchronize_alone_crosses_wrap);
	RUN_TEST(test_gp_waits_for_reader);
	RUN_TEST(test_cookie_taken_mid_gp_needs_the_next);
	RUN_TEST(test_online_is_quiescent_for_running_gp);
	RUN_TEST(test_call_rcu_waits_for_every_cpu);
	RUN_TEST(test_callbacks_run_in_batches);
	RUN_TEST(test_overload_pushes_gp_and_lifts_batch);
	RUN_TEST(test_barrier_runs_offline_cpus_callbacks);
	RUN_TEST(test_callback_may_queue_a_callback);
	RUN_TEST(test_concurrent_synchronize);
	RUN_TEST(test_synchronize_from_offline_cpu);
	RUN_TEST(test_debug_checks_panic);
	return check_summary("test_rcu");
}
