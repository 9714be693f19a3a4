// SPDX-License-Identifier: MIT
/*
 * RCU state shared by rcu.c (grace periods) and rcu_callback.c (callbacks).
 * Nothing outside mm/rcu/ includes this, except the unit tests.
 */
#pragma once

#include "mm/rcu/rcu.h"

/*
 * The global sequence gp_seq counts grace periods in bits 63..2; bit 0 is
 * set while one is in progress:
 *
 *      idle 4k --start--> 4k+1 (in progress) --end--> 4k+4 (idle)
 *
 * gp_seq never has bit 1 set, so RCU_QS_OFFLINE can never be mistaken for a
 * sequence value in a CPU's qs_seq.
 */
#define RCU_SEQ_IN_PROGRESS 1UL
#define RCU_SEQ_STEP 4UL
#define RCU_QS_OFFLINE 2UL
_Static_assert((RCU_QS_OFFLINE & (RCU_SEQ_STEP - 1)) == RCU_QS_OFFLINE &&
		      !(RCU_QS_OFFLINE & RCU_SEQ_IN_PROGRESS),
	      "RCU_QS_OFFLINE must use a bit that gp_seq never sets");

/* Debug builds start eight grace periods below the wrap, so every run crosses it. */
#ifdef MM_DEBUG
#define RCU_SEQ_INIT (0UL - 8 * RCU_SEQ_STEP)
#else
#define RCU_SEQ_INIT 0UL
#endif

/* Callbacks invoked per quiescent point, unless the CPU is overloaded. */
#define RCU_BATCH 64
/* Past this many queued callbacks a CPU pushes grace periods and drops the batch limit. */
#define RCU_CB_HIGH 10000

/* Wrap-safe: sequence numbers are compared only through these. */
static inline bool rcu_seq_before(unsigned long a, unsigned long b)
{
	return (long)(a - b) < 0;
}

static inline bool rcu_seq_done(unsigned long seq, unsigned long cookie)
{
	return !rcu_seq_before(seq, cookie);
}

/*
 * The gp_seq value that ends the first grace period to start after now:
 * from idle 4k that is 4k+4; from 4k+1, the running grace period may have
 * started before the caller's update, so it is the next one, 4k+8.
 */
static inline unsigned long rcu_seq_snap(unsigned long seq)
{
	return (seq + 2 * RCU_SEQ_STEP - 1) & ~(RCU_SEQ_STEP - 1);
}

/*
 * A full barrier (x86: no later load passes an earlier store). gcc 12 does
 * not accept atomic_thread_fence under -fsanitize=thread, so TSan builds use
 * a locked add to the stack, the x86 full barrier Linux uses for smp_mb().
 */
static inline void rcu_smp_mb(void)
{
#ifdef __SANITIZE_THREAD__
	atomic_int slot = 0;

	atomic_fetch_add_explicit(&slot, 0, memory_order_seq_cst);
#else
	atomic_thread_fence(memory_order_seq_cst);
#endif
}

struct rcu_cpu *rcu_this_cpu(void);
void rcu_gp_advance(void);
void rcu_cbs_init(struct rcu_cpu *rc);
void rcu_cbs_process(struct rcu_cpu *rc);

static inline bool rcu_cpu_is_online(struct rcu_cpu *rc)
{
	return atomic_load_explicit(&rc->qs_seq, memory_order_relaxed) != RCU_QS_OFFLINE;
}

/*
 * Taking the claim with acquire and dropping it with release orders one
 * holder's list updates before the next holder's reads.
 */
static inline bool rcu_claim_try(struct rcu_cpu *rc, unsigned int holder)
{
	unsigned int free = 0;

	return atomic_compare_exchange_strong_explicit(&rc->cb_claim, &free, holder,
						       memory_order_acquire,
						       memory_order_relaxed);
}

static inline void rcu_claim_release(struct rcu_cpu *rc)
{
	atomic_store_explicit(&rc->cb_claim, 0, memory_order_release);
}
