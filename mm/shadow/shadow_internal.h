// SPDX-License-Identifier: MIT
/*
 * What the files of mm/shadow share: the shadow page and its role, the
 * per-gfn metadata (rmap head, write-tracking count), struct shadow_mmu,
 * the per-vCPU caches, the per-call context (struct shadow_op) that carries
 * the flush a call owes and the pages waiting for it, and the lock
 * assertions. Nothing outside mm/shadow includes this but the host tests.
 *
 * A shadow page is one naturally aligned order-1 block:
 *
 *   block + 0     the table: 512 entries the CPU walks (x86-64 format,
 *                 which is also PAE paging's PD and PT format)
 *   block + 4096  struct shadow_page: role, gfn, parents, hash link, and
 *                 the gfn each level-1 entry maps
 *
 * so an entry's page and gfn are found from its address alone, which is
 * all a lockless rmap walker has.
 */
#pragma once

#include "mm/mmu_lock.h"
#include "mm/page_alloc.h"
#include "mm/shadow/rmap.h"
#include "mm/shadow/walker.h"

#define SHADOW_PAGE_ORDER 1
#define SHADOW_BLOCK_SIZE (PAGE_SIZE << SHADOW_PAGE_ORDER)
#define SHADOW_HASH_BUCKETS 1024
#define SHADOW_PREV_ROOTS 3
/* A call needs at most 8 blocks: a fault, three shadow pages below the root and gfn
   metadata for the leaf and for three guest tables (or a new 4-level root and its
   table's metadata); a new PAE-format root, four level-2 pages and the metadata of
   four guest page directories (a fault that makes one goes no further). */
#define SHADOW_PAGE_CACHE_MIN 8
#define SHADOW_PAGE_CACHE_SIZE 12
#define SHADOW_META_GFNS 512 /* gfns per metadata chunk: 512 * 16 bytes, one order-1 block */
#define SHADOW_DEFAULT_GFN_LIMIT (1ULL << 20)
#define SHADOW_MAX_GFN_LIMIT (1ULL << 28)
/* Lockless rmap walks that end on another chain before one falls back to shadow_lock. */
#define SHADOW_RMAP_MAX_RESTARTS 8

/* --- shadow entries -------------------------------------------------- */

/* Frozen (zapped) shadow pages hold MMU_REMOVED_SPTE (mm/mmu.h) until they are freed. */
/* A link to a lower shadow table allows everything: the leaf decides. */
#define SHADOW_NONLEAF_BITS (X86_PTE_P | X86_PTE_RW | X86_PTE_US | X86_PTE_A)

_Static_assert(!(MMU_REMOVED_SPTE & (X86_PTE_P | X86_PTE_RW | X86_PTE_A)),
	       "REMOVED is not present and has neither W nor A");

static inline bool is_shadow_present(uint64_t spte)
{
	return spte & X86_PTE_P;
}

/*
 * The tables form a tree of level 4..1 (4-level roots) or 2..1 (below a
 * PAE-format root's PDPTEs); only level 1 holds leaves (4 KiB shadow pages).
 */
static inline bool is_shadow_leaf(uint64_t spte, unsigned int level)
{
	return level == 1 && is_shadow_present(spte);
}

static inline uint64_t shadow_spte_pfn(uint64_t spte)
{
	return (spte & X86_PTE_ADDR_MASK) >> PAGE_SHIFT;
}

/* --- shadow pages ---------------------------------------------------- */

/*
 * Everything that makes two shadows of one guest table differ. access: the
 * rights of the guest entries above it (the leaf's rights are ANDed with
 * them). direct: no guest table behind it, it maps a guest 2 MiB or 1 GiB
 * page with 4 KiB shadow entries from gfn on; dirty: that guest leaf's D
 * bit. Two guest entries may map one huge page, and share its direct
 * shadow page: had a clean one shared the writable leaves of a dirty one,
 * a write through it would not fault, and its D bit would never be set.
 * cr0_wp, efer_nx and the *_andnot_wp bits: the guest controls that change
 * which shadow entries the fault path builds (CR0.WP = 0 makes supervisor
 * writes to read-only user pages map with U clear, and NX too under SMEP).
 *
 * mode: the guest paging mode (enum guest_paging_mode) the page was built
 * for; a table means different things in different modes, so shadows of
 * one frame in two modes are two pages. quadrant: which part of a 32-bit
 * guest's 4 KiB table (1024 4-byte entries) the page shadows, since a
 * shadow page holds 512 entries: a level-2 page shadows PDEs
 * [256q, 256q + 256) (1 GiB, each PDE two shadow PDEs), a level-1 page
 * PTEs [512q, 512q + 512) (2 MiB); 0 in every other case. pse: CR4.PSE,
 * for 32-bit guests only (it decides whether PS makes a PDE a 4 MiB page).
 * The other controls are 0 where they mean nothing: efer_nx in 32-bit
 * paging, all of them with paging off.
 */
