// SPDX-License-Identifier: MIT
/*
 * AMD SVM: detection, EFER.SVME and the host save area on each pCPU, a VMCB
 * per vCPU with the intercepts the core relies on, and guest entry. Works
 * without NRIP save, flush-by-ASID, decode assists or VMCB clean bits (QEMU
 * TCG has none of them) and uses the first two when present (Bochs' Ryzen).
 */
#include "arch/x86/cpu.h"
#include "arch/x86/percpu.h"
#include "arch/x86/svm/svm.h"
#include "arch/x86/vcpu_backend.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "mm/ept/tdp_mmu.h"
#include "mm/page_alloc.h"

#define MSR_VM_CR 0xc0010114
#define MSR_VM_HSAVE_PA 0xc0010117
#define VM_CR_SVMDIS (1ull << 4)
#define IOPM_ORDER 2  /* 12 KiB used */
#define MSRPM_ORDER 1 /* 8 KiB */

/* Per pCPU, written once by that pCPU in svm_cpu_enable. */
static struct svm_cpu {
	uint64_t host_save_pa; /* VMSAVE/VMLOAD area for the host's FS/GS/TR... */
	bool enabled;
} svm_cpus[PLATFORM_MAX_CPUS];

static void svm_update_window(struct svm_vcpu *s);

/* Shared by every vCPU, all ones (intercept every port and MSR); immutable. */
static uint64_t iopm_pa, msrpm_pa;

static bool alloc_permission_maps(void)
{
	void *iopm, *msrpm;

	if (iopm_pa)
		return true;
	iopm = page_alloc(IOPM_ORDER);
	msrpm = page_alloc(MSRPM_ORDER);
	if (!iopm || !msrpm)
		return false;
	memset(iopm, 0xff, PAGE_SIZE << IOPM_ORDER);
	memset(msrpm, 0xff, PAGE_SIZE << MSRPM_ORDER);
	iopm_pa = (uint64_t)iopm;
	msrpm_pa = (uint64_t)msrpm;
	return true;
}

static bool svm_probe(bool need_tdp, char *err, size_t len)
{
	struct cpuid_regs ext = cpuid(0x80000001, 0), svm;

	if (!(ext.ecx & (1u << 2))) {
		fmt_snprintf(err, len,
			     "this CPU has no AMD SVM; on Intel use virt=vmx, under QEMU add -cpu qemu64,+svm,+npt");
		return false;
	}
	if (rdmsr(MSR_VM_CR) & VM_CR_SVMDIS) {
		fmt_snprintf(err, len,
			     "SVM is disabled by the firmware (VM_CR.SVMDIS); enable SVM/virtualization in its setup");
		return false;
	}
	svm = cpuid(0x8000000a, 0);
	virt_caps = (struct virt_caps){
		.tdp = svm.edx & (1u << 0),
		.tdp_format = TDP_FORMAT_NPT,
		.tdp_1g = cpuid(0x80000001, 0).edx & (1u << 26),
		.tdp_ad = true,
		.nrip_save = svm.edx & (1u << 3),
		.flush_by_asid = svm.edx & (1u << 6),
		.decode_assists = svm.edx & (1u << 7),
		.shadow_real_mode = true, /* paged real mode (APM vol. 2 15.19) */
		.asids = svm.ebx,
		.vmcb_clean = svm.edx & (1u << 5),
		.pause_exiting = svm.edx & (1u << 10),
	};
	if (need_tdp && !virt_caps.tdp) {
		fmt_snprintf(err, len,
			     "this CPU's SVM has no nested paging (NPT); use mmu=shadow, or add +npt to QEMU's -cpu");
		return false;
	}
	if (virt_caps.asids < 2) {
		fmt_snprintf(err, len, "SVM reports %u ASIDs; at least 2 are needed", virt_caps.asids);
		return false;
	}
	if (!alloc_permission_maps()) {
		fmt_snprintf(err, len, "out of memory for the SVM I/O and MSR permission maps");
		return false;
	}
	svm_asid_init(virt_caps.asids);
	return true;
}

static bool svm_cpu_enable(char *err, size_t len)
{
	struct svm_cpu *c = &svm_cpus[this_cpu()->cpu];
	void *hsave, *host_save;

	if (c->enabled)
		return true;
	hsave = page_alloc_zeroed(0);
	host_save = page_alloc_zeroed(0);
	if (!hsave || !host_save) {
		fmt_snprintf(err, len, "out of memory for the SVM host save areas");
		return false;
	}
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
	wrmsr(MSR_VM_HSAVE_PA, (uint64_t)hsave);
	c->host_save_pa = (uint64_t)host_save;
	c->enabled = true;
	return true;
}

