// SPDX-License-Identifier: MIT
#pragma once

#include "virt/vm.h"

/* virt/shadow_emulate.c: up to n instruction bytes at gva, through the guest's tables. */
unsigned int shadow_fetch_insn(struct vcpu *v, uint64_t gva, uint8_t *b, unsigned int n);
/* virt/shadow_emulate.c: the store at the faulting address that shadowing cannot let through. */
void shadow_emulate_write(struct vcpu *v);
