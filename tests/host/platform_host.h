// SPDX-License-Identifier: MIT
/*
 * The host harness's side of mm/platform.h: pthreads stand in for CPUs.
 * A thread becomes CPU id with host_cpu_enter(id); one thread may also play
 * several CPUs in turn, which lets unit tests script a race step by step.
 * Physical memory is one arena of host memory at a fake physical base.
 */
#pragma once

#include "mm/platform.h"

/* Number of CPUs platform_nr_cpus() reports (1..PLATFORM_MAX_CPUS). */
void host_set_nr_cpus(unsigned int n);
/* The calling thread is CPU id from now on (id < platform_nr_cpus()). */
void host_cpu_enter(unsigned int id);
/* The calling thread is no CPU: platform_cpu_id() panics until the next enter. */
void host_cpu_leave(void);

/*
 * Back [phys_base, phys_base + bytes) with host memory, 4 MiB aligned, so
 * the page allocator's 4 MiB blocks are aligned in both spaces. One arena
 * at a time; create it before the threads start.
 */
void *host_arena_create(size_t bytes, uint64_t phys_base);
void host_arena_destroy(void);

/* A per-thread xorshift generator for tests; seeded from the seed below. */
uint64_t host_rand(void);
/* Reseed every thread's generator (threads pick it up at their next enter). */
void host_rand_seed(uint64_t seed);

/*
 * platform_flush_remote_tlbs(owner) calls hook(owner), the test's model of
 * the shootdown (NULL: the flush reaches nobody). Install it before the
 * threads that flush start.
 */
void host_set_flush_hook(void (*hook)(void *owner));
