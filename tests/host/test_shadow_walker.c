// SPDX-License-Identifier: MIT
/*
 * The guest page-table walker (mm/shadow/walker.c) against a fake guest
 * memory. The main test runs every combination of P, R/W, U/S and XD at
 * every level of a 4 KiB, 2 MiB and 1 GiB translation, with every setting
 * of CR0.WP, EFER.NXE, CR4.SMEP, CR4.SMAP and RFLAGS.AC, at CPL 0 and 3
 * (and an implicit supervisor access at CPL 3), for a read, a write and a
 * fetch; each outcome and error code is checked against a reference that
 * is written out here from the SDM's rules (ref_*), not derived from the
 * walker, and the accessed/dirty bits against when the CPU sets them.
 */
#define _GNU_SOURCE
#include "mm/shadow/walker.h"
#include "tests/host/check.h"
#include "tests/host/platform_host.h"

/* Fake guest memory: FAKE_FRAMES frames from gpa 0; the tables live at fixed gfns. */
#define FAKE_FRAMES 16
#define PML4_GFN 1
#define PDPT_GFN 2
#define PD_GFN 3
#define PT_GFN 4
#define MAXPHYADDR 40
/* Indices 0x1a3, 0x0f5, 0x13c, 0x07d and a page offset: every level's index differs. */
#define GVA ((0x1a3ULL << 39) | (0x0f5ULL << 30) | (0x13cULL << 21) | (0x07dULL << 12) | 0x123)

static uint64_t mem[FAKE_FRAMES * 512];
/* Test hook: called by cmpxchg before it compares; may change memory (a racing guest). */
static void (*before_cmpxchg)(uint64_t gpa);
static unsigned int cmpxchg_calls;

static enum guest_mem_result fake_read(void *ctx, uint64_t gpa, uint64_t *val)
{
	(void)ctx;
	if (gpa >= sizeof(mem))
		return GUEST_MEM_NO_SLOT;
	*val = mem[gpa / 8];
	return GUEST_MEM_OK;
}

static enum guest_mem_result fake_cmpxchg(void *ctx, uint64_t gpa, uint64_t old, uint64_t new_val)
{
	(void)ctx;
	if (gpa >= sizeof(mem))
		return GUEST_MEM_NO_SLOT;
	cmpxchg_calls++;
	if (before_cmpxchg)
		before_cmpxchg(gpa);
	if (mem[gpa / 8] != old)
		return GUEST_MEM_CHANGED;
	mem[gpa / 8] = new_val;
	return GUEST_MEM_OK;
}

static const struct guest_mem fake_mem = { .read = fake_read, .cmpxchg = fake_cmpxchg };

static uint64_t *entry(unsigned int level)
{
	static const unsigned int table_gfn[] = { 0, PT_GFN, PD_GFN, PDPT_GFN, PML4_GFN };

	return &mem[table_gfn[level] * 512 + x86_pte_index(GVA, level)];
}

/* --- the reference: SDM Vol. 3A 4.6 and 4.7, written as rules -------------- */

enum ref_mode { REF_CPL0, REF_CPL3_USER, REF_CPL3_IMPLICIT, REF_NR_MODES };
enum ref_kind { REF_READ, REF_WRITE, REF_FETCH, REF_NR_KINDS };

/*
 * What each kind of access needs from the translation (SDM 4.6.1). "user
 * page": U/S = 1 at every level; "writable": R/W = 1 at every level;
 * "executable": XD = 0 at every level, or EFER.NXE = 0.
 */
static const struct ref_rule {
	enum ref_mode mode;
	enum ref_kind kind;
	bool needs_user_page;      /* a user-mode access */
	bool needs_writable;       /* ... unless wp_waives_writable and CR0.WP = 0 */
	bool wp_waives_writable;
	bool needs_executable;
	bool smep_forbids_user_page;
	bool smap_forbids_user_page; /* ... unless ac_waives_smap and RFLAGS.AC = 1 */
	bool ac_waives_smap;
} ref_rules[] = {
	{ REF_CPL3_USER, REF_READ, .needs_user_page = true },
	{ REF_CPL3_USER, REF_WRITE, .needs_user_page = true, .needs_writable = true },
	{ REF_CPL3_USER, REF_FETCH, .needs_user_page = true, .needs_executable = true },
	{ REF_CPL0, REF_READ, .smap_forbids_user_page = true, .ac_waives_smap = true },
	{ REF_CPL0, REF_WRITE, .needs_writable = true, .wp_waives_writable = true,
	  .smap_forbids_user_page = true, .ac_waives_smap = true },
	{ REF_CPL0, REF_FETCH, .needs_executable = true, .smep_forbids_user_page = true },
	/* Implicit supervisor accesses at CPL 3 (descriptor tables...): SMAP whatever AC. */
	{ REF_CPL3_IMPLICIT, REF_READ, .smap_forbids_user_page = true },
	{ REF_CPL3_IMPLICIT, REF_WRITE, .needs_writable = true, .wp_waives_writable = true,
	  .smap_forbids_user_page = true },
	{ REF_CPL3_IMPLICIT, REF_FETCH, .needs_executable = true, .smep_forbids_user_page = true },
};

