// SPDX-License-Identifier: MIT
/*
 * Each CPU has a one-slot mailbox (percpu.call_slot). A caller claims a
 * target's empty slot with cmpxchg, then sends the IPI; the target takes the
 * call out with xchg, runs it, and counts itself in call->done. The call
 * lives on the caller's stack, so a target must not touch it after that.
 */
#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/interrupt.h"
#include "arch/x86/ipi.h"
#include "arch/x86/panic.h"
#include "arch/x86/percpu.h"
#include "arch/x86/smp.h"
#include "arch/x86/tsc.h"

struct smp_call {
	smp_call_fn fn;
	void *arg;
	atomic_uint done; /* targets that have finished: one count, whatever the number of CPUs */
};

void ipi_send(unsigned int cpu, unsigned int vector)
{
	apic_send_icr(cpu_data(cpu)->apic_id, APIC_DM_FIXED | vector);
}

/* ICR writes made for IPIs to sets of CPUs, and the targets they reached (statistics). */
static atomic_ulong icr_writes, icr_targets;

void ipi_batch_send(struct ipi_batch *b)
{
	if (!b->bits)
		return;
	if (!(b->bits & (b->bits - 1)))
		ipi_send(b->last, b->vector);
	else
		apic_send_icr(apic_logical_dest(b->cluster, b->bits),
			      APIC_DM_FIXED | APIC_DEST_LOGICAL | b->vector);
	b->writes++;
	b->bits = 0;
}

/*
 * How every online CPU's logical destination follows from its index
 * (arch/x86/ipi.h), or IPI_LOGICAL_OTHER. OTHER until the BSP notes
 * itself, then what the mode gives, and OTHER for good from the first
 * CPU that does not fit (ipi_note_logical, called by each CPU before it
 * is online: a sender that sees a CPU online sees the layout it left).
 */
enum ipi_logical_layout ipi_layout = IPI_LOGICAL_OTHER;
static bool layout_broken;

void ipi_note_logical(unsigned int cpu, uint32_t logical)
{
	bool x2apic = apic_x2apic_mode(), cluster = apic_xapic_cluster();
	uint32_t linear = x2apic    ? (cpu / 16) << 16 | 1u << (cpu % 16) :
			  cluster   ? (cpu < 60 ? (cpu / 4) << 16 | 1u << (cpu % 4) : 0) :
			  cpu < 8   ? 1u << cpu : 0;

	if (logical != linear)
		layout_broken = true;
	ipi_layout = layout_broken ? IPI_LOGICAL_OTHER :
		     x2apic	   ? IPI_LOGICAL_X2APIC :
		     cluster	   ? IPI_LOGICAL_XAPIC_CLUSTER : IPI_LOGICAL_FLAT;
}

/*
 * ipi_send_set where logical destinations follow from indices: a write per
 * 16 bits of mask (x2APIC), per 4 below CPU 60 (the xAPIC cluster model),
 * or for the low 8 (the flat one).
 */
static unsigned int send_linear(const cpumask_t *mask, unsigned int vector)
{
	bool x2apic = ipi_layout == IPI_LOGICAL_X2APIC;
	unsigned int writes = 0;

	if (ipi_layout == IPI_LOGICAL_XAPIC_CLUSTER) {
		uint64_t bits = mask->w[0] & ((1ull << 60) - 1);

		if (bits & (bits - 1)) {
			writes = ipi_send_clusters(bits, vector, 4, false);
		} else if (bits) {
			ipi_send((unsigned int)__builtin_ctzll(bits), vector);
			writes = 1;
		}
		for (int cpu = cpumask_next(mask, 59); cpu >= 0; cpu = cpumask_next(mask, cpu)) {
			ipi_send((unsigned int)cpu, vector);
			writes++;
		}
		return writes;
	}
	for (unsigned int w = 0; w < cpumask_nr_words; w++) {
		uint64_t bits = mask->w[w];

		if (!x2apic && w == 0 && (bits & 0xff) & ((bits & 0xff) - 1)) {
			apic_send_icr((uint32_t)bits & 0xff, APIC_DM_FIXED | APIC_DEST_LOGICAL | vector);
			bits &= ~0xffull;
			writes++;
		}
		while (bits) {
			unsigned int lo = x2apic ? (unsigned int)__builtin_ctzll(bits) & ~15u :
						   (unsigned int)__builtin_ctzll(bits);
			uint64_t run = x2apic ? bits >> lo & 0xffff : 1;

			ipi_send_run(w * 64 + lo, run, vector);
			bits &= ~(run << lo);
			writes++;
		}
	}
	return writes;
}

/* ipi_send_set where they are not: an ipi_batch, a CPU's logical destination read at a time. */
static __attribute__((noinline)) unsigned int send_batched(const cpumask_t *mask,
							    unsigned int vector)
{
	struct ipi_batch b = IPI_BATCH_INIT(vector);

	for_each_cpu(cpu, mask)
		ipi_batch_add(&b, (unsigned int)cpu);
	ipi_batch_send(&b);
	return b.writes;
}

unsigned int ipi_send_set_many(const cpumask_t *mask, unsigned int vector)
{
	return ipi_layout != IPI_LOGICAL_OTHER ? send_linear(mask, vector) :
						 send_batched(mask, vector);
}

void ipi_send_mask(const cpumask_t *mask, unsigned int vector)
{
	unsigned int writes = ipi_send_set(mask, vector);

	atomic_fetch_add_explicit(&icr_writes, writes, memory_order_relaxed);
	atomic_fetch_add_explicit(&icr_targets, cpumask_weight(mask), memory_order_relaxed);
}