static void set_seg(struct vmcb_seg *s, uint16_t sel, uint16_t attrib, uint32_t limit,
		    uint64_t base)
{
	*s = (struct vmcb_seg){ .selector = sel, .attrib = attrib, .limit = limit, .base = base };
}

/*
 * VCPU_START_PROTECTED: 32-bit protected mode, paging off, flat segments,
 * no IDT. The guest owns its exceptions (no #DF intercept) and debug
 * registers (MOV DR exits, so they never reach the pCPU's); what CPUID hides
 * (MONITOR, MWAIT, XSAVE) and RDPMC exit. CR0 and CR4 writes already exit
 * (virt/cr.c checks them and switches long mode).
 */
/* Set once the shadow MMU models every paging mode a PC guest goes through. */
static const bool shadow_pc_supported = true;

static void pc_init(struct svm_vcpu *s, struct vmcb *vmcb, const struct vcpu_arch *v)
{
	struct vmcb_control *c = &vmcb->control;
	struct vmcb_save *g = &vmcb->save;
	bool shadow = v->shadow;

	s->pc = true;
	c->tsc_offset = (uint64_t)v->tsc_offset;
	/*
	 * The guest owns its exceptions, but #DF is still intercepted: Bochs
	 * 2.7's SVM panics on a triple fault instead of exiting with SHUTDOWN
	 * (docs/PLATFORM_FINDINGS.md), so virt/pc.c hands the #DF back only
	 * when the guest's IDT can take it.
	 */
	c->intercept_exceptions = 1u << 8 | (shadow ? 1u << 14 : 0);
	c->intercept_dr = 0xffffffff;
	/* CR8 is the virtual APIC's TPR (virt/cr.c), not V_TPR. */
	c->intercept_cr |= INTERCEPT_CR_READ(8) | INTERCEPT_CR_WRITE(8);
	c->intercept_misc1 |= INTERCEPT_RDPMC | INTERCEPT_INVD;
	c->intercept_misc2 |= INTERCEPT_WBINVD | INTERCEPT_MONITOR | INTERCEPT_MWAIT;
	/* P S code/read/accessed, D/B, G; and data. The selectors as virt/ asks (0: 0x08, 0x10). */
	set_seg(&g->cs, v->start_cs ? v->start_cs : 0x08, 0xc9b, 0xffffffff, 0);
	set_seg(&g->ds, v->start_ds ? v->start_ds : 0x10, 0xc93, 0xffffffff, 0);
	g->es = g->ss = g->fs = g->gs = g->ds;
	set_seg(&g->gdtr, 0, 0, v->start_gdt_limit, v->start_gdt_base);
	set_seg(&g->idtr, 0, 0, 0, 0);
	set_seg(&g->tr, 0, 0x8b, 0x67, 0);
	set_seg(&g->ldtr, 0, 0x82, 0, 0);
	g->efer = EFER_SVME;
	g->cr0 = CR0_PE | CR0_ET;
	g->cr3 = 0;
	g->cr4 = 0;
	if (shadow) {
		/*
		 * Shadow paging: the hardware pages (PAE format until the guest
		 * enters long mode) with WP set, whatever the guest's CR0 says;
		 * the guest reads its own CR0 and CR4 from virt/cr.c.
		 */
		c->intercept_cr |= INTERCEPT_CR_READ(4);
		g->efer |= EFER_NXE;
		g->cr0 |= CR0_PG | CR0_WP;
		g->cr4 = CR4_PAE;
	}
	g->dr6 = 0xffff0ff0;
	g->dr7 = 0x400;
	g->g_pat = 0x0007040600070406ull; /* the reset PAT */
}

