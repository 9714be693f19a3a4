// SPDX-License-Identifier: MIT
/*
 * The guest page-table walker (walker.h): the CPU's walk, in software, for
 * the fault path of the shadow MMU. It reads the guest's entries top down;
 * the first entry that is not present, or that sets a reserved bit, ends
 * the walk with a fault; the rights of the entries are ANDed on the way;
 * the leaf's rights and the paging controls decide the access. Only a walk
 * that allows the access sets accessed and dirty bits, each with a cmpxchg
 * on guest memory, so a guest that changes an entry meanwhile never loses
 * its change: the walk starts over instead.
 */
#include "mm/shadow/walker.h"

uint64_t guest_pte_rsvd_mask(const struct guest_paging *gp, unsigned int maxphyaddr,
			     unsigned int level, bool large)
{
	uint64_t rsvd = x86_bits(maxphyaddr, 51);

	if (!gp->nx)
		rsvd |= X86_PTE_NX;
	if (level == 4)
		rsvd |= X86_PTE_PS;
	else if (level == 3 && large)
		rsvd |= x86_bits(13, 29);
	else if (level == 2 && large)
		rsvd |= x86_bits(13, 20);
	return rsvd;
}

/*
 * SDM 4.6.1. A user-mode access needs U/S at every level, R/W for a write
 * and no XD for a fetch; CR0.WP, SMEP and SMAP do not apply to it. A
 * supervisor-mode access (CPL < 3, or an implicit one at CPL 3):
 *  - fetch: no XD, and with SMEP not from a user page;
 *  - data, with SMAP: not to a user page, unless CPL < 3 and RFLAGS.AC;
 *  - write: R/W, unless CR0.WP = 0.
 */
bool guest_access_allowed(const struct guest_paging *gp, unsigned int acc, uint32_t access)
{
	bool write = access & PFERR_WRITE, fetch = access & PFERR_FETCH;
	bool user_page = acc & ACC_USER;

	if (access & PFERR_USER)
		return user_page && (!write || (acc & ACC_WRITE)) && (!fetch || (acc & ACC_EXEC));
	if (fetch)
		return (acc & ACC_EXEC) && !(gp->smep && user_page);
	if (user_page && gp->smap && (gp->cpl == 3 || !gp->ac))
		return false;
	return !write || (acc & ACC_WRITE) || !gp->wp;
}

/* The access bits of the error code; I/D only where NXE or SMEP give fetches a meaning. */
static uint32_t guest_fault_error(const struct guest_paging *gp, uint32_t access)
{
	uint32_t error = access & (PFERR_WRITE | PFERR_USER);

	if ((access & PFERR_FETCH) && (gp->nx || gp->smep))
		error |= PFERR_FETCH;
	return error;
}

static enum guest_walk_result guest_walk_fault(struct guest_walk *w, const struct guest_paging *gp,
					       uint32_t access, uint32_t cause)
{
	w->error = cause | guest_fault_error(gp, access);
	return GUEST_WALK_FAULT;
}

/*
 * Set A in each entry used, top down as the CPU does, and D in the leaf for
 * a write, one cmpxchg per entry that lacks them. Returns false when an
 * entry changed since the walk read it: the walk must start over, since the
 * change may have taken away the access.
 */
static bool guest_walk_set_ad(const struct guest_mem *mem, struct guest_walk *w, bool write,
			      enum guest_walk_result *no_slot)
{
	for (unsigned int level = X86_ROOT_LEVEL; level >= w->level; level--) {
		uint64_t want = w->pte[level] | X86_PTE_A;
		enum guest_mem_result r;

		if (level == w->level && write)
			want |= X86_PTE_D;
		if (want == w->pte[level])
			continue;
		r = mem->cmpxchg(mem->ctx, w->pte_gpa[level], w->pte[level], want);
		if (r == GUEST_MEM_NO_SLOT) {
			w->no_slot_gpa = w->pte_gpa[level];
			*no_slot = GUEST_WALK_NO_SLOT;
			return false;
		}
		if (r == GUEST_MEM_CHANGED)
			return false;
		w->pte[level] = want;
	}
	return true;
}

enum guest_walk_result guest_walk(const struct guest_mem *mem, const struct guest_paging *gp,
				  unsigned int maxphyaddr, uint64_t gva, uint32_t access,
				  struct guest_walk *w)
{
	enum guest_walk_result no_slot;

	w->retries = 0;
retry:
	{
		uint64_t table_gpa = gp->cr3 & X86_PTE_ADDR_MASK & ~x86_bits(maxphyaddr, 63);
		unsigned int acc = ACC_ALL, level;
		uint64_t pte = 0;

		for (level = X86_ROOT_LEVEL; level >= 1; level--) {
			uint64_t gpa = table_gpa + 8 * (uint64_t)x86_pte_index(gva, level);
			bool large;

			w->table_gfn[level] = table_gpa >> PAGE_SHIFT;
			w->pte_gpa[level] = gpa;
			w->pt_access[level] = acc;
			if (mem->read(mem->ctx, gpa, &pte) != GUEST_MEM_OK) {
				w->no_slot_gpa = gpa;
				return GUEST_WALK_NO_SLOT;
			}
			w->pte[level] = pte;
			if (!(pte & X86_PTE_P))
				return guest_walk_fault(w, gp, access, 0);
			large = level <= 3 && level >= 2 && (pte & X86_PTE_PS);
			if (pte & guest_pte_rsvd_mask(gp, maxphyaddr, level, large))
				return guest_walk_fault(w, gp, access, PFERR_PRESENT | PFERR_RSVD);
			acc &= x86_pte_access(pte, gp->nx);
			if (level == 1 || large)
				break;
			table_gpa = pte & X86_PTE_ADDR_MASK;
		}
		w->level = level;
		w->access = acc;
		w->gfn = guest_leaf_gfn(pte, level, gva);
		if (!guest_access_allowed(gp, acc, access))
			return guest_walk_fault(w, gp, access, PFERR_PRESENT);
	}
	no_slot = GUEST_WALK_OK;
	if (!guest_walk_set_ad(mem, w, access & PFERR_WRITE, &no_slot)) {
		if (no_slot == GUEST_WALK_NO_SLOT)
			return GUEST_WALK_NO_SLOT;
		if (++w->retries > GUEST_WALK_MAX_RETRIES)
			return GUEST_WALK_RETRY;
		goto retry;
	}
	return GUEST_WALK_OK;
}
