// SPDX-License-Identifier: MIT
/*
 * Shared by the shadow MMU's host tests (test_shadow_*.c): a guest memory
 * in the arena with a table builder, a "CPU" that walks the shadow tables
 * as the hardware would and calls the fault handler when it faults, a
 * reference answer from the guest's own tables, a recording mark_dirty and
 * a counting flush hook, and the checks every test ends with: the rmap,
 * the parent links and the write tracking agree with the tables, and after
 * destroy every page is back in the allocator.
 */
#pragma once

#include "mm/shadow/shadow_internal.h"
#include "tests/host/check.h"
#include "tests/host/mm_fixture.h"
#include "tests/host/platform_host.h"

#define TS_ARENA_BYTES (64UL << 20)
#define TS_ARENA_PHYS 0x100000000UL
#define TS_GUEST_ORDER 10
#define TS_GUEST_PAGES (1u << TS_GUEST_ORDER) /* gfns [0, 1024) are real memory */
/* gfns [TS_ALIAS_BASE, +TS_ALIAS_PAGES) alias real memory: room for a 1 GiB guest page. */
#define TS_ALIAS_BASE (1ULL << 18)
#define TS_ALIAS_PAGES (1ULL << 18)
#define TS_TABLE_GFN_FIRST 1   /* the table builder takes gfns from here up */
#define TS_TABLE_GFN_END 256

struct ts_slot {
	bool writable;
	bool dirty_logging;
};

static __attribute__((unused)) struct ts_slot ts_slot;
static __attribute__((unused)) _Atomic uint64_t *ts_guest; /* guest memory, as words */
static __attribute__((unused)) uint64_t ts_guest_pfn;
static __attribute__((unused)) gfn_t ts_next_table;
static __attribute__((unused)) atomic_ulong ts_flushes;
static __attribute__((unused)) atomic_ulong ts_dirty_calls;
static __attribute__((unused)) atomic_ulong ts_dirty_bits[TS_GUEST_PAGES / 64];
static __attribute__((unused)) uint64_t ts_free_at_start;
static __attribute__((unused)) unsigned int ts_nr_cpus;

static inline bool ts_gfn_to_pfn(void *owner, gfn_t gfn, struct mmu_pfn_info *out)
{
	(void)owner;
	if (gfn < TS_GUEST_PAGES)
		*out = (struct mmu_pfn_info){ .pfn = ts_guest_pfn + gfn };
	else if (gfn >= TS_ALIAS_BASE && gfn < TS_ALIAS_BASE + TS_ALIAS_PAGES)
		*out = (struct mmu_pfn_info){ .pfn = ts_guest_pfn + gfn % TS_GUEST_PAGES };
	else
		return false;
	out->writable = ts_slot.writable;
	out->dirty_logging = ts_slot.dirty_logging;
	out->max_level = PG_LEVEL_4K;
	return true;
}

static inline void ts_mark_dirty(void *owner, gfn_t gfn)
{
	(void)owner;
	if (gfn < TS_GUEST_PAGES)
		mm_gfn_bit_set(ts_dirty_bits, gfn);
	atomic_fetch_add(&ts_dirty_calls, 1);
}

static __attribute__((unused)) const struct mmu_ops ts_ops = {
	.gfn_to_pfn = ts_gfn_to_pfn,
	.mark_dirty = ts_mark_dirty,
};

static inline bool ts_dirty(gfn_t gfn)
{
	return mm_gfn_bit(ts_dirty_bits, gfn);
}

static inline void ts_dirty_reset(void)
{
	mm_gfn_bits_clear(ts_dirty_bits, ARRAY_SIZE(ts_dirty_bits));
	atomic_store(&ts_dirty_calls, 0);
}

static inline void ts_flush_hook(void *owner)
{
	(void)owner;
	atomic_fetch_add(&ts_flushes, 1);
}

static inline void ts_setup(unsigned int nr_cpus)
{
	ts_nr_cpus = nr_cpus;
	ts_free_at_start = mm_fixture_setup(nr_cpus, TS_ARENA_BYTES, TS_ARENA_PHYS, ts_flush_hook);
}

/* A fresh, zeroed guest memory and a writable slot; the MMU is the caller's. */
static inline void ts_guest_create(void)
{
	void *mem = page_alloc_zeroed(TS_GUEST_ORDER);

	if (!mem)
		exit(1);
	ts_guest = mem;
	ts_guest_pfn = platform_virt_to_phys(mem) >> PAGE_SHIFT;
	ts_next_table = TS_TABLE_GFN_FIRST;
	ts_slot = (struct ts_slot){ .writable = true };
	atomic_store(&ts_flushes, 0);
	ts_dirty_reset();
}