static bool svm_vcpu_init(struct vcpu_arch *v, uint64_t tdp_root_pa, char *err, size_t len)
{
	struct svm_vcpu *s = page_alloc_zeroed(0);
	struct vmcb *vmcb = page_alloc_zeroed(0);
	struct vmcb_control *c;
	struct vmcb_save *g;

	if (!s || !vmcb) {
		fmt_snprintf(err, len, "out of memory for a VMCB");
		return false;
	}
	s->vmcb = vmcb;
	s->vmcb_pa = (uint64_t)vmcb;
	v->backend = s;
	c = &vmcb->control;
	g = &vmcb->save;

	c->intercept_misc1 = INTERCEPT_INTR | INTERCEPT_NMI | INTERCEPT_SMI | INTERCEPT_INIT |
			     INTERCEPT_CPUID | INTERCEPT_HLT | INTERCEPT_INVLPGA |
			     INTERCEPT_IOIO | INTERCEPT_MSR | INTERCEPT_SHUTDOWN;
	/* XSETBV too: the guest's XCR0 would stay in the pCPU after it. */
	c->intercept_misc2 = INTERCEPT_VMRUN | INTERCEPT_VMMCALL | INTERCEPT_VMLOAD |
			     INTERCEPT_VMSAVE | INTERCEPT_STGI | INTERCEPT_CLGI |
			     INTERCEPT_SKINIT | INTERCEPT_XSETBV;
	/*
	 * #DF: guests have no IDT, so any exception ends here. Catching it is
	 * also the only way on Bochs 2.7, whose SVM panics on a guest triple
	 * fault instead of exiting with SHUTDOWN.
	 */
	c->intercept_exceptions = 1u << 8;
	c->iopm_base_pa = iopm_pa;
	c->msrpm_base_pa = msrpm_pa;
	c->int_ctl = V_INTR_MASKING;
	if (v->shadow) {
		/* Shadow paging: the guest's #PF, CR3 and INVLPG are ours (virt/shadow_exits.c). */
		c->intercept_exceptions |= 1u << 14;
		/* The hardware CR0.WP is always set: the guest reads its own CR0 from us. */
		c->intercept_cr = INTERCEPT_CR_READ(0) | INTERCEPT_CR_READ(3) |
				  INTERCEPT_CR_WRITE(0) | INTERCEPT_CR_WRITE(3) |
				  INTERCEPT_CR_WRITE(4);
		c->intercept_misc1 |= INTERCEPT_INVLPG;
	} else {
		c->nested_ctl = NESTED_CTL_NP_ENABLE;
		c->nested_cr3 = tdp_root_pa;
		/*
		 * CR0 and CR4 writes are checked by virt/cr.c: Bochs' Ryzen
		 * model lets a 64-bit guest clear CR0.PE, QEMU's SVM CR4.PAE
		 * (each a #GP on a CPU), and the machine then dies on the
		 * state it made (docs/PLATFORM_FINDINGS.md).
		 */
		c->intercept_cr = INTERCEPT_CR_WRITE(0) | INTERCEPT_CR_WRITE(4);
	}
	c->tlb_control = TLB_CONTROL_FLUSH_ALL; /* nothing of ours may linger from before */
	if (v->start == VCPU_START_PROTECTED) {
		if (v->shadow && !shadow_pc_supported) {
			fmt_snprintf(err, len,
				     "mmu=shadow cannot run a guest that starts in protected mode yet; use mmu=tdp");
			return false;
		}
		pc_init(s, vmcb, v);
		return true;
	}

	/* 64-bit mode, flat segments from the guest's GDT (virt/guest_abi.h). */
	set_seg(&g->cs, 0x08, 0xa9b, 0xffffffff, 0); /* P S code/read/accessed, L, G */
	set_seg(&g->ds, 0x10, 0xc93, 0xffffffff, 0); /* P S data/write/accessed, D/B, G */
	g->es = g->ss = g->fs = g->gs = g->ds;
	set_seg(&g->gdtr, 0, 0, 3 * 8 - 1, v->boot_gdt_base);
	set_seg(&g->idtr, 0, 0, 0, 0); /* no IDT: any guest exception ends in a triple fault */
	set_seg(&g->tr, 0, 0x8b, 0x67, 0);
	set_seg(&g->ldtr, 0, 0x82, 0, 0);
	g->cpl = 0;
	/* Shadow entries use NX: the hardware EFER.NXE is on whatever the guest's. */
	g->efer = EFER_LME | EFER_LMA | EFER_SVME | (v->shadow ? EFER_NXE : 0);
	g->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	g->cr3 = v->boot_cr3;
	g->cr4 = CR4_PAE;
	g->dr6 = 0xffff0ff0;
	g->dr7 = 0x400;
	g->g_pat = 0x0007040600070406ull; /* the reset PAT */
	return true;
}

static void svm_vcpu_free(struct vcpu_arch *v)
{
	struct svm_vcpu *s = v->backend;

	if (s)
		vcpu_backend_free(v, s->vmcb);
}

/* EXITINTINFO's type 4 (INTn), or an INT3/INTO exception (type 3, vector 3 or 4). */
static bool is_soft_event(uint64_t info)
{
	unsigned int type = (info >> 8) & 7, vector = info & 0xff;

	return type == 4 || (type == 3 && (vector == 3 || vector == 4));
}

