// SPDX-License-Identifier: MIT
/*
 * The one seam between mm/ and whatever runs it. The hypervisor implements
 * these hooks in arch/x86/platform.c, except platform_flush_remote_tlbs,
 * which is in virt/shootdown.c; the host harness implements them with
 * pthreads in tests/host/platform_host.c. Everything under mm/ includes this
 * header and nothing from arch/, so the same .c files build into both.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PLATFORM_MAX_CPUS 1024
#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define CACHE_LINE 64

#define __cacheline_aligned __attribute__((aligned(CACHE_LINE)))
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/*
 * Index (0 .. platform_nr_cpus()-1) of the calling CPU or host thread. A
 * platform may give it, and platform_phys_to_virt/virt_to_phys, as static
 * inline functions (see the end of this file).
 */
#ifndef PLATFORM_INLINE_CPU_ID
unsigned int platform_cpu_id(void);
#endif
/*
 * A word of the calling CPU's own, which only that CPU reads and writes:
 * mm/rcu keeps its quiescent-state fast path's answer there
 * (rcu_qs_skip(), mm/rcu/rcu_percpu.h). A platform may keep it where one instruction reaches
 * it, as liburcu keeps a reader's counter in thread-local storage:
 * -DPLATFORM_INLINE_CPU_WORD, and platform_cpu_word_load() and
 * platform_cpu_word_store() static inline. It holds PLATFORM_CPU_WORD_INIT
 * whenever a CPU (or a harness thread) takes its identity.
 */
#define PLATFORM_CPU_WORD_INIT (~0UL)
#ifndef PLATFORM_INLINE_CPU_WORD
unsigned long platform_cpu_word_load(void);
void platform_cpu_word_store(unsigned long w);
#endif

/* Number of CPUs (or harness threads) that take part in mm/ algorithms. */
unsigned int platform_nr_cpus(void);
/* A monotonic cycle counter: the TSC in the hypervisor. */
uint64_t platform_cycles(void);
/* Spin-wait hint; the host harness may also yield here. */
void platform_relax(void);
void platform_print(const char *fmt, ...) __printf(1, 2);
_Noreturn void platform_panic(const char *fmt, ...) __printf(1, 2);

/*
 * A wait that may sleep: return once *word != old, or earlier (spuriously);
 * platform_wake() wakes every waiter on word. The host harness sleeps on a
 * futex, so a waiting updater gives its core to the preempted reader it waits
 * for; the hypervisor spins a bounded while (a pCPU is never preempted) and
 * its callers re-check their condition.
 */
#define PLATFORM_HAS_WAIT 1
void platform_wait(atomic_uint *word, unsigned int old);
void platform_wake(atomic_uint *word);

/*
 * Remote TLB flush for the two-dimensional MMU: make every CPU that may cache
 * translations of owner's tables (every vCPU of that VM) drop them. Returns
 * once each has flushed, or is outside the guest and will flush before it
 * next enters. In the hypervisor this is the IPI shootdown (virt/shootdown.c);
 * in the host harness it reaches the walker threads' software TLBs.
 */
void platform_flush_remote_tlbs(void *owner);

/*
 * Physical <-> virtual. The hypervisor identity-maps RAM; the host harness
 * maps a malloc'd arena at a fake physical base.
 */
#ifndef PLATFORM_INLINE_PHYS
void *platform_phys_to_virt(uint64_t pa);
uint64_t platform_virt_to_phys(const void *va);
#endif

/*
 * Torture hook: the host harness injects random delays and yields here to
 * widen race windows; the hypervisor compiles it to nothing.
 */
#ifdef MM_TORTURE
void platform_torture_delay(void);
#else
static inline void platform_torture_delay(void) {}
#endif

#define BUG_ON(cond)                                                     \
	do {                                                             \
		if (unlikely(cond))                                      \
			platform_panic("BUG at %s:%d: %s", __FILE__,     \
				       __LINE__, #cond);                 \
	} while (0)

/*
 * The hooks that every page-table step or per-CPU lookup calls are cheaper
 * inline. A platform that wants that says so on the compiler's command
 * line: -DPLATFORM_INLINE_CPU_ID, -DPLATFORM_INLINE_CPU_WORD and/or
 * -DPLATFORM_INLINE_PHYS (the declarations above step aside), and
 * -DPLATFORM_INLINE=dir/file.h, the header that defines those functions
 * static inline (a bare path, made a string here; none of its words may
 * be a macro). The hypervisor inlines all of them
 * (arch/x86/platform_inline.h); the host harness platform_cpu_id() and the
 * CPU's word (tests/host/platform_inline.h), keeping its checked address
 * translation.
 */
#ifdef PLATFORM_INLINE
#define PLATFORM_STRING_(x) #x
#define PLATFORM_STRING(x) PLATFORM_STRING_(x)
#include PLATFORM_STRING(PLATFORM_INLINE)
#endif

#include "mm/lock.h"