union shadow_role {
	uint32_t word;
	struct {
		uint32_t level : 3;
		uint32_t access : 3;
		uint32_t direct : 1;
		uint32_t dirty : 1;
		uint32_t cr0_wp : 1;
		uint32_t efer_nx : 1;
		uint32_t smep_andnot_wp : 1;
		uint32_t smap_andnot_wp : 1;
		uint32_t mode : 2;
		uint32_t quadrant : 2;
		uint32_t pse : 1;
	};
};

_Static_assert(GUEST_PAGING_4LEVEL < 4 && GUEST_PAGING_OFF < 4 && GUEST_PAGING_32BIT < 4 &&
	       GUEST_PAGING_PAE < 4, "role.mode holds every guest paging mode");
_Static_assert(sizeof(union shadow_role) == sizeof(uint32_t), "a role is one word");

/* The level of the shadow pages a PAE-format root's PDPTEs link (PAE PDs). */
#define SHADOW_PAE_TOP_LEVEL 2

struct shadow_mmu;

struct shadow_page {
	/* Immutable from creation to the free (lockless rmap walkers read them). */
	gfn_t gfn;               /* the guest table shadowed; direct: the first gfn mapped */
	union shadow_role role;
	struct shadow_mmu *mmu;

	/* shadow_lock must be held when using these: */
	struct shadow_page *hash_next;
	struct pte_list_head parents; /* the entries linking to this table */
	unsigned int root_count;      /* vCPUs holding it as a root (current or previous) */
	bool zapped;                  /* out of the hash, entries frozen; freed once unreferenced */

	/* The zapping call's, until call_rcu() takes it: */
	struct shadow_page *free_next;
	struct rcu_head rcu;

	/*
	 * gfn + 1 that each level-1 entry of an indirect page maps (0: never
	 * mapped). Written under shadow_lock before the entry first becomes
	 * present, and never changed while the page lives: the guest entry it
	 * comes from is write-protected, and a write to it zaps this page.
	 */
	_Atomic uint32_t slot_gfn[X86_PTES_PER_TABLE];
};

_Static_assert(sizeof(struct shadow_page) <= PAGE_SIZE, "the header fits the block's second page");

static inline shadow_ptep_t sp_table(struct shadow_page *sp)
{
	return (shadow_ptep_t)((char *)sp - PAGE_SIZE);
}

static inline uint64_t sp_table_pa(struct shadow_page *sp)
{
	return platform_virt_to_phys((void *)sp_table(sp));
}

static inline struct shadow_page *sptep_to_sp(shadow_ptep_t sptep)
{
	return (struct shadow_page *)(((uintptr_t)sptep & ~(uintptr_t)(SHADOW_BLOCK_SIZE - 1)) +
				      PAGE_SIZE);
}

static inline unsigned int sptep_index(shadow_ptep_t sptep)
{
	return (unsigned int)(((uintptr_t)sptep & (PAGE_SIZE - 1)) / sizeof(uint64_t));
}

/* The page a non-leaf entry links to. */
static inline struct shadow_page *spte_to_child(uint64_t spte)
{
	return (struct shadow_page *)((char *)platform_phys_to_virt(spte & X86_PTE_ADDR_MASK) +
				      PAGE_SIZE);
}

#define SHADOW_NO_GFN (~(gfn_t)0)

