// SPDX-License-Identifier: MIT
/*
 * Per-CPU data. GS base points at the CPU's struct percpu, whose first field
 * points at itself, so this_cpu() is one load from %gs:0.
 */
#pragma once

#include "mm/platform.h"
#include "arch/x86/gdt.h"

struct smp_call;

struct percpu {
	struct percpu *self; /* must stay first: %gs:0 */

	/* Immutable once the CPU is online: */
	unsigned int cpu;    /* index, 0 = BSP */
	uint32_t apic_id;
	/*
	 * The logical destination that names this CPU in a multicast ICR
	 * write (arch/x86/ipi.c): x2APIC cluster << 16 | bit, or a bit of the
	 * xAPIC flat model's 8; 0 where it has none (an xAPIC ID of 8 or
	 * more, or an LDR that is not what its ID says): a physical IPI then.
	 */
	uint32_t ipi_logical;
	void *stack_top;     /* the kernel stack of this CPU's main loop */

	/* Written only by the owning CPU: */
	/*
	 * mm/platform.h's word of this CPU's own (mm/rcu's quiescent-state
	 * answer): read and written through %gs in one instruction
	 * (arch/x86/platform_inline.h); ~0UL until mm/rcu first writes it.
	 */
	unsigned long cpu_word;
	struct gdt gdt;
	struct tss tss;
	uint64_t nmi_stack_top, df_stack_top;

	/* Cross-CPU: */
	atomic_bool online;                   /* set by the CPU itself, once */
	_Atomic(struct smp_call *) call_slot; /* mailbox; see arch/x86/ipi.c */
	/*
	 * Thread-context work (arch/x86/smp.c): the launcher writes work_arg,
	 * then work_fn (release); the CPU runs it from its idle loop and
	 * clears work_fn (release) when done.
	 */
	void (*_Atomic work_fn)(void *arg);
	void *work_arg;
	/*
	 * Kick NMIs sent to this CPU: counted by the sender before it sends
	 * (seq_cst). The NMI handler, on this CPU only, compares the count
	 * with nmi_kicks_seen: an NMI while the count ran ahead is a kick. Two
	 * kicks may come as one NMI, or as two where the second was latched
	 * while the first was handled: a handler that saw more than one kick
	 * keeps one spare for such a latched NMI.
	 */
	atomic_uint nmi_kicks;
	atomic_ulong kicks_received; /* VEC_KICK interrupts taken, by this CPU only (relaxed) */
	unsigned int nmi_kicks_seen;
	bool nmi_kick_spare;
} __cacheline_aligned;

_Static_assert(offsetof(struct percpu, cpu) == PERCPU_CPU_OFFSET,
	       "platform_cpu_id() (arch/x86/platform_inline.h) reads cpu at this offset");
_Static_assert(offsetof(struct percpu, cpu_word) == PERCPU_CPU_WORD_OFFSET,
	       "platform_cpu_word_load() (arch/x86/platform_inline.h) reads cpu_word at this offset");

extern struct percpu percpu_area[PLATFORM_MAX_CPUS];
extern unsigned int nr_cpus_possible; /* from the MADT, capped; immutable after smp_init */

static inline struct percpu *this_cpu(void)
{
	struct percpu *p;

	asm volatile("movq %%gs:0, %0" : "=r"(p));
	return p;
}

static inline struct percpu *cpu_data(unsigned int cpu)
{
	return &percpu_area[cpu];
}

/* Point GS at cpu's area and load its GDT, TSS and the IDT. */
void percpu_init_this_cpu(unsigned int cpu);
