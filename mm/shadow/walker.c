// SPDX-License-Identifier: MIT
/*
 * The guest page-table walker (walker.h): the CPU's walk, in software, for
 * the fault path of the shadow MMU, in every paging mode. It reads the
 * guest's entries top down; the first entry that is not present, or that
 * sets a reserved bit, ends the walk with a fault; the rights of the
 * entries are ANDed on the way; the leaf's rights and the paging controls
 * decide the access. Only a walk that allows the access sets accessed and
 * dirty bits, each with a cmpxchg on guest memory, so a guest that changes
 * an entry meanwhile never loses its change: the walk starts over instead.
 */
#include "mm/shadow/walker.h"

enum guest_paging_mode guest_paging_mode_of(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
	if (!(cr0 & X86_CR0_PG))
		return GUEST_PAGING_OFF;
	if (efer & X86_EFER_LMA)
		return GUEST_PAGING_4LEVEL; /* the CPU sets LMA only with PG and PAE */
	return (cr4 & X86_CR4_PAE) ? GUEST_PAGING_PAE : GUEST_PAGING_32BIT;
}

/* XD exists only in the 8-byte entries, and only with EFER.NXE. */
static bool guest_nx(const struct guest_paging *gp)
{
	return gp->nx && gp->mode != GUEST_PAGING_32BIT;
}

