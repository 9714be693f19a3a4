// SPDX-License-Identifier: MIT
/*
 * Writing a vCPU's VMCS, on its own pCPU (VMPTRLD makes it current there;
 * the host-state fields name that pCPU's GDT, TSS and per-CPU area). The
 * guest starts in 64-bit mode with the layout of virt/guest_abi.h.
 */
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/gdt.h"
#include "arch/x86/percpu.h"
#include "arch/x86/vmx/vmx.h"
#include "lib/printf.h"

#define CR4_VMXE (1ull << 13)
#define AR_CODE64 0xa09b  /* type 11, S, P, L, G */
#define AR_DATA 0xc093    /* type 3, S, P, D/B, G */
#define AR_TSS64_BUSY 0x8b
#define AR_UNUSABLE (1u << 16)

extern char vmx_exit_point[];
extern char isr_stubs[];

struct table_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static uint64_t idt_base(void)
{
	struct table_ptr p;

	asm volatile("sidt %0" : "=m"(p));
	return p.base;
}

/* 0 into each of fields, in order: state and counts that start empty. */
static bool vmwrite_zeros(const uint32_t *fields, size_t n)
{
	bool ok = true;

	for (size_t i = 0; i < n; i++)
		ok &= vmwrite(fields[i], 0);
	return ok;
}

static bool write_host_state(struct percpu *pc)
{
	bool ok = true;

	ok &= vmwrite(HOST_CR0, read_cr0());
	ok &= vmwrite(HOST_CR3, read_cr3());
	ok &= vmwrite(HOST_CR4, read_cr4());
	ok &= vmwrite(HOST_CS_SEL, KERNEL_CS);
	ok &= vmwrite(HOST_SS_SEL, KERNEL_DS);
	ok &= vmwrite(HOST_DS_SEL, KERNEL_DS);
	ok &= vmwrite(HOST_ES_SEL, KERNEL_DS);
	ok &= vmwrite(HOST_FS_SEL, 0);
	ok &= vmwrite(HOST_GS_SEL, 0);
	ok &= vmwrite(HOST_TR_SEL, TSS_SEL);
	ok &= vmwrite(HOST_FS_BASE, 0);
	ok &= vmwrite(HOST_GS_BASE, (uint64_t)pc); /* this_cpu() after every exit */
	ok &= vmwrite(HOST_TR_BASE, (uint64_t)&pc->tss);
	ok &= vmwrite(HOST_GDTR_BASE, (uint64_t)pc->gdt.entries);
	ok &= vmwrite(HOST_IDTR_BASE, idt_base());
	ok &= vmwrite(HOST_SYSENTER_CS, 0);
	ok &= vmwrite(HOST_SYSENTER_ESP, 0);
	ok &= vmwrite(HOST_SYSENTER_EIP, 0);
	ok &= vmwrite(HOST_IA32_EFER, rdmsr(MSR_EFER));
	ok &= vmwrite(HOST_IA32_PAT, rdmsr(MSR_PAT));
	ok &= vmwrite(HOST_RIP, (uint64_t)vmx_exit_point);
	return ok;
}

static bool write_segment(unsigned int i, uint16_t sel, uint32_t ar, uint32_t limit)
{
	/* The selector, limit, AR and base fields of ES..TR are 2 apart, in this order. */
	return vmwrite(GUEST_ES_SEL + 2 * i, sel) && vmwrite(GUEST_ES_LIMIT + 2 * i, limit) &&
	       vmwrite(GUEST_ES_AR + 2 * i, ar) && vmwrite(GUEST_ES_BASE + 2 * i, 0);
}

/* No SYSENTER, nothing blocking interrupts, active, no debug exception pending. */
static const uint32_t zero_guest_fields[] = {
	GUEST_SYSENTER_CS, GUEST_SYSENTER_ESP, GUEST_SYSENTER_EIP,
	GUEST_INTERRUPTIBILITY, GUEST_ACTIVITY_STATE, GUEST_PENDING_DEBUG,
};

