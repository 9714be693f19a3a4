// SPDX-License-Identifier: MIT
/*
 * A set of pCPUs, bit n for cpu index n, up to PLATFORM_MAX_CPUS. The
 * operations look only at the words that can hold an online CPU
 * (cpumask_nr_words, set once before the APs start), so a box with 64 CPUs
 * pays for one word as it did when a mask was a uint64_t.
 */
#pragma once

#include "mm/platform.h"

#define CPUMASK_WORDS ((PLATFORM_MAX_CPUS + 63) / 64)

typedef struct {
	uint64_t w[CPUMASK_WORDS];
} cpumask_t;

/* For masks that CPUs set bits in concurrently (each word one atomic). */
typedef struct {
	_Atomic uint64_t w[CPUMASK_WORDS];
} cpumask_atomic_t;

/* Words in use: immutable once the APs start (arch/x86/smp.c). */
extern unsigned int cpumask_nr_words;

/* Up to 64 CPUs, every operation is one word's, as when a mask was a uint64_t. */
#define cpumask_one_word() __builtin_expect(cpumask_nr_words == 1, 1)

/*
 * Only the words in use are ever read or written: a mask on the stack needs
 * cpumask_clear() (not a zeroing initializer, which writes them all).
 */
static inline void cpumask_clear(cpumask_t *m)
{
	if (cpumask_one_word()) {
		m->w[0] = 0;
		return;
	}
	for (unsigned int i = 0; i < cpumask_nr_words; i++)
		m->w[i] = 0;
}

static inline void cpumask_set(cpumask_t *m, unsigned int cpu)
{
	m->w[cpu / 64] |= 1ull << (cpu % 64);
}

static inline void cpumask_clear_cpu(cpumask_t *m, unsigned int cpu)
{
	m->w[cpu / 64] &= ~(1ull << (cpu % 64));
}

static inline bool cpumask_test(const cpumask_t *m, unsigned int cpu)
{
	return (m->w[cpu / 64] >> (cpu % 64)) & 1;
}

static inline void cpumask_and(cpumask_t *d, const cpumask_t *a, const cpumask_t *b)
{
	if (cpumask_one_word()) {
		d->w[0] = a->w[0] & b->w[0];
		return;
	}
	for (unsigned int i = 0; i < cpumask_nr_words; i++)
		d->w[i] = a->w[i] & b->w[i];
}

static inline void cpumask_andnot(cpumask_t *d, const cpumask_t *a, const cpumask_t *b)
{
	if (cpumask_one_word()) {
		d->w[0] = a->w[0] & ~b->w[0];
		return;
	}
	for (unsigned int i = 0; i < cpumask_nr_words; i++)
		d->w[i] = a->w[i] & ~b->w[i];
}

static inline void cpumask_or(cpumask_t *d, const cpumask_t *a, const cpumask_t *b)
{
	if (cpumask_one_word()) {
		d->w[0] = a->w[0] | b->w[0];
		return;
	}
	for (unsigned int i = 0; i < cpumask_nr_words; i++)
		d->w[i] = a->w[i] | b->w[i];
}

static inline bool cpumask_empty(const cpumask_t *m)
{
	uint64_t any = 0;

	if (cpumask_one_word())
		return !m->w[0];
	for (unsigned int i = 0; i < cpumask_nr_words; i++)
		any |= m->w[i];
	return !any;
}

/* a holds every CPU of b. */
static inline bool cpumask_subset(const cpumask_t *b, const cpumask_t *a)
{
	for (unsigned int i = 0; i < cpumask_nr_words; i++)
		if (b->w[i] & ~a->w[i])
			return false;
	return true;
}

static inline unsigned int cpumask_weight(const cpumask_t *m)
{
	unsigned int n = 0;

	if (cpumask_one_word())
		return (unsigned int)__builtin_popcountll(m->w[0]);
	for (unsigned int i = 0; i < cpumask_nr_words; i++)
		n += (unsigned int)__builtin_popcountll(m->w[i]);
	return n;
}

/* The first CPU of m above after (-1: from the start), or -1. */
static inline int cpumask_next(const cpumask_t *m, int after)
{
	unsigned int cpu = (unsigned int)(after + 1);

	if (cpumask_one_word()) {
		uint64_t w = cpu < 64 ? m->w[0] & (~0ull << cpu) : 0;

		return w ? __builtin_ctzll(w) : -1;
	}
	for (unsigned int i = cpu / 64; i < cpumask_nr_words; i++, cpu = i * 64) {
		uint64_t w = m->w[i] & (~0ull << (cpu % 64));

		if (w)
			return (int)(i * 64 + (unsigned int)__builtin_ctzll(w));
	}
	return -1;
}

#define for_each_cpu(cpu, m) \
	for (int cpu = cpumask_next((m), -1); cpu >= 0; cpu = cpumask_next((m), cpu))

static inline void cpumask_atomic_set(cpumask_atomic_t *m, unsigned int cpu, memory_order order)
{
	atomic_fetch_or_explicit(&m->w[cpu / 64], 1ull << (cpu % 64), order);
}

