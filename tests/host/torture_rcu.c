// SPDX-License-Identifier: MIT
/*
 * RCU torture: readers hold RCU-protected objects across random delays and
 * check them; writers replace them and free the old ones through call_rcu,
 * synchronize_rcu (online and offline), the polling pair, and the
 * type-safe cache. Every free poisons first (callback objects then sit in a
 * quarantine before free(), retired cache pages are poisoned by MM_DEBUG),
 * so a reader that ever sees freed memory fails the run:
 *
 *   torture_rcu: FAIL: reader 3 saw freed memory: ...
 *
 * Usage: torture_rcu [seconds]. Exit status 0 only if no reader saw freed
 * memory and every callback and page was accounted for at the end.
 */
#define _GNU_SOURCE
#include "mm/page_alloc.h"
#include "mm/rcu/rcu.h"
#include "mm/rcu/typesafe_cache.h"
#include "tests/host/platform_host.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NR_READERS 4
#define NR_WRITERS 2
#define NR_CPUS (NR_READERS + NR_WRITERS + 1) /* the last one is main's */
#define MAIN_CPU (NR_CPUS - 1)
#define NR_SLOTS 8
#define NR_TS_SLOTS 8
#define HELD_PER_SECTION 3
#define QUARANTINE 512
#define MAX_POLLS 16

#define LIVE_MAGIC 0x4c4956454c495645UL   /* "LIVELIVE" */
#define POISON_MAGIC 0x6465616464656164UL /* "deaddead" */
#define TS_MAGIC 0x7473616665747361UL     /* "tsafetsa" */

#define ARENA_BYTES (32UL << 20)
#define ARENA_PHYS 0x100000000UL

/* An object freed through RCU: malloc'd, poisoned by its retirement. */
struct tobj {
	atomic_ulong magic;
	atomic_ulong gen;
	atomic_ulong gen_check; /* ~gen while live */
	struct rcu_head rcu;
};

/* An object of the type-safe cache: its magic is set once, by the constructor. */
struct tsobj {
	atomic_ulong magic;
	atomic_ulong gen;  /* 0 while free */
	atomic_ulong slot; /* where it was published */
	char pad[232];     /* 15 to a page: pages empty, and retire, often */
};

static struct tobj *__rcu slots[NR_SLOTS];
static struct tsobj *__rcu ts_slots[NR_TS_SLOTS];
static struct typesafe_cache ts_cache;
static atomic_ulong next_gen = 1;
static atomic_bool stop;

/* Per-CPU: touched only by the thread that is that CPU (callbacks run there too). */
static struct torture_cpu {
	struct tobj *quarantine[QUARANTINE];
	unsigned int q_next;
	unsigned long reads, ts_reads, ts_revalidations, writes, offlines;
} tcpu[NR_CPUS];

_Noreturn __printf(1, 2) static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "torture_rcu: FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	_exit(1);
}

static void ts_ctor(void *obj)
{
	struct tsobj *t = obj;

	atomic_store_explicit(&t->magic, TS_MAGIC, memory_order_relaxed);
	atomic_store_explicit(&t->gen, 0, memory_order_relaxed);
}

/* Poison, then keep the memory a while, so a late reader reads poison and not a new malloc. */
static void tobj_retire(struct tobj *p)
{
	struct torture_cpu *tc = &tcpu[platform_cpu_id()];

	atomic_store(&p->magic, POISON_MAGIC);
	atomic_store(&p->gen_check, 0);
	free(tc->quarantine[tc->q_next]);
	tc->quarantine[tc->q_next] = p;
	tc->q_next = (tc->q_next + 1) % QUARANTINE;
}

static void tobj_free_rcu(struct rcu_head *head)
{
	tobj_retire(container_of(head, struct tobj, rcu));
}

