// SPDX-License-Identifier: MIT
/*
 * The shadow MMU's rmap walk on the host, release flags: one gfn mapped by
 * N shadow leaves (N = 1, 2, 8, 64; chains of 1 entry inline, 1 and 5
 * descriptors), built through the real fault path, then
 *  - walk_ns: one walk of the gfn's rmap inside a call, lockless (RCU
 *    only, nulls check) against locked (the call holds mmu_lock for write,
 *    no other writer can change the chain);
 *  - call_ns: one shadow_mmu_test_and_clear_young() or
 *    shadow_mmu_write_protect_range() of that gfn, locks and all, with
 *    age=lockless|locked and wp=lockless|locked.
 * Aging clears A (the first walk finds it set, the rest find it clear),
 * write-protect clears W (already clear: the leaves are read-only): both
 * pay the walk and one atomic fetch_and per entry. Best of ROUNDS.
 *
 * host_rmap_contention: one vCPU thread faults (INVLPG, then touch, over
 * 512 pages) while another CPU ages those 512 gfns over and over, with
 * age=lockless against age=locked: the locked twin holds mmu_lock for
 * write through each aging call, and the faults wait.
 *
 *   RESULT scenario=host_rmap chain=8 op=age walk_lockless_ns=... walk_locked_ns=...
 *          call_lockless_ns=... call_locked_ns=...
 */
#define _GNU_SOURCE
#include "tests/host/test_shadow.h"

#include <pthread.h>
#include <time.h>

#define ROUNDS 7
#define FRAME 0x300

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

enum what { AGE, WP };

static double walk_ns(struct shadow_mmu *m, enum what what, bool locked, unsigned long iters)
{
	struct pte_list_head *head = &shadow_gfn_meta(m, FRAME)->rmap;
	double best = 1e30;

	for (unsigned int r = 0; r < ROUNDS; r++) {
		struct shadow_op op;
		uint64_t t0;

		shadow_op_begin(&op, m, NULL, locked ? SHADOW_LOCK_WRITE : SHADOW_LOCK_NONE, false);
		t0 = now_ns();
		for (unsigned long i = 0; i < iters; i++) {
			if (what == AGE)
				shadow_rmap_test_and_clear_young(&op, head, FRAME);
			else
				shadow_rmap_write_protect(&op, head, FRAME);
		}
		t0 = now_ns() - t0;
		shadow_op_end(&op);
		if ((double)t0 / iters < best)
			best = (double)t0 / iters;
		rcu_quiescent_state();
	}
	return best;
}

static double call_ns(struct shadow_mmu *m, enum what what, unsigned long iters)
{
	double best = 1e30;
	uint64_t young[1];

	for (unsigned int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = now_ns();

		for (unsigned long i = 0; i < iters; i++) {
			if (what == AGE)
				shadow_mmu_test_and_clear_young(m, FRAME, FRAME + 1, young);
			else
				shadow_mmu_write_protect_range(m, FRAME, FRAME + 1);
		}
		t0 = now_ns() - t0;
		if ((double)t0 / iters < best)
			best = (double)t0 / iters;
		rcu_quiescent_state();
	}
	return best;
}

/* One MMU over the guest's memory, its N leaves faulted in; locked: the wp and age twins. */
static struct shadow_mmu *chain_mmu(unsigned int n, bool locked, struct shadow_vcpu **sv)
{
	struct shadow_mmu_config cfg = { .policy.wp_locked = locked, .policy.age_locked = locked };
	struct guest_paging gp = ts_paging(0x80);
	struct shadow_mmu *m = ts_create(&cfg);

	*sv = shadow_vcpu_create(m);
	shadow_mmu_load_cr3(m, *sv, &gp);
	for (unsigned int i = 0; i < n; i++)
		ts_access(m, *sv, &gp, 0x400000000ULL + i * PAGE_SIZE * 513ULL, 0);
	if (ts_rmap_count(m, FRAME) != n) {
		fprintf(stderr, "bench_rmap: the chain has %lu entries, not %u\n",
			ts_rmap_count(m, FRAME), n);
		exit(1);
	}
	return m;
}

