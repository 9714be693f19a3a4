// SPDX-License-Identifier: MIT
/*
 * The reference for the guest page-table walker (mm/shadow/walker.c):
 * SDM Vol. 3A 4.3-4.7 written out as rules, not derived from the walker,
 * for tests/host/test_shadow_walker.c and tests/fuzz/fuzz_walker.c.
 *
 * ref_expect() gives the outcome of a walk described level by level (a
 * struct ref_case: which entry is absent, which sets a reserved bit, R/W,
 * U/S and XD of the others) under the paging controls: allowed, or the #PF
 * error code. The rest reads one entry as the SDM's tables draw it: where
 * it lies (ref_entry_gpa), whether it maps a page (ref_is_leaf), its
 * reserved bits (ref_rsvd_mask) and the frame a leaf gives
 * (ref_leaf_gfn). 1 GiB pages and PSE-36 are taken as supported; CR4.PKE
 * and CR4.LA57 as clear.
 */
#pragma once

#include "mm/shadow/walker.h"

enum ref_mode { REF_CPL0, REF_CPL3_USER, REF_CPL3_IMPLICIT, REF_NR_MODES };
enum ref_kind { REF_READ, REF_WRITE, REF_FETCH, REF_NR_KINDS };

/*
 * What each kind of access needs from the translation (SDM 4.6.1). "user
 * page": U/S = 1 at every level; "writable": R/W = 1 at every level;
 * "executable": XD = 0 at every level, or EFER.NXE = 0. The same in every
 * mode that pages (SDM 4.6: "32-bit paging ... CR0.WP, SMEP, SMAP apply").
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
	enum guest_paging_mode paging; /* 0: 4-level */
	unsigned int leaf_level;   /* the leaf's level: the walk reads none below it */
	unsigned int first_absent; /* the first level (top down) whose P is 0; 0: none */
	bool rsvd[5];              /* by level: the entry sets a bit ref_rsvd_mask() reserves */
	bool rw[5], us[5], xd[5];  /* by level */
	bool wp, nxe, smep, smap, ac, pse;
	enum ref_mode mode;
	enum ref_kind kind;
};

#define REF_ALLOWED 0xffffffffu

/* The top level of a walk: 4-level 4, PAE 3 (the PDPTE), 32-bit 2 (SDM 4.3-4.5). */
static inline unsigned int ref_top_level(enum guest_paging_mode paging)
{
	return paging == GUEST_PAGING_32BIT ? 2 : paging == GUEST_PAGING_PAE ? 3 : 4;
}

/* A PAE PDPTE: P, PWT, PCD and the address only (SDM table 4-8). */
static inline bool ref_is_pdpte(const struct ref_case *c, unsigned int level)
{
	return c->paging == GUEST_PAGING_PAE && level == 3;
}