static void check_tobj(unsigned int cpu, struct tobj *p, unsigned long gen, const char *when)
{
	unsigned long magic = atomic_load(&p->magic);
	unsigned long g = atomic_load(&p->gen);
	unsigned long check = atomic_load(&p->gen_check);

	if (magic != LIVE_MAGIC || g != gen || check != ~gen)
		fail("reader %u saw freed memory %s: obj %p magic %#lx gen %lu check %#lx, expected gen %lu",
		     cpu, when, (void *)p, magic, g, check, gen);
}

static void check_ts_magic(unsigned int cpu, struct tsobj *p, const char *when)
{
	unsigned long magic = atomic_load(&p->magic);

	if (magic != TS_MAGIC)
		fail("reader %u saw freed memory %s: type-safe obj %p has magic %#lx (its page left the cache)",
		     cpu, when, (void *)p, magic);
}

/* One read-side section over the type-safe objects, with the re-validation the contract asks for. */
static void read_typesafe(unsigned int cpu)
{
	unsigned int i = host_rand() % NR_TS_SLOTS;
	struct tsobj *p = rcu_dereference(ts_slots[i]);
	unsigned long g1, where, g2;

	if (!p)
		return;
	check_ts_magic(cpu, p, "at lookup");
	g1 = atomic_load(&p->gen);
	where = atomic_load(&p->slot);
	platform_torture_delay();
	if (host_rand() % 8 == 0)
		sched_yield(); /* hold it while writers free and drain */
	g2 = atomic_load(&p->gen);
	check_ts_magic(cpu, p, "after a delay");
	if (g1 == 0 || g1 != g2 || rcu_dereference(ts_slots[i]) != p) {
		tcpu[cpu].ts_revalidations++; /* freed or reused under us: a real reader restarts */
		return;
	}
	if (where != i)
		fail("reader %u: type-safe obj %p gen %lu in slot %u says slot %lu", cpu, (void *)p,
		     g1, i, where);
	tcpu[cpu].ts_reads++;
}

static void *reader(void *arg)
{
	unsigned int cpu = (unsigned int)(uintptr_t)arg;
	struct tobj *held[HELD_PER_SECTION];
	unsigned long gens[HELD_PER_SECTION];
	unsigned long iter = 0;

	host_cpu_enter(cpu);
	rcu_online();
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		rcu_read_lock();
		for (int k = 0; k < HELD_PER_SECTION; k++) {
			held[k] = rcu_dereference(slots[host_rand() % NR_SLOTS]);
			if (!held[k])
				continue;
			gens[k] = atomic_load(&held[k]->gen);
			check_tobj(cpu, held[k], gens[k], "at lookup");
			platform_torture_delay();
		}
		read_typesafe(cpu);
		for (int k = 0; k < HELD_PER_SECTION; k++)
			if (held[k])
				check_tobj(cpu, held[k], gens[k], "at the end of its section");
		rcu_read_unlock();
		tcpu[cpu].reads++;
		if (++iter % 4 == 0)
			rcu_quiescent_state();
		if (host_rand() % 2048 == 0) { /* idle, or guest mode */
			rcu_offline();
			tcpu[cpu].offlines++;
			if (host_rand() & 1)
				usleep(host_rand() % 200);
			else
				sched_yield();
			rcu_online();
		}
	}
	rcu_offline();
	return NULL;
}

static struct tobj *tobj_new(void)
{
	struct tobj *p = malloc(sizeof(*p));
	unsigned long gen = atomic_fetch_add(&next_gen, 1);

	if (!p)
		fail("out of memory");
	atomic_init(&p->magic, LIVE_MAGIC);
	atomic_init(&p->gen, gen);
	atomic_init(&p->gen_check, ~gen);
	return p;
}

struct poll {
	unsigned long cookie;
	struct tobj *obj;
};

