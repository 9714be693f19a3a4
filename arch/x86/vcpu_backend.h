// SPDX-License-Identifier: MIT
/*
 * What both backends (arch/x86/svm, arch/x86/vmx) keep per vCPU, and the
 * same way: their own state in one zeroed page (v->backend), and beside it
 * one page the hardware reads (the VMCB, the VMCS).
 */
#pragma once

#include "arch/x86/virt.h"
#include "mm/page_alloc.h"

/* Free v->backend and its hardware page hw; v->backend becomes NULL. */
static inline void vcpu_backend_free(struct vcpu_arch *v, void *hw)
{
	page_free(hw, 0);
	page_free(v->backend, 0);
	v->backend = NULL;
}
