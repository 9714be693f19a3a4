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
cpumask_t smp_online_mask(void);
/* Each AP's main loop, and the BSP's when it has nothing left to do. */
_Noreturn void cpu_idle_loop(void);
