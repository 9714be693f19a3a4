// SPDX-License-Identifier: MIT
/*
 * Unit tests for the shadow MMU (mm/shadow): faults at 4 KiB and inside
 * guest 2 MiB and 1 GiB pages, injected #PFs with their error codes, CR3
 * switches and the previous roots, INVLPG, a write to a guest page table
 * (zap and unprotect) and one that needs emulation, frames mapped many
 * times (multi-entry rmaps), zap, write-protect and aging (lockless and
 * locked, flush batched and eager), dirty logging, CR0.WP = 0 emulation,
 * and teardown by the allocator's counts; then the other guest paging
 * modes under PAE-format roots: 32-bit paging (quadrants, 4 MiB pages,
 * 4-byte stores), PAE (absent and loaded PDPTEs), paging off, and mode
 * switches. The random comparison against
 * the guest's own tables and the threaded test are in test_shadow_random.c.
 */
#define _GNU_SOURCE
#include "tests/host/test_shadow.h"

#define GVA_A 0x0000123456789000ULL
#define FRAME_A 0x300

static struct shadow_mmu *mmu;
static struct shadow_vcpu *vcpu;

static void start(const struct shadow_mmu_config *cfg)
{
	ts_guest_create();
	mmu = ts_create(cfg);
	vcpu = shadow_vcpu_create(mmu);
	CHECK(vcpu != NULL);
}

static void finish(void)
{
	ts_destroy(mmu, &vcpu, 1);
}

static void test_fault_4k_read_then_write(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging(0x80);
	struct ts_outcome o;
	gfn_t pt;
	uint64_t leaf;

	start(&cfg);
	pt = ts_map(0x80, GVA_A, 1, FRAME_A, X86_PTE_RW | X86_PTE_US);
	CHECK(shadow_mmu_load_cr3(mmu, vcpu, &gp) != 0);
	CHECK_EQ_U(shadow_mmu_load_cr3(mmu, vcpu, &gp), shadow_vcpu_root_pa(vcpu));
	gp.cpl = 3;
	o = ts_access(mmu, vcpu, &gp, GVA_A, PFERR_USER);
	CHECK_EQ_U(o.error, TS_ALLOWED);
	CHECK_EQ_U(o.faults, 1);
	CHECK_EQ_U(o.pfn, ts_guest_pfn + FRAME_A);
	/* A in every guest entry used, no D; the leaf is read-only until the guest's D is set. */
	for (unsigned int level = 1; level <= 4; level++)
		CHECK(atomic_load(ts_walk_gpte(0x80, GVA_A, level)) & X86_PTE_A);
	CHECK(!(atomic_load(ts_gpte(pt, x86_pte_index(GVA_A, 1))) & X86_PTE_D));
	leaf = ts_shadow_leaf(vcpu, GVA_A, NULL);
	CHECK((leaf & (X86_PTE_P | X86_PTE_US | X86_PTE_A)) == (X86_PTE_P | X86_PTE_US | X86_PTE_A));
	CHECK(!(leaf & (X86_PTE_RW | X86_PTE_NX)));
	CHECK_EQ_U(ts_rmap_count(mmu, FRAME_A), 1);
	CHECK(!ts_dirty(FRAME_A));
	/* The walk's A bits are writes to the tables (the root and the PT): the log sees them. */
	CHECK(ts_dirty(0x80));
	CHECK(ts_dirty(pt));
	ts_dirty_reset();
	/* The write faults once: D in the guest entry, a writable dirty leaf, the log told. */
	o = ts_access(mmu, vcpu, &gp, GVA_A, PFERR_USER | PFERR_WRITE);
	CHECK_EQ_U(o.error, TS_ALLOWED);
	CHECK_EQ_U(o.faults, 1);
	CHECK(atomic_load(ts_gpte(pt, x86_pte_index(GVA_A, 1))) & X86_PTE_D);
	leaf = ts_shadow_leaf(vcpu, GVA_A, NULL);
	CHECK((leaf & (X86_PTE_RW | X86_PTE_D)) == (X86_PTE_RW | X86_PTE_D));
	CHECK(ts_dirty(FRAME_A));
	CHECK(ts_dirty(pt)); /* its D bit */
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, PFERR_USER | PFERR_WRITE).faults, 0);
	CHECK_EQ_U(ts_rmap_count(mmu, FRAME_A), 1);
	CHECK_EQ_U(TS_STAT(mmu, faults_fixed), 2);
	CHECK_EQ_U(TS_STAT(mmu, tables_allocated), 4);
	CHECK_EQ_U(TS_XSTAT(mmu, roots_created), 1);
	CHECK_EQ_U(atomic_load(&ts_flushes), 0); /* nothing was ever taken away */
	finish();
}

static void test_fault_inside_guest_huge_pages(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging(0x80);
	uint64_t gva2m = 0x40000000ULL, gva1g = 0x8000000000ULL;
	shadow_ptep_t where = NULL;
	struct ts_outcome o;

	start(&cfg);
	ts_map(0x80, gva2m, 2, 512, X86_PTE_RW);                  /* 2 MiB at gfn 512 */
	ts_map(0x80, gva1g, 3, TS_ALIAS_BASE, X86_PTE_RW | X86_PTE_NX); /* 1 GiB, no execute */
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	o = ts_access(mmu, vcpu, &gp, gva2m + 0x5123, PFERR_WRITE);
	CHECK_EQ_U(o.error, TS_ALLOWED);
	CHECK_EQ_U(o.pfn, ts_guest_pfn + 512 + 5);
	CHECK(atomic_load(ts_walk_gpte(0x80, gva2m, 2)) & X86_PTE_D);
	o = ts_access(mmu, vcpu, &gp, gva2m + 0x1ff000, 0);
	CHECK_EQ_U(o.pfn, ts_guest_pfn + 512 + 511);
	/* Two leaves of one direct page: root, level 3, level 2 and the direct level 1. */
	CHECK_EQ_U(TS_STAT(mmu, tables_allocated), 4);
	o = ts_access(mmu, vcpu, &gp, gva1g + 0x12345678, 0);
	CHECK_EQ_U(o.error, TS_ALLOWED);
	CHECK_EQ_U(o.pfn, ts_guest_pfn + (TS_ALIAS_BASE + 0x12345) % TS_GUEST_PAGES);
	CHECK(ts_shadow_leaf(vcpu, gva1g + 0x12345678, NULL) & X86_PTE_NX);
	/* A second, clean entry for the same 2 MiB page: its own direct page; a write sets its D. */
	ts_map(0x80, gva2m + (1ULL << 21), 2, 512, X86_PTE_RW);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, gva2m + (1ULL << 21) + 0x5000, 0).faults, 1);
	CHECK(!(ts_shadow_leaf(vcpu, gva2m + (1ULL << 21) + 0x5000, NULL) & X86_PTE_RW));
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, gva2m + (1ULL << 21) + 0x5000, PFERR_WRITE).faults, 1);
	CHECK(atomic_load(ts_walk_gpte(0x80, gva2m + (1ULL << 21), 2)) & X86_PTE_D);
	/*
	 * That write went by the walk hint the read just recorded, and its walk
	 * set D: its leaf is in the page for a dirty guest leaf (the first
	 * 2 MiB entry's), not in the clean one the read's link still named.
	 */
	CHECK(ts_shadow_leaf(vcpu, gva2m + (1ULL << 21) + 0x5000, &where) & X86_PTE_RW);
	CHECK(sptep_to_sp(where)->role.dirty);
	/* 1 GiB: level 3, a direct level 2 and a direct level 1; then the clean 2 MiB one. */
	CHECK_EQ_U(TS_STAT(mmu, tables_allocated), 8);
	ts_check_invariants(mmu);
	o = ts_access(mmu, vcpu, &gp, gva1g + 0x12345678, PFERR_FETCH);
	CHECK_EQ_U(o.error, PFERR_PRESENT | PFERR_FETCH);
	finish();
}

