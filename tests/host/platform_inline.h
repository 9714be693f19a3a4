// SPDX-License-Identifier: MIT
/*
 * The host harness's inline hook of mm/platform.h (see its end): the
 * thread's CPU index, set by host_cpu_enter(). ~0u means the thread never
 * entered, which platform_host_no_cpu() reports.
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
