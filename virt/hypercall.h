// SPDX-License-Identifier: MIT
#pragma once

#include "virt/vm.h"

/* virt/hypercall.c: the hypercall in the vCPU's registers (virt/guest_abi.h). */
void hypercall_handle(struct vcpu *v);
