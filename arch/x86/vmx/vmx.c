// SPDX-License-Identifier: MIT
/*
 * Intel VMX: detection with clear errors, controls computed from the
 * capability MSRs (the TRUE_* ones when present), VMXON on each pCPU, a VMCS
 * per vCPU loaded on its own pCPU at first entry, INVEPT/INVVPID flushes.
 */
#include "arch/x86/cpu.h"
#include "arch/x86/percpu.h"
#include "arch/x86/vcpu_backend.h"
#include "arch/x86/vmx/vmx.h"
#include "lib/printf.h"
#include "mm/ept/tdp_mmu.h"
#include "mm/page_alloc.h"

#define CR4_VMXE (1ull << 13)
#define PREEMPTION_BACKSTOP_TSC (1ull << 22) /* ~4M TSC cycles between forced exits */

struct vmx_config vmx_config;
/*
 * VPIDs: one per live vCPU, taken from this bitmap at vcpu_init and given
 * back at vcpu_free (bit 0 is the host's). A VPID given back may still tag
 * stale translations on the pCPU its old vCPU ran on, and a freed EPT root
 * may come back as another VM's: a vCPU's first entry therefore flushes its
 * VPID and its EPTP on its pCPU (vmx_vcpu_load), and never again unless the
 * core asks. Bits are taken and given back with atomics, from any CPU.
 */
#define VPID_COUNT 65536
static atomic_ulong vpid_used[VPID_COUNT / 64] = { 1 };

static uint16_t vpid_alloc(void)
{
	for (unsigned int w = 0; w < VPID_COUNT / 64; w++) {
		uint64_t used = atomic_load(&vpid_used[w]);

		while (~used) {
			unsigned int b = (unsigned int)__builtin_ctzll(~used);

			if (atomic_compare_exchange_weak(&vpid_used[w], &used, used | 1ull << b))
				return (uint16_t)(w * 64 + b);
		}
	}
	return 0;
}

static void vpid_free(uint16_t vpid)
{
	if (vpid)
		atomic_fetch_and(&vpid_used[vpid / 64], ~(1ull << (vpid % 64)));
}

/* Per pCPU, written by that pCPU in vmx_cpu_enable. */
static struct { bool on; } vmx_cpus[PLATFORM_MAX_CPUS];

/*
 * A control word from its capability MSR: the low half says which bits must
 * be 1, the high half which may be 1 (SDM A.3). false if want needs a bit the
 * CPU does not allow.
 */
static bool adjust_controls(uint32_t msr, uint32_t want, uint32_t *out, const char *what,
			    char *err, size_t len)
{
	uint64_t cap = rdmsr(msr);
	uint32_t must = (uint32_t)cap, may = (uint32_t)(cap >> 32);

	if (want & ~may) {
		fmt_snprintf(err, len, "this CPU's VMX does not allow the %s controls 0x%x we need",
			     what, want & ~may);
		return false;
	}
	*out = want | must;
	return true;
}

/*
 * What a PC guest's interrupts need (virt/pc_irq.c): virtual NMIs, so that
 * the CPU blocks the NMIs we inject from delivery to the guest's IRET (with
 * NMI exiting, which every guest has: the host's NMIs still exit, reason 0);
 * and the interrupt- and NMI-window exits, which vcpu_request_window turns
 * on and off in each vCPU's processor-based controls. NMI-window exiting
 * exists only with virtual NMIs (SDM 26.2.1.1). Without any of them a PC
 * guest is refused at vcpu_init; synthetic guests need none.
 */
static void probe_pc_event_controls(struct vmx_config *c, bool true_ctls)
{
	uint64_t proc_cap = rdmsr(true_ctls ? MSR_VMX_TRUE_PROCBASED : MSR_VMX_PROCBASED);
	uint32_t may_proc = (uint32_t)(proc_cap >> 32); /* allowed-1 (SDM A.3.2) */
	char scratch[8];

	c->virtual_nmis = adjust_controls(true_ctls ? MSR_VMX_TRUE_PINBASED : MSR_VMX_PINBASED,
					  c->pin | PIN_VIRTUAL_NMIS, &c->pin_pc, "", scratch,
					  sizeof(scratch));
	c->irq_window = may_proc & PROC_IRQ_WINDOW_EXITING;
	c->nmi_window = c->virtual_nmis && (may_proc & PROC_NMI_WINDOW_EXITING);
}

/*
 * The controls a PC guest (VCPU_START_PROTECTED) runs under: RDTSCP when the
 * CPU has it (else it is #UD in the guest); TSC offsetting (its writes to
 * IA32_TSC and IA32_TSC_ADJUST, virt/msr.c); exits for MOV DR, so its debug
 * registers stay its own, and for what CPUID hides from it (MONITOR,
 * MWAIT), RDPMC (no counters) and WBINVD. Under EPT also unrestricted
 * guest, so it may run with paging off and switch modes itself; under
 * shadow paging the hardware always pages (the shadow MMU's roots), and
 * the guest's mode is the read shadows'. Optional: without them only PC
 * guests are refused, at vcpu_init.
 */