#define AR_CODE32 0xc09b  /* type 11, S, P, D/B, G */
#define AR_TSS32_BUSY 0x8b
#define AR_REAL_CODE 0x9b /* type 11, S, P: 16-bit, byte-granular */
#define AR_REAL_DATA 0x93 /* type 3, S, P */
#define AR_LDT 0x82       /* type 2, P */

/*
 * VCPU_START_PROTECTED: 32-bit protected mode, paging off (unrestricted
 * guest), flat segments, no IDT. CR0.NE is ours (VMX needs it set): the
 * guest reads what it last wrote, PE and ET to start with.
 */
static bool write_pc_guest_state(const struct vcpu_arch *v)
{
	const struct vmx_config *c = &vmx_config;
	bool shadow = v->shadow;
	uint16_t cs = v->start_cs ? v->start_cs : 0x08, ds = v->start_ds ? v->start_ds : 0x10;
	uint64_t cr0 = ((CR0_PE | CR0_ET) | (c->cr0_fixed0 & ~(CR0_PE | CR0_PG))) & c->cr0_fixed1;
	uint64_t cr0_host = ((c->cr0_fixed0 & ~(CR0_PE | CR0_PG)) | ~c->cr0_fixed1) & 0xffffffffull;
	uint64_t cr4 = (CR4_VMXE | c->cr4_fixed0) & c->cr4_fixed1;
	uint64_t cr4_host = CR4_VMXE | c->cr4_fixed0 | ~c->cr4_fixed1;
	bool ok = true;

	/*
	 * Under shadow paging (no unrestricted guest) the hardware always
	 * pages, PAE-format roots until the guest enters long mode, with WP;
	 * PE, PG, WP and every CR4 bit are ours, read from the shadows.
	 */
	if (shadow) {
		cr0 = ((cr0 | CR0_PG | CR0_WP) | c->cr0_fixed0) & c->cr0_fixed1;
		cr0_host |= CR0_PE | CR0_PG | CR0_WP;
		cr4 = ((cr4 | CR4_PAE) | c->cr4_fixed0) & c->cr4_fixed1;
		cr4_host = ~0ull;
	}

	for (unsigned int i = 0; i < 6; i++) /* ES CS SS DS FS GS */
		ok &= write_segment(i, i == 1 ? cs : ds, i == 1 ? AR_CODE32 : AR_DATA, 0xffffffff);
	ok &= write_segment(6, 0, AR_UNUSABLE, 0);         /* LDTR */
	ok &= write_segment(7, 0, AR_TSS32_BUSY, 0x67);    /* TR */
	ok &= vmwrite(GUEST_GDTR_BASE, v->start_gdt_base);
	ok &= vmwrite(GUEST_GDTR_LIMIT, v->start_gdt_limit);
	ok &= vmwrite(GUEST_IDTR_BASE, 0);
	ok &= vmwrite(GUEST_IDTR_LIMIT, 0);
	ok &= vmwrite(GUEST_CR0, cr0);
	ok &= vmwrite(CR0_GUEST_HOST_MASK, cr0_host);
	ok &= vmwrite(CR0_READ_SHADOW, CR0_PE | CR0_ET);
	ok &= vmwrite(GUEST_CR3, 0);
	ok &= vmwrite(GUEST_CR4, cr4);
	ok &= vmwrite(CR4_GUEST_HOST_MASK, cr4_host);
	ok &= vmwrite(CR4_READ_SHADOW, 0);
	ok &= vmwrite(GUEST_DR7, 0x400);
	ok &= vmwrite(GUEST_IA32_EFER, shadow ? EFER_NXE : 0); /* shadow entries use NX */
	ok &= vmwrite(GUEST_IA32_PAT, 0x0007040600070406ull);
	ok &= vmwrite_zeros(zero_guest_fields, ARRAY_SIZE(zero_guest_fields));
	ok &= vmwrite(VMCS_LINK_POINTER, ~0ull);
	return ok;
}

