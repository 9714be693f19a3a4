// SPDX-License-Identifier: MIT
/*
 * Shared by the shadow MMU's host tests (test_shadow_*.c): a guest memory
 * in the arena with a table builder, a "CPU" that walks the shadow tables
 * as the hardware would and calls the fault handler when it faults, a
 * reference answer from the guest's own tables, a recording mark_dirty and
 * a counting flush hook, and the checks every test ends with: the rmap,
 * the parent links and the write tracking agree with the tables, and after
 * destroy every page is back in the allocator.
 *
 * The arena straddles 4 GiB: its first TS_LOW_BYTES, below, are kept from
 * the page allocator and serve the MMU's alloc_low_page (PAE-format
 * roots); the allocator's pages, so shadow pages and guest frames, lie
 * above, as they would on a machine with more memory.
 */
#pragma once

#include "mm/shadow/shadow_internal.h"
#include "tests/host/check.h"
#include "tests/host/mm_fixture.h"
#include "tests/host/platform_host.h"

#define TS_LOW_BYTES (4UL << 20)
#define TS_LOW_PAGES (TS_LOW_BYTES / PAGE_SIZE)
#define TS_ARENA_BYTES ((64UL << 20) + TS_LOW_BYTES)
#define TS_ARENA_PHYS (0x100000000UL - TS_LOW_BYTES)
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
static __attribute__((unused)) atomic_ulong ts_low_used[TS_LOW_PAGES / 64];

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

/* mm_fixture_setup(), but with the arena's part below 4 GiB kept from the allocator. */
static inline void ts_setup(unsigned int nr_cpus)
{
	struct mem_range usable = { TS_ARENA_PHYS, TS_ARENA_PHYS + TS_ARENA_BYTES };
	struct mem_range low = { TS_ARENA_PHYS, TS_ARENA_PHYS + TS_LOW_BYTES };
	struct page_alloc_stats st;
	const char *why = NULL;

	ts_nr_cpus = nr_cpus;
	host_set_nr_cpus(nr_cpus);
	host_arena_create(TS_ARENA_BYTES, TS_ARENA_PHYS);
	host_cpu_enter(0);
	if (!page_alloc_init(&usable, 1, &low, 1, &why)) {
		fprintf(stderr, "page_alloc_init: %s\n", why);
		exit(1);
	}
	rcu_init(nr_cpus);
	rcu_online();
	host_set_flush_hook(ts_flush_hook);
	page_alloc_get_stats(&st);
	ts_free_at_start = st.free_pages;
}

/* shadow_mmu_config.alloc_low_page: a zeroed page below 4 GiB, from any thread. */
static inline void *ts_alloc_low_page(void *owner)
{
	(void)owner;
	for (unsigned long i = 0; i < TS_LOW_PAGES; i++) {
		unsigned long bit = 1UL << (i % 64);

		if (!(atomic_fetch_or(&ts_low_used[i / 64], bit) & bit)) {
			void *page = platform_phys_to_virt(TS_ARENA_PHYS + i * PAGE_SIZE);

			memset(page, 0, PAGE_SIZE);
			return page;
		}
	}
	return NULL;
}

static inline void ts_free_low_page(void *owner, void *page)
{
	unsigned long i = (platform_virt_to_phys(page) - TS_ARENA_PHYS) / PAGE_SIZE;

	(void)owner;
	CHECK(i < TS_LOW_PAGES && (atomic_fetch_and(&ts_low_used[i / 64], ~(1UL << (i % 64))) &
				   (1UL << (i % 64))));
}

