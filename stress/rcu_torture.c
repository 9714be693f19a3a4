// SPDX-License-Identifier: MIT
/*
 * scenario=rcu_torture: every pCPU reads and replaces objects behind RCU
 * pointers for duration_ms. Freed objects are poisoned before their page
 * goes back to the allocator, and a reader re-checks its object after a
 * delay: seeing poison, or a different generation in the same object, means
 * something was freed (or reused) under a reader. plant=rcu_early_free frees
 * without waiting for a grace period, and the check must then fail.
 */
#include "arch/x86/console.h"
#include "arch/x86/panic.h"
#include "arch/x86/percpu.h"
#include "arch/x86/smp.h"
#include "arch/x86/tsc.h"
#include "boot/options.h"
#include "mm/page_alloc.h"
#include "mm/rcu/rcu.h"
#include "stress/result.h"
#include "stress/scenarios.h"

#define NR_SLOTS 32
#define PAYLOAD_WORDS 32
#define OBJ_LIVE 0x4c4956454c495645ull /* "EVILEVIL" */
#define OBJ_POISON 0x6b6b6b6b6b6b6b6bull
#define OPS_PER_QS 16
#define WORK_SLACK_MS 5000

struct torture_obj {
	struct rcu_head rcu;
	uint64_t magic; /* OBJ_LIVE while reachable or in a grace period */
	uint64_t gen;   /* unique per allocation */
	uint64_t payload[PAYLOAD_WORDS]; /* gen * (i + 1) */
};

static struct torture_obj *__rcu slots[NR_SLOTS];
static atomic_ulong next_gen = 1;
static uint64_t deadline;

/* Per CPU, written by its owner only; summed by the control CPU at the end. */
static struct torture_counts {
	uint64_t reads, updates, sync_updates, offline_passes, errors;
	uint64_t first_error_gen;
} __cacheline_aligned counts[PLATFORM_MAX_CPUS];

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static struct torture_obj *obj_new(void)
{
	struct torture_obj *o = page_alloc(0);

	if (!o)
		panic("rcu_torture: out of memory (callbacks not draining?)");
	o->gen = atomic_fetch_add(&next_gen, 1);
	for (int i = 0; i < PAYLOAD_WORDS; i++)
		o->payload[i] = o->gen * (i + 1);
	o->magic = OBJ_LIVE;
	return o;
}

static void obj_free_now(struct torture_obj *o)
{
	o->magic = OBJ_POISON;
	o->gen = OBJ_POISON;
	for (int i = 0; i < PAYLOAD_WORDS; i++)
		o->payload[i] = OBJ_POISON;
	page_free(o, 0);
}

static void obj_free_rcu(struct rcu_head *head)
{
	obj_free_now(container_of(head, struct torture_obj, rcu));
}

static bool obj_intact(const volatile struct torture_obj *o, uint64_t gen)
{
	if (o->magic != OBJ_LIVE || o->gen != gen)
		return false;
	for (int i = 0; i < PAYLOAD_WORDS; i += 7)
		if (o->payload[i] != gen * (i + 1))
			return false;
	return true;
}

static void torture_read(struct torture_counts *c, uint64_t r)
{
	struct torture_obj *o;

	rcu_read_lock();
	o = rcu_dereference(slots[r % NR_SLOTS]);
	if (o) {
		uint64_t gen = ((volatile struct torture_obj *)o)->gen;

		/* Hold the reference across a delay: the window a bad free hits. */
		if (!obj_intact(o, gen) || (udelay(r % 4), !obj_intact(o, gen))) {
			if (!c->errors)
				c->first_error_gen = gen;
			c->errors++;
		}
	}
	rcu_read_unlock();
	c->reads++;
}

static void torture_update(struct torture_counts *c, uint64_t r)
{
	struct torture_obj *old = rcu_xchg_pointer(slots[r % NR_SLOTS], obj_new());

	c->updates++;
	if (!old)
		return;
	if (planted(PLANT_RCU_EARLY_FREE)) {
		obj_free_now(old); /* the planted bug: no grace period */
	} else if (r % 64 == 0) {
		synchronize_rcu();
		obj_free_now(old);
		c->sync_updates++;
	} else {
		call_rcu(&old->rcu, obj_free_rcu);
	}
}

static void torture_worker(void *arg)
{
	unsigned int cpu = this_cpu()->cpu;
	struct torture_counts *c = &counts[cpu];
	uint64_t seed = 0x9e3779b97f4a7c15ull * (cpu + 1), ops = 0;

	(void)arg;
	while (!tsc_passed(deadline)) {
		uint64_t r = rng_next(&seed);

		if (r % 8 == 0)
			torture_update(c, r >> 8);
		else
			torture_read(c, r >> 8);
		if (++ops % OPS_PER_QS == 0)
			rcu_quiescent_state();
		if (r % 512 == 1) { /* an extended quiescent state, as guest mode is */
			rcu_offline();
			udelay(2);
			rcu_online();
			c->offline_passes++;
		}
	}
	rcu_quiescent_state();
}

