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
 * Bytes [w->off, w->off + w->len) of guest table w->gfn are about to be
 * written for the guest: make the shadow forget the entries they hold. A
 * level-1 shadow page of the gfn goes whole, as for any guest write (each
 * slot's gfn must never change while the page lives). In a higher table
 * only the entries written go, with the subtree that nothing else links
 * to: so a write to a live PML4 costs one entry's subtree, not every
 * vCPU's whole address space. The frame's own leaves stay: they map it
 * read-only, and what it holds does not change how it is mapped.
 */
static void shadow_forget_written(struct shadow_op *op, const struct shadow_written *w)
{
	struct shadow_mmu *m = op->mmu;
	unsigned int first = (w->off & (PAGE_SIZE - 1)) / 8;
	unsigned int last = ((w->off & (PAGE_SIZE - 1)) + (w->len ? w->len : 1) - 1) / 8;
	struct shadow_page *sp;

	shadow_assert_locked(m);
	if (last >= X86_PTES_PER_TABLE)
		last = X86_PTES_PER_TABLE - 1;
	do {
		for (sp = m->hash[shadow_hash_bucket(w->gfn)]; sp; sp = sp->hash_next)
			if (sp->gfn == w->gfn && !sp->role.direct && sp->role.level == 1)
				break;
		if (sp)
			shadow_zap_page(op, sp); /* takes it out of the bucket: look again */
	} while (sp);
	for (sp = m->hash[shadow_hash_bucket(w->gfn)]; sp; sp = sp->hash_next) {
		if (sp->gfn != w->gfn || sp->role.direct)
			continue;
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
 * translation).
 */
void shadow_mmu_invlpg(struct shadow_mmu *m, struct shadow_vcpu *sv, uint64_t gva)
{
	struct shadow_page *sp;
	struct shadow_op op;

	shadow_op_begin(&op, m, sv, m->cfg.policy.lock_exclusive ? SHADOW_LOCK_WRITE : SHADOW_LOCK_READ,
			true);
	for (sp = sv->root; sp && !sp->zapped;) {
		unsigned int level = sp->role.level;
		shadow_ptep_t sptep = &sp_table(sp)[x86_pte_index(gva, level)];
		uint64_t spte = atomic_load_explicit(sptep, memory_order_relaxed);
		struct shadow_page *child;

		if (!is_shadow_present(spte))
			break;
		if (level == 1) {
			shadow_set_spte(&op, sptep, 0);
			break;
		}
		child = spte_to_child(spte);
		if (child->role.direct) {
			shadow_set_spte(&op, sptep, 0);
			break;
		}
		sp = child;
	}
	shadow_op_end(&op);
}
