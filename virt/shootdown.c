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
#include "arch/x86/percpu.h"
#include "arch/x86/smp.h"
#include "arch/x86/tsc.h"
#include "lib/plant.h"
#include "virt/shootdown.h"
#include "virt/vm.h"

/*
 * A set of a VM's vCPUs is words of 64 bits (bit i of word w: vCPU
 * 64 * w + i), on the flusher's stack. The functions below take the
 * number of words as a constant: a VM of up to 64 vCPUs (every one with a
 * pCPU to itself, in practice) gets the code it had when a set was one
 * register; a bigger one loops over VM_MAX_VCPUS / 64 words at most.
 */
#define SET_WORDS_MAX (VM_MAX_VCPUS / 64)

_Static_assert(VM_MAX_VCPUS % 64 == 0, "a set of vCPUs is whole words");

/* The planted bugs' part of a kick (plant=shootdown_skip, plant=kick_all), off the fast path. */
static bool plant_skip_first(unsigned int request)
{
	return request == VCPU_REQ_TLB_FLUSH && planted(PLANT_SHOOTDOWN_SKIP);
}

static void plant_kick_all(unsigned int request)
{
	cpumask_t all = *smp_online();

	if (request != VCPU_REQ_TLB_FLUSH || !planted(PLANT_KICK_ALL))
		return;
	cpumask_clear_cpu(&all, this_cpu()->cpu); /* a broadcast shootdown */
	ipi_send_mask(&all, VEC_KICK);
}

/*
 * Set request on the vCPUs of vm that run on targets (NULL: all of them)
 * and IPI those in guest mode (IN_GUEST, or EXITING for another flusher):
 * their pCPUs are gathered in a set and sent to after the last request is
 * set, in one ICR write per logical cluster (ipi_send_set,
 * arch/x86/ipi.h). Puts the vCPUs kicked in kicked[0..words), which are
 * the ones to wait for, and their number in *nr_kicked, and returns how
 * many vCPUs were targeted. A vCPU in a pCPU's run queue but not on it now
 * is OUTSIDE: it gets the request alone and serves it before its next
 * entry (virt/sched.c), so a pCPU gets at most one IPI however many vCPUs
 * it holds. plant=shootdown_skip leaves out one target on purpose, for the
 * check below to catch.
 */
__attribute__((always_inline)) static inline unsigned int
kick_some(struct vm *vm, const cpumask_t *targets, unsigned int request, uint64_t *kicked,
	  unsigned int words, unsigned int *nr_kicked)
{
	bool skip = planted_bug != PLANT_NONE && plant_skip_first(request);
	unsigned int nr_targets = 0, nr = vm->cfg.nr_vcpus, n_kicked = 0;
	struct vcpu *vcpus = vm->vcpus; /* read once: the atomics below would reload it */
	cpumask_t ipi_to;

	if (words == 1 && cpumask_one_word() && !skip) {
		/*
		 * Up to 64 vCPUs on up to 64 pCPUs, the sets in registers. A
		 * vCPU's pcpu is below 64 here, since it is online. (A planted
		 * skip takes the loop below.)
		 */
		uint64_t in_set = targets ? targets->w[0] : ~0ull, kick = 0, to = 0;

		for (unsigned int i = 0; i < nr; i++) {
			struct vcpu *v = &vcpus[i];
			uint64_t pcpu_bit = 1ull << v->pcpu;
			int mode = VCPU_IN_GUEST;

			if (!(in_set & pcpu_bit))
				continue;
			nr_targets++;
			atomic_fetch_or(&v->requests, request);
			/* mode is the old value after the call, whether it swapped or not. */
			atomic_compare_exchange_strong(&v->mode, &mode, VCPU_EXITING);
			if (mode == VCPU_IN_GUEST || mode == VCPU_EXITING) {
				kick |= 1ull << i;
				to |= pcpu_bit;
				n_kicked++;
			} else if (mode == VCPU_BLOCKED && request != VCPU_REQ_TLB_FLUSH) {
				to |= pcpu_bit;
			}
		}
		kicked[0] = kick;
		ipi_to.w[0] = to;
		goto send;
	}
	cpumask_clear(&ipi_to);
	for (unsigned int w = 0; w < words; w++)
		kicked[w] = 0;
	for (unsigned int i = 0; i < nr; i++) {
		struct vcpu *v = &vcpus[i];
		int in_guest = VCPU_IN_GUEST;

		if (targets && !cpumask_test(targets, v->pcpu))
			continue;
		nr_targets++;
		if (skip) {
			skip = false;
			continue;
		}
		atomic_fetch_or(&v->requests, request);
		if (atomic_compare_exchange_strong(&v->mode, &in_guest, VCPU_EXITING) ||
		    in_guest == VCPU_EXITING) {
			kicked[i / 64] |= 1ull << (i % 64);
			n_kicked++;
			cpumask_set(&ipi_to, v->pcpu);
		} else if (in_guest == VCPU_BLOCKED && request != VCPU_REQ_TLB_FLUSH) {
			cpumask_set(&ipi_to, v->pcpu); /* asleep in HLT (virt/pc_irq.c): a flush can wait */
		}
	}
send:
	ipi_send_set(&ipi_to, VEC_KICK);
	if (planted_bug != PLANT_NONE)
		plant_kick_all(request);
	*nr_kicked = n_kicked;
	return nr_targets;
}

