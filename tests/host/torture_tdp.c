// SPDX-License-Identifier: MIT
/*
 * TDP MMU torture. Two vCPUs (torture_tdp_vcpu.c) walk the tables like the
 * hardware and fault like a VM exit, a third thread faults without
 * walking, and the others zap, write-protect and clear dirty bits, split
 * and collapse, and age, all at once. The run is cut into epochs; each
 * epoch builds an MMU with a random configuration (format, mmu_lock mode,
 * flush batching, wp and split modes, forced yields, guest mode online or
 * offline in RCU), runs, then stops everything and checks the tables:
 *
 *   torture_tdp: FAIL: vCPU 1 read a freed table ...           (use after free)
 *   torture_tdp: FAIL: vCPU 0: stale translation ...           (missing flush)
 *   torture_tdp: FAIL: vCPU 0 wrote gfn ... write-protect ...  (wp missed an SPTE)
 *   torture_tdp: FAIL: aging reported young gfn ... old        (A bit lost)
 *   torture_tdp: FAIL: ... maps the wrong frame ...            (bad leaf)
 *   torture_tdp: FAIL: tables leaked / pages leaked ...        (accounting)
 *   tdp: a frozen table's entry ... changed after the freeze   (a lockless store lost)
 *
 * Usage: torture_tdp [seconds] [seed]. Exit status 0 only if nothing failed.
 */
#define _GNU_SOURCE
#include "tests/host/torture_tdp.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

enum { CPU_FAULTER = TT_NR_VCPUS, CPU_ZAPPER, CPU_WP, CPU_SPLITTER, CPU_AGER, CPU_MAIN, NR_CPUS };
#define NR_THREADS (NR_CPUS - 1)

#define ARENA_BYTES (64UL << 20)
#define ARENA_PHYS 0x100000000UL

struct chunk_seq chunk_seq[TT_NR_CHUNKS];
atomic_uint age_gen;
atomic_ulong touch[TT_GFNS];
struct torture_vm vm;

static atomic_bool epoch_stop, all_done;
static pthread_barrier_t epoch_start, epoch_end;
static uint64_t young_bits[2][TT_GFNS / 64];
static struct {
	atomic_ulong zaps, wps, clears, splits, collapses, aging_rounds, touches_checked;
	atomic_ulong faults, marked_dirty;
} totals;

_Noreturn void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "torture_tdp: FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	_exit(1);
}

static bool tt_gfn_to_pfn(void *owner, gfn_t gfn, struct mmu_pfn_info *out)
{
	(void)owner;
	if (gfn >= TT_GFNS)
		return false;
	*out = tt_slot_of(gfn);
	return true;
}

static void tt_mark_dirty_range(void *owner, gfn_t gfn, uint64_t nr)
{
	(void)owner;
	if (gfn + nr > TT_GFNS)
		fail("mark_dirty_range(%#llx, %llu) outside guest memory", (unsigned long long)gfn,
		     (unsigned long long)nr);
	atomic_fetch_add_explicit(&totals.marked_dirty, nr, memory_order_relaxed);
}

static const struct mmu_ops tt_ops = {
	.gfn_to_pfn = tt_gfn_to_pfn,
	.mark_dirty_range = tt_mark_dirty_range,
};

/* A range of whole chunks: one chunk mostly (often where a vCPU works), a few, or a region. */
static void pick_chunks(uint64_t *c0, uint64_t *c1)
{
	unsigned int r = host_rand() % 32;

	if (r == 0) {
		*c0 = host_rand() % 2 ? 0 : TT_REGION_B / TT_CHUNK;
		*c1 = *c0 + TT_REGION_B / TT_CHUNK;
		return;
	}
	if (r < 16)
		*c0 = atomic_load_explicit(&vm.vcpus[r % TT_NR_VCPUS].hot_chunk, memory_order_relaxed);
	else
		*c0 = host_rand() % TT_NR_CHUNKS;
	*c1 = *c0 + (r < 24 ? 1 : 1 + host_rand() % 8);
	if (*c1 > TT_NR_CHUNKS)
		*c1 = TT_NR_CHUNKS;
}

