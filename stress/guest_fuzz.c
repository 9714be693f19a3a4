// SPDX-License-Identifier: MIT
/*
 * scenario=guest_fuzz seed=N rounds=M: each round is a fresh VM running the
 * fuzzing guest (guest/fuzz.c) with a seed drawn from N, so a round
 * repeats from its seed alone. A round ends in one of three ways, all of
 * them the guest's business: it finished its steps, the hypervisor stopped
 * it for what it did, or it ran past the round's time and was stopped.
 * What must never happen is the hypervisor's: a panic (the console names
 * the round it was in), a VM that does not end, or a page not given back,
 * checked by the free-page count around every round.
 *
 * Three rounds in four are long ones (guest/fuzz.c): more steps, without
 * the actions that end a VM at once, so the hypervisor meets a guest that
 * has been running a while. A long round's vCPUs stop taking steps after
 * long_ms (option) by the TSC (the guest reads it), so that a slow
 * platform (Bochs) finishes them too, with fewer steps; the round's
 * time-out is that plus ROUND_TIMEOUT_MS. long_ms=0: short rounds only.
 * The RESULT line counts them apart, with the exits all rounds took.
 */
#include "arch/x86/console.h"
#include "arch/x86/tsc.h"
#include "boot/options.h"
#include "mm/page_alloc.h"
#include "stress/result.h"
#include "stress/scenarios.h"
#include "stress/vm_setup.h"
#include "virt/mmu.h"

#define ROUND_TIMEOUT_MS 2000
#define STEPS_PER_VCPU 300
#define LONG_STEPS_PER_VCPU 4000

/* Round r's seed: the boot's seed and r, mixed (splitmix64). */
static uint64_t round_seed(uint64_t seed, uint64_t r)
{
	uint64_t z = seed * 0x9e3779b97f4a7c15ull + r + 1;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int scenario_guest_fuzz(void)
{
	struct vm_mmu_config mmu = scenario_mmu_config();
	uint64_t seed = option(OPTION_SEED), rounds = option(OPTION_ROUNDS);
	uint64_t long_ms = option(OPTION_LONG_MS);
	uint64_t finished = 0, stopped = 0, timed_out = 0, nmi_kicks = 0;
	uint64_t long_rounds = 0, long_finished = 0, exits = 0;
	unsigned int nr = scenario_nr_vcpus();

	for (uint64_t r = 0; r < rounds; r++) {
		uint64_t rs = round_seed(seed, r);
		bool long_round = long_ms && rs >> 62 != 0;
		uint64_t args[4] = { rs, long_round ? LONG_STEPS_PER_VCPU : STEPS_PER_VCPU, mmu.shadow,
				     long_round ? tsc_khz * long_ms : 0 };
		struct page_alloc_stats before, after;
		struct vm *vm;
		bool ok, late;

		/* Said before the round: a panic's console then names it. */
		kprintf("mmuvisor: guest_fuzz: round %lu, seed %lu, round seed 0x%lx (%s)\n",
			(unsigned long)r, (unsigned long)seed, (unsigned long)rs,
			long_round ? "long" : "short");
		page_alloc_get_stats(&before);
		vm = scenario_vm_create("fuzz", nr, &mmu, args);
		if (!vm)
			return EXIT_CONFIG;
		ok = vm_run(vm, long_round ? (unsigned int)long_ms + ROUND_TIMEOUT_MS : ROUND_TIMEOUT_MS);
		late = !ok && !atomic_load(&vm->unresponsive);
		for (unsigned int i = 0; i < nr && late; i++)
			late = !vm->vcpus[i].failed;
		for (unsigned int i = 0; i < nr && late; i++)
			kprintf("mmuvisor: guest_fuzz: round %lu ran out of time: vcpu %u at rip 0x%lx after %lu exits\n",
				(unsigned long)r, i, (unsigned long)vm->vcpus[i].arch.regs.rip,
				(unsigned long)vm->vcpus[i].stats.exits);
		nmi_kicks += atomic_load(&vm->nmi_kicks);
		for (unsigned int i = 0; i < nr; i++)
			exits += vm->vcpus[i].stats.exits;
		if (atomic_load(&vm->unresponsive) || atomic_load(&vm->host_state_restored)) {
			kprintf("mmuvisor: guest_fuzz: seed %lu round %lu: %s\n", (unsigned long)seed,
				(unsigned long)r, atomic_load(&vm->unresponsive)
				? "a vCPU did not leave the guest within the bound"
				: "a pCPU's state had to be restored after the VM");
			vm_destroy(vm);
			return EXIT_FAIL;
		}
		finished += ok;
		long_rounds += long_round;
		long_finished += long_round && ok;
		timed_out += late;
		stopped += !ok && !late;
		vm_destroy(vm);
		vm_mmu_drain_this_cpu();
		rcu_barrier();
		page_alloc_get_stats(&after);
		if (after.free_pages != before.free_pages) {
			kprintf("mmuvisor: guest_fuzz: seed %lu round %lu leaked %ld pages\n",
				(unsigned long)seed, (unsigned long)r,
				(long)(before.free_pages - after.free_pages));
			result_done(EXIT_FAIL, "leak");
		}
	}
	kprintf("RESULT scenario=guest_fuzz phase=rounds vcpus=%u mmu=%s seed=%lu rounds=%lu long_ms=%lu finished=%lu stopped=%lu timed_out=%lu long=%lu long_finished=%lu exits=%lu nmi_kicks=%lu leaked_pages=0\n",
		nr, mmu.shadow ? "shadow" : "tdp", (unsigned long)seed, (unsigned long)rounds,
		(unsigned long)long_ms, (unsigned long)finished, (unsigned long)stopped,
		(unsigned long)timed_out, (unsigned long)long_rounds, (unsigned long)long_finished, (unsigned long)exits,
		(unsigned long)nmi_kicks);
	return EXIT_PASS;
}