uint64_t guest_pte_rsvd_mask(const struct guest_paging *gp, unsigned int maxphyaddr,
			     unsigned int level, bool large)
{
	uint64_t rsvd;

	switch (gp->mode) {
	case GUEST_PAGING_OFF:
		return 0;
	case GUEST_PAGING_32BIT: {
		/* PDE bit 13 + k is address bit 32 + k; PSE-36 gives at most 40 bits. */
		unsigned int pa_bits = maxphyaddr < 32 ? 32 : maxphyaddr;

		if (pa_bits > X86_PSE36_MAX_PHYADDR)
			pa_bits = X86_PSE36_MAX_PHYADDR;
		if (level != 2 || !large)
			return 0;
		return X86_PDE32_4M_RSVD | x86_bits(X86_PDE32_PSE36_SHIFT + pa_bits - 32, 20);
	}
	case GUEST_PAGING_PAE:
		if (level == X86_PAE_ROOT_LEVEL)
			return X86_PDPTE_RSVD_LOW | x86_bits(maxphyaddr, 63); /* XD too */
		rsvd = x86_bits(maxphyaddr, 62);
		break;
	case GUEST_PAGING_4LEVEL:
	default:
		rsvd = x86_bits(maxphyaddr, 51);
		if (level == 4)
			rsvd |= X86_PTE_PS;
		else if (level == 3 && large)
			rsvd |= x86_bits(13, 29);
		break;
	}
	if (!gp->nx)
		rsvd |= X86_PTE_NX;
	if (level == 2 && large)
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
 * The same in every mode that pages (32-bit paging has no XD: the caller's
 * acc always has ACC_EXEC there).
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

/*
 * The access bits of the error code. I/D (SDM 4.7) only for a fetch with
 * SMEP, or with EFER.NXE in PAE or 4-level paging: 32-bit paging's NXE
 * means nothing.
 */
static uint32_t guest_fault_error(const struct guest_paging *gp, uint32_t access)
{
	uint32_t error = access & (PFERR_WRITE | PFERR_USER);

	if ((access & PFERR_FETCH) && (guest_nx(gp) || gp->smep))
		error |= PFERR_FETCH;
	return error;
}

static enum guest_walk_result guest_walk_fault(struct guest_walk *w, const struct guest_paging *gp,
					       uint32_t access, uint32_t cause)
{
	w->error = cause | guest_fault_error(gp, access);
	return GUEST_WALK_FAULT;
}

/* --- entries of either width ----------------------------------------------------- */

/* Where in the aligned 8 bytes at gpa & ~7 the 4-byte entry at gpa is (x86: little-endian). */
static unsigned int pte32_shift(uint64_t gpa)
{
	return (unsigned int)(gpa & 4) * 8;
}

enum guest_mem_result guest_read_pte(const struct guest_mem *mem, enum guest_paging_mode mode,
				     uint64_t gpa, uint64_t *pte)
{
	enum guest_mem_result r;
	uint64_t word;

	if (mode != GUEST_PAGING_32BIT)
		return mem->read(mem->ctx, gpa, pte);
	r = mem->read(mem->ctx, gpa & ~7ULL, &word);
	if (r == GUEST_MEM_OK)
		*pte = guest_pte_of_word(mode, gpa, word);
	return r;
}

/*
 * If the entry at gpa holds old, store new_val. A 4-byte entry: a cmpxchg
 * of the aligned 8 bytes holding it, with the other half as just read; a
 * neighbour that changes meanwhile fails it, and it is tried again with the
 * neighbour's new value (a bounded number of times, then CHANGED: the walk
 * starts over, and counts the retry).
 */
static enum guest_mem_result guest_cmpxchg_pte(const struct guest_mem *mem,
					       enum guest_paging_mode mode, uint64_t gpa,
					       uint64_t old, uint64_t new_val)
{
	uint64_t half = 0xffffffffULL << pte32_shift(gpa);

	if (mode != GUEST_PAGING_32BIT)
		return mem->cmpxchg(mem->ctx, gpa, old, new_val);
	for (unsigned int tries = 0; tries <= GUEST_WALK_MAX_RETRIES; tries++) {
		enum guest_mem_result r;
		uint64_t word;

		r = mem->read(mem->ctx, gpa & ~7ULL, &word);
		if (r != GUEST_MEM_OK)
			return r;
		if (guest_pte_of_word(mode, gpa, word) != old)
			return GUEST_MEM_CHANGED; /* the entry itself changed */
		r = mem->cmpxchg(mem->ctx, gpa & ~7ULL, word,
				 (word & ~half) | (new_val << pte32_shift(gpa)));
		if (r != GUEST_MEM_CHANGED)
			return r;
	}
	return GUEST_MEM_CHANGED;
}

/* A PAE PDPTE: no rights, no A/D; only P, PWT, PCD and the address. */
static bool is_pae_pdpte(enum guest_paging_mode mode, unsigned int level)
{
	return mode == GUEST_PAGING_PAE && level == X86_PAE_ROOT_LEVEL;
}

/*
 * Set A in each entry used from level top down, as the CPU does, and D in
 * the leaf for a write, one cmpxchg per entry that lacks them. Returns
 * false when an entry changed since the walk read it: the walk must start
 * over, since the change may have taken away the access.
 */
static bool guest_walk_set_ad(const struct guest_mem *mem, struct guest_walk *w, unsigned int top,
			      bool write, enum guest_walk_result *no_slot)
{
	for (unsigned int level = top; level >= w->level; level--) {
		uint64_t want = w->pte[level] | X86_PTE_A;
		enum guest_mem_result r;

		if (is_pae_pdpte(w->mode, level))
			continue;
		if (level == w->level && write)
			want |= X86_PTE_D;
		if (want == w->pte[level])
			continue;
		r = guest_cmpxchg_pte(mem, w->mode, w->pte_gpa[level], w->pte[level], want);
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

/* --- the walk ---------------------------------------------------------------------- */

/* The table CR3 points at. */
static uint64_t guest_root_table(const struct guest_paging *gp, unsigned int maxphyaddr)
{
	switch (gp->mode) {
	case GUEST_PAGING_32BIT:
		return gp->cr3 & X86_PTE32_ADDR_MASK;
	case GUEST_PAGING_PAE:
		return gp->cr3 & X86_PAE_CR3_MASK; /* 32-byte aligned, not a page */
	default:
		return gp->cr3 & X86_PTE_ADDR_MASK & ~x86_bits(maxphyaddr, 63);
	}
}

/* Where the entry for la lies in the table of level at table_gpa. */
static uint64_t guest_pte_gpa(enum guest_paging_mode mode, uint64_t table_gpa, uint64_t la,
			      unsigned int level)
{
	if (mode == GUEST_PAGING_32BIT)
		return table_gpa + 4 * (uint64_t)x86_pte32_index(la, level);
	/* PAE's level 3: la < 4 GiB, so the index is bits 31:30, 0..3. */
	return table_gpa + 8 * (uint64_t)x86_pte_index(la, level);
}

/* Does a present entry at level map a page (rather than a table)? */
static bool guest_pte_is_leaf_above_4k(const struct guest_paging *gp, unsigned int level,
				       uint64_t pte)
{
	if (!(pte & X86_PTE_PS))
		return false;
	switch (gp->mode) {
	case GUEST_PAGING_32BIT:
		return level == 2 && gp->pse; /* PS is ignored without CR4.PSE */
	case GUEST_PAGING_PAE:
		return level == 2; /* a PDPTE's bit 7 is reserved */
	default:
		return level == 2 || level == 3;
	}
}

/* CR0.PG = 0: linear is physical (32 bits), and nothing is checked or set. */
static enum guest_walk_result guest_walk_unpaged(uint64_t la, struct guest_walk *w)
{
	for (unsigned int level = 0; level <= X86_ROOT_LEVEL; level++) {
		w->pt_access[level] = ACC_ALL;
		w->pte[level] = 0;
		w->pte_gpa[level] = 0;
		w->pte_word[level] = NULL;
		w->table_gfn[level] = 0;
	}
	w->level = 1;
	w->access = ACC_ALL;
	w->gfn = la >> PAGE_SHIFT;
	return GUEST_WALK_OK;
}

enum guest_walk_result guest_walk(const struct guest_mem *mem, const struct guest_paging *gp,
				  unsigned int maxphyaddr, uint64_t gva, uint32_t access,
				  struct guest_walk *w)
{
	return guest_walk_from(mem, gp, maxphyaddr, gva, access, w, 0);
}

enum guest_walk_result guest_walk_from(const struct guest_mem *mem, const struct guest_paging *gp,
				       unsigned int maxphyaddr, uint64_t gva, uint32_t access,
				       struct guest_walk *w, unsigned int from)
{
	enum guest_paging_mode mode = gp->mode;
	/* Linear addresses are 32 bits outside long mode. */
	uint64_t la = mode == GUEST_PAGING_4LEVEL ? gva : (uint32_t)gva;
	/* 4-level paging: guest_pte_rsvd_mask()'s bits every level has, made once a walk. */
	uint64_t rsvd4 = guest_pte_rsvd_4level_all(maxphyaddr, gp->nx);
	enum guest_walk_result no_slot;

	w->mode = mode;
	w->root_level = guest_paging_root_level(mode);
	w->retries = 0;
	w->error = 0;
	if (mode == GUEST_PAGING_OFF)
		return guest_walk_unpaged(la, w);
	if (from >= w->root_level)
		from = 0;
retry:
	{
		uint64_t table_gpa = guest_root_table(gp, maxphyaddr);
		unsigned int acc = ACC_ALL, level = w->root_level;
		uint64_t pte = 0;

		if (from) { /* the caller's walk above from stands (a table below the root: a page) */
			level = from;
			table_gpa = (uint64_t)w->table_gfn[from] << PAGE_SHIFT;
			acc = w->pt_access[from];
		}
		for (; level >= 1; level--) {
			uint64_t gpa = guest_pte_gpa(mode, table_gpa, la, level);
			bool large;

			w->table_gfn[level] = table_gpa >> PAGE_SHIFT;
			w->pte_gpa[level] = gpa;
			w->pt_access[level] = acc;
			w->pte_word[level] = NULL;
			if (is_pae_pdpte(mode, level) && gp->pdptes_loaded) {
				pte = gp->pdpte[x86_pte_index(la, level) & (X86_PAE_NR_PDPTES - 1)];
			} else if (mem->word) {
				_Atomic uint64_t *word = mem->word(mem->ctx, gpa & ~7ULL);

				if (!word) {
					w->no_slot_gpa = gpa;
					return GUEST_WALK_NO_SLOT;
				}
				w->pte_word[level] = word;
				pte = guest_pte_of_word(mode, gpa,
							atomic_load_explicit(word, memory_order_relaxed));
			} else if (guest_read_pte(mem, mode, gpa, &pte) != GUEST_MEM_OK) {
				w->no_slot_gpa = gpa;
				return GUEST_WALK_NO_SLOT;
			}
			w->pte[level] = pte;
			if (!(pte & X86_PTE_P))
				return guest_walk_fault(w, gp, access, 0);
			large = guest_pte_is_leaf_above_4k(gp, level, pte);
			if (pte & (mode == GUEST_PAGING_4LEVEL ? rsvd4 | guest_pte_rsvd_4level_own(level, large)
							       : guest_pte_rsvd_mask(gp, maxphyaddr, level, large)))
				return guest_walk_fault(w, gp, access, PFERR_PRESENT | PFERR_RSVD);
			if (!is_pae_pdpte(mode, level))
				acc &= x86_pte_access(pte, guest_nx(gp));
			if (level == 1 || large)
				break;
			table_gpa = pte & (mode == GUEST_PAGING_32BIT ? X86_PTE32_ADDR_MASK
								: X86_PTE_ADDR_MASK);
		}
		w->level = level;
		w->access = acc;
		w->gfn = mode == GUEST_PAGING_32BIT ? guest_leaf_gfn32(pte, level, la)
						    : guest_leaf_gfn(pte, level, la);
		if (!guest_access_allowed(gp, acc, access))
			return guest_walk_fault(w, gp, access, PFERR_PRESENT);
	}
	no_slot = GUEST_WALK_OK;
	/* Resumed: the entries above from have A (the caller's vouching). */
	if (!guest_walk_set_ad(mem, w, from ? from : w->root_level, access & PFERR_WRITE, &no_slot)) {
		if (no_slot == GUEST_WALK_NO_SLOT)
			return GUEST_WALK_NO_SLOT;
		if (++w->retries > GUEST_WALK_MAX_RETRIES)
			return GUEST_WALK_RETRY;
		from = 0; /* an entry changed: it may have been one above from */
		goto retry;
	}
	return GUEST_WALK_OK;
}
