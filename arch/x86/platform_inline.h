// SPDX-License-Identifier: MIT
/*
 * The hypervisor's inline hooks of mm/platform.h (see its end): RAM is
 * identity-mapped, and the CPU index and the CPU's own word are one
 * instruction each through %gs, in the CPU's struct percpu (arch/x86/percpu.h, which includes this file through
 * mm/platform.h and so cannot be included here; it checks the offset).
 */
#pragma once

#define PERCPU_CPU_OFFSET 8 /* offsetof(struct percpu, cpu) */

/* Not volatile: a CPU's index never changes, so the compiler may reuse it. */
static inline unsigned int platform_cpu_id(void)
{
	unsigned int cpu;

	asm("movl %%gs:%c1, %0" : "=r"(cpu) : "i"(PERCPU_CPU_OFFSET));
	return cpu;
}

#define PERCPU_CPU_WORD_OFFSET 32 /* offsetof(struct percpu, cpu_word) */

/* The CPU's own word (mm/platform.h): one instruction through %gs, like a thread-local. */
static inline unsigned long platform_cpu_word_load(void)
{
	unsigned long w;

	asm volatile("movq %%gs:%c1, %0" : "=r"(w) : "i"(PERCPU_CPU_WORD_OFFSET) : "memory");
	return w;
}

static inline void platform_cpu_word_store(unsigned long w)
{
	asm volatile("movq %0, %%gs:%c1" : : "r"(w), "i"(PERCPU_CPU_WORD_OFFSET) : "memory");
}

static inline void *platform_phys_to_virt(uint64_t pa)
{
	return (void *)(uintptr_t)pa;
}

static inline uint64_t platform_virt_to_phys(const void *va)
{
	return (uint64_t)(uintptr_t)va;
}