static void probe_pc_controls(struct vmx_config *c, bool true_ctls)
{
	uint32_t proc = true_ctls ? MSR_VMX_TRUE_PROCBASED : MSR_VMX_PROCBASED;
	uint32_t pc_exits = PROC_MOV_DR_EXITING | PROC_MWAIT_EXITING | PROC_RDPMC_EXITING |
			    PROC_MONITOR_EXITING | PROC_TSC_OFFSETTING;
	uint32_t pc_exits2 = PROC2_WBINVD_EXITING |
			     (cpuid(0x80000001, 0).edx & (1u << 27) ? PROC2_RDTSCP : 0);
	char scratch[8];
	bool entry = adjust_controls(true_ctls ? MSR_VMX_TRUE_ENTRY : MSR_VMX_ENTRY,
				     ENTRY_LOAD_PAT | ENTRY_LOAD_EFER, &c->entry_pc, "", scratch,
				     sizeof(scratch));

	c->pc_ok = entry &&
		   adjust_controls(proc, c->proc | pc_exits, &c->proc_pc, "", scratch,
				   sizeof(scratch)) &&
		   adjust_controls(MSR_VMX_PROCBASED2,
				   PROC2_ENABLE_EPT | PROC2_ENABLE_VPID | PROC2_UNRESTRICTED_GUEST |
					   pc_exits2,
				   &c->proc2_pc, "", scratch, sizeof(scratch));
	c->pc_shadow_ok = entry &&
			  adjust_controls(proc, c->proc_shadow | pc_exits, &c->proc_pc_shadow, "",
					  scratch, sizeof(scratch)) &&
			  adjust_controls(MSR_VMX_PROCBASED2, PROC2_ENABLE_VPID | pc_exits2,
					  &c->proc2_pc_shadow, "", scratch, sizeof(scratch));
	probe_pc_event_controls(c, true_ctls);
}

static bool vmx_probe(bool need_tdp, char *err, size_t len)
{
	uint64_t fc, basic;
	bool true_ctls;
	struct vmx_config *c = &vmx_config;

	if (!(cpuid(1, 0).ecx & (1u << 5))) {
		fmt_snprintf(err, len, "this CPU has no Intel VMX; on AMD use virt=svm");
		return false;
	}
	fc = rdmsr(MSR_FEATURE_CONTROL);
	if ((fc & FEATURE_CONTROL_LOCKED) && !(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
		fmt_snprintf(err, len,
			     "VMX is disabled by the firmware (IA32_FEATURE_CONTROL locked without VMX): enable VT-x in the firmware setup");
		return false;
	}
	basic = rdmsr(MSR_VMX_BASIC);
	true_ctls = basic & VMX_BASIC_TRUE_CTLS;
	c->revision = basic & 0x7fffffff;
	c->cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0);
	c->cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
	c->cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0);
	c->cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);
	c->preemption_timer_shift = rdmsr(MSR_VMX_MISC) & 0x1f;

	if (!adjust_controls(true_ctls ? MSR_VMX_TRUE_PINBASED : MSR_VMX_PINBASED,
			     PIN_EXTINT_EXITING | PIN_NMI_EXITING | PIN_PREEMPTION_TIMER, &c->pin,
			     "pin-based", err, len) ||
	    !adjust_controls(true_ctls ? MSR_VMX_TRUE_PROCBASED : MSR_VMX_PROCBASED,
			     PROC_HLT_EXITING | PROC_UNCOND_IO_EXITING | PROC_SECONDARY |
				     PROC_CR8_LOAD_EXITING | PROC_CR8_STORE_EXITING, &c->proc,
			     "processor-based", err, len) ||
	    !adjust_controls(true_ctls ? MSR_VMX_TRUE_EXIT : MSR_VMX_EXIT,
			     EXIT_HOST_64BIT | EXIT_SAVE_PAT | EXIT_LOAD_PAT | EXIT_SAVE_EFER |
				     EXIT_LOAD_EFER, &c->exit, "VM-exit", err, len) ||
	    !adjust_controls(true_ctls ? MSR_VMX_TRUE_ENTRY : MSR_VMX_ENTRY,
			     ENTRY_IA32E_GUEST | ENTRY_LOAD_PAT | ENTRY_LOAD_EFER, &c->entry,
			     "VM-entry", err, len))
		return false;
	if (!adjust_controls(true_ctls ? MSR_VMX_TRUE_PROCBASED : MSR_VMX_PROCBASED,
			     PROC_HLT_EXITING | PROC_UNCOND_IO_EXITING | PROC_SECONDARY |
				     PROC_INVLPG_EXITING | PROC_CR3_LOAD_EXITING |
				     PROC_CR3_STORE_EXITING | PROC_CR8_LOAD_EXITING |
				     PROC_CR8_STORE_EXITING,
			     &c->proc_shadow, "processor-based (shadow paging)", err, len) ||
	    !adjust_controls(MSR_VMX_PROCBASED2, PROC2_ENABLE_VPID, &c->proc2_shadow,
			     "secondary (VPID)", err, len))
		return false;
	/* Secondary controls exist only where the primary ones allow them. */
	if (need_tdp && !adjust_controls(MSR_VMX_PROCBASED2, PROC2_ENABLE_EPT | PROC2_ENABLE_VPID,
					 &c->proc2, "secondary (EPT, VPID)", err, len)) {
		fmt_snprintf(err, len, "this CPU's VMX has no EPT or no VPID; use mmu=shadow");
		return false;
	}
	probe_pc_controls(c, true_ctls);
	c->ept_vpid_cap = rdmsr(MSR_VMX_EPT_VPID_CAP);
	if (need_tdp && (!(c->ept_vpid_cap & EPT_CAP_WALK4) || !(c->ept_vpid_cap & EPT_CAP_INVEPT) ||
			 !(c->ept_vpid_cap & VPID_CAP_INVVPID))) {
		fmt_snprintf(err, len, "this CPU's EPT lacks 4-level walks, INVEPT or INVVPID");
		return false;
	}
	c->invept_single = c->ept_vpid_cap & EPT_CAP_INVEPT_SINGLE;
	c->invvpid_single = c->ept_vpid_cap & VPID_CAP_INVVPID_SINGLE;
	virt_caps = (struct virt_caps){
		.tdp = true,
		.tdp_format = TDP_FORMAT_EPT,
		.tdp_1g = c->ept_vpid_cap & EPT_CAP_1G,
		.tdp_ad = c->ept_vpid_cap & EPT_CAP_AD,
		.flush_by_asid = c->invept_single,
		.vpid = true,
		.asids = 65535,
		.pause_exiting = (rdmsr(MSR_VMX_PROCBASED2) >> 32) & PROC2_PAUSE_LOOP_EXITING,
		.unrestricted = (rdmsr(MSR_VMX_PROCBASED2) >> 32) & PROC2_UNRESTRICTED_GUEST,
	};
	return true;
}

