// SPDX-License-Identifier: MIT
/*
 * The fault path. The guest walk (with its A/D updates) and the memslot
 * lookup run under no lock; then, under mmu_lock (read, or write with
 * mmu_lock=exclusive) and shadow_lock, the path of shadow pages for gva is
 * found or built from the root down, and the 4 KiB leaf installed.
 *
 * The walk may be stale by then: another vCPU may have changed a guest
 * entry. Each guest table on the path has a shadow page by the time its
 * entry is read again, so it is write-protected (and flushed); an entry
 * that still holds what the walk read cannot change before the shadow
 * built from it is zapped. One that differs sends the guest back to fault
 * again (KVM's gpte_changed check).
 *
 * A write to a guest table zaps its shadow pages first, which unprotects
 * it, and maps it writable: the guest's write then goes through. Only when
 * the table is on the written address's own path is that impossible, and
 * the caller must emulate (so too for one CR0.WP = 0 case, below).
 *
 * Every guest paging mode goes through the same path. Shadow levels are
 * the guest's: under a PAE-format root the path starts at the level-2
 * page of gva's PDPTE. A 32-bit guest's tables hold 1024 4-byte entries,
 * so a level-2 shadow page shadows a quarter of its PD (quadrant = gva
 * bits 31:30, each 4 MiB PDE giving two 2 MiB shadow PDEs) and a level-1
 * page half of a PT (quadrant = gva bit 21); a 4 MiB page is two direct
 * pages, one per 2 MiB half. With paging off every page is direct.
 */
#include "mm/shadow/shadow_internal.h"

/*
 * A write to a guest table that the translation of the written address
 * goes through. Not a PAE guest's PDPT: no shadow page shadows it (the
 * root holds its PDPTEs as loaded), so writing it zaps nothing on the path.
 */
static bool shadow_is_self_change(const struct guest_walk *w)
{
	if (w->mode == GUEST_PAGING_4LEVEL) /* the common case, unrolled: no PDPT */
		return w->table_gfn[4] == w->gfn || w->table_gfn[3] == w->gfn ||
		       (w->level <= 2 && w->table_gfn[2] == w->gfn) ||
		       (w->level == 1 && w->table_gfn[1] == w->gfn);
	for (unsigned int level = w->root_level; level >= w->level && level > 0; level--)
		if (w->table_gfn[level] == w->gfn &&
		    !(w->mode == GUEST_PAGING_PAE && level == X86_PAE_ROOT_LEVEL))
			return true;
	return false;
}

/* Is the guest's leaf dirty? With paging off there is none, and nothing to emulate. */
static bool shadow_guest_leaf_dirty(const struct guest_walk *w)
{
	return w->mode == GUEST_PAGING_OFF || (w->pte[w->level] & X86_PTE_D);
}

/*
 * CR0.WP = 0 and a supervisor write to a read-only user page: the leaf
 * would become supervisor-only and writable (shadow_make_leaf()), and with
 * SMAP on, later supervisor accesses with RFLAGS.AC clear would then go
 * through where the guest's SMAP forbids them. KVM accepts that; here the
 * write is emulated instead.
 */
static bool shadow_wp_trick_bypasses_smap(const struct guest_paging *gp,
					  const struct guest_walk *w, uint32_t access)
{
	return gp->smap && !(access & PFERR_USER) && (w->access & ACC_USER) &&
	       !(w->access & ACC_WRITE);
}

/*
 * Does the guest entry at level still hold what the walk read? One load
 * where the walk kept the entry's address (a gfn's frame never moves while
 * the MMU lives).
 */
static bool shadow_gpte_unchanged(struct shadow_mmu *m, const struct guest_walk *w,
				  unsigned int level)
{
	_Atomic uint64_t *word = w->pte_word[level];
	uint64_t cur;

	if (word)
		return guest_pte_of_word(w->mode, w->pte_gpa[level],
					 atomic_load_explicit(word, memory_order_relaxed)) ==
		       w->pte[level];
	return guest_read_pte(&m->guest_mem, w->mode, w->pte_gpa[level], &cur) == GUEST_MEM_OK &&
	       cur == w->pte[level];
}