/* The gfn the level-1 entry sptep maps, or SHADOW_NO_GFN; safe for lockless walkers. */
static inline gfn_t sptep_gfn(shadow_ptep_t sptep)
{
	struct shadow_page *sp = sptep_to_sp(sptep);
	unsigned int i = sptep_index(sptep);
	uint32_t g;

	if (sp->role.direct)
		return sp->gfn + i;
	g = atomic_load_explicit(&sp->slot_gfn[i], memory_order_relaxed);
	return g ? (gfn_t)g - 1 : SHADOW_NO_GFN;
}

/* --- per-gfn metadata --------------------------------------------------- */

struct shadow_gfn_meta {
	struct pte_list_head rmap; /* writers: shadow_lock; readers: lockless under RCU */
	unsigned int write_track;  /* shadow_lock: indirect shadow pages of this gfn */
	unsigned int pad;
};

_Static_assert(sizeof(struct shadow_gfn_meta) * SHADOW_META_GFNS == SHADOW_BLOCK_SIZE,
	       "a metadata chunk is one block");

/* --- the MMU ----------------------------------------------------------- */

/*
 * The guest frames this CPU's walks read last (shadow_guest_word()): gfn + 1
 * (0: empty) and the frame's host address. A gfn's frame never changes
 * while the MMU lives (mm/mmu.h, struct mmu_ops), so an entry never goes
 * stale. Only its own CPU reads or writes it. Eight ways: two walks'
 * tables (with four, a walk through another region's tables evicted the
 * first's, and a guest that writes its live tables walks both in turn).
 */
#define SHADOW_GFRAME_WAYS 8
struct shadow_gframe_cache {
	gfn_t key[SHADOW_GFRAME_WAYS];
	char *hva[SHADOW_GFRAME_WAYS];
	unsigned int next;     /* the way the next miss replaces */
	unsigned int readonly; /* a bit per way: its slot is read-only */
};

/* Forward: the cache below is struct shadow_mmu's, per CPU (shadow_gframe()). */
struct shadow_mmu;
char *shadow_gframe_fill(struct shadow_mmu *m, gfn_t gfn, bool *writable);

/* Each CPU's counters (summed by shadow_sum()), and its guest frame cache. */
struct shadow_cpu_stats {
	struct mmu_stats s;
	struct shadow_mmu_extra_stats x;
	struct shadow_gframe_cache gframes;
} __cacheline_aligned;

struct shadow_mmu {
	/* Immutable after shadow_mmu_create(). */
	struct shadow_mmu_config cfg;
	struct mmu_ops ops;
	void *owner;
	unsigned int alloc_order, dir_order;
	struct guest_mem guest_mem; /* guest-physical memory through ops.gfn_to_pfn */
	/* Metadata chunks by gfn / SHADOW_META_GFNS: published once (release), freed at destroy. */
	_Atomic(struct shadow_gfn_meta *) *meta_dir;

	/*
	 * mmu_lock, read: may change shadow pages (with shadow_lock); write:
	 * no other call changes them (mmu_lock=exclusive faults, the locked
	 * write-protect and aging twins, destroy). Lockless rmap walkers and
	 * the CPU's A/D updates take neither.
	 */
	struct mmu_lock mmu_lock;
	spinlock_t shadow_lock;
	/* shadow_lock must be held when using these: */
	struct shadow_page *hash[SHADOW_HASH_BUCKETS]; /* by gfn, every role; zapped pages leave */
	unsigned long nr_vcpus;

	/*
	 * Calls that may have taken access away and not flushed yet: raised
	 * (seq_cst) before such a change, lowered after the flush. A zap or
	 * write-protect that finds nothing left to change flushes itself when
	 * another call's flush is pending (as in mm/ept).
	 */
	atomic_uint unflushed __cacheline_aligned;

	/* nr_cpus of each, after the struct in its own allocation (shadow_mmu_create). */
	unsigned int nr_cpus;
	struct shadow_cpu_stats *cpu_stats;
	struct mmu_stats stats;             /* shadow_mmu_stats()'s sum */
	struct shadow_mmu_extra_stats extra;    /* shadow_mmu_extra_stats()'s sum */
};

/*
 * Guest frame gfn's host address, through this CPU's cache (struct
 * shadow_gframe_cache), and whether its slot is writable; NULL outside
 * guest memory. The hit inline, the miss in shadow_gframe_fill().
 */