/* REF_ALLOWED, or the #PF error code the CPU reports. */
static inline uint32_t ref_expect(const struct ref_case *c)
{
	const struct ref_rule *rule = NULL;
	bool user_page = true, writable = true, executable = true;
	/* XD exists in PAE and 4-level entries only (SDM 4.3: "no execute-disable"). */
	bool has_xd = c->paging != GUEST_PAGING_32BIT;
	uint32_t access_bits = 0;

	if (c->paging == GUEST_PAGING_OFF)
		return REF_ALLOWED; /* no paging, no page-level protection (SDM 4.1.1) */
	for (unsigned int i = 0; i < ARRAY_SIZE(ref_rules); i++)
		if (ref_rules[i].mode == c->mode && ref_rules[i].kind == c->kind)
			rule = &ref_rules[i];
	/* Error code bits 1, 2, 4 (SDM 4.7): I/D with SMEP, or with CR4.PAE = 1 and NXE. */
	if (c->kind == REF_WRITE)
		access_bits |= 1u << 1;
	if (c->mode == REF_CPL3_USER)
		access_bits |= 1u << 2;
	if (c->kind == REF_FETCH && ((has_xd && c->nxe) || c->smep))
		access_bits |= 1u << 4;
	/* The walk goes top down and stops at the first absent entry or reserved bit. */
	for (unsigned int level = ref_top_level(c->paging); level >= c->leaf_level; level--) {
		if (c->first_absent == level)
			return access_bits;              /* P = 0 */
		if (c->rsvd[level])
			return access_bits | 1u << 0 | 1u << 3;
		if (ref_is_pdpte(c, level))
			continue;                        /* no rights of its own */
		if (has_xd && c->xd[level] && !c->nxe)
			return access_bits | 1u << 0 | 1u << 3; /* XD without NXE is reserved */
		user_page &= c->us[level];
		writable &= c->rw[level];
		executable &= !(has_xd && c->nxe && c->xd[level]);
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

/* --- one entry, as the SDM's tables 4-4 to 4-20 draw it ---------------------- */

/* Bits lo..hi (inclusive); none when hi < lo. */
static inline uint64_t ref_bits(unsigned int lo, unsigned int hi)
{
	return hi < lo ? 0 : (~0ULL >> (63 - hi)) >> lo << lo;
}

/* The linear address the walk translates: 32 bits outside 4-level paging (SDM 4.3, 4.4). */
static inline uint64_t ref_linear(enum guest_paging_mode paging, uint64_t gva)
{
	return paging == GUEST_PAGING_4LEVEL ? gva : gva & 0xffffffffULL;
}

/* The table CR3 points at: 4-level (M-1):12, PAE 31:5 (4 PDPTEs), 32-bit 31:12. */
static inline uint64_t ref_root_table(enum guest_paging_mode paging, uint64_t cr3,
				      unsigned int maxphyaddr)
{
	if (paging == GUEST_PAGING_PAE)
		return cr3 & ref_bits(5, 31);
	if (paging == GUEST_PAGING_32BIT)
		return cr3 & ref_bits(12, 31);
	return cr3 & ref_bits(12, maxphyaddr - 1);
}

/*
 * Where the entry for la lies in the table of level at table: 4-level
 * index bits 47:39, 38:30, 29:21, 20:12; PAE 31:30, 29:21, 20:12; 8 bytes
 * each. 32-bit 31:22, 21:12, 4 bytes each.
 */
static inline uint64_t ref_entry_gpa(enum guest_paging_mode paging, uint64_t table,
				     uint64_t la, unsigned int level)
{
	if (paging == GUEST_PAGING_32BIT)
		return table + 4 * ((la >> (12 + 10 * (level - 1))) & 1023);
	if (paging == GUEST_PAGING_PAE && level == 3)
		return table + 8 * ((la >> 30) & 3);
	return table + 8 * ((la >> (12 + 9 * (level - 1))) & 511);
}

/*
 * Does a present entry map a page? Level 1 always; PS at a PDE (with
 * CR4.PSE in 32-bit paging, where PS is ignored without it); PS at a
 * 4-level PDPTE (1 GiB). A PS elsewhere is reserved (ref_rsvd_mask).
 */
static inline bool ref_is_leaf(enum guest_paging_mode paging, bool pse, unsigned int level,
			       uint64_t pte)
{
	bool ps = pte & X86_PTE_PS;

	if (level == 1)
		return true;
	if (paging == GUEST_PAGING_32BIT)
		return level == 2 && ps && pse;
	if (paging == GUEST_PAGING_PAE)
		return level == 2 && ps;
	return (level == 2 || level == 3) && ps;
}

/*
 * The bits of a present entry that must be 0 (M = MAXPHYADDR), except XD
 * without EFER.NXE, which ref_expect() applies from ref_case.xd:
 *  - 32-bit (tables 4-4 to 4-6): a 4 MiB PDE 21:(M'-19), M' = min(M, 40)
 *    (bits (M'-20):13 are address bits (M'-1):32); nothing in the others;
 *  - PAE (tables 4-8 to 4-11): a PDPTE 2:1, 8:5 and 63:M (XD included);
 *    PDEs and PTEs 62:M, and a 2 MiB PDE 20:13 (12 is PAT);
 *  - 4-level (tables 4-14 to 4-20): 51:M everywhere (62:52 are ignored);
 *    PS in a PML4E; a 1 GiB PDPTE 29:13, a 2 MiB PDE 20:13.
 */
static inline uint64_t ref_rsvd_mask(enum guest_paging_mode paging, unsigned int maxphyaddr,
				     unsigned int level, bool leaf)
{
	switch (paging) {
	case GUEST_PAGING_OFF:
		return 0;
	case GUEST_PAGING_32BIT: {
		unsigned int m = maxphyaddr < 40 ? maxphyaddr : 40;

		return level == 2 && leaf ? ref_bits(m - 19, 21) : 0;
	}
	case GUEST_PAGING_PAE:
		if (level == 3)
			return ref_bits(1, 2) | ref_bits(5, 8) | ref_bits(maxphyaddr, 63);
		return ref_bits(maxphyaddr, 62) | (level == 2 && leaf ? ref_bits(13, 20) : 0);
	case GUEST_PAGING_4LEVEL:
		break;
	}
	if (level == 4)
		return ref_bits(maxphyaddr, 51) | X86_PTE_PS;
	if (level > 1 && leaf)
		return ref_bits(maxphyaddr, 51) | ref_bits(13, level == 3 ? 29 : 20);
	return ref_bits(maxphyaddr, 51);
}

/*
 * The next table a present, non-leaf entry points at: bits (M-1):12, or
 * 31:12 in 32-bit paging (bits M and up are reserved, so 51:12 would do).
 */
static inline uint64_t ref_next_table(enum guest_paging_mode paging, uint64_t pte)
{
	return pte & (paging == GUEST_PAGING_32BIT ? ref_bits(12, 31) : ref_bits(12, 51));
}

/*
 * The 4 KiB frame a leaf at level gives la: the page's base from the entry
 * (a huge page's base bits start at 21, 22 or 30: bit 12 is PAT there),
 * the rest from la. A 4 MiB PDE: bits 31:22, and 20:13 as address 39:32.
 */
static inline uint64_t ref_leaf_gfn(enum guest_paging_mode paging, unsigned int level,
				    uint64_t pte, uint64_t la)
{
	unsigned int shift;
	uint64_t base;

	if (paging == GUEST_PAGING_32BIT) {
		shift = level == 1 ? 12 : 22;
		base = (pte & ref_bits(shift, 31)) | (level == 1 ? 0 : (pte >> 13 & 0xff) << 32);
	} else {
		shift = 12 + 9 * (level - 1);
		base = pte & ref_bits(shift, 51);
	}
	return (base | (la & ref_bits(0, shift - 1))) >> 12;
}
