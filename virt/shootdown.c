// SPDX-License-Identifier: MIT
/*
 * Remote TLB shootdown for a VM. A flush takes the next number of
 * vm->flush_seq, then sends an IPI only to the pCPUs whose vCPU is in guest
 * mode (kick=guest, below), and waits until each of those has left the
 * guest or entered it again having flushed. A vCPU that was not in the
 * guest flushes before its next entry: it finds flush_seq past the one it
 * served. The flusher writes nothing per vCPU: no request bit, no cmpxchg
 * of its mode. With kick=early (flush_early, further down) the IPIs go
 * first, to every target's pCPU, and the modes are read after them.
 *
 *  flusher (CPU0)                       vCPU (CPU1), virt/vcpu.c
 *  -------------------------------      ------------------------------------
 *  seq = ++flush_seq        (seq_cst)   mode = IN_GUEST          (seq_cst)
 *  read mode                            if (flush_seq != served) back out,
 *    IN_GUEST or EXITING: IPI, wait       flush, served = flush_seq
 *      until flush_served(v, seq)       in_guest_seq = served; VMRUN
 *    OUTSIDE or BLOCKED: it sees seq    ... exit on the IPI: in_guest_seq =
 *      before it enters                   NOT_IN_GUEST, mode = OUTSIDE
 *
 * Both sides write, then read the other's word, with full barriers between:
 * either the vCPU sees the new number before it enters, or the flusher
 * sees it in guest mode and waits. The wait cannot be fooled by a vCPU that
 * left and came back (mode IN_GUEST again): it came back through the check,
 * after the IPI and so after ++flush_seq, and entered with served >= seq
 * (flush_served). A vCPU EXITING (another request's IPI is on its way) is
 * waited for as well: it may still be running guest code on the old
 * translations.
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

/* plant=kick_all: a flush that IPIs every other pCPU as well, off the fast path. */
static __attribute__((noinline)) void plant_kick_all(void)
{
	cpumask_t all = *smp_online();

	if (!planted(PLANT_KICK_ALL))
		return;
	cpumask_clear_cpu(&all, this_cpu()->cpu); /* a broadcast shootdown */
	ipi_send_mask(&all, VEC_KICK);
}

/*
 * Set request on every vCPU of vm and IPI those in guest mode (moving them
 * to EXITING with cmpxchg, so that a vCPU gets one IPI however many kicks
 * race) or asleep in a PC guest's HLT (BLOCKED, virt/pc_irq.c): their
 * pCPUs are gathered in a set and sent to after the last request is set.
 * Nobody waits for them.
 */
void vm_kick_vcpus(struct vm *vm, unsigned int request)
{
	cpumask_t ipi_to;

	cpumask_clear(&ipi_to);
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		int mode = VCPU_IN_GUEST;

		atomic_fetch_or(&v->requests, request);
		if (atomic_compare_exchange_strong(&v->mode, &mode, VCPU_EXITING) ||
		    mode == VCPU_EXITING || mode == VCPU_BLOCKED)
			cpumask_set(&ipi_to, v->pcpu);
	}
	ipi_send_set(&ipi_to, VEC_KICK);
}

/* Whether a vCPU in this mode may be running guest code (and must be IPId and waited for). */
static inline bool mode_in_guest(int mode)
{
	return (unsigned int)(mode - VCPU_IN_GUEST) <= VCPU_EXITING - VCPU_IN_GUEST;
}

_Static_assert(VCPU_EXITING == VCPU_IN_GUEST + 1, "mode_in_guest: IN_GUEST and EXITING are a range");

/*
 * IPI the vCPUs of vm that run on targets (NULL: all of them) and are in
 * guest mode, for flush seq (already taken: the seq_cst RMW orders it
 * before the reads of their modes here). Their pCPUs are gathered in a set
 * and sent to in one ICR write per logical cluster (ipi_send_set,
 * arch/x86/ipi.h). Puts the vCPUs kicked in kicked[0..words), which are
 * the ones to wait for, and their number in *nr_kicked, and returns how
 * many vCPUs were targeted. A vCPU in a pCPU's run queue but not on it now
 * is OUTSIDE: it flushes before its next entry (virt/sched.c), so a pCPU
 * gets at most one IPI however many vCPUs it holds. plant=shootdown_skip
 * leaves out one target on purpose, for tlb_flush_check to catch.
 */
