// SPDX-License-Identifier: MIT
/*
 * The vCPU run loop, on the vCPU's own pCPU: serve requests, enter the guest
 * (an extended RCU quiescent state), handle the exit, repeat. The mode and
 * request protocol that makes remote flushes safe is drawn in virt/shootdown.c.
 */
#include "arch/x86/apic.h"
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/percpu.h"
#include "virt/shootdown.h"
#include "arch/x86/tsc.h"
#include "lib/printf.h"
#include "mm/rcu/rcu.h"
#include "virt/cpuid.h"
#include "virt/cr.h"
#include "virt/dirty_log.h"
#include "virt/hypercall.h"
#include "virt/mmu.h"
#include "virt/pc.h"
#include "virt/shadow_exits.h"
#include "virt/vcpu.h"

#define HLT_BACKOFF_US 20

void vm_stop(struct vm *vm)
{
	atomic_store(&vm->stopping, true);
	vm_kick_vcpus(vm, VCPU_REQ_STOP);
}

void vcpu_fail(struct vcpu *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fmt_vsnprintf(v->fail_reason, sizeof(v->fail_reason), fmt, ap);
	va_end(ap);
	v->failed = true;
	kprintf("vm %u: vcpu %u stopped: %s\n", v->vm->id, v->id, v->fail_reason);
	vm_stop(v->vm);
}

/* CPUID for a synthetic guest (virt/cpuid.c): the host's answers, minus virtualization. */
static void emulate_cpuid(struct vcpu *v)
{
	struct cpuid_regs r = vcpu_cpuid(v, (uint32_t)v->arch.regs.rax, (uint32_t)v->arch.regs.rcx);

	v->arch.regs.rax = r.eax;
	v->arch.regs.rbx = r.ebx;
	v->arch.regs.rcx = r.ecx;
	v->arch.regs.rdx = r.edx;
}

__attribute__((always_inline)) static inline void handle_tdp_fault(struct vcpu *v)
{
	const struct vcpu_exit *e = &v->arch.exit;
	enum tdp_fault_result r;

	v->stats.tdp_faults++;
	if (e->misconfig) {
		vcpu_fail(v, "TDP entry for gpa 0x%lx is malformed (reserved bits)",
			  (unsigned long)e->gpa);
		return;
	}
	r = tdp_mmu_page_fault(v->vm->mmu, &v->tdp_cache, e->gpa, e->access);
	switch (r) {
	case TDP_FAULT_FIXED:
		if (e->access & TDP_ACC_WRITE &&
		    atomic_load_explicit(&v->vm->logging, memory_order_relaxed))
			vm_dirty_log_write_fault(v->vm, e->gpa);
		break;
	case TDP_FAULT_RETRY:
		v->stats.tdp_retries++;
		break;
	case TDP_FAULT_NO_SLOT:
		if (v->vm->cfg.pc) {
			pc_mmio_exit(v, e->gpa, false);
			break;
		}
		vcpu_fail(v, "wild access: %s gpa 0x%lx is outside guest memory (rip 0x%lx)",
			  e->access & TDP_ACC_WRITE ? "write to" : e->access & TDP_ACC_EXEC
			  ? "fetch from" : "read of", (unsigned long)e->gpa,
			  (unsigned long)v->arch.regs.rip);
		break;
	case TDP_FAULT_READONLY:
		if (v->vm->cfg.pc) {
			pc_mmio_exit(v, e->gpa, true);
			break;
		}
		vcpu_fail(v, "write to read-only gpa 0x%lx", (unsigned long)e->gpa);
		break;
	case TDP_FAULT_NOMEM:
		vcpu_fail(v, "out of memory for page tables at gpa 0x%lx", (unsigned long)e->gpa);
		break;
	}
}

/*
 * handle_exit and serve_requests run on every exit of both copies of the
 * run loop below: inlined into each, as they were into the one loop before
 * the scheduler (a call per exit shows in Bochs' instruction-counted
 * figures).
 */