/*
 * The shadow leaf for this fault. Its rights are the guest's, with three
 * changes. W only once the guest's D is set (or this is the write that
 * sets it), so the first write faults and the walker sets D; not while the
 * gfn is a guest table or the slot logs dirty pages (a read then). And
 * with CR0.WP = 0 (the hardware's is 1) a supervisor write the guest
 * allows to a read-only page maps it writable but supervisor-only, with NX
 * too under SMEP, or the kernel could then run user code (KVM's trick):
 * a later user access faults and gets the plain mapping back.
 */
static uint64_t shadow_make_leaf(const struct guest_paging *gp, const struct guest_walk *w,
				 const struct mmu_pfn_info *info, uint32_t access, bool tracked)
{
	uint64_t gpte = w->pte[w->level];
	bool write = access & PFERR_WRITE;
	unsigned int acc = w->access;
	uint64_t spte = X86_PTE_P | X86_PTE_A | (info->pfn << PAGE_SHIFT) |
			(gpte & (X86_PTE_PWT | X86_PTE_PCD));

	if (write && !(access & PFERR_USER) && !(acc & ACC_WRITE)) {
		acc = (acc | ACC_WRITE) & ~ACC_USER;
		if (gp->smep)
			acc &= ~ACC_EXEC;
	}
	if (gpte & (w->level == 1 ? X86_PTE_PAT_4K : X86_PTE_PAT_HUGE))
		spte |= X86_PTE_PAT_4K;
	if (acc & ACC_USER)
		spte |= X86_PTE_US;
	if (!(acc & ACC_EXEC))
		spte |= X86_PTE_NX;
	if ((acc & ACC_WRITE) && info->writable && !tracked &&
	    (write || (shadow_guest_leaf_dirty(w) && !info->dirty_logging)))
		spte |= X86_PTE_RW | (write ? X86_PTE_D : 0);
	return spte;
}

/*
 * Would the CPU (CR0.WP = 1, EFER.NXE = 1, the guest's SMEP/SMAP, none
 * with its paging off) allow access through spte?
 */
static bool shadow_spte_allows(const struct guest_paging *gp, uint64_t spte, uint32_t access)
{
	struct guest_paging hw = *gp;

	hw.wp = true;
	if (gp->mode == GUEST_PAGING_OFF)
		hw.smep = hw.smap = false;
	return is_shadow_present(spte) &&
	       guest_access_allowed(&hw, x86_pte_access(spte, true), access);
}

/* --- the walk hint (struct shadow_walk_hint) ----------------------------------- */

/* What the guest table of level maps: gva >> this picks it. */
static unsigned int shadow_hint_region_shift(unsigned int level)
{
	return PAGE_SHIFT + level * X86_LEVEL_BITS;
}

/*
 * Before the walk, under no lock: may this fault start its guest walk at
 * the hint's table? The same CR3, NXE and table, and each guest entry
 * above it still what the recorded walk read (with its A bit): the walk
 * from the root would read the same, at this moment.
 */
static bool shadow_hint_usable(const struct shadow_walk_hint *h, const struct guest_paging *gp,
			       uint64_t gva)
{
	const struct guest_walk *w = &h->walk;

	if (!h->level || gp->mode != GUEST_PAGING_4LEVEL || gp->cr3 != h->cr3 || gp->nx != h->nx ||
	    gva >> h->shift != h->region)
		return false;
	/* The entries above the hint's table, unrolled: level 4 always, 3 and 2 when below. */
	return atomic_load_explicit(w->pte_word[4], memory_order_relaxed) == w->pte[4] &&
	       (h->level > 2 ||
		atomic_load_explicit(w->pte_word[3], memory_order_relaxed) == w->pte[3]) &&
	       (h->level > 1 ||
		atomic_load_explicit(w->pte_word[2], memory_order_relaxed) == w->pte[2]);
}