__attribute__((always_inline)) static inline unsigned int
flush_kick(struct vm *vm, const cpumask_t *targets, uint64_t *kicked, unsigned int words,
	   unsigned int *nr_kicked)
{
	bool skip = planted_bug != PLANT_NONE && planted(PLANT_SHOOTDOWN_SKIP);
	unsigned int nr_targets = 0, nr = vm->cfg.nr_vcpus, n_kicked = 0;
	struct vcpu *vcpus = vm->vcpus;
	cpumask_t ipi_to;

	if (words == 1 && cpumask_one_word() && !skip) {
		/*
		 * Up to 64 vCPUs on up to 64 pCPUs, the sets in registers. A
		 * vCPU's pcpu is below 64 here, since it is online. (A planted
		 * skip takes the loop below.)
		 */
		uint64_t in_set = targets ? targets->w[0] : ~0ull, kick = 0, to = 0;

		for (unsigned int i = 0; i < nr; i++) {
			uint64_t pcpu_bit = 1ull << vcpus[i].pcpu;

			if (!(in_set & pcpu_bit))
				continue;
			nr_targets++;
			if (mode_in_guest(atomic_load(&vcpus[i].mode))) {
				kick |= 1ull << i;
				to |= pcpu_bit;
				n_kicked++;
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

		if (targets && !cpumask_test(targets, v->pcpu))
			continue;
		nr_targets++;
		if (skip) {
			skip = false;
			continue;
		}
		if (mode_in_guest(atomic_load(&v->mode))) {
			kicked[i / 64] |= 1ull << (i % 64);
			n_kicked++;
			cpumask_set(&ipi_to, v->pcpu);
		}
	}
send:
	ipi_send_set(&ipi_to, VEC_KICK);
	if (planted_bug != PLANT_NONE)
		plant_kick_all();
	*nr_kicked = n_kicked;
	return nr_targets;
}

/*
 * Whether v, kicked for flush seq, can no longer use a translation older
 * than the flush: it is out of guest mode (mode is read first: OUTSIDE,
 * released at its exit after in_guest_seq), or it entered again having
 * served seq or later (in_guest_seq is set only after the entry's check,
 * and is NOT_IN_GUEST from the exit until then).
 */
static inline bool flush_served(struct vcpu *v, uint64_t seq)
{
	uint64_t entered_with;

	/* Acquire: pairs with the vCPU's release of OUTSIDE after its exit. */
	if (!mode_in_guest(atomic_load_explicit(&v->mode, memory_order_acquire)))
		return true;
	entered_with = atomic_load_explicit(&v->in_guest_seq, memory_order_acquire);
	return entered_with >= seq && entered_with != NOT_IN_GUEST;
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
 * Wait until every vCPU in kicked[0..words) has served flush seq
 * (flush_served: out of guest mode, or back in having flushed). They were all kicked before the first
 * wait, so they leave together: a pass over the set drops those that have
 * left, then the flusher spins on one that has not (a load and a pause a
 * turn, so its acknowledgement is seen within a few cycles) and passes
 * again when it leaves. Every WAIT_SPINS turns it serves its own mailbox
 * and reads the clock: a vCPU still in the guest KICK_NMI_AFTER_MS after
 * the wait began gets an NMI, and another every KICK_NMI_EVERY_MS; one
 * still there at VCPU_LEAVE_BOUND_MS stops its VM (the wait goes on).
 * Clears kicked.
 */
static void wait_left_guest(struct vm *vm, uint64_t seq, uint64_t *kicked, unsigned int words)
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

				if (flush_served(v, seq))
					kicked[w] &= ~(left & -left);
				else if (!lingering)
					lingering = v;
			}
		}
		if (!lingering)
			return;
		while (!flush_served(lingering, seq) && ++spins < WAIT_SPINS)
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
 * at once and leave together). true if all have served seq; else kicked[0] holds
 * those that have not, for wait_left_guest.
 */
__attribute__((always_inline)) static inline bool wait_left_soon(struct vcpu *vcpus, uint64_t seq,
								  uint64_t *kicked)
{
	uint64_t left = kicked[0];

	for (unsigned int spins = 0; left && spins < WAIT_SPINS; spins++) {
		for (uint64_t l = left; l; l &= l - 1) {
			if (flush_served(&vcpus[__builtin_ctzll(l)], seq))
				left &= ~(l & -l);
		}
		if (left)
			cpu_relax();
	}
	kicked[0] = left;
	return !left;
}