void vm_kick_vcpus(struct vm *vm, unsigned int request)
{
	uint64_t kicked[SET_WORDS_MAX];
	unsigned int nr_kicked;

	kick_some(vm, NULL, request, kicked, (vm->cfg.nr_vcpus + 63) / 64, &nr_kicked);
}

/*
 * The protocol's promise, checked by a caller after a flush it made
 * (scenario=tlb_shootdown checks every one): a target that is running guest
 * code now (in_guest_seq, set only across VMRUN) entered with every flush
 * up to seq served. The flush's acquire of each kicked vCPU's mode (the
 * wait) orders these reads after that vCPU's last exit's NOT_IN_GUEST
 * store. It is not part of the flush: the flush's own caller gains nothing
 * from it, and it would cost a load per vCPU on every flush.
 */
void tlb_flush_check(struct vm *vm, const cpumask_t *targets, uint64_t seq)
{
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		uint64_t entered_with = atomic_load(&v->in_guest_seq);

		if ((!targets || cpumask_test(targets, v->pcpu)) && entered_with != NOT_IN_GUEST &&
		    entered_with < seq)
			atomic_fetch_add(&vm->shootdown_violations, 1);
	}
}

/* The turns a flusher spins on one lingering vCPU before it serves its own mailbox and reads the clock. */
#define WAIT_SPINS 256

/* NMI every vCPU still in kicked (a turn of wait_left_guest past its deadline); see there. */
static void nmi_lingering(struct vm *vm, const uint64_t *kicked, unsigned int words,
			  unsigned int nmis, bool bound_passed)
{
	for (unsigned int w = 0; w < words; w++) {
		for (uint64_t left = kicked[w]; left; left &= left - 1) {
			struct vcpu *v = &vm->vcpus[w * 64 + __builtin_ctzll(left)];

			ipi_send_nmi_kick(v->pcpu);
			atomic_fetch_add_explicit(&vm->nmi_kicks, 1, memory_order_relaxed);
			if (!bound_passed)
				continue;
			kprintf("vm %u: vcpu %u (pcpu %u) has not left the guest %u ms after a kick and %u NMIs: stopping the VM\n",
				vm->id, v->id, v->pcpu, VCPU_LEAVE_BOUND_MS, nmis);
			atomic_store(&vm->unresponsive, true);
			atomic_store(&vm->stopping, true);
		}
	}
}

/*
 * Wait until every vCPU in kicked[0..words) is out of guest mode (OUTSIDE:
 * it has acknowledged our request). They were all kicked before the first
 * wait, so they leave together: a pass over the set drops those that have
 * left, then the flusher spins on one that has not (a load and a pause a
 * turn, so its acknowledgement is seen within a few cycles) and passes
 * again when it leaves. Every WAIT_SPINS turns it serves its own mailbox
 * and reads the clock: a vCPU still in the guest KICK_NMI_AFTER_MS after
 * the wait began gets an NMI, and another every KICK_NMI_EVERY_MS; one
 * still there at VCPU_LEAVE_BOUND_MS stops its VM (the wait goes on).
 * Clears kicked.
 */
