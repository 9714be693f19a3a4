// SPDX-License-Identifier: MIT
/*
 * scenario=guest_fault: a guest does something forbidden (fault=wild,
 * triple, hypercall, virt_insn, io, print). The hypervisor must stop that VM
 * with a message naming what it did, free it, and go on: a second VM, the
 * hello guest, then runs on the same pCPUs and must pass.
 */
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/tsc.h"
#include "boot/options.h"
#include "mm/page_alloc.h"
#include "stress/result.h"
#include "stress/scenarios.h"
#include "stress/vm_setup.h"
#include "virt/mmu.h"

#define FAULT_TIMEOUT_MS 20000
#define IRQ_OFF_ZAPS 8
#define IRQ_OFF_STOP_MS 1000

/*
 * fault=irq_off: vCPU 0 spins with IF=0 and never exits by itself. Zap all
 * guest memory now and then, so that each zap's flush must get it out of
 * the guest, then let the VM run out its time: the stop must get it out
 * too. Neither may take the host down: a flush that waits past
 * VCPU_LEAVE_BOUND_MS stops the VM instead of panicking, and both NMI a
 * vCPU that the kick IPI did not get out.
 */
static bool run_irq_off(struct vm *vm)
{
	uint64_t deadline = tsc_deadline_ms(FAULT_TIMEOUT_MS), flushes0, slowest = 0;
	gfn_t end = vm->cfg.mem_bytes >> PAGE_SHIFT;

	vm_start(vm);
	while (__atomic_load_n(&vm->vcpus[0].result[0], __ATOMIC_ACQUIRE) != 1 &&
	       !tsc_passed(deadline) && !atomic_load(&vm->stopping)) {
		rcu_quiescent_state();
		cpu_relax();
	}
	flushes0 = atomic_load(&vm->remote_flushes);
	for (unsigned int i = 0; i < IRQ_OFF_ZAPS; i++) {
		uint64_t t0 = rdtsc();

		vm_mmu_zap_range(vm, 0, end);
		slowest = rdtsc() - t0 > slowest ? rdtsc() - t0 : slowest;
		rcu_quiescent_state();
		udelay(1000); /* vCPU 0 faults its code back in */
	}
	kprintf("RESULT scenario=guest_fault phase=irq_off zaps=%u flushes=%lu nmi_kicks=%lu slowest_zap_us=%lu leave_bound_ms=%u\n",
		IRQ_OFF_ZAPS, (unsigned long)(atomic_load(&vm->remote_flushes) - flushes0),
		(unsigned long)atomic_load(&vm->nmi_kicks), (unsigned long)(tsc_to_ns(slowest) / 1000),
		VCPU_LEAVE_BOUND_MS);
	return vm_wait(vm, IRQ_OFF_STOP_MS);
}

/* The hello guest on the same pCPUs: true if it ran and every vCPU said hello. */
static bool run_next_vm(unsigned int nr, const struct vm_mmu_config *mmu, unsigned int *good)
{
	struct vm *next = scenario_vm_create("hello", nr, mmu, (uint64_t[4]){ 0 });
	bool ok;

	*good = 0;
	if (!next)
		return false;
	ok = vm_run(next, FAULT_TIMEOUT_MS);
	for (unsigned int i = 0; i < nr; i++)
		*good += next->vcpus[i].result[0] == 0x600d;
	vm_destroy(next);
	kprintf("RESULT scenario=guest_fault phase=next_vm good=%u of %u\n", *good, nr);
	return ok && *good == nr;
}

/*
 * The guest/hostile.c tests (fault=pt_race and after): what a CPU lets
 * finish must finish, each vCPU's own checks passed; what it would not
 * (pf_loop) must be stopped. Either way nothing leaks, and the next VM on
 * the same pCPUs runs.
 */
