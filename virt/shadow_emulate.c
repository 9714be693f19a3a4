// SPDX-License-Identifier: MIT
/*
 * The page-table stores shadow paging must emulate (SHADOW_EMULATE): the
 * instruction is fetched through the guest's own tables, decoded and run by
 * virt/emulate.c, and its memory operand found from its registers (CR2 is
 * only the first byte that faulted). A store that straddles two pages is
 * two parts, each to its own page, as on a CPU. A string store (STOS,
 * MOVS, REP or not) is emulated a page at a time: its elements in the
 * faulting page, then back to the guest. The store is applied inside
 * shadow_mmu_emulated_write(), after the shadow MMU has dropped every entry
 * built from what it overwrites and before any fault can build one again.
 */
#include "lib/printf.h"
#include "mm/shadow/walker.h"
#include "virt/cr.h"
#include "virt/dirty_log.h"
#include "virt/emulate.h"
#include "virt/shadow_emulate.h"
#include "virt/shadow_exits.h"
#include "virt/vcpu.h"

#define PFERR_FETCH (1u << 4)
#define RFLAGS_DF (1ull << 10)
#define GUEST_MAXPHYADDR 48 /* what the shadow MMU assumes (shadow_mmu_config.guest_maxphyaddr = 0) */

/*
 * Up to n bytes at gva, read through the guest's own tables (paging NULL:
 * the vCPU's) with one walk per page, as an access of kind pf_access
 * (PFERR_FETCH for an instruction, 0 for a supervisor read); returns how
 * many could be read.
 */
