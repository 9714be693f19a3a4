// SPDX-License-Identifier: MIT
/*
 * Roots: what a vCPU's hardware CR3 points at. A guest in 4-level paging
 * gets a level-4 shadow page; a guest in PAE or 32-bit paging, or with
 * paging off, gets a PAE-format root: 4 PDPTEs in a 32-byte slot of a
 * per-vCPU page below 4 GiB, each linking a level-2 shadow page (KVM's
 * pae_root). The shadow pages a root links are held by root_count, not by
 * parent links, and the root never changes after its build: the CPU loads
 * PDPTEs at VM entry and does not see later stores, so a root whose page
 * was zapped is replaced by a new one at another address. A vCPU keeps its
 * last few roots, so switching address spaces (or modes) back and forth
 * rebuilds nothing.
 */
#include "mm/shadow/shadow_internal.h"

#define SHADOW_4GIB (1ULL << 32)

/* The role of a root's pages: of page[0] (PAE format: quadrant 0). */
static union shadow_role shadow_root_role(const struct guest_paging *gp)
{
	union shadow_role role = { .word = 0 };

	role.mode = gp->mode;
	role.access = ACC_ALL;
	if (gp->mode == GUEST_PAGING_OFF) {
		/* linear = physical: direct pages, and no control changes a thing */
		role.level = SHADOW_PAE_TOP_LEVEL;
		role.direct = 1;
		role.dirty = 1;
		return role;
	}
	role.level = gp->mode == GUEST_PAGING_4LEVEL ? X86_ROOT_LEVEL : SHADOW_PAE_TOP_LEVEL;
	role.cr0_wp = gp->wp;
	role.efer_nx = gp->nx && gp->mode != GUEST_PAGING_32BIT; /* no XD in 4-byte entries */
	role.smep_andnot_wp = gp->smep && !gp->wp;
	role.smap_andnot_wp = gp->smap && !gp->wp;
	role.pse = gp->mode == GUEST_PAGING_32BIT && gp->pse;
	return role;
}

/* The guest table CR3 points at, as the walker reads it (walker.c: guest_root_table()). */
static uint64_t shadow_guest_root_table(const struct shadow_mmu *m, const struct guest_paging *gp)
{
	switch (gp->mode) {
	case GUEST_PAGING_OFF:
		return 0;
	case GUEST_PAGING_32BIT:
		return gp->cr3 & X86_PTE32_ADDR_MASK;
	case GUEST_PAGING_PAE:
		return gp->cr3 & X86_PAE_CR3_MASK;
	case GUEST_PAGING_4LEVEL:
		break;
	}
	return gp->cr3 & X86_PTE_ADDR_MASK & ~x86_bits(m->cfg.guest_maxphyaddr, 63);
}

/*
 * The key of the root gp needs: role, guest table and, for a PAE guest,
 * the PDPTEs: gp's own if loaded, else what memory holds now (a CR3
 * load); one that cannot be read counts as not present.
 */
static void shadow_root_key(const struct shadow_mmu *m, const struct guest_paging *gp,
			    struct shadow_root *key)
{
	*key = (struct shadow_root){ .role = shadow_root_role(gp),
				     .guest_table = shadow_guest_root_table(m, gp) };
	if (gp->mode != GUEST_PAGING_PAE)
		return;
	for (unsigned int i = 0; i < X86_PAE_NR_PDPTES; i++) {
		if (gp->pdptes_loaded)
			key->gpdpte[i] = gp->pdpte[i];
		else if (m->guest_mem.read(m->guest_mem.ctx, key->guest_table + 8 * i,
					   &key->gpdpte[i]) != GUEST_MEM_OK)
			key->gpdpte[i] = 0;
	}
}

static bool shadow_root_matches(const struct shadow_root *r, const struct shadow_root *key)
{
	if (!shadow_root_live(r) || r->role.word != key->role.word ||
	    r->guest_table != key->guest_table)
		return false;
	for (unsigned int i = 0; i < X86_PAE_NR_PDPTES; i++)
		if (r->gpdpte[i] != key->gpdpte[i])
			return false;
	return true;
}

