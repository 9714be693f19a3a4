// SPDX-License-Identifier: MIT
/*
 * mmuvisor's RCU side by side with liburcu's QSBR flavour, in one run:
 *  - read: ns per rcu_read_lock / rcu_dereference / rcu_read_unlock, with a
 *    quiescent state every BENCH_READS_PER_QS sections, on one thread;
 *  - sync: synchronize_rcu latency while 1 and then 2 reader threads read;
 *  - call_rcu: ns per callback from call_rcu() to its invocation, with one
 *    reader thread (rcu_barrier() ends the timing).
 * The two implementations alternate, phase by phase, and each figure is the
 * best (read, call_rcu) or the median (sync) of several rounds, so load
 * from other work on the machine hits both alike. The bars: the read side
 * costs no more than liburcu's, synchronize_rcu is within 2x of it.
 */
#define _GNU_SOURCE
#include "mm/rcu/rcu.h"
#include "tests/host/bench_rcu.h"
#include "tests/host/platform_host.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NR_IMPLS 2
#define READ_REPEATS 9
#define READ_ROUNDS 100000 /* x BENCH_READS_PER_QS sections */
#define QS_CALLS 2000000
#define SYNC_REPEATS 3
#define SYNC_CALLS 2000
#define SYNC_NS 1000000000ULL
#define CB_REPEATS 3
#define CB_CALLS 200000
/* The read side compiles to the same instructions in both: allow this much timing noise. */
#define READ_BAR 1.05
#define SYNC_BAR 2.0
/* The goal for a quiescent state: printed with its figure, not a bar (the status ignores it). */
#define QS_GOAL 1.5

/* mmuvisor's side. */
static struct bench_value mm_values[2] = { { 1 }, { 2 } };
static struct bench_value *__rcu mm_gp = &mm_values[0];
static volatile unsigned long mm_sink;
static struct rcu_head mm_nodes[CB_CALLS];
static atomic_ulong mm_invoked;

static void mm_init(unsigned int nr_threads)
{
	host_set_nr_cpus(nr_threads);
	rcu_init(nr_threads);
}

static void mm_thread_join(unsigned int id)
{
	host_cpu_enter(id);
	rcu_online();
}

static void mm_thread_leave(void)
{
	rcu_offline();
	host_cpu_leave();
}

static double mm_read_ns(unsigned long rounds)
{
	unsigned long sum = 0;
	uint64_t t0 = bench_now_ns();

	for (unsigned long i = 0; i < rounds; i++)
		BENCH_READ_SECTIONS(rcu_read_lock, rcu_dereference, rcu_read_unlock, mm_gp, sum);
	t0 = bench_now_ns() - t0;
	rcu_quiescent_state();
	mm_sink = sum;
	return (double)t0 / ((double)rounds * BENCH_READS_PER_QS);
}

static double mm_quiescent_state_ns(unsigned long n)
{
	uint64_t t0 = bench_now_ns();

	for (unsigned long i = 0; i < n; i++)
		rcu_quiescent_state();
	return (double)(bench_now_ns() - t0) / (double)n;
}

static void mm_read_until(atomic_bool *stop)
{
	unsigned long sum = 0;

	while (!atomic_load_explicit(stop, memory_order_relaxed)) {
		BENCH_READ_SECTIONS(rcu_read_lock, rcu_dereference, rcu_read_unlock, mm_gp, sum);
		rcu_quiescent_state();
	}
	mm_sink = sum;
}

static double mm_replace_and_synchronize_ns(void)
{
	struct bench_value *old = rcu_access_pointer(mm_gp);
	uint64_t t0;

	rcu_assign_pointer(mm_gp, old == &mm_values[0] ? &mm_values[1] : &mm_values[0]);
	t0 = bench_now_ns();
	synchronize_rcu();
	return (double)(bench_now_ns() - t0);
}

static void mm_count_cb(struct rcu_head *head)
{
	(void)head;
	atomic_fetch_add_explicit(&mm_invoked, 1, memory_order_relaxed);
}

