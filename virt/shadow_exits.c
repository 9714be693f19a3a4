// SPDX-License-Identifier: MIT
/*
 * The exits that shadow paging (mmu=shadow) adds: the guest's #PF and
 * INVLPG here; its control registers in virt/cr.c; the page-table
 * stores that must be emulated in virt/shadow_emulate.c. The hardware CR3
 * holds the shadow root, and a change of root flushes the vCPU's TLB
 * (ASIDs and VPIDs tag entries without the CR3).
 */
#include "arch/x86/cpu.h"
#include "mm/shadow/walker.h"
#include "virt/cr.h"
#include "virt/emulate.h"
#include "virt/pc.h"
#include "virt/shadow_emulate.h"
#include "virt/shadow_exits.h"
#include "virt/vcpu.h"

#define RFLAGS_AC (1ull << 18)

struct guest_paging vcpu_guest_paging(const struct vcpu *v)
{
	struct guest_paging gp = {
		.mode = guest_paging_mode_of(v->guest_cr0, v->guest_cr4, v->guest_efer),
		.pse = v->guest_cr4 & CR4_PSE,
		.cr3 = v->guest_cr3,
		.wp = v->guest_cr0 & CR0_WP,
		.nx = v->guest_efer & EFER_NXE,
		.smep = v->guest_cr4 & CR4_SMEP,
		.smap = v->guest_cr4 & CR4_SMAP,
		.ac = v->arch.regs.rflags & RFLAGS_AC,
		.cpl = 0,
	};

	/*
	 * PAE paging: the 4 PDPTEs as the CPU would have loaded them, read at
	 * each root load (the CPU reads them at MOV CR3 and at the paging-mode
	 * switches; a guest that edits them without reloading CR3 sees the new
	 * ones here a little early).
	 */
	if (gp.mode == GUEST_PAGING_PAE) {
		const uint64_t *p = vm_gpa_to_hva(v->vm, gp.cr3 & 0xffffffe0ull, 32);

		for (unsigned int i = 0; p && i < 4; i++)
			gp.pdpte[i] = __atomic_load_n(&p[i], __ATOMIC_RELAXED);
		gp.pdptes_loaded = p != NULL;
	}
	return gp;
}

/* shadow_prepare_entry() when the root is new, or there is none yet. */
bool shadow_prepare_entry_slow(struct vcpu *v)
{
	uint64_t root = shadow_vcpu_root_pa(v->shadow);

	if (!root) { /* the paging state is read only when a root must be made: not every entry */
		struct guest_paging gp = vcpu_guest_paging(v);

		root = shadow_mmu_load_cr3(v->vm->smmu, v->shadow, &gp);
	}
	if (!root) {
		vcpu_fail(v, "out of memory for a shadow root");
		return false;
	}
	if (root != v->entered_hw_cr3) {
		virt->vcpu_flush_tlb(&v->arch); /* the TLB is tagged by ASID/VPID, not by CR3 */
		v->entered_hw_cr3 = root;
	}
	v->arch.hw_cr3 = root;
	return true;
}

/*
 * A write that faults again and again at the same RIP and address, though
 * each fault was fixed: the store hits a guest table that the path of the
 * code (or of the stack) needs shadowed, so the fix for the one undoes the
 * fix for the other. E.g. with PML4[300] = the PML4, a MOV through
 * va(300, 300, 300, 0) to the PDPT that maps the code: the write fault
 * unprotects the PDPT, the next fetch shadows it again, and the write
 * faults again. After WRITE_RETRIES such faults the store is emulated
 * (KVM's retry-then-emulate); emulation is right for any store.
 *
 * The faults are counted per RIP and address, not in a row: on a slow
 * machine (Bochs, its clock counting instructions) Linux's tick came
 * between every few retries of set_memory_nx's store to the page table
 * that maps the kernel, and the handler's own faults on pages that table
 * maps reset a count kept in a row: the store never ran (a soft lockup).
 */
#define WRITE_RETRIES 4