static bool vmx_cpu_enable(char *err, size_t len)
{
	unsigned int cpu = this_cpu()->cpu;
	uint64_t fc = rdmsr(MSR_FEATURE_CONTROL), pa;
	uint32_t *region;
	bool fail;

	if (vmx_cpus[cpu].on)
		return true;
	if (!(fc & FEATURE_CONTROL_LOCKED))
		wrmsr(MSR_FEATURE_CONTROL, fc | FEATURE_CONTROL_LOCKED | FEATURE_CONTROL_VMX_OUTSIDE_SMX);
	region = page_alloc_zeroed(0);
	if (!region) {
		fmt_snprintf(err, len, "out of memory for the VMXON region");
		return false;
	}
	region[0] = vmx_config.revision;
	/* The fixed bits (SDM A.7, A.8): CR0.PE/PG/NE and CR4.VMXE, in practice. */
	write_cr0((read_cr0() | vmx_config.cr0_fixed0) & vmx_config.cr0_fixed1);
	write_cr4((read_cr4() | CR4_VMXE | vmx_config.cr4_fixed0) & vmx_config.cr4_fixed1);
	pa = (uint64_t)region;
	asm volatile("vmxon %1" : "=@ccbe"(fail) : "m"(pa) : "memory");
	if (fail) {
		fmt_snprintf(err, len, "VMXON failed on cpu %u", cpu);
		return false;
	}
	vmx_cpus[cpu].on = true;
	return true;
}

/* Set once the shadow MMU models every paging mode a PC guest goes through. */
static const bool shadow_pc_supported = true;

static bool vmx_vcpu_init(struct vcpu_arch *v, uint64_t tdp_root_pa, char *err, size_t len)
{
	struct vmx_vcpu *x = page_alloc_zeroed(0);

	if (!x || !(x->vmcs = page_alloc_zeroed(0))) {
		fmt_snprintf(err, len, "out of memory for a VMCS");
		return false;
	}
	*(uint32_t *)x->vmcs = vmx_config.revision;
	x->vmcs_pa = (uint64_t)x->vmcs;
	x->tdp_root_pa = tdp_root_pa;
	x->shadow = v->shadow;
	x->pc = v->start == VCPU_START_PROTECTED;
	if (x->pc && (x->shadow ? !shadow_pc_supported || !vmx_config.pc_shadow_ok
			      : !vmx_config.pc_ok)) {
		fmt_snprintf(err, len, x->shadow
			     ? "mmu=shadow cannot run a guest that starts in protected mode yet; use mmu=tdp"
			     : "this CPU's VMX lacks unrestricted guest, which a guest that starts in protected mode needs");
		page_free(x->vmcs, 0);
		page_free(x, 0);
		return false;
	}
	if (x->pc && !(vmx_config.virtual_nmis && vmx_config.irq_window && vmx_config.nmi_window)) {
		fmt_snprintf(err, len,
			     "this CPU's VMX lacks virtual NMIs or interrupt- or NMI-window exiting, which a PC guest's interrupts need");
		page_free(x->vmcs, 0);
		page_free(x, 0);
		return false;
	}
	x->vpid = vpid_alloc();
	if (!x->vpid) {
		fmt_snprintf(err, len, "all %u VPIDs are taken by live vCPUs", VPID_COUNT - 1);
		page_free(x->vmcs, 0);
		page_free(x, 0);
		return false;
	}
	/* EPTP: WB (6), 4-level walk (3 << 3), A/D flags (bit 6) when used. */
	x->eptp = tdp_root_pa | 6 | (3 << 3) | (virt_caps.tdp_ad ? 1u << 6 : 0);
	v->backend = x;
	return true; /* the VMCS is written on the vCPU's own pCPU, at first entry */
}

