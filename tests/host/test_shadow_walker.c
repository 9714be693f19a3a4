// SPDX-License-Identifier: MIT
/*
 * The guest page-table walker (mm/shadow/walker.c) against a fake guest
 * memory. In 4-level, PAE and 32-bit paging, every combination of P, R/W,
 * U/S and XD at every level of each leaf size, × CR0.WP, EFER.NXE,
 * CR4.SMEP, CR4.SMAP, RFLAGS.AC (and CR4.PSE), × CPL 0, CPL 3 and an
 * implicit supervisor access, × read, write, fetch: each outcome, error
 * code and A/D update is checked against a reference written out from the
 * SDM's rules (ref_*, in tests/host/walker_ref.h), not derived from the
 * walker. Then paging off, and targeted cases with hand-written error codes
 * and frames.
 */
#define _GNU_SOURCE
#include "mm/shadow/walker.h"
#include "tests/host/check.h"
#include "tests/host/platform_host.h"
#include "tests/host/walker_ref.h"

/* Fake guest memory: FAKE_FRAMES frames from gpa 0; the tables live at fixed gfns. */
#define FAKE_FRAMES 16
#define PML4_GFN 1
#define PDPT_GFN 2
#define PD_GFN 3
#define PT_GFN 4
#define MAXPHYADDR 40
/* Indices 0x1a3, 0x0f5, 0x13c, 0x07d and a page offset: every level's index differs. */
#define GVA ((0x1a3ULL << 39) | (0x0f5ULL << 30) | (0x13cULL << 21) | (0x07dULL << 12) | 0x123)
/* 32-bit paging: PDE index 0x2b6 (even: the low half of its 8 bytes), PTE index 0x1c9 (odd). */
#define PD32_GFN 5
#define PT32_GFN 6
#define GVA32 ((0x2b6ULL << 22) | (0x1c9ULL << 12) | 0x456)
/* PAE: the PDPT is 32-byte aligned inside a page (CR3 bits 31:5); PDPTE index 2. */
#define PDPT_PAE_GPA 0x7060ULL
#define PD_PAE_GFN 8
#define PT_PAE_GFN 9
#define GVA_PAE ((2ULL << 30) | (0x13cULL << 21) | (0x07dULL << 12) | 0x123)

static uint64_t mem[FAKE_FRAMES * 512];
/* Test hook: called by cmpxchg before it compares; may change memory (a racing guest). */
static void (*before_cmpxchg)(uint64_t gpa);
static unsigned int cmpxchg_calls;

static enum guest_mem_result fake_read(void *ctx, uint64_t gpa, uint64_t *val)
{
	(void)ctx;
	CHECK(gpa % 8 == 0);
	if (gpa >= sizeof(mem))
		return GUEST_MEM_NO_SLOT;
	*val = mem[gpa / 8];
	return GUEST_MEM_OK;
}

