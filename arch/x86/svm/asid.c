// SPDX-License-Identifier: MIT
/*
 * ASIDs, per pCPU, with generations (as KVM does): a vCPU keeps its ASID
 * while the pCPU's generation is unchanged. When a pCPU runs out, it starts
 * a new generation and flushes every ASID with the first entry of it. A TLB
 * flush of one vCPU is TLB_CONTROL=3 where the CPU has flush-by-ASID, and a
 * fresh ASID where it has not (QEMU TCG ignores 3 and 7).
 *
 * Across VMs: an ASID names one vCPU on one pCPU, whichever VM it belongs
 * to, and a vCPU never changes pCPU (virt/sched.c). A new vCPU (of a new
 * VM too) starts with generation 0, so its first entry takes an ASID that
 * nobody used since the pCPU's last full flush: what a destroyed VM's vCPU
 * left tagged under an ASID is gone before the ASID is handed out again.
 */
#include "arch/x86/percpu.h"
#include "arch/x86/svm/svm.h"

/* Each entry is used only by its own pCPU. */
static struct asid_cpu {
	uint64_t generation;
	uint32_t next;
} __cacheline_aligned asid_cpus[PLATFORM_MAX_CPUS];

static uint32_t max_asid; /* immutable after svm_asid_init */

void svm_asid_init(unsigned int nr_asids)
{
	max_asid = nr_asids - 1; /* ASID 0 is the host's */
	for (unsigned int i = 0; i < PLATFORM_MAX_CPUS; i++) {
		asid_cpus[i].generation = 1;
		asid_cpus[i].next = 1;
	}
}

static void new_asid(struct vcpu_arch *v, struct svm_vcpu *s, struct asid_cpu *c)
{
	if (c->next > max_asid) {
		c->generation++;
		c->next = 1;
		s->vmcb->control.tlb_control = TLB_CONTROL_FLUSH_ALL;
		v->context_flushes++;
	}
	s->asid = c->next++;
	s->asid_generation = c->generation;
	s->vmcb->control.asid = s->asid;
}

/* Called on the vCPU's pCPU with interrupts off, right before VMRUN. */
void svm_asid_prepare_entry(struct vcpu_arch *v, struct svm_vcpu *s)
{
	struct asid_cpu *c = &asid_cpus[this_cpu()->cpu];

	if (s->asid_generation != c->generation) {
		new_asid(v, s, c); /* an ASID unused since the last full flush */
		s->flush_pending = false;
	}
	if (s->flush_pending) {
		if (virt_caps.flush_by_asid)
			s->vmcb->control.tlb_control = TLB_CONTROL_FLUSH_ASID;
		else
			new_asid(v, s, c);
		s->flush_pending = false;
	}
}