static inline unsigned long ts_low_pages_in_use(void)
{
	unsigned long n = 0;

	for (unsigned int i = 0; i < TS_LOW_PAGES / 64; i++)
		n += (unsigned long)__builtin_popcountl(atomic_load(&ts_low_used[i]));
	return n;
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

/* Guest frame gfn's host address, as the MMU's ops give it. */
static inline void *ts_guest_hva(gfn_t gfn)
{
	return platform_phys_to_virt((ts_guest_pfn + gfn) << PAGE_SHIFT);
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

/* 32-bit paging: the 4-byte entry index (0..1023) of table. */
static inline uint32_t ts_gpte32(gfn_t table, unsigned int index)
{
	return (uint32_t)(atomic_load(ts_gpte(table, index / 2)) >> (32 * (index % 2)));
}

/* Store it with an 8-byte cmpxchg that keeps the other half (as the walker sets A/D). */
static inline void ts_set_gpte32(gfn_t table, unsigned int index, uint32_t val)
{
	_Atomic uint64_t *word = ts_gpte(table, index / 2);
	unsigned int shift = 32 * (index % 2);
	uint64_t old = atomic_load(word);

	while (!atomic_compare_exchange_weak(word, &old, (old & ~(0xffffffffULL << shift)) |
							 ((uint64_t)val << shift)))
		;
}

/*
 * 32-bit paging: map gva in the address space of page directory pd: a
 * 4 KiB leaf (level 1; the PT is built if the PDE is absent) or a 4 MiB one
 * (level 2, PS) for frame gfn with bits (P added). Returns the leaf's table.
 */
static inline gfn_t ts_map32(gfn_t pd, uint64_t gva, unsigned int level, gfn_t gfn, uint32_t bits)
{
	unsigned int pde = x86_pte32_index(gva, 2);
	gfn_t pt;

	if (level == 2) {
		ts_set_gpte32(pd, pde, (uint32_t)(gfn << PAGE_SHIFT) | bits | X86_PTE_P | X86_PTE_PS);
		return pd;
	}
	if (!(ts_gpte32(pd, pde) & X86_PTE_P))
		ts_set_gpte32(pd, pde, (uint32_t)(ts_alloc_table() << PAGE_SHIFT) | TS_TABLE_BITS);
	pt = ts_gpte32(pd, pde) >> PAGE_SHIFT;
	ts_set_gpte32(pt, x86_pte32_index(gva, 1), (uint32_t)(gfn << PAGE_SHIFT) | bits | X86_PTE_P);
	return pt;
}

/* PAE paging: the PDPTE of gva under the PDPT at guest-physical pdpt (32-byte aligned). */
static inline _Atomic uint64_t *ts_pdpte(uint64_t pdpt, uint64_t gva)
{
	return &ts_guest[pdpt / 8 + x86_pte_index((uint32_t)gva, X86_PAE_ROOT_LEVEL) % 4];
}

/*
 * PAE paging: map gva under the PDPT at pdpt: a PDPTE (P only: its other
 * bits are reserved) to a PD, then a 2 MiB leaf (level 2) or a PT and a
 * 4 KiB leaf (level 1). Returns the leaf's table.
 */
static inline gfn_t ts_map_pae(uint64_t pdpt, uint64_t gva, unsigned int level, gfn_t gfn,
			       uint64_t bits)
{
	_Atomic uint64_t *e = ts_pdpte(pdpt, gva);
	gfn_t table;

	if (!(atomic_load(e) & X86_PTE_P))
		atomic_store(e, (ts_alloc_table() << PAGE_SHIFT) | X86_PTE_P);
	table = (atomic_load(e) & X86_PTE_ADDR_MASK) >> PAGE_SHIFT;
	if (level == 1) {
		e = ts_gpte(table, x86_pte_index(gva, 2));
		if (!(atomic_load(e) & X86_PTE_P))
			atomic_store(e, (ts_alloc_table() << PAGE_SHIFT) | TS_TABLE_BITS);
		table = (atomic_load(e) & X86_PTE_ADDR_MASK) >> PAGE_SHIFT;
	}
	atomic_store(ts_gpte(table, x86_pte_index(gva, level)),
		     (gfn << PAGE_SHIFT) | bits | X86_PTE_P | (level > 1 ? X86_PTE_PS : 0));
	return table;
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

/*
 * The CPU's PDPTE registers under a PAE-format root, per thread (a thread
 * is one vCPU's CPU): loaded at an entry with another CR3 than the last,
 * or after a flush (a shootdown makes the vCPU enter again), as VMX
 * without EPT (every entry) and SVM without NPT (VMRUN) load them. Between
 * two loads the root's PDPTEs in memory must not change: the shadow
 * MMU's contract (mm/shadow/shadow_mmu.h), checked here.
 */
static __thread struct {
	const struct shadow_vcpu *sv;
	uint64_t pa;
	unsigned long flushes;
	uint64_t pdpte[X86_PAE_NR_PDPTES];
} ts_cpu;

static inline void ts_cpu_load_pdptes(const struct shadow_vcpu *sv, uint64_t pa, uint64_t *pdpte)
{
	_Atomic uint64_t *slot = platform_phys_to_virt(pa);
	unsigned long flushes = atomic_load(&ts_flushes);
	bool same = ts_cpu.sv == sv && ts_cpu.pa == pa && ts_cpu.flushes == flushes;

	CHECK(pa < (1ULL << 32) && !(pa & 31));
	for (unsigned int i = 0; i < X86_PAE_NR_PDPTES; i++) {
		uint64_t now = atomic_load(&slot[i]);

		if (same)
			CHECK_EQ_U(now, ts_cpu.pdpte[i]);
		/* A shadow PDPTE: P and an address only (bits 2:1, 8:5, 63 are reserved). */
		CHECK(!(now & (X86_PDPTE_RSVD_LOW | X86_PTE_NX)));
		ts_cpu.pdpte[i] = now;
		pdpte[i] = now;
	}
	ts_cpu.sv = sv;
	ts_cpu.pa = pa;
	ts_cpu.flushes = flushes;
}

/*
 * The hardware's walk of the shadow tables: in the root's format, CR0.WP = 1,
 * EFER.NXE = 1, the guest's SMEP/SMAP (none with the guest's paging off).
 */
static inline uint32_t ts_hw_walk(struct shadow_vcpu *sv, const struct guest_paging *gp,
				  uint64_t gva, uint32_t access, uint64_t *pfn)
{
	struct guest_paging hw = *gp;
	enum guest_walk_result r;
	struct guest_walk w;

	hw.cr3 = shadow_vcpu_root_pa(sv);
	hw.wp = true;
	hw.nx = true;
	hw.pdptes_loaded = false;
	if (gp->mode == GUEST_PAGING_OFF)
		hw.smep = hw.smap = false;
	hw.mode = GUEST_PAGING_4LEVEL;
	if (hw.cr3 && shadow_vcpu_root_format(sv) == SHADOW_ROOT_PAE) {
		hw.mode = GUEST_PAGING_PAE;
		hw.pdptes_loaded = true;
		ts_cpu_load_pdptes(sv, hw.cr3, hw.pdpte);
	}
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
	struct shadow_emulate_frame emulated; /* SHADOW_EMULATE: the frame the store goes to */
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
		o.last = shadow_mmu_page_fault(m, sv, gp, gva, error, &inject, &o.emulated);
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

static inline struct guest_paging ts_paging32(gfn_t pd, bool pse)
{
	return (struct guest_paging){ .cr3 = pd << PAGE_SHIFT, .wp = true, .nx = true,
				      .mode = GUEST_PAGING_32BIT, .pse = pse };
}

static inline struct guest_paging ts_paging_pae(uint64_t pdpt)
{
	return (struct guest_paging){ .cr3 = pdpt, .wp = true, .nx = true,
				      .mode = GUEST_PAGING_PAE };
}

static inline struct guest_paging ts_paging_off(void)
{
	return (struct guest_paging){ .wp = true, .nx = true, .mode = GUEST_PAGING_OFF };
}

static inline struct shadow_mmu *ts_create(const struct shadow_mmu_config *cfg)
{
	struct shadow_mmu_config c = *cfg;
	struct shadow_mmu *m;

	c.guest_maxphyaddr = TS_MAXPHYADDR;
	c.alloc_low_page = ts_alloc_low_page;
	c.free_low_page = ts_free_low_page;
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

/*
 * The shadow entry of level (4..1; 2..1 under a PAE-format root) on gva's
 * path under the vCPU's root; NULL if the path ends above it.
 */
static inline shadow_ptep_t ts_shadow_ptep(struct shadow_vcpu *sv, uint64_t gva, unsigned int want)
{
	uint64_t pa = shadow_vcpu_root_pa(sv);
	unsigned int level = X86_ROOT_LEVEL;

	if (!pa)
		return NULL;
	if (shadow_vcpu_root_format(sv) == SHADOW_ROOT_PAE) {
		uint64_t pdpte = atomic_load(&((shadow_ptep_t)platform_phys_to_virt(pa))
						     [((uint32_t)gva >> 30) & 3]);

		if (!(pdpte & X86_PTE_P))
			return NULL;
		pa = pdpte & X86_PTE_ADDR_MASK;
		level = SHADOW_PAE_TOP_LEVEL;
	}
	for (;; level--) {
		shadow_ptep_t e = &((shadow_ptep_t)platform_phys_to_virt(pa))[x86_pte_index(gva, level)];
		uint64_t spte;

		if (level == want)
			return e;
		spte = atomic_load(e);
		if (!(spte & X86_PTE_P) || level == 1)
			return NULL;
		pa = spte & X86_PTE_ADDR_MASK;
	}
}

/* The leaf the shadow holds for gva under the vCPU's root (0 if none). */
static inline uint64_t ts_shadow_leaf(struct shadow_vcpu *sv, uint64_t gva, shadow_ptep_t *where)
{
	shadow_ptep_t e = ts_shadow_ptep(sv, gva, 1);
	uint64_t spte = e ? atomic_load(e) : 0;

	if (!(spte & X86_PTE_P))
		return 0;
	if (where)
		*where = e;
	return spte;
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
	CHECK_EQ_U(ts_low_pages_in_use(), 0);
	page_free((void *)ts_guest, TS_GUEST_ORDER);
	CHECK_EQ_U(rmap_descs_in_use(), 0);
	rmap_desc_cache_drain_this_cpu();
	rcu_barrier();
	mm_fixture_check_all_back(ts_nr_cpus, ts_free_at_start);
}