/* The guest's tables deny: the exact error code is injected, and nothing changes. */
static void test_inject_pf_error_codes(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging(0x80);
	uint64_t user_ro = 0x1000, kernel = 0x2000, absent = 0x200000, rsvd = 0x40000000,
		 nx = 0x3000;
	struct ts_outcome o;

	start(&cfg);
	ts_map(0x80, user_ro, 1, 0x301, X86_PTE_US);
	ts_map(0x80, kernel, 1, 0x302, X86_PTE_RW);
	ts_map(0x80, nx, 1, 0x303, X86_PTE_US | X86_PTE_NX);
	ts_map(0x80, rsvd, 2, 1024, X86_PTE_RW); /* gfn 1024: bit 22, fine */
	atomic_fetch_or(ts_walk_gpte(0x80, rsvd, 2), 1ULL << 50); /* above MAXPHYADDR 48 */
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	gp.cpl = 3;
	o = ts_access(mmu, vcpu, &gp, user_ro, PFERR_USER | PFERR_WRITE);
	CHECK_EQ_U(o.last, SHADOW_INJECT_PF);
	CHECK_EQ_U(o.error, PFERR_PRESENT | PFERR_WRITE | PFERR_USER);
	CHECK(!(atomic_load(ts_walk_gpte(0x80, user_ro, 1)) & X86_PTE_A)); /* a fault sets nothing */
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, kernel, PFERR_USER).error, PFERR_PRESENT | PFERR_USER);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, absent, PFERR_USER).error, PFERR_USER);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, rsvd, PFERR_USER | PFERR_FETCH).error,
		   PFERR_PRESENT | PFERR_RSVD | PFERR_USER | PFERR_FETCH);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, nx, PFERR_USER | PFERR_FETCH).error,
		   PFERR_PRESENT | PFERR_USER | PFERR_FETCH);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, user_ro, PFERR_USER).error, TS_ALLOWED);
	/* SMAP: a supervisor read of a user page faults with AC clear, not with AC set. */
	gp.cpl = 0;
	gp.smap = true;
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, user_ro, 0).error, PFERR_PRESENT);
	gp.ac = true;
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, user_ro, 0).error, TS_ALLOWED);
	/* ... but an implicit supervisor access at CPL 3 ignores AC. */
	gp.cpl = 3;
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, user_ro, 0).error, PFERR_PRESENT);
	/* SMEP: no supervisor fetch from a user page; I/D is set (SMEP on, even with NXE off). */
	gp = ts_paging(0x80);
	gp.nx = false;
	gp.smep = true;
	atomic_fetch_and(ts_walk_gpte(0x80, nx, 1), ~X86_PTE_NX); /* NX is reserved without NXE */
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, nx, PFERR_FETCH).error, PFERR_PRESENT | PFERR_FETCH);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, kernel, PFERR_FETCH).error, TS_ALLOWED);
	CHECK_EQ_U(TS_XSTAT(mmu, pf_injected), 8);
	/* A translation outside guest memory: the caller stops the guest. */
	ts_map(0x80, 0x5000, 1, 0x7000, X86_PTE_RW);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, 0x5000, 0).last, SHADOW_NO_SLOT);
	ts_slot.writable = false;
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, kernel, PFERR_WRITE).last, SHADOW_READONLY);
	finish();
}

static void test_cr3_switch_keeps_previous_roots(void)
{
	struct shadow_mmu_config cfg = { 0 };
	gfn_t cr3[5] = { 0x80, 0x81, 0x82, 0x83, 0x84 };
	struct ts_outcome o;
	uint64_t root[5];

	start(&cfg);
	for (unsigned int i = 0; i < 5; i++) {
		struct guest_paging gp = ts_paging(cr3[i]);

		ts_map(cr3[i], GVA_A, 1, FRAME_A + i, X86_PTE_RW);
		root[i] = shadow_mmu_load_cr3(mmu, vcpu, &gp);
		CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).pfn, ts_guest_pfn + FRAME_A + i);
		if (i == 1) {
			/* Back to the first: the same root, nothing rebuilt. */
			struct guest_paging first = ts_paging(cr3[0]);

			CHECK_EQ_U(shadow_mmu_load_cr3(mmu, vcpu, &first), root[0]);
			CHECK_EQ_U(ts_access(mmu, vcpu, &first, GVA_A, 0).faults, 0);
			CHECK_EQ_U(shadow_mmu_load_cr3(mmu, vcpu, &gp), root[1]);
		}
	}
	/* The vCPU keeps the current root and three previous ones: the first went. */
	CHECK_EQ_U(TS_XSTAT(mmu, roots_created), 5);
	rcu_barrier();
	CHECK_EQ_U(TS_STAT(mmu, tables_freed), 4);
	{
		struct guest_paging first = ts_paging(cr3[0]), second = ts_paging(cr3[1]);

		shadow_mmu_load_cr3(mmu, vcpu, &second);
		CHECK_EQ_U(TS_XSTAT(mmu, roots_created), 5);
		shadow_mmu_load_cr3(mmu, vcpu, &first);
		CHECK_EQ_U(TS_XSTAT(mmu, roots_created), 6);
		CHECK_EQ_U(ts_access(mmu, vcpu, &first, GVA_A, 0).faults, 1);
		/* Other controls make another root for the same CR3. */
		first.wp = false;
		shadow_mmu_load_cr3(mmu, vcpu, &first);
		CHECK_EQ_U(TS_XSTAT(mmu, roots_created), 7);
		/* A fault under controls the root was not built for switches the root first. */
		first.wp = true;
		o = ts_access(mmu, vcpu, &first, GVA_A, 0);
		CHECK_EQ_U(o.error, TS_ALLOWED);
		CHECK_EQ_U(o.last, SHADOW_RETRY); /* the old root had the leaf: nothing else to do */
		CHECK_EQ_U(shadow_vcpu_root_pa(vcpu), shadow_mmu_load_cr3(mmu, vcpu, &first));
	}
	finish();
}

static void test_invlpg_drops_the_translation(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging(0x80);
	uint64_t huge = 0x40000000ULL;
	unsigned long flushes;

	start(&cfg);
	ts_map(0x80, GVA_A, 1, FRAME_A, X86_PTE_RW);
	ts_map(0x80, huge, 2, 512, X86_PTE_RW);
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).faults, 1);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, huge + 0x3000, 0).faults, 1);
	flushes = atomic_load(&ts_flushes);
	shadow_mmu_invlpg(mmu, vcpu, GVA_A);
	CHECK_EQ_U(ts_shadow_leaf(vcpu, GVA_A, NULL), 0);
	CHECK_EQ_U(ts_rmap_count(mmu, FRAME_A), 0);
	CHECK_EQ_U(atomic_load(&ts_flushes), flushes + 1);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).faults, 1);
	/* In a guest huge page the whole direct page goes. */
	shadow_mmu_invlpg(mmu, vcpu, huge + 0x1000);
	CHECK_EQ_U(ts_rmap_count(mmu, 512 + 3), 0);
	rcu_barrier();
	CHECK_EQ_U(TS_STAT(mmu, tables_freed), 1);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, huge + 0x3000, 0).faults, 1);
	shadow_mmu_invlpg(mmu, vcpu, 0x7000000); /* nothing there */
	finish();
}

/* The guest edits one of its tables through a mapping of it: zap, unprotect, let it write. */
static void test_guest_table_write_zaps_and_unprotects(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging(0x80);
	uint64_t window = 0x7f0000000ULL;
	gfn_t pt;

	start(&cfg);
	pt = ts_map(0x80, GVA_A, 1, FRAME_A, X86_PTE_RW);
	ts_map(0x80, window, 2, 0, X86_PTE_RW | X86_PTE_D); /* the first 2 MiB of guest memory */
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).pfn, ts_guest_pfn + FRAME_A);
	/* Reading the table through the window: a read-only leaf, as pt is tracked. */
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, window + pt * PAGE_SIZE, 0).error, TS_ALLOWED);
	CHECK(!(ts_shadow_leaf(vcpu, window + pt * PAGE_SIZE, NULL) & X86_PTE_RW));
	/* The write: pt's shadow page goes, the leaf becomes writable, the write goes through. */
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, window + pt * PAGE_SIZE, PFERR_WRITE).error, TS_ALLOWED);
	CHECK_EQ_U(TS_XSTAT(mmu, gfns_unprotected), 1);
	CHECK(ts_shadow_leaf(vcpu, window + pt * PAGE_SIZE, NULL) & X86_PTE_RW);
	CHECK_EQ_U(ts_shadow_leaf(vcpu, GVA_A, NULL), 0);
	ts_check_invariants(mmu);
	/* The guest's write: GVA_A now maps another frame, and the shadow follows. */
	atomic_store(ts_gpte(pt, x86_pte_index(GVA_A, 1)), ((FRAME_A + 1ULL) << PAGE_SHIFT) |
							   X86_PTE_P | X86_PTE_RW);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).pfn, ts_guest_pfn + FRAME_A + 1);
	/* pt is shadowed again: the window's leaf lost W. */
	CHECK(!(ts_shadow_leaf(vcpu, window + pt * PAGE_SIZE, NULL) & X86_PTE_RW));
	CHECK(ts_check_invariants(mmu) > 0);
	finish();
}

/*
 * The walk hint: the next page through the same guest table walks on from
 * it and follows the recorded shadow pages. Once an entry above that table
 * has changed (here: its PD unprotected by a zap, as when another vCPU
 * writes it or a slot goes, then rewritten), the walk goes from the root,
 * and the table the hint named is not touched.
 */