/*
 * kick=early: the flush's IPIs go first, to every pCPU of the VM's vCPUs on
 * targets (NULL: all) but the flusher's own, before anything is read; the
 * vCPUs' modes are read while they exit. Only for a VM whose pCPUs run no
 * other VM's vCPUs (vm.kick_early): an IPI to a pCPU whose vCPU is out of
 * guest mode costs that pCPU an interrupt and nobody else anything.
 *
 * Correct for the same reason as the other order: a vCPU read in guest
 * mode after the IPI either got it in the guest (it exits), or took it
 * before it entered and so read the new flush_seq at its check, or has it
 * pending across VMRUN (an exit at once); one read out of guest mode
 * passes the check before it enters. The wait then goes through the
 * targets in order, spinning on each until flush_served: they were all
 * sent to at once and leave together, so only the first makes it spin
 * (flush_early_whole, flush_early_mapped). Here, for any VM and any set of
 * targets: the targets that have not served seq when read go to
 * wait_left_guest. Returns the number of targets, and the IPIs in *sent.
 */
static __attribute__((noinline)) unsigned int
flush_early(struct vm *vm, const cpumask_t *targets, uint64_t seq, unsigned int words,
	    unsigned int *sent)
{
	bool skip = planted_bug != PLANT_NONE && planted(PLANT_SHOOTDOWN_SKIP);
	unsigned int nr = vm->cfg.nr_vcpus, nr_targets = 0, skipped = UINT32_MAX, i;
	struct vcpu *vcpus = vm->vcpus;
	uint64_t kicked[SET_WORDS_MAX];
	cpumask_t to;


	if (targets)
		cpumask_and(&to, targets, &vm->vcpu_pcpus);
	else
		to = vm->vcpu_pcpus;
	if (skip) { /* plant=shootdown_skip: the first target gets no IPI and is not waited for */
		for (i = 0; i < nr && targets && !cpumask_test(targets, vcpus[i].pcpu); i++)
			;
		if (i < nr) {
			skipped = i;
			cpumask_clear_cpu(&to, vcpus[i].pcpu);
		}
	}
	cpumask_clear_cpu(&to, this_cpu()->cpu);
	ipi_send_set(&to, VEC_KICK);
	if (planted_bug != PLANT_NONE)
		plant_kick_all();
	*sent = cpumask_weight(&to);
	for (unsigned int w = 0; w < words; w++)
		kicked[w] = 0;
	for (i = 0; i < nr; i++) {
		struct vcpu *v = &vcpus[i];

		if (targets && !cpumask_test(targets, v->pcpu))
			continue;
		nr_targets++;
		if (i != skipped && !flush_served(v, seq))
			kicked[i / 64] |= 1ull << (i % 64);
	}
	wait_left_guest(vm, seq, kicked, words);
	return nr_targets;
}

