// SPDX-License-Identifier: MIT
/*
 * The vCPU scheduler. Each pCPU but the control CPU has a run queue: a
 * ring of the vCPUs placed on it, round robin at creation (vCPU i of a VM
 * on pCPU 1 + i % (online - 1)). A vCPU never moves to another pCPU, so
 * its VMCS or VMCB, its ASID generation and its place in the shootdown
 * masks stay those of one pCPU; only its pCPU's ring is ever walked, by
 * that pCPU, and the ring needs no lock.
 *
 * A pCPU with one vCPU runs it as it always did: no timer, no switch (the
 * pin=on figures). A pCPU with several runs each for a time slice
 * (timeslice_us=): its local APIC timer is armed for the slice's end and
 * the interrupt makes the guest exit, so a guest that never exits by
 * itself is preempted all the same. A vCPU also gives the pCPU up early
 * when it halts, or when it waits in HC_BARRIER for vCPUs that may be
 * queued behind it. A vCPU waiting in a barrier is not runnable until the
 * barrier opens; a pCPU whose vCPUs all wait idles, reporting quiescent
 * states and taking interrupts.
 *
 * What switching changes in the protocols (docs/LOCKING.md, "Scheduler"):
 * a vCPU off its pCPU is OUTSIDE the guest, so a flush or a stop only sets
 * its request bit, served before its next entry; each switch is a
 * quiescent state; the backend makes the next vCPU's state current
 * (vcpu_switch: VMPTRLD on VMX; SVM names the VMCB in VMRUN itself).
 */
#include "arch/x86/apic.h"
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/percpu.h"
#include "arch/x86/smp.h"
#include "arch/x86/tsc.h"
#include "lib/printf.h"
#include "mm/rcu/rcu.h"
#include "virt/mmu.h"
#include "virt/pc.h"
#include "virt/sched.h"
#include "virt/shootdown.h"
#include "virt/vcpu.h"

/*
 * A pCPU's run queue. Written by the launcher while the pCPU is idle
 * (cpu_work_launch publishes it), then only by the pCPU itself, which
 * empties it before its work returns (cpu_work_wait orders that for the
 * next launcher).
 */
static struct sched_rq {
	struct vcpu *ring; /* the first vCPU placed here; NULL: none */
	unsigned int nr;   /* vCPUs in the ring */
	unsigned int live; /* ... that have not finished */
} __cacheline_aligned rqs[PLATFORM_MAX_CPUS];

static bool pin;                 /* pin=on: one vCPU per pCPU, or none */
static uint64_t timeslice_us = SCHED_TIMESLICE_US_DEFAULT;

void sched_configure(bool pin_on, unsigned int slice_us)
{
	pin = pin_on;
	timeslice_us = slice_us ? slice_us : SCHED_TIMESLICE_US_DEFAULT;
}

bool sched_place(struct vm *vm, char *err, size_t len)
{
	unsigned int pcpus = smp_cpus_online() - 1, n = vm->cfg.nr_vcpus;
	unsigned int count = vm->cfg.place_count ? vm->cfg.place_count : 1, k = vm->cfg.place_index;
	unsigned int first = 1, span = pcpus, offset = 0;

	if (pcpus == 0 || n == 0) {
		fmt_snprintf(err, len, "%u vCPUs on %u pCPUs: a VM needs a vCPU and a pCPU besides the control CPU",
			     n, pcpus);
		return false;
	}
	if (vm->cfg.place_split) { /* VM k of count: its own share of the pCPUs */
		if (pcpus < count) {
			fmt_snprintf(err, len, "placement=split gives each of %u VMs its own pCPUs: boot with %u or more CPUs, not %u",
				     count, count + 1, pcpus + 1);
			return false;
		}
		span = pcpus / count;
		first = 1 + k * span;
	} else {
		offset = k * n; /* round robin across the VMs, as one long list */
	}
	if (n > span && (pin || vm->cfg.pc)) {
		fmt_snprintf(err, len, "%u vCPUs need %u pCPUs (%s, plus the control CPU); %u are online",
			     n, n + 1, pin ? "pin=on gives each its own" : "a PC guest's vCPUs each have their own",
			     pcpus + 1);
		return false;
	}
	for (unsigned int i = 0; i < n; i++)
		vm->vcpus[i].pcpu = first + (offset + i) % span;
	/* Its pCPUs are its own: alone, or a share of its own (placement=split). */
	shootdown_vm_placed(vm, vm->cfg.place_split || count == 1);
	return true;
}

