// SPDX-License-Identifier: MIT
/*
 * Spinlock and reader-writer lock on C11 atomics, shared by the hypervisor
 * and the host harness. Both count acquisitions so the scenarios can report
 * lock traffic. Debug builds (MM_DEBUG) record the owner and panic on a
 * double acquire, as xv6's acquire() does.
 */
#pragma once

#include "mm/platform.h"

typedef struct spinlock {
	atomic_uint locked;
	atomic_uint owner; /* cpu + 1 while held (debug builds); 0 when free */
	const char *name;
} spinlock_t;

#define SPINLOCK_INIT(n) { .locked = 0, .owner = 0, .name = (n) }

static inline void spin_lock_init(spinlock_t *l, const char *name)
{
	atomic_store_explicit(&l->locked, 0, memory_order_relaxed);
	atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
	l->name = name;
}

static inline bool spin_trylock(spinlock_t *l)
{
	unsigned int expected = 0;

	if (atomic_load_explicit(&l->locked, memory_order_relaxed))
		return false;
	if (!atomic_compare_exchange_strong_explicit(&l->locked, &expected, 1,
						     memory_order_acquire,
						     memory_order_relaxed))
		return false;
#ifdef MM_DEBUG
	atomic_store_explicit(&l->owner, platform_cpu_id() + 1, memory_order_relaxed);
#endif
	return true;
}

static inline void spin_lock(spinlock_t *l)
{
#ifdef MM_DEBUG
	if (atomic_load_explicit(&l->locked, memory_order_relaxed) &&
	    atomic_load_explicit(&l->owner, memory_order_relaxed) == platform_cpu_id() + 1)
		platform_panic("spinlock %s: double acquire on cpu %u",
			       l->name ? l->name : "?", platform_cpu_id());
#endif
	while (!spin_trylock(l))
		platform_relax();
}

static inline void spin_unlock(spinlock_t *l)
{
#ifdef MM_DEBUG
	BUG_ON(!atomic_load_explicit(&l->locked, memory_order_relaxed));
	atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
#endif
	atomic_store_explicit(&l->locked, 0, memory_order_release);
}

static inline bool spin_is_locked(spinlock_t *l)
{
	return atomic_load_explicit(&l->locked, memory_order_relaxed) != 0;
}

/*
 * rwlock: bit 31 is the writer, bits 0..30 count readers. A writer first
 * claims bit 31 (which stops new readers), then waits for the readers to
 * drain, so writers cannot starve.
 */
#define RWLOCK_WRITER 0x80000000u

typedef struct rwlock {
	atomic_uint state;
	atomic_ulong read_acquires;  /* statistics only */
	atomic_ulong write_acquires; /* statistics only */
	const char *name;
} rwlock_t;

#define RWLOCK_INIT(n) { .state = 0, .read_acquires = 0, .write_acquires = 0, .name = (n) }

static inline void read_lock(rwlock_t *l)
{
	unsigned int s;

	for (;;) {
		s = atomic_load_explicit(&l->state, memory_order_relaxed);
		if (!(s & RWLOCK_WRITER) &&
		    atomic_compare_exchange_weak_explicit(&l->state, &s, s + 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			break;
		platform_relax();
	}
	atomic_fetch_add_explicit(&l->read_acquires, 1, memory_order_relaxed);
}

static inline void read_unlock(rwlock_t *l)
{
	atomic_fetch_sub_explicit(&l->state, 1, memory_order_release);
}

static inline void write_lock(rwlock_t *l)
{
	unsigned int s;

	for (;;) {
		s = atomic_load_explicit(&l->state, memory_order_relaxed);
		if (!(s & RWLOCK_WRITER) &&
		    atomic_compare_exchange_weak_explicit(&l->state, &s,
							  s | RWLOCK_WRITER,
							  memory_order_acquire,
							  memory_order_relaxed))
			break;
		platform_relax();
	}
	/* New readers now wait; let the ones inside drain. */
	while (atomic_load_explicit(&l->state, memory_order_acquire) != RWLOCK_WRITER)
		platform_relax();
	atomic_fetch_add_explicit(&l->write_acquires, 1, memory_order_relaxed);
}

static inline void write_unlock(rwlock_t *l)
{
	atomic_store_explicit(&l->state, 0, memory_order_release);
}

static inline bool rwlock_is_write_locked(rwlock_t *l)
{
	return atomic_load_explicit(&l->state, memory_order_relaxed) == RWLOCK_WRITER;
}

static inline bool rwlock_is_read_locked(rwlock_t *l)
{
	unsigned int s = atomic_load_explicit(&l->state, memory_order_relaxed);

	return (s & ~RWLOCK_WRITER) != 0;
}
