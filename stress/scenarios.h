// SPDX-License-Identifier: MIT
/* One entry point per scenario; stress/scenario.c maps scenario=<name> to them. */
#pragma once

int scenario_rcu_torture(void);
