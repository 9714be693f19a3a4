// SPDX-License-Identifier: MIT
/*
 * The page-table stores shadow paging must emulate (SHADOW_EMULATE): the
 * instruction is fetched through the guest's own tables, decoded and run by
 * virt/emulate.c, and its memory operand found from its registers (CR2 is
 * only the first byte that faulted). A store that straddles two pages is
 * two parts, each to its own page, as on a CPU. The store is applied inside
 * shadow_mmu_emulated_write(), after the shadow MMU has dropped every entry
 * built from what it overwrites and before any fault can build one again.
 */
#include "mm/shadow/walker.h"
#include "virt/dirty_log.h"
#include "virt/emulate.h"
#include "virt/shadow_emulate.h"
#include "virt/shadow_exits.h"
#include "virt/vcpu.h"

#define PFERR_FETCH (1u << 4)
#define GUEST_MAXPHYADDR 48 /* what the shadow MMU assumes (shadow_mmu_config.guest_maxphyaddr = 0) */

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
 * Up to n bytes at gva, read through the guest's own tables (paging NULL:
 * the vCPU's) with one walk per page, as an access of kind pf_access
 * (PFERR_FETCH for an instruction, 0 for a supervisor read); returns how
 * many could be read.
 */
unsigned int shadow_read_guest(struct vcpu *v, const struct guest_paging *paging, uint64_t gva,
			       uint8_t *b, unsigned int n, uint32_t pf_access)
{
	struct guest_mem mem = { .read = mem_read, .cmpxchg = mem_cmpxchg, .ctx = v->vm };
	struct guest_paging gp = paging ? *paging : vcpu_guest_paging(v);
	unsigned int got = 0;

	while (got < n) {
		uint64_t va = gva + got, in_page = PAGE_SIZE - (va & (PAGE_SIZE - 1));
		unsigned int chunk = n - got < in_page ? n - got : (unsigned int)in_page;
		struct guest_walk w;
		const uint8_t *p;

		if (guest_walk(&mem, &gp, GUEST_MAXPHYADDR, va, pf_access, &w) != GUEST_WALK_OK)
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

bool shadow_translate_guest(struct vcpu *v, uint64_t gva, uint32_t pf_access, uint64_t *gpa)
{
	struct guest_mem mem = { .read = mem_read, .cmpxchg = mem_cmpxchg, .ctx = v->vm };
	struct guest_paging gp = vcpu_guest_paging(v);
	struct guest_walk w;

	if (guest_walk(&mem, &gp, GUEST_MAXPHYADDR, gva, pf_access, &w) != GUEST_WALK_OK)
		return false;
	*gpa = (w.gfn << PAGE_SHIFT) | (gva & (PAGE_SIZE - 1));
	return true;
}

unsigned int shadow_fetch_insn(struct vcpu *v, const struct guest_paging *paging, uint64_t gva,
			       uint8_t *b, unsigned int n)
{
	return shadow_read_guest(v, paging, gva, b, n, PFERR_FETCH);
}

/* One page's part of the store. */
struct store_part {
	uint64_t gva, gpa;
	gfn_t gfn;
	unsigned int len;
	uint8_t *hva;
};

struct emulated_store {
	struct vcpu *v;
	const struct emu_insn *in;
	struct store_part part[2];
	unsigned int nr_parts;
	struct emu_regs r; /* the registers after the instruction */
	bool applied;      /* false: lost every race; the instruction runs again */
};

/*
 * A store whose cmpxchg loses this many races in a row (other vCPUs keep
 * writing the same bytes) gives up: shadow_lock is held, and a guest must
 * not keep it for as long as it likes. The instruction is not completed,
 * so it runs again and faults again, as if it had not been reached yet.
 */
#define STORE_RACES_MAX 64

static uint64_t load_part(const uint8_t *p, unsigned int len)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < len; i++)
		v |= (uint64_t)__atomic_load_n(&p[i], __ATOMIC_RELAXED) << (8 * i);
	return v;
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

/*
 * Called by shadow_mmu_emulated_write() with the shadow entries of the
 * written pages gone and shadow_lock held. Within one page: a cmpxchg of
 * the operand's width, run again while another vCPU's store races it (an
 * unaligned one included: x86 makes it atomic within a cache line, the
 * host's cmpxchg on the same bytes too). Across two pages each part is
 * stored on its own, as a CPU's split store is (a split LOCK'd RMW is
 * atomic only against the guest's page-table writes, which all come here).
 */
static void apply_store(void *ctx)
{
	struct emulated_store *st = ctx;
	const struct emu_insn *in = st->in;
	struct vcpu *v = st->v;
	uint64_t old, new_val;
	bool store;

	st->applied = true;
	for (unsigned int races = 0;; races++) {
		if (races == STORE_RACES_MAX) {
			st->applied = false;
			return;
		}
		for (int i = 0; i < 16; i++)
			st->r.gpr[i] = *guest_reg(&v->arch.regs, i);
		st->r.rflags = v->arch.regs.rflags;
		old = load_part(st->part[0].hva, st->part[0].len);
		if (st->nr_parts == 2)
			old |= load_part(st->part[1].hva, st->part[1].len) << (8 * st->part[0].len);
		new_val = emu_execute(in, old, &st->r, &store);
		if (!store)
			return;
		if (st->nr_parts == 1) {
			if (cmpxchg_width(st->part[0].hva, old, new_val, in->width))
				return;
			continue;
		}
		for (unsigned int k = 0, shift = 0; k < 2; shift += 8 * st->part[k].len, k++)
			for (unsigned int i = 0; i < st->part[k].len; i++)
				__atomic_store_n(&st->part[k].hva[i], (uint8_t)(new_val >> (shift + 8 * i)),
						 __ATOMIC_RELAXED);
		return;
	}
}

/*
 * Walk each part's page for a write (setting the guest's A/D bits); false
 * if the store cannot go on: a #PF injected, a retry, or the VM stopped.
 */
static bool walk_parts(struct vcpu *v, struct emulated_store *st)
{
	struct guest_mem mem = { .read = mem_read, .cmpxchg = mem_cmpxchg, .ctx = v->vm };
	struct guest_paging gp = vcpu_guest_paging(v);

	for (unsigned int k = 0; k < st->nr_parts; k++) {
		struct store_part *pt = &st->part[k];
		struct guest_walk w;

		switch (guest_walk(&mem, &gp, GUEST_MAXPHYADDR, pt->gva, PFERR_WRITE, &w)) {
		case GUEST_WALK_OK:
			break;
		case GUEST_WALK_FAULT: /* the guest changed its tables meanwhile */
			virt->vcpu_inject_page_fault(&v->arch, pt->gva, w.error);
			return false;
		case GUEST_WALK_RETRY:
			return false; /* the instruction runs again and faults again */
		case GUEST_WALK_NO_SLOT:
			vcpu_fail(v, "wild access: gva 0x%lx translates outside guest memory (rip 0x%lx)",
				  (unsigned long)pt->gva, (unsigned long)v->arch.regs.rip);
			return false;
		}
		pt->gfn = w.gfn;
		pt->gpa = (w.gfn << PAGE_SHIFT) | (pt->gva & (PAGE_SIZE - 1));
		pt->hva = vm_gpa_to_hva(v->vm, pt->gpa, pt->len);
		if (!pt->hva) {
			vcpu_fail(v, "wild access: gva 0x%lx translates outside guest memory (rip 0x%lx)",
				  (unsigned long)pt->gva, (unsigned long)v->arch.regs.rip);
			return false;
		}
	}
	return true;
}

/*
 * SHADOW_EMULATE: the guest writes a page table that the written address's
 * own translation uses (or, with CR0.WP = 0 and SMAP, a read-only user
 * page), or keeps faulting on a write the shadow cannot let through
 * (shadow_handle_guest_pf()). Decode the store, find its operand, walk it,
 * and apply it with the shadow MMU's entries for it dropped first, so that
 * no fault builds a shadow entry from a guest entry that is changing.
 */
void shadow_emulate_write(struct vcpu *v)
{
	const struct vcpu_exit *e = &v->arch.exit;
	struct emulated_store st = { .v = v };
	struct shadow_written written[2];
	uint8_t b[EMU_MAX_INSN];
	struct emu_insn in;
	uint64_t ea;
	const char *err;
	char why[96];

	struct vcpu_state vs;

	/* The instruction in the guest's code size, at CS:RIP (virt/fetch.c). */
	virt->vcpu_get_state(&v->arch, &vs);
	err = emu_decode(b, vcpu_fetch_insn(v, b, EMU_MAX_INSN), vs.code_bits, &in, why, sizeof(why));
	if (!err && (!in.writes_mem || emu_is_string(&in)))
		err = "not a store to one operand";
	if (err) {
		vcpu_fail(v, "gva 0x%lx: a page-table write on its own path needs emulating, and this one cannot be: %s (rip 0x%lx)",
			  (unsigned long)e->gva, err, (unsigned long)v->arch.regs.rip);
		return;
	}
	for (int i = 0; i < 16; i++)
		st.r.gpr[i] = *guest_reg(&v->arch.regs, i);
	ea = emu_effective_address(&in, &st.r, v->arch.regs.rip);
	if (in.mem.seg >= 0 && in.mem.seg < 6)
		ea += vs.code_bits == 64 ? virt->vcpu_seg_base(&v->arch, (unsigned int)in.mem.seg)
					 : vs.seg_base[in.mem.seg];
	if (vs.code_bits != 64)
		ea = (uint32_t)ea; /* linear addresses are 32 bits outside long mode */
	if (e->gva - ea >= in.width) {
		vcpu_fail(v, "the store at rip 0x%lx writes [0x%lx, +%u), which does not hold the faulting address 0x%lx",
			  (unsigned long)v->arch.regs.rip, (unsigned long)ea, in.width,
			  (unsigned long)e->gva);
		return;
	}
	st.in = &in;
	st.part[0] = (struct store_part){ .gva = ea, .len = in.width };
	st.nr_parts = 1;
	if ((ea & (PAGE_SIZE - 1)) + in.width > PAGE_SIZE) {
		st.part[0].len = (unsigned int)(PAGE_SIZE - (ea & (PAGE_SIZE - 1)));
		st.part[1] = (struct store_part){ .gva = (ea | (PAGE_SIZE - 1)) + 1,
						  .len = in.width - st.part[0].len };
		st.nr_parts = 2;
	}
	if (!walk_parts(v, &st))
		return;
	for (unsigned int k = 0; k < st.nr_parts; k++)
		written[k] = (struct shadow_written){ .gfn = st.part[k].gfn,
						      .off = (unsigned int)(st.part[k].gpa & (PAGE_SIZE - 1)),
						      .len = st.part[k].len };
	shadow_mmu_emulated_write(v->vm->smmu, written, st.nr_parts, apply_store, &st);
	if (!st.applied)
		return;
	for (int i = 0; i < 16; i++)
		*guest_reg(&v->arch.regs, i) = st.r.gpr[i];
	v->arch.regs.rflags = st.r.rflags;
	v->arch.regs.rip += in.len;
	v->stats.emulated++;
	/* No shadow entry saw this write: the dirty log must hear of it. */
	for (unsigned int k = 0; k < st.nr_parts; k++)
		vm_dirty_log_write_fault(v->vm, st.part[k].gpa);
}
