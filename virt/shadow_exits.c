// SPDX-License-Identifier: MIT
/*
 * The exits that shadow paging (mmu=shadow) adds: the guest's #PF, its MOV
 * to and from CR3, its writes to CR0 and CR4 (and, on SVM, reads of CR0),
 * and INVLPG. The guest's CR3 lives in the vCPU; the hardware CR3 holds the
 * shadow root, and a change of root flushes the vCPU's TLB (ASIDs and VPIDs
 * tag entries without the CR3). The guest's CR0 and CR4 live in the vCPU
 * too; the hardware keeps CR0.WP set whatever the guest's (the shadow MMU
 * emulates WP = 0), and CR0.WP, CR4.SMEP and CR4.SMAP pick the root's role.
 */
#include "arch/x86/cpu.h"
#include "mm/shadow/walker.h"
#include "virt/dirty_log.h"
#include "virt/emulate.h"
#include "virt/shadow_exits.h"
#include "virt/vcpu.h"

#define RFLAGS_AC (1ull << 18)
#define PFERR_FETCH (1u << 4)
#define GUEST_MAXPHYADDR 48 /* what the shadow MMU assumes (shadow_mmu_config.guest_maxphyaddr = 0) */

struct guest_paging vcpu_guest_paging(const struct vcpu *v)
{
	return (struct guest_paging){
		.cr3 = v->guest_cr3,
		.wp = v->guest_cr0 & CR0_WP,
		.nx = v->guest_efer & EFER_NXE,
		.smep = v->guest_cr4 & CR4_SMEP,
		.smap = v->guest_cr4 & CR4_SMAP,
		.ac = v->arch.regs.rflags & RFLAGS_AC,
		.cpl = 0,
	};
}

