// SPDX-License-Identifier: MIT
#include "arch/x86/console.h"
#include "boot/options.h"
#include "stress/result.h"
#include "stress/scenario.h"
#include "stress/scenarios.h"

/* scenario=none: the platform checks in setup.c are the whole test. */
static int scenario_none(void)
{
	return EXIT_PASS;
}

static int (*const scenario_runners[SCENARIO_COUNT])(void) = {
	[SCENARIO_NONE] = scenario_none,
	[SCENARIO_RCU_TORTURE] = scenario_rcu_torture,
};

int scenario_run(void)
{
	return scenario_runners[option(OPTION_SCENARIO)]();
}
