// SPDX-License-Identifier: MIT
/*
 * The shadow MMU against the guest's own tables, at random. Two address
 * spaces share a skeleton of guest tables (some tables have two parents);
 * every step either makes an access, with random controls, and checks it
 * against the reference (ts_reference(): a walk of the guest's tables that
 * writes nothing), or rewrites a guest entry the way the guest would
 * (a supervisor write through a window that maps the tables, so the
 * zap-and-unprotect path runs), or invalidates, zaps, write-protects or
 * ages. The bookkeeping is checked every few hundred steps.
 *
 * Then a threaded run: two vCPUs fault while a third CPU write-protects,
 * ages and zaps through the lockless rmap, for TSan.
 */
#define _GNU_SOURCE
#include "tests/host/test_shadow.h"

#include <pthread.h>
#include <time.h>

#define NR_STEPS 30000
#define WINDOW_GVA 0x7f8000000000ULL /* PML4 slot 255: a 2 MiB page over gfns 0..511 */
#define RESERVED_BIT (1ULL << 50)

static gfn_t cr3s[2], pdpts[2], pds[4], pts[8];
static unsigned int frame_span = 768; /* leaves map frames 256 .. 256 + frame_span - 1 */

/* A random guest entry for slot index of a skeleton table of level. */
static uint64_t random_entry(unsigned int level)
{
	uint64_t r = host_rand(), e;
	uint64_t rights = X86_PTE_P | (r & 1 ? X86_PTE_RW : 0) | (r & 2 ? X86_PTE_US : 0) |
			  ((r & 28) == 0 ? X86_PTE_NX : 0) | (r & 32 ? X86_PTE_A : 0);

	r >>= 8;
	if (r % 20 == 0)
		return 0;
	if (level == 1) {
		gfn_t frame = r % 16 == 1 ? 1 + (r >> 8) % 40 : 256 + (r >> 8) % frame_span;

		e = (frame << PAGE_SHIFT) | rights | ((r >> 20) & 1 ? X86_PTE_D : 0) |
		    ((r >> 21) & 1 ? X86_PTE_PAT_4K : 0);
	} else if (level == 2 && r % 7 == 1) {
		e = ((r >> 8) & 1 ? 512ULL : 0) << PAGE_SHIFT | rights | X86_PTE_PS |
		    ((r >> 20) & 1 ? X86_PTE_D : 0);
	} else if (level == 3 && r % 13 == 1) {
		e = (TS_ALIAS_BASE << PAGE_SHIFT) | rights | X86_PTE_PS;
	} else {
		gfn_t child = level == 4 ? pdpts[(r >> 8) % 2] : level == 3 ? pds[(r >> 8) % 4]
								       : pts[(r >> 8) % 8];

		e = (child << PAGE_SHIFT) | rights;
	}
	if (r % 29 == 3)
		e |= RESERVED_BIT;
	return e;
}

/* Which skeleton table and slot a random rewrite hits (never the window's path). */
static void random_slot(gfn_t *table, unsigned int *index, unsigned int *level)
{
	uint64_t r = host_rand();

	switch (r % 4) {
	case 0:
		*table = cr3s[(r >> 8) % 2], *index = (r >> 9) % 2, *level = 4;
		break;
	case 1:
		*table = pdpts[(r >> 8) % 2], *index = (r >> 9) % 2, *level = 3;
		break;
	case 2:
		*table = pds[(r >> 8) % 4], *index = (r >> 10) % 4, *level = 2;
		break;
	default:
		*table = pts[(r >> 8) % 8], *index = (r >> 11) % 8, *level = 1;
		break;
	}
}

