// SPDX-License-Identifier: MIT
/*
 * rmap torture (mm/shadow/rmap.c): churners add and remove shadow entries
 * on a few gfns' pte_lists, so descriptors empty, are freed and come back
 * on other chains at once (the cache is type-safe by RCU), while lockless
 * walkers write-protect (clear W) and age (clear A) through
 * pte_list_walk_lockless(), falling back to the lock when it gives up.
 *
 * Each entry's generation is odd while it is in its list: bumped after the
 * add is complete, and before the remove starts. An entry whose generation
 * was the same odd value before and after a walk was in the list for the
 * whole walk, so the walk must have cleared its bit (and, aging, reported
 * its gfn young). A walk that hands fn anything but one of our entries, or
 * reads a retired descriptor page (rmap_check_not_freed()), fails the run.
 *
 * A first phase plays the dirty-log barrier pair as a store-buffering
 * litmus test, two threads in lock step: a fault adds a writable entry and
 * then reads "logging"; a write-protect sets "logging" and then walks. One
 * of them must see the other.
 *
 *   torture_rmap: FAIL: walker 1 missed an SPTE present for its whole walk: ...
 *
 * Usage: torture_rmap [seconds [barrier|churn]]: a quarter of the time on
 * the barrier pair, the rest churning; or all of it on one. Exit status 0
 * only if nothing was missed.
 */
#define _GNU_SOURCE
#include "mm/page_alloc.h"
#include "mm/rcu/rcu.h"
#include "mm/shadow/rmap.h"
#include "tests/host/platform_host.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NR_CHURNERS 2
#define NR_WALKERS 2
#define NR_CPUS (NR_CHURNERS + NR_WALKERS + 1) /* the last one is main's */
#define MAIN_CPU (NR_CPUS - 1)
#define NR_HEADS 6
#define SLOTS_PER_HEAD 40 /* up to three descriptors a chain */
#define NR_SLOTS (NR_HEADS * SLOTS_PER_HEAD)
#define MAX_RESTARTS 8

#define SPTE_P 0x1ULL
#define SPTE_W 0x2ULL
#define SPTE_A 0x20ULL

#define ARENA_BYTES (32UL << 20)
#define ARENA_PHYS 0x100000000UL

static spinlock_t wlock = SPINLOCK_INIT("torture_rmap");
static struct pte_list_head heads[NR_HEADS];
static _Atomic uint64_t sptes[NR_SLOTS]; /* slot s belongs to gfn s % NR_HEADS */
static atomic_ulong gens[NR_SLOTS];      /* odd while in its list */
static bool in_list[NR_SLOTS];           /* wlock */
static atomic_bool stop;

static struct torture_cpu {
	struct rmap_desc_reserve reserve;
	unsigned long ops, walks, restarts, fallbacks, strays, young_walks;
} tcpu[NR_CPUS];

_Noreturn __printf(1, 2) static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "torture_rmap: FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	_exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void topup(struct torture_cpu *t)
{
	if (!rmap_desc_reserve_topup(&t->reserve))
		fail("no memory for descriptors");
}

/* A thread's last words as a CPU: its descriptors back to the cache, the cache to the pages. */
static void cpu_leave(struct torture_cpu *t)
{
	rmap_desc_reserve_release(&t->reserve);
	rmap_desc_cache_drain_this_cpu();
	rcu_offline();
}

/* --- churners ------------------------------------------------------------ */

static void slot_add(unsigned int s)
{
	atomic_store(&sptes[s], SPTE_P | SPTE_W | SPTE_A | ((uint64_t)s << 12));
	pte_list_add(&heads[s % NR_HEADS], &sptes[s], &tcpu[platform_cpu_id()].reserve, &wlock);
	atomic_fetch_add(&gens[s], 1); /* odd: the add is complete */
	in_list[s] = true;
}

static void slot_remove(unsigned int s)
{
	atomic_fetch_add(&gens[s], 1); /* even: before the remove starts */
	pte_list_remove(&heads[s % NR_HEADS], &sptes[s], &wlock);
	atomic_store(&sptes[s], 0);
	in_list[s] = false;
}

