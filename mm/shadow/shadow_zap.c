// SPDX-License-Identifier: MIT
/*
 * Unmapping: a gfn range through the rmap (memslot changes, host
 * invalidation), and one linear address under a vCPU's root (INVLPG).
 * Every change goes through the funnel, so the flush and the frees follow
 * mm/ept's rules: flush=batched owes one remote flush for the whole call,
 * made before its RCU section ends; flush=eager flushes after each shadow
 * page and after each gfn's leaves.
 */
#include "mm/shadow/shadow_internal.h"

uint64_t shadow_mmu_zap_range(struct shadow_mmu *m, gfn_t start, gfn_t end)
{
	struct shadow_meta_iter it;
	struct shadow_op op;
	uint64_t nr;

	if (!shadow_clamp_range(m, start, &end))
		return 0;
	shadow_op_begin(&op, m, NULL, m->cfg.policy.lock_exclusive ? SHADOW_LOCK_WRITE : SHADOW_LOCK_READ,
			true);
	op.guarantees_flushed = true;
	for_each_shadow_gfn_meta(it, m, start, end) {
		while (!pte_list_empty(&it.meta->rmap))
			shadow_set_spte(&op, pte_list_first(&it.meta->rmap, &m->shadow_lock), 0);
		if (it.meta->write_track)
			shadow_zap_gfn_pages(&op, it.gfn); /* its guest table may be gone too */
		if (m->cfg.policy.flush_eager && op.flush)
			shadow_op_flush(&op);
	}
	nr = op.leaves_zapped;
	shadow_op_end(&op);
	return nr;
}

/*
 * Which entries of sp shadow bytes [off, off + len) of its guest table
 * (len >= 1, inside the page): [*first, *last]; false if none. 8-byte
 * entries are sp's own. A 32-bit guest's 4-byte entry e lies in quadrant
 * e / 256 of its PD (two shadow PDEs, 2 * (e % 256) and the next) or in
 * quadrant e / 512 of its PT (one shadow PTE, e % 512).
 */
static bool shadow_written_entries(const struct shadow_page *sp, unsigned int off, unsigned int len,
				   unsigned int *first, unsigned int *last)
{
	unsigned int per, base, e0, e1;

	if (sp->role.mode != GUEST_PAGING_32BIT) {
		*first = off / 8;
		*last = (off + len - 1) / 8;
		return true;
	}
	per = sp->role.level == 1 ? X86_PTES_PER_TABLE : X86_PTES_PER_TABLE / 2;
	base = sp->role.quadrant * per;
	e0 = off / 4;
	e1 = (off + len - 1) / 4;
	if (e1 < base || e0 >= base + per)
		return false;
	e0 = (e0 > base ? e0 : base) - base;
	e1 = (e1 < base + per - 1 ? e1 : base + per - 1) - base;
	*first = sp->role.level == 1 ? e0 : 2 * e0;
	*last = sp->role.level == 1 ? e1 : 2 * e1 + 1;
	return true;
}

/*
 * Bytes [w->off, w->off + w->len) of guest table w->gfn are about to be
 * written for the guest: make the shadow forget the entries they hold. A
 * level-1 shadow page that shadows any of them goes whole, as for any
 * guest write (each slot's gfn must never change while the page lives);
 * the other quadrant of a 32-bit guest's PT stays. In a higher table only
 * the entries written go, with the subtree that nothing else links to:
 * so a write to a live PML4 costs one entry's subtree, not every vCPU's
 * whole address space, and one to a 32-bit PDE its two shadow PDEs. The
 * frame's own leaves stay: they map it read-only, and what it holds does
 * not change how it is mapped.
 */
static void shadow_forget_written(struct shadow_op *op, const struct shadow_written *w)
{
	struct shadow_mmu *m = op->mmu;
	unsigned int off = w->off & (PAGE_SIZE - 1), len = w->len ? w->len : 1;
	unsigned int first, last;
	struct shadow_page *sp;

	shadow_assert_locked(m);
	if (off + len > PAGE_SIZE)
		len = PAGE_SIZE - off;
	/* One pass over the bucket; a level-1 page zapped leaves it, so the pass starts again. */
again:
	for (sp = m->hash[shadow_hash_bucket(w->gfn)]; sp; sp = sp->hash_next) {
		if (sp->gfn != w->gfn || sp->role.direct ||
		    !shadow_written_entries(sp, off, len, &first, &last))
			continue;
		if (sp->role.level == 1) {
			shadow_zap_page(op, sp); /* takes it out of the bucket: look again */
			goto again;
		}
		/*
		 * A link that goes may zap a child nobody else links to; that
		 * child shadows another gfn, and a zap never frees a page
		 * before the call's end, so sp and the bucket stay walkable.
		 */
		for (unsigned int i = first; i <= last; i++)
			if (is_shadow_present(atomic_load_explicit(&sp_table(sp)[i],
								   memory_order_relaxed)))
				shadow_set_spte(op, &sp_table(sp)[i], 0);
	}
}