/*
 * Bump a counter over [c0, c1), and for lossy_* over what a leaf that
 * overlaps it may cover: all of region B (1 GiB leaves) if it is touched.
 */
static void bump(uint64_t c0, uint64_t c1, size_t field, bool lossy)
{
	uint64_t b0 = TT_REGION_B / TT_CHUNK;

	for (uint64_t c = c0; c < c1; c++)
		atomic_fetch_add((atomic_uint *)((char *)&chunk_seq[c] + field), 1);
	if (!lossy || c1 <= b0)
		return;
	for (uint64_t c = b0; c < TT_NR_CHUNKS; c++)
		if (c < c0 || c >= c1)
			atomic_fetch_add((atomic_uint *)((char *)&chunk_seq[c] + field), 1);
}
#define BUMP(c0, c1, field, lossy) bump(c0, c1, offsetof(struct chunk_seq, field), lossy)

static void zap_one(void)
{
	uint64_t c0, c1;

	pick_chunks(&c0, &c1);
	BUMP(c0, c1, zap_begin, false);
	BUMP(c0, c1, lossy_begin, true);
	tdp_mmu_zap_range(vm.mmu, c0 * TT_CHUNK, c1 * TT_CHUNK);
	BUMP(c0, c1, zap_end, false);
	BUMP(c0, c1, lossy_end, true);
	atomic_fetch_add(&totals.zaps, 1);
}

/* Write-protect (mostly the logged chunks) or harvest D bits. */
static void wp_one(void)
{
	uint64_t c0, c1;

	pick_chunks(&c0, &c1);
	if (host_rand() % 4 == 0) {
		tdp_mmu_clear_dirty_range(vm.mmu, c0 * TT_CHUNK, c1 * TT_CHUNK);
		atomic_fetch_add(&totals.clears, 1);
		return;
	}
	BUMP(c0, c1, wp_begin, false);
	BUMP(c0, c1, lossy_begin, true);
	tdp_mmu_write_protect_range(vm.mmu, c0 * TT_CHUNK, c1 * TT_CHUNK);
	BUMP(c0, c1, wp_end, false);
	BUMP(c0, c1, lossy_end, true);
	atomic_fetch_add(&totals.wps, 1);
}

static void split_one(struct tdp_page_cache *cache)
{
	uint64_t c0, c1;

	pick_chunks(&c0, &c1);
	if (host_rand() % 2) {
		tdp_mmu_split_huge_range(vm.mmu, cache, c0 * TT_CHUNK, c1 * TT_CHUNK);
		atomic_fetch_add(&totals.splits, 1);
	} else {
		tdp_mmu_collapse_range(vm.mmu, c0 * TT_CHUNK, c1 * TT_CHUNK);
		atomic_fetch_add(&totals.collapses, 1);
	}
}

static void fault_one(struct tdp_page_cache *cache)
{
	gfn_t gfn = host_rand() % TT_GFNS;
	bool write = tt_slot_of(gfn).writable && host_rand() % 2;
	enum tdp_fault_result r = tdp_mmu_page_fault(vm.mmu, cache, gfn << PAGE_SHIFT,
						     write ? TDP_ACC_WRITE : TDP_ACC_READ);

	if (r != TDP_FAULT_FIXED && r != TDP_FAULT_RETRY)
		fail("faulter: fault on gfn %#llx returned %d", (unsigned long long)gfn, r);
	atomic_fetch_add_explicit(&totals.faults, 1, memory_order_relaxed);
}

static bool young_bit(const uint64_t *bits, gfn_t gfn)
{
	return bits[gfn / 64] & (1ULL << (gfn % 64));
}