struct ref_case {
	unsigned int leaf_level;
	unsigned int first_absent; /* the first level (top down) whose P is 0; 0: none */
	bool rw[5], us[5], xd[5];  /* by level */
	bool wp, nxe, smep, smap, ac;
	enum ref_mode mode;
	enum ref_kind kind;
};

#define REF_ALLOWED 0xffffffffu

/* REF_ALLOWED, or the #PF error code the CPU reports. */
static uint32_t ref_expect(const struct ref_case *c)
{
	const struct ref_rule *rule = NULL;
	bool user_page = true, writable = true, executable = true;
	uint32_t access_bits = 0;

	for (unsigned int i = 0; i < ARRAY_SIZE(ref_rules); i++)
		if (ref_rules[i].mode == c->mode && ref_rules[i].kind == c->kind)
			rule = &ref_rules[i];
	/* Error code bits 1, 2, 4 (SDM 4.7): what the access was. */
	if (c->kind == REF_WRITE)
		access_bits |= 1u << 1;
	if (c->mode == REF_CPL3_USER)
		access_bits |= 1u << 2;
	if (c->kind == REF_FETCH && (c->nxe || c->smep))
		access_bits |= 1u << 4;
	/* The walk goes top down and stops at the first absent entry or reserved bit. */
	for (unsigned int level = 4; level >= c->leaf_level; level--) {
		if (c->first_absent == level)
			return access_bits;              /* P = 0 */
		if (c->xd[level] && !c->nxe)
			return access_bits | 1u << 0 | 1u << 3; /* XD without NXE is reserved */
		user_page &= c->us[level];
		writable &= c->rw[level];
		executable &= !(c->nxe && c->xd[level]);
	}
	if (rule->needs_user_page && !user_page)
		return access_bits | 1;
	if (rule->needs_writable && !writable && !(rule->wp_waives_writable && !c->wp))
		return access_bits | 1;
	if (rule->needs_executable && !executable)
		return access_bits | 1;
	if (rule->smep_forbids_user_page && c->smep && user_page)
		return access_bits | 1;
	if (rule->smap_forbids_user_page && c->smap && user_page && !(rule->ac_waives_smap && c->ac))
		return access_bits | 1;
	return REF_ALLOWED;
}

/* --- building the tables for one case, and running the walker ----------- */

static void build(const struct ref_case *c, uint64_t leaf_frame)
{
	static const uint64_t next_table[] = { 0, 0, PT_GFN, PD_GFN, PDPT_GFN };

	/* Only these four entries are ever read; the rest of memory stays 0. */
	for (unsigned int level = 1; level < c->leaf_level; level++)
		*entry(level) = 0;
	for (unsigned int level = 4; level >= c->leaf_level; level--) {
		uint64_t e = 0;

		if (c->first_absent && level <= c->first_absent) {
			/* Absent: garbage in the other bits must not matter. */
			*entry(level) = level == c->first_absent ? 0xfffffffffffffffeULL : 0;
			continue;
		}
		e |= X86_PTE_P;
		e |= c->rw[level] ? X86_PTE_RW : 0;
		e |= c->us[level] ? X86_PTE_US : 0;
		e |= c->xd[level] ? X86_PTE_NX : 0;
		if (level == c->leaf_level) {
			e |= leaf_frame << PAGE_SHIFT;
			if (level > 1)
				e |= X86_PTE_PS;
		} else {
			e |= next_table[level] << PAGE_SHIFT;
		}
		*entry(level) = e;
	}
}

static struct guest_paging paging_of(const struct ref_case *c)
{
	return (struct guest_paging){ .cr3 = PML4_GFN << PAGE_SHIFT, .wp = c->wp, .nx = c->nxe,
				      .smep = c->smep, .smap = c->smap, .ac = c->ac,
				      .cpl = c->mode == REF_CPL0 ? 0 : 3 };
}