/* The SYSCALL MSRs and TSC_AUX of a vCPU, in the pCPU's own MSRs while it runs there. */
static uint64_t *live_msr(struct vmx_vcpu *x, uint32_t msr)
{
	switch (msr) {
	case MSR_STAR: return &x->star;
	case MSR_LSTAR: return &x->lstar;
	case MSR_CSTAR: return &x->cstar;
	case MSR_SFMASK: return &x->sfmask;
	case MSR_KERNEL_GS_BASE: return &x->kernel_gs_base;
	case MSR_TSC_AUX: return &x->tsc_aux;
	}
	return NULL;
}

static const uint32_t live_msrs[] = { MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SFMASK,
				      MSR_KERNEL_GS_BASE, MSR_TSC_AUX };

static bool has_tsc_aux(void)
{
	return cpuid(0x80000001, 0).edx & (1u << 27);
}

/* At the first entry on the vCPU's pCPU: the guest's values (0 at reset) into the MSRs. */
static void load_live_msrs(struct vmx_vcpu *x)
{
	for (size_t i = 0; i < ARRAY_SIZE(live_msrs); i++) {
		if (live_msrs[i] == MSR_TSC_AUX && !has_tsc_aux())
			continue;
		x->host_live[i] = rdmsr(live_msrs[i]);
		wrmsr(live_msrs[i], *live_msr(x, live_msrs[i]));
	}
}

/* After the last run: the pCPU's own values back. */
static void put_live_msrs(struct vmx_vcpu *x)
{
	for (size_t i = 0; i < ARRAY_SIZE(live_msrs); i++)
		if (live_msrs[i] != MSR_TSC_AUX || has_tsc_aux())
			wrmsr(live_msrs[i], x->host_live[i]);
}

static void vmx_vcpu_unload(struct vcpu_arch *v)
{
	struct vmx_vcpu *x = v->backend;

	if (x && x->loaded) {
		if (x->pc)
			put_live_msrs(x);
		asm volatile("vmclear %0" ::"m"(x->vmcs_pa) : "cc", "memory");
		x->loaded = false;
		x->gprs.launched = 0;
	}
}

/* Its VMCS stays active on this pCPU between runs; VMPTRLD makes it current again. */
static void vmx_vcpu_switch(struct vcpu_arch *v)
{
	struct vmx_vcpu *x = v->backend;

	if (x->loaded)
		asm volatile("vmptrld %0" ::"m"(x->vmcs_pa) : "cc", "memory");
}

static void vmx_vcpu_free(struct vcpu_arch *v)
{
	struct vmx_vcpu *x = v->backend;

	if (x) {
		vpid_free(x->vpid);
		vcpu_backend_free(v, x->vmcs);
	}
}

static void invept(uint64_t type, uint64_t eptp)
{
	struct { uint64_t eptp, zero; } desc = { eptp, 0 };

	asm volatile("invept %0, %1" ::"m"(desc), "r"(type) : "cc", "memory");
}

static void invvpid(uint64_t type, uint16_t vpid)
{
	struct { uint64_t vpid, addr; } desc = { vpid, 0 };

	asm volatile("invvpid %0, %1" ::"m"(desc), "r"(type) : "cc", "memory");
}

/* On the vCPU's own pCPU: guest-physical and combined mappings of this vCPU go. */
static void vmx_vcpu_flush_tlb(struct vcpu_arch *v)
{
	struct vmx_vcpu *x = v->backend;

	if (!x->shadow && vmx_config.invept_single)
		invept(1, x->eptp);
	else if (!x->shadow)
		invept(2, 0);
	if (vmx_config.invvpid_single)
		invvpid(1, x->vpid);
	else
		invvpid(2, 0);
}

/*
 * The VMCS current on this pCPU (the vCPU's) and written, at the first op
 * that needs it: a PC guest's AP is asked about windows and reset by its
 * SIPI before it ever runs.
 */
static bool vmx_vcpu_load(struct vcpu_arch *v, struct vmx_vcpu *x, char *err, size_t len)
{
	if (x->loaded)
		return true;
	if (!vmx_vmcs_setup(v, x, err, len))
		return false;
	if (x->pc)
		load_live_msrs(x);
	if (!x->first_flush_done) { /* what a VPID's or EPT root's earlier owner left here */
		vmx_vcpu_flush_tlb(v);
		x->first_flush_done = true;
		v->context_flushes++;
	}
	return true;
}

