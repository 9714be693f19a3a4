// SPDX-License-Identifier: MIT
/*
 * The VM's MMU, whichever it is (mmu=tdp: mm/ept; mmu=shadow: mm/shadow):
 * the scenarios and the dirty log call these and never the MMUs directly.
 */
#pragma once

#include "virt/vm.h"

bool vm_mmu_create(struct vm *vm, char *err, size_t len);
void vm_mmu_destroy(struct vm *vm);
bool vm_mmu_vcpu_create(struct vcpu *v);
void vm_mmu_vcpu_destroy(struct vcpu *v);

uint64_t vm_mmu_zap_range(struct vm *vm, gfn_t start, gfn_t end);
uint64_t vm_mmu_write_protect_range(struct vm *vm, gfn_t start, gfn_t end);
uint64_t vm_mmu_test_and_clear_young(struct vm *vm, gfn_t start, gfn_t end, uint64_t *young);
/* A pCPU that stops running vCPUs gives back what the MMUs cache on it. */
void vm_mmu_drain_this_cpu(void);
/* A snapshot of the MMU's counters, summed over CPUs now. */
const struct mmu_stats *vm_mmu_stats(struct vm *vm);
