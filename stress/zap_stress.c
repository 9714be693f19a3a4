// SPDX-License-Identifier: MIT
/*
 * scenario=zap_stress: vCPUs write and read back their own patterns while
 * the control CPU zaps random ranges of their memory (and now and then all
 * of it), so they fault the mappings back in, for duration_ms with
 * flush=batched and then again with flush=eager. Reports flushes per zap:
 * batched must be at most one per zap call. The guests check every value
 * they read. The MMU poisons the table frames it frees only with MM_DEBUG,
 * which the kernel build does not set (the host tests do).
 */
#include "arch/x86/console.h"
#include "arch/x86/tsc.h"
#include "boot/options.h"
#include "stress/result.h"
#include "stress/scenarios.h"
#include "stress/vm_setup.h"
#include "virt/mmu.h"
#include "virt/guest_abi.h"

#define READY_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 30000
#define ZAP_GAP_US 200

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static bool zap_phase(bool eager, unsigned int duration_ms)
{
	struct vm_mmu_config mmu = scenario_mmu_config();
	uint64_t per_vcpu = option(OPTION_MEM_PER_VCPU);
	uint64_t args[4] = { per_vcpu };
	unsigned int n = scenario_nr_vcpus();
	gfn_t first = guest_data_base(n) >> PAGE_SHIFT;
	gfn_t span = n * (per_vcpu >> PAGE_SHIFT);
	uint64_t seed = 0x2545f4914f6cdd1dull, zaps = 0, zapped = 0, rounds = 0, deadline;
	uint64_t changing_zaps = 0; /* zaps that removed something, so owed a flush */
	uint64_t flushes0, flushes, zap_flushes0, zap_flushes, yields0, yields, faults = 0;
	const struct mmu_stats *st;
	struct vm *vm;
	char keys[128];
	bool ok;

	mmu.policy.flush_eager = eager;
	vm = scenario_vm_create("zap_stress", n, &mmu, args);
	if (!vm)
		return false;
	vm_start(vm);
	ok = scenario_wait_all_reported(vm, 1, 1, READY_TIMEOUT_MS);
	st = vm_mmu_stats(vm); /* a snapshot */
	flushes0 = atomic_load(&st->flushes);
	zap_flushes0 = atomic_load(&st->zap_flushes);
	yields0 = atomic_load(&st->zap_yields);
	deadline = tsc_deadline_ms(duration_ms);
	while (ok && !tsc_passed(deadline) && !atomic_load(&vm->stopping)) {
		uint64_t r = rng(&seed);
		gfn_t start = first + r % span, len = 1 + (r >> 20) % 1024;
		uint64_t removed;

		if (r % 16 == 0) { /* now and then, everything */
			start = first;
			len = span;
		}
		if (start + len > first + span)
			len = first + span - start;
		removed = vm_mmu_zap_range(vm, start, start + len);
		zapped += removed;
		changing_zaps += removed != 0;
		zaps++;
		rcu_quiescent_state();
		udelay(ZAP_GAP_US);
	}
	st = vm_mmu_stats(vm);
	flushes = atomic_load(&st->flushes) - flushes0;
	zap_flushes = atomic_load(&st->zap_flushes) - zap_flushes0;
	yields = atomic_load(&st->zap_yields) - yields0;
	*(volatile uint64_t *)vm_gpa_to_hva(vm, GUEST_CONTROL, 8) = 1;
	ok = vm_wait(vm, STOP_TIMEOUT_MS) && ok;
	rcu_barrier(); /* unlinked tables are freed after a grace period */
	st = vm_mmu_stats(vm);
	for (unsigned int i = 0; i < n; i++) {
		rounds += vm->vcpus[i].result[0];
		faults += vm->vcpus[i].stats.tdp_faults;
	}
	scenario_vm_keys(vm, keys, sizeof(keys));
	kprintf("RESULT scenario=zap_stress phase=zap %s zaps=%lu changing_zaps=%lu leaves_zapped=%lu flushes=%lu zap_flushes=%lu zap_yields=%lu flushes_per_zap_x100=%lu tables_freed=%lu faults=%lu guest_rounds=%lu ipis=%lu ipis_avoided=%lu\n",
		keys, (unsigned long)zaps, (unsigned long)changing_zaps, (unsigned long)zapped,
		(unsigned long)flushes, (unsigned long)zap_flushes, (unsigned long)yields,
		(unsigned long)(zaps ? flushes * 100 / zaps : 0),
		(unsigned long)atomic_load(&st->tables_freed), (unsigned long)faults,
		(unsigned long)rounds, (unsigned long)atomic_load(&vm->ipis_sent),
		(unsigned long)atomic_load(&vm->ipis_avoided));
	/*
	 * Batched: every zap that changed something flushed, and no call flushed
	 * more than once per hold of mmu_lock. A zap may flush without zapping a
	 * leaf (it unlinked only empty tables, or found its range cleared by a
	 * call whose flush is still running), and a vCPU fault that puts a huge
	 * leaf over a table flushes too: so neither "flushes" nor "zap_flushes"
	 * need equal changing_zaps exactly.
	 */
	if (!eager && !vm->cfg.mmu.shadow &&
	    (zap_flushes < changing_zaps || zap_flushes > zaps + yields)) {
		kprintf("mmuvisor: zap_stress: flush=batched: %lu zap flushes for %lu zaps (%lu changed mappings, %lu yields); want between %lu and %lu\n",
			(unsigned long)zap_flushes, (unsigned long)zaps,
			(unsigned long)changing_zaps, (unsigned long)yields,
			(unsigned long)changing_zaps, (unsigned long)(zaps + yields));
		ok = false;
	}
	if (!rounds || !zapped)
		ok = false; /* nothing was exercised */
	vm_destroy(vm);
	return ok;
}

int scenario_zap_stress(void)
{
	unsigned int half = (unsigned int)option(OPTION_DURATION_MS) / 2;
	bool batched = zap_phase(false, half), eager = zap_phase(true, half);

	return batched && eager ? EXIT_PASS : EXIT_FAIL;
}