static double mm_call_rcu_ns(unsigned long n)
{
	uint64_t t0 = bench_now_ns();

	if (n > ARRAY_SIZE(mm_nodes))
		n = ARRAY_SIZE(mm_nodes);
	atomic_store(&mm_invoked, 0);
	for (unsigned long i = 0; i < n; i++) {
		call_rcu(&mm_nodes[i], mm_count_cb);
		if (i % BENCH_CALLS_PER_QS == 0)
			rcu_quiescent_state();
	}
	rcu_barrier();
	if (atomic_load(&mm_invoked) != n)
		return -1;
	return (double)(bench_now_ns() - t0);
}

const struct bench_rcu_ops bench_mmuvisor_ops = {
	.name = "mmuvisor",
	.init = mm_init,
	.thread_join = mm_thread_join,
	.thread_leave = mm_thread_leave,
	.read_ns = mm_read_ns,
	.quiescent_state_ns = mm_quiescent_state_ns,
	.read_until = mm_read_until,
	.replace_and_synchronize_ns = mm_replace_and_synchronize_ns,
	.call_rcu_ns = mm_call_rcu_ns,
};

/* The driver. Thread 0 is main (the updater); readers are 1..n. */
struct reader_arg {
	const struct bench_rcu_ops *ops;
	unsigned int id;
	atomic_bool *stop;
	atomic_uint *started;
};

static void *reader_thread(void *p)
{
	struct reader_arg *a = p;

	a->ops->thread_join(a->id);
	atomic_fetch_add(a->started, 1);
	a->ops->read_until(a->stop);
	a->ops->thread_leave();
	return NULL;
}

struct readers {
	pthread_t threads[2];
	struct reader_arg args[2];
	atomic_bool stop;
	atomic_uint started;
	unsigned int n;
};

static void readers_start(struct readers *r, const struct bench_rcu_ops *ops, unsigned int n)
{
	r->n = n;
	atomic_store(&r->stop, false);
	atomic_store(&r->started, 0);
	for (unsigned int i = 0; i < n; i++) {
		r->args[i] = (struct reader_arg){ ops, i + 1, &r->stop, &r->started };
		if (pthread_create(&r->threads[i], NULL, reader_thread, &r->args[i]))
			abort();
	}
	while (atomic_load(&r->started) < n)
		sched_yield();
}