static uint32_t access_of(const struct ref_case *c)
{
	return (c->kind == REF_WRITE ? PFERR_WRITE : 0) |
	       (c->kind == REF_FETCH ? PFERR_FETCH : 0) |
	       (c->mode == REF_CPL3_USER ? PFERR_USER : 0);
}

static unsigned long cases_run, cases_allowed, cases_mismatched;

static void check_case(const struct ref_case *c)
{
	static const uint64_t leaf_frame[] = { 0, 0x777, 0x2200, 0x40000 };
	struct guest_paging gp = paging_of(c);
	uint64_t before[5] = { 0 };
	uint32_t want = ref_expect(c);
	enum guest_walk_result r;
	struct guest_walk w;
	bool ok = true;

	build(c, leaf_frame[c->leaf_level]);
	for (unsigned int level = 1; level <= 4; level++)
		before[level] = *entry(level);
	r = guest_walk(&fake_mem, &gp, MAXPHYADDR, GVA, access_of(c), &w);
	cases_run++;
	if (want == REF_ALLOWED) {
		cases_allowed++;
		ok = r == GUEST_WALK_OK && w.level == c->leaf_level &&
		     w.gfn == guest_leaf_gfn(before[c->leaf_level], c->leaf_level, GVA);
		/* A in every entry used, D in the leaf for a write; nothing else changes. */
		for (unsigned int level = 4; ok && level >= 1; level--) {
			uint64_t expect = before[level];

			if (level >= c->leaf_level)
				expect |= X86_PTE_A;
			if (level == c->leaf_level && c->kind == REF_WRITE)
				expect |= X86_PTE_D;
			ok = *entry(level) == expect && (level < c->leaf_level || w.pte[level] == expect);
		}
	} else {
		ok = r == GUEST_WALK_FAULT && w.error == want;
		for (unsigned int level = 1; ok && level <= 4; level++)
			ok = *entry(level) == before[level]; /* a faulting walk sets nothing */
	}
	if (!ok && cases_mismatched++ < 10) {
		fprintf(stderr, "  mismatch: leaf L%u absent L%u rw/us/xd", c->leaf_level, c->first_absent);
		for (unsigned int level = 4; level >= c->leaf_level; level--)
			fprintf(stderr, " L%u:%d%d%d", level, c->rw[level], c->us[level], c->xd[level]);
		fprintf(stderr, " wp%d nxe%d smep%d smap%d ac%d mode%d kind%d: want %#x, walk %d error %#x\n",
			c->wp, c->nxe, c->smep, c->smap, c->ac, c->mode, c->kind, want, r, w.error);
		check_current_failed = 1;
	}
}

/* Every combination, every leaf level. */
static void test_walker_every_combination(void)
{
	cases_run = cases_allowed = cases_mismatched = 0;
	for (unsigned int leaf = 1; leaf <= 3; leaf++) {
		unsigned int nr_levels = 5 - leaf;

		for (unsigned int bits = 0; bits < 1u << (3 * nr_levels); bits++) {
			for (unsigned int absent = 0; absent <= 4; absent++) {
				struct ref_case c = { .leaf_level = leaf, .first_absent = absent };

				if (absent && absent < leaf)
					continue;
				/* An absent level and those below it are never decoded: their bits only once. */
				if (absent && (bits >> (3 * (4 - absent))) != 0)
					continue;
				for (unsigned int level = 4, b = bits; level >= leaf; level--, b >>= 3) {
					c.rw[level] = b & 1;
					c.us[level] = b & 2;
					c.xd[level] = b & 4;
				}
				for (unsigned int ctl = 0; ctl < 32; ctl++) {
					c.wp = ctl & 1;
					c.nxe = ctl & 2;
					c.smep = ctl & 4;
					c.smap = ctl & 8;
					c.ac = ctl & 16;
					for (c.mode = 0; c.mode < REF_NR_MODES; c.mode++)
						for (c.kind = 0; c.kind < REF_NR_KINDS; c.kind++)
							check_case(&c);
				}
			}
		}
	}
	printf("        %lu cases, %lu allowed, %lu mismatched\n", cases_run, cases_allowed,
	       cases_mismatched);
	CHECK_EQ_U(cases_mismatched, 0);
	CHECK(cases_allowed > cases_run / 10 && cases_allowed < cases_run / 2);
}

