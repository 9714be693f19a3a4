// SPDX-License-Identifier: MIT
#pragma once

#include "virt/vm.h"

struct guest_paging vcpu_guest_paging(const struct vcpu *v);
bool shadow_prepare_entry(struct vcpu *v);
void shadow_handle_guest_pf(struct vcpu *v);
void shadow_handle_invlpg(struct vcpu *v);
