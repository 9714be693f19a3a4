// SPDX-License-Identifier: MIT
/* The hypervisor's side of mm/platform.h; the inline hooks are arch/x86/platform_inline.h. */
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/panic.h"
#include "arch/x86/percpu.h"
#include "arch/x86/smp.h"
#include "mm/platform.h"

unsigned int platform_nr_cpus(void)
{
	return smp_cpus_online();
}

uint64_t platform_cycles(void)
{
	return rdtsc();
}

void platform_relax(void)
{
	cpu_relax();
}

#define WAIT_SPINS 1000

/* A pCPU is never preempted: spin a while, and let the caller re-check. */
void platform_wait(atomic_uint *word, unsigned int old)
{
	for (int i = 0; i < WAIT_SPINS && atomic_load(word) == old; i++)
		cpu_relax();
}

void platform_wake(atomic_uint *word)
{
	(void)word;
}

void platform_print(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
}

_Noreturn void platform_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpanic(fmt, ap);
}