static bool write_keeps_faulting(struct vcpu *v)
{
	const struct vcpu_exit *e = &v->arch.exit;
	uint64_t rip = v->arch.regs.rip;
	unsigned int n = ARRAY_SIZE(v->write_faults), i;

	if (!(e->error & PFERR_WRITE))
		return false; /* a fetch or read in between: same instruction, keep counting */
#pragma GCC unroll 4
	for (i = 0; i < n; i++)
		if (v->write_faults[i].rip == rip && v->write_faults[i].gva == e->gva)
			break;
	if (i == n) {
		i = v->write_faults_next++ % n;
		v->write_faults[i].rip = rip;
		v->write_faults[i].gva = e->gva;
		v->write_faults[i].count = 0;
	}
	if (++v->write_faults[i].count <= WRITE_RETRIES)
		return false;
	v->write_faults[i].count = 0;
	return true;
}

/* The instruction at RIP completed (emulated): its faults so far are no loop. */
static void write_done(struct vcpu *v)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(v->write_faults); i++)
		if (v->write_faults[i].rip == v->arch.regs.rip)
			v->write_faults[i].count = 0;
}

/*
 * A #PF the guest must see. If it came while the CPU delivered another
 * exception, the two combine as on a CPU (SDM Vol. 3A, Table 6-5): a #PF
 * while delivering a #PF is a double fault, and a fault while delivering
 * a double fault a triple fault. A contributory exception first and a #PF
 * second are delivered one after the other. #DF is intercepted (guests
 * have no handler for it), so a double fault ends the guest here just as
 * the hardware's intercept does under mmu=tdp; injected again and again,
 * an undeliverable #PF looped for ever.
 */
static void inject_page_fault(struct vcpu *v, uint32_t error)
{
	const struct vcpu_exit *e = &v->arch.exit;
	unsigned int first = e->vectoring & 0xff;

	if ((e->vectoring & VECTORING_VALID) &&
	    (e->vectoring & (7u << 8)) == VECTORING_TYPE_EXCEPTION && (first == 14 || first == 8)) {
		vcpu_fail(v, "%s at rip 0x%lx: a #PF (cr2 0x%lx) while delivering a %s",
			  first == 14 ? "double fault" : "triple fault",
			  (unsigned long)v->arch.regs.rip, (unsigned long)e->gva,
			  first == 14 ? "#PF" : "double fault");
		return;
	}
	virt->vcpu_inject_page_fault(&v->arch, e->gva, error);
}

/*
 * A fault on a gva whose guest translation leads to no RAM, or a write to
 * read-only memory: a PC guest's device registers or ROM area
 * (pc_mmio_exit), anything else a wild access that stops the guest.
 */
static void pc_device_access(struct vcpu *v, bool readonly)
{
	const struct vcpu_exit *e = &v->arch.exit;
	uint64_t gpa;

	if (v->vm->cfg.pc && shadow_translate_guest(v, e->gva, e->error & (PFERR_WRITE | PFERR_FETCH),
						   &gpa)) {
		/*
		 * Emulated, so the instruction is done: the same store at
		 * the same RIP next is a loop over a device register, not
		 * a store that keeps faulting (write_keeps_faulting).
		 */
		write_done(v);
		pc_mmio_exit(v, gpa, readonly);
		return;
	}
	if (readonly)
		vcpu_fail(v, "write to read-only memory at gva 0x%lx", (unsigned long)e->gva);
	else
		vcpu_fail(v, "wild access: gva 0x%lx translates outside guest memory (rip 0x%lx)",
			  (unsigned long)e->gva, (unsigned long)v->arch.regs.rip);
}

/*
 * The paging state for a #PF: made again only when CR0, CR3, CR4 or EFER
 * differ from the last fault's (compared, not tracked: they have many
 * writers), and always for PAE paging, whose PDPTEs come from guest memory.
 * RFLAGS.AC is the fault's own.
 */
