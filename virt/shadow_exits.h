// SPDX-License-Identifier: MIT
#pragma once

#include "virt/vm.h"

struct guest_paging vcpu_guest_paging(const struct vcpu *v);
bool shadow_prepare_entry(struct vcpu *v);
void shadow_handle_guest_pf(struct vcpu *v);
void shadow_handle_invlpg(struct vcpu *v);
/* virt/cr.c: an intercepted access to CR0, CR3, CR4 or CR8. */
void vcpu_handle_cr_access(struct vcpu *v);
/* virt/shadow_emulate.c: up to n instruction bytes at gva, through the guest's tables. */
unsigned int shadow_fetch_insn(struct vcpu *v, uint64_t gva, uint8_t *b, unsigned int n);
/* virt/shadow_emulate.c: the store at the faulting address that shadowing cannot let through. */
void shadow_emulate_write(struct vcpu *v);