/*
 * One aging round r over everything. A gfn touched with generation r - 1
 * had its A bit set after round r - 1 began and before round r began, so
 * round r - 1 or round r saw it young, unless a zap or write-protect that
 * began since the touch took its leaf.
 */
static void age_one(unsigned int round)
{
	uint64_t *now = young_bits[round % 2], *prev = young_bits[(round + 1) % 2];
	bool has_a = vm.mmu->fmt.accessed;

	atomic_store(&age_gen, round);
	tdp_mmu_test_and_clear_young(vm.mmu, 0, TT_GFNS, now);
	atomic_fetch_add(&totals.aging_rounds, 1);
	if (!has_a)
		return;
	for (gfn_t g = 0; g < TT_GFNS; g++) {
		uint64_t t = atomic_load_explicit(&touch[g], memory_order_relaxed);

		if (!t || t >> 32 != round - 1)
			continue;
		atomic_fetch_add_explicit(&totals.touches_checked, 1, memory_order_relaxed);
		if (young_bit(prev, g) || young_bit(now, g))
			continue;
		if ((uint32_t)t != atomic_load(&chunk_seq[chunk_of(g)].lossy_begin))
			continue; /* a zap or write-protect may have taken the leaf */
		fail("aging reported young gfn %#llx old: touched after round %u began, young in "
		     "neither round %u nor round %u", (unsigned long long)g, round - 1, round - 1,
		     round);
	}
}

static void *thread_main(void *arg)
{
	unsigned int cpu = (unsigned int)(uintptr_t)arg;
	struct tdp_page_cache cache = { 0 };

	host_cpu_enter(cpu);
	for (;;) {
		unsigned int round = 1;

		pthread_barrier_wait(&epoch_start);
		if (atomic_load(&all_done))
			break;
		rcu_online();
		if (cpu < TT_NR_VCPUS)
			vcpu_run(&vm.vcpus[cpu], &epoch_stop);
		while (!atomic_load_explicit(&epoch_stop, memory_order_relaxed)) {
			if (cpu == CPU_FAULTER)
				fault_one(&cache);
			else if (cpu == CPU_ZAPPER)
				zap_one();
			else if (cpu == CPU_WP)
				wp_one();
			else if (cpu == CPU_SPLITTER)
				split_one(&cache);
			else if (cpu == CPU_AGER)
				age_one(round++);
			rcu_quiescent_state();
			if (cpu != CPU_FAULTER && host_rand() % 4 == 0)
				usleep(host_rand() % 500);
		}
		tdp_page_cache_release(&cache);
		rcu_offline();
		pthread_barrier_wait(&epoch_end);
	}
	return NULL;
}

/* main's own generator: host_cpu_enter() reseeds host_rand(), and main enters every CPU. */
static uint64_t main_rand_state;

static uint64_t main_rand(void)
{
	main_rand_state ^= main_rand_state << 13;
	main_rand_state ^= main_rand_state >> 7;
	main_rand_state ^= main_rand_state << 17;
	return main_rand_state;
}

static struct tdp_mmu_config random_config(unsigned int *yield_every)
{
	unsigned int f = main_rand() % 3;
	struct tdp_mmu_config cfg = {
		.format = f == 2 ? TDP_FORMAT_NPT : TDP_FORMAT_EPT,
		.ept_ad_bits = f == 0,
		.ept_memtype = EPT_MEMTYPE_WB,
		.max_level = PG_LEVEL_1G,
		.policy.lock_exclusive = main_rand() % 4 == 0,
		.policy.flush_eager = main_rand() % 4 == 0,
		.policy.wp_locked = main_rand() % 2,
		.split_lazy = main_rand() % 2,
	};

	*yield_every = main_rand() % 2 ? 0 : 1 + main_rand() % 200;
	vm.offline_in_guest = main_rand() % 2;
	return cfg;
}