/*
 * After a fault of a 4-level guest that took the whole way: its walk and
 * path. Every fault walks in h->walk itself: one that goes on from the
 * hint's table over the entries below that table only (those above stay
 * the hint's); one without a usable hint, or whose walk had to start
 * again from the root, clears the hint first (its walk rewrites it) and
 * leaves it cleared unless this records it. So nothing is copied here.
 */
static void shadow_hint_record(const struct shadow_mmu *m, struct shadow_walk_hint *h,
			       const struct guest_paging *gp, uint64_t gva,
			       struct shadow_page *const path[X86_ROOT_LEVEL + 1])
{
	const struct guest_walk *w = &h->walk;

	h->level = 0;
	if (w->mode != GUEST_PAGING_4LEVEL || w->level >= X86_ROOT_LEVEL)
		return;
	for (unsigned int level = X86_ROOT_LEVEL; level >= w->level; level--)
		if (!w->pte_word[level])
			return; /* the guest memory gives no addresses (a unit test's) */
	h->cr3 = gp->cr3;
	h->nx = gp->nx;
	h->shift = shadow_hint_region_shift(w->level);
	h->region = gva >> h->shift;
	h->table = (_Atomic uint64_t *)((uintptr_t)w->pte_word[w->level] &
					~(uintptr_t)(PAGE_SIZE - 1));
	h->rsvd = guest_pte_rsvd_4level_all(m->cfg.guest_maxphyaddr, gp->nx) |
		  guest_pte_rsvd_4level_own(w->level, w->level > 1);
	/* No path (a walk that ended in SHADOW_EMULATE): no page to compare with, the lookup decides. */
	for (unsigned int level = 1; level <= X86_ROOT_LEVEL; level++)
		h->sp[level] = path ? path[level] : NULL;
	h->direct = path && path[1]->role.direct;
	h->dirty = path && path[1]->role.dirty;
	h->level = w->level;
}

/*
 * A usable hint (shadow_hint_usable()), in the plain case: the guest's
 * entry in the hint's table is a present leaf (a 4 KiB one at level 1, PS
 * set above) with no reserved bit, and allows the access. Then it is read
 * through the hint's table words and given A (and D for a write) with one
 * cmpxchg, as guest_walk_set_ad() would, and the hint's walk becomes this
 * fault's at that level: what guest_walk_from() resumed there would make
 * of it. Anything else (a table below, a fault to inject, a lost cmpxchg)
 * returns false with the walk untouched, for guest_walk_from() to see as
 * the CPU would.
 */
static bool shadow_hint_walk_leaf(struct shadow_mmu *m, struct shadow_walk_hint *h,
				  const struct guest_paging *gp, uint64_t gva, uint32_t access)
{
	struct guest_walk *w = &h->walk;
	unsigned int level = h->level, index = x86_pte_index(gva, level), acc;
	_Atomic uint64_t *word = &h->table[index];
	uint64_t pte = atomic_load_explicit(word, memory_order_relaxed), want;

	if (!(pte & X86_PTE_P) || (pte & h->rsvd) || (level > 1 && !(pte & X86_PTE_PS)))
		return false;
	acc = w->pt_access[level] & x86_pte_access(pte, gp->nx);
	if (!guest_access_allowed(gp, acc, access))
		return false;
	want = pte | X86_PTE_A | (access & PFERR_WRITE ? X86_PTE_D : 0);
	if (want != pte) {
		if (!atomic_compare_exchange_strong(word, &pte, want))
			return false;
		shadow_mark_dirty(m, w->table_gfn[level]); /* as shadow_guest_cmpxchg() */
	}
	w->pte[level] = want;
	w->pte_gpa[level] = ((uint64_t)w->table_gfn[level] << PAGE_SHIFT) + 8 * (uint64_t)index;
	w->pte_word[level] = word;
	w->level = level;
	w->access = acc;
	w->gfn = guest_leaf_gfn(want, level, gva);
	w->retries = 0;
	w->error = 0;
	shadow_xstat_inc(m, hinted_walks);
	return true;
}

