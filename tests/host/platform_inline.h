// SPDX-License-Identifier: MIT
/*
 * The host harness's inline hooks of mm/platform.h (see its end): the
 * thread's CPU index, set by host_cpu_enter(). ~0u means the thread never
 * entered, which platform_host_no_cpu() reports. And the CPU's own word,
 * thread-local, which host_cpu_enter() starts at PLATFORM_CPU_WORD_INIT.
 */
#pragma once

extern _Thread_local unsigned int platform_host_cpu;
_Noreturn void platform_host_no_cpu(void);

/* MM_DEBUG builds (every test) check; the release benchmarks trust the caller. */
static inline unsigned int platform_cpu_id(void)
{
	unsigned int cpu = platform_host_cpu;

#ifdef MM_DEBUG
	if (unlikely(cpu == ~0u))
		platform_host_no_cpu();
#endif
	return cpu;
}

/* The thread's word of its CPU's own (mm/platform.h): thread-local, as liburcu's reader counter is. */
extern _Thread_local unsigned long platform_host_cpu_word;

static inline unsigned long platform_cpu_word_load(void)
{
	return platform_host_cpu_word;
}

static inline void platform_cpu_word_store(unsigned long w)
{
	platform_host_cpu_word = w;
}
