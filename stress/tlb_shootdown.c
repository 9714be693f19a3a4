// SPDX-License-Identifier: MIT
/*
 * scenario=tlb_shootdown: vCPUs spin in guest mode; the control CPU times
 * remote flushes aimed at 1..N of them, with kick=guest and then with
 * kick=early (virt/shootdown.c), beside a bare IPI round trip to an
 * idle pCPU and a bare fan-out (smp_call_many of a no-op: the same ICR
 * writes, no guest to leave) to the same 1..N pCPUs while they are idle. Each
 * timed flush starts with every target back in guest mode: one that finds a
 * target still serving the last flush sends it no IPI and waits for nothing,
 * and would be timed as a flush it was not. After each flush, outside the
 * timing, it checks the protocol's promise (every target in the guest has
 * served it: tlb_flush_check); plant=shootdown_skip leaves one target out,
 * and that check must then fail.
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

/*
 * The bare fan-out to each prefix of the vCPUs' pCPUs, taken before the VM
 * starts (the pCPUs idle in the host): one smp_call_many() of a no-op, every
 * IPI sent before the first wait. fanout[k - 1] is the fastest for k pCPUs.
 */
static void bare_ipi_fanout(const struct vm *vm, unsigned int n, uint64_t *fanout)
{
	cpumask_t set;

	cpumask_clear(&set);
	for (unsigned int k = 1; k <= n; k++) {
		uint64_t best = UINT64_MAX;

		cpumask_set(&set, vm->vcpus[k - 1].pcpu);
		for (int i = 0; i < ROUNDS; i++) {
			uint64_t t0 = rdtsc(), dt;

			smp_call_many(&set, noop, NULL);
			dt = rdtsc() - t0;
			best = dt < best ? dt : best;
		}
		fanout[k - 1] = best;
	}
}

/* Wait (bounded) until every vCPU on targets is in guest mode again. */
static bool targets_in_guest(struct vm *vm, unsigned int n, const cpumask_t *targets)
{
	uint64_t deadline = tsc_deadline_ms(READY_TIMEOUT_MS);

	for (unsigned int i = 0; i < n; i++) {
		struct vcpu *v = &vm->vcpus[i];

		while (cpumask_test(targets, v->pcpu) && atomic_load(&v->mode) != VCPU_IN_GUEST) {
			if (tsc_passed(deadline))
				return false;
			cpu_relax();
		}
	}
	return true;
}

/*
 * ROUNDS flushes aimed at the pCPUs of vCPUs 0..k-1 (targets, which gets
 * vCPU k-1's), each checked, and their RESULT line.
 */
static bool time_flushes(struct vm *vm, unsigned int n, unsigned int k, cpumask_t *targets,
			 bool early, uint64_t ipi_rtt, uint64_t fanout)
{
	uint64_t best = UINT64_MAX, sum = 0, ipis0 = atomic_load(&vm->ipis_sent);
	uint64_t avoided0 = atomic_load(&vm->ipis_avoided);
	uint64_t violations0 = atomic_load(&vm->shootdown_violations);
	bool ok = true;

	cpumask_set(targets, vm->vcpus[k - 1].pcpu);
	for (int r = 0; ok && r < ROUNDS; r++) {
		uint64_t t0, dt, seq;

		ok = targets_in_guest(vm, n, targets);
		t0 = rdtsc();
		seq = tlb_flush_vcpus(vm, targets);
		dt = rdtsc() - t0;
		tlb_flush_check(vm, targets, seq);
		best = dt < best ? dt : best;
		sum += dt;
	}
	kprintf("RESULT scenario=tlb_shootdown phase=flush kick=%s vcpus=%u targets=%u cycles_min=%lu cycles_avg=%lu ns_avg=%lu ipi_rtt_cycles=%lu min_over_ipi_rtt_x100=%lu fanout_cycles=%lu min_over_fanout_x100=%lu ipis=%lu ipis_avoided=%lu violations=%lu\n",
		early ? "early" : "guest", n, k, (unsigned long)best, (unsigned long)(sum / ROUNDS),
		(unsigned long)tsc_to_ns(sum / ROUNDS), (unsigned long)ipi_rtt,
		(unsigned long)(ipi_rtt ? best * 100 / ipi_rtt : 0), (unsigned long)fanout,
		(unsigned long)(fanout ? best * 100 / fanout : 0),
		(unsigned long)(atomic_load(&vm->ipis_sent) - ipis0),
		(unsigned long)(atomic_load(&vm->ipis_avoided) - avoided0),
		(unsigned long)(atomic_load(&vm->shootdown_violations) - violations0));
	return ok;
}

int scenario_tlb_shootdown(void)
{
	struct vm_mmu_config mmu = scenario_mmu_config();
	unsigned int n = scenario_nr_vcpus();
	uint64_t ipi_rtt = bare_ipi_round_trip(1);
	struct vm *vm = scenario_vm_create("spin", n, &mmu, (uint64_t[4]){ 0 });
	static uint64_t fanout[VM_MAX_VCPUS]; /* 8 KiB: off the stack */
	cpumask_t targets;
	bool ok, kick_was;

	if (!vm)
		return EXIT_CONFIG;
	bare_ipi_fanout(vm, n, fanout);
	vm_start(vm);
	ok = scenario_wait_all_reported(vm, 0, 1, READY_TIMEOUT_MS);
	kick_was = atomic_load(&vm->kick_early);
	for (int early = 0; ok && early < 2; early++) {
		atomic_store(&vm->kick_early, early);
		cpumask_clear(&targets);
		for (unsigned int k = 1; ok && k <= n; k++)
			ok = time_flushes(vm, n, k, &targets, early, ipi_rtt, fanout[k - 1]);
	}
	atomic_store(&vm->kick_early, kick_was);
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