static void *churner(void *arg)
{
	unsigned int cpu = (unsigned int)(uintptr_t)arg;
	struct torture_cpu *t = &tcpu[cpu];

	host_cpu_enter(cpu);
	rcu_online();
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint64_t r = host_rand();
		unsigned int s = (r >> 8) % NR_SLOTS;

		topup(t);
		spin_lock(&wlock);
		if (!in_list[s]) {
			slot_add(s);
		} else if ((r & 7) == 0) {
			/* The guest writes again: W and A come back, as after a fault. */
			atomic_fetch_add(&gens[s], 1);
			atomic_fetch_or(&sptes[s], SPTE_W | SPTE_A);
			atomic_fetch_add(&gens[s], 1);
		} else {
			slot_remove(s);
		}
		spin_unlock(&wlock);
		platform_torture_delay(); /* or the churners keep the lock to themselves */
		if ((++t->ops & 63) == 0)
			rcu_quiescent_state();
	}
	cpu_leave(t);
	return NULL;
}

/* --- walkers ------------------------------------------------------------- */

struct walk_ctx {
	unsigned int gfn;
	uint64_t bit;   /* SPTE_W: write-protect; SPTE_A: age */
	bool young;
	unsigned long strays;
};

/* The walkers' fn: only entries of our gfn count, as the shadow MMU checks a slot's gfn. */
static void walk_one(shadow_ptep_t sptep, void *arg)
{
	struct walk_ctx *w = arg;
	long s = sptep - sptes;
	uint64_t old;

	if (s < 0 || s >= NR_SLOTS)
		fail("a walk handed fn %p, which is not an SPTE", (void *)sptep);
	if (s % NR_HEADS != w->gfn) {
		w->strays++; /* on another gfn's chain, before the nulls check sent us back */
		return;
	}
	old = atomic_fetch_and(sptep, ~w->bit);
	if ((old & SPTE_P) && (old & w->bit))
		w->young = true;
}

/* max_restarts: half the walks give up at the first restart, so the fallback gets its share. */
static void walk_gfn(struct torture_cpu *t, struct walk_ctx *w, unsigned int max_restarts)
{
	unsigned long restarts = 0;
	bool done;

	rcu_read_lock();
	done = pte_list_walk_lockless(&heads[w->gfn], walk_one, w, max_restarts, &restarts);
	rcu_read_unlock();
	t->walks++;
	t->restarts += restarts;
	if (!done) {
		t->fallbacks++;
		spin_lock(&wlock);
		pte_list_walk_locked(&heads[w->gfn], walk_one, w);
		spin_unlock(&wlock);
	}
	t->strays += w->strays;
}

static void *walker(void *arg)
{
	unsigned int cpu = (unsigned int)(uintptr_t)arg, me = cpu - NR_CHURNERS;
	struct torture_cpu *t = &tcpu[cpu];
	unsigned long before[SLOTS_PER_HEAD];

	host_cpu_enter(cpu);
	rcu_online();
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint64_t r = host_rand();
		/* Aging a gfn is one walker's business, or one would steal the other's A bits. */
		bool age = r & 1;
		unsigned int gfn = age ? 2 * ((r >> 8) % (NR_HEADS / 2)) + me : (r >> 8) % NR_HEADS;
		struct walk_ctx w = { .gfn = gfn, .bit = age ? SPTE_A : SPTE_W };
		bool must_be_young = false;

		for (unsigned int i = 0; i < SLOTS_PER_HEAD; i++) {
			unsigned int s = gfn + i * NR_HEADS;

			if (age && (atomic_load(&gens[s]) & 1))
				atomic_fetch_or(&sptes[s], SPTE_A); /* the CPU touches the page */
			before[i] = atomic_load(&gens[s]);
		}
		walk_gfn(t, &w, (r >> 16) & 1 ? 0 : MAX_RESTARTS);
		for (unsigned int i = 0; i < SLOTS_PER_HEAD; i++) {
			unsigned int s = gfn + i * NR_HEADS;
			uint64_t spte = atomic_load(&sptes[s]);

			if (!(before[i] & 1) || atomic_load(&gens[s]) != before[i])
				continue; /* added or removed during the walk: either answer is right */
			must_be_young = true;
			if (spte & w.bit)
				fail("walker %u missed an SPTE present for its whole walk: %s gfn %u "
				     "slot %u spte %#llx gen %lu", me, age ? "aging" : "write-protecting",
				     gfn, s, (unsigned long long)spte, before[i]);
		}
		if (age && must_be_young && !w.young)
			fail("walker %u reported gfn %u old, but it had an accessed entry throughout",
			     me, gfn);
		t->young_walks += age && w.young;
		if ((t->walks & 15) == 0)
			rcu_quiescent_state();
	}
	cpu_leave(t);
	return NULL;
}