/* Threads parked: every reachable entry is a right leaf or a table, and nothing leaked. */
static void check_epoch(uint64_t free_at_start)
{
	const struct mmu_stats *st;
	struct page_alloc_stats pa;
	struct tdp_iter iter;
	uint64_t reachable = 1, live;

	rcu_barrier(); /* every table unlinked so far is freed now */
	rcu_read_lock();
	for_each_tdp_pte(iter, vm.mmu->root_pt, 0, TDP_GFN_END) {
		uint64_t s = iter.old_spte;

		if (!is_shadow_present_spte(s)) {
			if (s)
				fail("a live table holds %#llx at level %u, gfn %#llx", (unsigned long long)s,
				     iter.level, (unsigned long long)iter.gfn);
			continue;
		}
		if (!is_last_spte(s, iter.level)) {
			reachable++;
			continue;
		}
		struct mmu_pfn_info slot = tt_slot_of(iter.gfn);

		if (iter.gfn >= TT_GFNS || spte_to_pfn(s) != slot.pfn || iter.level > slot.max_level ||
		    (is_writable_spte(s) && !slot.writable))
			fail("the leaf of gfn %#llx maps the wrong frame or rights: %#llx at level %u",
			     (unsigned long long)iter.gfn, (unsigned long long)s, iter.level);
	}
	rcu_read_unlock();
	st = tdp_mmu_stats(vm.mmu);
	live = atomic_load(&st->tables_allocated) - atomic_load(&st->tables_freed);
	if (live != reachable)
		fail("tables leaked: %llu allocated - %llu freed = %llu, but %llu reachable",
		     (unsigned long long)atomic_load(&st->tables_allocated),
		     (unsigned long long)atomic_load(&st->tables_freed), (unsigned long long)live,
		     (unsigned long long)reachable);
	tdp_mmu_destroy(vm.mmu);
	vm.mmu = NULL;
	rcu_barrier();
	for (unsigned int cpu = 0; cpu < NR_CPUS; cpu++) {
		host_cpu_enter(cpu); /* each CPU's page cache, as that CPU (its thread is parked) */
		page_alloc_drain_this_cpu();
	}
	host_cpu_enter(CPU_MAIN);
	page_alloc_get_stats(&pa);
	if (pa.free_pages != free_at_start)
		fail("pages leaked: %llu free after destroy, %llu at the start",
		     (unsigned long long)pa.free_pages, (unsigned long long)free_at_start);
}

