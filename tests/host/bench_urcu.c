// SPDX-License-Identifier: MIT
/*
 * liburcu's QSBR flavour for bench_rcu: its fast paths inlined
 * (_LGPL_SOURCE), its default call_rcu worker thread for callbacks.
 */
#define _LGPL_SOURCE
#include <urcu/urcu-qsbr.h>

#include "tests/host/bench_rcu.h"

static struct bench_value values[2] = { { 1 }, { 2 } };
static struct bench_value *gp = &values[0];
static volatile unsigned long urcu_sink;

struct urcu_node {
	struct rcu_head head;
};
static atomic_ulong invoked;

static void urcu_init(unsigned int nr_threads)
{
	(void)nr_threads;
}

static void urcu_thread_join(unsigned int id)
{
	(void)id;
	urcu_qsbr_register_thread();
}

static void urcu_thread_leave(void)
{
	urcu_qsbr_unregister_thread();
}

static double urcu_read_ns(unsigned long rounds)
{
	unsigned long sum = 0;
	uint64_t t0 = bench_now_ns();

	for (unsigned long i = 0; i < rounds; i++)
		BENCH_READ_SECTIONS(urcu_qsbr_read_lock, rcu_dereference, urcu_qsbr_read_unlock, gp, sum);
	t0 = bench_now_ns() - t0;
	urcu_qsbr_quiescent_state();
	urcu_sink = sum;
	return (double)t0 / ((double)rounds * BENCH_READS_PER_QS);
}

static double urcu_quiescent_state_ns(unsigned long n)
{
	uint64_t t0 = bench_now_ns();

	for (unsigned long i = 0; i < n; i++)
		urcu_qsbr_quiescent_state();
	return (double)(bench_now_ns() - t0) / (double)n;
}

static void urcu_read_until(atomic_bool *stop)
{
	unsigned long sum = 0;

	while (!atomic_load_explicit(stop, memory_order_relaxed)) {
		BENCH_READ_SECTIONS(urcu_qsbr_read_lock, rcu_dereference, urcu_qsbr_read_unlock, gp, sum);
		urcu_qsbr_quiescent_state();
	}
	urcu_sink = sum;
}

static double urcu_replace_and_synchronize_ns(void)
{
	uint64_t t0;

	rcu_assign_pointer(gp, gp == &values[0] ? &values[1] : &values[0]);
	t0 = bench_now_ns();
	urcu_qsbr_synchronize_rcu();
	return (double)(bench_now_ns() - t0);
}

static void urcu_count_cb(struct rcu_head *head)
{
	(void)head;
	atomic_fetch_add_explicit(&invoked, 1, memory_order_relaxed);
}

static double urcu_call_rcu_ns(unsigned long n)
{
	static struct urcu_node nodes[1 << 20];
	uint64_t t0 = bench_now_ns();

	if (n > sizeof(nodes) / sizeof(nodes[0]))
		n = sizeof(nodes) / sizeof(nodes[0]);
	atomic_store(&invoked, 0);
	for (unsigned long i = 0; i < n; i++) {
		urcu_qsbr_call_rcu(&nodes[i].head, urcu_count_cb);
		if (i % BENCH_CALLS_PER_QS == 0)
			urcu_qsbr_quiescent_state();
	}
	urcu_qsbr_barrier();
	if (atomic_load(&invoked) != n)
		return -1;
	return (double)(bench_now_ns() - t0);
}

const struct bench_rcu_ops bench_liburcu_ops = {
	.name = "liburcu",
	.init = urcu_init,
	.thread_join = urcu_thread_join,
	.thread_leave = urcu_thread_leave,
	.read_ns = urcu_read_ns,
	.quiescent_state_ns = urcu_quiescent_state_ns,
	.read_until = urcu_read_until,
	.replace_and_synchronize_ns = urcu_replace_and_synchronize_ns,
	.call_rcu_ns = urcu_call_rcu_ns,
};