static void rq_add(struct sched_rq *rq, struct vcpu *v)
{
	if (!rq->ring) {
		rq->ring = v;
		v->sched_next = v;
	} else {
		v->sched_next = rq->ring->sched_next;
		rq->ring->sched_next = v;
		rq->ring = v; /* the ring's head is the newest: the oldest runs first */
	}
	rq->nr++;
	rq->live++;
}

/* The next runnable vCPU after prev, round robin; NULL if every one waits. */
static struct vcpu *pick(const struct sched_rq *rq, struct vcpu *prev)
{
	struct vcpu *c = prev->sched_next;

	for (unsigned int i = 0; i < rq->nr; i++, c = c->sched_next)
		if (!c->sched_finished && vcpu_runnable(c))
			return c;
	return NULL;
}

/* A vCPU that will not run again: what is its alone goes back now. */
static void finish(struct vcpu *v)
{
	v->sched_finished = true;
	if (v->vm->dev)
		pc_vcpu_stopped(v);
	if (virt->vcpu_unload)
		virt->vcpu_unload(&v->arch);
}

static void sched_cpu_thread(void *unused)
{
	struct sched_rq *rq = &rqs[this_cpu()->cpu];
	uint64_t khz = tsc_khz ? tsc_khz : 1000000;
	uint64_t slice = rq->nr > 1 ? timeslice_us * khz / 1000 : 0;
	struct vcpu *prev = rq->ring, *loaded = NULL;

	(void)unused;
	while (rq->live) {
		struct vcpu *v = pick(rq, prev);
		enum vcpu_slice r;

		if (!v) { /* every vCPU here waits in a barrier */
			rcu_quiescent_state();
			irq_window();
			cpu_relax();
			continue;
		}
		if (v != loaded && loaded) {
			if (virt->vcpu_switch)
				virt->vcpu_switch(&v->arch);
			v->stats.switches_in++;
		}
		loaded = v;
		r = vcpu_run_slice(v, slice ? rdtsc() + slice : 0);
		if (r == VCPU_FINISHED) {
			finish(v);
			rq->live--;
			atomic_fetch_add(&v->vm->vcpus_done, 1);
		}
		prev = v;
	}
	/* Nothing a guest set may outlive it in this pCPU: each VM that ran here hears of it. */
	if (virt_restore_host_state()) {
		struct vcpu *c = rq->ring;

		for (unsigned int i = 0; i < rq->nr; i++, c = c->sched_next)
			atomic_store(&c->vm->host_state_restored, true);
	}
	vm_mmu_drain_this_cpu();
	*rq = (struct sched_rq){ 0 };
}

void sched_launch(struct vm *const *vms, unsigned int n)
{
	cpumask_t pcpus;

	cpumask_clear(&pcpus);
	for (unsigned int k = 0; k < n; k++)
		for (unsigned int i = 0; i < vms[k]->cfg.nr_vcpus; i++) {
			struct vcpu *v = &vms[k]->vcpus[i];

			rq_add(&rqs[v->pcpu], v);
			cpumask_set(&pcpus, v->pcpu);
		}
	for (unsigned int k = 0; k < n; k++) {
		unsigned int most = 0, fewest = ~0u;
		cpumask_t mine;

		for (unsigned int i = 0; i < vms[k]->cfg.nr_vcpus; i++) {
			struct vcpu *v = &vms[k]->vcpus[i];
			unsigned int q = rqs[v->pcpu].nr;

			v->pcpu_shared = q > 1;
			v->arch.pause_exits = q > 1;
			if (v->arch.pause_exits && virt->vcpu_set_pause_exits)
				virt->vcpu_set_pause_exits(&v->arch);
			most = q > most ? q : most;
			fewest = q < fewest ? q : fewest;
		}
		vm_vcpu_pcpus(vms[k], &mine);
		if (most > 1)
			kprintf("vm %u: %u vCPUs on %u pCPUs, which run %u to %u vCPUs each, in %lu us time slices\n",
				vms[k]->id, vms[k]->cfg.nr_vcpus, cpumask_weight(&mine), fewest, most,
				(unsigned long)timeslice_us);
	}
	cpu_work_launch(&pcpus, sched_cpu_thread, NULL);
}
