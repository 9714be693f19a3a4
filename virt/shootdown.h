// SPDX-License-Identifier: MIT
#pragma once

#include <stdbool.h>

#include "arch/x86/ipi.h"

struct vm;

/*
 * A kick is an IPI, which forces an exit whatever the guest's IF on real
 * hardware (physical interrupts are intercepted) but not under Bochs 2.7
 * with IF=0 (docs/PLATFORM_FINDINGS.md). A vCPU still in the guest
 * KICK_NMI_AFTER_MS after its IPI gets an NMI, which nothing in the guest
 * can hold back, and another every KICK_NMI_EVERY_MS. One that does not
 * leave within VCPU_LEAVE_BOUND_MS even so stops its VM; the host waits on.
 */
#define KICK_NMI_AFTER_MS 50
#define KICK_NMI_EVERY_MS 100

/*
 * Which vCPUs a flush sends IPIs to (kick=, virt/shootdown.c): those it
 * reads in guest mode (GUEST), or every target's pCPU before reading
 * anything (EARLY), or EARLY where no other VM's vCPU can share the VM's
 * pCPUs and GUEST elsewhere (AUTO). The boot option's order.
 */
enum flush_kick { FLUSH_KICK_AUTO, FLUSH_KICK_GUEST, FLUSH_KICK_EARLY };
void shootdown_configure(enum flush_kick kick);
/* The VM's vCPUs have their pCPUs (sched_place); pcpus_own: no other VM's vCPU can run there. */
void shootdown_vm_placed(struct vm *vm, bool pcpus_own);

/* Flush every vCPU of vm; returns once none can use an old translation. */
void tlb_flush_vm(struct vm *vm);
/*
 * The same for the vCPUs that run on the pCPUs in targets (NULL: all of
 * them); returns the flush's number, for tlb_flush_check.
 */
uint64_t tlb_flush_vcpus(struct vm *vm, const cpumask_t *targets);
/*
 * Count in vm->shootdown_violations each vCPU on targets that runs guest
 * code now without having served flush seq: none may, after the flush.
 */
void tlb_flush_check(struct vm *vm, const cpumask_t *targets, uint64_t seq);
/* The pCPUs that vm's vCPUs run on, into m. */
void vm_vcpu_pcpus(const struct vm *vm, cpumask_t *m);
/* NMI every vCPU of vm that is in the guest (a stop whose kick IPIs did not get them out). */
void vm_nmi_kick_lingering(struct vm *vm);
/* Set request on every vCPU and IPI those in the guest. */
void vm_kick_vcpus(struct vm *vm, unsigned int request);