static void wait_left_guest(struct vm *vm, uint64_t *kicked, unsigned int words)
{
	uint64_t start = 0, next_nmi_ms = KICK_NMI_AFTER_MS, khz = tsc_khz ? tsc_khz : 1000000;
	struct vcpu *vcpus = vm->vcpus;
	unsigned int nmis = 0;

	for (;;) {
		struct vcpu *lingering = NULL;
		unsigned int spins = 0;

		for (unsigned int w = 0; w < words; w++) {
			for (uint64_t left = kicked[w]; left; left &= left - 1) {
				struct vcpu *v = &vcpus[w * 64 + __builtin_ctzll(left)];

				/* Acquire: pairs with the vCPU's release of OUTSIDE after its exit. */
				if (atomic_load_explicit(&v->mode, memory_order_acquire) != VCPU_EXITING)
					kicked[w] &= ~(left & -left);
				else if (!lingering)
					lingering = v;
			}
		}
		if (!lingering)
			return;
		while (atomic_load_explicit(&lingering->mode, memory_order_relaxed) == VCPU_EXITING &&
		       ++spins < WAIT_SPINS)
			cpu_relax();
		if (spins < WAIT_SPINS)
			continue;
		smp_call_handle();
		if (!start)
			start = rdtsc();
		if (rdtsc() - start < next_nmi_ms * khz)
			continue;
		nmis++;
		next_nmi_ms += KICK_NMI_EVERY_MS;
		nmi_lingering(vm, kicked, words, nmis,
			      next_nmi_ms - KICK_NMI_EVERY_MS < VCPU_LEAVE_BOUND_MS &&
				      next_nmi_ms >= VCPU_LEAVE_BOUND_MS);
	}
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

/*
 * wait_left_guest's first WAIT_SPINS turns for a set of one word, inline
 * in the flush: a turn reads each vCPU still in the set (they were kicked
 * at once and leave together). true if all have left; else kicked[0] holds
 * those that have not, for wait_left_guest.
 */
__attribute__((always_inline)) static inline bool wait_left_soon(struct vcpu *vcpus,
								  uint64_t *kicked)
{
	uint64_t left = kicked[0];

	for (unsigned int spins = 0; left && spins < WAIT_SPINS; spins++) {
		for (uint64_t l = left; l; l &= l - 1) {
			/* Acquire: pairs with the vCPU's release of OUTSIDE after its exit. */
			if (atomic_load_explicit(&vcpus[__builtin_ctzll(l)].mode,
						 memory_order_acquire) != VCPU_EXITING)
				left &= ~(l & -l);
		}
		if (left)
			cpu_relax();
	}
	kicked[0] = left;
	return !left;
}

/* tlb_flush_vcpus for a VM whose vCPU sets are words long (a constant: see above). */
__attribute__((always_inline)) static inline uint64_t flush_some(struct vm *vm,
								  const cpumask_t *targets,
								  unsigned int words)
{
	uint64_t seq = atomic_fetch_add(&vm->flush_seq, 1) + 1;
	uint64_t kicked[SET_WORDS_MAX];
	unsigned int nr_kicked;
	unsigned int nr_targets = kick_some(vm, targets, VCPU_REQ_TLB_FLUSH, kicked, words, &nr_kicked);

	/* While the targets exit: */
	atomic_fetch_add_explicit(&vm->remote_flushes, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&vm->ipis_sent, nr_kicked, memory_order_relaxed);
	atomic_fetch_add_explicit(&vm->ipis_avoided, nr_targets - nr_kicked, memory_order_relaxed);
	if (words > 1 || !wait_left_soon(vm->vcpus, kicked))
		wait_left_guest(vm, kicked, words);
	return seq;
}

uint64_t tlb_flush_vcpus(struct vm *vm, const cpumask_t *targets)
{
	if (vm->cfg.nr_vcpus <= 64)
		return flush_some(vm, targets, 1);
	return flush_some(vm, targets, (vm->cfg.nr_vcpus + 63) / 64);
}

void tlb_flush_vm(struct vm *vm)
{
	tlb_flush_vcpus(vm, NULL);
}

void vm_vcpu_pcpus(const struct vm *vm, cpumask_t *m)
{
	cpumask_clear(m);
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++)
		cpumask_set(m, vm->vcpus[i].pcpu);
}

void platform_flush_remote_tlbs(void *owner)
{
	tlb_flush_vm(owner);
}
