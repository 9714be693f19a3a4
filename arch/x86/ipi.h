// SPDX-License-Identifier: MIT
/*
 * IPIs to one CPU or a set, and smp_call_many(): run a function on a
 * set of CPUs and wait until every one has run it.
 */
#pragma once

#include "arch/x86/cpumask.h"
#include "mm/platform.h"

typedef void (*smp_call_fn)(void *arg);

void ipi_send(unsigned int cpu, unsigned int vector);
/* x2APIC: one ICR write per cluster of the set (logical mode); xAPIC: one per CPU. */
void ipi_send_mask(const cpumask_t *mask, unsigned int vector);
/* ipi_send_mask's ICR writes and the CPUs they reached, since boot. */
void ipi_mask_stats(unsigned long *writes, unsigned long *targets);
/*
 * An NMI that only forces cpu out of guest mode: no IF, interrupt shadow
 * or guest setting holds it back (SVM and VMX intercept NMIs), so it is the
 * backstop for a kick that a guest running with IF=0 kept out. Its handler
 * on cpu does nothing else.
 */
void ipi_send_nmi_kick(unsigned int cpu);
/* The NMI handler: true if this NMI was a kick (and is now consumed). */
bool ipi_nmi_was_kick(void);

/*
 * Run fn(arg) on every online CPU in mask (the caller included, if it is in
 * the mask) and return when all have finished. Interrupt context on the
 * targets; fn must not sleep or call smp_call_many itself. Callers may run
 * with interrupts off: while waiting they serve calls aimed at themselves,
 * so two CPUs calling each other cannot deadlock. Panics, naming the CPUs,
 * if they do not answer within SMP_CALL_TIMEOUT_MS.
 */
void smp_call_many(const cpumask_t *mask, smp_call_fn fn, void *arg);
void smp_call_all(smp_call_fn fn, void *arg);
/* smp_call_many for one CPU (an offline one is skipped). */
void smp_call_one(unsigned int cpu, smp_call_fn fn, void *arg);

/* Run a call posted to this CPU, if any (the IPI handler and idle loops). */
void smp_call_handle(void);

#define SMP_CALL_TIMEOUT_MS 2000
