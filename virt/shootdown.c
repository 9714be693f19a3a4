// SPDX-License-Identifier: MIT
/*
 * Remote TLB shootdown for a VM. A flush sets VCPU_REQ_TLB_FLUSH on every
 * vCPU, then sends an IPI only to the pCPUs whose vCPU is IN_GUEST, moving
 * each to EXITING with cmpxchg, and waits until each has left the guest. A
 * vCPU that was not in the guest flushes before its next entry.
 *
 *  flusher (CPU0)                       vCPU (CPU1), virt/vcpu.c
 *  -------------------------------      ------------------------------------
 *  requests |= FLUSH        (seq_cst)   mode = IN_GUEST          (seq_cst)
 *  cmpxchg(mode, IN_GUEST, EXITING)     if (requests) back out, flush
 *    was IN_GUEST: IPI, wait            VMRUN ... exit on the IPI
 *    was EXITING: wait (another         mode = OUTSIDE (release) = the ack
 *      flusher's IPI gets it out)
 *    was OUTSIDE: it sees FLUSH first
 *
 * Both sides write, then read the other's word, with full barriers between:
 * either the vCPU sees the request before it enters, or the flusher sees it
 * in guest mode and waits until it has left. There is no third case. A vCPU
 * already EXITING must be waited for too (as KVM does for requests that
 * wait): it may still be running guest code on the old translations.
 */
#include "arch/x86/console.h"
#include "arch/x86/interrupt.h"
#include "arch/x86/ipi.h"
#include "arch/x86/panic.h"
#include "arch/x86/tsc.h"
#include "lib/plant.h"
#include "virt/shootdown.h"
#include "virt/vm.h"

/*
 * Set request on the vCPUs of vm that run on targets and IPI those in guest
 * mode (IN_GUEST, or EXITING for another flusher); returns the pCPUs kicked,
 * which are the ones to wait for. plant=shootdown_skip leaves out one
 * target on purpose, for the check above to catch.
 */
static cpumask_t vm_kick_some(struct vm *vm, cpumask_t targets, unsigned int request)
{
	cpumask_t kicked = 0, woken = 0;
	bool skip = request == VCPU_REQ_TLB_FLUSH && planted(PLANT_SHOOTDOWN_SKIP);

	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		int in_guest = VCPU_IN_GUEST;

		if (!(targets & CPU_BIT(v->pcpu)))
			continue;
		if (skip) {
			skip = false;
			continue;
		}
		atomic_fetch_or(&v->requests, request);
		if (atomic_compare_exchange_strong(&v->mode, &in_guest, VCPU_EXITING) ||
		    in_guest == VCPU_EXITING)
			kicked |= CPU_BIT(v->pcpu);
		else if (in_guest == VCPU_BLOCKED && request != VCPU_REQ_TLB_FLUSH)
			woken |= CPU_BIT(v->pcpu); /* asleep in HLT (virt/pc_irq.c): a flush can wait */
	}
	ipi_send_mask(kicked | woken, VEC_KICK);
	return kicked;
}

cpumask_t vm_kick_vcpus(struct vm *vm, unsigned int request)
{
	return vm_kick_some(vm, ~0ull, request);
}

/*
 * The protocol's promise, checked after every flush: a target that is
 * running guest code now (in_guest_seq, set only across VMRUN) entered with
 * every flush up to ours served. Our acquire of its mode (the wait) orders
 * this read after its last exit's NOT_IN_GUEST store.
 */
static void check_served(struct vm *vm, cpumask_t targets, uint64_t seq)
{
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		uint64_t entered_with = atomic_load(&v->in_guest_seq);

		if ((targets & CPU_BIT(v->pcpu)) && entered_with != NOT_IN_GUEST &&
		    entered_with < seq)
			atomic_fetch_add(&vm->shootdown_violations, 1);
	}
}

/*
 * Wait until v is out of guest mode (OUTSIDE: it has acknowledged our
 * request), kicking it with NMIs if the IPI did not get it out. *start is
 * when the flush began to wait, read once per flush and only if a vCPU is
 * still in the guest; the loop reads the clock once a turn, so that an
 * acknowledgement is seen as soon as in the plain spin it replaces.
 */
static void wait_left_guest(struct vm *vm, struct vcpu *v, uint64_t *start)
{
	uint64_t next_nmi_ms = KICK_NMI_AFTER_MS, khz = tsc_khz ? tsc_khz : 1000000;
	unsigned int nmis = 0;

	/* Acquire: pairs with the vCPU's release of OUTSIDE after its exit. */
	if (atomic_load_explicit(&v->mode, memory_order_acquire) != VCPU_EXITING)
		return;
	if (!*start)
		*start = rdtsc();
	while (atomic_load_explicit(&v->mode, memory_order_acquire) == VCPU_EXITING) {
		smp_call_handle();
		cpu_relax();
		if (rdtsc() - *start < next_nmi_ms * khz)
			continue;
		ipi_send_nmi_kick(v->pcpu);
		nmis++;
		next_nmi_ms += KICK_NMI_EVERY_MS;
		if (next_nmi_ms - KICK_NMI_EVERY_MS < VCPU_LEAVE_BOUND_MS &&
		    next_nmi_ms >= VCPU_LEAVE_BOUND_MS) {
			kprintf("vm %u: vcpu %u (pcpu %u) has not left the guest %u ms after a kick and %u NMIs: stopping the VM\n",
				vm->id, v->id, v->pcpu, VCPU_LEAVE_BOUND_MS, nmis);
			atomic_store(&vm->unresponsive, true);
			atomic_store(&vm->stopping, true);
		}
	}
	atomic_fetch_add_explicit(&vm->nmi_kicks, nmis, memory_order_relaxed);
}

void vm_nmi_kick_lingering(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (atomic_load(&v->mode) != VCPU_OUTSIDE) {
			ipi_send_nmi_kick(v->pcpu);
			atomic_fetch_add_explicit(&vm->nmi_kicks, 1, memory_order_relaxed);
		}
	}
}

void tlb_flush_vcpus(struct vm *vm, cpumask_t targets)
{
	uint64_t seq = atomic_fetch_add(&vm->flush_seq, 1) + 1;
	cpumask_t kicked = vm_kick_some(vm, targets, VCPU_REQ_TLB_FLUSH);
	uint64_t wait_start = 0;
	unsigned int nr_kicked = __builtin_popcountll(kicked);

	atomic_fetch_add_explicit(&vm->remote_flushes, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&vm->ipis_sent, nr_kicked, memory_order_relaxed);
	atomic_fetch_add_explicit(&vm->ipis_avoided,
				  __builtin_popcountll(targets & vm_vcpu_pcpus(vm)) - nr_kicked,
				  memory_order_relaxed);
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!(kicked & CPU_BIT(v->pcpu)))
			continue;
		wait_left_guest(vm, v, &wait_start);
	}
	check_served(vm, targets, seq);
}

void tlb_flush_vm(struct vm *vm)
{
	tlb_flush_vcpus(vm, vm_vcpu_pcpus(vm));
}

cpumask_t vm_vcpu_pcpus(const struct vm *vm)
{
	cpumask_t m = 0;

	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++)
		m |= CPU_BIT(vm->vcpus[i].pcpu);
	return m;
}

void platform_flush_remote_tlbs(void *owner)
{
	tlb_flush_vm(owner);
}
