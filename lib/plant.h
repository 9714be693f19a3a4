// SPDX-License-Identifier: MIT
/*
 * Bugs planted on purpose (boot option plant=), so that a scenario shows its
 * checks can fail. The one switch is planted_bug: the top-level main sets it
 * from the option before any vCPU or scenario runs, and nothing writes it
 * after; code that carries a plant asks planted(), never the options.
 *
 * The host harness plants its bugs at build time instead (-D..._PLANT_...
 * in tests/host/host.mk), so that mm/ carries no switch at run time.
 */
#pragma once

#include <stdbool.h>

enum plant_kind {
	PLANT_NONE,
	PLANT_RCU_EARLY_FREE, /* stress/rcu_torture.c frees without a grace period */
	PLANT_SHOOTDOWN_SKIP, /* virt/shootdown.c leaves one vCPU out of each flush */
	PLANT_DIRTY_LOG_MISS, /* virt/dirty_log.c forgets one dirty page in 64 */
	PLANT_AGE_NO_FLUSH,   /* stress/access_tracking.c ages without a flush */
	PLANT_CROSS_VM,       /* virt/vm.c backs the second VM of a group's data with the first's */
	PLANT_KICK_ALL,       /* virt/shootdown.c kicks every pCPU, not only the VM's */
};

extern enum plant_kind planted_bug; /* immutable once the scenario starts */

static inline bool planted(enum plant_kind k)
{
	return __builtin_expect(planted_bug == k, 0);
}