static enum guest_mem_result fake_cmpxchg(void *ctx, uint64_t gpa, uint64_t old, uint64_t new_val)
{
	(void)ctx;
	CHECK(gpa % 8 == 0);
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

/* The second round of tests reads entries in place (guest_mem.word), as the shadow MMU does. */
static _Atomic uint64_t *fake_word(void *ctx, uint64_t gpa)
{
	(void)ctx;
	CHECK(gpa % 8 == 0);
	if (gpa >= sizeof(mem))
		return NULL;
	return (_Atomic uint64_t *)&mem[gpa / 8];
}

static struct guest_mem fake_mem = { .read = fake_read, .cmpxchg = fake_cmpxchg };

static uint64_t *entry(unsigned int level)
{
	static const unsigned int table_gfn[] = { 0, PT_GFN, PD_GFN, PDPT_GFN, PML4_GFN };

	return &mem[table_gfn[level] * 512 + x86_pte_index(GVA, level)];
}

/*
 * Any mode's entries, located from the SDM's index bits (not the walker's
 * helpers): 4-level 47:39, 38:30, 29:21, 20:12; PAE 31:30, 29:21, 20:12;
 * 32-bit 31:22, 21:12 with 4-byte entries, kept in halves of mem[].
 */
static uint64_t gva_of(enum guest_paging_mode paging)
{
	return paging == GUEST_PAGING_32BIT ? GVA32 : paging == GUEST_PAGING_PAE ? GVA_PAE : GVA;
}

static uint64_t entry_gpa(enum guest_paging_mode paging, unsigned int level)
{
	static const uint64_t pae_table[] = { 0, PT_PAE_GFN << 12, PD_PAE_GFN << 12, PDPT_PAE_GPA };

	if (paging == GUEST_PAGING_32BIT)
		return (level == 2 ? PD32_GFN : PT32_GFN) * 4096 +
		       4 * ((GVA32 >> (12 + 10 * (level - 1))) & 1023);
	if (paging == GUEST_PAGING_PAE)
		return pae_table[level] +
		       8 * ((GVA_PAE >> (12 + 9 * (level - 1))) & (level == 3 ? 3 : 511));
	return (uint64_t)(entry(level) - mem) * 8;
}

/* The 4 bytes at gpa (x86 is little-endian: gpa & 4 is the high half of mem[gpa / 8]). */
static uint32_t half_at(uint64_t gpa)
{
	return (uint32_t)(mem[gpa / 8] >> (gpa & 4) * 8);
}

/* The 4-byte entry that shares the 8 bytes of a 32-bit-paging entry. */
#define neighbour_get(level) half_at(entry_gpa(GUEST_PAGING_32BIT, (level)) ^ 4)

static uint64_t pte_get(enum guest_paging_mode paging, unsigned int level)
{
	uint64_t gpa = entry_gpa(paging, level);

	return paging != GUEST_PAGING_32BIT ? mem[gpa / 8] : half_at(gpa);
}

static void pte_set(enum guest_paging_mode paging, unsigned int level, uint64_t val)
{
	uint64_t gpa = entry_gpa(paging, level), sh = (gpa & 4) * 8, half = 0xffffffffULL << sh;
	uint64_t *q = &mem[gpa / 8];

	*q = paging != GUEST_PAGING_32BIT ? val : (*q & ~half) | (val << sh & half);
}

/* --- building the tables for one case, and running the walker ----------- */

/*
 * The leaf's frame per mode and level: above 4 GiB where the mode can map
 * it (PAE 0x123456, PSE-36 0x5ab1000: address bits 39:32 = 0x5a).
 */
static uint64_t leaf_frame_of(enum guest_paging_mode paging, unsigned int leaf)
{
	static const uint64_t frames[][4] = {
		[GUEST_PAGING_4LEVEL] = { 0, 0x777, 0x2200, 0x40000 },
		[GUEST_PAGING_PAE] = { 0, 0x123456, 0x345600, 0 },
		[GUEST_PAGING_32BIT] = { 0, 0x777, 0x5ab1000, 0 },
	};

	return frames[paging][leaf];
}

/* The 4 KiB frame gva must reach: the leaf's frame plus gva's page inside the leaf. */
static uint64_t expected_gfn(enum guest_paging_mode paging, unsigned int leaf)
{
	uint64_t pages = paging == GUEST_PAGING_32BIT ? 1ULL << (10 * (leaf - 1))
						      : 1ULL << (9 * (leaf - 1));

	return leaf_frame_of(paging, leaf) + ((gva_of(paging) >> 12) & (pages - 1));
}

/* A 32-bit-paging entry's neighbour, by level: must survive every A/D update. */
#define NEIGHBOUR(level) (0xa5a5a5a4u ^ (level))

static void build(const struct ref_case *c, uint64_t leaf_frame)
{
	static const uint64_t next_table[][5] = {
		[GUEST_PAGING_4LEVEL] = { 0, 0, PT_GFN, PD_GFN, PDPT_GFN },
		[GUEST_PAGING_PAE] = { 0, 0, PT_PAE_GFN, PD_PAE_GFN, 0 },
		[GUEST_PAGING_32BIT] = { 0, 0, PT32_GFN, 0, 0 },
	};
	bool narrow = c->paging == GUEST_PAGING_32BIT;

	/* Only these entries are ever read; the rest of memory stays 0. */
	for (unsigned int level = 1; level < c->leaf_level; level++)
		pte_set(c->paging, level, 0);
	for (unsigned int level = ref_top_level(c->paging); level >= c->leaf_level; level--) {
		uint64_t e = X86_PTE_P;

		if (narrow)
			mem[entry_gpa(c->paging, level) / 8] = NEIGHBOUR(level) * 0x100000001ULL;
		if (c->first_absent && level <= c->first_absent) {
			/* Absent: garbage in the other bits must not matter. */
			pte_set(c->paging, level, level == c->first_absent ? ~1ULL : 0);
			continue;
		}
		if (!ref_is_pdpte(c, level))
			e |= (c->rw[level] ? X86_PTE_RW : 0) | (c->us[level] ? X86_PTE_US : 0) |
			     (c->xd[level] ? X86_PTE_NX : 0);
		if (level != c->leaf_level)
			e |= next_table[c->paging][level] << PAGE_SHIFT;
		else if (narrow && level == 2) /* a 4 MiB PDE: address 31:22, and 39:32 in 20:13 */
			e |= X86_PTE_PS | ((leaf_frame << 12) & 0xffc00000) |
			     ((leaf_frame >> 20) & 0xff) << 13;
		else
			e |= leaf_frame << PAGE_SHIFT | (level > 1 ? X86_PTE_PS : 0);
		pte_set(c->paging, level, e);
	}
}

static struct guest_paging paging_of(const struct ref_case *c)
{
	static const uint64_t cr3[] = { [GUEST_PAGING_4LEVEL] = PML4_GFN << PAGE_SHIFT,
					[GUEST_PAGING_PAE] = PDPT_PAE_GPA,
					[GUEST_PAGING_32BIT] = PD32_GFN << PAGE_SHIFT,
					[GUEST_PAGING_OFF] = PML4_GFN << PAGE_SHIFT };

