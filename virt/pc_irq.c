// SPDX-License-Identifier: MIT
/*
 * A PC guest's interrupts, on the vCPU's own pCPU: INIT and SIPI, NMIs and
 * the local APIC's interrupts injected when the guest can take them (or an
 * interrupt window asked for), its timer, and HLT as a sleep.
 *
 * Waking a vCPU (pc_vcpu_kick, the local APICs' cfg.kick) follows the TLB
 * shootdown's mode protocol (virt/shootdown.c), with one more mode:
 *
 *  sender (any pCPU)                      vCPU (its pCPU), interrupts off
 *  ---------------------------------      ----------------------------------
 *  IRR |= bit (release), or NMI/INIT/..   mode = IN_GUEST or BLOCKED (seq_cst)
 *  requests |= EVENT          (seq_cst)   if (requests) back out
 *  cmpxchg(mode, IN_GUEST, EXITING):      VMRUN ... exits on the IPI
 *    was IN_GUEST: IPI                    or: sti; hlt ... wakes on the IPI
 *  or mode == BLOCKED: IPI                mode = OUTSIDE; requests = 0;
 *                                         look at the APIC again
 *
 * Either the vCPU sees EVENT before it enters or sleeps, or the sender sees
 * it in the guest or asleep and its IPI gets it out. The IPI is sent with
 * the vCPU's pCPU's interrupts off, so it waits until the STI of `sti; hlt`
 * (whose shadow keeps the HLT) or the VMRUN.
 *
 * The guest's timer: before each entry the APIC says when it next expires;
 * the pCPU's own APIC timer is armed for that TSC, so it makes the guest
 * exit (or wakes the sleep) then. The guest cannot make it fire more often
 * than the APIC allows (periodic mode has a floor, virt/dev/lapic_timer.c),
 * and a vCPU only ever runs on its own pCPU: a flood of IPIs or timer
 * interrupts costs that VM's vCPUs, never the control CPU or another VM.
 */
#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/interrupt.h"
#include "arch/x86/ipi.h"
#include "arch/x86/percpu.h"
#include "arch/x86/tsc.h"
#include "lib/printf.h"
#include "mm/rcu/rcu.h"
#include "virt/cpuid.h"
#include "virt/cr.h"
#include "virt/dev/dev.h"
#include "virt/pc.h"
#include "virt/vcpu.h"

uint64_t pc_clock(void)
{
	return rdtsc();
}

void pc_vcpu_kick(void *ctx, unsigned int vcpu_id)
{
	struct vm *vm = ctx;
	struct vcpu *v;
	int mode = VCPU_IN_GUEST;

	if (vcpu_id >= vm->cfg.nr_vcpus)
		return;
	v = &vm->vcpus[vcpu_id];
	atomic_fetch_or(&v->requests, VCPU_REQ_EVENT);
	if (v->pcpu == this_cpu()->cpu)
		return; /* its own APIC: it looks again before it enters */
	if (atomic_compare_exchange_strong(&v->mode, &mode, VCPU_EXITING) ||
	    mode == VCPU_BLOCKED)
		ipi_send_mask(CPU_BIT(v->pcpu), VEC_KICK);
}

/*
 * A vCPU that cannot run: halted with interrupts off, or waiting for a
 * SIPI. When every vCPU of the VM is one, nothing can ever wake any of them
 * (no device raises an NMI), and the VM ends, as the issue asks, reported
 * rather than spun on. Every sender sets EVENT on its target before it
 * sleeps itself, and a vCPU leaves the count before it clears EVENT; so
 * the last to enter, seeing the full count, no EVENT anywhere, and the
 * count still full after that look, knows no wake-up is in flight.
 */
static void dead_enter(struct vcpu *v)
{
	struct vm *vm = v->vm;

	if (v->dead_halt)
		return;
	v->dead_halt = true;
	if (atomic_fetch_add(&vm->pc_dead_halts, 1) + 1 != vm->cfg.nr_vcpus)
		return;
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++)
		if (atomic_load(&vm->vcpus[i].requests) & VCPU_REQ_EVENT)
			return;
	if (atomic_load(&vm->pc_dead_halts) != vm->cfg.nr_vcpus)
		return;
	pc_guest_end(v, -1, vm->cfg.nr_vcpus == 1
		     ? "vcpu halted with interrupts off (nothing can wake it)"
		     : "every vcpu halted with interrupts off or waits for a SIPI (nothing can wake them)");
}

static void dead_leave(struct vcpu *v)
{
	if (v->dead_halt) {
		v->dead_halt = false;
		atomic_fetch_sub(&v->vm->pc_dead_halts, 1);
	}
}

/*
 * The pCPU's own APIC timer, armed for the guest's next timer expiry (0:
 * none). Armed again if it fired before the TSC reached the deadline (in
 * one-shot mode its rate against the TSC is a measurement).
 */
static void arm_timer(struct vcpu *v, uint64_t deadline)
{
	if (deadline == v->timer_armed && (!deadline || apic_timer_pending()))
		return;
	if (deadline)
		apic_timer_arm(deadline);
	else
		apic_timer_disarm();
	v->timer_armed = deadline;
}

