// SPDX-License-Identifier: MIT
/*
 * mmu_lock: a reader-writer lock whose readers touch only their own CPU's
 * cache line. Faults take it for read on every vCPU at once, thousands of
 * times a second each, and a fault under the read lock costs less than
 * moving one cache line between two cores: with mm/lock.h's rwlock (one
 * shared counter) two vCPUs faulted no faster than one (docs/TDP_MMU.md).
 * Writers are rare (and the "before" of mmu_lock=exclusive), so they pay:
 * a writer raises the writer word, then waits for every CPU's reader word.
 *
 * A reader and a writer meet like Dekker's: the reader stores its word
 * and then loads the writer word; the writer stores the writer word and
 * then loads each reader word. Both sides are seq_cst, so at least one
 * sees the other, and a reader that sees a writer steps back and waits.
 * Writers are preferred: a raised writer word stops new readers.
 *
 * One read hold per CPU at a time (the MMU never nests it); MM_DEBUG
 * builds panic on a double acquire, as xv6's acquire() does.
 */
#pragma once

#include "mm/platform.h"

struct mmu_lock_cpu {
	atomic_uint reading; /* 1 while this CPU holds the lock for read; written by this CPU only */
} __cacheline_aligned;

struct mmu_lock {
	atomic_uint writer; /* 0, or the holding (or waiting) writer's cpu + 1 */
	/*
	 * One reader word per CPU there is (platform_nr_cpus() when the lock
	 * is made), in memory its owner sizes and gives: a lock sized for
	 * PLATFORM_MAX_CPUS would be 64 KiB. Immutable after mmu_lock_init().
	 */
	unsigned int nr_cpus;
	struct mmu_lock_cpu *cpu;
};

/* cpu: nr_cpus words of the owner's memory, cache-line aligned. */
static inline void mmu_lock_init(struct mmu_lock *l, struct mmu_lock_cpu *cpu, unsigned int nr_cpus)
{
	atomic_store_explicit(&l->writer, 0, memory_order_relaxed);
	l->nr_cpus = nr_cpus;
	l->cpu = cpu;
	for (unsigned int i = 0; i < nr_cpus; i++)
		atomic_store_explicit(&l->cpu[i].reading, 0, memory_order_relaxed);
}

/* cpu: platform_cpu_id(), which the caller knows already. */
static inline void mmu_read_lock(struct mmu_lock *l, unsigned int cpu)
{
	atomic_uint *mine = &l->cpu[cpu].reading;

#ifdef MM_DEBUG
	if (cpu >= l->nr_cpus)
		platform_panic("mmu_lock: cpu %u, but the lock was made for %u", cpu, l->nr_cpus);
	if (atomic_load_explicit(mine, memory_order_relaxed))
		platform_panic("mmu_lock: double read acquire on cpu %u", cpu);
#endif
	for (;;) {
		/* seq_cst store, then load: pairs with the writer's CAS and scan. */
		atomic_store(mine, 1);
		if (!atomic_load(&l->writer))
			return;
		atomic_store_explicit(mine, 0, memory_order_release);
		while (atomic_load_explicit(&l->writer, memory_order_relaxed))
			platform_relax();
	}
}

static inline void mmu_read_unlock(struct mmu_lock *l, unsigned int cpu)
{
	/* Release: pairs with the writer's seq_cst load of our word; our section comes first. */
	atomic_store_explicit(&l->cpu[cpu].reading, 0, memory_order_release);
}

static inline void mmu_write_lock(struct mmu_lock *l, unsigned int cpu)
{
	unsigned int me = cpu + 1, expected = 0;

#ifdef MM_DEBUG
	if (atomic_load_explicit(&l->writer, memory_order_relaxed) == me)
		platform_panic("mmu_lock: double write acquire on cpu %u", me - 1);
#endif
	while (!atomic_compare_exchange_weak(&l->writer, &expected, me)) {
		expected = 0;
		platform_relax();
	}
	/* seq_cst CAS, then the loads: pairs with mmu_read_lock(). Acquire: see the readers' work. */
	for (unsigned int i = 0; i < l->nr_cpus; i++)
		while (atomic_load(&l->cpu[i].reading))
			platform_relax();
}

static inline void mmu_write_unlock(struct mmu_lock *l)
{
	/* Release: pairs with the seq_cst load of writer in mmu_read_lock() and the CAS here. */
	atomic_store_explicit(&l->writer, 0, memory_order_release);
}

/* For assertions: does this CPU hold it for read / for write? */
static inline bool mmu_lock_held_read(struct mmu_lock *l)
{
	return atomic_load_explicit(&l->cpu[platform_cpu_id()].reading, memory_order_relaxed);
}

static inline bool mmu_lock_held_write(struct mmu_lock *l)
{
	return atomic_load_explicit(&l->writer, memory_order_relaxed) == platform_cpu_id() + 1;
}

/* A writer holds or waits for the lock: a long reader should yield. */
static inline bool mmu_lock_writer_waiting(struct mmu_lock *l)
{
	return atomic_load_explicit(&l->writer, memory_order_relaxed) != 0;
}