static void build_skeleton(void)
{
	for (unsigned int i = 0; i < 2; i++)
		cr3s[i] = ts_alloc_table();
	for (unsigned int i = 0; i < 2; i++)
		pdpts[i] = ts_alloc_table();
	for (unsigned int i = 0; i < 4; i++)
		pds[i] = ts_alloc_table();
	for (unsigned int i = 0; i < 8; i++)
		pts[i] = ts_alloc_table();
	for (unsigned int s = 0; s < 2; s++) {
		for (unsigned int i = 0; i < 2; i++)
			atomic_store(ts_gpte(cr3s[s], i), (pdpts[(s + i) % 2] << PAGE_SHIFT) | TS_TABLE_BITS);
		ts_map(cr3s[s], WINDOW_GVA, 2, 0, X86_PTE_RW | X86_PTE_D);
	}
	for (unsigned int i = 0; i < 2; i++)
		for (unsigned int k = 0; k < 2; k++)
			atomic_store(ts_gpte(pdpts[i], k), (pds[i * 2 + k] << PAGE_SHIFT) | TS_TABLE_BITS);
	for (unsigned int i = 0; i < 4; i++)
		for (unsigned int k = 0; k < 4; k++)
			atomic_store(ts_gpte(pds[i], k), (pts[(i * 4 + k) % 8] << PAGE_SHIFT) | TS_TABLE_BITS);
	for (unsigned int i = 0; i < 8; i++)
		for (unsigned int k = 0; k < 8; k++)
			atomic_store(ts_gpte(pts[i], k), random_entry(1));
}

static uint64_t random_gva(void)
{
	uint64_t r = host_rand();

	return ((r & 1) << 39) | (((r >> 1) & 1) << 30) | (((r >> 2) % 4) << 21) |
	       (((r >> 4) % 8) << 12) | ((r >> 16) & 0xff8);
}

static struct {
	unsigned long accesses, allowed, injected, emulated, edits, edits_emulated;
} counts;

/* A write the caller emulates: store, then zap what was written (as the backend must). */
static void emulate_store(struct shadow_mmu *m, uint64_t gpa, uint64_t value)
{
	atomic_store(&ts_guest[gpa / 8], value);
	shadow_mmu_zap_range(m, gpa >> PAGE_SHIFT, (gpa >> PAGE_SHIFT) + 1);
}

/* The guest rewrites an entry: a supervisor write through the window. */
static void guest_edit(struct shadow_mmu *m, struct shadow_vcpu *sv, const struct guest_paging *cur)
{
	struct guest_paging gp = *cur;
	unsigned int index, level;
	struct ts_outcome o;
	gfn_t table;
	uint64_t gpa;

	random_slot(&table, &index, &level);
	gpa = table * PAGE_SIZE + index * 8;
	gp.cpl = 0;
	o = ts_access(m, sv, &gp, WINDOW_GVA + gpa, PFERR_WRITE);
	counts.edits++;
	if (o.error == TS_ALLOWED) {
		atomic_store(&ts_guest[gpa / 8], random_entry(level));
	} else if (o.last == SHADOW_EMULATE) {
		counts.edits_emulated++;
		emulate_store(m, gpa, random_entry(level));
	} else {
		fprintf(stderr, "  a write through the window to %#llx failed: error %#x, last %d\n",
			(unsigned long long)gpa, o.error, o.last);
		check_current_failed = 1;
	}
}

static void check_access(struct shadow_mmu *m, struct shadow_vcpu *sv, const struct guest_paging *gp)
{
	static const uint32_t kinds[] = { 0, PFERR_WRITE, PFERR_FETCH };
	uint32_t access = kinds[host_rand() % 3] | (gp->cpl == 3 && host_rand() % 8 ? PFERR_USER : 0);
	uint64_t gva = random_gva();
	gfn_t gfn = 0;
	uint32_t want = ts_reference(gp, gva, access, &gfn);
	struct ts_outcome o = ts_access(m, sv, gp, gva, access);
	struct mmu_pfn_info info = { 0 };

	counts.accesses++;
	if (o.last == SHADOW_EMULATE && want == TS_ALLOWED) {
		counts.emulated++; /* a write to a table on its own path, or WP=0 with SMAP */
		return;
	}
	if (o.error != want || (want == TS_ALLOWED) != (o.last == SHADOW_FIXED ||
							 o.last == SHADOW_RETRY)) {
		fprintf(stderr, "  gva %#llx access %#x cr3 %#llx wp%d nx%d smep%d smap%d ac%d cpl%u: "
			"want %#x, got %#x (last %d, %u faults)\n", (unsigned long long)gva, access,
			(unsigned long long)gp->cr3, gp->wp, gp->nx, gp->smep, gp->smap, gp->ac, gp->cpl,
			want, o.error, o.last, o.faults);
		check_current_failed = 1;
		return;
	}
	if (want != TS_ALLOWED) {
		counts.injected++;
		return;
	}
	counts.allowed++;
	ts_gfn_to_pfn(NULL, gfn, &info);
	CHECK_EQ_U(o.pfn, info.pfn);
	/* The CPU's A/D bits are in the guest's entries: a second dry walk finds them set. */
	{
		struct guest_walk w;

		guest_walk(&ts_dry_mem, gp, TS_MAXPHYADDR, gva, access, &w);
		for (unsigned int level = 4; level >= w.level; level--) {
			uint64_t now = 0;

			ts_dry_read(NULL, w.pte_gpa[level], &now);
			CHECK(now & X86_PTE_A);
			if (level == w.level && (access & PFERR_WRITE))
				CHECK(now & X86_PTE_D);
		}
	}
}

