// SPDX-License-Identifier: MIT
/*
 * The guest's control registers, where their accesses exit: under shadow
 * paging CR0, CR3 and CR4 (they live in the vCPU); under TDP the CR0 writes
 * SVM intercepts (Bochs' Ryzen model checks none of them itself) and the
 * CR4.VMXE that VMX keeps; CR8 on VMX. Each write is checked as the CPU
 * checks it in 64-bit mode, the only mode a guest starts in today (and one
 * it cannot leave: clearing CR0.PG there is #GP).
 *
 * Under shadow paging the hardware keeps CR0.WP set whatever the guest's
 * (the shadow MMU emulates WP = 0), and CR0.WP, CR4.SMEP and CR4.SMAP pick
 * the root's role, so a change of them loads another root.
 */
#include "arch/x86/cpu.h"
#include "virt/cpuid.h"
#include "virt/cr.h"
#include "virt/dev/dev.h"
#include "virt/emulate.h"
#include "virt/shadow_emulate.h"
#include "virt/shadow_exits.h"
#include "virt/vcpu.h"

/* After a change of CR3 or of the paging controls: the root for them, and a TLB flush. */
bool vcpu_reload_shadow_root(struct vcpu *v)
{
	struct guest_paging gp = vcpu_guest_paging(v);

	if (!shadow_mmu_load_cr3(v->vm->smmu, v->shadow, &gp)) {
		vcpu_fail(v, "no shadow root for CR3 0x%lx: out of memory (or, for a PAE-format root, of memory below 4 GiB)",
			  (unsigned long)v->guest_cr3);
		return false;
	}
	virt->vcpu_flush_tlb(&v->arch);
	return true;
}

/*
 * Under TDP the guest's control registers change without exits (all of
 * them on VMX but CR0.NE, CR4.VMXE and CR8): read them from the backend
 * before a check uses them. Under shadow paging the vCPU's copies are the
 * truth.
 */
void vcpu_sync_guest_state(struct vcpu *v, struct vcpu_state *st)
{
	virt->vcpu_get_state(&v->arch, st);
	if (v->shadow)
		return;
	v->guest_cr0 = st->cr0;
	v->guest_cr3 = st->cr3;
	v->guest_cr4 = st->cr4;
	v->guest_efer = st->efer;
}

/*
 * MOV to CR0. #GP(0) where the architecture says so: bits 63:32, PG
 * without PE, NW without CD, paging on with EFER.LME but without CR4.PAE,
 * paging off in 64-bit mode. Otherwise the guest gets its value (and, with
 * EFER.LME, the backend switches long mode). Under shadow paging the
 * hardware keeps WP, and a change of WP changes the role of the shadow
 * pages the guest may use. Returns false if it injected #GP.
 */
static bool guest_write_cr0(struct vcpu *v, const struct vcpu_state *st, uint64_t val)
{
	uint64_t old = v->guest_cr0;

	if ((val >> 32) || ((val & CR0_PG) && !(val & CR0_PE)) ||
	    ((val & CR0_NW) && !(val & CR0_CD)))
		return false;
	if ((val & CR0_PG) && !(old & CR0_PG) && (v->guest_efer & EFER_LME) &&
	    !(v->guest_cr4 & CR4_PAE))
		return false;
	if (!(val & CR0_PG) && st->code_bits == 64)
		return false;
	if (v->shadow && !(val & CR0_PE) && !virt_caps.shadow_real_mode) {
		/* VMX without unrestricted guest cannot run real mode for it. */
		vcpu_fail(v, "the guest entered real mode (CR0.PE = 0), which mmu=shadow does not run; use mmu=tdp");
		return true;
	}
	v->guest_cr0 = val | CR0_ET; /* hardwired */
	if ((old ^ val) & CR0_PG)
		v->guest_efer = (v->guest_efer & ~(uint64_t)EFER_LMA) |
				((val & CR0_PG) && (v->guest_efer & EFER_LME) ? EFER_LMA : 0);
	virt->vcpu_set_cr(&v->arch, 0, v->guest_cr0);
	if (v->shadow) {
		/* Entering or leaving long mode changes the hardware's mode and the root's format. */
		if ((old ^ val) & CR0_PG)
			virt->vcpu_set_msr(&v->arch, MSR_EFER, v->guest_efer);
		if ((old ^ val) & (CR0_WP | CR0_PG))
			vcpu_reload_shadow_root(v);
	} else if ((old ^ val) & (CR0_PG | CR0_WP | CR0_PE | CR0_CD)) {
		virt->vcpu_flush_tlb(&v->arch); /* SVM: the write no longer flushes by itself */
	}
	return true;
}

