// SPDX-License-Identifier: MIT
/*
 * Where the cycles of an exit go (make BREAKDOWN=1): the vCPU's pCPU
 * stamps the TSC at each phase of the run loop (virt/vcpu.c) and of the
 * backend's VMRUN (arch/x86/virt.h, BREAKDOWN_STAMP), and sums each exit's
 * phases by kind of exit. An exit is the stretch from one VM entry to the
 * next, cut into:
 *   guest_hw      VMRUN/VMRESUME to its return: the hardware's entry and
 *                 exit and the guest's own instructions in between
 *   backend_exit  the backend after VMRUN: guest state read back, decoded
 *   core_exit     leaving guest mode: RCU online, mode, interrupt window
 *   handler       the exit's handler, less the three below
 *   mmu_prep      a TDP fault: from its handler's start to mmu_lock held
 *                 (the slot lookup, the table cache topped up, the lock)
 *   mmu_walk      ... to the leaf about to be set (the walk, tables linked)
 *   mmu_install   ... to mmu_lock dropped (the leaf set, a flush if owed)
 *                 (the fast path and spurious faults count in handler)
 *   requests      the loop's top: requests served, a quiescent state
 *   core_entry    entering guest mode: mode, the request check, RCU offline
 *   backend_entry the backend before VMRUN: guest state written
 * Without BREAKDOWN=1 none of it is compiled: the hooks below are empty.
 */
#pragma once

#include <stdint.h>

struct vcpu;
struct vm;

enum bd_kind { BD_TDP_FAULT, BD_GUEST_PF, BD_HYPERCALL, BD_OTHER, BD_KINDS };
enum bd_phase {
	BD_GUEST_HW, BD_BACKEND_EXIT, BD_CORE_EXIT, BD_HANDLER, BD_MMU_PREP, BD_MMU_WALK,
	BD_MMU_INSTALL, BD_REQUESTS, BD_CORE_ENTRY, BD_BACKEND_ENTRY, BD_PHASES
};

/* Per vCPU, on its pCPU; the control CPU reads it once the vCPU is done. */
struct vcpu_breakdown {
	uint64_t t_loop_exit, t_dispatch, t_handled, t_after_handled, t_requests, t_entry;
	uint64_t cur[BD_PHASES];  /* the exit being measured */
	int cur_kind;             /* -1: none yet */
	uint64_t sum[BD_KINDS][BD_PHASES];
	uint64_t count[BD_KINDS];
};

#ifdef EXIT_BREAKDOWN
/* Right after the backend's vcpu_run: close the last exit, open this one. */
void breakdown_exit(struct vcpu *v);
/* After handle_exit: the handler's time. */
void breakdown_handled(struct vcpu *v);
/*
 * One RESULT line per kind of exit the VM's vCPUs took (averages over all
 * its vCPUs): "RESULT scenario=<scenario> phase=breakdown <keys> exit=...".
 */
void vm_breakdown_print(const struct vm *vm, const char *scenario, const char *keys);
#define BREAKDOWN_TIME(v, field) ((v)->breakdown.field = rdtsc())
#else
static inline void breakdown_exit(struct vcpu *v) { (void)v; }
static inline void breakdown_handled(struct vcpu *v) { (void)v; }
static inline void vm_breakdown_print(const struct vm *vm, const char *scenario, const char *keys)
{
	(void)vm, (void)scenario, (void)keys;
}
#define BREAKDOWN_TIME(v, field) ((void)0)
#endif
