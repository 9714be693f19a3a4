// SPDX-License-Identifier: MIT
#pragma once

#include "arch/x86/cpu.h"
#include "virt/vm.h"

/* CPUID leaf/sub as vCPU v sees it (virt/cpuid.c says what a PC guest is told). */
struct cpuid_regs vcpu_cpuid(const struct vcpu *v, uint32_t leaf, uint32_t sub);
/* The host, hence every guest, is GenuineIntel (else AuthenticAMD, for the MSRs that differ). */
bool vcpu_cpuid_intel(void);