static inline _Atomic uint64_t *ts_gpte(gfn_t table, unsigned int index)
{
	return &ts_guest[table * 512 + index];
}

static inline gfn_t ts_alloc_table(void)
{
	if (ts_next_table >= TS_TABLE_GFN_END)
		exit(1);
	return ts_next_table++;
}

#define TS_TABLE_BITS (X86_PTE_P | X86_PTE_RW | X86_PTE_US)

/*
 * Map gva in the address space rooted at cr3_gfn: a leaf at level (1, 2, 3)
 * for frame gfn with bits (P is added), building full-rights tables on the
 * way as needed. Returns the gfn of the table that holds the leaf.
 */
static inline gfn_t ts_map(gfn_t cr3_gfn, uint64_t gva, unsigned int level, gfn_t gfn,
			   uint64_t bits)
{
	gfn_t table = cr3_gfn;

	for (unsigned int l = X86_ROOT_LEVEL; l > level; l--) {
		_Atomic uint64_t *e = ts_gpte(table, x86_pte_index(gva, l));

		if (!(atomic_load(e) & X86_PTE_P))
			atomic_store(e, (ts_alloc_table() << PAGE_SHIFT) | TS_TABLE_BITS);
		table = (atomic_load(e) & X86_PTE_ADDR_MASK) >> PAGE_SHIFT;
	}
	atomic_store(ts_gpte(table, x86_pte_index(gva, level)),
		     (gfn << PAGE_SHIFT) | bits | X86_PTE_P | (level > 1 ? X86_PTE_PS : 0));
	return table;
}

/* The guest entry of level for gva (NULL if a table above is absent). */
static inline _Atomic uint64_t *ts_walk_gpte(gfn_t cr3_gfn, uint64_t gva, unsigned int level)
{
	gfn_t table = cr3_gfn;

	for (unsigned int l = X86_ROOT_LEVEL; l > level; l--) {
		uint64_t e = atomic_load(ts_gpte(table, x86_pte_index(gva, l)));

		if (!(e & X86_PTE_P) || (e & X86_PTE_PS))
			return NULL;
		table = (e & X86_PTE_ADDR_MASK) >> PAGE_SHIFT;
	}
	return ts_gpte(table, x86_pte_index(gva, level));
}

/* --- memory views for the walker: host memory (the CPU's view), and a dry run --- */

static inline enum guest_mem_result ts_host_read(void *ctx, uint64_t pa, uint64_t *val)
{
	(void)ctx;
	*val = atomic_load((_Atomic uint64_t *)platform_phys_to_virt(pa));
	return GUEST_MEM_OK;
}

static inline enum guest_mem_result ts_host_cmpxchg(void *ctx, uint64_t pa, uint64_t old,
						    uint64_t new_val)
{
	(void)ctx;
	return atomic_compare_exchange_strong((_Atomic uint64_t *)platform_phys_to_virt(pa), &old,
					      new_val) ? GUEST_MEM_OK : GUEST_MEM_CHANGED;
}

static __attribute__((unused)) const struct guest_mem ts_host_mem = {
	.read = ts_host_read, .cmpxchg = ts_host_cmpxchg,
};

/* The guest's memory, but nothing is ever written: the reference's view. */
static inline enum guest_mem_result ts_dry_read(void *ctx, uint64_t gpa, uint64_t *val)
{
	struct mmu_pfn_info info;

	(void)ctx;
	if (!ts_gfn_to_pfn(NULL, gpa >> PAGE_SHIFT, &info))
		return GUEST_MEM_NO_SLOT;
	return ts_host_read(NULL, (info.pfn << PAGE_SHIFT) | (gpa & (PAGE_SIZE - 1)), val);
}

static inline enum guest_mem_result ts_dry_cmpxchg(void *ctx, uint64_t gpa, uint64_t old,
						   uint64_t new_val)
{
	(void)ctx, (void)gpa, (void)old, (void)new_val;
	return GUEST_MEM_OK;
}

static __attribute__((unused)) const struct guest_mem ts_dry_mem = {
	.read = ts_dry_read, .cmpxchg = ts_dry_cmpxchg,
};

#define TS_ALLOWED 0xffffffffu
#define TS_MAXPHYADDR 48