/* A root page for (gfn, role), held by the root; NULL when gfn lies beyond guest memory. */
static struct shadow_page *shadow_get_root_page(struct shadow_op *op, gfn_t gfn,
						union shadow_role role)
{
	struct shadow_page *sp;

	if (gfn >= op->mmu->cfg.gfn_limit)
		return NULL; /* the walk ends there with NO_SLOT, before any shadow is needed */
	sp = shadow_get_page(op, gfn, role);
	sp->root_count++;
	return sp;
}

static shadow_ptep_t shadow_pae_slot(const struct shadow_vcpu *sv, unsigned int slot)
{
	return (shadow_ptep_t)((char *)sv->pae_page + slot * SHADOW_PAE_ROOT_BYTES);
}

/*
 * The PAE-format root for key: a free slot (never the current root's, so
 * the hardware CR3 changes with the PDPTEs) and its level-2 pages.
 */
static void shadow_build_pae_root(struct shadow_op *op, struct shadow_root *r)
{
	struct shadow_vcpu *sv = op->sv;
	union shadow_role role = r->role;
	unsigned int slot = 0;

	BUG_ON(!sv->pae_page); /* shadow_vcpu_prepare_roots() before the locks */
	while (sv->pae_slots_used & (1u << slot))
		slot++;
	BUG_ON(slot >= SHADOW_PAE_ROOT_SLOTS); /* the vCPU holds at most 1 + SHADOW_PREV_ROOTS */
	sv->pae_slots_used |= 1u << slot;
	r->slot = slot;
	for (unsigned int i = 0; i < X86_PAE_NR_PDPTES; i++) {
		switch ((enum guest_paging_mode)role.mode) {
		case GUEST_PAGING_OFF:
			/* Guest-physical GiB i, mapped 1:1. */
			r->page[i] = shadow_get_root_page(op, (gfn_t)i << (2 * X86_LEVEL_BITS), role);
			break;
		case GUEST_PAGING_32BIT:
			/* The guest PD's PDEs [256i, 256i + 256): GiB i. */
			role.quadrant = i;
			r->page[i] = shadow_get_root_page(op, r->guest_table >> PAGE_SHIFT, role);
			break;
		case GUEST_PAGING_PAE: {
			struct guest_paging gp = { .mode = GUEST_PAGING_PAE, .nx = role.efer_nx };
			uint64_t pdpte = r->gpdpte[i];

			/* Not present or reserved: a not-present PDPTE, the walk's #PF follows. */
			if (!(pdpte & X86_PTE_P) ||
			    (pdpte & guest_pte_rsvd_mask(&gp, op->mmu->cfg.guest_maxphyaddr,
							 X86_PAE_ROOT_LEVEL, false)))
				r->page[i] = NULL;
			else
				r->page[i] = shadow_get_root_page(op, (pdpte & X86_PTE_ADDR_MASK) >>
									  PAGE_SHIFT, role);
			break;
		}
		case GUEST_PAGING_4LEVEL:
			BUG_ON(1);
		}
	}
	shadow_set_pae_pdptes(shadow_pae_slot(sv, slot), r->page);
	r->pa = platform_virt_to_phys(shadow_pae_slot(sv, slot));
	BUG_ON(r->pa >= SHADOW_4GIB || (r->pa & (SHADOW_PAE_ROOT_BYTES - 1)));
}

static void shadow_build_root(struct shadow_op *op, struct shadow_root *r)
{
	shadow_xstat_inc(op->mmu, roots_created);
	if (shadow_root_is_pae(r)) {
		shadow_build_pae_root(op, r);
		return;
	}
	r->page[0] = shadow_get_page(op, r->guest_table >> PAGE_SHIFT, r->role);
	r->page[0]->root_count++;
	r->pa = sp_table_pa(r->page[0]);
}

void shadow_put_root(struct shadow_op *op, struct shadow_page *sp)
{
	shadow_assert_locked(op->mmu);
	BUG_ON(!sp->root_count);
	if (--sp->root_count)
		return;
	if (!sp->zapped && op->teardown)
		return; /* the last vCPU: shadow_mmu_destroy() zaps it with the rest */
	if (!sp->zapped) {
		shadow_zap_page(op, sp); /* unreferenced now: goes with everything below it */
		return;
	}
	/* Zapped while in use (frozen since): its last CR3 user has let go. */
	sp->free_next = op->zapped;
	op->zapped = sp;
	op->flush = true;
}

