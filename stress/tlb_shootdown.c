// SPDX-License-Identifier: MIT
/*
 * scenario=tlb_shootdown: vCPUs spin in guest mode; the control CPU times
 * remote flushes aimed at 1..N of them, beside a bare IPI round trip to an
 * idle pCPU. After each flush it checks the protocol's promise (every vCPU
 * in the guest has served it: virt/shootdown.c); plant=shootdown_skip leaves
 * one target out, and that check must then fail.
 */
#include "arch/x86/console.h"
#include "arch/x86/smp.h"
#include "virt/shootdown.h"
#include "arch/x86/tsc.h"
#include "stress/result.h"
#include "stress/scenarios.h"
#include "stress/vm_setup.h"
#include "virt/guest_abi.h"

#define ROUNDS 64
#define READY_TIMEOUT_MS 20000
#define RUN_TIMEOUT_MS 60000

static void noop(void *arg)
{
	(void)arg;
}

static uint64_t bare_ipi_round_trip(unsigned int cpu)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < ROUNDS; i++) {
		uint64_t t0 = rdtsc(), dt;

		smp_call_one(cpu, noop, NULL);
		dt = rdtsc() - t0;
		best = dt < best ? dt : best;
	}
	return best;
}

int scenario_tlb_shootdown(void)
{
	struct vm_mmu_config mmu = scenario_mmu_config();
	unsigned int n = scenario_nr_vcpus();
	uint64_t ipi_rtt = bare_ipi_round_trip(1);
	struct vm *vm = scenario_vm_create("spin", n, &mmu, (uint64_t[4]){ 0 });
	cpumask_t targets;
	bool ok;

	if (!vm)
		return EXIT_CONFIG;
	cpumask_clear(&targets);
	vm_start(vm);
	ok = scenario_wait_all_reported(vm, 0, 1, READY_TIMEOUT_MS);
	for (unsigned int k = 1; ok && k <= n; k++) {
		uint64_t best = UINT64_MAX, sum = 0, ipis0 = atomic_load(&vm->ipis_sent);
		uint64_t avoided0 = atomic_load(&vm->ipis_avoided);

		cpumask_set(&targets, vm->vcpus[k - 1].pcpu);
		for (int r = 0; r < ROUNDS; r++) {
			uint64_t t0 = rdtsc(), dt;

			tlb_flush_vcpus(vm, &targets);
			dt = rdtsc() - t0;
			best = dt < best ? dt : best;
			sum += dt;
		}
		kprintf("RESULT scenario=tlb_shootdown phase=flush vcpus=%u targets=%u cycles_min=%lu cycles_avg=%lu ns_avg=%lu ipi_rtt_cycles=%lu min_over_ipi_rtt_x100=%lu ipis=%lu ipis_avoided=%lu\n",
			n, k, (unsigned long)best, (unsigned long)(sum / ROUNDS),
			(unsigned long)tsc_to_ns(sum / ROUNDS), (unsigned long)ipi_rtt,
			(unsigned long)(ipi_rtt ? best * 100 / ipi_rtt : 0),
			(unsigned long)(atomic_load(&vm->ipis_sent) - ipis0),
			(unsigned long)(atomic_load(&vm->ipis_avoided) - avoided0));
	}
	*(volatile uint64_t *)vm_gpa_to_hva(vm, GUEST_CONTROL, 8) = 1;
	ok = vm_wait(vm, RUN_TIMEOUT_MS) && ok;
	kprintf("RESULT scenario=tlb_shootdown phase=check flushes=%lu violations=%lu\n",
		(unsigned long)atomic_load(&vm->remote_flushes),
		(unsigned long)atomic_load(&vm->shootdown_violations));
	if (atomic_load(&vm->shootdown_violations)) {
		kprintf("mmuvisor: tlb_shootdown: %lu times a vCPU was in the guest without having served a finished flush\n",
			(unsigned long)atomic_load(&vm->shootdown_violations));
		ok = false;
	}
	vm_destroy(vm);
	return ok ? EXIT_PASS : EXIT_FAIL;
}
