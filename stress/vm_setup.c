// SPDX-License-Identifier: MIT
#include "arch/x86/console.h"
#include "arch/x86/smp.h"
#include "arch/x86/tsc.h"
#include "boot/options.h"
#include "lib/printf.h"
#include "mm/rcu/rcu.h"
#include "stress/guests.h"
#include "stress/vm_setup.h"

_Static_assert(VM_NUMA_LOCAL == 0 && VM_NUMA_INTERLEAVE == 1 && VM_NUMA_OFF == 2,
	       "numa= (boot/options.c) names enum vm_numa in order");
#include "virt/guest_abi.h"

unsigned int scenario_nr_vcpus(void)
{
	unsigned int n = (unsigned int)option(OPTION_VCPUS);

	return n ? n : smp_cpus_online() - 1;
}

struct vm_mmu_config scenario_mmu_config(void)
{
	return (struct vm_mmu_config){
		.shadow = option(OPTION_MMU) == MMU_SHADOW,
		.max_level = PG_LEVEL_4K,
		.policy.lock_exclusive = option(OPTION_MMU_LOCK) == MMU_LOCK_EXCLUSIVE,
		.policy.flush_eager = option(OPTION_FLUSH) == FLUSH_EAGER,
	};
}

bool scenario_vm_config(const char *image, unsigned int nr_vcpus, const struct vm_mmu_config *mmu,
			const uint64_t arg[4], struct vm_config *cfg)
{
	const struct guest_image *img = guest_image_find(image);

	if (!img) {
		kprintf("mmuvisor: error: no usable guest image named '%s'\n", image);
		return false;
	}
	*cfg = (struct vm_config){
		.nr_vcpus = nr_vcpus,
		.mem_bytes = guest_data_base(nr_vcpus) + nr_vcpus * option(OPTION_MEM_PER_VCPU),
		.mmu = *mmu,
		.arg = { arg[0], arg[1], arg[2], arg[3] },
		.numa = (enum vm_numa)option(OPTION_NUMA),
		.image = img->start,
		.image_len = (size_t)(img->end - img->start),
	};
	return true;
}

struct vm *scenario_vm_create(const char *image, unsigned int nr_vcpus,
			      const struct vm_mmu_config *mmu, const uint64_t arg[4])
{
	struct vm_config cfg;
	char err[160];
	struct vm *vm;

	if (!scenario_vm_config(image, nr_vcpus, mmu, arg, &cfg))
		return NULL;
	vm = vm_create(&cfg, err, sizeof(err));
	if (!vm)
		kprintf("mmuvisor: error: cannot create the VM: %s\n", err);
	return vm;
}

void scenario_vm_keys(const struct vm *vm, char *buf, size_t len)
{
	fmt_snprintf(buf, len, "vcpus=%u mmu=%s mmu_lock=%s flush=%s", vm->cfg.nr_vcpus,
		     vm->cfg.mmu.shadow ? "shadow" : "tdp",
		vm->cfg.mmu.policy.lock_exclusive ? "exclusive" : "shared",
		vm->cfg.mmu.policy.flush_eager ? "eager" : "batched");
}

bool scenario_wait_all_reported(struct vm *vm, unsigned int slot, uint64_t value,
				unsigned int timeout_ms)
{
	uint64_t deadline = tsc_deadline_ms(timeout_ms);

	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++)
		/* Acquire: pairs with the vCPU's report; what it did before is visible. */
		while (__atomic_load_n(&vm->vcpus[i].result[slot], __ATOMIC_ACQUIRE) != value) {
			if (tsc_passed(deadline) || atomic_load(&vm->stopping))
				return false;
			rcu_quiescent_state();
			cpu_relax();
		}
	return true;
}