static void random_run(const struct shadow_mmu_config *cfg, unsigned int nr_steps)
{
	struct guest_paging gp;
	struct shadow_mmu *m;
	struct shadow_vcpu *sv;
	uint64_t young[16];

	ts_guest_create();
	build_skeleton();
	m = ts_create(cfg);
	sv = shadow_vcpu_create(m);
	gp = ts_paging(cr3s[0]);
	shadow_mmu_load_cr3(m, sv, &gp);
	memset(&counts, 0, sizeof(counts));
	for (unsigned int step = 0; step < nr_steps && !check_current_failed; step++) {
		uint64_t r = host_rand() % 1000;

		if (r < 40) {
			/* New controls, maybe another CR3: what a MOV CR3/CR0/CR4 or WRMSR does. */
			uint64_t c = host_rand();

			gp.cr3 = cr3s[c & 1] << PAGE_SHIFT;
			gp.wp = c & 2;
			gp.nx = c & 4;
			gp.smep = (c & 24) == 8;
			gp.smap = (c & 96) == 32;
			shadow_mmu_load_cr3(m, sv, &gp);
		} else if (r < 80) {
			gp.cpl = host_rand() & 1 ? 3 : 0; /* no exit: neither needs a new root */
			gp.ac = host_rand() & 1;
		} else if (r < 180) {
			guest_edit(m, sv, &gp);
		} else if (r < 190) {
			shadow_mmu_invlpg(m, sv, random_gva());
		} else if (r < 195) {
			gfn_t g = host_rand() % TS_GUEST_PAGES;

			shadow_mmu_zap_range(m, g, g + 1 + host_rand() % 64);
		} else if (r < 205) {
			shadow_mmu_write_protect_range(m, 0, TS_GUEST_PAGES);
		} else if (r < 210) {
			shadow_mmu_test_and_clear_young(m, 256, 256 + 1024, young);
		} else {
			check_access(m, sv, &gp);
		}
		rcu_quiescent_state(); /* a pass of the vCPU's run loop */
		if (step % 500 == 0)
			ts_check_invariants(m);
	}
	printf("        %lu accesses: %lu allowed, %lu #PF injected, %lu emulated; %lu guest edits "
	       "(%lu emulated); %lu faults, %lu tables unprotected, %lu roots, %lu flushes\n",
	       counts.accesses, counts.allowed, counts.injected, counts.emulated, counts.edits,
	       counts.edits_emulated, TS_STAT(m, faults), TS_XSTAT(m, gfns_unprotected),
	       TS_XSTAT(m, roots_created), atomic_load(&ts_flushes));
	CHECK(counts.allowed > counts.accesses / 10 && counts.injected > counts.accesses / 10);
	CHECK(TS_XSTAT(m, gfns_unprotected) > nr_steps / 300);
	ts_destroy(m, &sv, 1);
}

static void test_random_against_the_guest_tables(void)
{
	struct shadow_mmu_config cfg = { 0 };

	random_run(&cfg, NR_STEPS);
	/* The "before" of every design choice: exclusive lock, eager flush, locked twins. */
	cfg = (struct shadow_mmu_config){ .policy.lock_exclusive = true, .policy.flush_eager = true,
					  .policy.wp_locked = true, .policy.age_locked = true };
	random_run(&cfg, NR_STEPS / 3);
}