/* --- the dirty-log barrier pair, as a store-buffering litmus test ---------- */

#define SB_SLOT 0
static atomic_uint sb_arrived;    /* both sides bump it at each of the two meeting points a round */
static atomic_int sb_logging;
static int sb_fault_saw_logging;  /* the fault side's answer, read after the next meeting */
static atomic_ulong sb_rounds;

/* Meeting point n (1, 2, ...): both sides arrive, then both leave at once. */
static void sb_meet(unsigned int n)
{
	atomic_fetch_add(&sb_arrived, 1);
	while (atomic_load_explicit(&sb_arrived, memory_order_acquire) < 2 * n)
		;
}

/* A few dozen cycles, different each round, so the two sides' windows slide across each other. */
static void sb_skew(void)
{
	for (volatile unsigned int n = host_rand() % 96; n; n--)
		;
}

/* The vCPU: SPTE writable, rmap add, barrier, then mark_dirty() reads "logging". */
static void *sb_fault(void *arg)
{
	struct torture_cpu *t = &tcpu[0];

	(void)arg;
	host_cpu_enter(0);
	rcu_online();
	for (unsigned int meet = 1;; meet += 2) {
		topup(t);
		sb_meet(meet);
		if (atomic_load(&stop))
			break;
		sb_skew();
		atomic_store_explicit(&sptes[SB_SLOT], SPTE_P | SPTE_W, memory_order_relaxed);
		spin_lock(&wlock);
		pte_list_add(&heads[0], &sptes[SB_SLOT], &t->reserve, &wlock);
		spin_unlock(&wlock);
		rmap_mb(); /* the fault side of the pair */
		sb_fault_saw_logging = atomic_load_explicit(&sb_logging, memory_order_relaxed);
		sb_meet(meet + 1);
		rcu_quiescent_state();
	}
	cpu_leave(t);
	return NULL;
}

/* The control CPU: logging on, then write-protect through the rmap; checks each round. */
static void sb_phase(double seconds)
{
	double end = now() + seconds;
	struct walk_ctx w = { .bit = SPTE_W };
	pthread_t fault;

	pthread_create(&fault, NULL, sb_fault, NULL);
	for (unsigned int meet = 1;; meet += 2) {
		unsigned long restarts = 0;

		spin_lock(&wlock);
		if (!pte_list_empty(&heads[0]))
			pte_list_remove(&heads[0], &sptes[SB_SLOT], &wlock);
		spin_unlock(&wlock);
		atomic_store(&sptes[SB_SLOT], 0);
		atomic_store(&sb_logging, 0);
		if ((meet & 1023) == 1 && now() > end)
			atomic_store(&stop, true);
		sb_meet(meet);
		if (atomic_load(&stop))
			break;
		sb_skew();
		atomic_store_explicit(&sb_logging, 1, memory_order_relaxed);
		rmap_write_protect_begin(); /* the write-protect side of the pair */
		rcu_read_lock();
		pte_list_walk_lockless(&heads[0], walk_one, &w, MAX_RESTARTS, &restarts);
		rcu_read_unlock();
		sb_meet(meet + 1);
		if (!sb_fault_saw_logging && (atomic_load(&sptes[SB_SLOT]) & SPTE_W))
			fail("write-protect missed a writable SPTE whose fault did not see logging "
			     "either (round %lu): the dirty-log barrier pair is broken",
			     atomic_load(&sb_rounds));
		atomic_fetch_add(&sb_rounds, 1);
		rcu_quiescent_state();
	}
	pthread_join(fault, NULL);
	atomic_store(&stop, false);
	spin_lock(&wlock);
	if (!pte_list_empty(&heads[0]))
		pte_list_remove(&heads[0], &sptes[SB_SLOT], &wlock);
	spin_unlock(&wlock);
}

