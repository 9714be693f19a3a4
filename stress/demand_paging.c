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

/* What one populate measured, for the summary. */
struct populate_run {
	bool ok;
	uint64_t cycles, faults, retries, flushes, lock_read, lock_write;
};

static struct populate_run populate(bool exclusive)
{
	struct populate_run run = { 0 };
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
		return run;
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
	run = (struct populate_run){
		.ok = ok && pages == vm->cfg.nr_vcpus * (option(OPTION_MEM_PER_VCPU) / PAGE_SIZE),
		.cycles = slowest,
		.faults = atomic_load(&st->faults),
		.retries = atomic_load(&st->retries),
		.flushes = atomic_load(&vm->remote_flushes),
		.lock_read = atomic_load(&st->lock_read),
		.lock_write = atomic_load(&st->lock_write),
	};
	vm_destroy(vm);
	return run;
}

static void print_run(const char *name, const struct populate_run *r)
{
	kprintf("mmuvisor: summary:   %-9s %lu cycles for %lu faults (%lu retried), mmu_lock taken %lu times shared and %lu exclusive, %lu remote TLB flushes\n",
		name, (unsigned long)r->cycles, (unsigned long)r->faults, (unsigned long)r->retries,
		(unsigned long)r->lock_read, (unsigned long)r->lock_write,
		(unsigned long)r->flushes);
}

/* The lines a person reads first: what was compared, and by how much. */
static void print_summary(const struct populate_run *shared, const struct populate_run *excl)
{
	uint64_t x100 = shared->cycles ? excl->cycles * 100 / shared->cycles : 0;

	kprintf("mmuvisor: summary: %u vCPUs each faulted in %lu KiB of fresh guest memory at once, twice:\n",
		scenario_nr_vcpus(), (unsigned long)(option(OPTION_MEM_PER_VCPU) >> 10));
	print_run("shared:", shared);
	print_run("exclusive:", excl);
	kprintf("mmuvisor: summary: mmu_lock=exclusive took %lu.%02lux the cycles of mmu_lock=shared (above 1: the faults gained by running in parallel under the shared lock)\n",
		(unsigned long)(x100 / 100), (unsigned long)(x100 % 100));
	kprintf("mmuvisor: summary: cycles are the TSC: Bochs counts instructions (an ideal machine, ACCEL=bochs), QEMU TCG serialises every VM exit, so only Bochs and hardware show the lock's real effect.\n");
}

int scenario_demand_paging(void)
{
	struct populate_run shared = populate(false), exclusive = populate(true);

	if (shared.ok && exclusive.ok)
		print_summary(&shared, &exclusive);
	return shared.ok && exclusive.ok ? EXIT_PASS : EXIT_FAIL;
}