/* What the guest's own tables say: TS_ALLOWED, or the #PF error code. Changes nothing. */
static inline uint32_t ts_reference(const struct guest_paging *gp, uint64_t gva, uint32_t access,
				    gfn_t *gfn)
{
	struct guest_walk w;
	enum guest_walk_result r = guest_walk(&ts_dry_mem, gp, TS_MAXPHYADDR, gva, access, &w);

	if (r == GUEST_WALK_FAULT)
		return w.error;
	if (r != GUEST_WALK_OK)
		exit(2);
	if (gfn)
		*gfn = w.gfn;
	return TS_ALLOWED;
}

/* The hardware's walk of the shadow tables: CR0.WP = 1, EFER.NXE = 1, the guest's SMEP/SMAP. */
static inline uint32_t ts_hw_walk(struct shadow_vcpu *sv, const struct guest_paging *gp,
				  uint64_t gva, uint32_t access, uint64_t *pfn)
{
	struct guest_paging hw = *gp;
	enum guest_walk_result r;
	struct guest_walk w;

	hw.cr3 = shadow_vcpu_root_pa(sv);
	hw.wp = true;
	hw.nx = true;
	/* The CPU's walk holds no reference to the tables; RCU stands in for the flush here. */
	rcu_read_lock();
	r = guest_walk(&ts_host_mem, &hw, 52, gva, access, &w);
	rcu_read_unlock();
	if (r == GUEST_WALK_FAULT)
		return w.error;
	if (pfn)
		*pfn = w.gfn;
	return TS_ALLOWED;
}

struct ts_outcome {
	uint32_t error;  /* TS_ALLOWED, or what was injected */
	enum shadow_fault_result last; /* the last fault's answer, if any */
	unsigned int faults;
	uint64_t pfn;    /* the host frame reached, when allowed */
};

/* The CPU and the hypervisor: access gva; on a #PF ask the shadow MMU, up to 8 times. */
static inline struct ts_outcome ts_access(struct shadow_mmu *m, struct shadow_vcpu *sv,
					  const struct guest_paging *gp, uint64_t gva,
					  uint32_t access)
{
	struct ts_outcome o = { .error = TS_ALLOWED, .last = SHADOW_FIXED };

	for (;;) {
		uint32_t error = ts_hw_walk(sv, gp, gva, access, &o.pfn), inject = 0;

		if (error == TS_ALLOWED)
			return o;
		if (++o.faults > 8) {
			o.error = error;
			o.last = SHADOW_RETRY;
			return o;
		}
		o.last = shadow_mmu_page_fault(m, sv, gp, gva, error, &inject);
		if (o.last == SHADOW_INJECT_PF) {
			o.error = inject;
			return o;
		}
		if (o.last != SHADOW_FIXED && o.last != SHADOW_RETRY) {
			o.error = error;
			return o;
		}
	}
}

static inline struct guest_paging ts_paging(gfn_t cr3_gfn)
{
	return (struct guest_paging){ .cr3 = cr3_gfn << PAGE_SHIFT, .wp = true, .nx = true };
}

static inline struct shadow_mmu *ts_create(const struct shadow_mmu_config *cfg)
{
	struct shadow_mmu_config c = *cfg;
	struct shadow_mmu *m;

	c.guest_maxphyaddr = TS_MAXPHYADDR;
	m = shadow_mmu_create(&c, &ts_ops, NULL);
	if (!m)
		exit(1);
	return m;
}

static inline unsigned long ts_stat(struct shadow_mmu *m, size_t offset)
{
	return atomic_load((atomic_ulong *)((char *)shadow_mmu_stats(m) + offset));
}
#define TS_STAT(m, field) ts_stat(m, offsetof(struct mmu_stats, field))

static inline unsigned long ts_xstat(struct shadow_mmu *m, size_t offset)
{
	return atomic_load((atomic_ulong *)((char *)shadow_mmu_extra_stats(m) + offset));
}
#define TS_XSTAT(m, field) ts_xstat(m, offsetof(struct shadow_mmu_extra_stats, field))

/* The leaf the shadow holds for gva under the vCPU's root (0 if none). */
static inline uint64_t ts_shadow_leaf(struct shadow_vcpu *sv, uint64_t gva, shadow_ptep_t *where)
{
	uint64_t pa = shadow_vcpu_root_pa(sv);

	for (unsigned int level = X86_ROOT_LEVEL; pa; level--) {
		shadow_ptep_t e = &((shadow_ptep_t)platform_phys_to_virt(pa))[x86_pte_index(gva, level)];
		uint64_t spte = atomic_load(e);

		if (!(spte & X86_PTE_P))
			return 0;
		if (level == 1) {
			if (where)
				*where = e;
			return spte;
		}
		pa = spte & X86_PTE_ADDR_MASK;
	}
	return 0;
}