static void test_walk_hint_follows_the_guest(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging(0x80);
	struct shadow_vcpu *other;
	gfn_t pt, pd, new_pt;

	start(&cfg);
	pt = ts_map(0x80, GVA_A, 1, FRAME_A, X86_PTE_RW);
	for (unsigned int i = 1; i < 4; i++)
		ts_map(0x80, GVA_A + i * PAGE_SIZE, 1, FRAME_A + i, X86_PTE_RW);
	pd = (atomic_load(ts_walk_gpte(0x80, GVA_A, 3)) & X86_PTE_ADDR_MASK) >> PAGE_SHIFT;
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).pfn, ts_guest_pfn + FRAME_A);
	CHECK_EQ_U(TS_XSTAT(mmu, hinted_faults), 0);
	/* The same PT: the hint's way, the right frame, A and D set in the guest's PTE. */
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A + PAGE_SIZE, PFERR_WRITE).pfn,
		   ts_guest_pfn + FRAME_A + 1);
	CHECK_EQ_U(TS_XSTAT(mmu, hinted_faults), 1);
	CHECK_EQ_U(TS_XSTAT(mmu, hinted_walks), 1); /* the walk was one load of the hint's PT */
	CHECK((atomic_load(ts_gpte(pt, x86_pte_index(GVA_A + PAGE_SIZE, 1))) &
	       (X86_PTE_A | X86_PTE_D)) == (X86_PTE_A | X86_PTE_D));
	/* A denied access through the hint: the guest's own #PF, as from the root. */
	atomic_store(ts_gpte(pt, x86_pte_index(GVA_A + 3 * PAGE_SIZE, 1)), 0);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A + 3 * PAGE_SIZE, 0).error, 0);
	CHECK_EQ_U(TS_XSTAT(mmu, hinted_walks), 1); /* the full walk said so, not the short one */
	/* The PD loses its shadows (unprotected), and the guest points the PDE at a new PT. */
	CHECK(shadow_mmu_zap_range(mmu, pd, pd + 1) > 0);
	new_pt = ts_alloc_table();
	atomic_store(ts_gpte(new_pt, x86_pte_index(GVA_A + 2 * PAGE_SIZE, 1)),
		     ((FRAME_A + 9ULL) << PAGE_SHIFT) | X86_PTE_P | X86_PTE_RW);
	atomic_store(ts_gpte(pd, x86_pte_index(GVA_A, 2)), (new_pt << PAGE_SHIFT) | TS_TABLE_BITS);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A + 2 * PAGE_SIZE, 0).pfn,
		   ts_guest_pfn + FRAME_A + 9);
	CHECK_EQ_U(TS_XSTAT(mmu, hinted_faults), 1);
	/* The old PT's entry was not walked: no A bit. */
	CHECK(!(atomic_load(ts_gpte(pt, x86_pte_index(GVA_A + 2 * PAGE_SIZE, 1))) & X86_PTE_A));
	/* The hint follows the new path. */
	atomic_store(ts_gpte(new_pt, x86_pte_index(GVA_A + 5 * PAGE_SIZE, 1)),
		     ((FRAME_A + 10ULL) << PAGE_SHIFT) | X86_PTE_P | X86_PTE_RW);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A + 5 * PAGE_SIZE, 0).pfn,
		   ts_guest_pfn + FRAME_A + 10);
	CHECK_EQ_U(TS_XSTAT(mmu, hinted_faults), 2);
	/*
	 * Another vCPU rebuilds the path after a zap: the new pages sit
	 * where the hint's do not (those are freed), so the hint's pages are
	 * never followed; the fault finds the new ones by lookup.
	 */
	other = shadow_vcpu_create(mmu);
	CHECK(other != NULL);
	shadow_mmu_load_cr3(mmu, other, &gp);
	CHECK(shadow_mmu_zap_range(mmu, pd, pd + 1) > 0);
	shadow_mmu_zap_range(mmu, new_pt, new_pt + 1); /* its page, if the PD's zap left it */
	CHECK_EQ_U(ts_access(mmu, other, &gp, GVA_A + 2 * PAGE_SIZE, 0).pfn,
		   ts_guest_pfn + FRAME_A + 9);
	rcu_barrier();
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A + 5 * PAGE_SIZE, 0).pfn,
		   ts_guest_pfn + FRAME_A + 10);
	CHECK_EQ_U(TS_XSTAT(mmu, hinted_faults), 2);
	shadow_vcpu_destroy(other);
	CHECK(ts_check_invariants(mmu) > 0);
	finish();
}

/* shadow_vcpu_leaf(): what the CPU walks for gva under the vCPU's root, or 0. */
static void test_vcpu_leaf(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging(0x80);
	gfn_t pt;
	uint64_t s;

	start(&cfg);
	CHECK_EQ_U(shadow_vcpu_leaf(vcpu, GVA_A), 0); /* no root yet */
	pt = ts_map(0x80, GVA_A, 1, FRAME_A, X86_PTE_RW);
	ts_map(0x80, GVA_A + PAGE_SIZE, 1, FRAME_A + 1, 0);
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(shadow_vcpu_leaf(vcpu, GVA_A), 0); /* not faulted in */
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).faults, 1);
	s = shadow_vcpu_leaf(vcpu, GVA_A + 0x123);
	CHECK_EQ_U(shadow_spte_pfn(s), ts_guest_pfn + FRAME_A);
	CHECK(s & X86_PTE_P);
	CHECK_EQ_U(shadow_vcpu_leaf(vcpu, GVA_A + PAGE_SIZE), 0);
	CHECK_EQ_U(shadow_vcpu_leaf(vcpu, GVA_A + (2ULL << 20)), 0); /* no table there */
	shadow_mmu_zap_range(mmu, pt, pt + 1);
	CHECK_EQ_U(shadow_vcpu_leaf(vcpu, GVA_A), 0);
	finish();
}

/* A write to a table on the written address's own path: no way but emulation. */
static void test_self_referencing_write_needs_emulation(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging(0x80);
	uint64_t gva = 0x600000;
	gfn_t pt;

	start(&cfg);
	pt = ts_map(0x80, gva, 1, 0, X86_PTE_RW | X86_PTE_D);
	ts_map(0x80, gva, 1, pt, X86_PTE_RW | X86_PTE_D); /* gva maps its own page table */
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, gva, 0).error, TS_ALLOWED);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, gva, PFERR_WRITE).last, SHADOW_EMULATE);
	CHECK_EQ_U(TS_XSTAT(mmu, emulate), 1);
	finish();
}

/* A supervisor write to gva must be emulated into frame, unwalked of them without a walk so far. */
static void check_emulated_write(struct guest_paging *gp, uint64_t gva, gfn_t frame,
				 unsigned long unwalked)
{
	struct ts_outcome o = ts_access(mmu, vcpu, gp, gva, PFERR_WRITE);

	CHECK_EQ_U(o.last, SHADOW_EMULATE);
	CHECK_EQ_U(o.emulated.gfn, frame);
	CHECK(o.emulated.hva == ts_guest_hva(frame));
	CHECK_EQ_U(TS_XSTAT(mmu, emulate_unwalked), unwalked);
}

/*
 * The same write found from the shadow path, with no guest walk
 * (shadow_self_write_unwalked), only when the walk would have said the
 * same: the leaf's A and D set, the access allowed; else the walk decides.
 */
static void test_self_write_found_without_a_walk(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging(0x80);
	uint64_t gva = 0x600000;
	gfn_t pt;

	start(&cfg);
	pt = ts_map(0x80, gva, 1, 0, X86_PTE_RW);
	ts_map(0x80, gva, 1, pt, X86_PTE_RW); /* gva maps its own page table, D clear */
	ts_map(0x80, GVA_A, 1, FRAME_A, X86_PTE_RW | X86_PTE_D); /* another region */
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, gva, 0).error, TS_ALLOWED);
	check_emulated_write(&gp, gva, pt, 0); /* D clear: the walk sets it, and answers */
	/*
	 * D set now. A fault elsewhere moves the walk hint away (a hinted
	 * walk is as short, and is preferred); then the shadow path answers,
	 * with the same frame.
	 */
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).error, TS_ALLOWED);
	check_emulated_write(&gp, gva, pt, 1);
	CHECK_EQ_U(TS_XSTAT(mmu, emulate), 2);
	/* A user write to a supervisor page: the walk's #PF, not an emulation. */
	gp.cpl = 3;
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, gva, PFERR_WRITE | PFERR_USER).error,
		   PFERR_PRESENT | PFERR_WRITE | PFERR_USER);
	CHECK_EQ_U(TS_XSTAT(mmu, emulate_unwalked), 1);
	finish();
}

/*
 * An emulated store to the live root (shadow_mmu_guest_table_written): only
 * the entry written loses its subtree; the root, and what other entries
 * map, stay. A store to a level-1 table takes its shadow page whole.
 */
static void test_emulated_table_write_takes_one_entry(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging(0x80);
	uint64_t gva_b = 0x0000400000000000ULL, root; /* another PML4 slot than GVA_A */
	unsigned int slot_b = x86_pte_index(gva_b, 4);
	gfn_t pt_a, pdpt_c;

	start(&cfg);
	pt_a = ts_map(0x80, GVA_A, 1, FRAME_A, X86_PTE_RW);
	ts_map(0x80, gva_b, 1, FRAME_A + 1, X86_PTE_RW);
	root = shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).faults, 1);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, gva_b, 0).pfn, ts_guest_pfn + FRAME_A + 1);
	/* The guest points slot B at a new PDPT whose path maps FRAME_A + 2. */
	pdpt_c = ts_alloc_table();
	atomic_store(ts_gpte(0x80, slot_b), (pdpt_c << PAGE_SHIFT) | TS_TABLE_BITS);
	ts_map(0x80, gva_b, 1, FRAME_A + 2, X86_PTE_RW);
	shadow_mmu_guest_table_written(mmu, 0x80, slot_b * 8, 8);
	CHECK_EQ_U(shadow_vcpu_root_pa(vcpu), root);
	CHECK(ts_shadow_leaf(vcpu, GVA_A, NULL) != 0);
	CHECK_EQ_U(ts_shadow_leaf(vcpu, gva_b, NULL), 0);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).faults, 0);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, gva_b, 0).pfn, ts_guest_pfn + FRAME_A + 2);
	CHECK(ts_check_invariants(mmu) > 0);
	/* A store to GVA_A's page table: its shadow page goes whole, the root stays. */
	atomic_store(ts_gpte(pt_a, x86_pte_index(GVA_A, 1)),
		     ((FRAME_A + 3ULL) << PAGE_SHIFT) | X86_PTE_P | X86_PTE_RW);
	shadow_mmu_guest_table_written(mmu, pt_a, x86_pte_index(GVA_A, 1) * 8, 8);
	CHECK_EQ_U(shadow_vcpu_root_pa(vcpu), root);
	CHECK_EQ_U(ts_shadow_leaf(vcpu, GVA_A, NULL), 0);
	CHECK(ts_shadow_leaf(vcpu, gva_b, NULL) != 0);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).pfn, ts_guest_pfn + FRAME_A + 3);
	CHECK(ts_check_invariants(mmu) > 0);
	finish();
}