/*
 * An STI or MOV SS shadow covers the one instruction at the exit's RIP:
 * once the core has emulated that instruction (RIP moved), it is over, and
 * left in place it would hold off the interrupt vcpu_can_inject let in
 * (or fail the entry: SDM 26.3.1.5).
 */
static uint32_t interruptibility_at_entry(const struct vcpu_arch *v, const struct vmx_vcpu *x)
{
	uint32_t intr = (uint32_t)vmread(GUEST_INTERRUPTIBILITY);

	return v->regs.rip == x->exit_rip ? intr : intr & ~INTR_BLOCK_SHADOW;
}

static void vmx_vcpu_run(struct vcpu_arch *v)
{
	struct vmx_vcpu *x = v->backend;
	const struct guest_regs *r = &v->regs;
	char err[128];

	if (!x->loaded && !vmx_vcpu_load(v, x, err, sizeof(err))) { /* the test: no call per entry */
		vcpu_arch_left(v);
		v->exit = (struct vcpu_exit){ .reason = EXIT_ENTRY_FAILED };
		vmx_report_entry_failure(v, true);
		return;
	}
	if (x->pc && r->rip != x->exit_rip) { /* the shadow is over: interruptibility_at_entry */
		uint32_t intr = (uint32_t)vmread(GUEST_INTERRUPTIBILITY);

		if (intr & INTR_BLOCK_SHADOW)
			vmwrite(GUEST_INTERRUPTIBILITY, intr & ~INTR_BLOCK_SHADOW);
	}
	if (x->shadow)
		vmwrite(GUEST_CR3, v->hw_cr3);
	if (x->pf_pending) {
		write_cr2(x->pf_cr2); /* VM entry does not load CR2: the guest sees ours */
		x->pf_pending = false;
	}
	vmwrite(GUEST_RSP, r->rsp);
	vmwrite(GUEST_RIP, r->rip);
	vmwrite(GUEST_RFLAGS, r->rflags);
	/* The backstop for Bochs, where an IPI does not force an exit while the guest has IF=0. */
	vmwrite(PREEMPTION_TIMER_VALUE, PREEMPTION_BACKSTOP_TSC >> vmx_config.preemption_timer_shift);
	x->gprs = (struct vmx_gprs){ r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp,
				     r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14,
				     r->r15, x->gprs.launched };
	BREAKDOWN_STAMP(v->bd_run_start);
	if (vmx_enter(&x->gprs, &v->left)) {
		vcpu_arch_left(v);
		v->exit = (struct vcpu_exit){ .reason = EXIT_ENTRY_FAILED,
					      .hw_code = vmread(VM_INSTRUCTION_ERROR) };
		vmx_report_entry_failure(v, true);
		return;
	}
	BREAKDOWN_STAMP(v->bd_run_end);
	v->regs = (struct guest_regs){
		.rax = x->gprs.rax, .rbx = x->gprs.rbx, .rcx = x->gprs.rcx, .rdx = x->gprs.rdx,
		.rsi = x->gprs.rsi, .rdi = x->gprs.rdi, .rbp = x->gprs.rbp, .r8 = x->gprs.r8,
		.r9 = x->gprs.r9, .r10 = x->gprs.r10, .r11 = x->gprs.r11, .r12 = x->gprs.r12,
		.r13 = x->gprs.r13, .r14 = x->gprs.r14, .r15 = x->gprs.r15,
		.rsp = vmread(GUEST_RSP), .rip = vmread(GUEST_RIP), .rflags = vmread(GUEST_RFLAGS),
	};
	x->exit_rip = v->regs.rip;
	vmx_decode_exit(v, x);
}

static void vmx_vcpu_inject_exception(struct vcpu_arch *v, unsigned int vector, bool has_error,
				      uint32_t error)
{
	vmwrite(ENTRY_INTR_INFO, vector | INTR_TYPE_HW_EXCEPTION | INTR_INFO_VALID |
					 (has_error ? INTR_INFO_DELIVER_ERROR : 0));
	if (has_error)
		vmwrite(ENTRY_EXCEPTION_ERROR, error);
	(void)v;
}

static void vmx_vcpu_inject_page_fault(struct vcpu_arch *v, uint64_t gva, uint32_t error)
{
	struct vmx_vcpu *x = v->backend;

	x->pf_cr2 = gva;
	x->pf_pending = true;
	vmx_vcpu_inject_exception(v, 14, true, error);
}

/*
 * A PC guest's MOV to CR0 that exited (it changed a bit VMX keeps, NE in
 * practice: see vmcs.c): the hardware gets the value with those bits as
 * VMX needs them. Turning paging on or off with EFER.LME switches long
 * mode, which the CPU does by itself only for writes that do not exit.
 */
