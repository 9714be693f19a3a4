// SPDX-License-Identifier: MIT
/*
 * scenario=access_tracking: populate, then rounds: the control CPU moves
 * the vCPUs to a new working set, waits until each has been over it once,
 * and ages all guest data (test-and-clear the accessed bits, then one remote
 * flush, so later accesses set them again) while the vCPUs keep touching it,
 * with age=lockless (RCU alone) and then age=locked (mmu_lock for write).
 * Every page of the round's working set was touched after the previous pass:
 * each one reported old counts as an error. Reports the aging pass time and
 * the vCPUs' access rate.
 *
 * Then the contended case, the one the lockless walk exists for: the vCPUs
 * demand-fault while the control CPU ages beside them (stress/fault_beside.c).
 */
#include "arch/x86/console.h"
#include "virt/shootdown.h"
#include "arch/x86/tsc.h"
#include "boot/options.h"
#include "mm/page_alloc.h"
#include "stress/result.h"
#include "stress/scenarios.h"
#include "stress/vm_setup.h"
#include "virt/mmu.h"
#include "virt/guest_abi.h"

#define WAIT_MS 60000

static bool wait_until(struct vm *vm, volatile uint64_t *word, uint64_t value)
{
	uint64_t deadline = tsc_deadline_ms(WAIT_MS);

	while (*word != value) {
		if (tsc_passed(deadline) || atomic_load(&vm->stopping))
			return false;
		rcu_quiescent_state();
		cpu_relax();
	}
	return true;
}

static bool track(bool age_locked)
{
	struct vm_mmu_config mmu = scenario_mmu_config();
	uint64_t per = option(OPTION_MEM_PER_VCPU), rounds = option(OPTION_ITERATIONS);
	unsigned int n = scenario_nr_vcpus(), order;
	gfn_t first = guest_data_base(n) >> PAGE_SHIFT, pages = n * (per >> PAGE_SHIFT);
	uint64_t age_sum = 0, young_sum = 0, touched_old = 0, accesses = 0, t_loop;
	volatile uint64_t *control;
	uint64_t *young;
	struct vm *vm;
	char keys[128];
	bool ok;

	mmu.policy.age_locked = age_locked;
	vm = scenario_vm_create("access_tracking", n, &mmu, (uint64_t[4]){ per });
	if (!vm)
		return false;
	order = page_order_for((pages + 63) / 64 * 8);
	young = page_alloc(order);
	control = vm_gpa_to_hva(vm, GUEST_CONTROL, PAGE_SIZE);
	vm_start(vm);
	ok = young != NULL;
	for (unsigned int i = 0; ok && i < n; i++)
		ok = wait_until(vm, (volatile uint64_t *)&vm->vcpus[i].result[1], 1);
	t_loop = rdtsc();
	for (uint64_t r = 1; ok && r <= rounds; r++) {
		uint64_t t0, young_now;

		control[1] = r;
		for (unsigned int i = 0; ok && i < n; i++)
			ok = wait_until(vm, &control[2 + i], r);
		if (!ok)
			break;
		__builtin_memset(young, 0, (pages + 63) / 64 * 8);
		t0 = rdtsc();
		young_now = vm_mmu_test_and_clear_young(vm, first, first + pages, young);
		/*
		 * Without this flush a vCPU keeps using its TLB entry and never
		 * sets A again: plant=age_no_flush shows whether the platform
		 * keeps TLB entries across our passes (QEMU TCG and Bochs do
		 * while the vCPU does not exit).
		 */
		if (!planted(PLANT_AGE_NO_FLUSH))
			tlb_flush_vm(vm);
		age_sum += rdtsc() - t0;
		young_sum += young_now;
		for (gfn_t g = 0; g < pages; g++) {
			uint64_t in_region = g % (per >> PAGE_SHIFT);

			if (in_region % 4 == r % 4 && !(young[g / 64] & (1ull << (g % 64)))) {
				if (!touched_old)
					kprintf("mmuvisor: access_tracking: round %lu: gpa 0x%lx was touched but reported old\n",
						(unsigned long)r,
						(unsigned long)((first + g) << PAGE_SHIFT));
				touched_old++;
			}
		}
		rcu_quiescent_state();
	}
	t_loop = rdtsc() - t_loop;
	control[0] = 1;
	ok = vm_wait(vm, WAIT_MS) && ok;
	for (unsigned int i = 0; i < n; i++)
		accesses += vm->vcpus[i].result[0];
	scenario_vm_keys(vm, keys, sizeof(keys));
	kprintf("RESULT scenario=access_tracking phase=age %s age=%s rounds=%lu pages=%lu age_cycles_avg=%lu young_avg=%lu vcpu_accesses_per_mcycle=%lu touched_old=%lu\n",
		keys, age_locked ? "locked" : "lockless", (unsigned long)rounds, (unsigned long)pages,
		(unsigned long)(age_sum / (rounds ? rounds : 1)),
		(unsigned long)(young_sum / (rounds ? rounds : 1)),
		(unsigned long)(t_loop ? accesses * 1000000 / t_loop : 0), (unsigned long)touched_old);
	if (young)
		page_free(young, order);
	vm_destroy(vm);
	return ok && !touched_old;
}

/*
 * Both aging modes in one boot: under RCU alone, then under mmu_lock (W);
 * then the same two against vCPUs that fault all the while.
 */
int scenario_access_tracking(void)
{
	bool lockless = track(false), locked = track(true);
	bool contended = scenario_fault_beside("access_tracking", BESIDE_AGE);

	return lockless && locked && contended ? EXIT_PASS : EXIT_FAIL;
}
