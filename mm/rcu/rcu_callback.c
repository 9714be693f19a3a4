// SPDX-License-Identifier: MIT
/*
 * RCU callbacks: each CPU keeps its own callbacks in three stages (next,
 * wait, done) and runs the done ones at its own quiescent points, a bounded
 * batch at a time, so no thread is needed; rcu_barrier() runs those of
 * offline CPUs, which would otherwise wait until their owner comes back.
 *
 * Only the holder of a CPU's cb_claim touches its lists (rcu_internal.h).
 * The owner holds the claim while it is online, so call_rcu() and the
 * quiescent-state path take no lock and no atomic read-modify-write.
 */
#include "mm/rcu/rcu_internal.h"

static void rcu_cblist_init(struct rcu_cblist *l)
{
	l->head = NULL;
	l->tail = &l->head;
	l->len = 0;
}

static void rcu_cblist_append(struct rcu_cblist *l, struct rcu_head *head)
{
	head->next = NULL;
	*l->tail = head;
	l->tail = &head->next;
	l->len++;
}

/* Move all of src, in order, to the end of dst. */
static void rcu_cblist_splice(struct rcu_cblist *dst, struct rcu_cblist *src)
{
	if (!src->len)
		return;
	*dst->tail = src->head;
	dst->tail = src->tail;
	dst->len += src->len;
	rcu_cblist_init(src);
}

void rcu_cbs_init(struct rcu_cpu *rc)
{
	rcu_cblist_init(&rc->next);
	rcu_cblist_init(&rc->wait);
	rcu_cblist_init(&rc->done);
	rc->wait_cookie = 0;
	atomic_store(&rc->nr_queued, 0);
	atomic_store(&rc->nr_invoked, 0);
}

static unsigned long rcu_cbs_queued(struct rcu_cpu *rc)
{
	return atomic_load_explicit(&rc->nr_queued, memory_order_relaxed) -
	       atomic_load_explicit(&rc->nr_invoked, memory_order_relaxed);
}

/*
 * Move callbacks along: wait -> done once its grace period is over, and
 * next -> wait with a fresh cookie. While the wait stage's grace period
 * has not started yet, next can join it (same cookie); otherwise next
 * stays put until the wait stage drains.
 */
static void rcu_cbs_advance(struct rcu_cpu *rc)
{
	unsigned long cookie;

	if (rc->wait.len && rcu_gp_done(rc->wait_cookie))
		rcu_cblist_splice(&rc->done, &rc->wait);
	if (!rc->next.len)
		return;
	if (rc->wait.len &&
	    rcu_seq_snap(atomic_load(&rcu_state.gp_seq)) != rc->wait_cookie)
		return;
	/* rcu_gp_start() orders every call_rcu() caller's unpublish before its cookie. */
	cookie = rcu_gp_start();
	if (rc->wait.len && cookie != rc->wait_cookie)
		return;
	rcu_cblist_splice(&rc->wait, &rc->next);
	rc->wait_cookie = cookie;
}

static void rcu_cbs_invoke(struct rcu_cpu *rc, unsigned long limit)
{
	unsigned long n = 0;

	while (rc->done.head && n < limit) {
		struct rcu_head *head = rc->done.head;

		rc->done.head = head->next;
		rc->done.len--;
		head->func(head);
		n++;
	}
	if (!rc->done.head)
		rcu_cblist_init(&rc->done);
	/*
	 * Release pairs with the acquire in rcu_barrier(): once the count
	 * covers a callback, that callback's effects are visible. The count
	 * moves after the batch, and one claim holder invokes at a time, so
	 * it never covers a callback that is still running.
	 */
	atomic_store_explicit(&rc->nr_invoked,
			      atomic_load_explicit(&rc->nr_invoked, memory_order_relaxed) + n,
			      memory_order_release);
}

/* Caller holds rc->cb_claim and is at a quiescent point. */
void rcu_cbs_process(struct rcu_cpu *rc)
{
	rcu_cbs_advance(rc);
	if (rc->done.len)
		rcu_cbs_invoke(rc, rcu_cbs_queued(rc) > RCU_CB_HIGH ? ~0UL : RCU_BATCH);
}

/*
 * Too many callbacks queued: choose this CPU's grace period now and try to
 * end the running one, instead of waiting for the next quiescent state. We
 * may be inside a read-side section, so we can neither report a quiescent
 * state nor invoke callbacks here; the next quiescent point drops the batch
 * limit instead.
 */
static void rcu_cbs_push(struct rcu_cpu *rc)
{
	atomic_fetch_add_explicit(&rcu_state.cb_overloads, 1, memory_order_relaxed);
	rcu_cbs_advance(rc);
	rcu_gp_advance();
}

void call_rcu(struct rcu_head *head, rcu_callback_t func)
{
	struct rcu_cpu *rc = rcu_this_cpu();
	unsigned long queued = atomic_load_explicit(&rc->nr_queued, memory_order_relaxed) + 1;

	RCU_CHECK(rcu_cpu_is_online(rc), "call_rcu on an offline cpu");
	rcu_qs_skip_set(RCU_QS_NEVER); /* the next quiescent state has work */
	head->func = func;
	rcu_cblist_append(&rc->next, head);
	/* Relaxed: rcu_barrier() only counts callbacks queued before it began. */
	atomic_store_explicit(&rc->nr_queued, queued, memory_order_relaxed);
	platform_torture_delay();
	/* Push once per 64 calls while overloaded: each push costs a barrier and a scan. */
	if (unlikely(rcu_cbs_queued(rc) > RCU_CB_HIGH) && !(queued % 64))
		rcu_cbs_push(rc);
}

/* Run an offline CPU's callbacks, unless its owner or another helper has them. */
static void rcu_cbs_help(struct rcu_cpu *rc)
{
	if (!rcu_claim_try(rc, platform_cpu_id() + 1))
		return;
	rcu_cbs_process(rc);
	rcu_claim_release(rc);
}

/*
 * rcu_barrier()'s snapshot of every CPU's queued count: one per CPU is too
 * big for a stack (8 KiB at 1024 CPUs), so it is static and one barrier
 * runs at a time. A CPU waiting for its turn keeps reporting quiescent
 * states, so the barrier it waits behind can end.
 */
static unsigned long barrier_target[PLATFORM_MAX_CPUS];
static spinlock_t barrier_lock = SPINLOCK_INIT("rcu_barrier");

void rcu_barrier(void)
{
	struct rcu_cpu *self = rcu_this_cpu();
	unsigned long *target = barrier_target;
	unsigned int nr = rcu_state.nr_cpus;

	RCU_CHECK(rcu_cpu_is_online(self), "rcu_barrier on an offline cpu");
	while (!spin_trylock(&barrier_lock)) {
		rcu_quiescent_state();
		platform_relax();
	}
	for (unsigned int cpu = 0; cpu < nr; cpu++)
		target[cpu] = atomic_load_explicit(&rcu_cpus[cpu].nr_queued,
						   memory_order_relaxed);
	for (;;) {
		bool all_done = true;

		for (unsigned int cpu = 0; cpu < nr; cpu++) {
			struct rcu_cpu *rc = &rcu_cpus[cpu];

			if (!rcu_seq_before(atomic_load_explicit(&rc->nr_invoked,
								 memory_order_acquire),
					    target[cpu]))
				continue;
			all_done = false;
			if (rc != self)
				rcu_cbs_help(rc);
		}
		if (all_done) {
			spin_unlock(&barrier_lock);
			return;
		}
		/* Our own callbacks, and our part of the grace periods they need. */
		rcu_quiescent_state();
		platform_relax();
	}
}
