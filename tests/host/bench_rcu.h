// SPDX-License-Identifier: MIT
/*
 * One RCU implementation as the benchmark drives it. bench_rcu.c holds the
 * driver and mmuvisor's RCU; bench_urcu.c holds liburcu's QSBR flavour
 * (the two APIs share names, so each lives in its own file). The timed
 * loops are written once, here, and expanded in both files, so both
 * implementations run the same code around their calls.
 */
#pragma once

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define BENCH_READS_PER_QS 128 /* read-side sections between quiescent states */
#define BENCH_CALLS_PER_QS 32  /* call_rcu() calls between quiescent states */

struct bench_value {
	unsigned long value;
};

struct bench_rcu_ops {
	const char *name;
	void (*init)(unsigned int nr_threads);
	/* The calling thread (0..nr_threads-1) joins RCU, online; leave undoes it. */
	void (*thread_join)(unsigned int id);
	void (*thread_leave)(void);
	/* Timed loops on the calling thread: ns per read-side section, per quiescent state. */
	double (*read_ns)(unsigned long rounds);
	double (*quiescent_state_ns)(unsigned long n);
	/* Read and report quiescent states until *stop. */
	void (*read_until)(atomic_bool *stop);
	/* Publish the other value, then wait for a grace period: returns ns waited. */
	double (*replace_and_synchronize_ns)(void);
	/* Queue n callbacks (quiescent states in between), wait for all: returns ns. */
	double (*call_rcu_ns)(unsigned long n);
};

extern const struct bench_rcu_ops bench_mmuvisor_ops;
extern const struct bench_rcu_ops bench_liburcu_ops;

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* BENCH_READS_PER_QS read-side sections. */
#define BENCH_READ_SECTIONS(read_lock, dereference, read_unlock, gp, sum)        \
	do {                                                                     \
		for (int r_ = 0; r_ < BENCH_READS_PER_QS; r_++) {                \
			read_lock();                                             \
			(sum) += dereference(gp)->value;                         \
			read_unlock();                                           \
		}                                                                \
	} while (0)