/*
 * Under shadow_lock: from the root down to level 1, find or build each
 * shadow page of the path and link it, checking each guest entry once its
 * table is protected; then install the leaf. With hinted (the walk went on
 * from the hint's level-1 table), a level whose live link still points at
 * the hint's page goes down it without the hash: the same page the lookup
 * would find, since a live link to an indirect page always shadows the
 * table the protected guest entry names, with the rights above it. The
 * first link that differs hands over to the lookup.
 */
static enum shadow_fault_result shadow_fetch(struct shadow_op *op, const struct guest_paging *gp,
					     const struct guest_walk *w, uint64_t gva,
					     const struct mmu_pfn_info *info,
					     struct shadow_gfn_meta *meta, uint32_t access,
					     bool hinted)
{
	struct shadow_mmu *m = op->mmu;
	struct shadow_walk_hint *hint = &op->sv->hint;
	struct shadow_page *path[X86_ROOT_LEVEL + 1] = { NULL };
	unsigned int level;
	struct shadow_page *sp = shadow_root_top(&op->sv->root, gva, &level);
	shadow_ptep_t sptep;
	uint64_t old, leaf;

	shadow_assert_locked(m);
	/* A PAE guest's PDPTE the walk went through made a level-2 page (shadow_root.c). */
	BUG_ON(!sp);
	/*
	 * The hint's direct pages (inside a guest huge page) are for the guest
	 * leaf's D bit as it was, which a walk sets without a write the
	 * protection sees (this one, if it is the first write through a clean
	 * leaf): with another D now, the lookup finds the pages for it.
	 */
	if (hinted && hint->direct && hint->dirty != shadow_guest_leaf_dirty(w))
		hinted = false;
	if (hinted) {
		/*
		 * A hinted walk is a 4-level guest's, and kept every entry's
		 * word (shadow_hint_record()): each check is one load.
		 */
		for (; level > 1 && sp == hint->sp[level]; level--) {
			uint64_t spte;

			if (!sp->role.direct &&
			    atomic_load_explicit(w->pte_word[level], memory_order_relaxed) != w->pte[level])
				return SHADOW_RETRY;
			spte = atomic_load_explicit(&sp_table(sp)[x86_pte_index(gva, level)],
						    memory_order_relaxed);
			if (!is_shadow_present(spte) || spte_to_child(spte) != hint->sp[level - 1])
				break;
			path[level] = sp;
			sp = hint->sp[level - 1];
		}
		hinted = level == 1 && sp == hint->sp[1];
		if (hinted)
			shadow_op_xstat_inc(op, hinted_faults);
	}
	for (; level > 1; level--) {
		union shadow_role role = sp->role;
		struct shadow_page *child;
		gfn_t child_gfn;
		uint64_t spte;

		/* An indirect sp shadows the guest table the walk read at level (level >= w->level). */
		if (!sp->role.direct && !shadow_gpte_unchanged(m, w, level))
			return SHADOW_RETRY;
		role.level = level - 1;
		role.quadrant = 0;
		if (!sp->role.direct && level > w->level) {
			/* The guest entry links a table: shadow it, with the rights above it. */
			role.access = w->pt_access[level - 1];
			child_gfn = (w->pte[level] & X86_PTE_ADDR_MASK) >> PAGE_SHIFT;
			if (w->mode == GUEST_PAGING_32BIT) /* which half of the 1024-entry PT */
				role.quadrant = x86_pte32_index(gva, 1) / X86_PTES_PER_TABLE;
		} else {
			/*
			 * Inside a guest huge page (a 4 MiB one is two), or paging
			 * off: a direct page maps its 4 KiB frames.
			 */
			role.direct = 1;
			role.dirty = shadow_guest_leaf_dirty(w);
			role.access = w->access;
			child_gfn = w->gfn & ~(x86_pages_per_level(level) - 1);
		}
		path[level] = sp;
		child = shadow_get_page(op, child_gfn, role);
		sptep = &sp_table(sp)[x86_pte_index(gva, level)];
		spte = atomic_load_explicit(sptep, memory_order_relaxed);
		if (is_shadow_present(spte) && spte_to_child(spte) != child) {
			shadow_set_spte(op, sptep, 0); /* cannot happen while the guest entry is protected */
			spte = 0;
		}
		if (!is_shadow_present(spte))
			shadow_set_spte(op, sptep, SHADOW_NONLEAF_BITS | sp_table_pa(child));
		sp = child;
	}
	if (!sp->role.direct && !shadow_gpte_unchanged(m, w, 1))
		return SHADOW_RETRY;
	sptep = &sp_table(sp)[x86_pte_index(gva, 1)];
	old = atomic_load_explicit(sptep, memory_order_relaxed);
	/* Read now, after the pages above were made: one of them may shadow w->gfn. */
	leaf = shadow_make_leaf(gp, w, info, access, meta->write_track);
	if (shadow_spte_pfn(old) == info->pfn && shadow_spte_allows(gp, old, access)) {
		shadow_op_stat_inc(op, faults_spurious); /* another vCPU was quicker */
		return SHADOW_FIXED;
	}
	if (is_shadow_present(old) || is_removed_spte(old) ||
	    !shadow_fill_empty_leaf(op, sptep, w->gfn, meta, leaf))
		shadow_set_leaf(op, sptep, w->gfn, leaf);
	shadow_op_stat_inc(op, faults_fixed);
	shadow_op_stat_inc(op, leaves_mapped[PG_LEVEL_4K]);
	if (!hinted) {
		path[1] = sp;
		shadow_hint_record(m, hint, gp, gva, path); /* w is hint->walk */
	}
	return SHADOW_FIXED;
}

