// SPDX-License-Identifier: MIT
/*
 * The vCPU scheduler (virt/sched.c): every pCPU but the control CPU has a
 * run queue of vCPUs, filled round robin when a VM is created and kept for
 * the VM's life. One vCPU on a pCPU runs as it always did, with no timer;
 * several share the pCPU in time slices.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct vm;
struct vcpu;

#define SCHED_TIMESLICE_US_DEFAULT 2000

/* The scheduler's boot options: pin=on (one vCPU per pCPU) and timeslice_us=. */
void sched_configure(bool pin, unsigned int timeslice_us);
/*
 * Give each of vm's vCPUs its pCPU (v->pcpu), round robin over the pCPUs
 * after the control CPU. False, with one line in err, if pin=on and there
 * are more vCPUs than those pCPUs, or if a PC guest would share a pCPU.
 */
bool sched_place(struct vm *vm, char *err, size_t len);
/* Run the vCPUs of vms[0..n) on their pCPUs (each pCPU runs its queue until all are done). */
void sched_launch(struct vm *const *vms, unsigned int n);
