// SPDX-License-Identifier: MIT
/* Bringing up the APs (INIT-SIPI-SIPI through a trampoline below 1 MiB). */
#pragma once

#include <stdint.h>

#include "arch/x86/ipi.h"

/* BSP: the page below 1 MiB that the trampoline is copied to. */
void smp_set_trampoline_page(uint64_t pa);
/* BSP: start every CPU the MADT lists, up to max_cpus in all. */
void smp_boot(unsigned int max_cpus);
unsigned int smp_cpus_online(void);
/* The online CPUs (complete once smp_boot has returned; see arch/x86/smp.c). */
extern cpumask_t smp_online_cpus;
static inline const cpumask_t *smp_online(void)
{
	return &smp_online_cpus;
}
/* Each AP's main loop: run launched work, serve calls, report RCU quiescent states. */
_Noreturn void cpu_idle_loop(void);

/*
 * Run fn(arg) on every online CPU in mask other than the caller, from the
 * idle loop: thread context, interrupts off, free to use RCU and to run for
 * as long as it likes (a vCPU loop, a torture thread). cpu_work_wait()
 * returns when all of them have returned, and panics after timeout_ms.
 */
void cpu_work_launch(const cpumask_t *mask, void (*fn)(void *arg), void *arg);
void cpu_work_wait(const cpumask_t *mask, unsigned int timeout_ms);