/*
 * shadow_mmu_emulated_write(): the store runs under shadow_lock, after the
 * shadow entries built from what it overwrites are gone. Stored first and
 * forgotten after (issue 19, defect 1), a fault in between installed the
 * new frame into a level-1 slot that still recorded the old one: BUG.
 */
struct forget_first_store {
	gfn_t pt;
	uint64_t new_gpte;
	bool leaf_gone, locked;
};

static void forget_first_store(void *ctx)
{
	struct forget_first_store *st = ctx;

	st->leaf_gone = ts_shadow_leaf(vcpu, GVA_A, NULL) == 0;
	st->locked = atomic_load(&mmu->shadow_lock.locked) != 0;
	atomic_store(ts_gpte(st->pt, x86_pte_index(GVA_A, 1)), st->new_gpte);
}

static void test_emulated_store_forgets_first(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging(0x80);
	struct forget_first_store st = {
		.new_gpte = ((FRAME_A + 5ULL) << PAGE_SHIFT) | X86_PTE_P | X86_PTE_RW,
	};
	struct shadow_written w;

	start(&cfg);
	st.pt = ts_map(0x80, GVA_A, 1, FRAME_A, X86_PTE_RW);
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).pfn, ts_guest_pfn + FRAME_A);
	CHECK(ts_shadow_leaf(vcpu, GVA_A, NULL) != 0);
	w = (struct shadow_written){ .gfn = st.pt, .off = x86_pte_index(GVA_A, 1) * 8, .len = 8 };
	shadow_mmu_emulated_write(mmu, &w, 1, forget_first_store, &st);
	CHECK(st.leaf_gone);
	CHECK(st.locked);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).pfn, ts_guest_pfn + FRAME_A + 5);
	CHECK(ts_check_invariants(mmu) > 0);
	finish();
}

/*
 * A string store's batch (virt/shadow_emulate.c emulate_string) as Linux
 * 6.1's reset_early_page_tables(): "rep stosl" zeroes slots 0-510 of the
 * live root, one shadow_mmu_emulated_write() of 4088 bytes. What those
 * slots gave goes; slot 511 (the kernel's, the store's own path) and the
 * root stay.
 */
static void zero_root_but_last(void *ctx)
{
	const gfn_t *root = ctx;

	for (unsigned int i = 0; i < 511; i++)
		atomic_store(ts_gpte(*root, i), 0);
}

static void test_emulated_string_store_zeroes_root(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging(0x80);
	uint64_t gva_b = 0x0000400000000000ULL, gva_k = 0xffffffff80000000ULL, root;
	struct shadow_written w = { .gfn = 0x80, .off = 0, .len = 511 * 8 };
	gfn_t root_gfn = 0x80;

	start(&cfg);
	ts_map(0x80, GVA_A, 1, FRAME_A, X86_PTE_RW);
	ts_map(0x80, gva_b, 1, FRAME_A + 1, X86_PTE_RW);
	ts_map(0x80, gva_k, 1, FRAME_A + 2, X86_PTE_RW);
	root = shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).pfn, ts_guest_pfn + FRAME_A);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, gva_b, 0).pfn, ts_guest_pfn + FRAME_A + 1);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, gva_k, PFERR_WRITE).pfn, ts_guest_pfn + FRAME_A + 2);
	shadow_mmu_emulated_write(mmu, &w, 1, zero_root_but_last, &root_gfn);
	CHECK_EQ_U(shadow_vcpu_root_pa(vcpu), root);
	CHECK_EQ_U(ts_shadow_leaf(vcpu, GVA_A, NULL), 0);
	CHECK_EQ_U(ts_shadow_leaf(vcpu, gva_b, NULL), 0);
	CHECK(ts_shadow_leaf(vcpu, gva_k, NULL) & X86_PTE_RW);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, gva_k, PFERR_WRITE).faults, 0);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).error, 0); /* not present now */
	CHECK(ts_check_invariants(mmu) > 0);
	finish();
}

/* One frame behind many addresses: a long rmap chain, then zap, write-protect and age it. */
static void test_multi_mapped_frame(const struct shadow_mmu_config *cfg, const char *name)
{
	struct guest_paging gp = ts_paging(0x80);
	unsigned int nr = 40;
	uint64_t young[1], flushes, wp_before;

	start(cfg);
	for (unsigned int i = 0; i < nr; i++)
		ts_map(0x80, GVA_A + i * PAGE_SIZE * 513ULL, 1, FRAME_A, X86_PTE_RW);
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	for (unsigned int i = 0; i < nr; i++)
		CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A + i * PAGE_SIZE * 513ULL, PFERR_WRITE).error,
			   TS_ALLOWED);
	CHECK_EQ_U(ts_rmap_count(mmu, FRAME_A), nr);
	CHECK(rmap_descs_in_use() >= 3);
	ts_check_invariants(mmu);
	/* Write-protect: every mapping was writable and dirty; one flush; the log hears of it. */
	ts_dirty_reset();
	flushes = atomic_load(&ts_flushes);
	wp_before = TS_STAT(mmu, leaves_write_protected);
	CHECK_EQ_U(shadow_mmu_write_protect_range(mmu, FRAME_A, FRAME_A + 1), nr);
	CHECK_EQ_U(TS_STAT(mmu, leaves_write_protected) - wp_before, nr);
	CHECK_EQ_U(atomic_load(&ts_flushes), flushes + 1);
	CHECK(ts_dirty(FRAME_A));
	for (unsigned int i = 0; i < nr; i++)
		CHECK(!(ts_shadow_leaf(vcpu, GVA_A + i * PAGE_SIZE * 513ULL, NULL) & X86_PTE_RW));
	CHECK_EQ_U(shadow_mmu_write_protect_range(mmu, FRAME_A, FRAME_A + 1), 0);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, PFERR_WRITE).faults, 1);
	/* Aging: the leaves were made young; then old; one access makes the frame young again. */
	CHECK_EQ_U(shadow_mmu_test_and_clear_young(mmu, FRAME_A - 5, FRAME_A + 5, young), 1);
	CHECK_EQ_U(young[0], 1ULL << 5);
	CHECK_EQ_U(shadow_mmu_test_and_clear_young(mmu, FRAME_A - 5, FRAME_A + 5, young), 0);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A + 7 * PAGE_SIZE * 513ULL, 0).faults, 0);
	CHECK_EQ_U(shadow_mmu_test_and_clear_young(mmu, FRAME_A, FRAME_A + 1, young), 1);
	/* Zap: every mapping goes, with one flush (batched) or more (eager). */
	flushes = atomic_load(&ts_flushes);
	CHECK_EQ_U(shadow_mmu_zap_range(mmu, FRAME_A, FRAME_A + 1), nr);
	CHECK_EQ_U(ts_rmap_count(mmu, FRAME_A), 0);
	CHECK(atomic_load(&ts_flushes) - flushes >= 1);
	if (!cfg->policy.flush_eager)
		CHECK_EQ_U(atomic_load(&ts_flushes) - flushes, 1);
	CHECK_EQ_U(shadow_mmu_zap_range(mmu, FRAME_A, FRAME_A + 1), 0);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).faults, 1);
	if (!cfg->policy.wp_locked)
		CHECK(TS_XSTAT(mmu, rmap_walks) > 0);
	printf("        %s: %lu flushes, %lu lockless rmap walks\n", name,
	       atomic_load(&ts_flushes), TS_XSTAT(mmu, rmap_walks));
	finish();
}

/*
 * Issue 19, defect 6: four page tables whose 512 entries all map one frame,
 * all touched: a 2048-leaf rmap chain. Teardown must not scan the chain
 * once per leaf (quadratic: 15 s at 256 tables under QEMU): it visits at
 * most one descriptor per leaf in pte_list_remove(), and gives every one
 * back.
 */
static void test_teardown_is_linear(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging(0x80);
	unsigned int tables = 4, leaves = tables * 512;
	long descs_before = rmap_descs_in_use();
	unsigned long visits;

	start(&cfg);
	for (unsigned int i = 0; i < leaves; i++)
		ts_map(0x80, GVA_A + i * PAGE_SIZE, 1, FRAME_A, X86_PTE_RW);
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	for (unsigned int i = 0; i < leaves; i++)
		CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A + i * PAGE_SIZE, 0).error, TS_ALLOWED);
	CHECK_EQ_U(ts_rmap_count(mmu, FRAME_A), leaves);
	visits = rmap_debug_remove_visits();
	finish();
	visits = rmap_debug_remove_visits() - visits;
	printf("teardown: %lu descriptor visits for %u leaves\n", visits, leaves);
	CHECK(visits <= leaves);
	CHECK_EQ_U(rmap_descs_in_use(), descs_before);
}