static inline char *shadow_gframe(struct shadow_mmu *m, gfn_t gfn, bool *writable)
{
	struct shadow_gframe_cache *c = &m->cpu_stats[platform_cpu_id()].gframes;

	for (unsigned int i = 0; i < SHADOW_GFRAME_WAYS; i++) {
		if (c->key[i] == gfn + 1) {
			*writable = !(c->readonly >> i & 1);
			return c->hva[i];
		}
	}
	return shadow_gframe_fill(m, gfn, writable);
}

/*
 * Each range call's first step: cut end down to cfg.gfn_limit (no memory
 * lies above it). False when nothing of [start, end) is left.
 */
static inline bool shadow_clamp_range(const struct shadow_mmu *m, gfn_t start, gfn_t *end)
{
	if (*end > m->cfg.gfn_limit)
		*end = m->cfg.gfn_limit;
	return start < *end;
}

/*
 * What a vCPU's hardware CR3 points at, and the shadow pages it holds by
 * root_count (so that none is freed while a CR3 or PDPTE register may
 * point at it).
 *  - 4-level (role.mode GUEST_PAGING_4LEVEL): page[0], a level-4 shadow
 *    page of the guest's PML4; pa is its table.
 *  - PAE format (every other mode): pa is a 32-byte slot of the vCPU's
 *    low page (below 4 GiB) holding 4 PDPTEs, P | the table of page[i], or
 *    0 where page[i] is NULL (a guest PDPTE not present or reserved, or
 *    no memory there). page[i] is a level-2 page: for a PAE guest the
 *    shadow of the PD that guest PDPTE i points at; for a 32-bit guest
 *    quadrant i of the shadow of its PD; with paging off the direct page
 *    of guest-physical GiB i.
 * A root is immutable from its build to its release: its PDPTEs never
 * change while a CPU may hold them, and a root whose page was zapped
 * (frozen, still allocated) is replaced, with a new pa, not repaired.
 * The key that finds it again: role (of page[0]; PAE format: quadrant 0),
 * guest_table and gpdpte[].
 */
struct shadow_root {
	uint64_t pa;                      /* what the hardware CR3 holds; 0: no root */
	union shadow_role role;
	unsigned int slot;                /* PAE format: its 32 bytes of the low page */
	uint64_t guest_table;             /* the guest table CR3 points at (paging off: 0) */
	uint64_t gpdpte[X86_PAE_NR_PDPTES]; /* PAE guests: the PDPTEs it was built from */
	struct shadow_page *page[X86_PAE_NR_PDPTES];
};

/* PAE-format roots a vCPU may hold at once: current, previous ones, one being built. */
#define SHADOW_PAE_ROOT_SLOTS 8
#define SHADOW_PAE_ROOT_BYTES (X86_PAE_NR_PDPTES * sizeof(uint64_t))
_Static_assert(SHADOW_PAE_ROOT_SLOTS >= SHADOW_PREV_ROOTS + 2, "a slot for every root held");
_Static_assert(SHADOW_PAE_ROOT_SLOTS * SHADOW_PAE_ROOT_BYTES <= PAGE_SIZE, "slots fit a page");

static inline bool shadow_root_is_pae(const struct shadow_root *r)
{
	return r->role.mode != GUEST_PAGING_4LEVEL;
}

/*
 * The first shadow page on gva's path under root r, and its level: the
 * level-4 page, or the level-2 page of PDPTE gva[31:30] (NULL: none).
 */
static inline struct shadow_page *shadow_root_top(const struct shadow_root *r, uint64_t gva,
						  unsigned int *level)
{
	if (!shadow_root_is_pae(r)) {
		*level = X86_ROOT_LEVEL;
		return r->page[0];
	}
	*level = SHADOW_PAE_TOP_LEVEL;
	return r->page[x86_pte_index(gva, X86_PAE_ROOT_LEVEL) & (X86_PAE_NR_PDPTES - 1)];
}

