// SPDX-License-Identifier: MIT
#pragma once

#include "mm/shadow/walker.h"
#include "virt/emulate.h"
#include "virt/vm.h"

/*
 * The guest's registers into and out of the emulator's (encoding order):
 * sixteen moves each way, written out (a loop through guest_reg() the
 * compiler keeps as a loop).
 */
static inline void vcpu_regs_to_emu(const struct guest_regs *g, struct emu_regs *r)
{
	r->gpr[0] = g->rax, r->gpr[1] = g->rcx, r->gpr[2] = g->rdx, r->gpr[3] = g->rbx;
	r->gpr[4] = g->rsp, r->gpr[5] = g->rbp, r->gpr[6] = g->rsi, r->gpr[7] = g->rdi;
	r->gpr[8] = g->r8, r->gpr[9] = g->r9, r->gpr[10] = g->r10, r->gpr[11] = g->r11;
	r->gpr[12] = g->r12, r->gpr[13] = g->r13, r->gpr[14] = g->r14, r->gpr[15] = g->r15;
	r->rflags = g->rflags;
}

static inline void vcpu_regs_from_emu(struct guest_regs *g, const struct emu_regs *r)
{
	g->rax = r->gpr[0], g->rcx = r->gpr[1], g->rdx = r->gpr[2], g->rbx = r->gpr[3];
	g->rsp = r->gpr[4], g->rbp = r->gpr[5], g->rsi = r->gpr[6], g->rdi = r->gpr[7];
	g->r8 = r->gpr[8], g->r9 = r->gpr[9], g->r10 = r->gpr[10], g->r11 = r->gpr[11];
	g->r12 = r->gpr[12], g->r13 = r->gpr[13], g->r14 = r->gpr[14], g->r15 = r->gpr[15];
	g->rflags = r->rflags;
}

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
