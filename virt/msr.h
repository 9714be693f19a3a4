// SPDX-License-Identifier: MIT
#pragma once

#include "virt/vm.h"

/* RDMSR/WRMSR of a PC guest (virt/msr.c): false means #GP(0), as on a CPU without that MSR. */
bool msr_read(struct vcpu *v, uint32_t msr, uint64_t *val);
bool msr_write(struct vcpu *v, uint32_t msr, uint64_t val);
/* The MSR state a PC's firmware leaves (MTRRs, APIC base) for a new vCPU. */
void msr_vcpu_reset(struct vcpu *v);