	return (struct guest_paging){ .cr3 = cr3[c->paging], .wp = c->wp, .nx = c->nxe,
				      .smep = c->smep, .smap = c->smap, .ac = c->ac,
				      .cpl = c->mode == REF_CPL0 ? 0 : 3, .mode = c->paging,
				      .pse = c->pse };
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
	unsigned int top = ref_top_level(c->paging);
	struct guest_paging gp = paging_of(c);
	uint64_t before[5] = { 0 };
	uint32_t want = ref_expect(c);
	enum guest_walk_result r;
	struct guest_walk w;
	bool ok = true;

	build(c, leaf_frame_of(c->paging, c->leaf_level));
	for (unsigned int level = 1; level <= top; level++)
		before[level] = pte_get(c->paging, level);
	r = guest_walk(&fake_mem, &gp, MAXPHYADDR, gva_of(c->paging), access_of(c), &w);
	cases_run++;
	if (want == REF_ALLOWED) {
		cases_allowed++;
		ok = r == GUEST_WALK_OK && w.level == c->leaf_level && w.mode == c->paging &&
		     w.root_level == top && w.gfn == expected_gfn(c->paging, c->leaf_level);
		/* A in each entry used but a PDPTE, D in the leaf for a write; nothing else. */
		for (unsigned int level = top; ok && level >= 1; level--) {
			uint64_t expect = before[level];

			if (level >= c->leaf_level && !ref_is_pdpte(c, level))
				expect |= X86_PTE_A;
			if (level == c->leaf_level && c->kind == REF_WRITE)
				expect |= X86_PTE_D;
			ok = pte_get(c->paging, level) == expect &&
			     (level < c->leaf_level || w.pte[level] == expect);
		}
	} else {
		ok = r == GUEST_WALK_FAULT && w.error == want;
		for (unsigned int level = 1; ok && level <= top; level++)
			ok = pte_get(c->paging, level) == before[level]; /* a faulting walk sets nothing */
	}
	for (unsigned int level = c->leaf_level; level <= top; level++)
		ok &= c->paging != GUEST_PAGING_32BIT || neighbour_get(level) == NEIGHBOUR(level);
	if (!ok && cases_mismatched++ < 10) {
		fprintf(stderr, "  mismatch: paging %d leaf L%u absent L%u rw/us/xd", c->paging,
			c->leaf_level, c->first_absent);
		for (unsigned int level = top; level >= c->leaf_level; level--)
			fprintf(stderr, " L%u:%d%d%d", level, c->rw[level], c->us[level], c->xd[level]);
		fprintf(stderr, " wp%d nxe%d smep%d smap%d ac%d pse%d mode%d kind%d:", c->wp,
			c->nxe, c->smep, c->smap, c->ac, c->pse, c->mode, c->kind);
		fprintf(stderr, " want %#x, walk %d error %#x\n", want, r, w.error);
		check_current_failed = 1;
	}
}

/* The controls, one bit each: CR0.WP, EFER.NXE, CR4.SMEP, CR4.SMAP, RFLAGS.AC, CR4.PSE. */
static void set_controls(struct ref_case *c, unsigned int ctl)
{
	c->wp = ctl & 1, c->nxe = ctl & 2, c->smep = ctl & 4, c->smap = ctl & 8, c->ac = ctl & 16;
	c->pse = ctl & 32;
}

/* The rights bits varied at a level: R/W, U/S, and XD where it exists; none in a PDPTE. */
static unsigned int case_bits_at(enum guest_paging_mode paging, unsigned int level)
{
	if (paging == GUEST_PAGING_PAE && level == 3)
		return 0;
	return paging == GUEST_PAGING_32BIT ? 2 : 3;
}

/* Every combination, every leaf level of one mode; returns the cases run. */
static unsigned long check_every_combination(enum guest_paging_mode paging)
{
	unsigned int top = ref_top_level(paging), max_leaf = paging == GUEST_PAGING_4LEVEL ? 3 : 2;
	bool narrow = paging == GUEST_PAGING_32BIT;
	unsigned long run = cases_run;

	for (unsigned int leaf = 1; leaf <= max_leaf; leaf++) {
		unsigned int nr_bits = 0;

		for (unsigned int level = top; level >= leaf; level--)
			nr_bits += case_bits_at(paging, level);
		for (unsigned int bits = 0; bits < 1u << nr_bits; bits++) {
			for (unsigned int absent = 0; absent <= top; absent++) {
				struct ref_case c = { .paging = paging, .leaf_level = leaf,
						      .first_absent = absent };
				unsigned int above = 0, b = bits;

				if (absent && absent < leaf)
					continue;
				/* An absent level and those below it are never decoded: their bits only once. */
				for (unsigned int level = top; absent && level > absent; level--)
					above += case_bits_at(paging, level);
				if (absent && (bits >> above) != 0)
					continue;
				for (unsigned int level = top; level >= leaf; level--) {
					unsigned int n = case_bits_at(paging, level);

					c.rw[level] = n && (b & 1);
					c.us[level] = n && (b & 2);
					c.xd[level] = n == 3 && (b & 4);
					b >>= n;
				}
				/* CR4.PSE: 1 with a 4 MiB leaf, both with a 4 KiB one. */
				for (unsigned int ctl = 0; ctl < 64; ctl++) {
					set_controls(&c, ctl);
					if (c.pse != (narrow && (leaf == 2 || (ctl & 32))))
						continue;
					for (c.mode = 0; c.mode < REF_NR_MODES; c.mode++)
						for (c.kind = 0; c.kind < REF_NR_KINDS; c.kind++)
							check_case(&c);
				}
			}
		}
	}
	return cases_run - run;
}

static void test_walker_every_combination(void)
{
	unsigned long n4, npae, n32;

	cases_run = cases_allowed = cases_mismatched = 0;
	n4 = check_every_combination(GUEST_PAGING_4LEVEL);
	npae = check_every_combination(GUEST_PAGING_PAE);
	n32 = check_every_combination(GUEST_PAGING_32BIT);
	printf("%8s%lu cases (4-level %lu, PAE %lu, 32-bit %lu), %lu allowed, %lu mismatched\n", "",
	       cases_run, n4, npae, n32, cases_allowed, cases_mismatched);
	CHECK_EQ_U(n4, 1537632); /* as before the other modes: nothing dropped */
	CHECK_EQ_U(cases_mismatched, 0);
	CHECK(cases_allowed > cases_run / 10 && cases_allowed < cases_run / 2);
}

/* Paging off: every control, every access: allowed, identity on 32 bits, no memory touched. */
static void test_walker_paging_off(void)
{
	static uint64_t saved[ARRAY_SIZE(mem)];
	const uint64_t gva = 0xffffffff12345678ULL; /* 32 bits: 0x12345678 */
	struct ref_case c = { .paging = GUEST_PAGING_OFF };
	unsigned long bad = 0;

	memset(mem, 0xff, sizeof(mem)); /* garbage everywhere: never read */
	memcpy(saved, mem, sizeof(mem));
	cmpxchg_calls = 0;
	/* Each of the 32 controls' settings, mode, kind. */
	for (unsigned int i = 0; i < 32 * REF_NR_MODES * REF_NR_KINDS; i++) {
		struct guest_paging gp;
		struct guest_walk w;
		enum guest_walk_result r;

		set_controls(&c, i / (REF_NR_MODES * REF_NR_KINDS));
		c.mode = i / REF_NR_KINDS % REF_NR_MODES;
		c.kind = i % REF_NR_KINDS;
		gp = paging_of(&c);
		r = guest_walk(&fake_mem, &gp, MAXPHYADDR, gva, access_of(&c), &w);
		bad += ref_expect(&c) != REF_ALLOWED || r != GUEST_WALK_OK || w.gfn != 0x12345 ||
		       w.level != 1 || w.root_level != 0 || w.mode != GUEST_PAGING_OFF ||
		       w.access != ACC_ALL;
	}
	CHECK_EQ_U(bad, 0);
	CHECK_EQ_U(cmpxchg_calls, 0);
	CHECK(memcmp(saved, mem, sizeof(mem)) == 0);
	memset(mem, 0, sizeof(mem));
}

/* --- targeted cases: hand-written error codes and frames ------------------ */

static enum guest_walk_result walk_mode(enum guest_paging_mode paging, uint64_t gva,
					uint32_t access, unsigned int maxphyaddr, bool nxe,
					struct guest_walk *w)
{
	struct ref_case c = { .paging = paging, .wp = true, .nxe = nxe, .pse = true,
			      .mode = (access & PFERR_USER) ? REF_CPL3_USER : REF_CPL0 };
	struct guest_paging gp = paging_of(&c);