static void test_multi_mapped_frames(void)
{
	struct shadow_mmu_config cfg = { 0 };

	test_multi_mapped_frame(&cfg, "lockless, batched");
	cfg = (struct shadow_mmu_config){ .policy.wp_locked = true, .policy.age_locked = true, .policy.flush_eager = true,
					  .policy.lock_exclusive = true };
	test_multi_mapped_frame(&cfg, "locked, eager, exclusive");
}

/* Zapping a range also zaps the shadow pages of the guest tables in it. */
static void test_zap_range_takes_guest_tables(void)
{
	struct shadow_mmu_config cfg = { .policy.flush_eager = true };
	struct guest_paging gp = ts_paging(0x80);
	gfn_t pt;

	start(&cfg);
	pt = ts_map(0x80, GVA_A, 1, FRAME_A, X86_PTE_RW);
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).faults, 1);
	CHECK_EQ_U(shadow_mmu_zap_range(mmu, pt, pt + 1), 1); /* its leaf went with it */
	rcu_barrier();
	CHECK_EQ_U(TS_STAT(mmu, tables_freed), 1);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).faults, 1);
	/* The root's own table: the vCPU's root is retired; the next fault switches roots. */
	shadow_mmu_zap_range(mmu, 0x80, 0x81);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).last, SHADOW_FIXED);
	CHECK_EQ_U(TS_XSTAT(mmu, roots_created), 2);
	finish();
}

static void test_dirty_logging(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging(0x80);
	uint64_t leaf;

	start(&cfg);
	ts_map(0x80, GVA_A, 1, FRAME_A, X86_PTE_RW | X86_PTE_D); /* dirty already in the guest */
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	ts_slot.dirty_logging = true;
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).faults, 1);
	CHECK(!(ts_shadow_leaf(vcpu, GVA_A, NULL) & X86_PTE_RW)); /* logging: reads map read-only */
	CHECK(!ts_dirty(FRAME_A));
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, PFERR_WRITE).faults, 1);
	CHECK(ts_dirty(FRAME_A));
	/* Harvest: the leaf loses W (and its D goes to the log); the next write faults. */
	ts_dirty_reset();
	CHECK_EQ_U(shadow_mmu_write_protect_range(mmu, 0, TS_GUEST_PAGES), 1);
	CHECK(ts_dirty(FRAME_A));
	ts_dirty_reset();
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, PFERR_WRITE).faults, 1);
	CHECK(ts_dirty(FRAME_A));
	/* A leaf made writable by a read (logging off, guest D set) is logged when written. */
	ts_slot.dirty_logging = false;
	shadow_mmu_zap_range(mmu, FRAME_A, FRAME_A + 1);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).faults, 1);
	leaf = ts_shadow_leaf(vcpu, GVA_A, NULL);
	CHECK((leaf & (X86_PTE_RW | X86_PTE_D)) == X86_PTE_RW);
	finish();
}

/* CR0.WP = 0: a supervisor write to a read-only user page; the hardware's WP is 1. */
static void test_cr0_wp_clear(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging(0x80);
	uint64_t leaf;

	start(&cfg);
	ts_map(0x80, GVA_A, 1, FRAME_A, X86_PTE_US);
	gp.wp = false;
	gp.smep = true;
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, PFERR_WRITE).error, TS_ALLOWED);
	leaf = ts_shadow_leaf(vcpu, GVA_A, NULL);
	/* Writable, but supervisor-only, and not executable (SMEP would not see a user page). */
	CHECK((leaf & (X86_PTE_RW | X86_PTE_US | X86_PTE_NX)) == (X86_PTE_RW | X86_PTE_NX));
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, PFERR_FETCH).error, PFERR_PRESENT | PFERR_FETCH);
	/* The user reads: back to a user, read-only leaf. */
	gp.cpl = 3;
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, PFERR_USER).error, TS_ALLOWED);
	leaf = ts_shadow_leaf(vcpu, GVA_A, NULL);
	CHECK((leaf & (X86_PTE_RW | X86_PTE_US)) == X86_PTE_US);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, PFERR_USER | PFERR_WRITE).error,
		   PFERR_PRESENT | PFERR_WRITE | PFERR_USER);
	/* With SMAP the supervisor-only leaf would let AC-clear accesses through: emulate. */
	gp.cpl = 0;
	gp.smap = true;
	gp.ac = true;
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, PFERR_WRITE).last, SHADOW_EMULATE);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, GVA_A, 0).error, TS_ALLOWED);
	ts_check_invariants(mmu);
	finish();
}

/* --- the other paging modes: PAE-format roots ----------------------------------- */

/* The PDPTEs of a PAE-format root at pa. */
static _Atomic uint64_t *root_pdptes(uint64_t pa)
{
	return platform_phys_to_virt(pa);
}

/* Shadow pages of gfn in the hash, in mode. */
static unsigned int pages_of(gfn_t gfn, enum guest_paging_mode mode)
{
	unsigned int nr = 0;

	spin_lock(&mmu->shadow_lock);
	for (struct shadow_page *sp = mmu->hash[shadow_hash_bucket(gfn)]; sp; sp = sp->hash_next)
		nr += sp->gfn == gfn && !sp->role.direct && sp->role.mode == mode;
	spin_unlock(&mmu->shadow_lock);
	return nr;
}

/*
 * A 32-bit guest: its PD is four level-2 shadow pages (quadrants), a PT two
 * level-1 pages, a 4 MiB page two direct pages; 4-byte A/D; no XD; INVLPG
 * of a 4 MiB page; CR4.PSE in the role.
 */
