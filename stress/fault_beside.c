// SPDX-License-Identifier: MIT
/*
 * The contended case of aging and write-protect, the one their lockless
 * walks exist for: the vCPUs demand-fault their regions in (the
 * demand_paging guest) while the control CPU runs passes over guest data,
 * 2 MiB at a time round robin, each followed by a pause as long as itself
 * (the passes take half its time): with no passes, then lockless passes, then locked ones
 * (mmu_lock held for write, so every fault that comes during a pass waits).
 * Reports the populate time (the slowest vCPU's), against the run with no
 * passes, and how many passes went by in it.
 */
#include "arch/x86/console.h"
#include "arch/x86/ipi.h"
#include "virt/shootdown.h"
#include "arch/x86/tsc.h"
#include "boot/options.h"
#include "stress/scenarios.h"
#include "stress/vm_setup.h"
#include "virt/guest_abi.h"
#include "virt/mmu.h"
#include "virt/vcpu.h"

#define BESIDE_WAIT_MS 120000
/*
 * Each pass covers the next 2 MiB of guest data, round robin, so that it
 * holds the lock (locked) for as long whatever the number of vCPUs.
 */
#define BESIDE_CHUNK 512

enum pass_mode { PASS_NONE, PASS_LOCKLESS, PASS_LOCKED };

/* One pass over [first, first + pages): what it changed. */
static uint64_t one_pass(struct vm *vm, enum beside_op op, gfn_t first, gfn_t pages,
			 uint64_t *bits)
{
	uint64_t n;

	if (op == BESIDE_WP)
		return vm_mmu_write_protect_range(vm, first, first + pages); /* flushes itself */
	n = vm_mmu_test_and_clear_young(vm, first, first + pages, bits);
	tlb_flush_vm(vm); /* so that later accesses set A again */
	return n;
}

static bool run(const char *scenario, enum beside_op op, enum pass_mode mode,
		uint64_t *baseline)
{
	static const char *const modes[] = { "none", "lockless", "locked" };
	struct vm_mmu_config mmu = scenario_mmu_config();
	uint64_t per = option(OPTION_MEM_PER_VCPU);
	unsigned int n = scenario_nr_vcpus();
	gfn_t first = guest_data_base(n) >> PAGE_SHIFT, pages = n * (per >> PAGE_SHIFT);
	uint64_t passes = 0, changed = 0, slowest = 0, faulted = 0, pass_cycles = 0;
	uint64_t bits[BESIDE_CHUNK / 64]; /* aging's young bits of one pass */
	const struct mmu_stats *st;
	uint64_t deadline;
	struct vm *vm;
	char keys[128];
	bool ok, failed = false;

	if (op == BESIDE_WP)
		mmu.policy.wp_locked = mode == PASS_LOCKED;
	else
		mmu.policy.age_locked = mode == PASS_LOCKED;
	vm = scenario_vm_create("demand_paging", n, &mmu, (uint64_t[4]){ per, 0 });
	if (!vm)
		return false;
	vm_start(vm);
	deadline = tsc_deadline_ms(BESIDE_WAIT_MS);
	/* At least one pass, even if the vCPUs are done before it (a busy host under TCG). */
	while (mode != PASS_NONE && (!passes || (atomic_load(&vm->vcpus_done) < n &&
						  !atomic_load(&vm->stopping)))) {
		gfn_t at = (passes * BESIDE_CHUNK) % pages;
		uint64_t t0 = rdtsc(), dt;

		changed += one_pass(vm, op, first + at,
				    pages - at < BESIDE_CHUNK ? pages - at : BESIDE_CHUNK, bits);
		dt = rdtsc() - t0;
		pass_cycles += dt;
		passes++;
		/* As long again between passes: back to back, a locked one can starve a fault outright. */
		for (uint64_t t1 = rdtsc(); rdtsc() - t1 < dt && atomic_load(&vm->vcpus_done) < n;) {
			smp_call_handle();
			rcu_quiescent_state();
			cpu_relax();
		}
		if (tsc_passed(deadline)) {
			kprintf("mmuvisor: %s: the vCPUs did not finish populating beside %s passes in %u ms\n",
				scenario, modes[mode], BESIDE_WAIT_MS);
			vm_stop(vm);
			failed = true;
			break;
		}
	}
	ok = vm_wait(vm, BESIDE_WAIT_MS) && !failed;
	for (unsigned int i = 0; i < n; i++) {
		slowest = vm->vcpus[i].result[0] > slowest ? vm->vcpus[i].result[0] : slowest;
		faulted += vm->vcpus[i].result[1];
	}
	if (mode == PASS_NONE)
		*baseline = slowest;
	st = vm_mmu_stats(vm);
	scenario_vm_keys(vm, keys, sizeof(keys));
	kprintf("RESULT scenario=%s phase=%s %s %s=%s pages=%lu populate_cycles=%lu populate_over_none_x100=%lu passes=%lu pass_cycles_avg=%lu changed=%lu lock_write=%lu\n",
		scenario, op == BESIDE_WP ? "fault_while_wp" : "fault_while_aging", keys,
		op == BESIDE_WP ? "wp" : "age", modes[mode], (unsigned long)faulted,
		(unsigned long)slowest, (unsigned long)(*baseline ? slowest * 100 / *baseline : 0),
		(unsigned long)passes, (unsigned long)(passes ? pass_cycles / passes : 0),
		(unsigned long)changed, (unsigned long)atomic_load(&st->lock_write));
	ok = ok && faulted == pages;
	vm_destroy(vm);
	return ok;
}

bool scenario_fault_beside(const char *scenario, enum beside_op op)
{
	uint64_t baseline = 0;

	return run(scenario, op, PASS_NONE, &baseline) &&
	       run(scenario, op, PASS_LOCKLESS, &baseline) &&
	       run(scenario, op, PASS_LOCKED, &baseline);
}
