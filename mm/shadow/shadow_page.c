// SPDX-License-Identifier: MIT
/*
 * Shadow pages: the hash that finds them by (gfn, role), their
 * creation, and the write tracking of the guest tables they shadow. A gfn
 * is tracked while any indirect shadow page has it; from the moment it
 * becomes tracked no shadow entry maps it writable (existing ones lose W,
 * and the flush is done before the caller reads the guest table), so the
 * guest cannot change a table behind its shadow's back: a write faults,
 * and the fault path zaps the gfn's shadow pages first.
 *
 * Also the per-gfn metadata (rmap head, tracking count): chunks of
 * SHADOW_META_GFNS, published once through m->meta_dir and freed at destroy.
 */
#include "mm/shadow/shadow_internal.h"

/* --- the hash ------------------------------------------------------------ */

unsigned int shadow_hash_bucket(gfn_t gfn)
{
	return (unsigned int)((gfn * 0x9e3779b97f4a7c15ULL) >> 54) & (SHADOW_HASH_BUCKETS - 1);
}

_Static_assert(SHADOW_HASH_BUCKETS == 1u << 10, "the hash takes the top 10 bits");

static struct shadow_page *shadow_hash_find(struct shadow_mmu *m, gfn_t gfn, union shadow_role role)
{
	shadow_assert_locked(m);
	for (struct shadow_page *sp = m->hash[shadow_hash_bucket(gfn)]; sp; sp = sp->hash_next)
		if (sp->gfn == gfn && sp->role.word == role.word)
			return sp;
	return NULL;
}

void shadow_hash_remove(struct shadow_mmu *m, struct shadow_page *sp)
{
	struct shadow_page **link = &m->hash[shadow_hash_bucket(sp->gfn)];

	shadow_assert_locked(m);
	while (*link != sp)
		link = &(*link)->hash_next;
	*link = sp->hash_next;
}

/* Any page still in the hash (teardown). */
struct shadow_page *shadow_hash_any(struct shadow_mmu *m)
{
	shadow_assert_locked(m);
	for (unsigned int i = 0; i < SHADOW_HASH_BUCKETS; i++)
		if (m->hash[i])
			return m->hash[i];
	return NULL;
}

/* --- gfn metadata ---------------------------------------------------------- */

struct shadow_gfn_meta *shadow_gfn_meta_alloc_slow(struct shadow_op *op, gfn_t gfn)
{
	struct shadow_mmu *m = op->mmu;
	struct shadow_gfn_meta *meta = shadow_gfn_meta(m, gfn), *chunk;

	shadow_assert_locked(m);
	if (meta || gfn >= m->cfg.gfn_limit)
		return meta;
	chunk = shadow_cache_pop(op);
	atomic_store_explicit(&m->meta_dir[gfn / SHADOW_META_GFNS], chunk, memory_order_release);
	return &chunk[gfn % SHADOW_META_GFNS];
}

bool shadow_gfn_is_tracked(struct shadow_mmu *m, gfn_t gfn)
{
	struct shadow_gfn_meta *meta = shadow_gfn_meta(m, gfn);

	shadow_assert_locked(m);
	return meta && meta->write_track;
}

/*
 * gfn is a guest table with a shadow now: on the first such page, every
 * mapping of it loses W, and the flush happens here, before the caller
 * reads the guest table to check its walk.
 */
static void shadow_track_gfn(struct shadow_op *op, gfn_t gfn)
{
	struct shadow_gfn_meta *meta = shadow_gfn_meta_alloc(op, gfn);

	shadow_assert_locked(op->mmu);
	if (!meta)
		return; /* beyond gfn_limit: no memory there, nothing can map it */
	if (meta->write_track++)
		return;
	shadow_rmap_write_protect(op, &meta->rmap, gfn);
	if (op->flush)
		shadow_op_flush(op);
}

void shadow_untrack_gfn(struct shadow_op *op, gfn_t gfn)
{
	struct shadow_gfn_meta *meta = shadow_gfn_meta(op->mmu, gfn);

	shadow_assert_locked(op->mmu);
	if (!meta)
		return;
	BUG_ON(!meta->write_track);
	meta->write_track--;
}

/* --- life --------------------------------------------------------------------- */

/*
 * The shadow page for (gfn, role), created from a zeroed block of the
 * vCPU's cache if there is none. A new indirect page tracks its guest
 * table. The caller links it (or makes it a root).
 */
struct shadow_page *shadow_get_page(struct shadow_op *op, gfn_t gfn, union shadow_role role)
{
	struct shadow_mmu *m = op->mmu;
	struct shadow_page *sp = shadow_hash_find(m, gfn, role);
	char *block;

	shadow_assert_locked(m);
	if (sp)
		return sp;
	block = shadow_cache_pop(op);
	sp = (struct shadow_page *)(block + PAGE_SIZE);
	sp->gfn = gfn;
	sp->role = role;
	sp->mmu = m;
	sp->hash_next = m->hash[shadow_hash_bucket(gfn)];
	m->hash[shadow_hash_bucket(gfn)] = sp;
	shadow_stat_inc(m, tables_allocated);
	if (!role.direct)
		shadow_track_gfn(op, gfn);
	return sp;
}

/*
 * The guest wrote to gfn, or gfn's memory goes away: zap every shadow page
 * of it as a guest table; the last one's zap untracks it. Returns how many.
 */
uint64_t shadow_zap_gfn_pages(struct shadow_op *op, gfn_t gfn)
{
	struct shadow_mmu *m = op->mmu;
	uint64_t nr = 0;
	struct shadow_page *sp;

	shadow_assert_locked(m);
	do {
		for (sp = m->hash[shadow_hash_bucket(gfn)]; sp; sp = sp->hash_next)
			if (sp->gfn == gfn && !sp->role.direct)
				break;
		if (sp) {
			/* A zap may take others out of this bucket: look again from its head. */
			shadow_zap_page(op, sp);
			nr++;
		}
	} while (sp);
	return nr;
}
