// SPDX-License-Identifier: MIT
/*
 * Quiescent-state-based RCU (QSBR), modelled on liburcu's QSBR flavour.
 *
 * Readers pay nothing: a read-side section is any stretch of code between
 * two quiescent states of its CPU, and rcu_read_lock/unlock only mark it
 * (and check it in MM_DEBUG builds). Updaters unpublish an object, then
 * free it through call_rcu() or after synchronize_rcu(), once every online
 * CPU has passed a quiescent state.
 *
 * The contract, CPU by CPU (cpu = platform_cpu_id() < nr_cpus):
 *  1. rcu_init(nr_cpus) runs once, on one CPU, before any other call, while
 *     no other CPU uses RCU (the BSP, before it starts the APs). Every CPU
 *     then starts offline.
 *  2. A CPU joins by calling rcu_online(). From then on it must report a
 *     quiescent state (rcu_quiescent_state(), or a pass through
 *     rcu_offline()/rcu_online()) regularly, or every grace period waits for
 *     it. A pCPU does so at each pass of its run loop.
 *  3. A CPU that will not report for a while goes offline first, with
 *     rcu_offline(): before entering guest mode (an extended quiescent state:
 *     the hardware walker holds no software reference, and its TLB
 *     references end with the flush that always precedes call_rcu) and
 *     before halting when idle. An offline CPU never delays a grace period.
 *  4. rcu_read_lock(), rcu_dereference(), call_rcu(), rcu_quiescent_state(),
 *     rcu_offline() and rcu_barrier() need an online CPU. synchronize_rcu()
 *     and the polling pair work online or offline.
 *  5. Quiescent points run callbacks: rcu_quiescent_state(), rcu_offline(),
 *     synchronize_rcu() (when online) and rcu_barrier() may invoke callbacks
 *     queued on this CPU (or, for rcu_barrier, on offline CPUs). Call them
 *     with no lock held that a callback takes.
 *  6. Nothing here may be called from an interrupt handler.
 */
#pragma once

#include "mm/platform.h"

struct rcu_head {
	struct rcu_head *next;
	void (*func)(struct rcu_head *head);
};

typedef void (*rcu_callback_t)(struct rcu_head *head);

/*
 * An RCU-protected pointer is declared `struct foo *__rcu ptr`: the pointer
 * itself is atomic, and it is read only through rcu_dereference() (inside a
 * read-side section) or rcu_dereference_protected() (by an updater that
 * holds the lock that orders writers).
 */
#define __rcu _Atomic

void rcu_init(unsigned int nr_cpus);

/* Read side: free in release builds; MM_DEBUG builds count the nesting. */
#ifdef MM_DEBUG
void rcu_read_lock_debug(void);
void rcu_read_unlock_debug(void);
bool rcu_read_lock_held(void);
static inline void rcu_read_lock(void) { rcu_read_lock_debug(); }
static inline void rcu_read_unlock(void) { rcu_read_unlock_debug(); }
#define RCU_CHECK(cond, what)                                               \
	do {                                                                \
		if (unlikely(!(cond)))                                      \
			platform_panic("rcu: %s at %s:%d", (what), __FILE__, \
				       __LINE__);                           \
	} while (0)
#else
static inline void rcu_read_lock(void) {}
static inline void rcu_read_unlock(void) {}
#define RCU_CHECK(cond, what) do { } while (0)
#endif

/*
 * Acquire, not consume: GCC promotes consume to acquire anyway, and on x86
 * both are a plain load. Pairs with the release in rcu_assign_pointer(), so
 * a reader that sees the pointer sees the object's initialisation.
 */
#define rcu_dereference(p)                                                  \
	({                                                                  \
		RCU_CHECK(rcu_read_lock_held(),                             \
			  "rcu_dereference outside rcu_read_lock");         \
		atomic_load_explicit(&(p), memory_order_acquire);           \
	})
#define rcu_dereference_protected(p, held)                                  \
	({                                                                  \
		RCU_CHECK(held, "rcu_dereference_protected without its lock"); \
		atomic_load_explicit(&(p), memory_order_relaxed);           \
	})
/* For a NULL test only: the result must not be dereferenced. */
#define rcu_access_pointer(p) atomic_load_explicit(&(p), memory_order_relaxed)
#define rcu_assign_pointer(p, v) atomic_store_explicit(&(p), (v), memory_order_release)
/* Publish v and return the old pointer, for updaters that race each other. */
#define rcu_xchg_pointer(p, v) atomic_exchange_explicit(&(p), (v), memory_order_acq_rel)

/*
 * Quiescent states. rcu_quiescent_state()'s fast path is inline, two loads
 * and a compare: this CPU has reported the current gp_seq already and has
 * no callback waiting (rcu_qs_skip(), mm/rcu/rcu_percpu.h). The acquire is rcu_report_qs()'s
 * (mm/rcu/rcu.c); the slow path reports and runs callbacks. MM_DEBUG
 * builds check first that the CPU is online and outside any read-side
 * section, then take the same two paths: the tests run the fast path the
 * hypervisor runs.
 */
#include "mm/rcu/rcu_percpu.h"
void rcu_quiescent_state_slow(void);
#ifdef MM_DEBUG
void rcu_quiescent_state_check(void);
#endif

static inline void rcu_quiescent_state(void)
{
#ifdef MM_DEBUG
	rcu_quiescent_state_check();
#endif
	if (likely(atomic_load_explicit(&rcu_state.gp_seq, memory_order_acquire) == rcu_qs_skip()))
		return;
	rcu_quiescent_state_slow();
}

void rcu_offline(void);
void rcu_online(void);

/*
 * Updates. call_rcu() queues func(head) to run on this CPU after a grace
 * period; it never blocks and may be called inside a read-side section.
 * synchronize_rcu() spins until a grace period has passed; an online caller
 * counts itself quiescent and keeps running its own callbacks meanwhile.
 * rcu_barrier() waits until every callback queued before it, on any CPU,
 * has run; it runs the callbacks of offline CPUs itself.
 */
void call_rcu(struct rcu_head *head, rcu_callback_t func);
void synchronize_rcu(void);
void rcu_barrier(void);

/*
 * Polling: rcu_gp_start() asks for a grace period and returns a cookie;
 * rcu_gp_done(cookie) is true once a full grace period has passed since
 * rcu_gp_start() was called. rcu_gp_done() also drives detection, so a
 * poller makes progress with no other CPU's help beyond its quiescent
 * states. Cookies wrap: compare them only through rcu_gp_done().
 */
unsigned long rcu_gp_start(void);
bool rcu_gp_done(unsigned long cookie);

/* True while this CPU has callbacks queued: an idle loop polls instead of halting. */
bool rcu_cpu_has_callbacks(void);

struct rcu_stats {
	uint64_t gp_completed;      /* grace periods ended */
	uint64_t gp_longest_cycles; /* longest start-to-end, in platform_cycles() */
	uint64_t cb_queued;         /* call_rcu() calls */
	uint64_t cb_invoked;        /* callbacks run */
	uint64_t cb_overloads;      /* call_rcu() found too many queued and pushed a grace period */
};
void rcu_get_stats(struct rcu_stats *st);
