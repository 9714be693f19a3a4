// SPDX-License-Identifier: MIT
/*
 * The boot options: one typed table (boot/options.c), parsed once on the
 * BSP before the APs start, read-only afterwards. A new option is a row in
 * the table and an enum entry here.
 */
#pragma once

#include "arch/x86/apic.h"
#include "arch/x86/setup.h"
#include "arch/x86/shutdown.h"
#include "arch/x86/virt.h"
#include "lib/cmdline.h"
#include "lib/plant.h"

enum boot_option {
	OPTION_SCENARIO,
	OPTION_CPUS,
	OPTION_APIC,
	OPTION_CRASH,
	OPTION_DURATION_MS,
	OPTION_PLANT,
	OPTION_VIRT,
	OPTION_VCPUS,
	OPTION_MEM_PER_VCPU,
	OPTION_MMU_LOCK,
	OPTION_FLUSH,
	OPTION_FAULT,
	OPTION_OVERLAP,
	OPTION_ITERATIONS,
	OPTION_MANUAL_PROTECT,
	OPTION_MMU,
	OPTION_SEED,
	OPTION_ROUNDS,
	OPTION_LONG_MS,
	OPTION_GUEST,
	OPTION_GUEST_ARGS,
	OPTION_GUEST_MODULES,
	OPTION_MEM,
	OPTION_IO,
	OPTION_GUEST_TIMEOUT_MS,
	OPTION_BESIDE,
	OPTION_CONSOLE,
	OPTION_END,
	OPTION_NUMA,
	OPTION_PIN,
	OPTION_TIMESLICE_US,
	OPTION_VMS,
	OPTION_PLACEMENT,
	OPTION_KICK,
	OPTION_COUNT
};

/* Limits the core defines too (stress/scenario.c checks that they agree): */
#define OPTION_VCPUS_MAX 1024           /* VM_MAX_VCPUS */
#define OPTION_TIMESLICE_US_DEFAULT 2000 /* SCHED_TIMESLICE_US_DEFAULT */

enum scenario_id {
	SCENARIO_NONE,
	SCENARIO_RCU_TORTURE,
	SCENARIO_HELLO,
	SCENARIO_GUEST_FAULT,
	SCENARIO_DEMAND_PAGING,
	SCENARIO_TLB_SHOOTDOWN,
	SCENARIO_ZAP_STRESS,
	SCENARIO_DIRTY_LOG,
	SCENARIO_ACCESS_TRACKING,
	SCENARIO_SHADOW_PT,
	SCENARIO_GUEST_FUZZ,
	SCENARIO_GUEST,
	SCENARIO_ISOLATION,
	SCENARIO_RCU_GUEST,
	SCENARIO_COUNT
};
enum mmu_lock_mode { MMU_LOCK_SHARED, MMU_LOCK_EXCLUSIVE };
enum mmu_kind { MMU_TDP, MMU_SHADOW };
enum flush_mode { FLUSH_BATCHED, FLUSH_EAGER };
enum io_mode { IO_PC, IO_STRICT };
enum placement { PLACEMENT_SHARED, PLACEMENT_SPLIT };
/* scenario=guest: the control CPU's work beside a PC guest (stress/guest_beside.c). */
enum guest_beside_mode { GUEST_BESIDE_NONE, GUEST_BESIDE_DIRTY_LOG,
			 GUEST_BESIDE_DIRTY_LOG_LOCKED, GUEST_BESIDE_AGE, GUEST_BESIDE_AGE_LOCKED };
/* What the guest_fault scenario's guest does wrong (guest/misbehave.c agrees). */
enum guest_fault_kind { FAULT_WILD, FAULT_TRIPLE, FAULT_HYPERCALL, FAULT_VIRT_INSN, FAULT_IO,
			FAULT_PRINT, FAULT_PT_RMW, FAULT_CR4, FAULT_IRQ_OFF,
			/* guest/hostile.c: the architecture lets these finish */
			FAULT_PT_RACE, FAULT_STRADDLE, FAULT_ALIAS, FAULT_CR8, FAULT_CR_WALK, FAULT_IRET_NT,
			FAULT_STALE_READ,
			/* guest/hostile.c: these must be stopped */
			FAULT_PF_LOOP, FAULT_IDT_EMPTY };

extern const struct opt_desc boot_option_table[OPTION_COUNT];

/* Immutable after options_parse(). */
extern uint64_t boot_options[OPTION_COUNT];

static inline uint64_t option(enum boot_option o)
{
	return boot_options[o];
}

const char *option_choice_name(enum boot_option o);
/* An OPT_STRING option's text ("" when not given). */
const char *option_str(enum boot_option o);

bool options_parse(const char *cmdline, char *err, size_t err_len);
void options_format(char *buf, size_t len);