/*
 * Sleep on this pCPU until something is pending for the vCPU: any request
 * but a TLB flush (which a vCPU outside the guest serves at its next
 * entry), or the guest's timer's expiry (deadline, 0 none). RCU-offline
 * meanwhile: a sleeping vCPU must not hold up a grace period.
 * Interrupts are off on entry and on return.
 */
static void pc_block(struct vcpu *v, uint64_t deadline)
{
	arm_timer(v, deadline);
	atomic_store(&v->mode, VCPU_BLOCKED);
	if (!(atomic_load(&v->requests) & ~VCPU_REQ_TLB_FLUSH) &&
	    !(deadline && tsc_passed(deadline))) {
		v->stats.sleeps++;
		rcu_offline();
		asm volatile("sti; hlt; cli" ::: "memory");
		rcu_online();
	}
	atomic_store(&v->mode, VCPU_OUTSIDE);
	/* Out of the dead count before the loop clears EVENT (dead_enter says why). */
	if (atomic_load(&v->requests) & VCPU_REQ_EVENT)
		dead_leave(v);
}

/* INIT: the vCPU waits for a SIPI; what was pending in it is gone. */
static void take_init(struct vcpu *v)
{
	v->wait_sipi = true;
	v->halted = false;
	v->nmi_pending = false;
	virt->vcpu_request_window(&v->arch, false, false);
}

/* SIPI: real mode at vector << 12 (virt/vcpu.h: the reset of everything else). */
static bool take_sipi(struct vcpu *v, unsigned int vector)
{
	char err[160];

	if (!virt->vcpu_reset_sipi(&v->arch, vector, err, sizeof(err))) {
		vcpu_fail(v, "cannot start it at its SIPI (vector 0x%x): %s", vector, err);
		return false;
	}
	/* EDX: the CPU's signature, as after RESET and INIT. */
	v->arch.regs = (struct guest_regs){ .rflags = 0x2, .rdx = vcpu_cpuid(v, 1, 0).eax };
	v->guest_cr0 = CR0_CD | CR0_NW | CR0_ET;
	v->guest_cr3 = v->guest_cr4 = v->guest_efer = 0;
	v->guest_cr8 = 0;
	v->guest_dr[6] = 0xffff0ff0;
	v->guest_dr[7] = 0x400;
	v->wait_sipi = false;
	v->stats.sipis++;
	return !v->shadow || vcpu_reload_shadow_root(v);
}

/*
 * Before each entry of a PC guest's vCPU, with interrupts off: take what
 * its APIC has for it, inject what the guest can take now, and ask for a
 * window for the rest. false: do not enter now (it slept, or must stop);
 * the caller serves requests and comes back.
 */
bool pc_prepare_entry(struct vcpu *v)
{
	struct pc_devices *d = v->vm->dev;
	uint64_t deadline;
	bool want_irq = false, want_nmi = false;
	int vec;

	if (pc_lapic_take_init(d, v->id))
		take_init(v);
	if (v->wait_sipi) {
		vec = pc_lapic_take_sipi(d, v->id);
		if (vec < 0) {
			dead_enter(v);
			pc_block(v, 0);
			return false;
		}
		dead_leave(v);
		if (!take_sipi(v, (unsigned int)vec))
			return false;
	}
	if (pc_lapic_take_nmi(d, v->id))
		v->nmi_pending = true;
	deadline = pc_lapic_timer_poll(d, v->id);
	vec = pc_lapic_pending_vector(d, v->id);
	if (v->halted) {
		/* HLT ends with an interrupt the guest takes, or an NMI. */
		if (!v->nmi_pending && !(vec >= 0 && (v->arch.regs.rflags & RFLAGS_IF))) {
			if (!(v->arch.regs.rflags & RFLAGS_IF))
				dead_enter(v);
			pc_block(v, deadline);
			return false;
		}
		dead_leave(v);
		v->halted = false;
	}
	if (v->nmi_pending) {
		if (virt->vcpu_can_inject(&v->arch, true)) {
			virt->vcpu_inject_nmi(&v->arch);
			v->nmi_pending = false;
			v->stats.nmis_injected++;
		} else {
			want_nmi = true;
		}
	}
	if (vec >= 0) {
		if (!want_nmi && virt->vcpu_can_inject(&v->arch, false)) {
			virt->vcpu_inject_irq(&v->arch, (unsigned int)vec);
			pc_lapic_ack(d, v->id, (unsigned int)vec);
			v->stats.irqs_injected++;
			/* Another one behind it waits for the guest's next window. */
			want_irq = pc_lapic_pending_vector(d, v->id) >= 0;
		} else {
			want_irq = true;
		}
	}
	virt->vcpu_request_window(&v->arch, want_irq, want_nmi);
	arm_timer(v, deadline);
	return true;
}

/* HLT: the vCPU sleeps from its next pc_prepare_entry until it can take something. */
void pc_halt(struct vcpu *v)
{
	v->halted = true;
}

/* The vCPU has stopped: nothing of its may fire on the pCPU any more. */
void pc_vcpu_stopped(struct vcpu *v)
{
	arm_timer(v, 0);
}
