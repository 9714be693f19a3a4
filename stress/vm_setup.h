// SPDX-License-Identifier: MIT
/* Building a VM for a scenario from the boot options. */
#pragma once

#include "virt/vm.h"

/* vcpus=0 means every pCPU but the control CPU. */
unsigned int scenario_nr_vcpus(void);
/*
 * A VM running guest program image with nr_vcpus vCPUs and mem_per_vcpu of
 * data each, locking and flushing as the options say. Prints the reason and
 * returns NULL on failure.
 */
struct vm *scenario_vm_create(const char *image, unsigned int nr_vcpus,
			      const struct vm_mmu_config *mmu, const uint64_t arg[4]);
struct vm_mmu_config scenario_mmu_config(void);
/* scenario_vm_create's configuration, to change before vm_create; false (said why) if no image. */
bool scenario_vm_config(const char *image, unsigned int nr_vcpus, const struct vm_mmu_config *mmu,
			const uint64_t arg[4], struct vm_config *cfg);
/*
 * On the control CPU while the vCPUs run: wait until every vCPU has reported
 * value in result slot (HC_REPORT); false if the VM stopped or timeout_ms
 * passed first. Reports quiescent states while it waits.
 */
bool scenario_wait_all_reported(struct vm *vm, unsigned int slot, uint64_t value,
				unsigned int timeout_ms);
/* A RESULT line's common part: "vcpus=N mmu=tdp mmu_lock=... flush=..." */
void scenario_vm_keys(const struct vm *vm, char *buf, size_t len);
/*
 * The contended case (stress/fault_beside.c): vCPUs demand-fault while the
 * control CPU ages or write-protects guest data 2 MiB a pass, each pass
 * followed by an equal pause, with no passes, lockless passes and locked
 * ones; prints a RESULT line for each.
 */
enum beside_op { BESIDE_AGE, BESIDE_WP };
bool scenario_fault_beside(const char *scenario, enum beside_op op);
