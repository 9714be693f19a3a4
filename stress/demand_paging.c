// SPDX-License-Identifier: MIT
/*
 * scenario=demand_paging: every vCPU faults in each 4 KiB page of its region
 * (overlap=on: of one shared region), once with mmu_lock=shared and once with
 * mmu_lock=exclusive, in the same boot. The populate time is the slowest
 * vCPU's (all start together at a barrier); the per-vCPU times follow.
 * vms=K runs K such VMs at once, each with its own lines (vm=).
 */
#include "arch/x86/console.h"
#include "arch/x86/tsc.h"
#include "boot/options.h"
#include "stress/result.h"
#include "stress/scenarios.h"
#include "stress/vm_setup.h"
#include "lib/printf.h"
#include "virt/mmu.h"
#include "virt/sched.h"

#define POPULATE_TIMEOUT_MS 120000
#define MAX_VMS 16

/* What one populate measured, for the summary. */
struct populate_run {
	bool ok;
	uint64_t cycles, faults, retries, flushes, lock_read, lock_write;
};

/* One VM's lines, and its part of the run (a run over several VMs sums them). */
static void report_vm(struct vm *vm, const char *vm_key, struct populate_run *run,
		      uint64_t *pages_out)
{
	uint64_t slowest = 0, pages = 0, exits = 0, hc_rtt = UINT64_MAX, fastest = UINT64_MAX;
	uint64_t first = UINT64_MAX, last = 0, per_fault;
	const struct mmu_stats *st;
	char keys[128];

	scenario_vm_keys(vm, keys, sizeof(keys));
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++) {
		const struct vcpu *v = &vm->vcpus[i];

		slowest = v->result[0] > slowest ? v->result[0] : slowest;
		fastest = v->result[0] < fastest ? v->result[0] : fastest;
		hc_rtt = v->result[2] < hc_rtt ? v->result[2] : hc_rtt;
		pages += v->result[1];
		exits += v->stats.exits;
		if (v->result[3] && v->result[3] - v->result[0] < first)
			first = v->result[3] - v->result[0];
		last = v->result[3] > last ? v->result[3] : last;
		kprintf("RESULT scenario=demand_paging phase=populate_vcpu %s%s vcpu=%u cycles=%lu ns=%lu pages=%lu faults=%lu retries=%lu\n",
			vm_key, keys, i, (unsigned long)v->result[0], (unsigned long)tsc_to_ns(v->result[0]),
			(unsigned long)v->result[1], (unsigned long)v->stats.tdp_faults,
			(unsigned long)v->stats.tdp_retries);
	}
	st = vm_mmu_stats(vm);
	/*
	 * cycles: the slowest vCPU's own populate; span_cycles: from the
	 * first vCPU's start to the last one's end, which is what a VM whose
	 * vCPUs share pCPUs takes (they start at a barrier but run in turns).
	 */
	kprintf("RESULT scenario=demand_paging phase=populate %s%s overlap=%s cycles=%lu ns=%lu pages=%lu faults=%lu retries=%lu flushes=%lu ipis=%lu ipis_avoided=%lu lock_read=%lu lock_write=%lu exits=%lu span_cycles=%lu\n",
		vm_key, keys, option(OPTION_OVERLAP) ? "on" : "off", (unsigned long)slowest,
		(unsigned long)tsc_to_ns(slowest), (unsigned long)pages,
		(unsigned long)atomic_load(&st->faults), (unsigned long)atomic_load(&st->retries),
		(unsigned long)atomic_load(&vm->remote_flushes),
		(unsigned long)atomic_load(&vm->ipis_sent),
		(unsigned long)atomic_load(&vm->ipis_avoided),
		(unsigned long)atomic_load(&st->lock_read), (unsigned long)atomic_load(&st->lock_write),
		(unsigned long)exits, (unsigned long)(last > first ? last - first : 0));
	/*
	 * The fastest vCPU's cycles per page: one demand fault, its exit
	 * included, against the bare exit of a hypercall. Guest RAM is zeroed
	 * when the VM is made, so no fault zeroes a data page.
	 */
	per_fault = fastest / (option(OPTION_MEM_PER_VCPU) / PAGE_SIZE);
	kprintf("RESULT scenario=demand_paging phase=fault_cost %s%s fault_cycles=%lu hypercall_rtt_cycles=%lu mmu_cycles_per_fault=%ld\n",
		vm_key, keys, (unsigned long)per_fault, (unsigned long)hc_rtt, (long)(per_fault - hc_rtt));
	vm_breakdown_print(vm, "demand_paging", keys); /* make BREAKDOWN=1 only */
	run->cycles = slowest > run->cycles ? slowest : run->cycles;
	run->faults += atomic_load(&st->faults);
	run->retries += atomic_load(&st->retries);
	run->flushes += atomic_load(&vm->remote_flushes);
	run->lock_read += atomic_load(&st->lock_read);
	run->lock_write += atomic_load(&st->lock_write);
	*pages_out = pages;
}

/*
 * One populate: vms= VMs (0 or 1: one alone) of scenario_nr_vcpus() vCPUs,
 * launched together on the pCPUs they share or split (placement=).
 */
static struct populate_run populate(bool exclusive)
{
	struct populate_run run = { 0 };
	struct vm_mmu_config mmu = scenario_mmu_config();
	uint64_t args[4] = { option(OPTION_MEM_PER_VCPU), option(OPTION_OVERLAP) };
	unsigned int nr_vms = option(OPTION_VMS) ? (unsigned int)option(OPTION_VMS) : 1;
	struct vm *vms[MAX_VMS] = { 0 };
	bool ok = true;

	mmu.policy.lock_exclusive = exclusive;
	for (unsigned int k = 0; k < nr_vms && ok; k++) {
		struct vm_config cfg;
		char err[160];

		ok = scenario_vm_config("demand_paging", scenario_nr_vcpus(), &mmu, args, &cfg);
		if (!ok)
			break;
		if (nr_vms > 1) {
			cfg.place_index = k;
			cfg.place_count = nr_vms;
			cfg.place_split = option(OPTION_PLACEMENT) == PLACEMENT_SPLIT;
		}
		vms[k] = vm_create(&cfg, err, sizeof(err));
		if (!vms[k]) {
			kprintf("mmuvisor: error: cannot create VM %u of %u: %s\n", k + 1, nr_vms, err);
			ok = false;
		}
	}
	if (ok && nr_vms == 1) {
		ok = vm_run(vms[0], POPULATE_TIMEOUT_MS);
	} else if (ok) {
		sched_launch(vms, nr_vms);
		ok = vm_group_wait(vms, nr_vms, POPULATE_TIMEOUT_MS);
	}
	for (unsigned int k = 0; ok && k < nr_vms; k++) {
		char vm_key[16] = "";
		uint64_t pages;

		if (nr_vms > 1)
			fmt_snprintf(vm_key, sizeof(vm_key), "vm=%u ", k);
		report_vm(vms[k], vm_key, &run, &pages);
		ok = pages == vms[k]->cfg.nr_vcpus * (option(OPTION_MEM_PER_VCPU) / PAGE_SIZE);
	}
	run.ok = ok;
	for (unsigned int k = 0; k < nr_vms; k++)
		if (vms[k])
			vm_destroy(vms[k]);
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
		scenario_nr_vcpus() * (option(OPTION_VMS) ? (unsigned int)option(OPTION_VMS) : 1),
		(unsigned long)(option(OPTION_MEM_PER_VCPU) >> 10));
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
