// SPDX-License-Identifier: MIT
#pragma once

#include "mm/shadow/walker.h"
#include "virt/vm.h"

/* How a vCPU's turn on its pCPU ended (vcpu_run_slice). */
enum vcpu_slice {
	VCPU_PREEMPTED, /* its time slice ran out */
	VCPU_YIELDED,   /* it halted, or waits in a barrier: another may run */
	VCPU_FINISHED,  /* done, or its VM stops: it never runs again */
};
/*
 * Run v on its own pCPU (virt/sched.c) until slice_end (a TSC value; 0: no
 * end), until it gives the pCPU up, or for good. With an end, the pCPU's
 * local APIC timer makes the guest exit then.
 */
enum vcpu_slice vcpu_run_slice(struct vcpu *v, uint64_t slice_end);
/* False while v waits in HC_BARRIER for vCPUs that have not come yet. */
bool vcpu_runnable(struct vcpu *v);
/* Make every vCPU of vm leave and not come back. */
void vm_stop(struct vm *vm);
/* Stop the VM because vCPU v misbehaved; the message names what it did. */
void vcpu_fail(struct vcpu *v, const char *fmt, ...) __printf(2, 3);
/*
 * Up to n bytes of the instruction at the vCPU's CS:RIP, through its own
 * paging (virt/fetch.c); returns how many could be read.
 */
unsigned int vcpu_fetch_insn(struct vcpu *v, uint8_t *b, unsigned int n);
/* The same with st, the state vcpu_sync_guest_state() read already. */
struct vcpu_state;
unsigned int vcpu_fetch_insn_at(struct vcpu *v, const struct vcpu_state *st, uint8_t *b,
				unsigned int n);
/* Up to n bytes at linear address la, a supervisor read through the guest's paging. */
unsigned int vcpu_read_linear(struct vcpu *v, uint64_t la, uint8_t *b, unsigned int n);
/*
 * The VM's guest-physical memory for mm/shadow/walker.h's walks: atomic
 * 8-byte accesses; an A or D bit the walk sets is marked in the dirty log.
 */
struct guest_mem vcpu_guest_mem(struct vcpu *v);

struct emu_mem;
/*
 * The linear address of an instruction's memory operand (virt/emulate.h),
 * with its segment's base, 32 bits outside 64-bit mode; next_rip for a
 * RIP-relative one. st: vcpu_sync_guest_state()'s.
 */
uint64_t vcpu_operand_address(struct vcpu *v, const struct vcpu_state *st,
			      const struct emu_mem *m, uint64_t next_rip);
/*
 * Read the n bytes of that operand as the instruction would, a supervisor
 * read. False if the instruction cannot complete now: the guest then gets
 * the fault a CPU would raise (#GP or #SS for a non-canonical address, #PF
 * with its CR2 and error code), or the VM is stopped (no RAM behind it),
 * or the guest's tables kept changing under the walk (it runs again).
 */
bool vcpu_read_operand(struct vcpu *v, const struct vcpu_state *st, const struct emu_mem *m,
		       uint64_t next_rip, uint8_t *b, unsigned int n);