void ipi_mask_stats(unsigned long *writes, unsigned long *targets)
{
	*writes = atomic_load_explicit(&icr_writes, memory_order_relaxed);
	*targets = atomic_load_explicit(&icr_targets, memory_order_relaxed);
}

void ipi_send_nmi_kick(unsigned int cpu)
{
	/* Before the NMI: the handler that sees it must find the kick. */
	atomic_fetch_add(&cpu_data(cpu)->nmi_kicks, 1);
	apic_send_icr(cpu_data(cpu)->apic_id, APIC_DM_NMI | APIC_LEVEL_ASSERT);
}

bool ipi_nmi_was_kick(void)
{
	struct percpu *me = this_cpu();
	unsigned int kicks = atomic_load(&me->nmi_kicks);

	if (kicks != me->nmi_kicks_seen) {
		me->nmi_kick_spare = kicks - me->nmi_kicks_seen > 1;
		me->nmi_kicks_seen = kicks;
		return true;
	}
	if (me->nmi_kick_spare) {
		me->nmi_kick_spare = false;
		return true;
	}
	return false;
}

void smp_call_handle(void)
{
	struct percpu *me = this_cpu();
	struct smp_call *call = atomic_exchange(&me->call_slot, NULL);
	smp_call_fn fn;
	void *arg;

	if (!call)
		return;
	fn = call->fn;
	arg = call->arg;
	fn(arg);
	/* Release: the caller may read what fn wrote once it sees our bit. */
	atomic_fetch_add_explicit(&call->done, 1, memory_order_release);
}

/* Put call in cpu's mailbox (waiting, and serving our own, while it is busy); no IPI yet. */
static void post(unsigned int cpu, struct smp_call *call)
{
	uint64_t deadline = tsc_deadline_ms(SMP_CALL_TIMEOUT_MS);
	struct smp_call *empty = NULL;

	while (!atomic_compare_exchange_weak(&cpu_data(cpu)->call_slot, &empty, call)) {
		empty = NULL;
		smp_call_handle();
		cpu_relax();
		if (tsc_passed(deadline))
			panic("smp_call: cpu %u's mailbox stayed busy for %d ms", cpu,
			      SMP_CALL_TIMEOUT_MS);
	}
}

/*
 * Wait until n targets have counted themselves in call->done. On a timeout
 * the panic names a target whose mailbox still holds the call (it never
 * took it), or says that the ones that took it have not finished. targets:
 * the caller's mask (one: the caller, skipped), or NULL for the one target.
 */
static void wait_done(struct smp_call *call, unsigned int n, const cpumask_t *targets,
		      unsigned int one)
{
	uint64_t deadline = tsc_deadline_ms(SMP_CALL_TIMEOUT_MS);

	while (atomic_load_explicit(&call->done, memory_order_acquire) != n) {
		smp_call_handle();
		cpu_relax();
		if (tsc_passed(deadline)) {
			int stuck = -1;

			if (!targets) {
				if (atomic_load(&cpu_data(one)->call_slot) == call)
					stuck = (int)one;
			} else {
				for_each_cpu(cpu, targets)
					if (stuck < 0 && (unsigned int)cpu != one &&
					    cpumask_test(smp_online(), (unsigned int)cpu) &&
					    atomic_load(&cpu_data((unsigned int)cpu)->call_slot) == call)
						stuck = cpu;
			}
			if (stuck >= 0)
				panic("smp_call: %u of %u cpus did not answer within %d ms; cpu %d never took the call",
				      n - atomic_load(&call->done), n, SMP_CALL_TIMEOUT_MS, stuck);
			panic("smp_call: %u of %u cpus took the call but did not finish it within %d ms",
			      n - atomic_load(&call->done), n, SMP_CALL_TIMEOUT_MS);
		}
	}
}

void smp_call_many(const cpumask_t *mask, smp_call_fn fn, void *arg)
{
	struct smp_call call = { .fn = fn, .arg = arg, .done = 0 };
	unsigned int me = this_cpu()->cpu, n = 0;

	cpumask_t pending; /* posted, not yet sent their IPI */
	struct smp_call *empty;

	/*
	 * The mailboxes first, then the IPIs, so that a set costs one ICR
	 * write per x2APIC cluster. A busy mailbox is waited for only after
	 * the IPIs owed so far are sent: two callers that each hold a mailbox
	 * the other wants would otherwise wait for targets nobody woke.
	 */
	cpumask_clear(&pending);
	for_each_cpu(cpu, mask) {
		if ((unsigned int)cpu == me || !cpumask_test(smp_online(), (unsigned int)cpu))
			continue;
		empty = NULL;
		if (!atomic_compare_exchange_strong(&cpu_data((unsigned int)cpu)->call_slot, &empty,
						    &call)) {
			ipi_send_mask(&pending, VEC_CALL_FUNCTION);
			cpumask_clear(&pending);
			post((unsigned int)cpu, &call);
		}
		cpumask_set(&pending, (unsigned int)cpu);
		n++;
	}
	ipi_send_mask(&pending, VEC_CALL_FUNCTION);
	if (cpumask_test(mask, me))
		fn(arg);
	wait_done(&call, n, mask, me);
}

void smp_call_one(unsigned int cpu, smp_call_fn fn, void *arg)
{
	struct smp_call call = { .fn = fn, .arg = arg, .done = 0 };

	if (cpu == this_cpu()->cpu) {
		fn(arg);
		return;
	}
	if (!cpumask_test(smp_online(), cpu))
		return;
	post(cpu, &call);
	ipi_send(cpu, VEC_CALL_FUNCTION);
	wait_done(&call, 1, NULL, cpu);
}

void smp_call_all(smp_call_fn fn, void *arg)
{
	smp_call_many(smp_online(), fn, arg);
}