static void pc_set_cr0(uint64_t val)
{
	const struct vmx_config *c = &vmx_config;
	uint64_t efer = vmread(GUEST_IA32_EFER), entry = vmread(ENTRY_CONTROLS);
	bool lma = (efer & EFER_LME) && (val & CR0_PG);

	vmwrite(GUEST_CR0, (val | (c->cr0_fixed0 & ~(CR0_PE | CR0_PG))) & c->cr0_fixed1);
	vmwrite(CR0_READ_SHADOW, val);
	vmwrite(GUEST_IA32_EFER, lma ? efer | EFER_LMA : efer & ~(uint64_t)EFER_LMA);
	vmwrite(ENTRY_CONTROLS, lma ? entry | ENTRY_IA32E_GUEST : entry & ~ENTRY_IA32E_GUEST);
}

static void vmx_vcpu_set_cr(struct vcpu_arch *v, unsigned int cr, uint64_t val)
{
	const struct vmx_config *c = &vmx_config;
	struct vmx_vcpu *x = v->backend;

	if (x->pc && !x->shadow) {
		if (cr == 0)
			pc_set_cr0(val);
		else if (cr == 4) {
			vmwrite(GUEST_CR4, ((val | CR4_VMXE) | c->cr4_fixed0) & c->cr4_fixed1);
			vmwrite(CR4_READ_SHADOW, val);
		}
		return;
	}
	if (cr == 0) {
		/* CR0.WP stays set under us; the guest reads its own value. */
		vmwrite(GUEST_CR0, ((val | CR0_WP) | c->cr0_fixed0) & c->cr0_fixed1);
		vmwrite(CR0_READ_SHADOW, val);
	} else if (cr == 4) {
		vmwrite(GUEST_CR4, ((val | CR4_PAE | CR4_VMXE) | c->cr4_fixed0) & c->cr4_fixed1);
		vmwrite(CR4_READ_SHADOW, val);
	}
}

/* The VMCS is loaded on this pCPU (the vCPU's): read the guest's FS or GS base. */
static uint64_t vmx_vcpu_seg_base(struct vcpu_arch *v, unsigned int seg)
{
	(void)v;
	return seg == 4 ? vmread(GUEST_FS_BASE) : seg == 5 ? vmread(GUEST_GS_BASE) : 0;
}

/* The guest's view: host-owned bits of CR0 and CR4 come from the read shadows. */
static void vmx_vcpu_get_state(struct vcpu_arch *v, struct vcpu_state *s)
{
	uint64_t cr0_mask = vmread(CR0_GUEST_HOST_MASK), cr4_mask = vmread(CR4_GUEST_HOST_MASK);
	uint64_t cs_ar = vmread(GUEST_CS_AR);

	(void)v;
	s->cr0 = (vmread(GUEST_CR0) & ~cr0_mask) | (vmread(CR0_READ_SHADOW) & cr0_mask);
	s->cr4 = (vmread(GUEST_CR4) & ~cr4_mask) | (vmread(CR4_READ_SHADOW) & cr4_mask);
	s->cr3 = vmread(GUEST_CR3);
	s->efer = vmread(GUEST_IA32_EFER);
	s->cpl = (vmread(GUEST_SS_AR) >> 5) & 3;
	s->code_bits = (s->efer & EFER_LMA) && (cs_ar & (1u << 13)) ? 64
		       : cs_ar & (1u << 14) ? 32 : 16;
	for (unsigned int i = 0; i < 6; i++)
		s->seg_base[i] = vmread(GUEST_ES_BASE + 2 * i);
	s->idt_base = vmread(GUEST_IDTR_BASE);
	s->idt_limit = (uint32_t)vmread(GUEST_IDTR_LIMIT);
}

static bool vmx_vcpu_get_msr(struct vcpu_arch *v, uint32_t msr, uint64_t *val)
{
	struct vmx_vcpu *x = v->backend;
	uint64_t *live = live_msr(x, msr);

	if (live) {
		*val = *live;
		return true;
	}
	switch (msr) {
	case MSR_EFER: *val = vmread(GUEST_IA32_EFER); return true;
	case MSR_PAT: *val = vmread(GUEST_IA32_PAT); return true;
	case MSR_FS_BASE: *val = vmread(GUEST_FS_BASE); return true;
	case MSR_GS_BASE: *val = vmread(GUEST_GS_BASE); return true;
	case MSR_SYSENTER_CS: *val = vmread(GUEST_SYSENTER_CS); return true;
	case MSR_SYSENTER_ESP: *val = vmread(GUEST_SYSENTER_ESP); return true;
	case MSR_SYSENTER_EIP: *val = vmread(GUEST_SYSENTER_EIP); return true;
	}
	return false;
}

static void vmx_vcpu_set_tsc_offset(struct vcpu_arch *v)
{
	struct vmx_vcpu *x = v->backend;
	char err[128];

	if (x->pc && vmx_vcpu_load(v, x, err, sizeof(err)))
		vmwrite(TSC_OFFSET, (uint64_t)v->tsc_offset);
}