/*
 * An exception of fault class (not #DB, NMI, #BP, #OF, #DF or #MC): its
 * instruction, run again, raises it again.
 */
static bool is_fault_exception(uint64_t info)
{
	unsigned int vector = info & 0xff;

	return ((info >> 8) & 7) == 3 && vector < 32 &&
	       ((1u << vector) & (1u << 0 | 1u << 5 | 1u << 6 | 1u << 7 | 1u << 10 | 1u << 11 |
				  1u << 12 | 1u << 13 | 1u << 14 | 1u << 16 | 1u << 17 | 1u << 19 |
				  1u << 20 | 1u << 21));
}

static bool has_tsc_aux(void)
{
	return cpuid(0x80000001, 0).edx & (1u << 27);
}

/* After a PC guest's last run on this pCPU: the pCPU's own TSC_AUX back. */
static void svm_vcpu_unload(struct vcpu_arch *v)
{
	struct svm_vcpu *s = v->backend;

	if (s && s->tsc_aux_loaded) {
		wrmsr(MSR_TSC_AUX, s->host_tsc_aux);
		s->tsc_aux_loaded = false;
	}
}

/*
 * A vCPU that shares its pCPU exits after this many PAUSEs since its entry
 * (the pause filter; KVM's default count). On the control CPU before the
 * vCPU's first entry (the VMCB is in memory; VMRUN reads it).
 */
#define PAUSE_FILTER_COUNT 3000

static void svm_vcpu_set_pause_exits(struct vcpu_arch *v)
{
	struct svm_vcpu *s = v->backend;

	if (!v->pause_exits || !virt_caps.pause_exiting)
		return;
	s->vmcb->control.pause_filter_count = PAUSE_FILTER_COUNT;
	s->vmcb->control.intercept_misc1 |= INTERCEPT_PAUSE;
}