/* A plain 4 KiB translation, user-writable, for the targeted tests. */
static void build_plain(void)
{
	struct ref_case c = { .leaf_level = 1 };

	for (unsigned int level = 1; level <= 4; level++)
		c.rw[level] = c.us[level] = true;
	build(&c, 0x777);
}

static enum guest_walk_result walk(uint32_t access, bool nxe, struct guest_walk *w)
{
	struct guest_paging gp = { .cr3 = PML4_GFN << PAGE_SHIFT, .wp = true, .nx = nxe, .cpl = 3 };

	return guest_walk(&fake_mem, &gp, MAXPHYADDR, GVA, access, w);
}

static void expect_rsvd(unsigned int level, uint64_t bit, bool nxe)
{
	struct guest_walk w;
	uint64_t saved;

	build_plain();
	saved = *entry(level);
	*entry(level) |= bit;
	CHECK_EQ_U(walk(PFERR_USER | PFERR_WRITE, nxe, &w), GUEST_WALK_FAULT);
	CHECK_EQ_U(w.error, PFERR_PRESENT | PFERR_RSVD | PFERR_USER | PFERR_WRITE);
	CHECK_EQ_U(*entry(level), saved | bit); /* no A/D */
}

static void test_walker_reserved_bits(void)
{
	struct guest_walk w;

	/* Address bits at MAXPHYADDR and above, at every level. */
	for (unsigned int level = 1; level <= 4; level++) {
		expect_rsvd(level, 1ULL << MAXPHYADDR, false);
		expect_rsvd(level, 1ULL << 51, true);
		expect_rsvd(level, X86_PTE_NX, false); /* XD without NXE */
	}
	expect_rsvd(4, X86_PTE_PS, false); /* no PS in a PML4 entry */
	/* A 2 MiB leaf: bits 20:13 reserved, bit 12 is PAT; a 1 GiB leaf: 29:13. */
	for (unsigned int leaf = 2; leaf <= 3; leaf++) {
		struct ref_case c = { .leaf_level = leaf, .rw = { 1, 1, 1, 1, 1 }, .us = { 1, 1, 1, 1, 1 } };
		unsigned int top = leaf == 2 ? 20 : 29;

		for (unsigned int bit = 13; bit <= top; bit++) {
			build(&c, leaf == 2 ? 0x2200 : 0x40000);
			*entry(leaf) |= 1ULL << bit;
			CHECK_EQ_U(walk(PFERR_USER, false, &w), GUEST_WALK_FAULT);
			CHECK_EQ_U(w.error, PFERR_PRESENT | PFERR_RSVD | PFERR_USER);
		}
		build(&c, leaf == 2 ? 0x2200 : 0x40000);
		*entry(leaf) |= X86_PTE_PAT_HUGE;
		CHECK_EQ_U(walk(PFERR_USER, false, &w), GUEST_WALK_OK);
		CHECK_EQ_U(w.gfn, (leaf == 2 ? 0x2200 : 0x40000) +
				  ((GVA >> PAGE_SHIFT) & (x86_pages_per_level(leaf) - 1)));
	}
	/* Bit 7 of a 4 KiB entry is PAT, bits 62:52 are ignored: neither is reserved. */
	build_plain();
	*entry(1) |= X86_PTE_PAT_4K | x86_bits(52, 62);
	CHECK_EQ_U(walk(PFERR_USER, false, &w), GUEST_WALK_OK);
	CHECK_EQ_U(w.gfn, 0x777);
	/* A reserved bit in a higher level wins over an absent lower level. */
	build_plain();
	*entry(3) |= 1ULL << 45;
	*entry(1) = 0;
	CHECK_EQ_U(walk(0, false, &w), GUEST_WALK_FAULT);
	CHECK_EQ_U(w.error, PFERR_PRESENT | PFERR_RSVD);
}

/* A racing guest: the first cmpxchg finds the entry changed, and the walk starts over. */
static unsigned int race_level;
static uint64_t race_bits;

static void race_once(uint64_t gpa)
{
	if (gpa / 8 == (uint64_t)(entry(race_level) - mem)) {
		*entry(race_level) ^= race_bits;
		before_cmpxchg = NULL;
	}
}

static void always_race(uint64_t gpa)
{
	mem[gpa / 8] ^= X86_PTE_G; /* an ignored bit: the access stays allowed */
}

