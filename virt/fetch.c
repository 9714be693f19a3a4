// SPDX-License-Identifier: MIT
/*
 * Fetching the instruction a vCPU exited on, in whatever mode it runs:
 * CS:RIP to a linear address (the CS base counts outside 64-bit mode,
 * and linear addresses are 32-bit there), then through the guest's own
 * paging if it has paging on. Used to decode what the hardware did not
 * (SVM without decode assists) and to emulate; and, the same way, the
 * memory operand of an instruction the hypervisor completes itself
 * (LMSW m16), with the fault the guest must see when the read cannot be
 * done.
 */
#include "arch/x86/cpu.h"
#include "lib/string.h"
#include "mm/shadow/walker.h"
#include "virt/cr.h"
#include "virt/dirty_log.h"
#include "virt/emulate.h"
#include "virt/shadow_exits.h"
#include "virt/vcpu.h"

#define PDPTE_ACCESSED (1ull << 5)
#define GUEST_MAXPHYADDR 48 /* what the shadow MMU assumes, as shadow_emulate.c */

/*
 * Under TDP the CPU walked the guest's PAE tables itself, from the PDPTEs
 * it loaded at MOV CR3: hand those to the walker as loaded. QEMU's TCG sets
 * bit 5 (accessed) in a PAE PDPTE, a bit the SDM reserves there
 * (docs/PLATFORM_FINDINGS.md); the CPU that sets it accepts it, so the
 * fetch does too.
 */
static void load_pdptes(struct vcpu *v, struct guest_paging *gp)
{
	const uint64_t *p = vm_gpa_to_hva(v->vm, gp->cr3 & 0xffffffe0ull, 32);

	if (!p)
		return;
	for (unsigned int i = 0; i < 4; i++)
		gp->pdpte[i] = __atomic_load_n(&p[i], __ATOMIC_RELAXED) & ~PDPTE_ACCESSED;
	gp->pdptes_loaded = true;
}

/*
 * Guest-physical memory for the walker (ctx: the VM). Every access is one
 * atomic 8-byte access: the guest writes its tables at any time.
 */
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
	if (!__atomic_compare_exchange_n(p, &old, new_val, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_RELAXED))
		return GUEST_MEM_CHANGED;
	/*
	 * The walker set an A or D bit: a write to guest memory that no
	 * guest store made, which the dirty log must still see (a migration
	 * copy would otherwise keep the entry without it). A CPU's own walk
	 * under TDP is a guest-physical write, logged by the TDP MMU.
	 */
	if (old != new_val)
		vm_mark_dirty(ctx, gpa >> PAGE_SHIFT);
	return GUEST_MEM_OK;
}

/*
 * A shadow-paged guest's walks go through the shadow MMU's guest memory:
 * the same atomic accesses and dirty-log marks, and its per-CPU cache of
 * the guest frames the fault's own walk read a moment before.
 */
struct guest_mem vcpu_guest_mem(struct vcpu *v)
{
	if (v->vm->smmu)
		return *shadow_mmu_guest_mem(v->vm->smmu);
	return (struct guest_mem){ .read = mem_read, .cmpxchg = mem_cmpxchg, .ctx = v->vm };
}

/* Where a read of guest memory stopped. */
struct read_end {
	unsigned int got; /* the bytes read */
	uint64_t la;      /* the linear address of the first byte not read: CR2 for a fault */
	uint32_t error;   /* GUEST_WALK_FAULT: the #PF error code */
};

/*
 * n bytes at linear address la through the guest's paging, as access
 * pf_access at CPL 0 (vcpu_guest_paging's), one walk per page, after
 * vcpu_sync_guest_state(). The result is that of the first page that
 * could not be read (GUEST_WALK_NO_SLOT: its tables or the page itself
 * are not guest RAM), or GUEST_WALK_OK; *end says where it stopped.
 */
static enum guest_walk_result read_linear(struct vcpu *v, uint64_t la, uint8_t *b, unsigned int n,
					  uint32_t pf_access, struct read_end *end)
{
	struct guest_mem mem = vcpu_guest_mem(v);
	struct guest_paging gp = vcpu_guest_paging(v);
	/* Outside long mode linear addresses are 32 bits, and wrap. */
	uint64_t la_mask = gp.mode == GUEST_PAGING_4LEVEL ? ~0ull : 0xffffffffull;

	if (gp.mode == GUEST_PAGING_PAE && !v->shadow)
		load_pdptes(v, &gp);
	*end = (struct read_end){ .la = la & la_mask };
	while (end->got < n) {
		uint64_t va = end->la, in_page = PAGE_SIZE - (va & (PAGE_SIZE - 1)), gpa = va;
		unsigned int chunk = n - end->got < in_page ? n - end->got : (unsigned int)in_page;
		enum guest_walk_result r;
		struct guest_walk w;
		const uint8_t *p;

		if (gp.mode != GUEST_PAGING_OFF) { /* paging off: linear is physical */
			r = guest_walk(&mem, &gp, GUEST_MAXPHYADDR, va, pf_access, &w);
			if (r == GUEST_WALK_FAULT)
				end->error = w.error;
			if (r != GUEST_WALK_OK)
				return r;
			gpa = (w.gfn << PAGE_SHIFT) | (va & (PAGE_SIZE - 1));
		}
		p = vm_gpa_to_hva(v->vm, gpa, chunk);
		if (!p)
			return GUEST_WALK_NO_SLOT;
		memcpy(b + end->got, p, chunk);
		end->got += chunk;
		end->la = (va + chunk) & la_mask;
	}
	return GUEST_WALK_OK;
}

