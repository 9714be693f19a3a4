// SPDX-License-Identifier: MIT
/*
 * QSBR grace periods: a grace period ends once every online CPU has
 * published, on its own cache line, that it saw the global sequence number
 * that started it; whichever CPU notices first ends it, so no RCU thread
 * exists and a grace period never waits for an offline CPU.
 *
 * Who writes what:
 *  - gp_seq: CAS by any CPU, from 4k to 4k+1 when gp_requested is ahead of
 *    it (rcu_gp_begin), from 4k+1 to 4k+4 once no CPU holds out (rcu_gp_end).
 *  - qs_seq: its own CPU only, at quiescent states, rcu_offline() and
 *    rcu_online().
 *  - gp_requested: raised by CAS in rcu_gp_start().
 * Grace periods end only by CAS on gp_seq, so two CPUs that both see the
 * last holdout pass cannot end one twice or end the next one early.
 */
#include "mm/rcu/rcu_internal.h"

struct rcu_state rcu_state;
struct rcu_cpu rcu_cpus[PLATFORM_MAX_CPUS];

/* synchronize_rcu() prints the holdouts of a grace period that lasts this long. */
#define RCU_STALL_CYCLES (1ULL << 33)

struct rcu_cpu *rcu_this_cpu(void)
{
	unsigned int cpu = platform_cpu_id();

	if (unlikely(cpu >= rcu_state.nr_cpus))
		platform_panic("rcu: cpu %u outside rcu_init(%u)", cpu, rcu_state.nr_cpus);
	return &rcu_cpus[cpu];
}

void rcu_init(unsigned int nr_cpus)
{
	BUG_ON(nr_cpus == 0 || nr_cpus > PLATFORM_MAX_CPUS);
	rcu_state.nr_cpus = nr_cpus;
	atomic_store(&rcu_state.gp_seq, RCU_SEQ_INIT);
	atomic_store(&rcu_state.gp_requested, RCU_SEQ_INIT);
	atomic_store(&rcu_state.gp_start_cycles, 0);
	atomic_store(&rcu_state.gp_completed, 0);
	atomic_store(&rcu_state.gp_longest_cycles, 0);
	atomic_store(&rcu_state.cb_overloads, 0);
	atomic_store(&rcu_state.gp_sleepers, 0);
	atomic_store(&rcu_state.gp_wake, 0);
	for (unsigned int cpu = 0; cpu < PLATFORM_MAX_CPUS; cpu++) {
		struct rcu_cpu *rc = &rcu_cpus[cpu];

		atomic_store(&rc->qs_seq, RCU_QS_OFFLINE);
		atomic_store(&rc->cb_claim, 0);
		rc->read_nesting = 0;
		rcu_cbs_init(rc);
	}
}

/*
 * True when no online CPU still holds out against grace period seq (odd).
 *
 * The full barrier pairs with the one in rcu_online(). CPU0 comes online:
 * it stores qs_seq, then reads an RCU pointer. CPU1 scans: the pointer was
 * unpublished before seq started, then CPU1 reads CPU0's qs_seq. Without
 * both barriers CPU1 could still read RCU_QS_OFFLINE and end the grace
 * period while CPU0 reads the old pointer. With them, either CPU1 sees
 * CPU0 online (and waits for it) or CPU0 sees the new pointer.
 */
static bool rcu_gp_holdouts_gone(unsigned long seq)
{
	unsigned int nr = rcu_state.nr_cpus;
	unsigned int first = platform_cpu_id() + 1;

	rcu_smp_mb();
	platform_torture_delay();
	/* Start after ourselves: concurrent scanners meet different holdouts first. */
	for (unsigned int i = 0; i < nr; i++) {
		unsigned int cpu = (first + i) % nr;
		/*
		 * Acquire pairs with the release of qs_seq in rcu_report_qs()
		 * and rcu_offline(): that CPU's reads so far happen before
		 * whatever this grace period lets be freed.
		 */
		unsigned long qs = atomic_load_explicit(&rcu_cpus[cpu].qs_seq,
							memory_order_acquire);

		if (qs == seq || qs == RCU_QS_OFFLINE)
			continue;
#ifdef RCU_PLANT_EARLY_FREE
		/* Planted bug: a CPU one grace period behind counts as quiescent. */
		if (qs == seq - RCU_SEQ_STEP)
			continue;
#endif
		return false;
	}
	return true;
}