static void write_one(struct poll *polls, unsigned int *nr_polls)
{
	struct tobj *old = rcu_xchg_pointer(slots[host_rand() % NR_SLOTS], tobj_new());
	unsigned int how = host_rand() % 16;

	if (!old)
		return;
	if (how < 10) {
		call_rcu(&old->rcu, tobj_free_rcu);
	} else if (how == 10) {
		synchronize_rcu();
		tobj_retire(old);
	} else if (how == 11) {
		rcu_offline(); /* an offline caller: waits without reporting */
		synchronize_rcu();
		rcu_online();
		tobj_retire(old);
	} else if (*nr_polls < MAX_POLLS) {
		polls[(*nr_polls)++] = (struct poll){ .cookie = rcu_gp_start(), .obj = old };
	} else {
		call_rcu(&old->rcu, tobj_free_rcu);
	}
}

/* Cookies complete in order, so only the oldest needs asking. */
static void retire_polls(struct poll *polls, unsigned int *nr_polls)
{
	unsigned int done = 0;

	while (done < *nr_polls && rcu_gp_done(polls[done].cookie))
		tobj_retire(polls[done++].obj);
	for (unsigned int i = done; i < *nr_polls; i++)
		polls[i - done] = polls[i];
	*nr_polls -= done;
}

static void write_typesafe(void)
{
	unsigned int i = host_rand() % NR_TS_SLOTS;
	struct tsobj *n = typesafe_alloc(&ts_cache), *old;

	if (!n)
		fail("type-safe cache: out of pages");
	atomic_store(&n->gen, atomic_fetch_add(&next_gen, 1));
	atomic_store(&n->slot, i);
	old = rcu_xchg_pointer(ts_slots[i], n);
	if (old) {
		atomic_store(&old->gen, 0);
		typesafe_free(&ts_cache, old); /* reusable at once: no grace period */
		if (host_rand() % 4 == 0)
			typesafe_cache_drain_this_cpu(&ts_cache); /* its page may retire now */
	}
}

/* Empty whole pages, so slabs keep retiring under the readers. */
static void churn_typesafe(void)
{
	static _Thread_local struct tsobj *burst[256];
	unsigned int n = 2 * ts_cache.objs_per_slab;

	if (n > ARRAY_SIZE(burst))
		n = ARRAY_SIZE(burst);
	for (unsigned int k = 0; k < n; k++) {
		burst[k] = typesafe_alloc(&ts_cache);
		if (!burst[k])
			fail("type-safe cache: out of pages");
		atomic_store(&burst[k]->gen, 0);
	}
	for (unsigned int k = 0; k < n; k++)
		typesafe_free(&ts_cache, burst[k]);
	typesafe_cache_drain_this_cpu(&ts_cache);
}

static void *writer(void *arg)
{
	unsigned int cpu = (unsigned int)(uintptr_t)arg;
	struct poll polls[MAX_POLLS];
	unsigned int nr_polls = 0;
	unsigned long iter = 0;

	host_cpu_enter(cpu);
	rcu_online();
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		write_one(polls, &nr_polls);
		write_typesafe();
		retire_polls(polls, &nr_polls);
		tcpu[cpu].writes++;
		iter++;
		if (iter % 32 == 0)
			churn_typesafe();
		if (iter % 4096 == 0)
			rcu_barrier();
		if (host_rand() % 1024 == 0) {
			rcu_offline();
			tcpu[cpu].offlines++;
			sched_yield();
			rcu_online();
		}
		rcu_quiescent_state();
	}
	while (nr_polls) {
		retire_polls(polls, &nr_polls);
		rcu_quiescent_state();
	}
	typesafe_cache_drain_this_cpu(&ts_cache);
	rcu_offline();
	return NULL;
}

