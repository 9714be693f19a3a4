// SPDX-License-Identifier: MIT
#pragma once

#include "virt/vm.h"

/* virt/cr.c: an intercepted access to CR0, CR3, CR4 or CR8. */
/* mmu=shadow: load the root for the guest's CR3 and paging mode now, and flush. */
bool vcpu_reload_shadow_root(struct vcpu *v);
void vcpu_handle_cr_access(struct vcpu *v);
/*
 * The guest's mode as of its last exit into st; under TDP also into the
 * vCPU's guest_cr0/cr3/cr4/efer (which under shadow paging are the truth).
 */
void vcpu_sync_guest_state(struct vcpu *v, struct vcpu_state *st);