static void noop(void *arg)
{
	(void)arg;
}

/* The cost of one smp_call round trip to another CPU, the unit for grace periods. */
static uint64_t ipi_round_trip_cycles(void)
{
	uint64_t best = UINT64_MAX;
	int target = -1;

	for_each_cpu(cpu, smp_online())
		if (target < 0 && (unsigned int)cpu != this_cpu()->cpu)
			target = cpu;
	if (target < 0)
		return 0;
	for (int i = 0; i < 32; i++) {
		uint64_t t0 = rdtsc();

		smp_call_one((unsigned int)target, noop, NULL);
		if (rdtsc() - t0 < best)
			best = rdtsc() - t0;
	}
	return best;
}

int scenario_rcu_torture(void)
{
	const cpumask_t *all = smp_online();
	struct page_alloc_stats before, after;
	struct torture_counts sum = { 0 };
	struct rcu_stats rs0, rs1;
	uint64_t ipi_rtt = ipi_round_trip_cycles(), t0, cycles, leaked;
	unsigned int cpus = smp_cpus_online(), duration = option(OPTION_DURATION_MS);

	page_alloc_get_stats(&before);
	rcu_get_stats(&rs0);
	kprintf("mmuvisor: rcu_torture: %u CPUs read and update %d RCU slots for %u ms%s\n", cpus,
		NR_SLOTS, duration,
		planted(PLANT_RCU_EARLY_FREE) ? " (planted bug: early free)" : "");
	deadline = tsc_deadline_ms(duration);
	t0 = rdtsc();
	cpu_work_launch(all, torture_worker, NULL);
	torture_worker(NULL);
	cpu_work_wait(all, duration + WORK_SLACK_MS);
	cycles = rdtsc() - t0;

	for (unsigned int i = 0; i < NR_SLOTS; i++) {
		struct torture_obj *o = rcu_xchg_pointer(slots[i], NULL);

		if (o)
			call_rcu(&o->rcu, obj_free_rcu);
	}
	rcu_barrier();
	rcu_get_stats(&rs1);
	for (unsigned int i = 0; i < PLATFORM_MAX_CPUS; i++) {
		sum.reads += counts[i].reads;
		sum.updates += counts[i].updates;
		sum.sync_updates += counts[i].sync_updates;
		sum.offline_passes += counts[i].offline_passes;
		if (counts[i].errors && !sum.errors)
			sum.first_error_gen = counts[i].first_error_gen;
		sum.errors += counts[i].errors;
	}
	page_alloc_get_stats(&after);
	leaked = before.free_pages > after.free_pages ? before.free_pages - after.free_pages : 0;

	kprintf("RESULT scenario=rcu_torture phase=torture cpus=%u cycles=%lu ns=%lu reads=%lu updates=%lu sync_updates=%lu offline_passes=%lu grace_periods=%lu callbacks=%lu cb_overloads=%lu longest_gp_cycles=%lu ipi_rtt_cycles=%lu longest_gp_ipi_rtts=%lu leaked_pages=%lu errors=%lu\n",
		cpus, (unsigned long)cycles, (unsigned long)tsc_to_ns(cycles),
		(unsigned long)sum.reads, (unsigned long)sum.updates,
		(unsigned long)sum.sync_updates, (unsigned long)sum.offline_passes,
		(unsigned long)(rs1.gp_completed - rs0.gp_completed),
		(unsigned long)(rs1.cb_invoked - rs0.cb_invoked),
		(unsigned long)(rs1.cb_overloads - rs0.cb_overloads),
		(unsigned long)rs1.gp_longest_cycles, (unsigned long)ipi_rtt,
		(unsigned long)(ipi_rtt ? rs1.gp_longest_cycles / ipi_rtt : 0),
		(unsigned long)leaked, (unsigned long)sum.errors);
	if (sum.errors) {
		kprintf("mmuvisor: rcu_torture: %lu reads saw freed or reused memory (first: generation %lu)\n",
			(unsigned long)sum.errors, (unsigned long)sum.first_error_gen);
		result_done(EXIT_FAIL, "use-after-free");
	}
	if (leaked) {
		kprintf("mmuvisor: rcu_torture: %lu pages never came back after rcu_barrier\n",
			(unsigned long)leaked);
		result_done(EXIT_FAIL, "leak");
	}
	if (!sum.updates || rs1.gp_completed == rs0.gp_completed)
		result_done(EXIT_FAIL, "no-progress");
	return EXIT_PASS;
}
