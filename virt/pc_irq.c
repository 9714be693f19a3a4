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
#include "lib/string.h"
#include "mm/rcu/rcu.h"
#include "mm/shadow/shadow_mmu.h"
#include "virt/cpuid.h"
#include "virt/cr.h"
#include "virt/dev/dev.h"
#include "virt/dirty_log.h"
#include "virt/msr.h"
#include "virt/pc.h"
#include "virt/realmode.h"
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
		ipi_send(v->pcpu, VEC_KICK);
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
	if (!atomic_load(&v->requests) &&
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

/*
 * Real mode by emulation, where the backend cannot run it (VMX without
 * unrestricted guest, i.e. mmu=shadow): virt/realmode.c runs the AP's
 * start-up code on its own pCPU, through the callbacks below, until the
 * far jump that loads a protected-mode CS; the hardware takes it from
 * there (docs/REAL_MODE.md). A start-up that runs longer stops the VM.
 */
#define REALMODE_MAX_INSNS 100000

struct rm_store_ctx {
	void *hva;
	const void *src;
	unsigned int len;
};

static void rm_store(void *ctx)
{
	struct rm_store_ctx *c = ctx;

	memcpy(c->hva, c->src, c->len);
}

/*
 * RAM only, page by page. A store under shadow paging goes through the
 * shadow MMU, as an emulated store to a guest table would (shadow
 * entries built from those bytes go first), and to the dirty log.
 */
static bool rm_access(struct vcpu *v, uint64_t gpa, void *buf, unsigned int len, bool write)
{
	uint8_t *b = buf;

	while (len) {
		unsigned int n = (unsigned int)(PAGE_SIZE - (gpa & (PAGE_SIZE - 1)));
		uint8_t *hva;

		n = n < len ? n : len;
		hva = vm_gpa_to_hva(v->vm, gpa, n);
		if (!hva)
			return false;
		if (!write) {
			memcpy(b, hva, n);
		} else if (v->shadow) {
			struct shadow_written w = { .gfn = gpa >> PAGE_SHIFT,
						    .off = (unsigned int)(gpa & (PAGE_SIZE - 1)), .len = n };
			struct rm_store_ctx c = { .hva = hva, .src = b, .len = n };

			shadow_mmu_emulated_write(v->vm->smmu, &w, 1, rm_store, &c);
			vm_dirty_log_write_fault(v->vm, gpa);
		} else {
			memcpy(hva, b, n);
			vm_dirty_log_write_fault(v->vm, gpa);
		}
		gpa += n;
		b += n;
		len -= n;
	}
	return true;
}

static bool rm_read(void *ctx, uint64_t la, void *buf, unsigned int len)
{
	return rm_access(ctx, la, buf, len, false);
}

static bool rm_write(void *ctx, uint64_t la, const void *buf, unsigned int len)
{
	return rm_access(ctx, la, (void *)buf, len, true);
}

/* false: the VM stops (isa-debug-exit, or io=strict with nothing there), said here. */
static bool rm_io(void *ctx, uint16_t port, unsigned int size, bool in, uint32_t *val)
{
	struct vcpu *v = ctx;
	char how[48];

	switch (pc_port_io(v->vm->dev, v->id, port, size, in, val)) {
	case PC_IO_DONE:
		return true;
	case PC_IO_EXIT:
		fmt_snprintf(how, sizeof(how), "isa-debug-exit, status %d", pc_exit_status(v->vm->dev));
		pc_guest_end(v, pc_exit_status(v->vm->dev), how);
		return false;
	case PC_IO_RESET:
		pc_guest_end(v, -1, pc_reset_cause(v->vm->dev));
		return false;
	case PC_IO_POWEROFF:
		pc_guest_end(v, 0, "ACPI S5 (power off)");
		return false;
	case PC_IO_STRICT_STOP:
		vcpu_fail(v, "%s port 0x%x in real mode, where no device is (io=strict)",
			  in ? "read of" : "write to", port);
		return false;
	}
	return false;
}

static void rm_cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	struct cpuid_regs r = vcpu_cpuid(ctx, leaf, sub);

	out[0] = r.eax;
	out[1] = r.ebx;
	out[2] = r.ecx;
	out[3] = r.edx;
}

