// SPDX-License-Identifier: MIT
/*
 * scenario=hello: every vCPU prints its id and meets the others at a
 * barrier; each must report 0x600d. The first boot of a guest: it checks the
 * backend, the run loop, hypercalls and demand faults of code and stack.
 */
#include "arch/x86/console.h"
#include "arch/x86/tsc.h"
#include "stress/result.h"
#include "stress/scenarios.h"
#include "stress/vm_setup.h"

#define HELLO_TIMEOUT_MS 20000

int scenario_hello(void)
{
	struct vm_mmu_config mmu = scenario_mmu_config();
	uint64_t args[4] = { 0 };
	struct vm *vm = scenario_vm_create("hello", scenario_nr_vcpus(), &mmu, args);
	uint64_t exits = 0, faults = 0, t0, cycles;
	unsigned int good = 0;
	char keys[128];
	bool ok;

	if (!vm)
		return EXIT_CONFIG;
	t0 = rdtsc();
	ok = vm_run(vm, HELLO_TIMEOUT_MS);
	cycles = rdtsc() - t0;
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++) {
		good += vm->vcpus[i].result[0] == 0x600d;
		exits += vm->vcpus[i].stats.exits;
		faults += vm->vcpus[i].stats.tdp_faults;
	}
	scenario_vm_keys(vm, keys, sizeof(keys));
	kprintf("RESULT scenario=hello phase=run %s cycles=%lu ns=%lu exits=%lu faults=%lu good=%u\n",
		keys, (unsigned long)cycles, (unsigned long)tsc_to_ns(cycles), (unsigned long)exits,
		(unsigned long)faults, good);
	ok = ok && good == vm->cfg.nr_vcpus;
	vm_destroy(vm);
	return ok ? EXIT_PASS : EXIT_FAIL;
}