static void test_32bit_guest_quadrants_and_4m_page(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging32(0x80, true);
	/* PDE 1: PTE 1 (the PT's first half) and PTE 0x201 (its second); PDE 0x301: quadrant 3. */
	uint64_t lo = 0x00401000, hi = 0x00601000, big = 0xc0400000, root;
	shadow_ptep_t e_lo = NULL, e_hi = NULL;
	struct ts_outcome o;
	gfn_t pt;

	start(&cfg);
	pt = ts_map32(0x80, lo, 1, FRAME_A, X86_PTE_RW | X86_PTE_US);
	CHECK_EQ_U(ts_map32(0x80, hi, 1, FRAME_A + 1, X86_PTE_RW | X86_PTE_US), pt);
	ts_map32(0x80, big, 2, TS_ALIAS_BASE, X86_PTE_RW); /* 4 MiB at 1 GiB, supervisor */
	root = shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(shadow_vcpu_root_format(vcpu), SHADOW_ROOT_PAE);
	CHECK(root != 0 && root < (1ULL << 32) && !(root & 31));
	CHECK_EQ_U(ts_low_pages_in_use(), 1);
	for (unsigned int q = 0; q < 4; q++) {
		uint64_t pdpte = atomic_load(&root_pdptes(root)[q]);
		struct shadow_page *sp = spte_to_child(pdpte);

		CHECK_EQ_U(pdpte & ~X86_PTE_ADDR_MASK, X86_PTE_P); /* P and an address only */
		CHECK_EQ_U(sp->gfn, 0x80);
		CHECK_EQ_U(sp->role.level, 2);
		CHECK_EQ_U(sp->role.quadrant, q);
		CHECK_EQ_U(sp->role.mode, GUEST_PAGING_32BIT);
		CHECK(sp->role.pse && !sp->role.efer_nx);
		CHECK_EQ_U(sp->root_count, 1);
	}
	gp.cpl = 3;
	o = ts_access(mmu, vcpu, &gp, lo + 0x123, PFERR_USER);
	CHECK_EQ_U(o.error, TS_ALLOWED);
	CHECK_EQ_U(o.faults, 1);
	CHECK_EQ_U(o.pfn, ts_guest_pfn + FRAME_A);
	o = ts_access(mmu, vcpu, &gp, hi, PFERR_USER | PFERR_FETCH);
	CHECK_EQ_U(o.error, TS_ALLOWED);
	CHECK_EQ_U(o.pfn, ts_guest_pfn + FRAME_A + 1);
	/* The one guest PT, two level-1 shadow pages: entries [0, 512) and [512, 1024). */
	CHECK(ts_shadow_leaf(vcpu, lo, &e_lo) && ts_shadow_leaf(vcpu, hi, &e_hi));
	if (!e_lo || !e_hi) {
		finish();
		return;
	}
	CHECK(sptep_to_sp(e_lo) != sptep_to_sp(e_hi));
	CHECK_EQ_U(sptep_to_sp(e_lo)->gfn, pt);
	CHECK_EQ_U(sptep_to_sp(e_hi)->gfn, pt);
	CHECK_EQ_U(sptep_to_sp(e_lo)->role.quadrant, 0);
	CHECK_EQ_U(sptep_to_sp(e_hi)->role.quadrant, 1);
	CHECK_EQ_U(sptep_index(e_lo), 1);
	CHECK_EQ_U(sptep_index(e_hi), 1);
	/* PDE 1 is shadow PDEs 2 and 3 of quadrant 0. */
	CHECK_EQ_U(sptep_index(ts_shadow_ptep(vcpu, lo, 2)), 2);
	CHECK_EQ_U(sptep_index(ts_shadow_ptep(vcpu, hi, 2)), 3);
	/* No XD in 32-bit paging (NXE is set); read-only until the guest's D. */
	CHECK(!(atomic_load(e_lo) & (X86_PTE_NX | X86_PTE_RW)));
	/* A in the 4-byte entries used, and their neighbours untouched. */
	CHECK(ts_gpte32(0x80, 1) & X86_PTE_A);
	CHECK_EQ_U(ts_gpte32(0x80, 0), 0);
	CHECK_EQ_U(ts_gpte32(0x80, 2), 0);
	CHECK(ts_gpte32(pt, 1) & X86_PTE_A);
	CHECK(ts_gpte32(pt, 0x201) & X86_PTE_A);
	CHECK_EQ_U(ts_gpte32(pt, 0), 0);
	CHECK_EQ_U(ts_gpte32(pt, 0x200), 0);
	/* The write: D in the 4-byte PTE, a writable leaf; the other half's PTE keeps no D. */
	o = ts_access(mmu, vcpu, &gp, lo, PFERR_USER | PFERR_WRITE);
	CHECK_EQ_U(o.faults, 1);
	CHECK(ts_gpte32(pt, 1) & X86_PTE_D);
	CHECK(!(ts_gpte32(pt, 0x201) & X86_PTE_D));
	CHECK(ts_shadow_leaf(vcpu, lo, NULL) & X86_PTE_RW);
	/* The 4 MiB page: a user access faults (supervisor page); each 2 MiB half its own direct page. */
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, big, PFERR_USER).error, PFERR_PRESENT | PFERR_USER);
	gp.cpl = 0;
	o = ts_access(mmu, vcpu, &gp, big + 0x123456, 0);
	CHECK_EQ_U(o.error, TS_ALLOWED);
	CHECK_EQ_U(o.pfn, ts_guest_pfn + (TS_ALIAS_BASE + 0x123) % TS_GUEST_PAGES);
	o = ts_access(mmu, vcpu, &gp, big + 0x3ff000, PFERR_WRITE);
	CHECK_EQ_U(o.error, TS_ALLOWED);
	CHECK_EQ_U(o.pfn, ts_guest_pfn + (TS_ALIAS_BASE + 0x3ff) % TS_GUEST_PAGES);
	{
		shadow_ptep_t a = ts_shadow_ptep(vcpu, big, 2), b = ts_shadow_ptep(vcpu, big + 0x200000, 2);
		struct shadow_page *da = spte_to_child(atomic_load(a)), *db = spte_to_child(atomic_load(b));

		CHECK_EQ_U(sptep_to_sp(a)->role.quadrant, 3);
		CHECK_EQ_U(sptep_index(a), 2);
		CHECK_EQ_U(sptep_index(b), 3);
		CHECK(da->role.direct && db->role.direct);
		CHECK_EQ_U(da->gfn, TS_ALIAS_BASE);
		CHECK_EQ_U(db->gfn, TS_ALIAS_BASE + 512);
		/* The read came before the write that set the PDE's D: a clean half, a dirty half. */
		CHECK(!da->role.dirty && db->role.dirty);
	}
	/* The root's 4 pages, the PT's 2 halves, the 4 MiB page's 2 halves. */
	CHECK_EQ_U(TS_STAT(mmu, tables_allocated), 8);
	ts_check_invariants(mmu);
	/* INVLPG inside the 4 MiB page drops both halves, and nothing else. */
	shadow_mmu_invlpg(mmu, vcpu, big + 0x1000);
	CHECK_EQ_U(ts_shadow_leaf(vcpu, big + 0x123456, NULL), 0);
	CHECK_EQ_U(ts_shadow_leaf(vcpu, big + 0x3ff000, NULL), 0);
	CHECK(ts_shadow_leaf(vcpu, lo, NULL) != 0);
	CHECK_EQ_U(ts_rmap_count(mmu, TS_ALIAS_BASE + 0x123), 0);
	rcu_barrier();
	CHECK_EQ_U(TS_STAT(mmu, tables_freed), 2);
	/* Bits 63:32 of a linear address mean nothing outside long mode. */
	o = ts_access(mmu, vcpu, &gp, 0xffffffff00000000ULL | lo, 0);
	CHECK_EQ_U(o.faults, 0);
	CHECK_EQ_U(o.pfn, ts_guest_pfn + FRAME_A);
	/* CR4.PSE off: PS is ignored, the 4 MiB PDE points at a PT (frame 0's zeros): another root. */
	gp.pse = false;
	CHECK(shadow_mmu_load_cr3(mmu, vcpu, &gp) != root);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, big, 0).error, 0);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, lo, 0).pfn, ts_guest_pfn + FRAME_A);
	CHECK_EQ_U(TS_XSTAT(mmu, roots_created), 2);
	finish();
}

/*
 * Stores to a 32-bit guest's tables (shadow_mmu_guest_table_written): a
 * 4-byte PTE takes the level-1 shadow page of its half of the PT only, a
 * 4-byte PDE its two shadow PDEs only, 8 bytes two entries' worth.
 */
static void test_32bit_table_writes_take_the_right_entries(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging32(0x80, true);
	/* PDE 1 (PTE 1 and PTE 0x201), PDE 2, PDE 3: shadow PDEs 2, 3, 4, 6 of quadrant 0. */
	uint64_t a = 0x00401000, b = 0x00601000, c = 0x00801000, d = 0x00c01000;
	uint64_t half = 0x200000; /* the second 2 MiB of a PDE: shadow PDEs 5 and 7 */
	struct shadow_page *pd_q0;
	shadow_ptep_t pd;
	gfn_t pt1, pt3, window = 0x9000;

	start(&cfg);
	pt1 = ts_map32(0x80, a, 1, FRAME_A, X86_PTE_RW);
	ts_map32(0x80, b, 1, FRAME_A + 1, X86_PTE_RW);
	ts_map32(0x80, c, 1, FRAME_A + 2, X86_PTE_RW);
	pt3 = ts_map32(0x80, d, 1, FRAME_A + 3, X86_PTE_RW);
	ts_map32(0x80, c + half, 1, FRAME_A + 5, X86_PTE_RW);
	ts_map32(0x80, d + half, 1, FRAME_A + 6, X86_PTE_RW);
	shadow_mmu_load_cr3(mmu, vcpu, &gp);
	{
		uint64_t gvas[6] = { a, b, c, d, c + half, d + half };
		gfn_t frames[6] = { FRAME_A, FRAME_A + 1, FRAME_A + 2, FRAME_A + 3, FRAME_A + 5,
				    FRAME_A + 6 };

		for (unsigned int i = 0; i < 6; i++)
			CHECK_EQ_U(ts_access(mmu, vcpu, &gp, gvas[i], 0).pfn, ts_guest_pfn + frames[i]);
	}
	pd_q0 = sptep_to_sp(ts_shadow_ptep(vcpu, a, 2));
	pd = sp_table(pd_q0);
	CHECK_EQ_U(pd_q0->role.quadrant, 0);
	CHECK_EQ_U(sptep_index(ts_shadow_ptep(vcpu, c, 2)), 4);
	CHECK_EQ_U(sptep_index(ts_shadow_ptep(vcpu, d, 2)), 6);
	/* PTE 0x201, in the PT's second half: that level-1 page goes whole, the first half's stays. */
	ts_set_gpte32(pt1, 0x201, ((FRAME_A + 4) << PAGE_SHIFT) | X86_PTE_P | X86_PTE_RW);
	shadow_mmu_guest_table_written(mmu, pt1, 0x201 * 4, 4);
	CHECK(ts_shadow_leaf(vcpu, a, NULL) != 0);
	CHECK_EQ_U(ts_shadow_leaf(vcpu, b, NULL), 0);
	CHECK_EQ_U(atomic_load(&pd[3]), 0);
	CHECK(atomic_load(&pd[2]) & X86_PTE_P);
	CHECK_EQ_U(pages_of(pt1, GUEST_PAGING_32BIT), 1);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, b, 0).pfn, ts_guest_pfn + FRAME_A + 4);
	/* PDE 2 (bytes 8..11): shadow PDEs 4 and 5 go; 2, 3 and 6 stay. */
	ts_set_gpte32(0x80, 2, (uint32_t)(pt3 << PAGE_SHIFT) | TS_TABLE_BITS);
	CHECK(atomic_load(&pd[5]) & atomic_load(&pd[7]) & X86_PTE_P);
	shadow_mmu_guest_table_written(mmu, 0x80, 2 * 4, 4);
	CHECK(atomic_load(&pd[2]) & atomic_load(&pd[3]) & atomic_load(&pd[6]) & atomic_load(&pd[7]) &
	      X86_PTE_P);
	CHECK_EQ_U(atomic_load(&pd[4]) | atomic_load(&pd[5]), 0);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, c, 0).pfn, ts_guest_pfn + FRAME_A + 3);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, c + half, 0).pfn, ts_guest_pfn + FRAME_A + 6);
	CHECK(atomic_load(&pd[4]) & atomic_load(&pd[5]) & X86_PTE_P);
	/* 8 bytes over PDEs 2 and 3: shadow PDEs 4 to 7 go, 2 and 3 stay. */
	shadow_mmu_guest_table_written(mmu, 0x80, 2 * 4, 8);
	CHECK_EQ_U(atomic_load(&pd[4]) | atomic_load(&pd[5]) | atomic_load(&pd[6]) |
		   atomic_load(&pd[7]), 0);
	CHECK(atomic_load(&pd[2]) & atomic_load(&pd[3]) & X86_PTE_P);
	/* 8 bytes over PTEs 0x1ff and 0x200, one in each half: both level-1 pages go. */
	CHECK_EQ_U(pages_of(pt1, GUEST_PAGING_32BIT), 2);
	shadow_mmu_guest_table_written(mmu, pt1, 0x1ff * 4, 8);
	CHECK_EQ_U(pages_of(pt1, GUEST_PAGING_32BIT), 0);
	CHECK_EQ_U(ts_shadow_leaf(vcpu, a, NULL) | ts_shadow_leaf(vcpu, b, NULL), 0);
	/* PTE 1 alone spares the second half. */
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, a, 0).faults, 1);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, b, 0).faults, 1);
	shadow_mmu_guest_table_written(mmu, pt1, 1 * 4, 4);
	CHECK_EQ_U(ts_shadow_leaf(vcpu, a, NULL), 0);
	CHECK(ts_shadow_leaf(vcpu, b, NULL) != 0);
	ts_check_invariants(mmu);
	/* The guest writes pt1 through a mapping of it: both halves' pages go, it is unprotected. */
	ts_map32(0x80, window, 1, pt1, X86_PTE_RW);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, window, PFERR_WRITE).error, TS_ALLOWED);
	CHECK_EQ_U(TS_XSTAT(mmu, gfns_unprotected), 1);
	CHECK_EQ_U(pages_of(pt1, GUEST_PAGING_32BIT), 0);
	CHECK_EQ_U(ts_shadow_leaf(vcpu, b, NULL), 0);
	CHECK(ts_check_invariants(mmu) > 0);
	finish();
}