/*
 * The stamp goes first: a CPU that loses the CAS may overwrite the winner's
 * stamp a little later, so the longest grace period can only be underrated.
 */
static void rcu_gp_begin(unsigned long seq)
{
	atomic_store_explicit(&rcu_state.gp_start_cycles, platform_cycles(), memory_order_relaxed);
	atomic_compare_exchange_strong(&rcu_state.gp_seq, &seq, seq + 1);
}

static void rcu_gp_end(unsigned long seq)
{
	uint64_t start, len, longest;

	/* Release (seq_cst CAS) pairs with the acquire in rcu_gp_done(). */
	if (!atomic_compare_exchange_strong(&rcu_state.gp_seq, &seq,
					    seq + RCU_SEQ_STEP - RCU_SEQ_IN_PROGRESS))
		return;
	/* A late stamp (see rcu_gp_begin) or another CPU's TSC may be ahead of ours. */
	start = atomic_load_explicit(&rcu_state.gp_start_cycles, memory_order_relaxed);
	len = platform_cycles() - start;
	if ((int64_t)len < 0)
		len = 0;
#ifdef PLATFORM_HAS_WAIT
	/*
	 * seq_cst, paired with rcu_sync_sleep(): it counts itself a sleeper,
	 * then checks gp_seq; we changed gp_seq, then check the sleepers. One
	 * of the two sees the other, so no sleeper misses this end.
	 */
	if (atomic_load(&rcu_state.gp_sleepers)) {
		atomic_fetch_add(&rcu_state.gp_wake, 1);
		platform_wake(&rcu_state.gp_wake);
	}
#endif
	atomic_fetch_add_explicit(&rcu_state.gp_completed, 1, memory_order_relaxed);
	longest = atomic_load_explicit(&rcu_state.gp_longest_cycles, memory_order_relaxed);
	while (len > longest &&
	       !atomic_compare_exchange_weak_explicit(&rcu_state.gp_longest_cycles,
						      &longest, len,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

/*
 * The whole grace-period machine, run by whoever waits: end the current
 * grace period if nobody holds out, then start the next one if someone
 * asked for it. All of it is seq_cst: rcu_gp_start() raises gp_requested
 * and then reads gp_seq, while rcu_gp_end() changes gp_seq and then (here)
 * reads gp_requested; at least one of the two sees the other, so a request
 * made while a grace period ends is never lost.
 */
void rcu_gp_advance(void)
{
	unsigned long seq = atomic_load(&rcu_state.gp_seq);

	if (seq & RCU_SEQ_IN_PROGRESS) {
		if (!rcu_gp_holdouts_gone(seq))
			return;
		rcu_gp_end(seq);
		seq = atomic_load(&rcu_state.gp_seq);
		if (seq & RCU_SEQ_IN_PROGRESS)
			return;
	}
	if (rcu_seq_before(seq, atomic_load(&rcu_state.gp_requested)))
		rcu_gp_begin(seq);
}

unsigned long rcu_gp_start(void)
{
	unsigned long cookie, req;

	/*
	 * Full barrier: the caller's unpublishing stores must be visible
	 * before we read gp_seq. Otherwise: we read idle gp_seq 4k while our
	 * store still sits in the store buffer; CPU1 starts 4k+1 for someone
	 * else, CPU2 acks it and then reads our old pointer; the grace period
	 * ends with CPU2 inside a section that holds what we are about to free.
	 * Pairs with the acquire of gp_seq in rcu_report_qs().
	 */
	rcu_smp_mb();
	cookie = rcu_seq_snap(atomic_load(&rcu_state.gp_seq));
	req = atomic_load(&rcu_state.gp_requested);
	while (rcu_seq_before(req, cookie) &&
	       !atomic_compare_exchange_weak(&rcu_state.gp_requested, &req, cookie))
		;
	rcu_gp_advance();
	return cookie;
}

bool rcu_gp_done(unsigned long cookie)
{
	/* Acquire pairs with the CAS in rcu_gp_end(): frees come after the grace period. */
	if (rcu_seq_done(atomic_load_explicit(&rcu_state.gp_seq, memory_order_acquire), cookie))
		return true;
	rcu_gp_advance();
	return rcu_seq_done(atomic_load_explicit(&rcu_state.gp_seq, memory_order_acquire),
			    cookie);
}

/* Tell the grace-period machine that this online CPU is quiescent. */
static void rcu_report_qs(struct rcu_cpu *rc)
{
	/*
	 * Acquire pairs with the CAS in rcu_gp_begin(): once this CPU has seen
	 * grace period seq start, its next read-side sections see every
	 * pointer that was unpublished before it started.
	 */
	unsigned long seq = atomic_load_explicit(&rcu_state.gp_seq, memory_order_acquire);

	if (seq == atomic_load_explicit(&rc->qs_seq, memory_order_relaxed))
		return;
	/*
	 * Release pairs with the acquire in rcu_gp_holdouts_gone(): every read
	 * this CPU made in its past sections happens before the frees that
	 * this grace period allows.
	 */
	atomic_store_explicit(&rc->qs_seq, seq, memory_order_release);
	platform_torture_delay();
	if (seq & RCU_SEQ_IN_PROGRESS)
		rcu_gp_advance(); /* we may have been the last holdout */
}

static void rcu_check_quiescent(struct rcu_cpu *rc, const char *what)
{
	(void)rc;
	(void)what;
#ifdef MM_DEBUG
	if (!rcu_cpu_is_online(rc))
		platform_panic("rcu: %s on offline cpu %u", what, platform_cpu_id());
	if (rc->read_nesting)
		platform_panic("rcu: %s: quiescent state inside a read-side section on cpu %u",
			       what, platform_cpu_id());
#endif
}

#ifdef MM_DEBUG
void rcu_quiescent_state_check(void)
{
	rcu_check_quiescent(rcu_this_cpu(), "rcu_quiescent_state");
}
#endif

void rcu_quiescent_state_slow(void)
{
	struct rcu_cpu *rc = rcu_this_cpu();

	rcu_check_quiescent(rc, "rcu_quiescent_state");
	rcu_report_qs(rc);
	if (rcu_cbs_pending(rc))
		rcu_cbs_process(rc);
	rcu_qs_skip_set(rcu_cbs_pending(rc) ? RCU_QS_NEVER
					    : atomic_load_explicit(&rc->qs_seq, memory_order_relaxed));
}

void rcu_offline(void)
{
	struct rcu_cpu *rc = rcu_this_cpu();

	rcu_check_quiescent(rc, "rcu_offline");
	rcu_qs_skip_set(RCU_QS_NEVER);
	if (rcu_cbs_pending(rc))
		rcu_cbs_process(rc);
	/*
	 * Release pairs with the acquire in rcu_gp_holdouts_gone(): what this
	 * CPU read before going offline happens before anything freed by a
	 * grace period that skips it.
	 */
	atomic_store_explicit(&rc->qs_seq, RCU_QS_OFFLINE, memory_order_release);
	rcu_claim_release(rc); /* rcu_barrier() may now run our callbacks */
	rcu_gp_advance();       /* we may have been the last holdout */
}

void rcu_online(void)
{
	struct rcu_cpu *rc = rcu_this_cpu();
	unsigned int holder = platform_cpu_id() + 1;
	unsigned long seq;

	/* Wait out an rcu_barrier() that is running our callbacks. */
	while (!rcu_claim_try(rc, holder)) {
		if (atomic_load_explicit(&rc->cb_claim, memory_order_relaxed) == holder)
			platform_panic("rcu: rcu_online on cpu %u, which is online", holder - 1);
		platform_relax();
	}
	/*
	 * An offline CPU holds no references, so it is quiescent for the
	 * grace period now running. The acquire pairs with rcu_gp_begin().
	 */
	seq = atomic_load_explicit(&rcu_state.gp_seq, memory_order_acquire);
	atomic_store_explicit(&rc->qs_seq, seq, memory_order_relaxed);
	/* A pCPU comes back online at every exit: its next quiescent state is the fast one. */
	rcu_qs_skip_set(rcu_cbs_pending(rc) ? RCU_QS_NEVER : seq);
	platform_torture_delay();
	/* Pairs with the full barrier in rcu_gp_holdouts_gone(); see there. */
	rcu_smp_mb();
}

static void rcu_stall_warn(unsigned long cookie)
{
	unsigned long seq = atomic_load(&rcu_state.gp_seq);

	platform_print("rcu: waiting for cookie %#lx; gp_seq %#lx stalled by cpus:", cookie, seq);
	for (unsigned int cpu = 0; cpu < rcu_state.nr_cpus; cpu++) {
		unsigned long qs = atomic_load(&rcu_cpus[cpu].qs_seq);

		if (qs != seq && qs != RCU_QS_OFFLINE)
			platform_print(" %u", cpu);
	}
	platform_print("\n");
}

#ifdef PLATFORM_HAS_WAIT
/* Checks of the grace period before synchronize_rcu() sleeps (liburcu spins 100). */
#define RCU_SYNC_SPINS 100

/*
 * Where the platform can sleep (the host harness: a futex), a long wait
 * gives the core away, to the very reader we wait for when threads
 * outnumber cores. Asleep we can report nothing, so we are offline
 * meanwhile: an updater outside any read-side section holds no reference.
 */
static void rcu_sync_sleep(struct rcu_cpu *rc, bool online, unsigned long cookie)
{
	unsigned int wake;

	if (online) /* release: as in rcu_offline() */
		atomic_store_explicit(&rc->qs_seq, RCU_QS_OFFLINE, memory_order_release);
	atomic_fetch_add(&rcu_state.gp_sleepers, 1); /* pairs with rcu_gp_end() */
	wake = atomic_load(&rcu_state.gp_wake);
	if (!rcu_gp_done(cookie))
		platform_wait(&rcu_state.gp_wake, wake);
	atomic_fetch_sub(&rcu_state.gp_sleepers, 1);
	if (online) { /* as in rcu_online(), keeping our claim */
		atomic_store_explicit(&rc->qs_seq,
				      atomic_load_explicit(&rcu_state.gp_seq, memory_order_acquire),
				      memory_order_relaxed);
		rcu_smp_mb();
	}
}
#endif

void synchronize_rcu(void)
{
	struct rcu_cpu *rc = rcu_this_cpu();
	bool online = rcu_cpu_is_online(rc);
	uint64_t start = platform_cycles();
	bool warned = false;
	unsigned long cookie;
#ifdef PLATFORM_HAS_WAIT
	unsigned int checks = 0;
#endif

	if (online)
		rcu_check_quiescent(rc, "synchronize_rcu");
	cookie = rcu_gp_start();
	while (!rcu_gp_done(cookie)) {
		/* Ack our own part, and keep our callbacks moving, so two CPUs in here never wait for each other. */
		if (online)
			rcu_quiescent_state();
		if (!warned && platform_cycles() - start > RCU_STALL_CYCLES) {
			rcu_stall_warn(cookie);
			warned = true;
		}
#ifdef PLATFORM_HAS_WAIT
		if (++checks >= RCU_SYNC_SPINS) {
			rcu_sync_sleep(rc, online, cookie);
			continue;
		}
#endif
		platform_relax();
	}
}

bool rcu_cpu_has_callbacks(void)
{
	return rcu_cbs_pending(rcu_this_cpu());
}

void rcu_get_stats(struct rcu_stats *st)
{
	st->gp_completed = atomic_load_explicit(&rcu_state.gp_completed, memory_order_relaxed);
	st->gp_longest_cycles =
		atomic_load_explicit(&rcu_state.gp_longest_cycles, memory_order_relaxed);
	st->cb_overloads = atomic_load_explicit(&rcu_state.cb_overloads, memory_order_relaxed);
	st->cb_queued = 0;
	st->cb_invoked = 0;
	for (unsigned int cpu = 0; cpu < rcu_state.nr_cpus; cpu++) {
		st->cb_queued += atomic_load_explicit(&rcu_cpus[cpu].nr_queued,
						      memory_order_relaxed);
		st->cb_invoked += atomic_load_explicit(&rcu_cpus[cpu].nr_invoked,
						       memory_order_relaxed);
	}
}

#ifdef MM_DEBUG
void rcu_read_lock_debug(void)
{
	struct rcu_cpu *rc = rcu_this_cpu();

	if (!rcu_cpu_is_online(rc))
		platform_panic("rcu: rcu_read_lock on offline cpu %u", platform_cpu_id());
	rc->read_nesting++;
}

void rcu_read_unlock_debug(void)
{
	struct rcu_cpu *rc = rcu_this_cpu();

	if (rc->read_nesting == 0)
		platform_panic("rcu: rcu_read_unlock without rcu_read_lock on cpu %u",
			       platform_cpu_id());
	rc->read_nesting--;
}

bool rcu_read_lock_held(void)
{
	return rcu_this_cpu()->read_nesting != 0;
}
#endif
