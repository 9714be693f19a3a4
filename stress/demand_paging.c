// SPDX-License-Identifier: MIT
/*
 * scenario=demand_paging: every vCPU faults in each 4 KiB page of its region
 * (overlap=on: of one shared region), once with mmu_lock=shared and once with
 * mmu_lock=exclusive, in the same boot. The populate time is the slowest
 * vCPU's (all start together at a barrier); the per-vCPU times follow.
 */
#include "arch/x86/console.h"
#include "arch/x86/tsc.h"
#include "boot/options.h"
#include "stress/result.h"
#include "stress/scenarios.h"
#include "stress/vm_setup.h"
#include "virt/mmu.h"

#define POPULATE_TIMEOUT_MS 120000

static bool populate(bool exclusive)
{
	struct vm_mmu_config mmu = scenario_mmu_config();
	uint64_t args[4] = { option(OPTION_MEM_PER_VCPU), option(OPTION_OVERLAP) };
	uint64_t slowest = 0, pages = 0, exits = 0, halts = 0, hc_rtt = UINT64_MAX, fastest = UINT64_MAX;
	uint64_t per_fault;
	const struct mmu_stats *st;
	struct vm *vm;
	char keys[128];
	bool ok;

	mmu.policy.lock_exclusive = exclusive;
	vm = scenario_vm_create("demand_paging", scenario_nr_vcpus(), &mmu, args);
	if (!vm)
		return false;
	ok = vm_run(vm, POPULATE_TIMEOUT_MS);
	scenario_vm_keys(vm, keys, sizeof(keys));
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++) {
		const struct vcpu *v = &vm->vcpus[i];

		slowest = v->result[0] > slowest ? v->result[0] : slowest;
		fastest = v->result[0] < fastest ? v->result[0] : fastest;
		hc_rtt = v->result[2] < hc_rtt ? v->result[2] : hc_rtt;
		pages += v->result[1];
		exits += v->stats.exits;
		halts += v->stats.halts;
		kprintf("RESULT scenario=demand_paging phase=populate_vcpu %s vcpu=%u cycles=%lu ns=%lu pages=%lu faults=%lu retries=%lu\n",
			keys, i, (unsigned long)v->result[0], (unsigned long)tsc_to_ns(v->result[0]),
			(unsigned long)v->result[1], (unsigned long)v->stats.tdp_faults,
			(unsigned long)v->stats.tdp_retries);
	}
	st = vm_mmu_stats(vm);
	kprintf("RESULT scenario=demand_paging phase=populate %s overlap=%s cycles=%lu ns=%lu pages=%lu faults=%lu retries=%lu flushes=%lu ipis=%lu ipis_avoided=%lu lock_read=%lu lock_write=%lu exits=%lu\n",
		keys, option(OPTION_OVERLAP) ? "on" : "off", (unsigned long)slowest,
		(unsigned long)tsc_to_ns(slowest), (unsigned long)pages,
		(unsigned long)atomic_load(&st->faults), (unsigned long)atomic_load(&st->retries),
		(unsigned long)atomic_load(&vm->remote_flushes),
		(unsigned long)atomic_load(&vm->ipis_sent),
		(unsigned long)atomic_load(&vm->ipis_avoided),
		(unsigned long)atomic_load(&st->lock_read), (unsigned long)atomic_load(&st->lock_write),
		(unsigned long)exits);
	/*
	 * The fastest vCPU's cycles per page: one demand fault, its exit
	 * included, against the bare exit of a hypercall. Guest RAM is zeroed
	 * when the VM is made, so no fault zeroes a data page.
	 */
	per_fault = fastest / (option(OPTION_MEM_PER_VCPU) / PAGE_SIZE);
	kprintf("RESULT scenario=demand_paging phase=fault_cost %s fault_cycles=%lu hypercall_rtt_cycles=%lu mmu_cycles_per_fault=%ld\n",
		keys, (unsigned long)per_fault, (unsigned long)hc_rtt, (long)(per_fault - hc_rtt));
	ok = ok && pages == vm->cfg.nr_vcpus * (option(OPTION_MEM_PER_VCPU) / PAGE_SIZE);
	vm_destroy(vm);
	return ok;
}

int scenario_demand_paging(void)
{
	bool shared = populate(false), exclusive = populate(true);

	return shared && exclusive ? EXIT_PASS : EXIT_FAIL;
}