/*
 * A write the CPU refused through a present shadow leaf, to one of the
 * guest tables on the written address's own shadow path (a guest that
 * writes a live table through a mapping of it): the emulation's case,
 * found without a walk of the guest's tables. The shadow path stands for
 * the guest's entries above the leaf's table: each link was made by a walk
 * that set their A bits, and any write to a shadowed entry drops the link
 * below it (shadow_forget_written), so a present link means the entry is
 * what that walk read; a present entry for gva in each page also says it
 * was not zapped. The leaf's own entry is read now, and must allow
 * the access with A and D set already (the walk would set them: a leaf
 * that lacks one takes the walk), map a frame of guest memory that is
 * writable, and have no reserved bit set. The answer is then the walk's:
 * SHADOW_EMULATE with that frame. Anything else (a link missing, a root
 * not for these controls, another paging mode) takes the walk. Under RCU
 * only, as the instruction fetch reads the same path (vcpu_fetch_insn_at):
 * a guest that changes its tables meanwhile races its own store, as it
 * would race a walk.
 */
static bool shadow_self_write_unwalked(struct shadow_mmu *m, struct shadow_vcpu *sv,
				       const struct guest_paging *gp, uint64_t gva,
				       uint32_t access, struct shadow_emulate_frame *written)
{
	gfn_t path_gfn[X86_ROOT_LEVEL], table_gfn = 0;
	struct shadow_page *sp, *table = NULL;
	unsigned int level, nr = 0, table_access = 0, acc;
	uint64_t spte, gpte;
	bool large, writable, found = false;
	char *hva;
	gfn_t gfn;

	if (gp->mode != GUEST_PAGING_4LEVEL || !shadow_root_was_for(&sv->root_for, gp) ||
	    !sv->root.pa || shadow_root_is_pae(&sv->root))
		return false;
	rcu_read_lock();
	sp = sv->root.page[0]; /* a 4-level root: one level-4 page */
	/*
	 * Down the indirect pages (the guest's tables) to table, the one that
	 * holds the leaf's entry: level 1, or the level whose link leads to a
	 * direct page (the guest's entry there maps a huge page). Unrolled:
	 * each level's index is a constant shift.
	 */
#pragma GCC unroll 4
	for (level = X86_ROOT_LEVEL; level >= 1; level--) {
		struct shadow_page *child;

		/*
		 * The entry for gva present (the leaf, at level 1) also says
		 * the page was not zapped when read: a zap clears the links to
		 * it, then freezes its entries (MMU_REMOVED_SPTE).
		 */
		spte = atomic_load_explicit(&sp_table(sp)[x86_pte_index(gva, level)],
					    memory_order_acquire);
		if (!is_shadow_present(spte))
			break;
		table = sp;
		path_gfn[nr++] = sp->gfn;
		if (level == 1)
			break;
		child = spte_to_child(spte);
		if (child->role.direct)
			break;
		sp = child;
	}
	if (table != sp) /* the walk stopped short of the leaf's table */
		table = NULL;
	if (table) {
		table_gfn = table->gfn;
		table_access = table->role.access;
	}
	rcu_read_unlock(); /* table may go now: only its gfn and rights are used */
	if (!table || level == X86_ROOT_LEVEL)
		return false;
	/* table shadowed the guest table of level that holds gva's leaf entry. */
	hva = shadow_gframe(m, table_gfn, &writable);
	if (!hva)
		return false;
	gpte = atomic_load_explicit((_Atomic uint64_t *)hva + x86_pte_index(gva, level),
				    memory_order_relaxed);
	large = level > 1 && (gpte & X86_PTE_PS);
	if ((gpte & (X86_PTE_P | X86_PTE_A | X86_PTE_D)) != (X86_PTE_P | X86_PTE_A | X86_PTE_D) ||
	    (level > 1 && !large) ||
	    (gpte & (guest_pte_rsvd_4level_all(m->cfg.guest_maxphyaddr, gp->nx) |
		     guest_pte_rsvd_4level_own(level, large))))
		return false;
	acc = table_access & x86_pte_access(gpte, gp->nx);
	/* A supervisor write under CR0.WP without SMAP (the kernel's own): W is all it needs. */
	if (!(access & PFERR_USER) && gp->wp && !gp->smap ? !(acc & ACC_WRITE)
							  : !guest_access_allowed(gp, acc, access))
		return false;
	gfn = guest_leaf_gfn(gpte, level, gva);
	for (unsigned int i = 0; i < nr && !found; i++)
		found = path_gfn[i] == gfn;
	/* The written frame is a table the walks read: its host address is in the cache. */
	if (!found || !(hva = shadow_gframe(m, gfn, &writable)) || !writable)
		return false;
	written->gfn = gfn;
	written->hva = hva;
	return true;
}