/*
 * The walk hint (mm/shadow/shadow_fault.c): where the vCPU's last fault
 * that took the whole way went, for a 4-level guest: its guest walk above
 * the guest's leaf, and the shadow page of each level on its path (none,
 * NULL, after a fault that ended in SHADOW_EMULATE: a store to a live
 * guest table, whose next store the hint's walk serves). A fault
 * through the same guest table of the leaf's level (the same 2 MiB for a
 * 4 KiB guest page, the same 1 GiB for a 2 MiB one) under the same CR3 and
 * EFER.NXE checks the guest entries above that table with a load each and
 * walks on from it; under the locks it follows each shadow link that still
 * points at the recorded page, instead of looking the page up. Nothing in
 * it is trusted: a recorded page is only ever compared with one the live
 * tree links (never dereferenced on its own), so one freed since is
 * harmless; the guest entries' addresses stay good while the MMU lives (a
 * gfn's frame never moves). The vCPU's own calls only.
 */
struct shadow_walk_hint {
	unsigned int level; /* the guest leaf's level, where the walk goes on; 0: no hint */
	bool nx;            /* the EFER.NXE it was recorded under */
	uint64_t cr3;
	unsigned int shift; /* 12 + 9 * level */
	uint64_t region;    /* gva >> shift */
	struct shadow_page *sp[X86_ROOT_LEVEL + 1]; /* [level]; [4]: the root's page */
	bool direct, dirty; /* sp[1] is direct (a guest huge page), for a leaf with dirty as D */
	struct guest_walk walk;
	/*
	 * The guest table's words (the page the recorded walk read its leaf
	 * from: a guest frame stays at its host address for the VM's life)
	 * and a leaf's reserved bits there under the hint's NXE, for
	 * shadow_hint_walk_leaf().
	 */
	_Atomic uint64_t *table;
	uint64_t rsvd;
};

struct shadow_vcpu {
	struct shadow_mmu *mmu; /* immutable */
	struct shadow_walk_hint hint;
	/*
	 * The vCPU's own calls only (one CPU at a time); the pages' root_counts
	 * are shadow_lock's. The hardware reads the current root's PDPTEs at
	 * VM entry on the vCPU's CPU, after the call that wrote them returned.
	 */
	struct shadow_root root;
	/*
	 * Outside PAE paging: the CR3 and controls root was last found right
	 * for (shadow_switch_root()). A fault under the same ones asks only
	 * whether root is still live. Set when root is chosen or confirmed;
	 * cleared when it goes.
	 */
	struct shadow_root_for {
		bool valid;
		bool wp, nx, smep, smap, pse;
		enum guest_paging_mode mode;
		uint64_t cr3;
	} root_for;
	struct shadow_root prev_roots[SHADOW_PREV_ROOTS]; /* pa 0: empty */
	uint64_t *pae_page;          /* the PAE-format roots' slots: NULL until the first */
	unsigned int pae_slots_used; /* a bit per slot */
	void *pages[SHADOW_PAGE_CACHE_SIZE]; /* zeroed blocks, topped up outside the locks */
	unsigned int nr_pages;
	struct rmap_desc_reserve descs;
};

/* Counters are bumped by their own CPU only: a relaxed load and store, no locked RMW. */
#define shadow_stat_add_(m, part, field, n)                                             \
	do {                                                                            \
		atomic_ulong *sh_c_ = &(m)->cpu_stats[platform_cpu_id()].part.field;    \
		atomic_store_explicit(sh_c_,                                            \
				      atomic_load_explicit(sh_c_, memory_order_relaxed) + (n), \
				      memory_order_relaxed);                            \
	} while (0)
#define shadow_stat_add(m, field, n) shadow_stat_add_(m, s, field, n)
/* The same, inside a call (struct shadow_op): its CPU's counters, found once at its begin. */
#define shadow_op_stat_add_(op, part, field, n)                                         \
	do {                                                                            \
		atomic_ulong *sh_c_ = &(op)->stats->part.field;                         \
		atomic_store_explicit(sh_c_,                                            \
				      atomic_load_explicit(sh_c_, memory_order_relaxed) + (n), \
				      memory_order_relaxed);                            \
	} while (0)
#define shadow_op_stat_inc(op, field) shadow_op_stat_add_(op, s, field, 1)
#define shadow_op_xstat_inc(op, field) shadow_op_stat_add_(op, x, field, 1)
#define shadow_stat_inc(m, field) shadow_stat_add_(m, s, field, 1)
#define shadow_xstat_add(m, field, n) shadow_stat_add_(m, x, field, n)
#define shadow_xstat_inc(m, field) shadow_stat_add_(m, x, field, 1)

