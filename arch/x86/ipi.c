// SPDX-License-Identifier: MIT
/*
 * Each CPU has a one-slot mailbox (percpu.call_slot). A caller claims a
 * target's empty slot with cmpxchg, then sends the IPI; the target takes the
 * call out with xchg, runs it, and sets its bit in call->done. The call lives
 * on the caller's stack, so a target must not touch it after setting done.
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
	_Atomic cpumask_t done; /* targets OR in their bit when finished */
};

void ipi_send(unsigned int cpu, unsigned int vector)
{
	apic_send_icr(cpu_data(cpu)->apic_id, APIC_DM_FIXED | vector);
}

void ipi_send_mask(cpumask_t mask, unsigned int vector)
{
	while (mask) {
		unsigned int cpu = __builtin_ctzll(mask);

		mask &= mask - 1;
		ipi_send(cpu, vector);
	}
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
	atomic_fetch_or_explicit(&call->done, CPU_BIT(me->cpu), memory_order_release);
}

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
	ipi_send(cpu, VEC_CALL_FUNCTION);
}

void smp_call_many(cpumask_t mask, smp_call_fn fn, void *arg)
{
	struct smp_call call = { .fn = fn, .arg = arg, .done = 0 };
	unsigned int me = this_cpu()->cpu;
	cpumask_t targets = mask & smp_online_mask() & ~CPU_BIT(me), left;
	uint64_t deadline;

	for (left = targets; left; left &= left - 1)
		post(__builtin_ctzll(left), &call);
	if (mask & CPU_BIT(me))
		fn(arg);
	deadline = tsc_deadline_ms(SMP_CALL_TIMEOUT_MS);
	while ((atomic_load_explicit(&call.done, memory_order_acquire) & targets) != targets) {
		smp_call_handle();
		cpu_relax();
		if (tsc_passed(deadline))
			panic("smp_call: cpus 0x%lx did not answer within %d ms",
			      (unsigned long)(targets & ~atomic_load(&call.done)),
			      SMP_CALL_TIMEOUT_MS);
	}
}

void smp_call_all(smp_call_fn fn, void *arg)
{
	smp_call_many(~0ull, fn, arg);
}
