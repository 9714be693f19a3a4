// SPDX-License-Identifier: MIT
#include "lib/plant.h"
#include "lib/printf.h"
#include "mm/shadow/rmap.h"
#include "virt/dirty_log.h"
#include "virt/mmu.h"

extern const struct mmu_ops vm_mmu_ops; /* virt/vm.c: memslots and the dirty log */
extern const struct mmu_ops vm_mmu_ops_planted_cross_vm;

/* EPT with A/D bits: the VMX backend enables them in the EPT pointer on the same test. */
static bool tdp_ad_bits(void)
{
	return virt_caps.tdp_format == TDP_FORMAT_EPT && virt_caps.tdp_ad;
}

bool vm_mmu_create(struct vm *vm, char *err, size_t len)
{
	const struct vm_mmu_config *want = &vm->cfg.mmu;
	const struct mmu_ops *ops = planted(PLANT_CROSS_VM) ? &vm_mmu_ops_planted_cross_vm : &vm_mmu_ops;

	if (want->shadow) {
		struct shadow_mmu_config c = {
			.policy = want->policy,
			.gfn_limit = vm->cfg.mem_bytes >> PAGE_SHIFT,
		};

		vm->smmu = shadow_mmu_create(&c, ops, vm);
	} else {
		struct tdp_mmu_config c = {
			.format = virt_caps.tdp_format,
			.ept_ad_bits = tdp_ad_bits(),
			.ept_memtype = 6, /* write-back */
			.max_level = want->max_level,
			.split_lazy = want->split_lazy,
			.policy = want->policy,
		};

		vm->mmu = tdp_mmu_create(&c, ops, vm);
	}
	if (!vm->mmu && !vm->smmu) {
		fmt_snprintf(err, len, "out of memory for the %s MMU", vm->cfg.mmu.shadow ? "shadow" : "TDP");
		return false;
	}
	return true;
}

void vm_mmu_destroy(struct vm *vm)
{
	if (vm->smmu)
		shadow_mmu_destroy(vm->smmu);
	if (vm->mmu)
		tdp_mmu_destroy(vm->mmu);
	vm->smmu = NULL;
	vm->mmu = NULL;
}

bool vm_mmu_vcpu_create(struct vcpu *v)
{
	if (!v->vm->smmu)
		return true;
	v->shadow = shadow_vcpu_create(v->vm->smmu);
	if (!v->shadow)
		return false;
	v->shadow_root_pa = shadow_vcpu_root_pa_word(v->shadow);
	return true;
}

void vm_mmu_vcpu_destroy(struct vcpu *v)
{
	if (v->shadow)
		shadow_vcpu_destroy(v->shadow);
	v->shadow = NULL;
	tdp_page_cache_release(&v->tdp_cache);
}

uint64_t vm_mmu_zap_range(struct vm *vm, gfn_t start, gfn_t end)
{
	return vm->smmu ? shadow_mmu_zap_range(vm->smmu, start, end)
			: tdp_mmu_zap_range(vm->mmu, start, end);
}

uint64_t vm_mmu_write_protect_range(struct vm *vm, gfn_t start, gfn_t end)
{
	return vm->smmu ? shadow_mmu_write_protect_range(vm->smmu, start, end)
			: tdp_mmu_write_protect_range(vm->mmu, start, end);
}

uint64_t vm_mmu_test_and_clear_young(struct vm *vm, gfn_t start, gfn_t end, uint64_t *young)
{
	return vm->smmu ? shadow_mmu_test_and_clear_young(vm->smmu, start, end, young)
			: tdp_mmu_test_and_clear_young(vm->mmu, start, end, young);
}

const struct mmu_stats *vm_mmu_stats(struct vm *vm)
{
	return vm->smmu ? shadow_mmu_stats(vm->smmu) : tdp_mmu_stats(vm->mmu);
}

void vm_mmu_drain_this_cpu(void)
{
	/* rmap descriptors cached on this CPU go back (their pages after a grace period). */
	rmap_desc_cache_drain_this_cpu();
}
