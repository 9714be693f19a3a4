// SPDX-License-Identifier: MIT
#pragma once

#include "virt/vm.h"

/* The pCPU side of a vCPU: runs until the guest is done or the VM stops. */
void vcpu_thread(void *vm);
/* Make every vCPU of vm leave and not come back. */
void vm_stop(struct vm *vm);
/* Stop the VM because vCPU v misbehaved; the message names what it did. */
void vcpu_fail(struct vcpu *v, const char *fmt, ...) __printf(2, 3);
/*
 * Up to n bytes of the instruction at the vCPU's CS:RIP, through its own
 * paging (virt/fetch.c); returns how many could be read.
 */
unsigned int vcpu_fetch_insn(struct vcpu *v, uint8_t *b, unsigned int n);
/* Up to n bytes at linear address la, a supervisor read through the guest's paging. */
unsigned int vcpu_read_linear(struct vcpu *v, uint64_t la, uint8_t *b, unsigned int n);