static void bench_chain(unsigned int n)
{
	unsigned long iters = 4000000 / (n + 8);
	struct shadow_vcpu *sv[2];
	struct shadow_mmu *m[2];

	ts_guest_create();
	for (unsigned int i = 0; i < n; i++)
		ts_map(0x80, 0x400000000ULL + i * PAGE_SIZE * 513ULL, 1, FRAME, X86_PTE_RW);
	for (unsigned int locked = 0; locked < 2; locked++)
		m[locked] = chain_mmu(n, locked, &sv[locked]);
	for (enum what what = AGE; what <= WP; what++) {
		double wl = walk_ns(m[0], what, false, iters), wk = walk_ns(m[1], what, true, iters);
		double cl = call_ns(m[0], what, iters), ck = call_ns(m[1], what, iters);

		printf("RESULT scenario=host_rmap chain=%u op=%s walk_lockless_ns=%.1f walk_locked_ns=%.1f "
		       "call_lockless_ns=%.1f call_locked_ns=%.1f walk_lockless_ns_per_entry=%.2f\n",
		       n, what == AGE ? "age" : "wp", wl, wk, cl, ck, wl / n);
	}
	ts_destroy_mmu(m[1], &sv[1], 1);
	ts_destroy(m[0], &sv[0], 1);
}

#define CONTENTION_PAGES 512
#define CONTENTION_NS 300000000ULL
static struct shadow_mmu *cm;
static struct shadow_vcpu *csv;
static atomic_bool cstop;
static atomic_ulong cfaults;

static uint64_t contention_gva(unsigned int i)
{
	return 0x400000000ULL + (uint64_t)i * PAGE_SIZE;
}

static void *contention_vcpu(void *arg)
{
	struct guest_paging gp = ts_paging(0x80);

	(void)arg;
	host_cpu_enter(0);
	rcu_online();
	shadow_mmu_load_cr3(cm, csv, &gp);
	while (!atomic_load_explicit(&cstop, memory_order_relaxed)) {
		for (unsigned int i = 0; i < CONTENTION_PAGES; i++) {
			shadow_mmu_invlpg(cm, csv, contention_gva(i));
			atomic_fetch_add_explicit(&cfaults, ts_access(cm, csv, &gp, contention_gva(i), 0).faults,
						  memory_order_relaxed);
		}
		rcu_quiescent_state();
	}
	rmap_desc_cache_drain_this_cpu();
	rcu_offline();
	return NULL;
}

static void bench_contention(bool locked)
{
	struct shadow_mmu_config cfg = { .policy.age_locked = locked };
	uint64_t young[CONTENTION_PAGES / 64], t0, rounds = 0;
	pthread_t vcpu;

	ts_guest_create();
	for (unsigned int i = 0; i < CONTENTION_PAGES; i++)
		ts_map(0x80, contention_gva(i), 1, 256 + i, X86_PTE_RW);
	cm = ts_create(&cfg);
	csv = shadow_vcpu_create(cm);
	atomic_store(&cstop, false);
	atomic_store(&cfaults, 0);
	rcu_offline(); /* cpu 0 is the vCPU's; this thread ages as cpu 1 */
	host_cpu_enter(1);
	rcu_online();
	pthread_create(&vcpu, NULL, contention_vcpu, NULL);
	t0 = now_ns();
	while (now_ns() - t0 < CONTENTION_NS) {
		shadow_mmu_test_and_clear_young(cm, 256, 256 + CONTENTION_PAGES, young);
		rounds++;
		rcu_quiescent_state();
	}
	atomic_store(&cstop, true);
	pthread_join(vcpu, NULL);
	t0 = now_ns() - t0;
	printf("RESULT scenario=host_rmap_contention age=%s pages=%u faults_per_s=%.0f "
	       "age_rounds_per_s=%.0f\n", locked ? "locked" : "lockless", CONTENTION_PAGES,
	       atomic_load(&cfaults) * 1e9 / t0, rounds * 1e9 / t0);
	rmap_desc_cache_drain_this_cpu();
	rcu_offline();
	host_cpu_enter(0);
	rcu_online();
	ts_destroy(cm, &csv, 1);
}

int main(void)
{
	static const unsigned int chains[] = { 1, 2, 8, 64 };

	ts_setup(2);
	for (unsigned int i = 0; i < ARRAY_SIZE(chains); i++)
		bench_chain(chains[i]);
	bench_contention(false);
	bench_contention(true);
	return check_current_failed;
}