int main(int argc, char **argv)
{
	struct mem_range usable = { ARENA_PHYS, ARENA_PHYS + ARENA_BYTES };
	double seconds = argc > 1 ? atof(argv[1]) : 3.0, sb_seconds = seconds / 4;
	const char *only = argc > 2 ? argv[2] : "";
	pthread_t threads[NR_CHURNERS + NR_WALKERS];
	struct torture_cpu sum = { 0 };
	uint64_t free_at_start;
	const char *why = NULL;

	host_set_nr_cpus(NR_CPUS);
	host_arena_create(ARENA_BYTES, ARENA_PHYS);
	host_cpu_enter(MAIN_CPU);
	if (!page_alloc_init(&usable, 1, NULL, 0, &why))
		fail("page_alloc_init: %s", why);
	rcu_init(NR_CPUS);
	rcu_online();
	rmap_init();
	host_rand_seed((uint64_t)time(NULL));
	{
		struct page_alloc_stats st;

		page_alloc_get_stats(&st);
		free_at_start = st.free_pages;
	}

	if (!strcmp(only, "barrier"))
		sb_seconds = seconds;
	else if (!strcmp(only, "churn"))
		sb_seconds = 0;
	if (sb_seconds > 0) {
		sb_phase(sb_seconds);
		printf("torture_rmap: barrier pair: %lu lock-step rounds, no write-protect missed\n",
		       atomic_load(&sb_rounds));
	}

	rcu_offline(); /* main only waits now */
	for (unsigned int i = 0; i < NR_CHURNERS; i++)
		pthread_create(&threads[i], NULL, churner, (void *)(uintptr_t)i);
	for (unsigned int i = 0; i < NR_WALKERS; i++)
		pthread_create(&threads[NR_CHURNERS + i], NULL, walker,
			       (void *)(uintptr_t)(NR_CHURNERS + i));
	if (seconds > sb_seconds)
		usleep((useconds_t)((seconds - sb_seconds) * 1e6));
	atomic_store(&stop, true);
	for (unsigned int i = 0; i < NR_CHURNERS + NR_WALKERS; i++)
		pthread_join(threads[i], NULL);
	rcu_online();

	/* Empty every list; then every descriptor and every cache page must come back. */
	spin_lock(&wlock);
	for (unsigned int s = 0; s < NR_SLOTS; s++)
		if (in_list[s])
			slot_remove(s);
	spin_unlock(&wlock);
	rmap_desc_cache_drain_this_cpu();
	for (unsigned int cpu = 0; cpu < NR_CPUS; cpu++) {
		struct torture_cpu *t = &tcpu[cpu];

		sum.ops += t->ops;
		sum.walks += t->walks;
		sum.restarts += t->restarts;
		sum.fallbacks += t->fallbacks;
		sum.strays += t->strays;
		sum.young_walks += t->young_walks;
	}
	if (rmap_descs_in_use() != 0)
		fail("%ld descriptors still in use after every list was emptied", rmap_descs_in_use());
	rcu_barrier(); /* retired cache pages go back a grace period after the drains */
	for (unsigned int cpu = 0; cpu < NR_CPUS; cpu++) {
		host_cpu_enter(cpu);
		page_alloc_drain_this_cpu();
	}
	host_cpu_enter(MAIN_CPU);
	{
		struct page_alloc_stats st;

		page_alloc_get_stats(&st);
		if (st.free_pages != free_at_start)
			fail("%lld pages not back in the allocator",
			     (long long)(free_at_start - st.free_pages));
	}
	printf("torture_rmap: %.1fs: %lu list ops, %lu lockless walks (%lu young), %lu restarts "
	       "on another chain's nulls, %lu entries of another gfn seen on the way, %lu fell "
	       "back to the lock; nothing missed\n",
	       seconds, sum.ops, sum.walks, sum.young_walks, sum.restarts, sum.strays,
	       sum.fallbacks);
	return 0;
}
