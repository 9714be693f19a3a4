// SPDX-License-Identifier: MIT
/*
 * The shadow MMU's life: create and destroy, the vCPUs and their caches
 * (the roots are in shadow_root.c), guest memory access for the walker,
 * how a call takes its locks, and the counters.
 */
#include "mm/shadow/shadow_internal.h"

/* --- guest memory, through the memslots ------------------------------------ */

/*
 * A walk reads four guest tables and checks them again under the lock, and
 * the next fault's walk reads mostly the same ones: each CPU keeps the last
 * few frames it found (struct shadow_gframe_cache) before it asks the
 * memslots again.
 */
char *shadow_gframe_fill(struct shadow_mmu *m, gfn_t gfn, bool *writable)
{
	struct shadow_gframe_cache *c = &m->cpu_stats[platform_cpu_id()].gframes;
	struct mmu_pfn_info info;
	char *hva;

	if (gfn >= m->cfg.gfn_limit || !m->ops.gfn_to_pfn(m->owner, gfn, &info))
		return NULL;
	hva = platform_phys_to_virt(info.pfn << PAGE_SHIFT);
	c->key[c->next] = gfn + 1;
	c->hva[c->next] = hva;
	c->readonly = (c->readonly & ~(1u << c->next)) | (unsigned int)!info.writable << c->next;
	c->next = (c->next + 1) % SHADOW_GFRAME_WAYS;
	*writable = info.writable;
	return hva;
}

static _Atomic uint64_t *shadow_guest_word(struct shadow_mmu *m, uint64_t gpa)
{
	bool writable;
	char *hva = shadow_gframe(m, gpa >> PAGE_SHIFT, &writable);

	return hva ? (_Atomic uint64_t *)(hva + (gpa & (PAGE_SIZE - 1) & ~7ULL)) : NULL;
}

static _Atomic uint64_t *shadow_guest_word_of(void *ctx, uint64_t gpa)
{
	return shadow_guest_word(ctx, gpa);
}

/* The guest writes its tables at any time: every access is one atomic 8-byte access. */
static enum guest_mem_result shadow_guest_read(void *ctx, uint64_t gpa, uint64_t *val)
{
	_Atomic uint64_t *word = shadow_guest_word(ctx, gpa);

	if (!word)
		return GUEST_MEM_NO_SLOT;
	*val = atomic_load_explicit(word, memory_order_relaxed);
	return GUEST_MEM_OK;
}

static enum guest_mem_result shadow_guest_cmpxchg(void *ctx, uint64_t gpa, uint64_t old,
						  uint64_t new_val)
{
	_Atomic uint64_t *word = shadow_guest_word(ctx, gpa);

	if (!word)
		return GUEST_MEM_NO_SLOT;
	if (!atomic_compare_exchange_strong(word, &old, new_val))
		return GUEST_MEM_CHANGED;
	/* An A or D bit set in a guest table: a write the dirty log must see (migration). */
	if (old != new_val)
		shadow_mark_dirty(ctx, gpa >> PAGE_SHIFT);
	return GUEST_MEM_OK;
}

const struct guest_mem *shadow_mmu_guest_mem(const struct shadow_mmu *m)
{
	return &m->guest_mem;
}

/*
 * The leaf of the vCPU's current root for gva, read under RCU alone (a
 * zapped page stays readable until its grace period ends, and reads
 * REMOVED, not present, once frozen): what the CPU itself walks. 0 when
 * no present leaf maps gva.
 */
uint64_t shadow_vcpu_leaf(struct shadow_vcpu *sv, uint64_t gva)
{
	unsigned int level;
	struct shadow_page *sp;
	uint64_t spte = 0;

	if (!sv->root.pa)
		return 0;
	if (shadow_root_is_pae(&sv->root))
		gva = (uint32_t)gva;
	rcu_read_lock();
	for (sp = shadow_root_top(&sv->root, gva, &level); sp; sp = spte_to_child(spte), level--) {
		spte = atomic_load_explicit(&sp_table(sp)[x86_pte_index(gva, level)],
					    memory_order_acquire);
		if (!is_shadow_present(spte) || level == 1)
			break;
	}
	rcu_read_unlock();
	return sp && is_shadow_present(spte) && level == 1 ? spte : 0;
}

/* --- a call's locks ------------------------------------------------------------ */