/* The CR4 bits this vCPU's CPUID offers (others are reserved: #GP). */
static uint64_t cr4_implemented(const struct vcpu *v)
{
	struct cpuid_regs l1 = vcpu_cpuid(v, 1, 0), l7 = vcpu_cpuid(v, 7, 0);
	uint64_t bits = CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE | CR4_PCE |
			CR4_OSFXSR | CR4_OSXMMEXCPT;

	bits |= l1.ecx & (1u << 26) ? CR4_OSXSAVE : 0;
	bits |= l1.ecx & (1u << 17) ? CR4_PCIDE : 0;
	bits |= l7.ebx & (1u << 0) ? CR4_FSGSBASE : 0;
	bits |= l7.ebx & (1u << 7) ? CR4_SMEP : 0;
	bits |= l7.ebx & (1u << 20) ? CR4_SMAP : 0;
	bits |= l7.ecx & (1u << 2) ? CR4_UMIP : 0;
	bits |= l7.ecx & (1u << 3) ? CR4_PKE : 0;
	bits |= l7.ecx & (1u << 16) ? CR4_LA57 : 0;
	return bits;
}

/* Of those, the ones whose meaning the shadow MMU does not model: it stops the guest. */
#define CR4_SHADOW_UNSUPPORTED (CR4_PCIDE | CR4_PKE | CR4_LA57)

/*
 * MOV to CR4: #GP(0) for a reserved bit or for clearing PAE in long mode;
 * a bit the shadow MMU does not model stops the guest with its name. A
 * change of SMEP or SMAP changes the root's role; one of PGE, PSE, PAE,
 * SMEP or SMAP flushes the TLB as the instruction does. Returns false on
 * #GP.
 */
static bool guest_write_cr4(struct vcpu *v, uint64_t val)
{
	uint64_t old = v->guest_cr4, unsupported = v->shadow ? val & CR4_SHADOW_UNSUPPORTED : 0;

	if ((val & ~cr4_implemented(v)) || (!(val & CR4_PAE) && (v->guest_efer & EFER_LMA)))
		return false;
	if (unsupported) {
		vcpu_fail(v, "the guest set CR4 bit %d, which mmu=shadow does not model (PCIDE, PKE and LA57 are not supported)",
			  __builtin_ctzll(unsupported));
		return true;
	}
	v->guest_cr4 = val;
	virt->vcpu_set_cr(&v->arch, 4, val);
	/* SMEP and SMAP are part of the root's role; PAE and PSE change the guest's paging mode. */
	if (v->shadow && ((old ^ val) & (CR4_SMEP | CR4_SMAP | CR4_PAE | CR4_PSE)))
		vcpu_reload_shadow_root(v);
	else if ((old ^ val) & (CR4_PGE | CR4_PSE | CR4_PAE | CR4_SMEP | CR4_SMAP))
		virt->vcpu_flush_tlb(&v->arch);
	return true;
}

/*
 * MOV to or from CR8, the task priority (VMX intercepts both; on SVM,
 * V_INTR_MASKING makes CR8 the guest's own V_TPR and nothing exits, but
 * for a PC guest, whose APIC's TPR it is, both are intercepted). Left to
 * the hardware, the guest's value would land in the physical APIC's TPR
 * and hold off the host's own interrupts, IPIs included, after the guest
 * is gone. A PC guest's is its local APIC's TPR[7:4] (a lower one lets a
 * pending interrupt in at the next entry); a synthetic guest's lives in
 * the vCPU. A read goes to *gpr; a write takes val, the register's value.
 */
static bool access_cr8(struct vcpu *v, uint64_t *gpr, uint64_t val, bool write)
{
	struct pc_devices *d = v->vm->dev;

	if (!write)
		*gpr = d ? pc_lapic_cr8(d, v->id) : v->guest_cr8;
	else if (val >> 4)
		return false; /* reserved bits: #GP(0) */
	else if (d)
		pc_lapic_set_cr8(d, v->id, (unsigned int)val);
	else
		v->guest_cr8 = val;
	return true;
}

/*
 * CLTS and LMSW write CR0 too, and SVM's CR0 write intercept takes them.
 * LMSW loads bits 3:0 (PE, MP, EM, TS) from its 16-bit operand and cannot
 * clear PE. SVM intercepts before the operand is read (APM Vol. 2, 15.7),
 * so LMSW m16's read is ours, and so is its fault. False if the
 * instruction does not complete now (vcpu_read_operand() says why).
 */