__attribute__((always_inline)) static inline void handle_exit(struct vcpu *v)
{
	struct vcpu_exit *e = &v->arch.exit;

	v->stats.exits++;
	/*
	 * An exit at another RIP means the guest moved on: a later unprotect at
	 * the old RIP and address is a new episode, not the same one failing
	 * (an idle loop's interrupts all push at one RIP onto one stack).
	 */
	if (v->write_retry.unprotects && v->arch.regs.rip != v->write_retry.rip)
		v->write_retry.unprotects = 0;
	if (v->vm->cfg.pc && pc_handle_exit(v))
		return;
	switch (e->reason) {
	case EXIT_HYPERCALL:
		hypercall_handle(v);
		break;
	case EXIT_TDP_FAULT:
		handle_tdp_fault(v);
		break;
	case EXIT_CPUID:
		emulate_cpuid(v);
		v->arch.regs.rip += e->insn_len;
		break;
	case EXIT_HLT:
		/* Nothing ever sends a guest an interrupt: a halt is a pause, or another's turn. */
		v->stats.halts++;
		v->arch.regs.rip += e->insn_len;
		if (v->pcpu_shared)
			v->yield = true;
		else
			udelay(HLT_BACKOFF_US);
		break;
	case EXIT_INTERRUPT:
		v->stats.interrupts++;
		break;
	case EXIT_PAUSE: /* it spins, most likely on a vCPU that waits for a turn here */
		v->stats.pause_exits++;
		v->arch.regs.rip += e->insn_len;
		v->yield = true;
		break;
	case EXIT_IO:
		vcpu_fail(v, "port I/O at rip 0x%lx (guests have no devices)", (unsigned long)v->arch.regs.rip);
		break;
	case EXIT_MSR:
		vcpu_fail(v, "%s of MSR 0x%lx at rip 0x%lx (refused)",
			  e->hw_code ? "RDMSR/WRMSR" : "MSR access", (unsigned long)v->arch.regs.rcx,
			  (unsigned long)v->arch.regs.rip);
		break;
	case EXIT_SHUTDOWN:
		vcpu_fail(v, "triple fault (shutdown) at rip 0x%lx", (unsigned long)v->arch.regs.rip);
		break;
	case EXIT_DOUBLE_FAULT:
		vcpu_fail(v, "double fault at rip 0x%lx: an exception the guest cannot handle",
			  (unsigned long)v->arch.regs.rip);
		break;
	case EXIT_GUEST_PF:
		shadow_handle_guest_pf(v);
		break;
	case EXIT_CR_ACCESS:
		vcpu_handle_cr_access(v);
		break;
	case EXIT_INVLPG:
		shadow_handle_invlpg(v);
		break;
	case EXIT_XSETBV:
		/* Both backends take every XSETBV: XCR0 would outlive the guest in the pCPU. */
		vcpu_fail(v, "XSETBV at rip 0x%lx: synthetic guests get no XSAVE state",
			  (unsigned long)v->arch.regs.rip);
		break;
	case EXIT_ILLEGAL:
		virt->vcpu_inject_exception(&v->arch, 6, false, 0); /* #UD, as on a CPU without it */
		break;
	case EXIT_ENTRY_FAILED:
		vcpu_fail(v, "VM entry failed (exit code 0x%lx): the guest state is invalid",
			  (unsigned long)e->hw_code);
		break;
	default:
		vcpu_fail(v, "unexpected exit 0x%lx at rip 0x%lx", (unsigned long)e->hw_code,
			  (unsigned long)v->arch.regs.rip);
		break;
	}
}

/* Returns false when the vCPU must stop. */
__attribute__((always_inline)) static inline bool serve_requests(struct vcpu *v)
{
	unsigned int req = atomic_exchange(&v->requests, 0);
	/* Read before the flush below, which covers every flush up to it (virt/shootdown.c). */
	uint64_t flush_seq = atomic_load(&v->vm->flush_seq);

	if (req & VCPU_REQ_STOP || atomic_load(&v->vm->stopping))
		return false;
	if (flush_seq != v->served_flush_seq) {
		virt->vcpu_flush_tlb(&v->arch);
		v->stats.flushes++;
		v->served_flush_seq = flush_seq;
	}
	return true;
}

