// SPDX-License-Identifier: MIT
/*
 * mm/platform.h on Linux: a thread-local CPU id, rdtsc for cycles, stdio
 * for the console, abort() for panics, and an aligned_alloc arena for
 * physical memory. MM_TORTURE builds add random spins and yields to
 * platform_relax() and platform_torture_delay() to widen race windows.
 */
#define _GNU_SOURCE
#include "tests/host/platform_host.h"

#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <x86intrin.h>

#define HOST_ARENA_ALIGN (4UL << 20)

_Thread_local unsigned int platform_host_cpu = UINT_MAX;
_Thread_local unsigned long platform_host_cpu_word = PLATFORM_CPU_WORD_INIT;
static _Thread_local uint64_t host_rand_state;
static atomic_uint host_nr_cpus = 1;
static atomic_ulong host_seed = 0x9e3779b97f4a7c15UL;
static void (*_Atomic host_flush_hook)(void *owner);

/* Immutable while threads run: set by host_arena_create() before they start. */
static struct {
	char *base;
	size_t bytes;
	uint64_t phys_base;
} host_arena;

void host_set_nr_cpus(unsigned int n)
{
	if (n == 0 || n > PLATFORM_MAX_CPUS)
		platform_panic("host_set_nr_cpus(%u): out of range", n);
	atomic_store(&host_nr_cpus, n);
}

void host_cpu_enter(unsigned int id)
{
	if (id >= platform_nr_cpus())
		platform_panic("host_cpu_enter(%u): only %u cpus", id, platform_nr_cpus());
	platform_host_cpu = id;
	platform_host_cpu_word = PLATFORM_CPU_WORD_INIT; /* whatever the thread's last CPU left there */
	host_rand_state = atomic_load(&host_seed) ^ ((uint64_t)(id + 1) * 0xbf58476d1ce4e5b9UL);
}

void host_cpu_leave(void)
{
	platform_host_cpu = UINT_MAX;
}

_Noreturn void platform_host_no_cpu(void)
{
	platform_panic("platform_cpu_id: this thread did not call host_cpu_enter()");
}

#ifndef PLATFORM_INLINE_CPU_WORD
unsigned long platform_cpu_word_load(void)
{
	return platform_host_cpu_word;
}

void platform_cpu_word_store(unsigned long w)
{
	platform_host_cpu_word = w;
}
#endif

#ifndef PLATFORM_INLINE_CPU_ID
unsigned int platform_cpu_id(void)
{
	if (unlikely(platform_host_cpu == UINT_MAX))
		platform_host_no_cpu();
	return platform_host_cpu;
}
#endif

unsigned int platform_nr_cpus(void)
{
	return atomic_load_explicit(&host_nr_cpus, memory_order_relaxed);
}

uint64_t platform_cycles(void)
{
	return __rdtsc();
}

void host_rand_seed(uint64_t seed)
{
	atomic_store(&host_seed, seed ? seed : 1);
}

uint64_t host_rand(void)
{
	uint64_t x = host_rand_state;

	if (!x)
		x = atomic_load(&host_seed) ^ __rdtsc();
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	host_rand_state = x;
	return x;
}

void platform_relax(void)
{
	_mm_pause();
#ifdef MM_TORTURE
	/* Threads outnumber cores: let the one we wait for run now and then. */
	if ((host_rand() & 63) == 0)
		sched_yield();
#endif
}

/* mm/platform.h's sleeping wait, on a futex. */
void platform_wait(atomic_uint *word, unsigned int old)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, old, NULL, NULL, 0);
}

void platform_wake(atomic_uint *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

#ifdef MM_TORTURE
void platform_torture_delay(void)
{
	uint64_t r = host_rand();

	if (r & 15)
		return; /* 15 times in 16: no delay */
	if (((r >> 4) & 15) == 0) {
		sched_yield();
		return;
	}
	for (unsigned int n = (r >> 8) & 1023; n; n--)
		_mm_pause();
}
#endif

/* Like printf: the caller ends its lines with "\n". */
void platform_print(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

_Noreturn void platform_panic(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "PANIC: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	abort();
}

void *host_arena_create(size_t bytes, uint64_t phys_base)
{
	size_t rounded = (bytes + HOST_ARENA_ALIGN - 1) & ~(HOST_ARENA_ALIGN - 1);

	if (host_arena.base)
		platform_panic("host_arena_create: an arena already exists");
	if (phys_base & (PAGE_SIZE - 1))
		platform_panic("host_arena_create: phys_base %#llx is not page aligned",
			       (unsigned long long)phys_base);
	host_arena.base = aligned_alloc(HOST_ARENA_ALIGN, rounded);
	if (!host_arena.base)
		platform_panic("host_arena_create: out of memory for %zu bytes", rounded);
	host_arena.bytes = bytes;
	host_arena.phys_base = phys_base;
	return host_arena.base;
}

void host_arena_destroy(void)
{
	free(host_arena.base);
	host_arena.base = NULL;
	host_arena.bytes = 0;
}

void *platform_phys_to_virt(uint64_t pa)
{
	if (pa < host_arena.phys_base || pa - host_arena.phys_base >= host_arena.bytes)
		platform_panic("phys_to_virt(%#llx): outside the arena", (unsigned long long)pa);
	return host_arena.base + (pa - host_arena.phys_base);
}

uint64_t platform_virt_to_phys(const void *va)
{
	const char *p = va;

	if (!host_arena.base || p < host_arena.base || (size_t)(p - host_arena.base) >= host_arena.bytes)
		platform_panic("virt_to_phys(%p): outside the arena", va);
	return host_arena.phys_base + (uint64_t)(p - host_arena.base);
}

void host_set_flush_hook(void (*hook)(void *owner))
{
	atomic_store(&host_flush_hook, hook);
}

/* mm/platform.h's remote TLB flush: the test's vCPU model decides what it reaches. */
void platform_flush_remote_tlbs(void *owner)
{
	void (*hook)(void *owner) = atomic_load(&host_flush_hook);

	if (hook)
		hook(owner);
}