static bool cr0_from_clts_lmsw(struct vcpu *v, const struct vcpu_state *st,
			       const struct emu_sys_insn *in, uint64_t *val)
{
	uint8_t m16[2];
	uint64_t src;

	if (in->op == EMU_SYS_CLTS) {
		*val = v->guest_cr0 & ~CR0_TS;
		return true;
	}
	if (in->op == EMU_SYS_LMSW_REG) {
		src = *guest_reg(&v->arch.regs, in->gpr);
	} else {
		if (!vcpu_read_operand(v, st, &in->mem, v->arch.regs.rip + in->len, m16, sizeof(m16)))
			return false;
		src = m16[0] | (uint64_t)m16[1] << 8;
	}
	*val = (v->guest_cr0 & ~0xeull) | (src & 0xf);
	return true;
}

/*
 * Without decode assists an SVM CR exit names neither the register nor
 * the length (with them, still not for CLTS and LMSW): decode the bytes
 * at RIP into in. False, after stopping the VM, if they are not an
 * instruction that makes this exit.
 */
static bool decode_cr_insn(struct vcpu *v, const struct vcpu_state *st, struct emu_sys_insn *in)
{
	const struct vcpu_exit *e = &v->arch.exit;
	uint8_t b[EMU_MAX_INSN];
	unsigned int n = vcpu_fetch_insn(v, b, sizeof(b));
	char why[96];
	const char *err = emu_decode_sys(b, n, st->code_bits, in, why, sizeof(why));

	if (!err) {
		bool to_cr0 = in->op == EMU_SYS_CLTS || in->op == EMU_SYS_LMSW_REG ||
			      in->op == EMU_SYS_LMSW_MEM;

		if (e->cr_write ? in->op == EMU_SYS_MOV_TO_CR || (to_cr0 && e->cr == 0)
				: in->op == EMU_SYS_MOV_FROM_CR)
			return true;
		err = "not an instruction that makes this exit";
	}
	vcpu_fail(v, "cannot decode the %s CR%u at rip 0x%lx: %s (%u bytes fetched: %02x %02x %02x %02x)",
		  e->cr_write ? "write to" : "read of", e->cr, (unsigned long)v->arch.regs.rip, err,
		  n, n > 0 ? b[0] : 0, n > 1 ? b[1] : 0, n > 2 ? b[2] : 0, n > 3 ? b[3] : 0);
	return false;
}

void vcpu_handle_cr_access(struct vcpu *v)
{
	struct vcpu_exit *e = &v->arch.exit;
	struct vcpu_state st;
	struct emu_sys_insn in;
	uint64_t *gpr, val;
	bool ok = true;

	vcpu_sync_guest_state(v, &st);
	if (e->gpr < 0) {
		if (!decode_cr_insn(v, &st, &in))
			return;
		e->insn_len = in.len;
		if (in.op != EMU_SYS_MOV_TO_CR && in.op != EMU_SYS_MOV_FROM_CR) {
			if (!cr0_from_clts_lmsw(v, &st, &in, &val))
				return;
			ok = guest_write_cr0(v, &st, val);
			goto done;
		}
		e->gpr = in.gpr;
	}
	gpr = guest_reg(&v->arch.regs, e->gpr);
	/* Outside 64-bit mode the register is 32 bits: a read zero-extends, a write takes the low half. */
	val = st.code_bits == 64 ? *gpr : (uint32_t)*gpr;
	if (e->cr == 8) {
		ok = access_cr8(v, gpr, val, e->cr_write);
	} else if (e->cr != 0 && e->cr != 4 && !(e->cr == 3 && v->shadow)) {
		vcpu_fail(v, "an exit for CR%u, which mmu=%s does not intercept (rip 0x%lx)",
			  e->cr, v->shadow ? "shadow" : "tdp", (unsigned long)v->arch.regs.rip);
		return;
	} else if (!e->cr_write) {
		*gpr = e->cr == 0 ? v->guest_cr0 : e->cr == 4 ? v->guest_cr4 : v->guest_cr3;
		if (st.code_bits != 64)
			*gpr = (uint32_t)*gpr;
	} else if (e->cr == 3) {
		/* Outside long mode CR3 is 32 bits, and PAE's points at 32 bytes, not a page. */
		v->guest_cr3 = v->guest_efer & EFER_LMA ? val & ~0xfffull : (uint32_t)val;
		/* A MOV to CR3 also flushes the guest's non-global TLB entries: reload_root() does. */
		if (!vcpu_reload_shadow_root(v))
			return;
	} else {
		ok = e->cr == 0 ? guest_write_cr0(v, &st, val) : guest_write_cr4(v, val);
	}
done:
	if (!ok) {
		virt->vcpu_inject_exception(&v->arch, 13, true, 0); /* #GP(0); RIP stays */
		return;
	}
	v->arch.regs.rip += e->insn_len;
}
