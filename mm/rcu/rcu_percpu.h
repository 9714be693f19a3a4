// SPDX-License-Identifier: MIT
/*
 * The per-CPU and global state of mm/rcu/, in the open only so that
 * rcu_quiescent_state()'s fast path (mm/rcu/rcu.h) can be inline: a pCPU
 * reports a quiescent state at every pass of its run loop, and a call
 * there costs several times the check itself. Nothing outside mm/rcu/
 * reads or writes these fields; the rules for each are written beside it.
 */
#pragma once

#include "mm/platform.h"

struct rcu_head;

struct rcu_cblist {
	struct rcu_head *head;
	struct rcu_head **tail;
	unsigned long len;
};

struct rcu_cpu {
	/*
	 * The gp_seq this CPU saw at its last quiescent state, or
	 * RCU_QS_OFFLINE. Written only by the owning CPU; read by every CPU
	 * that scans for the end of a grace period, hence its own line.
	 */
	atomic_ulong qs_seq __cacheline_aligned;
	/*
	 * (qs_skip, the gp_seq at which a quiescent state has nothing to do,
	 * is not here but in the platform's word of the CPU's own:
	 * rcu_qs_skip() below.)
	 */

	/*
	 * Who may touch the callback lists below: cpu + 1 of the holder, or 0.
	 * The owner holds it from rcu_online() to rcu_offline(); while the
	 * owner is offline, rcu_barrier() on another CPU may take it.
	 */
	atomic_uint cb_claim __cacheline_aligned;

	/* cb_claim holder only. Callbacks move next -> wait -> done, in order. */
	struct rcu_cblist next;    /* queued; no grace period chosen yet */
	struct rcu_cblist wait;    /* run once gp_seq reaches wait_cookie */
	struct rcu_cblist done;    /* grace period over; invoked in batches */
	unsigned long wait_cookie;

	/* Written by the cb_claim holder; read by rcu_barrier() and the statistics. */
	atomic_ulong nr_queued;
	atomic_ulong nr_invoked;

	/* Owning CPU only. */
	unsigned int read_nesting; /* MM_DEBUG */
} __attribute__((aligned(4 * CACHE_LINE))); /* a power of two: the fast path's index is a shift */

struct rcu_state {
	/* Changed by CAS when a grace period starts or ends; read at every quiescent state. */
	atomic_ulong gp_seq __cacheline_aligned;
	unsigned int nr_cpus; /* immutable after rcu_init() */

	/* The furthest cookie anyone waits for: raised by CAS in rcu_gp_start(). */
	atomic_ulong gp_requested __cacheline_aligned;

	/* Statistics, relaxed. */
	atomic_ulong gp_start_cycles __cacheline_aligned;
	atomic_ulong gp_completed;
	atomic_ulong gp_longest_cycles;
	atomic_ulong cb_overloads;

	/* synchronize_rcu() callers asleep in platform_wait(), and the word they wait on. */
	atomic_uint gp_sleepers __cacheline_aligned;
	atomic_uint gp_wake;
};

#define RCU_QS_NEVER (~0UL)

extern struct rcu_state rcu_state;
extern struct rcu_cpu rcu_cpus[PLATFORM_MAX_CPUS];

/*
 * qs_skip: the gp_seq at which a quiescent state of this CPU has nothing
 * to do: it has reported it and has no callback queued. RCU_QS_NEVER (no
 * gp_seq has bit 1 set) when it has callbacks or is offline, and what the
 * platform starts the word at. Owning CPU only: set by
 * rcu_quiescent_state_slow() and rcu_online(), cleared by call_rcu() and
 * rcu_offline(); read by the inline fast path. It lives in the platform's
 * word of the CPU's own (mm/platform.h): one instruction away, as
 * liburcu's reader counter is in thread-local storage.
 */
_Static_assert(RCU_QS_NEVER == PLATFORM_CPU_WORD_INIT,
	       "a CPU's word starts at RCU_QS_NEVER: its first quiescent state takes the slow path");

static inline unsigned long rcu_qs_skip(void)
{
	return platform_cpu_word_load();
}

static inline void rcu_qs_skip_set(unsigned long seq)
{
	platform_cpu_word_store(seq);
}

/* Callbacks queued on this CPU that have not run yet. */
static inline bool rcu_cbs_pending(struct rcu_cpu *rc)
{
	return atomic_load_explicit(&rc->nr_queued, memory_order_relaxed) !=
	       atomic_load_explicit(&rc->nr_invoked, memory_order_relaxed);
}