	return guest_walk(&fake_mem, &gp, maxphyaddr, gva, access, w);
}

/* A user-writable translation with a leaf at leaf (CR4.PSE set in 32-bit paging). */
static void build_mode(enum guest_paging_mode paging, unsigned int leaf)
{
	struct ref_case c = { .paging = paging, .leaf_level = leaf, .pse = true };

	for (unsigned int level = 1; level <= 4; level++)
		c.rw[level] = c.us[level] = true;
	build(&c, leaf_frame_of(paging, leaf));
}

/* 4-level: a user-writable 4 KiB page at 0x777, and a walk of GVA. */
#define build_plain() build_mode(GUEST_PAGING_4LEVEL, 1)
#define walk(access, nxe, w) walk_mode(GUEST_PAGING_4LEVEL, GVA, access, MAXPHYADDR, nxe, w)

/* bit set at level (leaf: the leaf's): error is the #PF error code, 0 for a bit not reserved. */
static struct guest_walk rsvd_walk;

static void expect_rsvd(enum guest_paging_mode paging, unsigned int leaf, unsigned int level,
			uint64_t bit, bool nxe, uint32_t access, uint32_t error)
{
	uint64_t before[5] = { 0 };
	unsigned int top = ref_top_level(paging);

	build_mode(paging, leaf);
	pte_set(paging, level, pte_get(paging, level) | bit);
	for (unsigned int l = 1; l <= top; l++)
		before[l] = pte_get(paging, l);
	CHECK_EQ_U(walk_mode(paging, gva_of(paging), access, MAXPHYADDR, nxe, &rsvd_walk),
		   error ? GUEST_WALK_FAULT : GUEST_WALK_OK);
	if (error)
		CHECK_EQ_U(rsvd_walk.error, error);
	for (unsigned int l = 1; l <= top; l++)
		if (error || (paging == GUEST_PAGING_PAE && l == 3))
			CHECK_EQ_U(pte_get(paging, l), before[l]);
}

static void test_walker_reserved_bits(void)
{
	const enum guest_paging_mode lm = GUEST_PAGING_4LEVEL;
	const uint32_t user_rw = PFERR_USER | PFERR_WRITE;
	struct guest_walk w;

	/* Address bits at MAXPHYADDR and above, at every level: P | W | U | RSVD. */
	for (unsigned int level = 1; level <= 4; level++) {
		expect_rsvd(lm, 1, level, 1ULL << MAXPHYADDR, false, user_rw, 0xf);
		expect_rsvd(lm, 1, level, 1ULL << 51, true, user_rw, 0xf);
		expect_rsvd(lm, 1, level, X86_PTE_NX, false, user_rw, 0xf); /* XD without NXE */
	}
	expect_rsvd(lm, 1, 4, X86_PTE_PS, false, user_rw, 0xf); /* no PS in a PML4E */
	/* A 2 MiB leaf: bits 20:13 reserved, bit 12 is PAT; a 1 GiB leaf: 29:13. */
	for (unsigned int leaf = 2; leaf <= 3; leaf++) {
		for (unsigned int bit = 13; bit <= (leaf == 2 ? 20 : 29); bit++)
			expect_rsvd(lm, leaf, leaf, 1ULL << bit, false, PFERR_USER, 0xd);
		expect_rsvd(lm, leaf, leaf, X86_PTE_PAT_HUGE, false, PFERR_USER, 0);
		CHECK_EQ_U(rsvd_walk.gfn, leaf == 2 ? 0x227d : 0x6787d);
	}
	/* Bit 7 of a 4 KiB entry is PAT, bits 62:52 are ignored: neither is reserved. */
	expect_rsvd(lm, 1, 1, X86_PTE_PAT_4K | x86_bits(52, 62), false, PFERR_USER, 0);
	CHECK_EQ_U(rsvd_walk.gfn, 0x777);
	/* A reserved bit in a higher level wins over an absent lower level. */
	build_plain();
	*entry(3) |= 1ULL << 45;
	*entry(1) = 0;
	CHECK_EQ_U(walk(0, false, &w), GUEST_WALK_FAULT);
	CHECK_EQ_U(w.error, PFERR_PRESENT | PFERR_RSVD);
}

/* A racing guest: race_bits flip in an entry (or its 4-byte neighbour) before the first cmpxchg. */
static enum guest_paging_mode race_paging;
static unsigned int race_level;
static uint64_t race_bits;
static bool race_neighbour;

static void race_once(uint64_t gpa)
{
	uint64_t at = entry_gpa(race_paging, race_level) ^ (race_neighbour ? 4 : 0);

	if (gpa == (at & ~7ULL)) {
		mem[at / 8] ^= race_bits << (at & 4) * 8;
		before_cmpxchg = NULL;
	}
}

static void arm_race(enum guest_paging_mode paging, unsigned int level, uint64_t bits,
		     bool neighbour)
{
	race_paging = paging, race_level = level, race_bits = bits, race_neighbour = neighbour;
	before_cmpxchg = race_once;
}

static void always_race(uint64_t gpa)
{
	mem[gpa / 8] ^= X86_PTE_G; /* an ignored bit (of the low half): the access stays allowed */
}

static void test_walker_ad_updates_race(void)
{
	struct guest_walk w;

	/* The guest sets an ignored bit meanwhile: retried, the access goes through with both. */
	build_plain();
	arm_race(GUEST_PAGING_4LEVEL, 2, X86_PTE_G, false);
	CHECK_EQ_U(walk(PFERR_USER | PFERR_WRITE, false, &w), GUEST_WALK_OK);
	CHECK_EQ_U(w.retries, 1);
	CHECK_EQ_U(*entry(2), (PT_GFN << PAGE_SHIFT) | X86_PTE_P | X86_PTE_RW | X86_PTE_US |
				   X86_PTE_A | X86_PTE_G);
	CHECK(*entry(1) & X86_PTE_D);
	/* The guest takes R/W away meanwhile: retried, now a protection fault; no D. */
	build_plain();
	arm_race(GUEST_PAGING_4LEVEL, 1, X86_PTE_RW, false);
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
	struct guest_paging gp = { .cr3 = PML4_GFN << PAGE_SHIFT, .wp = true, .nx = true,
				   .cpl = 3 };
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
	gp.cr3 |= 0x18;
	CHECK_EQ_U(guest_walk(&fake_mem, &gp, MAXPHYADDR, GVA, PFERR_USER, &w), GUEST_WALK_OK);
	/* A table outside guest memory. */
	build_plain();
	*entry(2) = (0x5000ULL << PAGE_SHIFT) | X86_PTE_P | X86_PTE_RW | X86_PTE_US;
	CHECK_EQ_U(walk(PFERR_USER, false, &w), GUEST_WALK_NO_SLOT);
	CHECK_EQ_U(w.no_slot_gpa, (0x5000ULL << PAGE_SHIFT) + 8 * x86_pte_index(GVA, 1));
}

static void test_walker_mode_of(void)
{
	struct guest_paging pae = { .mode = GUEST_PAGING_PAE };
	struct guest_paging p32 = { .mode = GUEST_PAGING_32BIT };

	/* CR0: PE | ET | PG = 0x80000011; CR4: PSE 0x10, PAE 0x20; EFER: LME 0x100, LMA 0x400. */
	CHECK_EQ_U(guest_paging_mode_of(0x11, 0x30, 0x500), GUEST_PAGING_OFF);
	CHECK_EQ_U(guest_paging_mode_of(0x80000011, 0x10, 0), GUEST_PAGING_32BIT);
	CHECK_EQ_U(guest_paging_mode_of(0x80000011, 0x30, 0x100), GUEST_PAGING_PAE); /* LME only */
	CHECK_EQ_U(guest_paging_mode_of(0x80000011, 0x20, 0xd00), GUEST_PAGING_4LEVEL);
	CHECK_EQ_U(GUEST_PAGING_4LEVEL, 0); /* { .cr3 = ... } alone walks 4-level */
	CHECK(guest_page_shift(p32.mode, 2) == 22 && guest_page_shift(pae.mode, 2) == 21);
	/* Reserved masks, by hand: a PAE PDPTE at MAXPHYADDR 40; a 4 MiB PDE at 36 and 46. */
	CHECK_EQ_U(guest_pte_rsvd_mask(&pae, 40, 3, false), 0xffffff00000001e6ULL);
	CHECK_EQ_U(guest_pte_rsvd_mask(&p32, 36, 2, true), 0x3e0000);
	CHECK_EQ_U(guest_pte_rsvd_mask(&p32, 46, 2, true), 0x200000);
}

static void test_walker_32bit(void)
{
	const enum guest_paging_mode p32 = GUEST_PAGING_32BIT;
	const uint32_t user_rw = PFERR_USER | PFERR_WRITE, user_fetch = PFERR_USER | PFERR_FETCH;
	struct guest_paging nopse = { .cr3 = PD32_GFN << PAGE_SHIFT, .mode = p32 };
	struct guest_walk w;

	/* PSE-36: a 4 MiB PDE, address 0xb1000000 | 0x5a << 32: frame 0x5ab1000 + 0x1c9. */
	build_mode(p32, 2);
	CHECK_EQ_U(pte_get(p32, 2), 0xb10b4087);
	CHECK_EQ_U(walk_mode(p32, GVA32, PFERR_USER, 40, false, &w), GUEST_WALK_OK);
	CHECK(w.gfn == 0x5ab11c9 && w.level == 2);
	CHECK_EQ_U(pte_get(p32, 2), 0xb10b40a7); /* A, in place */
	CHECK_EQ_U(neighbour_get(2), NEIGHBOUR(2));
	/* MAXPHYADDR 36: address bits 39:36 (PDE 20:17) are reserved; 0x5a sets bits 36, 38. */
	CHECK_EQ_U(walk_mode(p32, GVA32, PFERR_USER, 36, false, &w), GUEST_WALK_FAULT);
	CHECK_EQ_U(w.error, 0xd);
	pte_set(p32, 2, 0xb1014087); /* address bits 35:32 = 0xa only */
	CHECK_EQ_U(walk_mode(p32, GVA32, PFERR_USER, 36, false, &w), GUEST_WALK_OK);
	CHECK_EQ_U(w.gfn, 0xab11c9);
	/* Bit 21 of a 4 MiB PDE: a supervisor write faults P | W | RSVD. */
	pte_set(p32, 2, 0xb1200087);
	CHECK_EQ_U(walk_mode(p32, GVA32, PFERR_WRITE, 40, false, &w), GUEST_WALK_FAULT);
	CHECK_EQ_U(w.error, 0xb);
	/* Without CR4.PSE the PDE's PS is ignored: it points at the page table at 0x6000. */
	pte_set(p32, 2, (PT32_GFN << 12) | 0x87);
	pte_set(p32, 1, 0x777007);
	CHECK_EQ_U(guest_walk(&fake_mem, &nopse, 40, GVA32, PFERR_USER, &w), GUEST_WALK_OK);
	CHECK(w.level == 1 && w.gfn == 0x777);
	/* 4 KiB entries have no reserved bits: every low bit set (PAT, G, ignored) is fine. */
	build_mode(p32, 1);
	pte_set(p32, 1, 0xffffff9f);
	CHECK_EQ_U(walk_mode(p32, GVA32, user_rw, 40, true, &w), GUEST_WALK_OK);
	CHECK_EQ_U(w.gfn, 0xfffff);
	CHECK_EQ_U(pte_get(p32, 1), 0xffffffff);
	CHECK(neighbour_get(1) == NEIGHBOUR(1) && neighbour_get(2) == NEIGHBOUR(2));
	/* No XD, and NXE gives no I/D: a user fetch of a supervisor page faults P | U = 0x5. */
	build_mode(p32, 1);
	pte_set(p32, 1, 0x777003);
	CHECK_EQ_U(walk_mode(p32, GVA32, user_fetch, 40, true, &w), GUEST_WALK_FAULT);
	CHECK_EQ_U(w.error, 0x5);
	/* gva's bits 63:32 are ignored; the entries: 0x5000 + 4 * 0x2b6, 0x6000 + 4 * 0x1c9. */
	build_mode(p32, 1);
	CHECK_EQ_U(walk_mode(p32, 0xabcd000000000000ULL | GVA32, PFERR_USER, 40, false, &w),
		   GUEST_WALK_OK);
	CHECK(w.gfn == 0x777 && w.root_level == 2);
	CHECK(w.pte_gpa[2] == 0x5ad8 && w.pte_gpa[1] == 0x6724);
	/* The neighbour changes under the A/D cmpxchg: kept, and the walk does not start over. */
	build_mode(p32, 1);
	pte_set(p32, 1, 0x777027); /* A already: only the D update races */
	arm_race(p32, 1, 0x12340000, true);
	CHECK_EQ_U(walk_mode(p32, GVA32, user_rw, 40, false, &w), GUEST_WALK_OK);
	CHECK(w.retries == 0 && neighbour_get(1) == (NEIGHBOUR(1) ^ 0x12340000u));
	CHECK_EQ_U(pte_get(p32, 1), 0x777067);
	/* The entry itself changes (G set): the walk starts over and keeps G. */
	build_mode(p32, 1);
	arm_race(p32, 1, X86_PTE_G, false);
	CHECK_EQ_U(walk_mode(p32, GVA32, user_rw, 40, false, &w), GUEST_WALK_OK);
	CHECK(w.retries == 1 && neighbour_get(1) == NEIGHBOUR(1));
	CHECK_EQ_U(pte_get(p32, 1), 0x777167);
	/* A neighbour that never stops changing (always_race flips it): the walk gives up. */
	build_mode(p32, 1);
	pte_set(p32, 2, pte_get(p32, 2) | X86_PTE_A); /* only the PTE is cmpxchg'd */
	before_cmpxchg = always_race;
	CHECK_EQ_U(walk_mode(p32, GVA32, user_rw, 40, false, &w), GUEST_WALK_RETRY);
	before_cmpxchg = NULL;
}

static void test_walker_pae(void)
{
	const enum guest_paging_mode pae = GUEST_PAGING_PAE;
	const uint32_t user_rw = PFERR_USER | PFERR_WRITE;
	struct guest_paging gp = { .cr3 = PDPT_PAE_GPA | 0x18, .mode = pae, .cpl = 3 };
	struct guest_walk w;

	/* PDPTE: 2:1, 8:5, 63:MAXPHYADDR reserved (XD too, even with NXE); 11:9, PWT, PCD not. */
	for (unsigned int bit = 0; bit < 64; bit++) {
		bool rsvd = bit == 1 || bit == 2 || (bit >= 5 && bit <= 8) || bit >= MAXPHYADDR;

		if (bit == 0 || (bit >= 12 && bit < MAXPHYADDR))
			continue; /* P, address */
		expect_rsvd(pae, 1, 3, 1ULL << bit, true, user_rw, rsvd ? 0xf : 0);
	}
	/* PDE/PTE: 62:52 are reserved in PAE (ignored in 4-level), XD without NXE, MAXPHYADDR. */
	for (unsigned int level = 1; level <= 2; level++) {
		expect_rsvd(pae, level, level, 1ULL << 62, true, user_rw, 0xf);
		expect_rsvd(pae, level, level, 1ULL << 52, true, user_rw, 0xf);
		expect_rsvd(pae, level, level, 1ULL << MAXPHYADDR, true, user_rw, 0xf);
		expect_rsvd(pae, level, level, X86_PTE_NX, false, PFERR_USER, 0xd);
		expect_rsvd(pae, level, level, X86_PTE_NX, true, PFERR_USER, 0);
		expect_rsvd(pae, level, level, X86_PTE_NX, true, PFERR_USER | PFERR_FETCH, 0x15);
	}
	/* A 2 MiB PDE: 20:13 reserved, 12 is PAT; the frame 0x345600 + 0x7d, above 4 GiB. */
	for (unsigned int bit = 13; bit <= 20; bit++)
		expect_rsvd(pae, 2, 2, 1ULL << bit, true, PFERR_WRITE, 0xb);
	expect_rsvd(pae, 2, 2, X86_PTE_PAT_HUGE, true, PFERR_WRITE, 0);
	CHECK_EQ_U(rsvd_walk.gfn, 0x34567d);
	/* A 4 KiB page above 4 GiB; A/D in PDE and PTE, none in the PDPTE; outputs. */
	build_mode(pae, 1);
	CHECK_EQ_U(walk_mode(pae, ~0ULL << 40 | GVA_PAE, user_rw, 40, false, &w), GUEST_WALK_OK);
	CHECK(w.gfn == 0x123456 && w.mode == GUEST_PAGING_PAE && w.root_level == 3);
	CHECK(w.pte_gpa[3] == 0x7070 && w.table_gfn[3] == 7 && w.table_gfn[2] == PD_PAE_GFN);
	CHECK_EQ_U(w.pt_access[2], ACC_ALL); /* the PDPTE's bits 1, 2 are no rights */
	CHECK_EQ_U(pte_get(pae, 3), (PD_PAE_GFN << 12) | 1);
	CHECK_EQ_U(pte_get(pae, 2), (PT_PAE_GFN << 12) | 0x27);
	CHECK_EQ_U(pte_get(pae, 1), 0x123456067ULL);
	/* CR3 bits 4:0 are not address. */
	CHECK_EQ_U(guest_walk(&fake_mem, &gp, MAXPHYADDR, GVA_PAE, PFERR_USER, &w), GUEST_WALK_OK);
	/* PDPTE registers (pdptes_loaded): the walk uses them, not memory. */
	gp.pdptes_loaded = true;
	gp.pdpte[2] = pte_get(pae, 3);
	pte_set(pae, 3, 0); /* written after the load: not seen */
	CHECK_EQ_U(guest_walk(&fake_mem, &gp, MAXPHYADDR, GVA_PAE, PFERR_USER, &w), GUEST_WALK_OK);
	CHECK(w.gfn == 0x123456 && pte_get(pae, 3) == 0);
	pte_set(pae, 3, gp.pdpte[2]);
	gp.pdpte[2] = 0;
	CHECK_EQ_U(guest_walk(&fake_mem, &gp, 40, GVA_PAE, PFERR_USER, &w), GUEST_WALK_FAULT);
	CHECK_EQ_U(w.error, 0x4);
	gp.pdptes_loaded = false; /* the default: memory at walk time */
	CHECK_EQ_U(guest_walk(&fake_mem, &gp, MAXPHYADDR, GVA_PAE, PFERR_USER, &w), GUEST_WALK_OK);
}

int main(void)
{
	host_set_nr_cpus(1);
	host_cpu_enter(0);
	for (int round = 0; round < 2; round++) {
		fake_mem.word = round ? fake_word : NULL;
		RUN_TEST(test_walker_every_combination);
		RUN_TEST(test_walker_paging_off);
		RUN_TEST(test_walker_reserved_bits);
		RUN_TEST(test_walker_ad_updates_race);
		RUN_TEST(test_walker_outputs_and_no_slot);
		RUN_TEST(test_walker_mode_of);
		RUN_TEST(test_walker_32bit);
		RUN_TEST(test_walker_pae);
	}
	return check_summary("test_shadow_walker");
}