/* What the world switch stores when the vCPU leaves the guest (vcpu_arch.left, arch/x86/virt.h). */
_Static_assert(VCPU_LEFT_SEQ == NOT_IN_GUEST && VCPU_LEFT_MODE == VCPU_OUTSIDE,
	       "an exit's acknowledgement: in_guest_seq = NOT_IN_GUEST, then mode = OUTSIDE");

bool vcpu_runnable(struct vcpu *v)
{
	if (!v->in_barrier)
		return true;
	if (atomic_load(&v->vm->barrier_gen) != v->barrier_gen || atomic_load(&v->vm->stopping) ||
	    atomic_load(&v->requests) & VCPU_REQ_STOP) {
		v->in_barrier = false;
		return true;
	}
	return false;
}

/*
 * The run loop, in two copies that the compiler makes from this one:
 * shared false for a vCPU alone on its pCPU, the loop as it was before the
 * scheduler, instruction for instruction (the pinned figures: no slice, no
 * turn to give up, HC_BARRIER waits inside the hypercall); shared true for
 * one that shares its pCPU, which also watches the slice's end and gives
 * its turn up when it halts, spins or waits in a barrier.
 */
__attribute__((always_inline)) static inline enum vcpu_slice
run_loop(struct vcpu *v, uint64_t slice_end, const bool shared)
{
	while (!v->done && serve_requests(v)) {
		rcu_quiescent_state();
		BREAKDOWN_TIME(v, t_requests);
		if (shared && !vcpu_runnable(v)) { /* HC_BARRIER: it waits for the others */
			v->stats.yields++;
			return VCPU_YIELDED;
		}
		if (v->vm->dev && !pc_prepare_entry(v))
			continue; /* it slept, or waits for a SIPI */
		if (v->shadow && !shadow_prepare_entry(v))
			break;
		/* Full barrier (seq_cst): pairs with the flusher's; see virt/shootdown.c. */
		atomic_store(&v->mode, VCPU_IN_GUEST);
		if (atomic_load(&v->requests) || atomic_load(&v->vm->flush_seq) != v->served_flush_seq) {
			atomic_store(&v->mode, VCPU_OUTSIDE);
			continue;
		}
		/* For the shootdown check in virt/shootdown.c: what we enter with. */
		atomic_store(&v->in_guest_seq, v->served_flush_seq);
		rcu_offline(); /* guest mode: an extended quiescent state */
		BREAKDOWN_TIME(v, t_entry);
		virt->vcpu_run(&v->arch); /* the exit acknowledged on the way out (vcpu_arch.left) */
		breakdown_exit(v);
		rcu_online();
		irq_window(); /* take the IPIs that made us exit */
		BREAKDOWN_TIME(v, t_dispatch);
		handle_exit(v);
		breakdown_handled(v);
		if (!shared)
			continue;
		if (slice_end && rdtsc() >= slice_end) {
			v->stats.preemptions++;
			v->yield = false; /* it gives up this turn, not the next */
			return VCPU_PREEMPTED;
		}
		if (v->yield) {
			v->yield = false;
			v->stats.yields++;
			return VCPU_YIELDED;
		}
	}
	return VCPU_FINISHED;
}

enum vcpu_slice vcpu_run_slice(struct vcpu *v, uint64_t slice_end)
{
	enum vcpu_slice r;

	if (!v->pcpu_shared) {
		r = run_loop(v, 0, false);
	} else {
		if (slice_end)
			apic_timer_arm(slice_end); /* the guest exits at the slice's end */
		r = run_loop(v, slice_end, true);
		if (slice_end)
			apic_timer_disarm();
	}
	v->stats.slices++;
	return r;
}
