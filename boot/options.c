// SPDX-License-Identifier: MIT
#include "boot/options.h"

static const char *const scenario_choices[] = { "none", "rcu_torture", NULL };
static const char *const apic_choices[] = { "auto", "xapic", "x2apic", NULL };
static const char *const crash_choices[] = { "none", "ud", "pf", "gp", NULL };
static const char *const plant_choices[] = { "none", "rcu_early_free", NULL };

_Static_assert(sizeof(scenario_choices) / sizeof(scenario_choices[0]) == SCENARIO_COUNT + 1,
	       "every scenario_id needs a name, and stress/scenario.c a runner");

const struct opt_desc boot_option_table[OPTION_COUNT] = {
	[OPTION_SCENARIO] = { .name = "scenario", .type = OPT_ENUM,
			      .choices = scenario_choices, .def = SCENARIO_NONE,
			      .help = "the stress scenario to run (one per boot)" },
	[OPTION_CPUS] = { .name = "cpus", .type = OPT_UINT, .min = 1, .max = 64, .def = 64,
			  .help = "bring up at most this many CPUs (the BSP included)" },
	[OPTION_APIC] = { .name = "apic", .type = OPT_ENUM, .choices = apic_choices,
			  .def = APIC_MODE_AUTO,
			  .help = "local APIC mode: x2APIC whenever the CPU has it, or forced" },
	[OPTION_CRASH] = { .name = "crash", .type = OPT_ENUM, .choices = crash_choices,
			   .def = CRASH_NONE,
			   .help = "fault on the last CPU on purpose, to test the exception path" },
	[OPTION_DURATION_MS] = { .name = "duration_ms", .type = OPT_UINT, .min = 10,
				 .max = 3600000, .def = 1000,
				 .help = "how long a timed scenario (rcu_torture) runs" },
	[OPTION_PLANT] = { .name = "plant", .type = OPT_ENUM, .choices = plant_choices,
			   .def = PLANT_NONE,
			   .help = "plant a known bug, to show the scenario's checks catch it" },
};

uint64_t boot_options[OPTION_COUNT];

const char *option_choice_name(enum boot_option o)
{
	return boot_option_table[o].choices[boot_options[o]];
}

bool options_parse(const char *cmdline, char *err, size_t err_len)
{
	return cmdline_parse(cmdline, boot_option_table, OPTION_COUNT, boot_options, err,
			     err_len);
}

void options_format(char *buf, size_t len)
{
	cmdline_format(boot_option_table, OPTION_COUNT, boot_options, buf, len);
}