static bool vmx_vcpu_set_msr(struct vcpu_arch *v, uint32_t msr, uint64_t val)
{
	struct vmx_vcpu *x = v->backend;
	uint64_t *live = live_msr(x, msr);

	if (live) {
		*live = val;
		wrmsr(msr, val); /* on the vCPU's pCPU */
		return true;
	}
	switch (msr) {
	case MSR_EFER:
		if (x->shadow) {
			/* The hardware's follows the root's format, SCE the guest's (as on SVM: svm.c). */
			uint64_t entry = vmread(ENTRY_CONTROLS);
			bool lma = val & EFER_LMA;

			vmwrite(GUEST_IA32_EFER, EFER_NXE | (val & EFER_SCE) |
						 (lma ? EFER_LME | EFER_LMA : 0));
			vmwrite(ENTRY_CONTROLS, lma ? entry | ENTRY_IA32E_GUEST : entry & ~ENTRY_IA32E_GUEST);
			return true;
		}
		/* LMA stays what the mode makes it */
		vmwrite(GUEST_IA32_EFER, (val & ~(uint64_t)EFER_LMA) |
						 (vmread(GUEST_IA32_EFER) & EFER_LMA));
		return true;
	case MSR_PAT: vmwrite(GUEST_IA32_PAT, val); return true;
	case MSR_FS_BASE: vmwrite(GUEST_FS_BASE, val); return true;
	case MSR_GS_BASE: vmwrite(GUEST_GS_BASE, val); return true;
	case MSR_SYSENTER_CS: vmwrite(GUEST_SYSENTER_CS, val); return true;
	case MSR_SYSENTER_ESP: vmwrite(GUEST_SYSENTER_ESP, val); return true;
	case MSR_SYSENTER_EIP: vmwrite(GUEST_SYSENTER_EIP, val); return true;
	}
	return false;
}

/*
 * Interrupts for a PC guest (virt/pc_irq.c), on the vCPU's pCPU between
 * exits. Something is already queued when the VM-entry interruption
 * information is valid: an exception the core injected, or an event
 * whose delivery an exit cut short (exit.c queues it again; every exit
 * rewrites the field). An interrupt needs RFLAGS.IF (the core's value,
 * written at entry) and no STI or MOV SS shadow; an NMI no shadow and no
 * virtual-NMI blocking (from its delivery to the guest's IRET). These are
 * the VM-entry checks on an injected event (SDM vol. 3 26.3.1.5).
 */
static bool vmx_vcpu_can_inject(struct vcpu_arch *v, bool nmi)
{
	struct vmx_vcpu *x = v->backend;
	char err[128];
	uint32_t intr;

	if (!vmx_vcpu_load(v, x, err, sizeof(err)) || (vmread(ENTRY_INTR_INFO) & INTR_INFO_VALID))
		return false;
	intr = interruptibility_at_entry(v, x);
	if (nmi)
		return !(intr & (INTR_BLOCK_SHADOW | INTR_BLOCK_NMI));
	return (v->regs.rflags & RFLAGS_IF) && !(intr & INTR_BLOCK_SHADOW);
}

static void vmx_vcpu_inject_irq(struct vcpu_arch *v, unsigned int vector)
{
	(void)v;
	vmwrite(ENTRY_INTR_INFO, (vector & 0xff) | INTR_TYPE_EXT_INTR | INTR_INFO_VALID);
}

/* Its delivery sets virtual-NMI blocking, which the guest's IRET clears. */
static void vmx_vcpu_inject_nmi(struct vcpu_arch *v)
{
	(void)v;
	vmwrite(ENTRY_INTR_INFO, 2 | INTR_TYPE_NMI | INTR_INFO_VALID);
}

/*
 * The interrupt window exits (reason 7) before any instruction while
 * RFLAGS.IF is set and no STI or MOV SS shadow blocks; the NMI window
 * (reason 8) while no virtual-NMI or MOV SS blocking holds (SDM vol. 3
 * 25.2, "Other Causes of VM Exits"). Whether an STI shadow holds off the
 * NMI window is model-specific: where it does not, that exit would come
 * at once, over and over, with can_inject saying no. So an NMI held off
 * by an STI shadow alone waits for the interrupt window instead, which
 * comes after the next instruction (an STI shadow means IF is set).
 */
static void vmx_vcpu_request_window(struct vcpu_arch *v, bool irq, bool nmi)
{
	struct vmx_vcpu *x = v->backend;
	uint32_t proc = x->proc & ~(PROC_IRQ_WINDOW_EXITING | PROC_NMI_WINDOW_EXITING);
	char err[128];

	if (!x->pc || (!irq && !nmi && !x->loaded))
		return; /* vmx_vmcs_setup starts with neither */
	if (!vmx_vcpu_load(v, x, err, sizeof(err)))
		return;
	if (nmi && (interruptibility_at_entry(v, x) & (INTR_BLOCK_STI | INTR_BLOCK_NMI)) ==
			   INTR_BLOCK_STI) {
		nmi = false;
		irq = true;
	}
	proc |= (irq ? PROC_IRQ_WINDOW_EXITING : 0) | (nmi ? PROC_NMI_WINDOW_EXITING : 0);
	if (proc != x->proc) {
		x->proc = proc;
		vmwrite(PROC_BASED_CONTROLS, proc);
	}
}