static int run_hostile(void)
{
	struct vm_mmu_config mmu = scenario_mmu_config();
	uint64_t args[4] = { option(OPTION_FAULT) - FAULT_PT_RACE };
	unsigned int nr = scenario_nr_vcpus(), good = 0;
	struct page_alloc_stats before, after;
	unsigned int next_good;
	int host_restored;
	struct vm *vm;
	bool ok, next_ok;

	page_alloc_get_stats(&before);
	vm = scenario_vm_create("hostile", nr, &mmu, args);
	if (!vm)
		return EXIT_CONFIG;
	ok = vm_run(vm, FAULT_TIMEOUT_MS);
	host_restored = atomic_load(&vm->host_state_restored);
	for (unsigned int i = 0; i < nr; i++)
		good += vm->vcpus[i].result[0] == 0x600d;
	kprintf("RESULT scenario=guest_fault phase=finish fault=%s vcpus_good=%u of %u emulated=%lu exits=%lu\n",
		option_choice_name(OPTION_FAULT), good, nr,
		(unsigned long)vm->vcpus[0].stats.emulated, (unsigned long)vm->vcpus[0].stats.exits);
	vm_destroy(vm);
	vm_mmu_drain_this_cpu();
	rcu_barrier();
	page_alloc_get_stats(&after);
	kprintf("RESULT scenario=guest_fault phase=teardown fault=%s leaked_pages=%ld host_state_restored=%d\n",
		option_choice_name(OPTION_FAULT), (long)(before.free_pages - after.free_pages),
		host_restored);
	/* Nothing the guest did may outlive it: the next VM on the same pCPUs runs. */
	next_ok = run_next_vm(nr, &mmu, &next_good);
	if (option(OPTION_FAULT) >= FAULT_PF_LOOP) /* a CPU would not let these finish */
		ok = !ok && good < nr;
	else
		ok = ok && good == nr;
	return ok && before.free_pages == after.free_pages && next_ok && !host_restored ? EXIT_PASS
											: EXIT_FAIL;
}

int scenario_guest_fault(void)
{
	struct vm_mmu_config mmu = scenario_mmu_config();
	uint64_t args[4] = { option(OPTION_FAULT) };
	unsigned int nr = scenario_nr_vcpus(), good = 0;
	struct page_alloc_stats before, after;
	struct vm *bad;
	bool bad_ok, next_ok;

	if (option(OPTION_FAULT) == FAULT_PT_RMW && option(OPTION_MMU) != MMU_SHADOW) {
		kprintf("mmuvisor: error: fault=pt_rmw needs mmu=shadow (under TDP the write is simply allowed)\n");
		return EXIT_CONFIG;
	}
	if (option(OPTION_FAULT) >= FAULT_PT_RACE)
		return run_hostile();
	page_alloc_get_stats(&before);
	bad = scenario_vm_create("misbehave", nr, &mmu, args);
	if (!bad)
		return EXIT_CONFIG;
	if (option(OPTION_FAULT) == FAULT_IRQ_OFF)
		bad_ok = run_irq_off(bad);
	else
		bad_ok = vm_run(bad, FAULT_TIMEOUT_MS);
	if (bad_ok) {
		kprintf("mmuvisor: guest_fault: fault=%s was not stopped\n",
			option_choice_name(OPTION_FAULT));
		return EXIT_FAIL;
	}
	kprintf("mmuvisor: guest_fault: vm %u stopped as it should; the hypervisor goes on\n",
		bad->id);
	vm_destroy(bad);
	rcu_barrier(); /* the MMU's tables come back after a grace period */

	next_ok = run_next_vm(nr, &mmu, &good);
	vm_mmu_drain_this_cpu();
	rcu_barrier();
	page_alloc_get_stats(&after);
	kprintf("RESULT scenario=guest_fault phase=recover fault=%s stopped=1 next_vm_good=%u of %u leaked_pages=%ld\n",
		option_choice_name(OPTION_FAULT), good, nr,
		(long)(before.free_pages - after.free_pages));
	return next_ok && good == nr && before.free_pages == after.free_pages ? EXIT_PASS
									     : EXIT_FAIL;
}
