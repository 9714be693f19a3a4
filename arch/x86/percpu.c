// SPDX-License-Identifier: MIT
#include "arch/x86/cpu.h"
#include "arch/x86/interrupt.h"
#include "arch/x86/percpu.h"

struct percpu percpu_area[PLATFORM_MAX_CPUS];

/* The BSP sets up before the page allocator exists: static IST stacks. */
static char bsp_nmi_stack[PAGE_SIZE] __attribute__((aligned(16)));
static char bsp_df_stack[PAGE_SIZE] __attribute__((aligned(16)));

void percpu_init_this_cpu(unsigned int cpu)
{
	struct percpu *pc = &percpu_area[cpu];

	pc->self = pc;
	pc->cpu = cpu;
	pc->cpu_word = PLATFORM_CPU_WORD_INIT;
	if (cpu == 0) {
		pc->nmi_stack_top = (uint64_t)(bsp_nmi_stack + sizeof(bsp_nmi_stack));
		pc->df_stack_top = (uint64_t)(bsp_df_stack + sizeof(bsp_df_stack));
	}
	wrmsr(MSR_GS_BASE, (uint64_t)pc);
	gdt_load(pc);
	idt_load();
}
