// SPDX-License-Identifier: MIT
/*
 * The page-table stores shadow paging must emulate (SHADOW_EMULATE): the
 * instruction is fetched through the guest's own tables, decoded and run by
 * virt/emulate.c, and applied to guest memory here with a cmpxchg of its
 * width, so that a racing vCPU's store makes it run again rather than be
 * lost; then the shadow MMU forgets the entries written.
 */
#include "mm/shadow/walker.h"
#include "virt/dirty_log.h"
#include "virt/emulate.h"
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
 * Up to n instruction bytes at gva, fetched through the guest's own tables
 * with one walk per page; returns how many could be read.
 */
unsigned int shadow_fetch_insn(struct vcpu *v, uint64_t gva, uint8_t *b, unsigned int n)
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
void shadow_emulate_write(struct vcpu *v)
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

	err = emu_decode(b, shadow_fetch_insn(v, v->arch.regs.rip, b, EMU_MAX_INSN), &in, why, sizeof(why));
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
			r.gpr[i] = *guest_reg(&v->arch.regs, i);
		r.rflags = v->arch.regs.rflags;
		old = load_width(p, in.width);
		new_val = emu_execute(&in, old, &r, &store);
	} while (store && !cmpxchg_width(p, old, new_val, in.width));
	for (int i = 0; i < 16; i++)
		*guest_reg(&v->arch.regs, i) = r.gpr[i];
	v->arch.regs.rflags = r.rflags;
	v->arch.regs.rip += in.len;
	v->stats.emulated++;
	/* No shadow entry saw this write: the dirty log and the shadow pages must hear of it. */
	vm_dirty_log_write_fault(v->vm, gpa);
	shadow_mmu_guest_table_written(v->vm->smmu, w.gfn, (unsigned int)(gpa & (PAGE_SIZE - 1)),
				       in.width);
}