static void svm_vcpu_run(struct vcpu_arch *v)
{
	struct svm_vcpu *s = v->backend;
	struct vmcb *vmcb = s->vmcb;
	const struct guest_regs *r = &v->regs;
	uint64_t entry_inj, entry_rip, info;
	unsigned int type, vector;
	bool ours, stale;

	if (s->pc && !s->tsc_aux_loaded && has_tsc_aux()) {
		s->host_tsc_aux = rdmsr(MSR_TSC_AUX);
		wrmsr(MSR_TSC_AUX, s->tsc_aux);
		s->tsc_aux_loaded = true;
	}
	svm_asid_prepare_entry(v, s);
	if (v->shadow)
		vmcb->save.cr3 = v->hw_cr3;
	/*
	 * The core stepped over the instruction that exited (HLT after STI,
	 * say): the shadow was that instruction's and ends with it (Bochs
	 * reports it at a HLT exit; kept, it would hold off an interrupt past
	 * the next instruction, a CLI say, for good).
	 */
	if (s->pc && r->rip != vmcb->save.rip)
		vmcb->control.int_state &= ~INT_STATE_SHADOW;
	vmcb->save.rax = r->rax;
	vmcb->save.rsp = r->rsp;
	vmcb->save.rip = r->rip;
	vmcb->save.rflags = r->rflags;
	s->gprs = (struct svm_gprs){ r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp, r->r8, r->r9,
				     r->r10, r->r11, r->r12, r->r13, r->r14, r->r15 };

	/*
	 * VMRUN loads the guest's CR2 from the VMCB (APM 15.5.1), but Bochs 2.7
	 * reads that field and never loads it: an injected #PF would reach the
	 * guest with our CR2, and another vCPU's CR2 could show through. Loading
	 * CR2 ourselves first is harmless where VMRUN does it, and keeps the
	 * guest's CR2 right where it does not (Bochs saves it at #VMEXIT).
	 */
	if (read_cr2() != vmcb->save.cr2)
		write_cr2(vmcb->save.cr2);
	entry_inj = vmcb->control.event_inj;
	entry_rip = vmcb->save.rip;
	BREAKDOWN_STAMP(v->bd_run_start);
	svm_vmrun(s->vmcb_pa, &s->gprs, svm_cpus[this_cpu()->cpu].host_save_pa, &v->left);
	BREAKDOWN_STAMP(v->bd_run_end);

	v->regs = (struct guest_regs){
		.rax = vmcb->save.rax, .rbx = s->gprs.rbx, .rcx = s->gprs.rcx,
		.rdx = s->gprs.rdx, .rsi = s->gprs.rsi, .rdi = s->gprs.rdi, .rbp = s->gprs.rbp,
		.r8 = s->gprs.r8, .r9 = s->gprs.r9, .r10 = s->gprs.r10, .r11 = s->gprs.r11,
		.r12 = s->gprs.r12, .r13 = s->gprs.r13, .r14 = s->gprs.r14, .r15 = s->gprs.r15,
		.rsp = vmcb->save.rsp, .rip = vmcb->save.rip, .rflags = vmcb->save.rflags,
	};
	vmcb->control.tlb_control = TLB_CONTROL_NOTHING;
	/*
	 * An exit in the middle of delivering an event (APM 15.7.2: EXITINTINFO
	 * valid) leaves it undelivered: inject it again at the next entry,
	 * e.g. our #PF whose delivery faulted on a guest GDT page the shadow
	 * had not mapped yet. The CR2 of an injected #PF goes back too.
	 *
	 * Bochs 2.7's SVM records EXITINTINFO only when it delivers an
	 * EVENTINJ event or an exception it does not intercept; an INTn (INT3,
	 * INTO) marks a delivery but records nothing. An exit while one pushes
	 * onto the kernel stack (a shadow #PF) reports the event recorded last,
	 * e.g. a #PF we injected many entries before: injected again, it
	 * reached the guest at its INT $0x80 with that old CR2 and error code.
	 * So the report is believed as it stands only for the event injected
	 * at this entry with RIP unmoved (nothing ran). An exception that we
	 * intercept and did not inject now is a stale record: a CPU never
	 * delivers one itself. A fault, stale or not, leaves RIP at the
	 * instruction that raised it (or at the INTn that was cut short), and
	 * running that again raises it again (or delivers the INTn).
	 */
	info = vmcb->control.exit_int_info;
	type = (info >> 8) & 7;
	vector = info & 0xff;
	ours = (info & EVENTINJ_VALID) && info == entry_inj && vmcb->save.rip == entry_rip;
	stale = (info & EVENTINJ_VALID) && !ours && type == 3 && vector < 32 &&
		(vmcb->control.intercept_exceptions & (1u << vector));
	if (ours) {
		vmcb->control.event_inj = info;
		if ((info & 0x7ff) == (EVENTINJ_TYPE_EXCEPTION | 14))
			vmcb->save.cr2 = s->pf_cr2;
	} else if (!(info & EVENTINJ_VALID) || stale || is_soft_event(info) || is_fault_exception(info) ||
		   type == 0 || type == 2) {
		/*
		 * Nothing to inject, or an INTn, INT3, INTO or fault run
		 * again: that delivers an INTn with the right return address
		 * (injecting it would push the instruction's own; NRIP save
		 * is not always there). An interrupt or NMI is only ever
		 * ours (we inject them at an entry, never by V_IRQ): any
		 * other report of one is stale.
		 */
		vmcb->control.event_inj = 0;
	} else {
		vmcb->control.event_inj = info; /* #DB, NMI, #MC: not raised again */
	}
	if (s->pc) { /* only a PC guest gets NMIs */
		if (s->iret_pending && vmcb->save.rip != s->iret_rip)
			s->iret_pending = false; /* the IRET has run */
		if ((uint32_t)vmcb->control.exit_code == SVM_EXIT_IRET) {
			s->nmi_masked = false;
			s->iret_pending = true;
			s->iret_rip = vmcb->save.rip;
			vmcb->control.intercept_misc1 &= ~INTERCEPT_IRET;
			svm_update_window(s); /* a pending NMI now waits for the IRET to run */
		}
	}
	svm_decode_exit(v, s);
	if (stale)
		v->exit.vectoring = 0; /* no #PF or #DF was being delivered: no double fault */
}

/*
 * The windows vcpu_request_window asked for. An interrupt: V_IRQ with the
 * VINTR intercept exits when the guest could take a virtual interrupt
 * (IF set, no shadow; V_IGN_TPR: whatever V_TPR says), before it is taken,
 * so no virtual interrupt ever reaches the guest. An NMI: while NMIs are
 * masked, the IRET intercept is the window; once the IRET has been seen
 * but has not run, the next instruction boundary with IF set is (the
 * guest's NMI handler returns to code that mostly has it set; a pending
 * NMI behind an IRET to IF = 0 waits for the next exit).
 */
static void svm_update_window(struct svm_vcpu *s)
{
	struct vmcb_control *c = &s->vmcb->control;
	bool vintr = s->want_irq || (s->want_nmi && !s->nmi_masked);

	if (vintr) {
		c->int_ctl |= V_IRQ | V_IGN_TPR | 0xfull << V_INTR_PRIO_SHIFT;
		c->intercept_misc1 |= INTERCEPT_VINTR;
	} else {
		c->int_ctl &= ~(V_IRQ | V_IGN_TPR | 0xfull << V_INTR_PRIO_SHIFT);
		c->intercept_misc1 &= ~INTERCEPT_VINTR;
	}
	if (s->nmi_masked)
		c->intercept_misc1 |= INTERCEPT_IRET;
}