enum shadow_fault_result shadow_mmu_page_fault(struct shadow_mmu *m, struct shadow_vcpu *sv,
					       const struct guest_paging *guest, uint64_t gva,
					       uint32_t error, uint32_t *inject_error,
					       struct shadow_emulate_frame *emulate)
{
	uint32_t access = error & PFERR_ACCESS_MASK;
	bool write = access & PFERR_WRITE;
	const struct guest_paging *gp = guest;
	struct guest_paging pae; /* a PAE guest's, with the PDPTEs its root was built from */
	enum shadow_fault_result ret;
	struct mmu_pfn_info info;
	struct guest_walk *w = &sv->hint.walk; /* see shadow_hint_record() */
	enum guest_walk_result r;
	struct shadow_op op;
	bool hinted;

	shadow_stat_inc(m, faults);
	if (gp->mode != GUEST_PAGING_4LEVEL)
		gva = (uint32_t)gva;
	if (gp->mode == GUEST_PAGING_PAE) {
		pae = *guest;
		shadow_root_loaded_pdptes(sv, &pae);
		gp = &pae;
	}
	hinted = shadow_hint_usable(&sv->hint, gp, gva);
	if (write && (error & PFERR_PRESENT) && !hinted) { /* a hinted walk is as short */
		struct shadow_emulate_frame written;

		if (shadow_self_write_unwalked(m, sv, gp, gva, access, &written)) {
			shadow_xstat_inc(m, emulate);
			shadow_xstat_inc(m, emulate_unwalked);
			if (emulate)
				*emulate = written;
			return SHADOW_EMULATE;
		}
	}
	if (!hinted)
		sv->hint.level = 0; /* the walk below is made in it */
	if (hinted && shadow_hint_walk_leaf(m, &sv->hint, gp, gva, access))
		r = GUEST_WALK_OK;
	else
		r = guest_walk_from(&m->guest_mem, gp, m->cfg.guest_maxphyaddr, gva, access, w,
				    hinted ? sv->hint.level : 0);
	if (hinted && w->retries) {
		/*
		 * A lost A/D update sent the walk back to the root, and it
		 * rewrote the hint's entries above its table: they may no
		 * longer lead there (a fault further up leaves the tables below
		 * as they were). Only a fault that records a new hint trusts
		 * it again.
		 */
		sv->hint.level = 0;
		hinted = false;
	}
	switch (r) {
	case GUEST_WALK_OK:
		break;
	case GUEST_WALK_FAULT:
		*inject_error = w->error;
		shadow_xstat_inc(m, pf_injected);
		return SHADOW_INJECT_PF;
	case GUEST_WALK_NO_SLOT:
		return SHADOW_NO_SLOT;
	case GUEST_WALK_RETRY:
		shadow_stat_inc(m, retries);
		return SHADOW_RETRY;
	}
	if (w->gfn >= m->cfg.gfn_limit || !m->ops.gfn_to_pfn(m->owner, w->gfn, &info))
		return SHADOW_NO_SLOT;
	if (write && !info.writable)
		return SHADOW_READONLY;
	if (write && (shadow_is_self_change(w) || shadow_wp_trick_bypasses_smap(gp, w, access))) {
		shadow_xstat_inc(m, emulate);
		/*
		 * A guest that writes one of its live tables writes it again,
		 * next to the last entry: its next store's walk goes on from
		 * the same table (a hint with no shadow path).
		 */
		if (!hinted)
			shadow_hint_record(m, &sv->hint, gp, gva, NULL);
		if (emulate)
			*emulate = (struct shadow_emulate_frame){
				.gfn = w->gfn, .hva = platform_phys_to_virt(info.pfn << PAGE_SHIFT)
			};
		return SHADOW_EMULATE;
	}
	if (!shadow_vcpu_prepared(sv, gp) && !shadow_vcpu_prepare_roots(sv, gp))
		return SHADOW_NOMEM;

	shadow_op_begin(&op, m, sv, m->cfg.policy.lock_exclusive ? SHADOW_LOCK_WRITE : SHADOW_LOCK_READ,
			true);
	if (shadow_switch_root(&op, gp)) {
		ret = SHADOW_RETRY; /* the root was zapped, or the controls changed: reload CR3 */
	} else {
		/* The leaf's gfn is below gfn_limit (checked above): it has metadata now. */
		struct shadow_gfn_meta *meta = shadow_gfn_meta_alloc(&op, w->gfn);

		if (write && meta->write_track) {
			/* The guest writes one of its tables: drop its shadows, then map it writable. */
			shadow_zap_gfn_pages(&op, w->gfn);
			shadow_xstat_inc(m, gfns_unprotected);
		}
		ret = shadow_fetch(&op, gp, w, gva, &info, meta, access, hinted);
	}
	shadow_op_end(&op);
	if (ret == SHADOW_RETRY)
		shadow_stat_inc(m, retries);
	return ret;
}