static enum shadow_lock_mode shadow_change_lock(const struct shadow_mmu *m)
{
	return m->cfg.policy.lock_exclusive ? SHADOW_LOCK_WRITE : SHADOW_LOCK_READ;
}

/* --- the vCPU's caches ------------------------------------------------------------ */

/* Outside the locks: zeroing 8 KiB blocks does not belong under shadow_lock. */
bool shadow_vcpu_topup(struct shadow_vcpu *sv)
{
	if (sv->nr_pages < SHADOW_PAGE_CACHE_MIN) {
		while (sv->nr_pages < SHADOW_PAGE_CACHE_SIZE) {
			void *block = page_alloc_zeroed(SHADOW_PAGE_ORDER);

			if (!block)
				break;
			sv->pages[sv->nr_pages++] = block;
		}
	}
	return sv->nr_pages >= SHADOW_PAGE_CACHE_MIN && rmap_desc_reserve_topup(&sv->descs);
}

void *shadow_cache_pop(struct shadow_op *op)
{
	BUG_ON(!op->sv || !op->sv->nr_pages); /* topped up for the worst case before the locks */
	return op->sv->pages[--op->sv->nr_pages];
}

/* --- create, destroy --------------------------------------------------------------- */

struct shadow_vcpu *shadow_vcpu_create(struct shadow_mmu *m)
{
	struct shadow_vcpu *sv = page_alloc_zeroed(0);

	_Static_assert(sizeof(struct shadow_vcpu) <= PAGE_SIZE, "a vCPU's state fits a page");
	if (!sv)
		return NULL;
	sv->mmu = m;
	spin_lock(&m->shadow_lock);
	m->nr_vcpus++;
	spin_unlock(&m->shadow_lock);
	return sv;
}

void shadow_vcpu_destroy(struct shadow_vcpu *sv)
{
	struct shadow_mmu *m;
	struct shadow_op op;

	if (!sv)
		return;
	m = sv->mmu;
	shadow_op_begin(&op, m, sv, shadow_change_lock(m), true);
	/*
	 * The last vCPU leaves its roots in place, unreferenced: the MMU is
	 * about to go, and shadow_mmu_destroy() takes everything at once, in
	 * time linear in the leaves (a zap here would scan rmap chains).
	 */
	op.teardown = m->nr_vcpus == 1;
	shadow_vcpu_release_roots(&op);
	op.teardown = false;
	m->nr_vcpus--;
	shadow_op_end(&op);
	if (sv->pae_page && m->cfg.free_low_page)
		m->cfg.free_low_page(m->owner, sv->pae_page);
	else if (sv->pae_page)
		page_free(sv->pae_page, 0);
	while (sv->nr_pages)
		page_free(sv->pages[--sv->nr_pages], SHADOW_PAGE_ORDER);
	rmap_desc_reserve_release(&sv->descs);
	page_free(sv, 0);
}

struct shadow_mmu *shadow_mmu_create(const struct shadow_mmu_config *cfg,
				     const struct mmu_ops *ops, void *owner)
{
	struct shadow_mmu_config c = *cfg;
	/* The struct, then a reader word and a stats block per CPU there is. */
	unsigned int nr = platform_nr_cpus();
	size_t lock_at = (sizeof(struct shadow_mmu) + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1);
	size_t stats_at = lock_at + nr * sizeof(struct mmu_lock_cpu);
	unsigned int order = page_order_for(stats_at + nr * sizeof(struct shadow_cpu_stats));
	struct shadow_mmu *m;

	if (!c.gfn_limit)
		c.gfn_limit = SHADOW_DEFAULT_GFN_LIMIT;
	if (!c.guest_maxphyaddr)
		c.guest_maxphyaddr = 48;
	if (!ops || !ops->gfn_to_pfn || c.gfn_limit > SHADOW_MAX_GFN_LIMIT ||
	    c.guest_maxphyaddr < 32 || c.guest_maxphyaddr > 52)
		return NULL;
	rmap_init();
	m = page_alloc_zeroed(order);
	if (!m)
		return NULL;
	m->alloc_order = order;
	m->dir_order = page_order_for((c.gfn_limit + SHADOW_META_GFNS - 1) / SHADOW_META_GFNS *
				      sizeof(*m->meta_dir));
	m->meta_dir = page_alloc_zeroed(m->dir_order);
	if (!m->meta_dir) {
		page_free(m, m->alloc_order);
		return NULL;
	}
	m->cfg = c;
	m->ops = *ops;
	m->owner = owner;
	m->guest_mem = (struct guest_mem){ .read = shadow_guest_read,
					   .cmpxchg = shadow_guest_cmpxchg,
					   .word = shadow_guest_word_of, .ctx = m };
	m->nr_cpus = nr;
	m->cpu_stats = (struct shadow_cpu_stats *)((char *)m + stats_at);
	mmu_lock_init(&m->mmu_lock, (struct mmu_lock_cpu *)((char *)m + lock_at), nr);
	spin_lock_init(&m->shadow_lock, "shadow_lock");
	return m;
}

