// SPDX-License-Identifier: MIT
/* One entry point per scenario; stress/scenario.c maps scenario=<name> to them. */
#pragma once

int scenario_rcu_torture(void);
int scenario_hello(void);
int scenario_guest_fault(void);
int scenario_demand_paging(void);
int scenario_tlb_shootdown(void);
int scenario_zap_stress(void);
int scenario_dirty_log(void);
int scenario_access_tracking(void);
int scenario_shadow_pt(void);
int scenario_guest_fuzz(void);
int scenario_guest(void);
int scenario_isolation(void);
int scenario_rcu_guest(void);