/* Lock preconditions: the first line of every function that has one. */
#ifdef MM_DEBUG
#define shadow_assert_locked(m) \
	BUG_ON(atomic_load_explicit(&(m)->shadow_lock.owner, memory_order_relaxed) != \
	       platform_cpu_id() + 1)
#define shadow_assert_write_locked(m) BUG_ON(!mmu_lock_held_write(&(m)->mmu_lock))
#define shadow_assert_rcu() RCU_CHECK(rcu_read_lock_held(), "shadow: needs rcu_read_lock")
#else
#define shadow_assert_locked(m) do { (void)(m); } while (0)
#define shadow_assert_write_locked(m) do { (void)(m); } while (0)
#define shadow_assert_rcu() do { } while (0)
#endif

enum shadow_lock_mode {
	SHADOW_LOCK_NONE,  /* RCU only: lockless rmap walks */
	SHADOW_LOCK_READ,  /* mmu_lock (R), and shadow_lock */
	SHADOW_LOCK_WRITE, /* mmu_lock (W); shadow_lock too unless the caller says not */
};

/*
 * One call's context, on its stack: the locks it holds, the remote flush
 * it owes, and the zapped pages that may be freed only after that flush.
 */
struct shadow_op {
	struct shadow_mmu *mmu;
	struct shadow_vcpu *sv;   /* whose caches a fault or CR3 load takes from; NULL otherwise */
	enum shadow_lock_mode lock;
	unsigned int cpu;         /* platform_cpu_id(), read once at the begin */
	struct shadow_cpu_stats *stats; /* that CPU's counters: shadow_op_stat_inc() */
	bool locked;              /* holds shadow_lock */
	bool flush;               /* a change needs a remote flush before anything is freed */
	bool counted;             /* holds one count of mmu->unflushed */
	bool guarantees_flushed;  /* returns only once no TLB holds what its range lost */
	bool zapping;             /* shadow_mmu_zap_range(), for flush=eager's leaf batches */
	bool teardown;            /* shadow_mmu_destroy(): leaves leave the rmap whole, after */
	struct shadow_page *zapped; /* waiting for the flush, then call_rcu() */
	uint64_t leaves_zapped;   /* present leaves that went away */
	uint64_t write_protected; /* writable leaves that lost W */
};

/* The call context, inline: every fault takes it (the locks, in order). */
void shadow_op_flush(struct shadow_op *op); /* shadow_spte.c */

static inline void shadow_op_begin(struct shadow_op *op, struct shadow_mmu *m,
				   struct shadow_vcpu *sv, enum shadow_lock_mode lock,
				   bool take_shadow_lock)
{
	unsigned int cpu = platform_cpu_id();

	*op = (struct shadow_op){ .mmu = m, .sv = sv, .lock = lock, .cpu = cpu,
				  .stats = &m->cpu_stats[cpu] };
	if (lock == SHADOW_LOCK_READ) {
		mmu_read_lock(&m->mmu_lock, cpu);
		shadow_op_stat_inc(op, lock_read);
	} else if (lock == SHADOW_LOCK_WRITE) {
		mmu_write_lock(&m->mmu_lock, cpu);
		shadow_op_stat_inc(op, lock_write);
	}
	rcu_read_lock();
	if (take_shadow_lock) {
		spin_lock(&m->shadow_lock);
		op->locked = true;
	}
}

/*
 * shadow_lock goes first: what the call zapped is unreachable already, and
 * its flush need not hold up other faults. A zap or write-protect that
 * found its range already changed by another call whose flush has not
 * returned flushes as well (its caller relies on no TLB holding what the
 * range lost); the load of unflushed pairs with the seq_cst add in
 * shadow_op_count_unflushed().
 */
static inline void shadow_op_end(struct shadow_op *op)
{
	struct shadow_mmu *m = op->mmu;

	if (op->locked)
		spin_unlock(&m->shadow_lock);
	if (op->guarantees_flushed && !op->flush &&
	    atomic_load(&m->unflushed) > (op->counted ? 1u : 0u))
		op->flush = true;
	if (op->flush || op->zapped) /* a fault that filled an entry owes neither */
		shadow_op_flush(op);
	if (op->counted)
		atomic_fetch_sub(&m->unflushed, 1); /* after our flush returned */
	rcu_read_unlock();
	if (op->lock == SHADOW_LOCK_READ)
		mmu_read_unlock(&m->mmu_lock, op->cpu);
	else if (op->lock == SHADOW_LOCK_WRITE)
		mmu_write_unlock(&m->mmu_lock);
	if (op->leaves_zapped)
		shadow_stat_add(m, leaves_zapped, op->leaves_zapped);
}