/* --- threaded ------------------------------------------------------------------------ */

#define NR_VCPUS 2
#define MAIN_CPU NR_VCPUS
static struct shadow_mmu *tm;
static struct shadow_vcpu *tsv[NR_VCPUS];
static atomic_bool tstop;
static atomic_ulong tmismatch, taccesses;

static void *vcpu_thread(void *arg)
{
	unsigned int cpu = (unsigned int)(uintptr_t)arg;
	struct guest_paging gp = ts_paging(cr3s[0]);

	host_cpu_enter(cpu);
	rcu_online();
	shadow_mmu_load_cr3(tm, tsv[cpu], &gp);
	while (!atomic_load(&tstop)) {
		uint32_t access = host_rand() & 1 ? PFERR_WRITE : 0;
		uint64_t gva = random_gva();
		uint32_t want = ts_reference(&gp, gva, access, NULL);
		struct ts_outcome o = ts_access(tm, tsv[cpu], &gp, gva, access);

		if (o.error != want && o.last != SHADOW_EMULATE)
			atomic_fetch_add(&tmismatch, 1);
		if (host_rand() % 64 == 0)
			shadow_mmu_invlpg(tm, tsv[cpu], random_gva());
		atomic_fetch_add(&taccesses, 1);
		rcu_quiescent_state();
	}
	rmap_desc_cache_drain_this_cpu();
	rcu_offline();
	return NULL;
}

static void test_threaded_faults_and_lockless_walkers(void)
{
	struct shadow_mmu_config cfg = { 0 };
	pthread_t threads[NR_VCPUS];
	unsigned long rounds = 0;
	struct timespec start, now;
	uint64_t young[16];

	ts_guest_create();
	frame_span = 4; /* long rmap chains: several descriptors, recycled under the walkers */
	build_skeleton();
	frame_span = 768;
	tm = ts_create(&cfg);
	atomic_store(&tstop, false);
	for (unsigned int i = 0; i < NR_VCPUS; i++)
		tsv[i] = shadow_vcpu_create(tm);
	rcu_offline(); /* cpu 0 is a vCPU's now */
	host_cpu_enter(MAIN_CPU);
	rcu_online();
	for (unsigned int i = 0; i < NR_VCPUS; i++)
		pthread_create(&threads[i], NULL, vcpu_thread, (void *)(uintptr_t)i);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		gfn_t g = 256 + host_rand() % 768;

		shadow_mmu_write_protect_range(tm, 256, 1024);
		shadow_mmu_test_and_clear_young(tm, 256, 256 + 1024, young);
		if (rounds % 4 == 0)
			shadow_mmu_zap_range(tm, g, g + 16);
		rcu_quiescent_state();
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - start.tv_sec) * 1000000000L + now.tv_nsec - start.tv_nsec < 400000000L);
	atomic_store(&tstop, true);
	for (unsigned int i = 0; i < NR_VCPUS; i++)
		pthread_join(threads[i], NULL);
	printf("        %lu accesses by 2 vCPUs beside %lu write-protect/age rounds; %lu lockless "
	       "rmap walks, %lu restarts, %lu fallbacks\n", atomic_load(&taccesses), rounds,
	       TS_XSTAT(tm, rmap_walks), TS_XSTAT(tm, rmap_restarts), TS_XSTAT(tm, rmap_fallbacks));
	CHECK_EQ_U(atomic_load(&tmismatch), 0);
	CHECK(atomic_load(&taccesses) > 100);
	rmap_desc_cache_drain_this_cpu();
	rcu_offline();
	host_cpu_enter(0);
	rcu_online();
	ts_destroy(tm, tsv, NR_VCPUS);
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)time(NULL);

	host_rand_seed(seed);
	printf("test_shadow_random: seed %llu\n", (unsigned long long)seed);
	ts_setup(NR_VCPUS + 1);
	RUN_TEST(test_random_against_the_guest_tables);
	RUN_TEST(test_threaded_faults_and_lockless_walkers);
	return check_summary("test_shadow_random");
}
