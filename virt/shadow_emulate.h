// SPDX-License-Identifier: MIT
#pragma once

#include "virt/vm.h"

/* Up to n bytes at gva through the guest's tables (paging NULL: the vCPU's), as pf_access. */
unsigned int shadow_read_guest(struct vcpu *v, const struct guest_paging *paging, uint64_t gva,
			       uint8_t *b, unsigned int n, uint32_t pf_access);
/* The guest-physical address gva translates to for pf_access (false: the guest's tables say no). */
bool shadow_translate_guest(struct vcpu *v, uint64_t gva, uint32_t pf_access, uint64_t *gpa);
/* Up to n instruction bytes at gva through the guest's tables (paging NULL: the vCPU's). */
unsigned int shadow_fetch_insn(struct vcpu *v, const struct guest_paging *paging, uint64_t gva,
			       uint8_t *b, unsigned int n);
/*
 * virt/shadow_emulate.c: the store at the faulting address that shadowing
 * cannot let through. fault: the frame the fault found for the faulting
 * address, and its host address (shadow_mmu_page_fault()'s emulate), or
 * NULL: the store's page is walked again only without it.
 */
void shadow_emulate_write(struct vcpu *v, const struct shadow_emulate_frame *fault);
