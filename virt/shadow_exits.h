// SPDX-License-Identifier: MIT
#pragma once

#include "virt/vm.h"

struct guest_paging vcpu_guest_paging(const struct vcpu *v);
bool shadow_prepare_entry_slow(struct vcpu *v);

/*
 * The root to enter with; false (after stopping the VM) if there is none.
 * Inline, the common case: the root the TLB last saw, unchanged.
 */
static inline bool shadow_prepare_entry(struct vcpu *v)
{
	uint64_t root = *v->shadow_root_pa;

	if (__builtin_expect(root && root == v->entered_hw_cr3, 1)) {
		v->arch.hw_cr3 = root;
		return true;
	}
	return shadow_prepare_entry_slow(v);
}
void shadow_handle_guest_pf(struct vcpu *v);
void shadow_handle_invlpg(struct vcpu *v);