/* Main is the last CPU: empty the slots, run every callback, and account for everything. */
static void drain_and_account(void)
{
	struct typesafe_cache_stats ts;
	struct page_alloc_stats pa;
	struct rcu_stats st;

	rcu_online();
	for (unsigned int i = 0; i < NR_SLOTS; i++) {
		struct tobj *old = rcu_xchg_pointer(slots[i], NULL);

		if (old)
			call_rcu(&old->rcu, tobj_free_rcu);
	}
	for (unsigned int i = 0; i < NR_TS_SLOTS; i++) {
		struct tsobj *old = rcu_xchg_pointer(ts_slots[i], NULL);

		if (old)
			typesafe_free(&ts_cache, old);
	}
	typesafe_cache_drain_this_cpu(&ts_cache);
	rcu_barrier(); /* runs the offline CPUs' callbacks too */
	rcu_get_stats(&st);
	typesafe_cache_get_stats(&ts_cache, &ts);
	if (st.cb_queued != st.cb_invoked)
		fail("%lu callbacks queued but %lu invoked", (unsigned long)st.cb_queued,
		     (unsigned long)st.cb_invoked);
	if (ts.slabs_live || ts.pages_freed != ts.slabs_created)
		fail("type-safe cache: %lu slabs live, %lu created, %lu pages freed",
		     (unsigned long)ts.slabs_live, (unsigned long)ts.slabs_created,
		     (unsigned long)ts.pages_freed);
	rcu_offline();

	for (unsigned int cpu = 0; cpu < NR_CPUS; cpu++) {
		host_cpu_enter(cpu); /* each CPU's page cache, as that CPU */
		page_alloc_drain_this_cpu();
	}
	page_alloc_get_stats(&pa);
	if (pa.free_pages != pa.total_pages)
		fail("page allocator: %lu of %lu pages free at the end",
		     (unsigned long)pa.free_pages, (unsigned long)pa.total_pages);

	unsigned long reads = 0, ts_reads = 0, reval = 0, writes = 0, offlines = 0;

	for (unsigned int cpu = 0; cpu < NR_CPUS; cpu++) {
		reads += tcpu[cpu].reads;
		ts_reads += tcpu[cpu].ts_reads;
		reval += tcpu[cpu].ts_revalidations;
		writes += tcpu[cpu].writes;
		offlines += tcpu[cpu].offlines;
		for (unsigned int q = 0; q < QUARANTINE; q++)
			free(tcpu[cpu].quarantine[q]);
	}
	printf("torture_rcu: ok: %lu sections, %lu type-safe reads (%lu re-validated), %lu writes, "
	       "%lu offline passes, %lu grace periods (longest %lu cycles), %lu callbacks, "
	       "%lu overloads, %lu slabs retired\n",
	       reads, ts_reads, reval, writes, offlines, (unsigned long)st.gp_completed,
	       (unsigned long)st.gp_longest_cycles, (unsigned long)st.cb_invoked,
	       (unsigned long)st.cb_overloads, (unsigned long)ts.slabs_retired);
}

int main(int argc, char **argv)
{
	struct mem_range usable = { ARENA_PHYS, ARENA_PHYS + ARENA_BYTES };
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;
	pthread_t threads[NR_READERS + NR_WRITERS];
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	const char *why = NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("torture_rcu: %u readers, %u writers, %.1f s, seed %#lx\n", NR_READERS, NR_WRITERS,
	       seconds, (unsigned long)seed);
	host_rand_seed(seed);
	host_set_nr_cpus(NR_CPUS);
	host_arena_create(ARENA_BYTES, ARENA_PHYS);
	host_cpu_enter(MAIN_CPU);
	if (!page_alloc_init(&usable, 1, NULL, 0, &why))
		fail("page_alloc_init: %s", why);
	rcu_init(NR_CPUS);
	typesafe_cache_init(&ts_cache, "torture", sizeof(struct tsobj), ts_ctor);

	for (uintptr_t i = 0; i < NR_READERS + NR_WRITERS; i++)
		pthread_create(&threads[i], NULL, i < NR_READERS ? reader : writer, (void *)i);
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&stop, true);
	for (unsigned int i = 0; i < NR_READERS + NR_WRITERS; i++)
		pthread_join(threads[i], NULL);
	drain_and_account();
	host_arena_destroy();
	return 0;
}