/*
 * A PAE guest with 2 of its 4 PDPTEs present, its PDPT at a 32-byte offset
 * in its page: 2 shadow PDPTEs; #PF with P = 0 under an absent one; XD;
 * the PDPTEs of the load, not those in memory; loaded ones (pdptes_loaded);
 * a reserved one.
 */
static void test_pae_guest_two_of_four_pdptes(void)
{
	struct shadow_mmu_config cfg = { 0 };
	uint64_t pdpt = (0x80ULL << PAGE_SHIFT) + 0x20;
	struct guest_paging gp = ts_paging_pae(pdpt);
	uint64_t g0 = 0x00001000, g1 = 0x40001000, g2 = 0x80200000, g3 = 0xc0001000;
	uint64_t root, root2, root3, pdpte1;
	struct shadow_page *sp;
	struct ts_outcome o;
	shadow_ptep_t leaf = NULL;

	start(&cfg);
	ts_map_pae(pdpt, g0, 1, FRAME_A, X86_PTE_RW | X86_PTE_US | X86_PTE_NX);
	ts_map_pae(pdpt, g2, 2, 512, X86_PTE_RW); /* 2 MiB at gfn 512 */
	root = shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(shadow_vcpu_root_format(vcpu), SHADOW_ROOT_PAE);
	CHECK(root != 0 && root < (1ULL << 32) && !(root & 31));
	CHECK_EQ_U(atomic_load(&root_pdptes(root)[1]) | atomic_load(&root_pdptes(root)[3]), 0);
	for (unsigned int i = 0; i < 4; i += 2) {
		uint64_t pdpte = atomic_load(&root_pdptes(root)[i]);

		CHECK_EQ_U(pdpte & ~X86_PTE_ADDR_MASK, X86_PTE_P);
		sp = spte_to_child(pdpte);
		CHECK_EQ_U(sp->gfn, atomic_load(ts_pdpte(pdpt, i << 30)) >> PAGE_SHIFT);
		CHECK_EQ_U(sp->role.mode, GUEST_PAGING_PAE);
		CHECK_EQ_U(sp->role.level, 2);
		CHECK_EQ_U(sp->role.quadrant, 0);
	}
	gp.cpl = 3;
	o = ts_access(mmu, vcpu, &gp, g0 + 0x10, PFERR_USER);
	CHECK_EQ_U(o.error, TS_ALLOWED);
	CHECK_EQ_U(o.pfn, ts_guest_pfn + FRAME_A);
	CHECK(ts_shadow_leaf(vcpu, g0, &leaf) & X86_PTE_NX);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, g0, PFERR_USER | PFERR_FETCH).error,
		   PFERR_PRESENT | PFERR_USER | PFERR_FETCH);
	/* Under an absent PDPTE: #PF with P = 0, as the CPU gives. */
	o = ts_access(mmu, vcpu, &gp, g1, PFERR_USER | PFERR_WRITE);
	CHECK_EQ_U(o.last, SHADOW_INJECT_PF);
	CHECK_EQ_U(o.error, PFERR_USER | PFERR_WRITE);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, g3, PFERR_USER).error, PFERR_USER);
	gp.cpl = 0;
	o = ts_access(mmu, vcpu, &gp, g2 + 0x3000, PFERR_WRITE);
	CHECK_EQ_U(o.error, TS_ALLOWED);
	CHECK_EQ_U(o.pfn, ts_guest_pfn + 512 + 3);
	/* 2 root pages (the PDs), the PT, the 2 MiB page's direct page. */
	CHECK_EQ_U(TS_STAT(mmu, tables_allocated), 4);
	/* The guest sets PDPTE 1 in memory: nothing changes until its next CR3 load. */
	ts_map_pae(pdpt, g1, 1, FRAME_A + 1, X86_PTE_RW);
	pdpte1 = atomic_load(ts_pdpte(pdpt, g1));
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, g1, 0).error, 0);
	root2 = shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK(root2 != root);
	CHECK_EQ_U(atomic_load(&root_pdptes(root2)[1]) & ~X86_PTE_ADDR_MASK, X86_PTE_P);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, g1, 0).pfn, ts_guest_pfn + FRAME_A + 1);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, g0, 0).faults, 0); /* PD 0's shadow page is shared */
	/* PDPTEs the caller loaded win over memory. */
	gp.pdptes_loaded = true;
	for (unsigned int i = 0; i < 4; i++)
		gp.pdpte[i] = i == 1 ? 0 : atomic_load(ts_pdpte(pdpt, (uint64_t)i << 30));
	root3 = shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(root3, root); /* the first load's PDPTEs: the first root, kept */
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, g1, 0).error, 0);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, g0, 0).faults, 0);
	/* A reserved bit (R/W) in a loaded PDPTE: no shadow PDPTE, and #PF with RSVD. */
	gp.pdpte[1] = pdpte1 | X86_PTE_RW;
	root3 = shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(atomic_load(&root_pdptes(root3)[1]), 0);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, g1, PFERR_WRITE).error,
		   PFERR_PRESENT | PFERR_RSVD | PFERR_WRITE);
	/* Back to the PDPTEs in memory: the second root again, kept among the previous ones. */
	gp.pdptes_loaded = false;
	CHECK_EQ_U(shadow_mmu_load_cr3(mmu, vcpu, &gp), root2);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, g1, 0).faults, 0);
	CHECK_EQ_U(TS_XSTAT(mmu, roots_created), 3);
	ts_check_invariants(mmu);
	finish();
}

/*
 * A PAE-format root's slot that comes back at the same address with other
 * PDPTEs, with no page zapped in between: letting go of the first root
 * flushed, so a CPU that last entered with that address reloads
 * (ts_cpu_load_pdptes() checks that PDPTEs never change under it).
 */
static void test_pae_root_slot_reuse_flushes(void)
{
	struct shadow_mmu_config cfg = { 0 };
	uint64_t page = 0x80ULL << PAGE_SHIFT, first, root;
	gfn_t pd = 0x81, pd2 = 0x82;
	unsigned long flushes;

	start(&cfg);
	/* Six PDPTs in one page, all PDPTE 0 = pd; the sixth also has PDPTE 1 = pd2. */
	for (unsigned int i = 0; i < 6; i++)
		atomic_store(&ts_guest[page / 8 + 4 * i], (pd << PAGE_SHIFT) | X86_PTE_P);
	atomic_store(&ts_guest[page / 8 + 4 * 5 + 1], (pd2 << PAGE_SHIFT) | X86_PTE_P);
	atomic_store(ts_gpte(pd, 0), (512ULL << PAGE_SHIFT) | X86_PTE_P | X86_PTE_PS | X86_PTE_RW);
	{
		struct guest_paging gp = ts_paging_pae(page);

		first = shadow_mmu_load_cr3(mmu, vcpu, &gp);
		CHECK_EQ_U(ts_access(mmu, vcpu, &gp, 0x1000, 0).error, TS_ALLOWED); /* entered */
	}
	flushes = atomic_load(&ts_flushes);
	for (unsigned int i = 1; i < 6; i++) {
		struct guest_paging gp = ts_paging_pae(page + 32 * i);

		root = shadow_mmu_load_cr3(mmu, vcpu, &gp);
	}
	CHECK_EQ_U(root, first); /* the first root's slot, let go of at the fifth load */
	CHECK(atomic_load(&ts_flushes) > flushes);
	CHECK_EQ_U(TS_STAT(mmu, tables_allocated), 3); /* pd, pd2, and the 2 MiB page */
	{
		struct guest_paging gp = ts_paging_pae(page + 32 * 5);

		CHECK_EQ_U(ts_access(mmu, vcpu, &gp, 0x1000, 0).faults, 0);
		CHECK_EQ_U(ts_access(mmu, vcpu, &gp, 0x40001000, 0).error, 0);
	}
	finish();
}

