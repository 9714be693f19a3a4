// SPDX-License-Identifier: MIT
/* The SVM backend's private state. */
#pragma once

#include "arch/x86/svm/vmcb.h"
#include "arch/x86/virt.h"

struct svm_gprs { /* the guest registers VMRUN does not switch; order fixed by entry.S */
	uint64_t rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
};

/* Used only by the vCPU's pCPU, but for vcpu_init and vcpu_free on the control CPU. */
struct svm_vcpu {
	struct vmcb *vmcb;
	uint64_t vmcb_pa;
	struct svm_gprs gprs;
	uint32_t asid;          /* valid while asid_generation matches the pCPU's */
	uint64_t asid_generation;
	bool flush_pending;     /* set by vcpu_flush_tlb, consumed at entry */
	uint64_t pf_cr2;        /* the CR2 of the last #PF we injected */
	bool pc;                /* VCPU_START_PROTECTED: the guest's own exceptions and modes */
	/*
	 * NMIs (SVM has no NMI blocking of its own for a guest): masked from
	 * an NMI's injection until the guest's IRET, which is intercepted;
	 * after that exit the IRET itself has yet to run at iret_rip.
	 */
	bool nmi_masked;
	bool iret_pending;
	uint64_t iret_rip;
	bool want_irq, want_nmi; /* vcpu_request_window */
	/* TSC_AUX has no VMCB field: the guest's lives in the pCPU's MSR (loaded at first run). */
	uint64_t tsc_aux;
	uint64_t host_tsc_aux;  /* the pCPU's own, put back at vcpu_unload */
	bool tsc_aux_loaded;
};

extern const struct virt_ops svm_ops;

/* entry.S: VMLOAD guest, VMRUN, VMSAVE guest, VMLOAD host. */
void svm_vmrun(uint64_t vmcb_pa, struct svm_gprs *gprs, uint64_t host_save_pa,
	       const struct vcpu_left *left);

/* asid.c */
void svm_asid_prepare_entry(struct vcpu_arch *v, struct svm_vcpu *s);
void svm_asid_init(unsigned int nr_asids);

/* exit.c */
void svm_decode_exit(struct vcpu_arch *v, struct svm_vcpu *s);
