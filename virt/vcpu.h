// SPDX-License-Identifier: MIT
#pragma once

#include "virt/vm.h"

/* The pCPU side of a vCPU: runs until the guest is done or the VM stops. */
void vcpu_thread(void *vm);
/* Make every vCPU of vm leave and not come back. */
void vm_stop(struct vm *vm);
/* virt/hypercall.c */
void hypercall_handle(struct vcpu *v);