/* Paging off: linear = physical (32 bits), everything allowed, PAE-format direct pages. */
static void test_paging_off_direct_map(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging_off(), pg = ts_paging32(0x80, true);
	uint64_t root, leaf;
	struct ts_outcome o;

	start(&cfg);
	/* A 32-bit address space first, so that gfn 0x80 is a tracked guest table. */
	ts_map32(0x80, 0x1000, 1, FRAME_A, X86_PTE_RW);
	shadow_mmu_load_cr3(mmu, vcpu, &pg);
	CHECK_EQ_U(ts_access(mmu, vcpu, &pg, 0x1000, 0).pfn, ts_guest_pfn + FRAME_A);
	gp.smep = gp.smap = true; /* they mean nothing without paging, the hardware's would */
	root = shadow_mmu_load_cr3(mmu, vcpu, &gp);
	CHECK_EQ_U(shadow_vcpu_root_format(vcpu), SHADOW_ROOT_PAE);
	for (unsigned int i = 0; i < 4; i++) {
		struct shadow_page *sp = spte_to_child(atomic_load(&root_pdptes(root)[i]));

		CHECK(sp->role.direct);
		CHECK_EQ_U(sp->role.mode, GUEST_PAGING_OFF);
		CHECK_EQ_U(sp->gfn, (gfn_t)i << 18);
	}
	gp.cpl = 3;
	o = ts_access(mmu, vcpu, &gp, (FRAME_A << PAGE_SHIFT) + 0x123, PFERR_USER | PFERR_WRITE);
	CHECK_EQ_U(o.error, TS_ALLOWED);
	CHECK_EQ_U(o.faults, 1);
	CHECK_EQ_U(o.pfn, ts_guest_pfn + FRAME_A);
	leaf = ts_shadow_leaf(vcpu, FRAME_A << PAGE_SHIFT, NULL);
	CHECK_EQ_U(leaf & (X86_PTE_P | X86_PTE_RW | X86_PTE_US | X86_PTE_NX),
		   X86_PTE_P | X86_PTE_RW | X86_PTE_US);
	/* A supervisor fetch from that user page (SMEP means nothing here); bits 63:32 ignored. */
	gp.cpl = 0;
	o = ts_access(mmu, vcpu, &gp, 0xffffffff00000000ULL | ((FRAME_A + 1) << PAGE_SHIFT),
		      PFERR_FETCH);
	CHECK_EQ_U(o.error, TS_ALLOWED);
	CHECK_EQ_U(o.pfn, ts_guest_pfn + FRAME_A + 1);
	/* No guest D to wait for: a read maps the frame writable. */
	CHECK(ts_shadow_leaf(vcpu, (FRAME_A + 1) << PAGE_SHIFT, NULL) & X86_PTE_RW);
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, 0x7000000, 0).last, SHADOW_NO_SLOT);
	/* The 32-bit PD is a guest table: a write to it unprotects it, then goes through. */
	CHECK(!(ts_access(mmu, vcpu, &gp, 0x80000, 0).error != TS_ALLOWED));
	CHECK(!(ts_shadow_leaf(vcpu, 0x80000, NULL) & X86_PTE_RW));
	CHECK_EQ_U(ts_access(mmu, vcpu, &gp, 0x80000, PFERR_WRITE).error, TS_ALLOWED);
	CHECK_EQ_U(TS_XSTAT(mmu, gfns_unprotected), 1);
	CHECK_EQ_U(pages_of(0x80, GUEST_PAGING_32BIT), 0);
	/* INVLPG: no translation to drop. */
	shadow_mmu_invlpg(mmu, vcpu, FRAME_A << PAGE_SHIFT);
	CHECK(ts_shadow_leaf(vcpu, FRAME_A << PAGE_SHIFT, NULL) != 0);
	ts_check_invariants(mmu);
	finish();
}

/*
 * Mode switches: off, 32-bit, PAE, 4-level, each its own root and format;
 * one frame is both the 32-bit PD and the PAE PD (different bytes), and
 * gets a shadow page per mode; back to each, the previous root, no fault.
 */
static void test_mode_switches(void)
{
	struct shadow_mmu_config cfg = { 0 };
	uint64_t gva = 0x00201000, pdpt = 0x81ULL << PAGE_SHIFT, roots[4];
	struct guest_paging modes[4] = { ts_paging_off(), ts_paging32(0x80, true),
					 ts_paging_pae(pdpt), ts_paging(0x82) };
	gfn_t want[4] = { gva >> PAGE_SHIFT, FRAME_A, FRAME_A + 1, FRAME_A + 2 };
	static const unsigned int order[] = { 1, 0, 2, 3 };

	start(&cfg);
	ts_map32(0x80, gva, 1, FRAME_A, X86_PTE_RW);          /* PDE 0: bytes 0..3 of gfn 0x80 */
	atomic_store(ts_pdpte(pdpt, gva), (0x80ULL << PAGE_SHIFT) | X86_PTE_P);
	ts_map_pae(pdpt, gva, 1, FRAME_A + 1, X86_PTE_RW);    /* PDE 1: bytes 8..15 of gfn 0x80 */
	ts_map(0x82, gva, 1, FRAME_A + 2, X86_PTE_RW);
	for (unsigned int i = 0; i < 4; i++) {
		struct ts_outcome o;

		roots[i] = shadow_mmu_load_cr3(mmu, vcpu, &modes[i]);
		CHECK_EQ_U(shadow_vcpu_root_format(vcpu), i == 3 ? SHADOW_ROOT_4LEVEL : SHADOW_ROOT_PAE);
		for (unsigned int k = 0; k < i; k++)
			CHECK(roots[i] != roots[k]);
		o = ts_access(mmu, vcpu, &modes[i], gva, 0);
		CHECK_EQ_U(o.error, TS_ALLOWED);
		CHECK_EQ_U(o.faults, 1);
		CHECK_EQ_U(o.pfn, ts_guest_pfn + want[i]);
	}
	CHECK(!(roots[3] & (PAGE_SIZE - 1)));
	CHECK_EQ_U(pages_of(0x80, GUEST_PAGING_32BIT), 4);
	CHECK_EQ_U(pages_of(0x80, GUEST_PAGING_PAE), 1);
	CHECK_EQ_U(TS_XSTAT(mmu, roots_created), 4);
	for (unsigned int n = 0; n < 4; n++) {
		unsigned int i = order[n];
		struct ts_outcome o;

		CHECK_EQ_U(shadow_mmu_load_cr3(mmu, vcpu, &modes[i]), roots[i]);
		o = ts_access(mmu, vcpu, &modes[i], gva, 0);
		CHECK_EQ_U(o.faults, 0);
		CHECK_EQ_U(o.pfn, ts_guest_pfn + want[i]);
	}
	CHECK_EQ_U(TS_XSTAT(mmu, roots_created), 4);
	ts_check_invariants(mmu);
	/* With paging off the guest writes gfn 0x80: both modes' shadows of it go. */
	shadow_mmu_load_cr3(mmu, vcpu, &modes[0]);
	CHECK_EQ_U(ts_access(mmu, vcpu, &modes[0], 0x80000, PFERR_WRITE).error, TS_ALLOWED);
	CHECK_EQ_U(pages_of(0x80, GUEST_PAGING_32BIT) + pages_of(0x80, GUEST_PAGING_PAE), 0);
	/* Their roots were retired: 32-bit paging again builds a new one. */
	CHECK(shadow_mmu_load_cr3(mmu, vcpu, &modes[1]) != 0);
	CHECK_EQ_U(TS_XSTAT(mmu, roots_created), 5);
	CHECK_EQ_U(ts_access(mmu, vcpu, &modes[1], gva, 0).pfn, ts_guest_pfn + FRAME_A);
	/* The 4-level root does not shadow gfn 0x80: kept. */
	CHECK_EQ_U(shadow_mmu_load_cr3(mmu, vcpu, &modes[3]), roots[3]);
	CHECK_EQ_U(ts_access(mmu, vcpu, &modes[3], gva, 0).faults, 0);
	CHECK_EQ_U(TS_XSTAT(mmu, roots_created), 5);
	finish();
}

int main(void)
{
	ts_setup(1);
	RUN_TEST(test_fault_4k_read_then_write);
	RUN_TEST(test_fault_inside_guest_huge_pages);
	RUN_TEST(test_inject_pf_error_codes);
	RUN_TEST(test_cr3_switch_keeps_previous_roots);
	RUN_TEST(test_invlpg_drops_the_translation);
	RUN_TEST(test_guest_table_write_zaps_and_unprotects);
	RUN_TEST(test_walk_hint_follows_the_guest);
	RUN_TEST(test_vcpu_leaf);
	RUN_TEST(test_self_referencing_write_needs_emulation);
	RUN_TEST(test_self_write_found_without_a_walk);
	RUN_TEST(test_emulated_table_write_takes_one_entry);
	RUN_TEST(test_emulated_store_forgets_first);
	RUN_TEST(test_emulated_string_store_zeroes_root);
	RUN_TEST(test_teardown_is_linear);
	RUN_TEST(test_multi_mapped_frames);
	RUN_TEST(test_zap_range_takes_guest_tables);
	RUN_TEST(test_dirty_logging);
	RUN_TEST(test_cr0_wp_clear);
	RUN_TEST(test_32bit_guest_quadrants_and_4m_page);
	RUN_TEST(test_32bit_table_writes_take_the_right_entries);
	RUN_TEST(test_pae_guest_two_of_four_pdptes);
	RUN_TEST(test_pae_root_slot_reuse_flushes);
	RUN_TEST(test_paging_off_direct_map);
	RUN_TEST(test_mode_switches);
	return check_summary("test_shadow_mmu");
}