/*
 * A shadow-paged vCPU fetches the instruction that just faulted through
 * the shadow leaf the CPU fetched it with, when one maps its page whole
 * and allows a fetch: the guest's translation (write protection keeps the
 * two equal), without a walk of the guest's tables. Else the walk.
 */
static bool fetch_through_shadow(struct vcpu *v, uint64_t la, uint8_t *b, unsigned int n)
{
	uint64_t spte, hpa;
	const uint8_t *p;

	if (!v->shadow || (la & (PAGE_SIZE - 1)) + n > PAGE_SIZE)
		return false;
	spte = shadow_vcpu_leaf(v->shadow, la);
	if (!spte || (spte & X86_PTE_NX))
		return false;
	hpa = (spte & X86_PTE_ADDR_MASK) | (la & (PAGE_SIZE - 1)); /* the host's frame */
	p = platform_phys_to_virt(hpa);
	if (n == EMU_MAX_INSN)
		__builtin_memcpy(b, p, EMU_MAX_INSN); /* a whole instruction's room: a few moves, no call */
	else
		memcpy(b, p, n);
	return true;
}

unsigned int vcpu_fetch_insn_at(struct vcpu *v, const struct vcpu_state *st, uint8_t *b,
				unsigned int n)
{
	uint64_t la = st->code_bits == 64 ? v->arch.regs.rip
					  : (uint32_t)(st->seg_base[1] + (uint32_t)v->arch.regs.rip);
	struct read_end end;

	if (fetch_through_shadow(v, la, b, n))
		return n;
	read_linear(v, la, b, n, PFERR_FETCH, &end);
	return end.got;
}

unsigned int vcpu_fetch_insn(struct vcpu *v, uint8_t *b, unsigned int n)
{
	struct vcpu_state st;

	vcpu_sync_guest_state(v, &st);
	return vcpu_fetch_insn_at(v, &st, b, n);
}

unsigned int vcpu_read_linear(struct vcpu *v, uint64_t la, uint8_t *b, unsigned int n)
{
	struct vcpu_state st;
	struct read_end end;

	vcpu_sync_guest_state(v, &st);
	read_linear(v, la, b, n, 0, &end); /* a supervisor read, as the CPU's own of its tables */
	return end.got;
}

uint64_t vcpu_operand_address(struct vcpu *v, const struct vcpu_state *st,
			      const struct emu_mem *m, uint64_t next_rip)
{
	struct emu_regs r;
	uint64_t base = m->seg >= 0 && m->seg < 6 ? st->seg_base[m->seg] : 0, ea;

	vcpu_regs_to_emu(&v->arch.regs, &r);
	ea = emu_mem_address(m, &r, next_rip);
	/* In 64-bit mode only FS and GS have a base (m->seg is EMU_SEG_NONE for the rest). */
	return st->code_bits == 64 ? base + ea : (uint32_t)(base + ea);
}

/* Bits 63:47 (63:56 with LA57) all equal, as every 64-bit-mode access needs. */
static bool is_canonical(const struct vcpu *v, uint64_t la)
{
	unsigned int bits = v->guest_cr4 & CR4_LA57 ? 57 : 48;

	return (uint64_t)((int64_t)(la << (64 - bits)) >> (64 - bits)) == la;
}

bool vcpu_read_operand(struct vcpu *v, const struct vcpu_state *st, const struct emu_mem *m,
		       uint64_t next_rip, uint8_t *b, unsigned int n)
{
	uint64_t la = vcpu_operand_address(v, st, m, next_rip);
	struct read_end end;

	if (st->code_bits == 64 && (!is_canonical(v, la) || !is_canonical(v, la + n - 1))) {
		/* #SS(0) for a stack reference (RSP or RBP based, no FS or GS), else #GP(0) */
		bool stack = m->seg == EMU_SEG_NONE && (m->base == 4 || m->base == 5);

		virt->vcpu_inject_exception(&v->arch, stack ? 12 : 13, true, 0);
		return false;
	}
	switch (read_linear(v, la, b, n, 0, &end)) {
	case GUEST_WALK_OK:
		return true;
	case GUEST_WALK_FAULT:
		virt->vcpu_inject_page_fault(&v->arch, end.la, end.error);
		return false;
	case GUEST_WALK_RETRY:
		return false; /* the instruction runs again */
	case GUEST_WALK_NO_SLOT:
		break;
	}
	vcpu_fail(v, "wild access: the operand at gva 0x%lx (rip 0x%lx) translates outside guest memory",
		  (unsigned long)end.la, (unsigned long)v->arch.regs.rip);
	return false;
}