/* shadow_mmu.c */
bool shadow_vcpu_topup(struct shadow_vcpu *sv);
void *shadow_cache_pop(struct shadow_op *op);

/* shadow_page.c: the hash, page life, gfn metadata and write tracking. */
struct shadow_page *shadow_get_page(struct shadow_op *op, gfn_t gfn, union shadow_role role);
struct shadow_gfn_meta *shadow_gfn_meta_alloc_slow(struct shadow_op *op, gfn_t gfn);

/* NULL when nothing was ever mapped or tracked near gfn. Lockless walkers too (under RCU). */
static inline struct shadow_gfn_meta *shadow_gfn_meta(struct shadow_mmu *m, gfn_t gfn)
{
	struct shadow_gfn_meta *chunk;

	if (gfn >= m->cfg.gfn_limit)
		return NULL;
	/* Acquire: pairs with the release that published the zeroed chunk. */
	chunk = atomic_load_explicit(&m->meta_dir[gfn / SHADOW_META_GFNS], memory_order_acquire);
	return chunk ? &chunk[gfn % SHADOW_META_GFNS] : NULL;
}

/* gfn's metadata, its chunk made now if need be (shadow_lock; NULL at or past gfn_limit). */
static inline struct shadow_gfn_meta *shadow_gfn_meta_alloc(struct shadow_op *op, gfn_t gfn)
{
	struct shadow_gfn_meta *meta = shadow_gfn_meta(op->mmu, gfn);

	return meta ? meta : shadow_gfn_meta_alloc_slow(op, gfn);
}
bool shadow_gfn_is_tracked(struct shadow_mmu *m, gfn_t gfn);
void shadow_untrack_gfn(struct shadow_op *op, gfn_t gfn);
/* ops->mark_dirty (or _range) for one gfn: a guest page written other than through a spte. */
void shadow_mark_dirty(struct shadow_mmu *m, gfn_t gfn);
uint64_t shadow_zap_gfn_pages(struct shadow_op *op, gfn_t gfn);
/* The hash bucket of a guest table gfn (m->hash[...]; shadow_lock). */
unsigned int shadow_hash_bucket(gfn_t gfn);
void shadow_hash_remove(struct shadow_mmu *m, struct shadow_page *sp);
struct shadow_page *shadow_hash_any(struct shadow_mmu *m);

/* shadow_spte.c: the only code that stores to a shadow entry. */
uint64_t shadow_set_spte(struct shadow_op *op, shadow_ptep_t sptep, uint64_t new_spte);
uint64_t shadow_set_leaf(struct shadow_op *op, shadow_ptep_t sptep, gfn_t gfn, uint64_t new_spte);
bool shadow_fill_empty_leaf(struct shadow_op *op, shadow_ptep_t sptep, gfn_t gfn,
			    struct shadow_gfn_meta *meta, uint64_t new_spte);
uint64_t shadow_clear_spte_bits(struct shadow_op *op, shadow_ptep_t sptep, uint64_t mask);
void shadow_set_pae_pdptes(shadow_ptep_t pdptes, struct shadow_page *const page[X86_PAE_NR_PDPTES]);
void shadow_zap_page(struct shadow_op *op, struct shadow_page *sp);
void shadow_op_count_unflushed(struct shadow_op *op);

/* shadow_root.c: roots. */
void shadow_put_root(struct shadow_op *op, struct shadow_page *sp);
bool shadow_switch_root_slow(struct shadow_op *op, const struct guest_paging *gp);

/* Its pages are all still there (none zapped). */
static inline bool shadow_root_live(const struct shadow_root *r)
{
	if (!r->pa)
		return false;
	if (!shadow_root_is_pae(r))
		return !r->page[0]->zapped; /* a 4-level root is one page */
	for (unsigned int i = 0; i < X86_PAE_NR_PDPTES; i++)
		if (r->page[i] && r->page[i]->zapped)
			return false;
	return true;
}