/*
 * The vCPU lets go of root r: its pages' counts, and its slot. The slot
 * is not in the hardware CR3 any more: r is not the current root, or the
 * vCPU is going (its own calls only).
 *
 * A freed slot may come back as a later root at the same address, with
 * other PDPTEs; the backend flushes the vCPU's TLB only when the address
 * differs from the one it last entered with, which that later root's may
 * not. So letting go of a slot owes a flush (the remote flush reaches
 * this vCPU before it next enters), as letting go of a 4-level root does
 * when its page is zapped. A root whose pages go is flushed for anyway.
 */
static void shadow_release_root(struct shadow_op *op, struct shadow_root *r)
{
	static struct shadow_page *const none[X86_PAE_NR_PDPTES];

	for (unsigned int i = 0; i < X86_PAE_NR_PDPTES; i++)
		if (r->page[i])
			shadow_put_root(op, r->page[i]);
	if (shadow_root_is_pae(r)) {
		shadow_set_pae_pdptes(shadow_pae_slot(op->sv, r->slot), none);
		op->sv->pae_slots_used &= ~(1u << r->slot);
		if (!op->teardown)
			op->flush = true;
	}
	*r = (struct shadow_root){ .pa = 0 };
}

/* The current root is right for gp (outside PAE paging: its PDPTEs are not in root_for). */
static void shadow_root_found_for(struct shadow_root_for *f, const struct guest_paging *gp)
{
	*f = (struct shadow_root_for){ .valid = gp->mode != GUEST_PAGING_PAE, .cr3 = gp->cr3,
				       .mode = gp->mode, .wp = gp->wp, .nx = gp->nx,
				       .smep = gp->smep, .smap = gp->smap, .pse = gp->pse };
}

/*
 * shadow_switch_root() past its inline answer (the current root, found
 * right for these controls before and not zapped since). The old root,
 * if another is the right one, becomes the newest previous one; the
 * oldest previous one, and any whose page was zapped meanwhile, are let
 * go. The new root is built before any is let go, so the pages they share
 * stay. Returns false if the root was right.
 */
bool shadow_switch_root_slow(struct shadow_op *op, const struct guest_paging *gp)
{
	struct shadow_vcpu *sv = op->sv;
	struct shadow_root key, left[SHADOW_PREV_ROOTS + 1];
	unsigned int nr = 0, kept = 0;
	bool found = false;

	shadow_assert_locked(op->mmu);
	/*
	 * Outside PAE the key has no PDPTEs (they are 0 in both), so the role
	 * and the guest table decide without building one.
	 */
	if (gp->mode != GUEST_PAGING_PAE && sv->root.role.word == shadow_root_role(gp).word &&
	    sv->root.guest_table == shadow_guest_root_table(op->mmu, gp) &&
	    shadow_root_live(&sv->root)) {
		shadow_root_found_for(&sv->root_for, gp);
		return false;
	}
	shadow_root_key(op->mmu, gp, &key);
	if (shadow_root_matches(&sv->root, &key)) {
		shadow_root_found_for(&sv->root_for, gp);
		return false;
	}
	for (unsigned int i = 0; i < SHADOW_PREV_ROOTS; i++) {
		if (!found && shadow_root_matches(&sv->prev_roots[i], &key)) {
			key = sv->prev_roots[i];
			sv->prev_roots[i].pa = 0;
			found = true;
		}
	}
	if (!found)
		shadow_build_root(op, &key);
	/* Newest first: the root we leave, then the previous ones. */
	if (sv->root.pa)
		left[nr++] = sv->root;
	for (unsigned int i = 0; i < SHADOW_PREV_ROOTS; i++)
		if (sv->prev_roots[i].pa)
			left[nr++] = sv->prev_roots[i];
	sv->root = key;
	for (unsigned int i = 0; i < nr; i++) {
		if (!shadow_root_live(&left[i]) || kept == SHADOW_PREV_ROOTS)
			shadow_release_root(op, &left[i]);
		else
			sv->prev_roots[kept++] = left[i];
	}
	while (kept < SHADOW_PREV_ROOTS)
		sv->prev_roots[kept++].pa = 0;
	shadow_root_found_for(&sv->root_for, gp);
	return true;
}