static bool svm_vcpu_can_inject(struct vcpu_arch *v, bool nmi)
{
	struct svm_vcpu *s = v->backend;
	const struct vmcb_control *c = &s->vmcb->control;

	if ((c->event_inj & EVENTINJ_VALID) ||
	    ((c->int_state & INT_STATE_SHADOW) && v->regs.rip == s->vmcb->save.rip))
		return false; /* a shadow ends with its instruction, if the core stepped over it */
	if (nmi)
		return !s->nmi_masked && !(s->iret_pending && v->regs.rip == s->iret_rip);
	return v->regs.rflags & RFLAGS_IF;
}

static void svm_vcpu_inject_irq(struct vcpu_arch *v, unsigned int vector)
{
	struct vmcb *vmcb = ((struct svm_vcpu *)v->backend)->vmcb;

	vmcb->control.event_inj = (vector & 0xff) | EVENTINJ_TYPE_INTR | EVENTINJ_VALID;
}

static void svm_vcpu_inject_nmi(struct vcpu_arch *v)
{
	struct svm_vcpu *s = v->backend;

	s->vmcb->control.event_inj = 2 | EVENTINJ_TYPE_NMI | EVENTINJ_VALID;
	s->nmi_masked = true;
	s->iret_pending = false;
	svm_update_window(s);
}

static void svm_vcpu_request_window(struct vcpu_arch *v, bool irq, bool nmi)
{
	struct svm_vcpu *s = v->backend;

	s->want_irq = irq;
	s->want_nmi = nmi;
	svm_update_window(s);
}

/*
 * INIT, then SIPI: the INIT state (real mode, CR0 = CD|NW|ET, EFER 0, no
 * event pending, NMIs unmasked) with CS:IP = vector << 8 : 0. SVM runs
 * real mode itself; under shadow paging the hardware pages anyway
 * ("paged real mode", APM vol. 2 15.19: PG without PE), with the identity
 * root of a guest whose paging is off.
 */
static bool svm_vcpu_reset_sipi(struct vcpu_arch *v, unsigned int vector, char *err, size_t len)
{
	struct svm_vcpu *s = v->backend;
	struct vmcb_control *c = &s->vmcb->control;
	struct vmcb_save *g = &s->vmcb->save;

	(void)err;
	(void)len;
	set_seg(&g->cs, (uint16_t)(vector << 8), 0x9b, 0xffff, (uint64_t)vector << 12);
	set_seg(&g->ds, 0, 0x93, 0xffff, 0);
	g->es = g->ss = g->fs = g->gs = g->ds;
	set_seg(&g->gdtr, 0, 0, 0xffff, 0);
	set_seg(&g->idtr, 0, 0, 0xffff, 0);
	set_seg(&g->tr, 0, 0x8b, 0xffff, 0);
	set_seg(&g->ldtr, 0, 0x82, 0xffff, 0);
	g->cpl = 0;
	g->cr0 = CR0_CD | CR0_NW | CR0_ET;
	g->cr3 = 0;
	g->cr4 = 0;
	g->cr2 = 0;
	g->efer = EFER_SVME;
	if (v->shadow) {
		g->efer |= EFER_NXE;
		g->cr0 |= CR0_PG | CR0_WP;
		g->cr4 = CR4_PAE;
	}
	g->dr6 = 0xffff0ff0;
	g->dr7 = 0x400;
	c->event_inj = 0;
	c->int_state = 0;
	s->pf_cr2 = 0;
	s->nmi_masked = s->iret_pending = false;
	s->want_irq = s->want_nmi = false;
	c->intercept_misc1 &= ~INTERCEPT_IRET;
	svm_update_window(s);
	return true;
}

static void svm_vcpu_flush_tlb(struct vcpu_arch *v)
{
	((struct svm_vcpu *)v->backend)->flush_pending = true;
}

static void svm_vcpu_inject_exception(struct vcpu_arch *v, unsigned int vector, bool has_error,
				      uint32_t error)
{
	struct vmcb *vmcb = ((struct svm_vcpu *)v->backend)->vmcb;

	vmcb->control.event_inj = vector | EVENTINJ_TYPE_EXCEPTION | EVENTINJ_VALID |
				  (has_error ? EVENTINJ_ERROR_VALID | (uint64_t)error << 32 : 0);
}