static bool write_guest_state(const struct vcpu_arch *v)
{
	const struct vmx_config *c = &vmx_config;
	uint64_t cr0 = ((CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG) | c->cr0_fixed0) &
		       c->cr0_fixed1;
	uint64_t cr4 = ((CR4_PAE | CR4_VMXE) | c->cr4_fixed0) & c->cr4_fixed1;
	bool ok = true;

	for (unsigned int i = 0; i < 6; i++) /* ES CS SS DS FS GS */
		ok &= write_segment(i, i == 1 ? 0x08 : 0x10, i == 1 ? AR_CODE64 : AR_DATA,
				    0xffffffff);
	ok &= write_segment(6, 0, AR_UNUSABLE, 0);         /* LDTR */
	ok &= write_segment(7, 0, AR_TSS64_BUSY, 0x67);    /* TR */
	ok &= vmwrite(GUEST_GDTR_BASE, v->boot_gdt_base);
	ok &= vmwrite(GUEST_GDTR_LIMIT, 3 * 8 - 1);
	ok &= vmwrite(GUEST_IDTR_BASE, 0);
	ok &= vmwrite(GUEST_IDTR_LIMIT, 0); /* no IDT: exceptions end in #DF (intercepted) */
	ok &= vmwrite(GUEST_CR0, cr0);
	ok &= vmwrite(GUEST_CR3, v->boot_cr3);
	ok &= vmwrite(GUEST_CR4, cr4);
	/*
	 * The guest sees CR4.VMXE clear: it owns no VMX. Under mmu=shadow every
	 * CR4 bit is ours: SMEP and SMAP are part of the shadow roots' role, and
	 * virt/shadow_exits.c checks each change.
	 */
	ok &= vmwrite(CR4_GUEST_HOST_MASK, v->shadow ? ~0ull : CR4_VMXE);
	ok &= vmwrite(CR4_READ_SHADOW, cr4 & ~CR4_VMXE);
	/* Under mmu=shadow the hardware CR0.WP/PG/PE stay ours: a guest write exits. */
	ok &= vmwrite(CR0_GUEST_HOST_MASK, v->shadow ? CR0_WP | CR0_PG | CR0_PE : 0);
	ok &= vmwrite(CR0_READ_SHADOW, cr0);
	ok &= vmwrite(GUEST_DR7, 0x400);
	/* Shadow entries use NX: the hardware EFER.NXE is on whatever the guest's. */
	ok &= vmwrite(GUEST_IA32_EFER, EFER_LME | EFER_LMA | (v->shadow ? EFER_NXE : 0));
	ok &= vmwrite(GUEST_IA32_PAT, 0x0007040600070406ull);
	ok &= vmwrite_zeros(zero_guest_fields, ARRAY_SIZE(zero_guest_fields));
	ok &= vmwrite(VMCS_LINK_POINTER, ~0ull);
	return ok;
}

/* No #PF filter, CR3 targets, MSR lists or event to inject. */
static const uint32_t zero_control_fields[] = {
	PF_ERROR_MASK, PF_ERROR_MATCH, CR3_TARGET_COUNT, EXIT_MSR_STORE_COUNT,
	EXIT_MSR_LOAD_COUNT, ENTRY_MSR_LOAD_COUNT, ENTRY_INTR_INFO,
};

/*
 * PAUSE-loop exiting for a vCPU that shares its pCPU: PAUSEs less than
 * PLE_GAP_TSC apart for PLE_WINDOW_TSC make the guest exit (KVM's defaults).
 */
#define PLE_GAP_TSC 128
#define PLE_WINDOW_TSC 4096