/* Every root the vCPU holds goes (its destroy). */
void shadow_vcpu_release_roots(struct shadow_op *op)
{
	struct shadow_vcpu *sv = op->sv;

	sv->root_for.valid = false;
	if (sv->root.pa)
		shadow_release_root(op, &sv->root);
	for (unsigned int i = 0; i < SHADOW_PREV_ROOTS; i++)
		if (sv->prev_roots[i].pa)
			shadow_release_root(op, &sv->prev_roots[i]);
}

/*
 * Outside the locks, before a call that may build a root for gp: the
 * vCPU's caches, and for a PAE-format root its page below 4 GiB.
 */
bool shadow_vcpu_prepare_roots(struct shadow_vcpu *sv, const struct guest_paging *gp)
{
	const struct shadow_mmu *m = sv->mmu;

	if (shadow_root_format_for(gp->mode) == SHADOW_ROOT_PAE && !sv->pae_page) {
		void *page = m->cfg.alloc_low_page ? m->cfg.alloc_low_page(m->owner)
						   : page_alloc_zeroed(0);

		if (!page)
			return false;
		/*
		 * A PAE CR3 is 32 bits. A machine whose allocator hands out a
		 * page above 4 GiB here cannot run this guest's mode: the call
		 * fails as out of memory and the caller stops the VM (never the
		 * host: the guest chooses its paging mode).
		 */
		if (platform_virt_to_phys(page) + PAGE_SIZE > SHADOW_4GIB) {
			if (m->cfg.free_low_page)
				m->cfg.free_low_page(m->owner, page);
			else
				page_free(page, 0);
			return false;
		}
		sv->pae_page = page;
	}
	return shadow_vcpu_topup(sv);
}

/*
 * A PAE guest whose caller does not load the PDPTEs: its faults walk with
 * the PDPTEs the current root was built from, as the CPU walks with those
 * of its last CR3 load (the root's build read them then).
 */
void shadow_root_loaded_pdptes(const struct shadow_vcpu *sv, struct guest_paging *gp)
{
	const struct shadow_root *r = &sv->root;

	if (gp->mode != GUEST_PAGING_PAE || gp->pdptes_loaded || !r->pa ||
	    r->role.mode != GUEST_PAGING_PAE || r->guest_table != (gp->cr3 & X86_PAE_CR3_MASK))
		return;
	gp->pdptes_loaded = true;
	for (unsigned int i = 0; i < X86_PAE_NR_PDPTES; i++)
		gp->pdpte[i] = r->gpdpte[i];
}

uint64_t shadow_mmu_load_cr3(struct shadow_mmu *m, struct shadow_vcpu *sv,
			     const struct guest_paging *gp)
{
	struct shadow_op op;
	uint64_t pa;

	if (!shadow_vcpu_prepare_roots(sv, gp))
		return 0;
	shadow_op_begin(&op, m, sv, m->cfg.policy.lock_exclusive ? SHADOW_LOCK_WRITE : SHADOW_LOCK_READ,
			true);
	shadow_switch_root(&op, gp);
	pa = sv->root.pa;
	shadow_op_end(&op);
	return pa;
}

uint64_t shadow_vcpu_root_pa(const struct shadow_vcpu *sv)
{
	return sv->root.pa;
}

const uint64_t *shadow_vcpu_root_pa_word(const struct shadow_vcpu *sv)
{
	return &sv->root.pa;
}

enum shadow_root_format shadow_vcpu_root_format(const struct shadow_vcpu *sv)
{
	if (!sv->root.pa)
		return SHADOW_ROOT_NONE;
	return shadow_root_is_pae(&sv->root) ? SHADOW_ROOT_PAE : SHADOW_ROOT_4LEVEL;
}