static inline unsigned long ts_rmap_count(struct shadow_mmu *m, gfn_t gfn)
{
	struct shadow_gfn_meta *meta = shadow_gfn_meta(m, gfn);
	unsigned long nr;

	if (!meta)
		return 0;
	spin_lock(&m->shadow_lock);
	nr = pte_list_count(&meta->rmap, &m->shadow_lock);
	spin_unlock(&m->shadow_lock);
	return nr;
}

struct ts_find {
	shadow_ptep_t want;
	unsigned int seen;
};

static inline void ts_find_one(shadow_ptep_t sptep, void *arg)
{
	struct ts_find *f = arg;

	f->seen += sptep == f->want;
}

/*
 * The MMU's bookkeeping against its tables, with no call in progress:
 * every present leaf is in its gfn's rmap once, and no leaf maps a tracked
 * gfn writable; every link is in its child's parent list; every indirect
 * page's gfn is tracked; the rmaps hold nothing else. Returns the pages.
 */
static inline unsigned long ts_check_invariants(struct shadow_mmu *m)
{
	unsigned long pages = 0, leaves = 0, rmapped = 0;

	spin_lock(&m->shadow_lock);
	for (unsigned int b = 0; b < SHADOW_HASH_BUCKETS; b++) {
		for (struct shadow_page *sp = m->hash[b]; sp; sp = sp->hash_next) {
			shadow_ptep_t table = sp_table(sp);

			pages++;
			CHECK(!sp->zapped);
			if (!sp->role.direct)
				CHECK(shadow_gfn_is_tracked(m, sp->gfn));
			for (unsigned int i = 0; i < X86_PTES_PER_TABLE; i++) {
				uint64_t spte = atomic_load(&table[i]);
				struct ts_find f = { .want = &table[i] };

				if (!(spte & X86_PTE_P))
					continue;
				if (sp->role.level > 1) {
					pte_list_walk_locked(&spte_to_child(spte)->parents, ts_find_one, &f);
					CHECK_EQ_U(f.seen, 1);
					continue;
				}
				leaves++;
				pte_list_walk_locked(&shadow_gfn_meta(m, sptep_gfn(&table[i]))->rmap,
						     ts_find_one, &f);
				CHECK_EQ_U(f.seen, 1);
				if (spte & X86_PTE_RW)
					CHECK(!shadow_gfn_is_tracked(m, sptep_gfn(&table[i])));
			}
		}
	}
	for (gfn_t gfn = 0; gfn < m->cfg.gfn_limit; gfn += SHADOW_META_GFNS) {
		struct shadow_gfn_meta *chunk = shadow_gfn_meta(m, gfn);

		for (unsigned int i = 0; chunk && i < SHADOW_META_GFNS; i++)
			rmapped += pte_list_count(&chunk[i].rmap, &m->shadow_lock);
	}
	CHECK_EQ_U(rmapped, leaves);
	spin_unlock(&m->shadow_lock);
	return pages;
}

/* Check, and destroy the vCPUs and the MMU (the guest memory stays). */
static inline void ts_destroy_mmu(struct shadow_mmu *m, struct shadow_vcpu **sv, unsigned int nr_sv)
{
	ts_check_invariants(m);
	for (unsigned int i = 0; i < nr_sv; i++)
		shadow_vcpu_destroy(sv[i]);
	rcu_barrier();
	{
		const struct mmu_stats *s = shadow_mmu_stats(m);

		/* With no vCPU, every page left is in the hash. */
		CHECK_EQ_U(atomic_load(&s->tables_allocated) - atomic_load(&s->tables_freed),
			   ts_check_invariants(m));
	}
	shadow_mmu_destroy(m);
}

/* Check, destroy, and check that every page came back (descriptor cache included). */
static inline void ts_destroy(struct shadow_mmu *m, struct shadow_vcpu **sv, unsigned int nr_sv)
{
	ts_destroy_mmu(m, sv, nr_sv);
	page_free((void *)ts_guest, TS_GUEST_ORDER);
	CHECK_EQ_U(rmap_descs_in_use(), 0);
	rmap_desc_cache_drain_this_cpu();
	rcu_barrier();
	mm_fixture_check_all_back(ts_nr_cpus, ts_free_at_start);
}