static void svm_vcpu_inject_page_fault(struct vcpu_arch *v, uint64_t gva, uint32_t error)
{
	struct svm_vcpu *s = v->backend;

	s->pf_cr2 = gva;
	s->vmcb->save.cr2 = gva;
	svm_vcpu_inject_exception(v, 14, true, error);
}

static void svm_vcpu_set_cr(struct vcpu_arch *v, unsigned int cr, uint64_t val)
{
	struct svm_vcpu *s = v->backend;
	struct vmcb *vmcb = s->vmcb;

	/*
	 * A PC guest's CR0 write (it exits under NPT too): paging on or off
	 * with EFER.LME set enters or leaves long mode, which is LMA here.
	 */
	if (s->pc && !v->shadow && cr == 0) {
		bool lma = (vmcb->save.efer & EFER_LME) && (val & CR0_PG);

		vmcb->save.cr0 = val;
		vmcb->save.efer = lma ? vmcb->save.efer | EFER_LMA : vmcb->save.efer & ~(uint64_t)EFER_LMA;
		return;
	}

	/*
	 * Shadow paging: the write protection of guest tables needs WP, its
	 * tables PAE, and the hardware pages even while the guest does not.
	 */
	if (cr == 0)
		vmcb->save.cr0 = val | (v->shadow ? CR0_WP | CR0_PG : 0); /* PE clear: paged real mode */
	else if (cr == 4)
		vmcb->save.cr4 = val | (v->shadow ? CR4_PAE : 0);
}

/* VMSAVE after the exit left the guest's FS and GS bases in the VMCB. */
static uint64_t svm_vcpu_seg_base(struct vcpu_arch *v, unsigned int seg)
{
	const struct vmcb *vmcb = ((struct svm_vcpu *)v->backend)->vmcb;

	return seg == 4 ? vmcb->save.fs.base : seg == 5 ? vmcb->save.gs.base : 0;
}

/* The guest's view of its state: the VMCB holds it whole (EFER.SVME is ours). */
static void svm_vcpu_get_state(struct vcpu_arch *v, struct vcpu_state *st)
{
	const struct vmcb_save *g = &((struct svm_vcpu *)v->backend)->vmcb->save;

	st->cr0 = g->cr0;
	st->cr3 = g->cr3;
	st->cr4 = g->cr4;
	st->efer = g->efer & ~(uint64_t)EFER_SVME;
	st->cpl = g->cpl;
	/* attrib bit 9 is the descriptor's L, bit 10 its D/B */
	st->code_bits = (g->efer & EFER_LMA) && (g->cs.attrib & (1u << 9)) ? 64
			: g->cs.attrib & (1u << 10) ? 32 : 16;
	/* ES CS SS DS FS GS, one field each (an emulated store's every exit reads them) */
	st->seg_base[0] = g->es.base;
	st->seg_base[1] = g->cs.base;
	st->seg_base[2] = g->ss.base;
	st->seg_base[3] = g->ds.base;
	st->seg_base[4] = g->fs.base;
	st->seg_base[5] = g->gs.base;
	st->idt_base = g->idtr.base;
	st->idt_limit = g->idtr.limit;
}

/*
 * The MSRs the VMCB's save area holds (VMLOAD and VMRUN load them). Fields
 * of a packed struct: read and written by value, never through a pointer.
 */
#define VMCB_MSRS(X) X(MSR_PAT, g_pat) X(MSR_FS_BASE, fs.base) X(MSR_GS_BASE, gs.base) \
	X(MSR_KERNEL_GS_BASE, kernel_gs_base) X(MSR_STAR, star) X(MSR_LSTAR, lstar)     \
	X(MSR_CSTAR, cstar) X(MSR_SFMASK, sfmask) X(MSR_SYSENTER_CS, sysenter_cs)       \
	X(MSR_SYSENTER_ESP, sysenter_esp) X(MSR_SYSENTER_EIP, sysenter_eip)

static bool svm_vcpu_get_msr(struct vcpu_arch *v, uint32_t msr, uint64_t *val)
{
	struct svm_vcpu *s = v->backend;
	const struct vmcb_save *g = &s->vmcb->save;

	switch (msr) {
#define GET(m, f) case m: *val = g->f; return true;
	VMCB_MSRS(GET)
#undef GET
	case MSR_EFER:
		*val = g->efer & ~(uint64_t)EFER_SVME;
		return true;
	case MSR_TSC_AUX:
		*val = s->tsc_aux;
		return true;
	}
	return false;
}

