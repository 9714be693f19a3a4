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
	struct shadow_op op;
	uint64_t nr;

	if (end > m->cfg.gfn_limit)
		end = m->cfg.gfn_limit;
	if (start >= end)
		return 0;
	shadow_op_begin(&op, m, NULL, m->cfg.lock_exclusive ? SHADOW_LOCK_WRITE : SHADOW_LOCK_READ,
			true);
	op.guarantees_flushed = true;
	for (gfn_t gfn = start; gfn < end; gfn++) {
		struct shadow_gfn_meta *meta = shadow_gfn_meta(m, gfn);

		if (!meta) {
			/* No chunk: nothing there was ever mapped; skip to the next chunk. */
			gfn = (gfn / SHADOW_META_GFNS + 1) * SHADOW_META_GFNS - 1;
			continue;
		}
		while (!pte_list_empty(&meta->rmap))
			shadow_set_spte(&op, pte_list_first(&meta->rmap, &m->shadow_lock), 0);
		if (meta->write_track)
			shadow_zap_gfn_pages(&op, gfn); /* its guest table may be gone too */
		if (m->cfg.flush_eager && op.flush)
			shadow_op_flush(&op);
	}
	nr = op.leaves_zapped;
	shadow_op_end(&op);
	return nr;
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

	shadow_op_begin(&op, m, sv, m->cfg.lock_exclusive ? SHADOW_LOCK_WRITE : SHADOW_LOCK_READ,
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