/* root_for: is gp what the current root was found right for? */
static inline bool shadow_root_was_for(const struct shadow_root_for *f,
				       const struct guest_paging *gp)
{
	return f->valid && f->cr3 == gp->cr3 && f->mode == gp->mode && f->wp == gp->wp &&
	       f->nx == gp->nx && f->smep == gp->smep && f->smap == gp->smap && f->pse == gp->pse;
}

/*
 * Make the vCPU's root the one for gp's CR3, mode and controls (and a PAE
 * guest's PDPTEs); false if it was right. Every fault asks, and nearly
 * always the answer is the current root: under the CR3 and controls it was
 * last found right for, only a zap can have made it wrong. That answer is
 * inline; the rest is shadow_switch_root_slow (shadow_root.c).
 */
static inline bool shadow_switch_root(struct shadow_op *op, const struct guest_paging *gp)
{
	if (shadow_root_was_for(&op->sv->root_for, gp) && shadow_root_live(&op->sv->root))
		return false;
	return shadow_switch_root_slow(op, gp);
}
bool shadow_vcpu_prepare_roots(struct shadow_vcpu *sv, const struct guest_paging *gp);

/* shadow_vcpu_prepare_roots() would find nothing to do: the common case, tested inline. */
static inline bool shadow_vcpu_prepared(const struct shadow_vcpu *sv, const struct guest_paging *gp)
{
	return (shadow_root_format_for(gp->mode) != SHADOW_ROOT_PAE || sv->pae_page) &&
	       sv->nr_pages >= SHADOW_PAGE_CACHE_MIN && sv->descs.nr == RMAP_DESC_RESERVE;
}
void shadow_root_loaded_pdptes(const struct shadow_vcpu *sv, struct guest_paging *gp);
void shadow_vcpu_release_roots(struct shadow_op *op);

/*
 * Walking the gfn metadata of [start, end): it.gfn and it.meta step
 * together over every gfn whose chunk exists; a chunk never published
 * (nothing in it was ever mapped or tracked) is skipped whole. Lockless
 * walkers may use it under RCU: each chunk is loaded once, through
 * shadow_gfn_meta()'s acquire, and chunks are freed only at destroy. An
 * entry in the rmap when the walk starts had its chunk published before,
 * so the walk reaches it; a chunk published later may be missed, like any
 * entry added behind the walk (for write-protect, the dirty-log barrier
 * pair of rmap.h covers that case).
 */
struct shadow_meta_iter {
	struct shadow_mmu *m;
	gfn_t gfn, end;
	gfn_t chunk_end;              /* where gfn's chunk ends, or end if sooner */
	struct shadow_gfn_meta *meta; /* gfn's */
};

/* From it->gfn on, to the first gfn that has a chunk; it->meta is NULL when none is left. */
static inline void shadow_meta_iter_seek(struct shadow_meta_iter *it)
{
	for (it->meta = NULL; it->gfn < it->end; it->gfn = it->chunk_end) {
		gfn_t next = (it->gfn / SHADOW_META_GFNS + 1) * SHADOW_META_GFNS;

		it->chunk_end = next < it->end ? next : it->end;
		it->meta = shadow_gfn_meta(it->m, it->gfn);
		if (it->meta)
			return;
	}
}

static inline void shadow_meta_iter_next(struct shadow_meta_iter *it)
{
	it->meta++;
	if (++it->gfn == it->chunk_end)
		shadow_meta_iter_seek(it);
}

/* One loop (break works); inside a chunk a step is gfn++, meta++ and one compare. */
#define for_each_shadow_gfn_meta(it, mmu, start, end_)                                   \
	for ((it) = (struct shadow_meta_iter){ .m = (mmu), .gfn = (start), .end = (end_) }, \
	     shadow_meta_iter_seek(&(it));                                                  \
	     (it).meta; shadow_meta_iter_next(&(it)))

/* shadow_dirty_age.c: one gfn's rmap, lockless (falling back to shadow_lock) or locked. */
uint64_t shadow_rmap_write_protect(struct shadow_op *op, struct pte_list_head *head, gfn_t gfn);
bool shadow_rmap_test_and_clear_young(struct shadow_op *op, struct pte_list_head *head, gfn_t gfn);
