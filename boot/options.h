// SPDX-License-Identifier: MIT
/*
 * The boot options: one typed table (boot/options.c), parsed once on the
 * BSP before the APs start, read-only afterwards. A new option is a row in
 * the table and an enum entry here.
 */
#pragma once

#include "lib/cmdline.h"

enum boot_option {
	OPTION_SCENARIO,
	OPTION_CPUS,
	OPTION_APIC,
	OPTION_CRASH,
	OPTION_DURATION_MS,
	OPTION_PLANT,
	OPTION_COUNT
};

enum scenario_id { SCENARIO_NONE, SCENARIO_RCU_TORTURE, SCENARIO_COUNT };
enum apic_mode { APIC_MODE_AUTO, APIC_MODE_XAPIC, APIC_MODE_X2APIC };
enum crash_kind { CRASH_NONE, CRASH_UD, CRASH_PF, CRASH_GP };
/* Bugs planted on purpose, to show that a scenario's checks can fail. */
enum plant_kind { PLANT_NONE, PLANT_RCU_EARLY_FREE };

extern const struct opt_desc boot_option_table[OPTION_COUNT];

/* Immutable after options_parse(). */
extern uint64_t boot_options[OPTION_COUNT];

static inline uint64_t option(enum boot_option o)
{
	return boot_options[o];
}

const char *option_choice_name(enum boot_option o);

bool options_parse(const char *cmdline, char *err, size_t err_len);
void options_format(char *buf, size_t len);