unsigned int shadow_read_guest(struct vcpu *v, const struct guest_paging *paging, uint64_t gva,
			       uint8_t *b, unsigned int n, uint32_t pf_access)
{
	struct guest_mem mem = vcpu_guest_mem(v);
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
	struct guest_mem mem = vcpu_guest_mem(v);
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

/*
 * The len bytes at p, as one load where len is an operand's width (on
 * x86 an unaligned load is one access, as cmpxchg_width's store is), else
 * (a part of a store split across pages) byte by byte.
 */
static uint64_t load_part(const uint8_t *p, unsigned int len)
{
	uint64_t v = 0;

	switch (len) {
	case 8:
		return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
	case 4:
		return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
	case 2:
		return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
	}
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
		if (races) /* emu_execute changed them: the guest's again (emulate_single set the first) */
			vcpu_regs_to_emu(&v->arch.regs, &st->r);
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
 * Walk each part's page for access (PFERR_WRITE: setting the guest's A/D
 * bits); false if the access cannot go on: a #PF injected for the part's
 * first byte, a retry, or the VM stopped.
 */
static bool walk_parts(struct vcpu *v, struct store_part *part, unsigned int nr, uint32_t access,
		       const struct shadow_emulate_frame *fault)
{
	struct guest_mem mem;
	struct guest_paging gp;
	bool have_paging = false; /* read only for a part that needs its walk */

	for (unsigned int k = 0; k < nr; k++) {
		struct store_part *pt = &part[k];
		struct guest_walk w;

		/*
		 * The page that faulted was translated for this write a moment
		 * ago (A and D set): its frame is the fault's, and so is its
		 * host address (a part never leaves its page). A guest that
		 * changes the entry meanwhile races the store as it would race
		 * a walk here (KVM reuses the faulting gpa the same way).
		 */
		if (fault && (pt->gva >> PAGE_SHIFT) == (v->arch.exit.gva >> PAGE_SHIFT)) {
			pt->gfn = fault->gfn;
			pt->gpa = (fault->gfn << PAGE_SHIFT) | (pt->gva & (PAGE_SIZE - 1));
			pt->hva = (uint8_t *)fault->hva + (pt->gva & (PAGE_SIZE - 1));
			continue;
		}
		if (!have_paging) {
			mem = vcpu_guest_mem(v);
			gp = vcpu_guest_paging(v);
			have_paging = true;
		}
		switch (guest_walk(&mem, &gp, GUEST_MAXPHYADDR, pt->gva, access, &w)) {
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

/* The parts of the len bytes at gva: one, or two when they straddle a page. */
static unsigned int split_parts(uint64_t gva, unsigned int len, struct store_part *part)
{
	unsigned int in_page = (unsigned int)(PAGE_SIZE - (gva & (PAGE_SIZE - 1)));

	part[0] = (struct store_part){ .gva = gva, .len = len };
	if (len <= in_page)
		return 1;
	part[0].len = in_page;
	part[1] = (struct store_part){ .gva = (gva | (PAGE_SIZE - 1)) + 1, .len = len - in_page };
	return 2;
}

/* seg's base (EMU_SEG_NONE: none; in 64-bit mode only FS and GS have one), read once. */
static uint64_t seg_base(struct vcpu *v, const struct vcpu_state *vs, int seg)
{
	if (seg < 0 || seg >= 6)
		return 0;
	return vs->code_bits == 64 ? virt->vcpu_seg_base(&v->arch, (unsigned int)seg)
				   : vs->seg_base[seg];
}

/* A linear address: 32 bits outside long mode. */
static uint64_t linear(const struct vcpu_state *vs, uint64_t base, uint64_t ea)
{
	return vs->code_bits == 64 ? base + ea : (uint32_t)(base + ea);
}

static void written_parts(const struct store_part *part, unsigned int nr, struct shadow_written *w)
{
	for (unsigned int k = 0; k < nr; k++)
		w[k] = (struct shadow_written){ .gfn = part[k].gfn,
						.off = (unsigned int)(part[k].gpa & (PAGE_SIZE - 1)),
						.len = part[k].len };
}

/*
 * A write to a page the shadow MMU protects that the instruction at RIP
 * does not name: one the CPU made itself (an event's delivery pushing onto
 * the stack, PUSH's or CALL's implicit store) into a page that is a guest
 * table only to the shadow (a table once, freed and reused; Linux does
 * that with its page-table pages). Nothing to emulate: take the page's
 * shadow pages away (KVM's unprotect-and-retry) and let the access run
 * again. The same one unprotected again and again, with no exit at
 * another RIP between (virt/vcpu.c resets the count), is a page on its own
 * path after all: that stops the VM. Without that reset, an idle loop whose
 * interrupts each pushed onto a reused table page at the one HLT stopped a
 * Linux guest after 8 such interrupts spread over seconds (seen once under
 * a loaded fresh-machine check: linux-qemu-svm-shadow-beside-age).
 */
#define UNPROTECT_RETRIES 8

static void unprotect_and_retry(struct vcpu *v, const char *why)
{
	const struct vcpu_exit *e = &v->arch.exit;
	uint64_t gpa;

	if (v->write_retry.rip == v->arch.regs.rip && v->write_retry.gva == e->gva &&
	    ++v->write_retry.unprotects > UNPROTECT_RETRIES) {
		vcpu_fail(v, "gva 0x%lx (rip 0x%lx): %s, and unprotecting its page %u times did not help",
			  (unsigned long)e->gva, (unsigned long)v->arch.regs.rip, why, UNPROTECT_RETRIES);
		return;
	}
	if (v->write_retry.rip != v->arch.regs.rip || v->write_retry.gva != e->gva) {
		v->write_retry.rip = v->arch.regs.rip;
		v->write_retry.gva = e->gva;
		v->write_retry.unprotects = 1;
	}
	if (!shadow_translate_guest(v, e->gva, PFERR_WRITE, &gpa)) {
		vcpu_fail(v, "gva 0x%lx (rip 0x%lx): %s, and it translates outside guest memory",
			  (unsigned long)e->gva, (unsigned long)v->arch.regs.rip, why);
		return;
	}
	shadow_mmu_zap_range(v->vm->smmu, gpa >> PAGE_SHIFT, (gpa >> PAGE_SHIFT) + 1);
	virt->vcpu_flush_tlb(&v->arch);
}

/* A MOV, an ALU op, XCHG, CMPXCHG, BTS/BTR: one operand, one store. */
static void emulate_single(struct vcpu *v, const struct vcpu_state *vs, const struct emu_insn *in,
			   const struct shadow_emulate_frame *fault)
{
	const struct vcpu_exit *e = &v->arch.exit;
	struct emulated_store st; /* its parts and registers are set below: no zeroing of them first */
	struct shadow_written written[2];
	uint64_t ea;

	st.v = v;
	st.in = in;
	st.applied = false;

	vcpu_regs_to_emu(&v->arch.regs, &st.r);
	ea = linear(vs, seg_base(v, vs, in->mem.seg), emu_effective_address(in, &st.r, v->arch.regs.rip));
	if (e->gva - ea >= in->width) {
		unprotect_and_retry(v, "the instruction's store does not hold the faulting address");
		return;
	}
	st.nr_parts = split_parts(ea, in->width, st.part);
	if (!walk_parts(v, st.part, st.nr_parts, PFERR_WRITE, fault))
		return;
	written_parts(st.part, st.nr_parts, written);
	shadow_mmu_emulated_write(v->vm->smmu, written, st.nr_parts, apply_store, &st);
	if (!st.applied)
		return;
	vcpu_regs_from_emu(&v->arch.regs, &st.r);
	v->arch.regs.rip += in->len;
	v->stats.emulated++;
	/* No shadow entry saw this write: the dirty log must hear of it. */
	for (unsigned int k = 0; k < st.nr_parts; k++)
		vm_dirty_log_write_fault(v->vm, st.part[k].gpa);
}

/*
 * The elements of a MOVS or STOS that one exit emulates: from the one at
 * rDI on, as long as each lies whole in the first one's destination page
 * (and MOVS's source page), right after the one before. An element that
 * straddles a page (either operand) is the batch's only one, in two parts
 * as a single store's. Then part[0] (src[0]) spans every element's bytes,
 * and element k lies at its hva + first + k * step.
 */
struct string_batch {
	const struct emu_insn *in;
	struct store_part dst[2], src[2];
	unsigned int nr_dst, nr_src; /* nr_src 0: STOS */
	uint64_t nr;
	int64_t step;                /* rDI's (and rSI's) step: the width, negative with DF */
	uint64_t dst_first, src_first;
	struct emu_regs r;           /* the guest's, stepped past each element stored */
};

static bool aligned(const uint8_t *p, unsigned int width)
{
	return !((uintptr_t)p & (width - 1));
}

/* One element, atomically when aligned, as a CPU's own element access. */
static uint64_t load_element(const struct store_part *pt, unsigned int nr, const uint8_t *p,
			     unsigned int width)
{
	if (nr == 2)
		return load_part(pt[0].hva, pt[0].len) | load_part(pt[1].hva, pt[1].len) << (8 * pt[0].len);
	if (!aligned(p, width))
		return load_part(p, width);
	switch (width) {
	case 1: return __atomic_load_n(p, __ATOMIC_RELAXED);
	case 2: return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
	case 4: return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
	default: return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
	}
}

static void store_bytes(uint8_t *p, unsigned int len, uint64_t v)
{
	for (unsigned int i = 0; i < len; i++)
		__atomic_store_n(&p[i], (uint8_t)(v >> (8 * i)), __ATOMIC_RELAXED);
}

static void store_element(const struct store_part *pt, unsigned int nr, uint8_t *p,
			  unsigned int width, uint64_t v)
{
	if (nr == 2) {
		store_bytes(pt[0].hva, pt[0].len, v);
		store_bytes(pt[1].hva, pt[1].len, v >> (8 * pt[0].len));
		return;
	}
	if (!aligned(p, width)) {
		store_bytes(p, width, v);
		return;
	}
	switch (width) {
	case 1: __atomic_store_n(p, (uint8_t)v, __ATOMIC_RELAXED); break;
	case 2: __atomic_store_n((uint16_t *)p, (uint16_t)v, __ATOMIC_RELAXED); break;
	case 4: __atomic_store_n((uint32_t *)p, (uint32_t)v, __ATOMIC_RELAXED); break;
	default: __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED); break;
	}
}

/*
 * Under shadow_lock, with the shadow entries of the bytes written gone
 * (shadow_mmu_emulated_write()): the elements one by one, in the CPU's
 * order, so that a MOVS whose source overlaps its destination reads what
 * the elements before it stored. Plain stores that depend on nothing they
 * overwrite: nothing to retry when another vCPU writes the same bytes.
 */
static void apply_string(void *ctx)
{
	struct string_batch *b = ctx;
	unsigned int width = b->in->width;
	bool store;

	for (uint64_t k = 0; k < b->nr; k++) {
		int64_t at = (int64_t)k * b->step;
		uint64_t v = 0;

		if (b->nr_src)
			v = load_element(b->src, b->nr_src, b->src[0].hva + b->src_first + at, width);
		v = emu_execute(b->in, v, &b->r, &store);
		store_element(b->dst, b->nr_dst, b->dst[0].hva + b->dst_first + at, width, v);
	}
}

/* How many elements from the first (at dst0, src0) the batch takes: see struct string_batch. */
static uint64_t batch_elements(const struct vcpu_state *vs, const struct string_batch *b,
			       uint64_t count, uint64_t dst_base, uint64_t src_base)
{
	const struct emu_insn *in = b->in;
	uint64_t dst0 = b->dst[0].gva, src0 = b->src[0].gva, n;
	struct emu_regs r = b->r;
	bool store;

	if (b->nr_dst == 2 || b->nr_src == 2)
		return 1;
	for (n = 1; n < count; n++) {
		uint64_t d, s, want_d = linear(vs, dst0, (uint64_t)((int64_t)n * b->step)),
			       want_s = linear(vs, src0, (uint64_t)((int64_t)n * b->step));

		emu_execute(in, 0, &r, &store); /* rSI, rDI and rCX past element n - 1 */
		d = linear(vs, dst_base, emu_effective_address(in, &r, 0));
		if (d != want_d || (d >> PAGE_SHIFT) != (dst0 >> PAGE_SHIFT) ||
		    (d & (PAGE_SIZE - 1)) + in->width > PAGE_SIZE)
			break; /* rDI wrapped at its address size, or the page ends */
		if (!b->nr_src)
			continue;
		s = linear(vs, src_base, emu_mem_address(&in->src, &r, 0));
		if (s != want_s || (s >> PAGE_SHIFT) != (src0 >> PAGE_SHIFT) ||
		    (s & (PAGE_SIZE - 1)) + in->width > PAGE_SIZE)
			break;
	}
	return n;
}

/*
 * Part 0 of a batch of more than one element: from element 0's bytes to
 * all of theirs, [lo, lo + n * width) of the same page, already walked.
 */
static bool widen_part(struct vcpu *v, struct string_batch *b, struct store_part *pt,
		       uint64_t *first)
{
	uint64_t span = b->nr * b->in->width;
	uint64_t lo = b->step > 0 ? pt->gva : pt->gva + b->in->width - span;

	*first = pt->gva - lo;
	pt->gva = lo;
	pt->gpa -= *first;
	pt->len = (unsigned int)span;
	pt->hva = vm_gpa_to_hva(v->vm, pt->gpa, pt->len);
	if (!pt->hva) {
		vcpu_fail(v, "wild access: gva 0x%lx translates outside guest memory (rip 0x%lx)",
			  (unsigned long)pt->gva, (unsigned long)v->arch.regs.rip);
		return false;
	}
	return true;
}

/*
 * REP STOS and REP MOVS (memset, clear_page, memcpy) onto a protected
 * guest table: the elements in the faulting page, through the path a
 * single store takes, at most a page per exit. With rCX still nonzero the
 * guest goes back to the same RIP and the CPU carries the REP on (the next
 * page is no table, or faults again), as after an interrupt.
 */
static void emulate_string(struct vcpu *v, const struct vcpu_state *vs, const struct emu_insn *in)
{
	const struct vcpu_exit *e = &v->arch.exit;
	struct string_batch b = { .in = in };
	struct shadow_written written[2];
	uint64_t count, dst_base = seg_base(v, vs, in->mem.seg), src_base = 0, dst0, span;

	vcpu_regs_to_emu(&v->arch.regs, &b.r);
	count = emu_string_count(in, &b.r);
	if (!count) { /* REP with rCX 0 stores nothing, so it cannot have faulted: done */
		v->arch.regs.rip += in->len;
		return;
	}
	b.step = b.r.rflags & RFLAGS_DF ? -(int64_t)in->width : (int64_t)in->width;
	dst0 = linear(vs, dst_base, emu_effective_address(in, &b.r, 0));
	/* The fault is the current element's, or (fast strings) one after it. */
	span = count > PAGE_SIZE ? 8 * PAGE_SIZE : count * in->width;
	if ((b.step > 0 ? e->gva - dst0 : dst0 + in->width - 1 - e->gva) >= span) {
		vcpu_fail(v, "the string store at rip 0x%lx writes from 0x%lx (%lu elements of %u bytes), which does not hold the faulting address 0x%lx",
			  (unsigned long)v->arch.regs.rip, (unsigned long)dst0, (unsigned long)count,
			  in->width, (unsigned long)e->gva);
		return;
	}
	b.nr_dst = split_parts(dst0, in->width, b.dst);
	if (in->reads_mem) { /* MOVS */
		src_base = seg_base(v, vs, in->src.seg);
		b.nr_src = split_parts(linear(vs, src_base, emu_mem_address(&in->src, &b.r, 0)),
				       in->width, b.src);
	}
	b.nr = batch_elements(vs, &b, count, dst_base, src_base);
	/* The source first: a #PF on it is the CPU's own (a read), with nothing stored. */
	if (!walk_parts(v, b.src, b.nr_src, 0, NULL) ||
	    !walk_parts(v, b.dst, b.nr_dst, PFERR_WRITE, NULL))
		return;
	if (b.nr > 1 && (!widen_part(v, &b, &b.dst[0], &b.dst_first) ||
			 (b.nr_src && !widen_part(v, &b, &b.src[0], &b.src_first))))
		return;
	written_parts(b.dst, b.nr_dst, written);
	shadow_mmu_emulated_write(v->vm->smmu, written, b.nr_dst, apply_string, &b);
	vcpu_regs_from_emu(&v->arch.regs, &b.r); /* rFLAGS as it was: MOVS and STOS set none */
	if (!in->rep || !emu_string_count(in, &b.r))
		v->arch.regs.rip += in->len;
	v->stats.emulated++;
	for (unsigned int k = 0; k < b.nr_dst; k++)
		vm_dirty_log_write_fault(v->vm, b.dst[k].gpa);
}

/*
 * SHADOW_EMULATE: the guest writes a page table that the written address's
 * own translation uses (or, with CR0.WP = 0 and SMAP, a read-only user
 * page), or keeps faulting on a write the shadow cannot let through
 * (shadow_handle_guest_pf()). Decode the store, find its operand, walk it,
 * and apply it with the shadow MMU's entries for it dropped first, so that
 * no fault builds a shadow entry from a guest entry that is changing.
 *
 * Linux's first such write (6.1, x86_64_start_kernel() ->
 * reset_early_page_tables()) is a string store: "rep stosl" (f3 ab, ECX
 * 0x3fe) from memset(early_top_pgt, 0, 511 * 8), zeroing the live PML4
 * (CR3) that translates the store itself, all but entry 511, which maps
 * the kernel. Every store to a root is on its own path.
 */
void shadow_emulate_write(struct vcpu *v, const struct shadow_emulate_frame *fault)
{
	uint8_t b[EMU_MAX_INSN];
	struct vcpu_state vs;
	struct emu_insn in;
	const char *err;
	char why[96];

	/* The fault came while the CPU delivered an event: its own push. */
	if (v->arch.exit.vectoring & VECTORING_VALID) {
		unprotect_and_retry(v, "a write of an event's delivery");
		return;
	}
	/*
	 * The instruction in the guest's code size, at CS:RIP (virt/fetch.c),
	 * with the state read once (a shadow vCPU's sync is just this read).
	 */
	vcpu_sync_guest_state(v, &vs);
	err = emu_decode(b, vcpu_fetch_insn_at(v, &vs, b, EMU_MAX_INSN), vs.code_bits, &in, why,
			 sizeof(why));
	if (!err && !in.writes_mem)
		err = "not a store to one operand";
	if (err) {
		/*
		 * PUSH, CALL, ENTER and the like (or anything else this
		 * emulator does not know): no emulation, but the page may be
		 * a table only to the shadow, as for an event's push. Its own
		 * path after all, it stops the VM after the retries, naming it.
		 */
		char msg[160];

		fmt_snprintf(msg, sizeof(msg), "a page-table write this emulator cannot do (%s)", err);
		unprotect_and_retry(v, msg);
		return;
	}
	if (emu_is_string(&in))
		emulate_string(v, &vs, &in);
	else
		emulate_single(v, &vs, &in, fault);
}