/*
 * Zap every shadow page (they go through the usual flush and call_rcu),
 * wait for every callback that may still count into this MMU, then free
 * the metadata and the MMU itself.
 */
void shadow_mmu_destroy(struct shadow_mmu *m)
{
	uint64_t chunks;
	struct shadow_page *sp;
	struct shadow_op op;

	if (!m)
		return;
	BUG_ON(m->nr_vcpus); /* each vCPU lets go of its roots first */
	chunks = (m->cfg.gfn_limit + SHADOW_META_GFNS - 1) / SHADOW_META_GFNS;
	/*
	 * Linear in the leaves: they leave their rmap chains all at once,
	 * after every page is zapped, not one chain scan each. No walker can
	 * be on a chain: the MMU has no vCPU left, and its owner, who alone
	 * write-protects or ages, is here.
	 */
	shadow_op_begin(&op, m, NULL, SHADOW_LOCK_WRITE, true);
	op.teardown = true;
	while ((sp = shadow_hash_any(m)))
		shadow_zap_page(&op, sp);
	for (uint64_t i = 0; i < chunks; i++) {
		struct shadow_gfn_meta *chunk = atomic_load_explicit(&m->meta_dir[i],
								     memory_order_relaxed);

		for (unsigned int g = 0; chunk && g < SHADOW_META_GFNS; g++)
			pte_list_drop_all(&chunk[g].rmap, &m->shadow_lock);
	}
	shadow_op_end(&op);
	rcu_barrier();
	for (uint64_t i = 0; i < chunks; i++) {
		struct shadow_gfn_meta *chunk = atomic_load_explicit(&m->meta_dir[i],
								     memory_order_relaxed);

		if (!chunk)
			continue;
		for (unsigned int g = 0; g < SHADOW_META_GFNS; g++)
			BUG_ON(!pte_list_empty(&chunk[g].rmap) || chunk[g].write_track);
		page_free(chunk, SHADOW_PAGE_ORDER);
	}
	page_free(m->meta_dir, m->dir_order);
	page_free(m, m->alloc_order);
}

/* --- counters -------------------------------------------------------------------- */

static void shadow_sum(atomic_ulong *out, const struct shadow_mmu *m, size_t offset, size_t bytes)
{
	for (size_t i = 0; i < bytes / sizeof(atomic_ulong); i++) {
		unsigned long sum = 0;

		for (unsigned int cpu = 0; cpu < m->nr_cpus; cpu++) {
			const atomic_ulong *in = (const atomic_ulong *)((const char *)&m->cpu_stats[cpu] +
									offset);

			sum += atomic_load_explicit(&in[i], memory_order_relaxed);
		}
		atomic_store_explicit(&out[i], sum, memory_order_relaxed);
	}
}

const struct mmu_stats *shadow_mmu_stats(const struct shadow_mmu *cm)
{
	struct shadow_mmu *m = (struct shadow_mmu *)cm;

	_Static_assert(sizeof(struct mmu_stats) % sizeof(atomic_ulong) == 0, "counters only");
	shadow_sum((atomic_ulong *)&m->stats, m, offsetof(struct shadow_cpu_stats, s),
		   sizeof(m->stats));
	return &m->stats;
}

const struct shadow_mmu_extra_stats *shadow_mmu_extra_stats(const struct shadow_mmu *cm)
{
	struct shadow_mmu *m = (struct shadow_mmu *)cm;

	_Static_assert(sizeof(struct shadow_mmu_extra_stats) % sizeof(atomic_ulong) == 0,
		       "counters only");
	shadow_sum((atomic_ulong *)&m->extra, m, offsetof(struct shadow_cpu_stats, x),
		   sizeof(m->extra));
	return &m->extra;
}
