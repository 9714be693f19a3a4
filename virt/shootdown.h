// SPDX-License-Identifier: MIT
#pragma once

#include "arch/x86/ipi.h"

struct vm;

/* Flush every vCPU of vm; returns once none can use an old translation. */
void tlb_flush_vm(struct vm *vm);
/* The same for the vCPUs that run on the pCPUs in targets. */
void tlb_flush_vcpus(struct vm *vm, cpumask_t targets);
/* The pCPUs that vm's vCPUs run on. */
cpumask_t vm_vcpu_pcpus(const struct vm *vm);
/* Set request on every vCPU and IPI those in the guest; returns the pCPUs kicked. */
cpumask_t vm_kick_vcpus(struct vm *vm, unsigned int request);