/* The number of bits set in w, without a call (the kernel is built for any x86-64). */
static inline unsigned int word_weight(uint64_t w)
{
	w -= (w >> 1) & 0x5555555555555555ull;
	w = (w & 0x3333333333333333ull) + ((w >> 2) & 0x3333333333333333ull);
	w = (w + (w >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (unsigned int)((w * 0x0101010101010101ull) >> 56);
}

/*
 * The rest of flush_early_mapped's wait, from the target on the lowest pCPU
 * in left, which is in the guest still: spin on it, then go on through the
 * others, spinning on each one still there; wait_left_guest for those
 * still there after WAIT_SPINS turns on one. A loop, not a call per
 * lingering target: up to 64 of them on a 16 KiB stack.
 */
static __attribute__((noinline)) void flush_early_linger(struct vm *vm, uint64_t seq, uint64_t left)
{
	uint64_t kicked[1] = { 0 };

	for (; left; left &= left - 1) {
		struct vcpu *v = vm->pcpu_vcpu[__builtin_ctzll(left)];

		for (unsigned int spins = 0; !flush_served(v, seq); spins++) {
			if (spins < WAIT_SPINS) {
				cpu_relax();
				continue;
			}
			for (; left; left &= left - 1) {
				v = vm->pcpu_vcpu[__builtin_ctzll(left)];
				if (!flush_served(v, seq))
					kicked[0] |= 1ull << v->id;
			}
			wait_left_guest(vm, seq, kicked, 1);
			return;
		}
	}
}

/*
 * kick=early's IPIs to to, a set of the first 64 CPUs without the
 * flusher's own (self, its bit): in one ICR write with the all-but-self
 * shorthand where to is every other online CPU, which in xAPIC mode saves
 * a write per cluster of 4 (each costs Bochs about 50 cycles).
 */
__attribute__((always_inline)) static inline void flush_send(uint64_t to, uint64_t self)
{
	if (to == (smp_online()->w[0] & ~self) && (to & (to - 1))) {
		if (ipi_layout == IPI_LOGICAL_X2APIC)
			apic_send_icr_x2apic(0, APIC_DM_FIXED | APIC_DEST_ALL_BUT_SELF | VEC_KICK);
		else
			apic_send_icr(0, APIC_DM_FIXED | APIC_DEST_ALL_BUT_SELF | VEC_KICK);
		return;
	}
	ipi_send_word(to, VEC_KICK);
}

/* flush_early_linger for flush_early_whole: from vCPU i, which is in the guest still, on. */
static __attribute__((noinline)) void flush_early_linger_from(struct vm *vm, uint64_t seq,
							       unsigned int i)
{
	uint64_t kicked[1] = { 0 };

	for (; i < vm->cfg.nr_vcpus; i++) {
		for (unsigned int spins = 0; !flush_served(&vm->vcpus[i], seq); spins++) {
			if (spins < WAIT_SPINS) {
				cpu_relax();
				continue;
			}
			for (; i < vm->cfg.nr_vcpus; i++)
				if (!flush_served(&vm->vcpus[i], seq))
					kicked[0] |= 1ull << i;
			wait_left_guest(vm, seq, kicked, 1);
			return;
		}
	}
}

/*
 * flush_early of every vCPU of a VM of up to 64 on the first 64 pCPUs:
 * they are read in their array's order, none skipped, so no pCPU map is
 * needed, and several vCPUs may share a pCPU (one of them at most in the
 * guest). The IPIs are counted by pCPU: with one vCPU on each, every vCPU
 * but one on the flusher's own pCPU.
 */
static __attribute__((noinline)) uint64_t flush_early_whole(struct vm *vm)
{
	uint64_t seq = atomic_fetch_add(&vm->flush_seq, 1) + 1;
	uint64_t mine = vm->vcpu_pcpus.w[0], self = 1ull << this_cpu()->cpu, to = mine & ~self;
	struct vcpu *v = vm->vcpus, *end = v + vm->cfg.nr_vcpus;
	unsigned int sent;

	flush_send(to, self);
	/* While they exit: */
	sent = vm->pcpu_vcpu_valid ? vm->cfg.nr_vcpus - (to != mine) : word_weight(to);
	atomic_fetch_add_explicit(&vm->remote_flushes, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&vm->ipis_sent, sent, memory_order_relaxed);
	for (; v < end; v++) {
		/* Acquire: pairs with the vCPU's release of OUTSIDE after its exit. */
		if (__builtin_expect(atomic_load_explicit(&v->mode, memory_order_acquire) !=
					     VCPU_OUTSIDE, 0) &&
		    !flush_served(v, seq)) {
			flush_early_linger_from(vm, seq, (unsigned int)(v - vm->vcpus));
			break;
		}
	}
	/* Those on the flusher's own pCPU, and those that share a pCPU. */
	if (vm->cfg.nr_vcpus != sent)
		atomic_fetch_add_explicit(&vm->ipis_avoided, vm->cfg.nr_vcpus - sent,
					  memory_order_relaxed);
	return seq;
}

/*
 * flush_early for a VM of at most one vCPU on each pCPU, all on the first
 * 64 (vm.pcpu_vcpu): it reads only the targets (in_set: their pCPUs),
 * found through their pCPUs, and none of the others; no vCPU on the
 * flusher's own pCPU is in the guest. A target read OUTSIDE has served the
 * flush (flush_served); the first target read is usually still in the
 * guest, and flush_early_linger waits for it.
 */
static __attribute__((noinline)) uint64_t flush_early_mapped(struct vm *vm, uint64_t in_set)
{
	uint64_t seq = atomic_fetch_add(&vm->flush_seq, 1) + 1;
	uint64_t mine = in_set & vm->vcpu_pcpus.w[0], self = 1ull << this_cpu()->cpu, to = mine & ~self;
	unsigned int sent = 0;

	flush_send(to, self);
	atomic_fetch_add_explicit(&vm->remote_flushes, 1, memory_order_relaxed); /* while they exit */
	for (uint64_t left = to; left; left &= left - 1) {
		struct vcpu *v = vm->pcpu_vcpu[(unsigned int)__builtin_ctzll(left)];

		sent++;
		/* Acquire: pairs with the vCPU's release of OUTSIDE after its exit. */
		if (__builtin_expect(atomic_load_explicit(&v->mode, memory_order_acquire) !=
					     VCPU_OUTSIDE, 0) &&
		    !flush_served(v, seq)) {
			sent += word_weight(left) - 1;
			flush_early_linger(vm, seq, left);
			break;
		}
	}
	atomic_fetch_add_explicit(&vm->ipis_sent, sent, memory_order_relaxed);
	if (to != mine) /* the flusher's own pCPU: its vCPU is out of the guest */
		atomic_fetch_add_explicit(&vm->ipis_avoided, 1, memory_order_relaxed);
	return seq;
}

/* tlb_flush_vcpus for a VM whose vCPU sets are words long (a constant: see above). */
__attribute__((always_inline)) static inline uint64_t flush_some(struct vm *vm,
								  const cpumask_t *targets,
								  unsigned int words)
{
	uint64_t seq = atomic_fetch_add(&vm->flush_seq, 1) + 1;
	uint64_t kicked[SET_WORDS_MAX];
	unsigned int nr_kicked, nr_targets;

	if (atomic_load_explicit(&vm->kick_early, memory_order_relaxed)) {
		nr_targets = flush_early(vm, targets, seq, words, &nr_kicked);
		atomic_fetch_add_explicit(&vm->remote_flushes, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&vm->ipis_sent, nr_kicked, memory_order_relaxed);
		atomic_fetch_add_explicit(&vm->ipis_avoided, nr_targets - nr_kicked, memory_order_relaxed);
		return seq;
	}
	nr_targets = flush_kick(vm, targets, kicked, words, &nr_kicked);
	/* While the targets exit: */
	atomic_fetch_add_explicit(&vm->remote_flushes, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&vm->ipis_sent, nr_kicked, memory_order_relaxed);
	atomic_fetch_add_explicit(&vm->ipis_avoided, nr_targets - nr_kicked, memory_order_relaxed);
	if (words > 1 || !wait_left_soon(vm->vcpus, seq, kicked))
		wait_left_guest(vm, seq, kicked, words);
	return seq;
}

uint64_t tlb_flush_vcpus(struct vm *vm, const cpumask_t *targets)
{
	if (vm->cfg.nr_vcpus <= 64 && cpumask_one_word() && planted_bug == PLANT_NONE &&
	    atomic_load_explicit(&vm->kick_early, memory_order_relaxed)) {
		if (!targets || (targets->w[0] & vm->vcpu_pcpus.w[0]) == vm->vcpu_pcpus.w[0])
			return flush_early_whole(vm);
		if (vm->pcpu_vcpu_valid)
			return flush_early_mapped(vm, targets->w[0]);
	}
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
	*m = vm->vcpu_pcpus;
}

static enum flush_kick kick_policy;

void shootdown_configure(enum flush_kick kick)
{
	kick_policy = kick;
}

void shootdown_vm_placed(struct vm *vm, bool pcpus_own)
{
	cpumask_clear(&vm->vcpu_pcpus);
	vm->pcpu_vcpu_valid = vm->cfg.nr_vcpus <= 64;
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->pcpu >= 64 || cpumask_test(&vm->vcpu_pcpus, v->pcpu))
			vm->pcpu_vcpu_valid = false;
		else
			vm->pcpu_vcpu[v->pcpu] = v;
		cpumask_set(&vm->vcpu_pcpus, v->pcpu);
	}
	atomic_store(&vm->kick_early, kick_policy == FLUSH_KICK_EARLY ||
					      (kick_policy == FLUSH_KICK_AUTO && pcpus_own));
}

void platform_flush_remote_tlbs(void *owner)
{
	tlb_flush_vm(owner);
}