/*
 * Forget first, store second, both under shadow_lock, which every fault
 * holds from its second look at the guest entries (shadow_gpte_unchanged)
 * to its install:
 *
 *   emulating vCPU                       faulting vCPU
 *   ------------------------------       ------------------------------
 *                                        walk: reads the old entry
 *   lock; forget gfn's shadow entries
 *   store the new entry; unlock          lock; old != new: RETRY
 *
 * and a fault that walks after the store finds no shadow page built from
 * the old entry. Stored first and forgotten after (as before), a fault in
 * between installed the new gfn into a live level-1 slot that still
 * recorded the old one.
 */
void shadow_mmu_emulated_write(struct shadow_mmu *m, const struct shadow_written *w,
			       unsigned int nr, void (*store)(void *ctx), void *ctx)
{
	struct shadow_op op;

	shadow_op_begin(&op, m, NULL, m->cfg.policy.lock_exclusive ? SHADOW_LOCK_WRITE : SHADOW_LOCK_READ,
			true);
	op.guarantees_flushed = true;
	for (unsigned int k = 0; k < nr; k++)
		shadow_forget_written(&op, &w[k]);
	if (store)
		store(ctx);
	shadow_op_end(&op);
}

void shadow_mmu_guest_table_written(struct shadow_mmu *m, gfn_t gfn, unsigned int off,
				    unsigned int len)
{
	struct shadow_written w = { .gfn = gfn, .off = off, .len = len };

	shadow_mmu_emulated_write(m, &w, 1, NULL, NULL);
}

/*
 * The guest invalidated gva. Its tables are write-protected, so the shadow
 * already matches them; dropping the translation makes the next access
 * walk the guest's tables again, as the CPU would after INVLPG. Inside a
 * guest huge page the whole direct page goes (INVLPG drops the huge
 * translation), both halves of a 32-bit guest's 4 MiB page. With paging
 * off there is no translation to drop.
 */
void shadow_mmu_invlpg(struct shadow_mmu *m, struct shadow_vcpu *sv, uint64_t gva)
{
	struct shadow_page *sp;
	struct shadow_op op;
	unsigned int level;

	shadow_op_begin(&op, m, sv, m->cfg.policy.lock_exclusive ? SHADOW_LOCK_WRITE : SHADOW_LOCK_READ,
			true);
	if (shadow_root_is_pae(&sv->root))
		gva = (uint32_t)gva;
	sp = sv->root.pa ? shadow_root_top(&sv->root, gva, &level) : NULL;
	if (sp && sp->role.mode == GUEST_PAGING_OFF)
		sp = NULL;
	while (sp && !sp->zapped) {
		unsigned int i = x86_pte_index(gva, sp->role.level);
		shadow_ptep_t sptep = &sp_table(sp)[i];
		uint64_t spte = atomic_load_explicit(sptep, memory_order_relaxed);
		struct shadow_page *child;

		if (!is_shadow_present(spte))
			break;
		if (sp->role.level == 1) {
			shadow_set_spte(&op, sptep, 0);
			break;
		}
		child = spte_to_child(spte);
		if (child->role.direct) {
			shadow_set_spte(&op, sptep, 0);
			if (sp->role.mode == GUEST_PAGING_32BIT) {
				/* The other 2 MiB half of the guest's 4 MiB PDE. */
				shadow_ptep_t half = &sp_table(sp)[i ^ 1];
				uint64_t other = atomic_load_explicit(half, memory_order_relaxed);

				if (is_shadow_present(other) && spte_to_child(other)->role.direct)
					shadow_set_spte(&op, half, 0);
			}
			break;
		}
		sp = child;
	}
	shadow_op_end(&op);
}