int main(int argc, char **argv)
{
	struct mem_range usable = { ARENA_PHYS, ARENA_PHYS + ARENA_BYTES };
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0)
				 : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	unsigned int epochs = seconds < 1.0 ? 2 : (unsigned int)(seconds / 0.5);
	pthread_t threads[NR_THREADS];
	struct page_alloc_stats pa;
	unsigned long accesses = 0, hits = 0, psc = 0, walks = 0, vfaults = 0, kicks = 0;
	unsigned long flushes = 0, freed = 0, fast = 0, slow = 0;
	const char *why = NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("torture_tdp: %u vCPUs + faulter, zapper, wp, splitter, ager; %.1f s in %u epochs, "
	       "seed %#llx\n", TT_NR_VCPUS, seconds, epochs, (unsigned long long)seed);
	host_rand_seed(seed);
	main_rand_state = seed | 1;
	host_set_nr_cpus(NR_CPUS);
	host_arena_create(ARENA_BYTES, ARENA_PHYS);
	host_cpu_enter(CPU_MAIN);
	if (!page_alloc_init(&usable, 1, NULL, 0, &why))
		fail("page_alloc_init: %s", why);
	rcu_init(NR_CPUS);
	host_set_flush_hook(vcpu_flush_hook);
	page_alloc_get_stats(&pa);
	pthread_barrier_init(&epoch_start, NULL, NR_THREADS + 1);
	pthread_barrier_init(&epoch_end, NULL, NR_THREADS + 1);
	for (unsigned int i = 0; i < TT_NR_VCPUS; i++)
		vm.vcpus[i] = (struct vcpu){ .id = i, .cpu = i };
	for (uintptr_t i = 0; i < NR_THREADS; i++)
		pthread_create(&threads[i], NULL, thread_main, (void *)i);

	for (unsigned int e = 0; e < epochs; e++) {
		unsigned int yield_every;
		struct tdp_mmu_config cfg = random_config(&yield_every);

		vm.mmu = tdp_mmu_create(&cfg, &tt_ops, &vm);
		if (!vm.mmu)
			fail("tdp_mmu_create");
		tdp_mmu_debug_yield_every(vm.mmu, yield_every);
		atomic_store(&age_gen, 0);
		for (gfn_t g = 0; g < TT_GFNS; g++)
			atomic_store_explicit(&touch[g], 0, memory_order_relaxed);
		printf("torture_tdp: epoch %u: %s%s, mmu_lock=%s, flush=%s, wp=%s, split=%s, "
		       "yield every %u, guest mode %s\n", e,
		       cfg.format == TDP_FORMAT_NPT ? "npt" : "ept", cfg.format == TDP_FORMAT_EPT &&
		       !cfg.ept_ad_bits ? " without A/D" : "",
		       cfg.policy.lock_exclusive ? "exclusive" : "shared", cfg.policy.flush_eager ? "eager" : "batched",
		       cfg.policy.wp_locked ? "locked" : "lockless", cfg.split_lazy ? "lazy" : "eager",
		       yield_every, vm.offline_in_guest ? "RCU-offline" : "RCU-online");
		atomic_store(&epoch_stop, false);
		pthread_barrier_wait(&epoch_start);
		usleep((useconds_t)(seconds / epochs * 1e6));
		atomic_store(&epoch_stop, true);
		pthread_barrier_wait(&epoch_end);
		rcu_online();
		freed += atomic_load(&tdp_mmu_stats(vm.mmu)->tables_freed);
		flushes += atomic_load(&tdp_mmu_stats(vm.mmu)->flushes);
		fast += atomic_load(&tdp_mmu_stats(vm.mmu)->fast_faults);
		slow += atomic_load(&tdp_mmu_stats(vm.mmu)->faults_fixed);
		check_epoch(pa.free_pages);
		rcu_offline();
	}
	atomic_store(&all_done, true);
	pthread_barrier_wait(&epoch_start);
	for (unsigned int i = 0; i < NR_THREADS; i++)
		pthread_join(threads[i], NULL);
	for (unsigned int i = 0; i < TT_NR_VCPUS; i++) {
		accesses += vm.vcpus[i].accesses;
		hits += vm.vcpus[i].tlb_hits;
		psc += vm.vcpus[i].psc_hits;
		walks += vm.vcpus[i].walks;
		vfaults += vm.vcpus[i].faults;
		kicks += vm.vcpus[i].flushes_taken;
	}
	printf("torture_tdp: ok: %lu vCPU accesses (%lu TLB hits, %lu via the paging-structure "
	       "cache, %lu walks), %lu vCPU faults + %lu others, %lu flushes (%lu taken by vCPUs), "
	       "%lu zaps, %lu write-protects, %lu dirty harvests, %lu splits, %lu collapses, "
	       "%lu aging rounds (%lu touches checked), %lu tables freed, %lu dirty pages logged; "
	       "faults fixed: %lu by the fast path, %lu under mmu_lock\n",
	       accesses, hits, psc, walks, vfaults, atomic_load(&totals.faults), flushes, kicks,
	       atomic_load(&totals.zaps), atomic_load(&totals.wps), atomic_load(&totals.clears),
	       atomic_load(&totals.splits), atomic_load(&totals.collapses),
	       atomic_load(&totals.aging_rounds), atomic_load(&totals.touches_checked), freed,
	       atomic_load(&totals.marked_dirty), fast, slow);
	host_arena_destroy();
	return 0;
}