static bool write_controls(const struct vcpu_arch *v, struct vmx_vcpu *x)
{
	uint32_t proc2_ple = v->pause_exits && virt_caps.pause_exiting ? PROC2_PAUSE_LOOP_EXITING : 0;
	const struct vmx_config *c = &vmx_config;
	bool ok = true;

	/* A PC guest's NMIs are virtual: the CPU blocks them from delivery to the guest's IRET. */
	ok &= vmwrite(PIN_BASED_CONTROLS, x->pc ? c->pin_pc : c->pin);
	/* No interrupt or NMI window yet: vcpu_request_window adds them to x->proc. */
	x->proc = x->pc ? (x->shadow ? c->proc_pc_shadow : c->proc_pc)
		: x->shadow ? c->proc_shadow : c->proc;
	ok &= vmwrite(PROC_BASED_CONTROLS, x->proc);
	ok &= vmwrite(SECONDARY_CONTROLS, (x->pc ? (x->shadow ? c->proc2_pc_shadow : c->proc2_pc)
					   : x->shadow ? c->proc2_shadow : c->proc2) | proc2_ple);
	if (proc2_ple) {
		ok &= vmwrite(PLE_GAP, PLE_GAP_TSC);
		ok &= vmwrite(PLE_WINDOW, PLE_WINDOW_TSC);
	}
	ok &= vmwrite(EXIT_CONTROLS, c->exit);
	ok &= vmwrite(ENTRY_CONTROLS, x->pc ? c->entry_pc : c->entry);
	/*
	 * #DF: a synthetic guest's unhandled exceptions end there; #PF: ours
	 * under mmu=shadow. A PC guest owns all of its exceptions.
	 */
	ok &= vmwrite(EXCEPTION_BITMAP, (x->pc ? 0 : 1u << 8) | (x->shadow ? 1u << 14 : 0));
	ok &= vmwrite_zeros(zero_control_fields, ARRAY_SIZE(zero_control_fields));
	if (!x->shadow)
		ok &= vmwrite(EPT_POINTER, x->eptp);
	ok &= vmwrite(VPID, x->vpid);
	return ok;
}

bool vmx_vmcs_setup(struct vcpu_arch *v, struct vmx_vcpu *x, char *err, size_t len)
{
	bool fail;

	asm volatile("vmclear %1" : "=@ccbe"(fail) : "m"(x->vmcs_pa) : "memory");
	if (!fail)
		asm volatile("vmptrld %1" : "=@ccbe"(fail) : "m"(x->vmcs_pa) : "memory");
	if (fail || !write_host_state(this_cpu()) ||
	    !(x->pc ? write_pc_guest_state(v) : write_guest_state(v)) || !write_controls(v, x) ||
	    !vmwrite(TSC_OFFSET, (uint64_t)v->tsc_offset)) {
		fmt_snprintf(err, len, "cannot load or write vcpu %u's VMCS (VM-instruction error %lu)",
			     v->vcpu_id, (unsigned long)vmread(VM_INSTRUCTION_ERROR));
		kprintf("vm %u: vcpu %u: %s\n", v->vm_id, v->vcpu_id, err);
		return false;
	}
	x->loaded = true;
	x->gprs.launched = 0;
	return true;
}

/*
 * The state INIT leaves in an AP (SDM vol. 3 table 10-1, "IA-32 and Intel 64
 * Processor States Following Power-up, Reset, or INIT"), and the start-up
 * IPI's CS:IP = vector << 8 : 0: real mode, 64 KiB segments, no event
 * pending or blocked. CR0, CR3, CR4 and EFER are vmx.c's (vmx_vcpu_reset_sipi),
 * RIP, RSP, RFLAGS the core's. Unrestricted guest runs it as it stands.
 */
bool vmx_vmcs_write_init_state(unsigned int sipi_vector)
{
	bool ok = true;

	for (unsigned int i = 0; i < 6; i++) /* ES CS SS DS FS GS: selector and base 0 */
		ok &= write_segment(i, 0, AR_REAL_DATA, 0xffff);
	ok &= vmwrite(GUEST_CS_SEL, (sipi_vector & 0xff) << 8);
	ok &= vmwrite(GUEST_CS_BASE, (uint64_t)(sipi_vector & 0xff) << 12);
	ok &= vmwrite(GUEST_CS_AR, AR_REAL_CODE);
	ok &= write_segment(6, 0, AR_LDT, 0xffff);         /* LDTR */
	ok &= write_segment(7, 0, AR_TSS32_BUSY, 0xffff);  /* TR */
	ok &= vmwrite(GUEST_GDTR_BASE, 0);
	ok &= vmwrite(GUEST_GDTR_LIMIT, 0xffff);
	ok &= vmwrite(GUEST_IDTR_BASE, 0);
	ok &= vmwrite(GUEST_IDTR_LIMIT, 0xffff);
	ok &= vmwrite(GUEST_DR7, 0x400);
	/* Not blocked by STI, MOV SS or an NMI; active; no #DB or event pending. */
	ok &= vmwrite(GUEST_INTERRUPTIBILITY, 0);
	ok &= vmwrite(GUEST_ACTIVITY_STATE, 0);
	ok &= vmwrite(GUEST_PENDING_DEBUG, 0);
	ok &= vmwrite(ENTRY_INTR_INFO, 0);
	return ok;
}