/*
 * INIT, then SIPI (virt.h). Real mode needs unrestricted guest, which
 * only EPT brings; under mmu=shadow the hardware must page, and the core
 * emulates the real-mode start (virt/realmode.c) before it hands the
 * vCPU back with vmx_vcpu_load_pm_state: here only the rest is reset, the
 * segments left in a real-mode state no entry could take. CR0, CR4 and
 * EFER go through the same paths as the guest's own writes (the read
 * shadows hold CD|NW|ET and 0; VMX's fixed bits, NE and VMXE, and under
 * shadow PG, WP and PAE, stay set underneath), EFER 0 first so that long
 * mode goes off with them. PAT and the SYSENTER and SYSCALL MSRs are left
 * as they are (an AP that never ran still has vmx_vmcs_setup's reset
 * values); FS and GS bases go with their segments.
 */
static bool vmx_vcpu_reset_sipi(struct vcpu_arch *v, unsigned int vector, char *err, size_t len)
{
	struct vmx_vcpu *x = v->backend;

	if (!x->pc) {
		fmt_snprintf(err, len, "only a guest that starts in protected mode takes a SIPI");
		return false;
	}
	if (!vmx_vcpu_load(v, x, err, len))
		return false;
	if (x->shadow)
		vmx_vcpu_set_msr(v, MSR_EFER, 0);
	else
		vmwrite(GUEST_IA32_EFER, 0);
	vmx_vcpu_set_cr(v, 0, CR0_CD | CR0_NW | CR0_ET);
	vmx_vcpu_set_cr(v, 4, 0);
	if (!x->shadow)
		vmwrite(GUEST_CR3, 0); /* under shadow paging the root, at each entry */
	if (!vmx_vmcs_write_init_state(vector)) {
		fmt_snprintf(err, len, "cannot write the INIT state into the VMCS (VM-instruction error %lu)",
			     (unsigned long)vmread(VM_INSTRUCTION_ERROR));
		return false;
	}
	x->exit_rip = 0;
	vmx_vcpu_request_window(v, false, false);
	return true;
}

/*
 * The end of an emulated real-mode start (virt.h): EFER, then CR4, then
 * CR0 (pc_set_cr0 derives LMA from EFER.LME), through the guest's own
 * paths; the segments, GDTR and IDTR as they are. Under shadow paging
 * GUEST_CR3 is the root, written at each entry.
 */
static bool vmx_vcpu_load_pm_state(struct vcpu_arch *v, const struct vcpu_pm_state *s, char *err,
				   size_t len)
{
	struct vmx_vcpu *x = v->backend;

	if (!vmx_vcpu_load(v, x, err, len))
		return false;
	vmx_vcpu_set_msr(v, MSR_EFER, s->efer);
	vmx_vcpu_set_cr(v, 4, s->cr4);
	vmx_vcpu_set_cr(v, 0, s->cr0);
	if (!x->shadow)
		vmwrite(GUEST_CR3, s->cr3);
	if (!vmx_vmcs_write_pm_segments(s)) {
		fmt_snprintf(err, len, "cannot write the protected-mode segments into the VMCS (VM-instruction error %lu)",
			     (unsigned long)vmread(VM_INSTRUCTION_ERROR));
		return false;
	}
	return true;
}

const struct virt_ops vmx_ops = {
	.name = "vmx",
	.probe = vmx_probe,
	.cpu_enable = vmx_cpu_enable,
	.vcpu_init = vmx_vcpu_init,
	.vcpu_free = vmx_vcpu_free,
	.vcpu_run = vmx_vcpu_run,
	.vcpu_flush_tlb = vmx_vcpu_flush_tlb,
	.vcpu_inject_exception = vmx_vcpu_inject_exception,
	.vcpu_inject_page_fault = vmx_vcpu_inject_page_fault,
	.vcpu_set_cr = vmx_vcpu_set_cr,
	.vcpu_seg_base = vmx_vcpu_seg_base,
	.vcpu_get_state = vmx_vcpu_get_state,
	.vcpu_get_msr = vmx_vcpu_get_msr,
	.vcpu_set_msr = vmx_vcpu_set_msr,
	.vcpu_set_tsc_offset = vmx_vcpu_set_tsc_offset,
	.vcpu_can_inject = vmx_vcpu_can_inject,
	.vcpu_inject_irq = vmx_vcpu_inject_irq,
	.vcpu_inject_nmi = vmx_vcpu_inject_nmi,
	.vcpu_request_window = vmx_vcpu_request_window,
	.vcpu_reset_sipi = vmx_vcpu_reset_sipi,
	.vcpu_load_pm_state = vmx_vcpu_load_pm_state,
	.vcpu_unload = vmx_vcpu_unload,
	.vcpu_switch = vmx_vcpu_switch,
};