static void readers_stop(struct readers *r)
{
	atomic_store(&r->stop, true);
	for (unsigned int i = 0; i < r->n; i++)
		pthread_join(r->threads[i], NULL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double bench_read(const struct bench_rcu_ops *ops)
{
	double ns;

	ops->init(3);
	ops->thread_join(0);
	ns = ops->read_ns(READ_ROUNDS);
	ops->thread_leave();
	return ns;
}

static double bench_quiescent_state(const struct bench_rcu_ops *ops)
{
	double ns;

	ops->init(3);
	ops->thread_join(0);
	ns = ops->quiescent_state_ns(QS_CALLS);
	ops->thread_leave();
	return ns;
}

/* Median latency of up to SYNC_CALLS calls, or as many as fit in SYNC_NS. */
static double bench_sync(const struct bench_rcu_ops *ops, unsigned int nr_readers, int *calls)
{
	static double lat[SYNC_CALLS];
	struct readers r;
	uint64_t end;
	int n = 0;

	ops->init(3);
	readers_start(&r, ops, nr_readers);
	ops->thread_join(0);
	for (int i = 0; i < 50; i++) /* warm up */
		ops->replace_and_synchronize_ns();
	end = bench_now_ns() + SYNC_NS;
	while (n < SYNC_CALLS && (n < 10 || bench_now_ns() < end))
		lat[n++] = ops->replace_and_synchronize_ns();
	ops->thread_leave();
	readers_stop(&r);
	qsort(lat, n, sizeof(lat[0]), cmp_double);
	*calls += n;
	return lat[n / 2];
}

static double bench_call_rcu(const struct bench_rcu_ops *ops)
{
	struct readers r;
	double ns;

	ops->init(3);
	readers_start(&r, ops, 1);
	ops->thread_join(0);
	ns = ops->call_rcu_ns(CB_CALLS);
	ops->thread_leave();
	readers_stop(&r);
	if (ns < 0) {
		fprintf(stderr, "bench_rcu: %s lost callbacks\n", ops->name);
		exit(1);
	}
	return ns / CB_CALLS;
}

static double min_of(const double *v, int n)
{
	double m = v[0];

	for (int i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

static double median_of(double *v, int n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return v[n / 2];
}

static void print_pair(const char *phase, const char *what, const double *v, const int *ops,
		       const char *fmt_tail, double bar, double goal)
{
	for (int i = 0; i < NR_IMPLS; i++)
		printf("RESULT scenario=host_rcu phase=%s impl=%s %s ns_per_op=%.3f ops=%d\n", phase,
		       i ? "liburcu" : "mmuvisor", what, v[i], ops[i]);
	printf("RESULT scenario=host_rcu phase=%s impl=ratio %s mmuvisor_over_liburcu=%.2f%s", phase,
	       what, v[0] / v[1], fmt_tail);
	if (bar > 0)
		printf(" bar=%.2f %s", bar, v[0] / v[1] <= bar ? "pass" : "FAIL");
	if (goal > 0)
		printf(" goal=%.2f met=%s", goal, v[0] / v[1] <= goal ? "yes" : "no");
	printf("\n");
}

int main(void)
{
	const struct bench_rcu_ops *impls[NR_IMPLS] = { &bench_mmuvisor_ops, &bench_liburcu_ops };
	double read[NR_IMPLS][READ_REPEATS], qs[NR_IMPLS][READ_REPEATS];
	double sync1[NR_IMPLS][SYNC_REPEATS], sync2[NR_IMPLS][SYNC_REPEATS];
	double cb[NR_IMPLS][CB_REPEATS];
	double r[NR_IMPLS], q[NR_IMPLS], s1[NR_IMPLS], s2[NR_IMPLS], c[NR_IMPLS];
	int read_ops[NR_IMPLS], qs_ops[NR_IMPLS], s1_ops[NR_IMPLS] = { 0 }, s2_ops[NR_IMPLS] = { 0 };
	int cb_ops[NR_IMPLS];
	bool pass;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Alternate which implementation goes first, so drift favours neither. */
	for (int rep = 0; rep < READ_REPEATS; rep++)
		for (int k = 0; k < NR_IMPLS; k++) {
			int i = (k + rep) % NR_IMPLS;

			read[i][rep] = bench_read(impls[i]);
			qs[i][rep] = bench_quiescent_state(impls[i]);
		}
	for (int rep = 0; rep < SYNC_REPEATS; rep++)
		for (int k = 0; k < NR_IMPLS; k++) {
			int i = (k + rep) % NR_IMPLS;

			sync1[i][rep] = bench_sync(impls[i], 1, &s1_ops[i]);
			sync2[i][rep] = bench_sync(impls[i], 2, &s2_ops[i]);
		}
	for (int rep = 0; rep < CB_REPEATS; rep++)
		for (int k = 0; k < NR_IMPLS; k++) {
			int i = (k + rep) % NR_IMPLS;

			cb[i][rep] = bench_call_rcu(impls[i]);
		}
	for (int i = 0; i < NR_IMPLS; i++) {
		r[i] = min_of(read[i], READ_REPEATS);
		q[i] = min_of(qs[i], READ_REPEATS);
		s1[i] = median_of(sync1[i], SYNC_REPEATS);
		s2[i] = median_of(sync2[i], SYNC_REPEATS);
		c[i] = min_of(cb[i], CB_REPEATS);
		read_ops[i] = READ_ROUNDS * BENCH_READS_PER_QS;
		qs_ops[i] = QS_CALLS;
		cb_ops[i] = CB_CALLS;
	}
	print_pair("read", "readers=1", r, read_ops, " stat=min", READ_BAR, 0);
	print_pair("quiescent_state", "readers=1", q, qs_ops, " stat=min", 0, QS_GOAL);
	print_pair("sync", "readers=1", s1, s1_ops, " stat=median", SYNC_BAR, 0);
	print_pair("sync", "readers=2", s2, s2_ops, " stat=median", SYNC_BAR, 0);
	print_pair("call_rcu", "readers=1", c, cb_ops, " stat=min", 0, 0);
	pass = r[0] / r[1] <= READ_BAR && s1[0] / s1[1] <= SYNC_BAR && s2[0] / s2[1] <= SYNC_BAR;
	printf("DONE scenario=host_rcu status=%s\n", pass ? "pass" : "fail reason=bar");
	return pass ? 0 : 1;
}
