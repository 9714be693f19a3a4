// SPDX-License-Identifier: MIT
/*
 * scenario=shadow_pt (mmu=shadow): every vCPU runs guest/shadow_pt.c: it
 * builds two address spaces sharing their tables, aliases a frame, switches
 * CR3, remaps with INVLPG, checks the A/D bits and #PF error codes the
 * architecture requires, clears CR0.WP and sets CR4.SMAP (where the CPU
 * has it) and checks what they change, writes its live PML4 (each write
 * emulated here), then hammers its page table for
 * iterations * 100 rounds, each a guest page-table write the shadow MMU must
 * notice.
 */
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/tsc.h"
#include "boot/options.h"
#include "stress/result.h"
#include "stress/scenarios.h"
#include "stress/vm_setup.h"

#define RUN_TIMEOUT_MS 120000

int scenario_shadow_pt(void)
{
	struct vm_mmu_config mmu = scenario_mmu_config();
	uint64_t rounds = option(OPTION_ITERATIONS) * 100, done = 0, pfs = 0, smap = 0, t0, cycles;
	uint64_t emulated = 0, retried = 0, emul_cycles = UINT64_MAX; /* the cheapest vCPU's emulated MOV */
	uint64_t hot_cycles = UINT64_MAX; /* ... and of the same MOV again (guest/shadow_pt.c) */
	bool has_smap = cpuid(7, 0).ebx & (1u << 20);
	const struct shadow_mmu_extra_stats *x;
	struct vm *vm;
	char keys[128];
	bool ok;

	if (option(OPTION_MMU) != MMU_SHADOW) {
		kprintf("mmuvisor: error: scenario=shadow_pt needs mmu=shadow\n");
		return EXIT_CONFIG;
	}
	vm = scenario_vm_create("shadow_pt", scenario_nr_vcpus(), &mmu,
				(uint64_t[4]){ option(OPTION_MEM_PER_VCPU), rounds });
	if (!vm)
		return EXIT_CONFIG;
	t0 = rdtsc();
	ok = vm_run(vm, RUN_TIMEOUT_MS);
	cycles = rdtsc() - t0;
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++) {
		done += vm->vcpus[i].result[0];
		pfs = vm->vcpus[i].result[1] > pfs ? vm->vcpus[i].result[1] : pfs;
		smap = vm->vcpus[i].result[2] > smap ? vm->vcpus[i].result[2] : smap;
		emulated += vm->vcpus[i].stats.emulated;
		retried += vm->vcpus[i].stats.write_retries_emulated;
		if (vm->vcpus[i].result[3] < emul_cycles)
			emul_cycles = vm->vcpus[i].result[3];
		if (vm->vcpus[i].result[4] && vm->vcpus[i].result[4] < hot_cycles)
			hot_cycles = vm->vcpus[i].result[4];
	}
	x = shadow_mmu_extra_stats(vm->smmu);
	scenario_vm_keys(vm, keys, sizeof(keys));
	kprintf("RESULT scenario=shadow_pt phase=hammer %s cycles=%lu rounds=%lu guest_pfs=%lu smap_checked=%lu pf_injected=%lu gfns_unprotected=%lu roots_created=%lu emulate=%lu emulated=%lu emulated_after_retries=%lu emulated_write_cycles=%lu emulated_write_hot_cycles=%lu rmap_restarts=%lu rmap_fallbacks=%lu emulate_unwalked=%lu\n",
		keys, (unsigned long)cycles, (unsigned long)done, (unsigned long)pfs, (unsigned long)smap,
		(unsigned long)atomic_load(&x->pf_injected),
		(unsigned long)atomic_load(&x->gfns_unprotected),
		(unsigned long)atomic_load(&x->roots_created), (unsigned long)atomic_load(&x->emulate),
		(unsigned long)emulated, (unsigned long)retried, (unsigned long)(emul_cycles == UINT64_MAX ? 0 : emul_cycles),
		(unsigned long)(hot_cycles == UINT64_MAX ? 0 : hot_cycles),
		(unsigned long)atomic_load(&x->rmap_restarts),
		(unsigned long)atomic_load(&x->rmap_fallbacks),
		(unsigned long)atomic_load(&x->emulate_unwalked));
	ok = ok && done == rounds * vm->cfg.nr_vcpus;
	/* Every vCPU checks SMAP where the CPU has it (the guest sees our CPUID). */
	ok = ok && smap == (has_smap ? vm->cfg.nr_vcpus : 0);
	vm_destroy(vm);
	return ok ? EXIT_PASS : EXIT_FAIL;
}