/*
 * ES..GS, GDTR and IDTR from a protected-mode state (vmx_vcpu_load_pm_state);
 * struct vcpu_seg's access rights are the VMCS's format. LDTR and TR stay
 * as vmx_vmcs_write_init_state left them.
 */
bool vmx_vmcs_write_pm_segments(const struct vcpu_pm_state *s)
{
	bool ok = true;

	for (unsigned int i = 0; i < 6; i++) {
		const struct vcpu_seg *g = &s->seg[i];

		ok &= vmwrite(GUEST_ES_SEL + 2 * i, g->sel) && vmwrite(GUEST_ES_LIMIT + 2 * i, g->limit) &&
		      vmwrite(GUEST_ES_AR + 2 * i, g->ar) && vmwrite(GUEST_ES_BASE + 2 * i, g->base);
	}
	ok &= vmwrite(GUEST_GDTR_BASE, s->gdtr.base);
	ok &= vmwrite(GUEST_GDTR_LIMIT, s->gdtr.limit);
	ok &= vmwrite(GUEST_IDTR_BASE, s->idtr.base);
	ok &= vmwrite(GUEST_IDTR_LIMIT, s->idtr.limit);
	return ok;
}

static const char *const instruction_errors[] = {
	[2] = "VMCALL in VMX root operation", [3] = "VMCLEAR with invalid address",
	[7] = "VM entry with invalid control fields",
	[8] = "VM entry with invalid host-state fields",
	[9] = "VMPTRLD with invalid address", [12] = "VMREAD/VMWRITE of an unsupported field",
	[13] = "VMWRITE to a read-only field", [26] = "VM entry with events blocked by MOV SS",
	[28] = "invalid operand to INVEPT/INVVPID",
};

/* Print what the CPU refused, and the fields most often at fault. */
void vmx_report_entry_failure(struct vcpu_arch *v, bool vmfail)
{
	uint64_t code = vmfail ? vmread(VM_INSTRUCTION_ERROR) : vmread(EXIT_REASON) & 0xffff;
	const char *why = vmfail && code < sizeof(instruction_errors) / sizeof(instruction_errors[0]) &&
				  instruction_errors[code]
			  ? instruction_errors[code]
			  : vmfail ? "see the SDM's VM-instruction error list"
				   : code == VMX_EXIT_INVALID_GUEST_STATE ? "invalid guest state"
									  : "MSR loading";

	kprintf("vm %u: vcpu %u: VM entry failed: %s %lu (%s); exit qualification 0x%lx\n",
		v->vm_id, v->vcpu_id, vmfail ? "VM-instruction error" : "exit reason",
		(unsigned long)code, why, (unsigned long)vmread(EXIT_QUALIFICATION));
	kprintf("vm %u: vcpu %u: guest CR0=0x%lx CR4=0x%lx EFER=0x%lx CS AR=0x%lx RIP=0x%lx RFLAGS=0x%lx; controls pin=0x%lx proc=0x%lx proc2=0x%lx entry=0x%lx exit=0x%lx EPTP=0x%lx\n",
		v->vm_id, v->vcpu_id, (unsigned long)vmread(GUEST_CR0), (unsigned long)vmread(GUEST_CR4),
		(unsigned long)vmread(GUEST_IA32_EFER), (unsigned long)vmread(GUEST_CS_AR),
		(unsigned long)vmread(GUEST_RIP), (unsigned long)vmread(GUEST_RFLAGS),
		(unsigned long)vmread(PIN_BASED_CONTROLS), (unsigned long)vmread(PROC_BASED_CONTROLS),
		(unsigned long)vmread(SECONDARY_CONTROLS), (unsigned long)vmread(ENTRY_CONTROLS),
		(unsigned long)vmread(EXIT_CONTROLS), (unsigned long)vmread(EPT_POINTER));
}
