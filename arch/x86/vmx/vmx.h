// SPDX-License-Identifier: MIT
/* The VMX backend's private state (mirrors arch/x86/svm/svm.h). */
#pragma once

#include "arch/x86/virt.h"
#include "arch/x86/vmx/vmcs.h"

struct vmx_gprs { /* order fixed by entry.S */
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t launched; /* 0 before the first VMLAUNCH, then VMRESUME */
};

/*
 * Used only by the vCPU's pCPU (the VMCS is loaded there), but for
 * vcpu_init and vcpu_free on the control CPU, which run while no vCPU does.
 */
struct vmx_vcpu {
	void *vmcs;
	uint64_t vmcs_pa;
	uint64_t eptp;
	uint16_t vpid;
	bool loaded;          /* VMPTRLD done and the fields written, on v->pcpu */
	bool first_flush_done; /* its VPID and EPTP flushed on its pCPU, before its first entry */
	struct vmx_gprs gprs;
	uint64_t tdp_root_pa;
	bool shadow;          /* mmu=shadow (the VM's) */
	uint64_t pf_cr2;      /* a #PF to inject: CR2 goes in the register itself */
	bool pf_pending;
	bool pc;              /* VCPU_START_PROTECTED: unrestricted guest, the guest's exceptions */
	uint32_t proc;        /* the processor-based controls as written: the window exits come and go */
	uint64_t exit_rip;    /* RIP at the last exit: an STI or MOV SS shadow covers only it */
	/*
	 * The SYSCALL MSRs and TSC_AUX have no VMCS field: the guest's live in
	 * the pCPU's own MSRs while it runs there (nothing of the host uses
	 * them; virt_restore_host_state() puts the host's back after the last
	 * run). These are the guest's values, loaded at the first entry.
	 */
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base, tsc_aux;
	uint64_t host_live[6];  /* the pCPU's own values of those, put back at vcpu_unload */
};

extern const struct virt_ops vmx_ops;

/* entry.S: 0 after a VM exit, 1 if VMLAUNCH/VMRESUME itself failed. */
int vmx_enter(struct vmx_gprs *gprs, const struct vcpu_left *left);

/* vmcs.c */
bool vmx_vmcs_setup(struct vcpu_arch *v, struct vmx_vcpu *x, char *err, size_t len);
bool vmx_vmcs_write_init_state(unsigned int sipi_vector);
bool vmx_vmcs_write_pm_segments(const struct vcpu_pm_state *s);
void vmx_report_entry_failure(struct vcpu_arch *v, bool vmfail);

/* exit.c */
void vmx_decode_exit(struct vcpu_arch *v, struct vmx_vcpu *x);

/* Controls and capabilities found by vmx_probe (read-only afterwards). */
struct vmx_config {
	uint32_t revision;
	uint32_t pin, proc, proc2, exit, entry;
	uint32_t proc_shadow, proc2_shadow; /* mmu=shadow: CR3/INVLPG exiting, no EPT */
	/* VCPU_START_PROTECTED under EPT: unrestricted guest, the instructions a PC kernel runs */
	uint32_t pin_pc, proc_pc, proc2_pc, entry_pc;
	uint32_t proc_pc_shadow, proc2_pc_shadow; /* ... under mmu=shadow: no EPT, no unrestricted guest */
	bool pc_ok;                         /* the CPU allows those (unrestricted guest above all) */
	bool pc_shadow_ok;
	/*
	 * A PC guest's interrupts and NMIs (pin_pc has virtual NMIs; the
	 * window exits are set per vCPU by vcpu_request_window): each allowed?
	 */
	bool virtual_nmis, irq_window, nmi_window;
	uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	uint64_t ept_vpid_cap;
	unsigned int preemption_timer_shift;
	bool invept_single, invvpid_single;
};
extern struct vmx_config vmx_config;
