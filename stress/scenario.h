// SPDX-License-Identifier: MIT
/* The serial-console scenarios: one per boot, chosen by scenario=<name>. */
#pragma once

/* Run the scenario the options name on the control CPU; returns an exit_status. */
int scenario_run(void);