static bool rm_rdmsr(void *ctx, uint32_t msr, uint64_t *val)
{
	return msr_read(ctx, msr, val);
}

static bool rm_wrmsr(void *ctx, uint32_t msr, uint64_t val)
{
	return msr_write(ctx, msr, val);
}

static const struct rm_ops rm_vcpu_ops = {
	.read = rm_read, .write = rm_write, .io = rm_io,
	.cpuid = rm_cpuid, .rdmsr = rm_rdmsr, .wrmsr = rm_wrmsr,
};

/* Why an emulated real-mode start stopped, in one line (RM_IO_STOP has said it). */
static void rm_report(struct vcpu *v, enum rm_result res, const struct rm_stop *st)
{
	char bytes[16 * 5 + 1] = "";
	size_t at = 0;

	for (unsigned int i = 0; i < st->nbytes; i++)
		at += (size_t)fmt_snprintf(bytes + at, sizeof(bytes) - at, "%s0x%02x", i ? " " : "",
					   st->bytes[i]);
	switch (res) {
	case RM_UNSUPPORTED:
		vcpu_fail(v, "real-mode instruction %s at %04x:%04x is not emulated (VMX without unrestricted guest runs real mode by emulation)",
			  bytes, st->cs, st->ip);
		break;
	case RM_NO_MEMORY:
		vcpu_fail(v, "real-mode instruction %s at %04x:%04x accesses 0x%lx, outside RAM (not emulated)",
			  bytes, st->cs, st->ip, (unsigned long)st->addr);
		break;
	case RM_FAULT:
		vcpu_fail(v, "real-mode instruction %s at %04x:%04x: %s; emulated real mode delivers no exceptions",
			  bytes, st->cs, st->ip, st->why);
		break;
	case RM_HLT:
		vcpu_fail(v, "HLT at %04x:%04x in real mode: VMX without unrestricted guest emulates real mode only up to protected mode",
			  st->cs, st->ip);
		break;
	case RM_LIMIT:
		vcpu_fail(v, "still in real mode after %u emulated instructions (at %04x:%04x): VMX without unrestricted guest emulates only a short real-mode start",
			  REALMODE_MAX_INSNS, st->cs, st->ip);
		break;
	case RM_IO_STOP:
	case RM_PROTECTED:
		break;
	}
}

/*
 * The SIPI's real-mode start, emulated from the INIT state to its far jump
 * into protected mode; then the backend takes that state, and the vCPU's
 * own copies of the control registers (the truth under shadow paging)
 * pick the shadow root.
 */
static bool start_emulated(struct vcpu *v, unsigned int vector)
{
	struct rm_state s;
	struct rm_stop stop;
	enum rm_result res;
	char err[160];

	rm_init_sipi(&s, vector);
	s.gpr[2] = (uint32_t)v->arch.regs.rdx;
	res = rm_run(&s, &rm_vcpu_ops, v, REALMODE_MAX_INSNS, &stop);
	if (res != RM_PROTECTED) {
		rm_report(v, res, &stop);
		return false;
	}
	if (!virt->vcpu_load_pm_state(&v->arch, &s.sys, err, sizeof(err))) {
		vcpu_fail(v, "cannot hand over its protected-mode state after the real-mode start: %s", err);
		return false;
	}
	for (int i = 0; i < 8; i++)
		*guest_reg(&v->arch.regs, i) = s.gpr[i];
	v->arch.regs.rip = s.eip;
	v->arch.regs.rflags = s.eflags;
	v->guest_cr0 = s.sys.cr0;
	v->guest_cr3 = s.sys.cr3;
	v->guest_cr4 = s.sys.cr4;
	v->guest_efer = s.sys.efer;
	return vcpu_reload_shadow_root(v);
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
	if (v->shadow && !virt_caps.shadow_real_mode)
		return start_emulated(v, vector);
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
	if (v->id == 0) {
		/* The PIT's channel 0 raises its edges here, before the vector is chosen. */
		uint64_t pit = pc_pit_poll(d);

		if (pit && (!deadline || pit < deadline))
			deadline = pit;
	}
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