static void svm_vcpu_set_tsc_offset(struct vcpu_arch *v)
{
	struct svm_vcpu *s = v->backend;

	s->vmcb->control.tsc_offset = (uint64_t)v->tsc_offset;
}

static bool svm_vcpu_set_msr(struct vcpu_arch *v, uint32_t msr, uint64_t val)
{
	struct svm_vcpu *s = v->backend;
	struct vmcb_save *g = &s->vmcb->save;

	switch (msr) {
#define SET(m, f) case m: g->f = val; return true;
	VMCB_MSRS(SET)
#undef SET
	case MSR_EFER:
		/*
		 * Under shadow paging the hardware's EFER follows the root's
		 * format: long mode exactly when the guest's is (its LMA in
		 * val), NXE always (shadow entries use NX), SCE the guest's
		 * (SYSCALL is #UD without it: Linux's user space dies). Under
		 * NPT it is the guest's, LMA staying what the mode makes it.
		 * SVME stays ours.
		 */
		if (v->shadow)
			g->efer = EFER_SVME | EFER_NXE | (val & EFER_SCE) |
				  (val & EFER_LMA ? EFER_LME | EFER_LMA : 0);
		else
			g->efer = (val & ~(uint64_t)EFER_LMA) | (g->efer & EFER_LMA) | EFER_SVME;
		return true;
	case MSR_TSC_AUX:
		s->tsc_aux = val;
		wrmsr(MSR_TSC_AUX, val); /* on the vCPU's pCPU */
		return true;
	}
	return false;
}

/*
 * The end of an emulated real-mode start (virt.h). SVM runs real mode
 * itself and never needs it; it loads the state as given: the VMCB's
 * attrib packs VMX-style access rights' bits 15:12 into 11:8.
 */
static bool svm_vcpu_load_pm_state(struct vcpu_arch *v, const struct vcpu_pm_state *st, char *err,
				   size_t len)
{
	struct vmcb_save *g = &((struct svm_vcpu *)v->backend)->vmcb->save;
	struct vmcb_seg *segs[6] = { &g->es, &g->cs, &g->ss, &g->ds, &g->fs, &g->gs };

	(void)err;
	(void)len;
	for (unsigned int i = 0; i < 6; i++) {
		const struct vcpu_seg *s = &st->seg[i];
		uint16_t attrib = s->ar & (1u << 16) ? 0 : (uint16_t)((s->ar & 0xff) | ((s->ar >> 4) & 0xf00));

		set_seg(segs[i], s->sel, attrib, s->limit, s->base);
	}
	set_seg(&g->gdtr, 0, 0, st->gdtr.limit, st->gdtr.base);
	set_seg(&g->idtr, 0, 0, st->idtr.limit, st->idtr.base);
	g->cpl = (st->seg[1].ar >> 5) & 3;
	svm_vcpu_set_msr(v, MSR_EFER, st->efer);
	svm_vcpu_set_cr(v, 4, st->cr4);
	svm_vcpu_set_cr(v, 0, st->cr0);
	if (!v->shadow)
		g->cr3 = st->cr3;
	return true;
}

const struct virt_ops svm_ops = {
	.name = "svm",
	.probe = svm_probe,
	.cpu_enable = svm_cpu_enable,
	.vcpu_set_pause_exits = svm_vcpu_set_pause_exits,
	.vcpu_init = svm_vcpu_init,
	.vcpu_free = svm_vcpu_free,
	.vcpu_run = svm_vcpu_run,
	.vcpu_flush_tlb = svm_vcpu_flush_tlb,
	.vcpu_inject_exception = svm_vcpu_inject_exception,
	.vcpu_inject_page_fault = svm_vcpu_inject_page_fault,
	.vcpu_set_cr = svm_vcpu_set_cr,
	.vcpu_seg_base = svm_vcpu_seg_base,
	.vcpu_get_state = svm_vcpu_get_state,
	.vcpu_get_msr = svm_vcpu_get_msr,
	.vcpu_set_msr = svm_vcpu_set_msr,
	.vcpu_set_tsc_offset = svm_vcpu_set_tsc_offset,
	.vcpu_can_inject = svm_vcpu_can_inject,
	.vcpu_inject_irq = svm_vcpu_inject_irq,
	.vcpu_inject_nmi = svm_vcpu_inject_nmi,
	.vcpu_request_window = svm_vcpu_request_window,
	.vcpu_reset_sipi = svm_vcpu_reset_sipi,
	.vcpu_load_pm_state = svm_vcpu_load_pm_state,
	.vcpu_unload = svm_vcpu_unload,
};
