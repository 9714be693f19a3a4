// SPDX-License-Identifier: MIT
#include "arch/x86/console.h"
#include "arch/x86/smp.h"
#include "arch/x86/virt.h"
#include "mm/ept/tdp_mmu.h"
#include "boot/options.h"
#include "stress/guests.h"
#include "stress/result.h"
#include "virt/shootdown.h"
#include "stress/scenario.h"
#include "stress/scenarios.h"
#include "virt/sched.h"
#include "virt/vm.h"

_Static_assert(OPTION_VCPUS_MAX == VM_MAX_VCPUS, "vcpus= allows what a VM can have");
_Static_assert(OPTION_TIMESLICE_US_DEFAULT == SCHED_TIMESLICE_US_DEFAULT, "one default time slice");

/* scenario=none: the platform checks in setup.c are the whole test. */
static int scenario_none(void)
{
	return EXIT_PASS;
}

static const struct scenario {
	int (*run)(void);
	bool needs_virt; /* runs guests: pick and check the backend first */
} scenarios[SCENARIO_COUNT] = {
	[SCENARIO_NONE] = { scenario_none, false },
	[SCENARIO_RCU_TORTURE] = { scenario_rcu_torture, false },
	[SCENARIO_HELLO] = { scenario_hello, true },
	[SCENARIO_GUEST_FAULT] = { scenario_guest_fault, true },
	[SCENARIO_DEMAND_PAGING] = { scenario_demand_paging, true },
	[SCENARIO_TLB_SHOOTDOWN] = { scenario_tlb_shootdown, true },
	[SCENARIO_ZAP_STRESS] = { scenario_zap_stress, true },
	[SCENARIO_DIRTY_LOG] = { scenario_dirty_log, true },
	[SCENARIO_ACCESS_TRACKING] = { scenario_access_tracking, true },
	[SCENARIO_SHADOW_PT] = { scenario_shadow_pt, true },
	[SCENARIO_GUEST_FUZZ] = { scenario_guest_fuzz, true },
	[SCENARIO_GUEST] = { scenario_guest, true },
	[SCENARIO_ISOLATION] = { scenario_isolation, true },
	[SCENARIO_RCU_GUEST] = { scenario_rcu_guest, true },
};

int scenario_run(void)
{
	const struct scenario *s = &scenarios[option(OPTION_SCENARIO)];
	char err[200];

	if (s->needs_virt) {
		if (option(OPTION_SCENARIO) != SCENARIO_GUEST) /* it names its own modules */
			guest_modules_check();
		if (!virt_select(option(OPTION_VIRT), option(OPTION_MMU) == MMU_TDP, err, sizeof(err))) {
			kprintf("mmuvisor: error: %s\n", err);
			result_done(EXIT_CONFIG, "cpu-feature");
		}
		if (smp_cpus_online() < 2) {
			kprintf("mmuvisor: error: scenario=%s runs vCPUs beside the control CPU: boot with 2 or more CPUs\n",
				option_choice_name(OPTION_SCENARIO));
			result_done(EXIT_CONFIG, "too-few-cpus");
		}
		sched_configure(option(OPTION_PIN), (unsigned int)option(OPTION_TIMESLICE_US));
		shootdown_configure((enum flush_kick)option(OPTION_KICK)); /* the choices' order */
		if (option(OPTION_VMS) > 1 && option(OPTION_SCENARIO) != SCENARIO_ISOLATION &&
		    option(OPTION_SCENARIO) != SCENARIO_DEMAND_PAGING) {
			kprintf("mmuvisor: error: vms=%lu: only scenario=isolation and scenario=demand_paging run several VMs; drop vms= or pick one of them\n",
				(unsigned long)option(OPTION_VMS));
			result_done(EXIT_CONFIG, "config");
		}
	}
	return s->run();
}