/* The root to enter with; false (after stopping the VM) if there is none. */
bool shadow_prepare_entry(struct vcpu *v)
{
	struct guest_paging gp = vcpu_guest_paging(v);
	uint64_t root = shadow_vcpu_root_pa(v->shadow);

	if (!root)
		root = shadow_mmu_load_cr3(v->vm->smmu, v->shadow, &gp);
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

static void emulate_write(struct vcpu *v);

void shadow_handle_guest_pf(struct vcpu *v)
{
	struct guest_paging gp = vcpu_guest_paging(v);
	uint32_t inject = 0;
	const struct vcpu_exit *e = &v->arch.exit;

	v->stats.tdp_faults++;
	switch (shadow_mmu_page_fault(v->vm->smmu, v->shadow, &gp, e->gva, e->error, &inject)) {
	case SHADOW_FIXED:
		break;
	case SHADOW_RETRY:
		v->stats.tdp_retries++;
		break;
	case SHADOW_INJECT_PF:
		virt->vcpu_inject_page_fault(&v->arch, e->gva, inject);
		break;
	case SHADOW_NO_SLOT:
		vcpu_fail(v, "wild access: gva 0x%lx translates outside guest memory (rip 0x%lx)",
			  (unsigned long)e->gva, (unsigned long)v->arch.regs.rip);
		break;
	case SHADOW_READONLY:
		vcpu_fail(v, "write to read-only memory at gva 0x%lx", (unsigned long)e->gva);
		break;
	case SHADOW_NOMEM:
		vcpu_fail(v, "out of memory for shadow pages at gva 0x%lx", (unsigned long)e->gva);
		break;
	case SHADOW_EMULATE:
		emulate_write(v);
		break;
	}
}

static enum guest_mem_result mem_read(void *ctx, uint64_t gpa, uint64_t *val)
{
	const uint64_t *p = vm_gpa_to_hva(ctx, gpa, 8);

	if (!p)
		return GUEST_MEM_NO_SLOT;
	*val = __atomic_load_n(p, __ATOMIC_RELAXED);
	return GUEST_MEM_OK;
}

static enum guest_mem_result mem_cmpxchg(void *ctx, uint64_t gpa, uint64_t old, uint64_t new_val)
{
	uint64_t *p = vm_gpa_to_hva(ctx, gpa, 8);

	if (!p)
		return GUEST_MEM_NO_SLOT;
	return __atomic_compare_exchange_n(p, &old, new_val, false, __ATOMIC_SEQ_CST,
					   __ATOMIC_RELAXED) ? GUEST_MEM_OK : GUEST_MEM_CHANGED;
}

/*
 * Up to n instruction bytes at gva, fetched through the guest's own tables
 * with one walk per page; returns how many could be read.
 */
static unsigned int fetch_bytes(struct vcpu *v, uint64_t gva, uint8_t *b, unsigned int n)
{
	struct guest_mem mem = { .read = mem_read, .cmpxchg = mem_cmpxchg, .ctx = v->vm };
	struct guest_paging gp = vcpu_guest_paging(v);
	unsigned int got = 0;

	while (got < n) {
		uint64_t va = gva + got, in_page = PAGE_SIZE - (va & (PAGE_SIZE - 1));
		unsigned int chunk = n - got < in_page ? n - got : (unsigned int)in_page;
		struct guest_walk w;
		const uint8_t *p;

		if (guest_walk(&mem, &gp, GUEST_MAXPHYADDR, va, PFERR_FETCH, &w) != GUEST_WALK_OK)
			break;
		p = vm_gpa_to_hva(v->vm, (w.gfn << PAGE_SHIFT) | (va & (PAGE_SIZE - 1)), chunk);
		if (!p)
			break;
		for (unsigned int i = 0; i < chunk; i++)
			b[got + i] = p[i];
		got += chunk;
	}
	return got;
}

static uint64_t load_width(const void *p, unsigned int width)
{
	switch (width) {
	case 1: return __atomic_load_n((const uint8_t *)p, __ATOMIC_RELAXED);
	case 2: return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
	case 4: return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
	default: return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
	}
}

/* Store new_val at p if it still holds old (what the guest's LOCK'd RMW would see). */
static bool cmpxchg_width(void *p, uint64_t old, uint64_t new_val, unsigned int width)
{
	switch (width) {
	case 1: {
		uint8_t o = (uint8_t)old;

		return __atomic_compare_exchange_n((uint8_t *)p, &o, (uint8_t)new_val, false,
						   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
	}
	case 2: {
		uint16_t o = (uint16_t)old;

		return __atomic_compare_exchange_n((uint16_t *)p, &o, (uint16_t)new_val, false,
						   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
	}
	case 4: {
		uint32_t o = (uint32_t)old;

		return __atomic_compare_exchange_n((uint32_t *)p, &o, (uint32_t)new_val, false,
						   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
	}
	default:
		return __atomic_compare_exchange_n((uint64_t *)p, &old, new_val, false,
						   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
	}
}

static uint64_t *gpr_slot(struct guest_regs *r, int gpr)
{
	uint64_t *slots[16] = { &r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp,
				&r->rsi, &r->rdi, &r->r8, &r->r9, &r->r10, &r->r11,
				&r->r12, &r->r13, &r->r14, &r->r15 };

	return slots[gpr & 15];
}

/*
 * SHADOW_EMULATE: the guest writes a page table that the written address's
 * own translation uses (or, with CR0.WP = 0 and SMAP, a read-only user
 * page). Shadowing write-protects the table and the write needs it
 * writable, so the store is done here: decode it (virt/emulate.c), walk
 * the address for a write (setting the guest's A/D bits), apply it to
 * guest memory with a cmpxchg so that a racing vCPU is not lost, commit
 * the registers and RIP, and make the shadow forget the entries written
 * (the next walk reads them anew): only those entries, so a write to a
 * live root does not throw away every vCPU's address space.
 */
static void emulate_write(struct vcpu *v)
{
	struct guest_mem mem = { .read = mem_read, .cmpxchg = mem_cmpxchg, .ctx = v->vm };
	struct guest_paging gp = vcpu_guest_paging(v);
	const struct vcpu_exit *e = &v->arch.exit;
	uint8_t b[EMU_MAX_INSN];
	struct emu_insn in;
	struct emu_regs r;
	struct guest_walk w;
	uint64_t gpa, old, new_val;
	const char *err;
	char why[96];
	bool store;
	void *p;

	err = emu_decode(b, fetch_bytes(v, v->arch.regs.rip, b, EMU_MAX_INSN), &in, why, sizeof(why));
	if (err) {
		vcpu_fail(v, "gva 0x%lx: a page-table write on its own path needs emulating, and this one cannot be: %s (rip 0x%lx)",
			  (unsigned long)e->gva, err, (unsigned long)v->arch.regs.rip);
		return;
	}
	if ((e->gva & (PAGE_SIZE - 1)) + in.width > PAGE_SIZE) {
		vcpu_fail(v, "gva 0x%lx: an emulated write that crosses a page (rip 0x%lx)",
			  (unsigned long)e->gva, (unsigned long)v->arch.regs.rip);
		return;
	}
	switch (guest_walk(&mem, &gp, GUEST_MAXPHYADDR, e->gva, PFERR_WRITE, &w)) {
	case GUEST_WALK_OK:
		break;
	case GUEST_WALK_FAULT: /* the guest changed its tables meanwhile */
		virt->vcpu_inject_page_fault(&v->arch, e->gva, w.error);
		return;
	case GUEST_WALK_RETRY:
		return; /* the instruction runs again and faults again */
	case GUEST_WALK_NO_SLOT:
		vcpu_fail(v, "wild access: gva 0x%lx translates outside guest memory (rip 0x%lx)",
			  (unsigned long)e->gva, (unsigned long)v->arch.regs.rip);
		return;
	}
	gpa = (w.gfn << PAGE_SHIFT) | (e->gva & (PAGE_SIZE - 1));
	p = vm_gpa_to_hva(v->vm, gpa, in.width);
	if (!p) {
		vcpu_fail(v, "wild access: gva 0x%lx translates outside guest memory (rip 0x%lx)",
			  (unsigned long)e->gva, (unsigned long)v->arch.regs.rip);
		return;
	}
	do {
		for (int i = 0; i < 16; i++)
			r.gpr[i] = *gpr_slot(&v->arch.regs, i);
		r.rflags = v->arch.regs.rflags;
		old = load_width(p, in.width);
		new_val = emu_execute(&in, old, &r, &store);
	} while (store && !cmpxchg_width(p, old, new_val, in.width));
	for (int i = 0; i < 16; i++)
		*gpr_slot(&v->arch.regs, i) = r.gpr[i];
	v->arch.regs.rflags = r.rflags;
	v->arch.regs.rip += in.len;
	v->stats.emulated++;
	/* No shadow entry saw this write: the dirty log and the shadow pages must hear of it. */
	vm_dirty_log_write_fault(v->vm, gpa);
	shadow_mmu_guest_table_written(v->vm->smmu, w.gfn, (unsigned int)(gpa & (PAGE_SIZE - 1)),
				       in.width);
}

/*
 * Without decode assists an SVM CR exit does not say which register: decode
 * MOV CRn, r64 (0F 22 /r) or MOV r64, CRn (0F 20 /r), with an optional REX.
 */
static bool decode_mov_cr(struct vcpu *v, int *gpr, unsigned int *len)
{
	uint8_t b[4];
	unsigned int i = 0, rex_b = 0;

	if (fetch_bytes(v, v->arch.regs.rip, b, 4) != 4)
		return false;
	if ((b[0] & 0xf0) == 0x40) {
		rex_b = b[0] & 1;
		i = 1;
	}
	if (b[i] != 0x0f || (b[i + 1] != 0x20 && b[i + 1] != 0x22) || (b[i + 2] >> 6) != 3)
		return false;
	*gpr = (int)((b[i + 2] & 7) | rex_b << 3);
	*len = i + 3;
	return true;
}


/* After a change of CR3 or of the paging controls: the root for them, and a TLB flush. */
static bool reload_root(struct vcpu *v)
{
	struct guest_paging gp = vcpu_guest_paging(v);

	if (!shadow_mmu_load_cr3(v->vm->smmu, v->shadow, &gp)) {
		vcpu_fail(v, "out of memory for the shadow root of CR3 0x%lx",
			  (unsigned long)v->guest_cr3);
		return false;
	}
	virt->vcpu_flush_tlb(&v->arch);
	return true;
}

/*
 * MOV to CR0 in 64-bit mode. #GP(0) where the architecture says so (bits
 * 63:32, PG or PE cleared, NW without CD); otherwise the guest gets its
 * value and the hardware keeps WP. A change of WP changes the role of the
 * shadow pages the guest may use. Returns false if it injected #GP.
 */
static bool guest_write_cr0(struct vcpu *v, uint64_t val)
{
	uint64_t old = v->guest_cr0;

	if ((val >> 32) || !(val & CR0_PG) || !(val & CR0_PE) ||
	    ((val & CR0_NW) && !(val & CR0_CD)))
		return false;
	v->guest_cr0 = val | CR0_ET; /* hardwired */
	virt->vcpu_set_cr(&v->arch, 0, v->guest_cr0);
	if ((old ^ val) & CR0_WP)
		reload_root(v);
	return true;
}

/* The CR4 bits this CPU implements (others are reserved: #GP). */
static uint64_t cr4_implemented(void)
{
	struct cpuid_regs l1 = cpuid(1, 0), l7 = cpuid(7, 0);
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
 * MOV to CR4 in 64-bit mode: #GP(0) for a reserved bit or for clearing PAE;
 * a bit the shadow MMU does not model stops the guest with its name. A
 * change of SMEP or SMAP changes the root's role; one of PGE, PSE, SMEP or
 * SMAP flushes the TLB as the instruction does. Returns false on #GP.
 */
static bool guest_write_cr4(struct vcpu *v, uint64_t val)
{
	uint64_t old = v->guest_cr4, unsupported = val & CR4_SHADOW_UNSUPPORTED;

	if ((val & ~cr4_implemented()) || !(val & CR4_PAE))
		return false;
	if (unsupported) {
		vcpu_fail(v, "the guest set CR4 bit %d, which mmu=shadow does not model (PCIDE, PKE and LA57 are not supported)",
			  __builtin_ctzll(unsupported));
		return true;
	}
	v->guest_cr4 = val;
	virt->vcpu_set_cr(&v->arch, 4, val);
	if ((old ^ val) & (CR4_SMEP | CR4_SMAP))
		reload_root(v);
	else if ((old ^ val) & (CR4_PGE | CR4_PSE))
		virt->vcpu_flush_tlb(&v->arch);
	return true;
}

void shadow_handle_cr_access(struct vcpu *v)
{
	struct vcpu_exit *e = &v->arch.exit;
	uint64_t *gpr, val;
	bool ok = true;

	if (e->gpr < 0 && !decode_mov_cr(v, &e->gpr, &e->insn_len)) {
		vcpu_fail(v, "cannot decode the MOV CR%u at rip 0x%lx", e->cr,
			  (unsigned long)v->arch.regs.rip);
		return;
	}
	if (e->cr != 0 && e->cr != 3 && e->cr != 4) {
		vcpu_fail(v, "an exit for CR%u, which mmu=shadow does not intercept (rip 0x%lx)",
			  e->cr, (unsigned long)v->arch.regs.rip);
		return;
	}
	gpr = gpr_slot(&v->arch.regs, e->gpr);
	val = *gpr;
	if (!e->cr_write) {
		*gpr = e->cr == 0 ? v->guest_cr0 : e->cr == 4 ? v->guest_cr4 : v->guest_cr3;
	} else if (e->cr == 3) {
		v->guest_cr3 = val & ~0xfffull;
		/* A MOV to CR3 also flushes the guest's non-global TLB entries: reload_root() does. */
		if (!reload_root(v))
			return;
	} else {
		ok = e->cr == 0 ? guest_write_cr0(v, val) : guest_write_cr4(v, val);
	}
	if (!ok) {
		virt->vcpu_inject_exception(&v->arch, 13, true, 0); /* #GP(0); RIP stays */
		return;
	}
	v->arch.regs.rip += e->insn_len;
}

/*
 * The length of INVLPG m8 (0F 01 /7), for SVM without NRIP save: an optional
 * REX, then ModRM with its SIB byte and displacement (SDM 2.1.5).
 */
static bool decode_invlpg_len(struct vcpu *v, unsigned int *len)
{
	uint8_t b[4];
	unsigned int i = 0, mod, rm, n;

	if (fetch_bytes(v, v->arch.regs.rip, b, 4) != 4)
		return false;
	if ((b[0] & 0xf0) == 0x40)
		i = 1;
	if (b[i] != 0x0f || b[i + 1] != 0x01 || ((b[i + 2] >> 3) & 7) != 7)
		return false;
	mod = b[i + 2] >> 6;
	rm = b[i + 2] & 7;
	n = i + 3;
	if (mod != 3 && rm == 4) { /* SIB */
		if (mod == 0 && (b[i + 3] & 7) == 5)
			n += 4; /* no base: disp32 */
		n++;
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2 || (mod == 0 && rm == 5))
		n += 4;
	*len = n;
	return mod != 3;
}

void shadow_handle_invlpg(struct vcpu *v)
{
	struct vcpu_exit *e = &v->arch.exit;

	if (!e->insn_len && !decode_invlpg_len(v, &e->insn_len)) {
		vcpu_fail(v, "cannot decode the INVLPG at rip 0x%lx", (unsigned long)v->arch.regs.rip);
		return;
	}
	/*
	 * Write protection keeps every shadow page in step with its guest
	 * table, so INVLPG changes no shadow entry of ours; what it must drop
	 * is the TLB's copy. Without the address (SVM without decode assists)
	 * the whole vCPU TLB goes.
	 */
	if (e->gva_known)
		shadow_mmu_invlpg(v->vm->smmu, v->shadow, e->gva);
	virt->vcpu_flush_tlb(&v->arch);
	v->arch.regs.rip += e->insn_len;
}