static void test_walker_ad_updates_race(void)
{
	struct guest_walk w;

	/* The guest sets an ignored bit meanwhile: retried, the access goes through with both. */
	build_plain();
	race_level = 2;
	race_bits = X86_PTE_G;
	before_cmpxchg = race_once;
	CHECK_EQ_U(walk(PFERR_USER | PFERR_WRITE, false, &w), GUEST_WALK_OK);
	CHECK_EQ_U(w.retries, 1);
	CHECK_EQ_U(*entry(2), (PT_GFN << PAGE_SHIFT) | X86_PTE_P | X86_PTE_RW | X86_PTE_US |
				   X86_PTE_A | X86_PTE_G);
	CHECK(*entry(1) & X86_PTE_D);
	/* The guest takes R/W away meanwhile: retried, now a protection fault; no D. */
	build_plain();
	race_level = 1;
	race_bits = X86_PTE_RW;
	before_cmpxchg = race_once;
	CHECK_EQ_U(walk(PFERR_USER | PFERR_WRITE, false, &w), GUEST_WALK_FAULT);
	CHECK_EQ_U(w.error, PFERR_PRESENT | PFERR_WRITE | PFERR_USER);
	CHECK(!(*entry(1) & X86_PTE_D));
	/* A guest that never stops changing entries: the walk gives up. */
	build_plain();
	before_cmpxchg = always_race;
	CHECK_EQ_U(walk(PFERR_USER, false, &w), GUEST_WALK_RETRY);
	CHECK_EQ_U(w.retries, GUEST_WALK_MAX_RETRIES + 1);
	before_cmpxchg = NULL;
	/* A and D already set: no cmpxchg at all. */
	build_plain();
	CHECK_EQ_U(walk(PFERR_USER | PFERR_WRITE, false, &w), GUEST_WALK_OK);
	cmpxchg_calls = 0;
	CHECK_EQ_U(walk(PFERR_USER | PFERR_WRITE, false, &w), GUEST_WALK_OK);
	CHECK_EQ_U(cmpxchg_calls, 0);
	/* A read of a clean page sets A only. */
	build_plain();
	CHECK_EQ_U(walk(PFERR_USER, false, &w), GUEST_WALK_OK);
	CHECK((*entry(1) & (X86_PTE_A | X86_PTE_D)) == X86_PTE_A);
}

static void test_walker_outputs_and_no_slot(void)
{
	struct guest_walk w;

	build_plain();
	*entry(3) &= ~X86_PTE_RW;
	*entry(2) |= X86_PTE_NX;
	CHECK_EQ_U(walk(PFERR_USER, true, &w), GUEST_WALK_OK);
	CHECK_EQ_U(w.level, 1);
	CHECK_EQ_U(w.access, ACC_USER);
	CHECK_EQ_U(w.pt_access[4], ACC_ALL);
	CHECK_EQ_U(w.pt_access[3], ACC_ALL);
	CHECK_EQ_U(w.pt_access[2], ACC_USER | ACC_EXEC);
	CHECK_EQ_U(w.pt_access[1], ACC_USER);
	CHECK_EQ_U(w.table_gfn[4], PML4_GFN);
	CHECK_EQ_U(w.table_gfn[1], PT_GFN);
	CHECK_EQ_U(w.pte_gpa[2], (uint64_t)(entry(2) - mem) * 8);
	/* CR3's low bits are flags (PWT/PCD), not address. */
	{
		struct guest_paging gp = { .cr3 = (PML4_GFN << PAGE_SHIFT) | 0x18, .wp = true,
					   .nx = true, .cpl = 3 };

		CHECK_EQ_U(guest_walk(&fake_mem, &gp, MAXPHYADDR, GVA, PFERR_USER, &w), GUEST_WALK_OK);
	}
	/* A table outside guest memory. */
	build_plain();
	*entry(2) = (0x5000ULL << PAGE_SHIFT) | X86_PTE_P | X86_PTE_RW | X86_PTE_US;
	CHECK_EQ_U(walk(PFERR_USER, false, &w), GUEST_WALK_NO_SLOT);
	CHECK_EQ_U(w.no_slot_gpa, (0x5000ULL << PAGE_SHIFT) + 8 * x86_pte_index(GVA, 1));
}

int main(void)
{
	host_set_nr_cpus(1);
	host_cpu_enter(0);
	RUN_TEST(test_walker_every_combination);
	RUN_TEST(test_walker_reserved_bits);
	RUN_TEST(test_walker_ad_updates_race);
	RUN_TEST(test_walker_outputs_and_no_slot);
	return check_summary("test_shadow_walker");
}
