// SPDX-License-Identifier: MIT
#pragma once

#include "virt/vm.h"

/* virt/cr.c: an intercepted access to CR0, CR3, CR4 or CR8. */
void vcpu_handle_cr_access(struct vcpu *v);