static const struct guest_paging *fault_paging(struct vcpu *v)
{
	struct fault_paging *c = &v->fault_paging;

	if (!c->valid || c->cr0 != v->guest_cr0 || c->cr3 != v->guest_cr3 ||
	    c->cr4 != v->guest_cr4 || c->efer != v->guest_efer || c->gp.mode == GUEST_PAGING_PAE) {
		c->gp = vcpu_guest_paging(v);
		c->cr0 = v->guest_cr0;
		c->cr3 = v->guest_cr3;
		c->cr4 = v->guest_cr4;
		c->efer = v->guest_efer;
		c->valid = true;
	}
	c->gp.ac = v->arch.regs.rflags & RFLAGS_AC;
	return &c->gp;
}

void shadow_handle_guest_pf(struct vcpu *v)
{
	const struct guest_paging *gp = fault_paging(v);
	uint32_t inject = 0;
	const struct vcpu_exit *e = &v->arch.exit;

	v->stats.tdp_faults++;
	if (write_keeps_faulting(v)) {
		v->stats.write_retries_emulated++;
		shadow_emulate_write(v, NULL);
		return;
	}
	struct shadow_emulate_frame emulate;
	enum shadow_fault_result r = shadow_mmu_page_fault(v->vm->smmu, v->shadow, gp, e->gva,
							   e->error, &inject, &emulate);

	switch (r) {
	case SHADOW_FIXED:
		break;
	case SHADOW_RETRY:
		v->stats.tdp_retries++;
		break;
	case SHADOW_INJECT_PF:
		inject_page_fault(v, inject);
		break;
	case SHADOW_NO_SLOT:
	case SHADOW_READONLY:
		pc_device_access(v, r == SHADOW_READONLY);
		break;
	case SHADOW_NOMEM:
		vcpu_fail(v, "out of memory for shadow pages at gva 0x%lx", (unsigned long)e->gva);
		break;
	case SHADOW_EMULATE:
		shadow_emulate_write(v, &emulate);
		break;
	}
}

/*
 * SVM without decode assists says neither INVLPG's address nor (without
 * NRIP save) its length: decode them from the bytes at RIP. False, after
 * stopping the VM, if the length stays unknown (an unknown address only
 * leaves the shadow entries to the TLB flush).
 */
static bool decode_invlpg(struct vcpu *v)
{
	struct vcpu_exit *e = &v->arch.exit;
	uint8_t b[EMU_MAX_INSN];
	struct emu_sys_insn in;
	struct vcpu_state st;
	const char *err;
	char why[96];

	vcpu_sync_guest_state(v, &st);
	err = emu_decode_sys(b, vcpu_fetch_insn(v, b, sizeof(b)), st.code_bits, &in, why, sizeof(why));
	if (!err && in.op != EMU_SYS_INVLPG)
		err = "not INVLPG";
	if (err) {
		if (e->insn_len)
			return true;
		vcpu_fail(v, "cannot decode the INVLPG at rip 0x%lx: %s", (unsigned long)v->arch.regs.rip,
			  err);
		return false;
	}
	if (!e->insn_len)
		e->insn_len = in.len;
	if (!e->gva_known) {
		e->gva = vcpu_operand_address(v, &st, &in.mem, v->arch.regs.rip + in.len);
		e->gva_known = true;
	}
	return true;
}

void shadow_handle_invlpg(struct vcpu *v)
{
	struct vcpu_exit *e = &v->arch.exit;

	if ((!e->insn_len || !e->gva_known) && !decode_invlpg(v))
		return;
	/*
	 * Write protection keeps every shadow page in step with its guest
	 * table, so INVLPG changes no shadow entry of ours; what it must drop
	 * is the TLB's copy, and the whole vCPU TLB goes.
	 */
	if (e->gva_known)
		shadow_mmu_invlpg(v->vm->smmu, v->shadow, e->gva);
	virt->vcpu_flush_tlb(&v->arch);
	v->arch.regs.rip += e->insn_len;
}
