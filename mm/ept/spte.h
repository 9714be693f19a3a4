// SPDX-License-Identifier: MIT
/*
 * The two entry formats of the two-dimensional MMU, behind one set of
 * predicates and constructors. EPT and NPT agree on the bits that decide the
 * shape of the tree (present, writable, large, pfn), so the walkers need no
 * format; the bits that differ (execute, A/D, memory type, user) live in a
 * per-MMU struct tdp_spte_format chosen at tdp_mmu_create().
 *
 * Intel EPT entry (SDM Vol. 3C, "EPT Translation Mechanism"):
 *
 *   63  62    52 51                               12 11 10  9  8  7  6  5   3  2  1  0
 *  +---+--------+-----------------------------------+-----+--+--+--+--+------+--+--+--+
 *  |SVE| ignored|   host frame number (table/page)  | ign |D |A |L |IP| MT   |X |W |R |
 *  +---+--------+-----------------------------------+-----+--+--+--+--+------+--+--+--+
 *   SVE: suppress #VE, always 0 here.  L: the entry maps a 2 MiB/1 GiB page.
 *   MT (memory type) and IP (ignore PAT) mean something in leaves only.
 *   A/D exist only when the EPT pointer enables them (bit 6).
 *   R = W = X = 0 is not present, and the CPU ignores every other bit.
 *
 * AMD NPT entry = the x86-64 long-mode page-table entry (APM Vol. 2, "Nested
 * Paging"):
 *
 *   63  62    52 51                               12 11  9  8  7  6  5  4  3  2  1  0
 *  +---+--------+-----------------------------------+-----+--+--+--+--+--+--+--+--+--+
 *  |NX | avail  |   host frame number (table/page)  |avail|G |PS|D |A |CD|WT|US|RW|P |
 *  +---+--------+-----------------------------------+-----+--+--+--+--+--+--+--+--+--+
 *   US is always set: every nested walk is a user-mode access.  PS: large page.
 *   Bit 7 of a 4 KiB entry is PAT, so it is set only at levels 2 and 3.
 *   P = 0 is not present, and the CPU ignores every other bit.
 *
 * mmuvisor never builds an EPT entry without R, so bit 0 answers "present"
 * in both formats; W (bit 1), L/PS (bit 7) and the pfn (51:12) coincide.
 */
#pragma once

#include "mm/ept/tdp_mmu.h"

#define SPTE_BIT(n) (1ULL << (n))

/* Shared by both formats. */
#define SPTE_PRESENT SPTE_BIT(0)
#define SPTE_WRITABLE SPTE_BIT(1)
#define SPTE_LARGE SPTE_BIT(7)
#define SPTE_PFN_MASK 0x000ffffffffff000ULL /* bits 51:12 */
/*
 * MMU-writable (KVM's name), a software bit: "writable but for dirty
 * logging". Every leaf of a writable slot has it, so W implies it; the
 * write-protect for dirty logging takes W away and leaves it, and the next
 * write fault gives W back with one cmpxchg and no mmu_lock (the fast page
 * fault, tdp_fault.c). Whatever takes write access away for another reason
 * must clear it too (a zap does, by clearing the whole entry). It is not
 * "present" on its own, survives A/D changes, and a split copies it.
 */
#define SPTE_MMU_WRITABLE SPTE_BIT(11)

/* Intel EPT. */
#define EPT_R SPTE_BIT(0)
#define EPT_W SPTE_BIT(1)
#define EPT_X SPTE_BIT(2)
#define EPT_MEMTYPE_SHIFT 3
#define EPT_MEMTYPE_MASK (7ULL << EPT_MEMTYPE_SHIFT) /* bits 5:3 */
#define EPT_IGNORE_PAT SPTE_BIT(6)
#define EPT_LARGE SPTE_BIT(7)
#define EPT_A SPTE_BIT(8)
#define EPT_D SPTE_BIT(9)
#define EPT_SUPPRESS_VE SPTE_BIT(63)
/* Ignored by the CPU in every EPT entry (bit 10 is not: user-execute with MBEC). */
#define EPT_IGNORED_LOW SPTE_BIT(11)
#define EPT_MEMTYPE_WB 6

/* AMD NPT. */
#define NPT_P SPTE_BIT(0)
#define NPT_RW SPTE_BIT(1)
#define NPT_US SPTE_BIT(2)
#define NPT_A SPTE_BIT(5)
#define NPT_D SPTE_BIT(6)
#define NPT_PS SPTE_BIT(7)
#define NPT_NX SPTE_BIT(63)
/* AVL: available to software in every NPT entry. */
#define NPT_AVL_LOW (7ULL << 9)

_Static_assert(EPT_R == 0x1 && EPT_W == 0x2 && EPT_X == 0x4, "EPT R/W/X are bits 0..2");
_Static_assert(EPT_MEMTYPE_MASK == 0x38, "EPT memory type is bits 5:3");
_Static_assert(EPT_IGNORE_PAT == 0x40 && EPT_LARGE == 0x80, "EPT IPAT is bit 6, large is bit 7");
_Static_assert(EPT_A == 0x100 && EPT_D == 0x200, "EPT A/D are bits 8 and 9");
_Static_assert(EPT_SUPPRESS_VE == 0x8000000000000000ULL, "EPT suppress-#VE is bit 63");
_Static_assert(NPT_P == 0x1 && NPT_RW == 0x2 && NPT_US == 0x4, "NPT P/RW/US are bits 0..2");
_Static_assert(NPT_A == 0x20 && NPT_D == 0x40 && NPT_PS == 0x80, "NPT A/D/PS are bits 5..7");
_Static_assert(NPT_NX == 0x8000000000000000ULL, "NPT NX is bit 63");
_Static_assert(SPTE_PRESENT == EPT_R && SPTE_PRESENT == NPT_P, "bit 0 is present in both");
_Static_assert(SPTE_WRITABLE == EPT_W && SPTE_WRITABLE == NPT_RW, "bit 1 is writable in both");
_Static_assert(SPTE_LARGE == EPT_LARGE && SPTE_LARGE == NPT_PS, "bit 7 is large in both");
_Static_assert((SPTE_MMU_WRITABLE & EPT_IGNORED_LOW) == SPTE_MMU_WRITABLE &&
		       (SPTE_MMU_WRITABLE & NPT_AVL_LOW) == SPTE_MMU_WRITABLE,
	       "MMU-writable is ignored by the CPU in both formats");
_Static_assert(!(SPTE_MMU_WRITABLE & (SPTE_PFN_MASK | EPT_MEMTYPE_MASK | EPT_IGNORE_PAT | EPT_A |
				      EPT_D | EPT_X | EPT_W | EPT_R | NPT_US | NPT_A | NPT_D |
				      SPTE_LARGE)),
	       "MMU-writable overlaps no hardware bit");
_Static_assert(SPTE_PFN_MASK == (((1ULL << 52) - 1) & ~((1ULL << PAGE_SHIFT) - 1)),
	       "the frame number is bits 51:12");
_Static_assert(!(SPTE_PFN_MASK & (EPT_MEMTYPE_MASK | EPT_IGNORE_PAT | EPT_A | EPT_D | EPT_X |
				  NPT_US | NPT_A | NPT_D | NPT_NX | SPTE_LARGE)),
	       "no flag overlaps the frame number");

/*
 * REMOVED (mm/mmu.h) is not present in either format and leaves the link
 * field and the software bits alone.
 */
_Static_assert(!(MMU_REMOVED_SPTE & (EPT_R | EPT_W | EPT_X)), "REMOVED is not present in EPT");
_Static_assert(!(MMU_REMOVED_SPTE & NPT_P), "REMOVED is not present in NPT");
_Static_assert(MMU_REMOVED_LINK_MASK == SPTE_PFN_MASK, "a frozen table links through the pfn");
_Static_assert(!(MMU_REMOVED_SPTE & SPTE_MMU_WRITABLE), "REMOVED is not MMU-writable");
_Static_assert(!(MMU_FREED_POISON & (EPT_R | EPT_W | EPT_X | NPT_P)), "poison is not present");

#define TDP_PTES_PER_TABLE 512
#define TDP_LEVEL_BITS 9

/* 4 KiB frames mapped by one entry at level. */
static inline uint64_t tdp_pages_per_level(unsigned int level)
{
	return 1ULL << ((level - 1) * TDP_LEVEL_BITS);
}

static inline unsigned int tdp_spte_index(gfn_t gfn, unsigned int level)
{
	return (unsigned int)(gfn >> ((level - 1) * TDP_LEVEL_BITS)) & (TDP_PTES_PER_TABLE - 1);
}

/* The bits that differ between the formats; immutable after tdp_mmu_create(). */
struct tdp_spte_format {
	enum tdp_format kind;
	uint64_t accessed;   /* A bit, 0 if the format has none (EPT without A/D) */
	uint64_t dirty;      /* D bit, 0 if the format has none */
	uint64_t leaf_bits;  /* in every leaf: EPT R|X|memtype, NPT P|US */
	uint64_t table_bits; /* in every non-leaf: EPT R|W|X, NPT P|RW|US */
};

static inline void tdp_spte_format_init(struct tdp_spte_format *f, const struct tdp_mmu_config *cfg)
{
	f->kind = cfg->format;
	if (cfg->format == TDP_FORMAT_EPT) {
		f->accessed = cfg->ept_ad_bits ? EPT_A : 0;
		f->dirty = cfg->ept_ad_bits ? EPT_D : 0;
		f->leaf_bits = EPT_R | EPT_X |
			       (((uint64_t)cfg->ept_memtype << EPT_MEMTYPE_SHIFT) & EPT_MEMTYPE_MASK);
		f->table_bits = EPT_R | EPT_W | EPT_X;
	} else {
		f->accessed = NPT_A;
		f->dirty = NPT_D;
		f->leaf_bits = NPT_P | NPT_US;
		f->table_bits = NPT_P | NPT_RW | NPT_US;
	}
}

/* Predicates: the questions every walker asks of an entry. */
static inline bool is_shadow_present_spte(uint64_t spte)
{
	return spte & SPTE_PRESENT;
}

static inline bool is_large_spte(uint64_t spte)
{
	return spte & SPTE_LARGE;
}

/* A present entry at level that maps memory rather than a table. */
static inline bool is_last_spte(uint64_t spte, unsigned int level)
{
	return level == PG_LEVEL_4K || is_large_spte(spte);
}

static inline bool is_leaf_spte(uint64_t spte, unsigned int level)
{
	return is_shadow_present_spte(spte) && is_last_spte(spte, level);
}

static inline bool is_writable_spte(uint64_t spte)
{
	return spte & SPTE_WRITABLE;
}

/* Could W come back without asking the slot? (Not: is it writable now.) */
static inline bool is_mmu_writable_spte(uint64_t spte)
{
	return spte & SPTE_MMU_WRITABLE;
}

static inline uint64_t spte_to_pfn(uint64_t spte)
{
	return (spte & SPTE_PFN_MASK) >> PAGE_SHIFT;
}

/* Without an A bit every mapping counts as young: aging must never call a used page old. */
static inline bool is_accessed_spte(const struct tdp_spte_format *f, uint64_t spte)
{
	return f->accessed ? (spte & f->accessed) != 0 : true;
}

/* Dirty: written, as far as the entry can tell. Without a D bit, writable means dirty. */
static inline bool is_dirty_spte(const struct tdp_spte_format *f, uint64_t spte)
{
	return is_writable_spte(spte) && (f->dirty ? (spte & f->dirty) != 0 : true);
}

static inline bool is_executable_spte(const struct tdp_spte_format *f, uint64_t spte)
{
	return f->kind == TDP_FORMAT_EPT ? (spte & EPT_X) != 0 : !(spte & NPT_NX);
}

/* Only EPT leaves have a memory type (NPT: PAT/PCD/PWT are 0, write-back). */
static inline unsigned int spte_memtype(const struct tdp_spte_format *f, uint64_t spte)
{
	return f->kind == TDP_FORMAT_EPT ? (unsigned int)((spte & EPT_MEMTYPE_MASK) >> EPT_MEMTYPE_SHIFT)
					 : EPT_MEMTYPE_WB;
}

/* Constructors. */
static inline uint64_t make_nonleaf_spte(const struct tdp_spte_format *f, uint64_t table_pa)
{
	return f->table_bits | (table_pa & SPTE_PFN_MASK);
}

/*
 * A leaf mapping pfn (aligned to level) read + execute, plus what the flags
 * ask. mmu_writable: the slot allows writes (implied by writable), so a
 * read-only leaf may be made writable later without asking the slot again.
 */
static inline uint64_t make_leaf_spte(const struct tdp_spte_format *f, uint64_t pfn,
				      unsigned int level, bool writable, bool mmu_writable,
				      bool accessed, bool dirty)
{
	uint64_t spte = f->leaf_bits | ((pfn << PAGE_SHIFT) & SPTE_PFN_MASK);

	if (level > PG_LEVEL_4K)
		spte |= SPTE_LARGE;
	if (writable)
		spte |= SPTE_WRITABLE;
	if (writable || mmu_writable)
		spte |= SPTE_MMU_WRITABLE;
	if (accessed)
		spte |= f->accessed;
	if (dirty && writable)
		spte |= f->dirty;
	return spte;
}

/*
 * Entry index of the table that replaces the huge leaf huge (at level) with
 * the same translation one level down: same permissions, A/D bits and
 * MMU-writable.
 */
static inline uint64_t make_split_child_spte(uint64_t huge, unsigned int level, unsigned int index)
{
	uint64_t child = huge + ((uint64_t)index * tdp_pages_per_level(level - 1) << PAGE_SHIFT);

	if (level - 1 == PG_LEVEL_4K)
		child &= ~SPTE_LARGE; /* bit 7 of a 4 KiB NPT entry is PAT */
	return child;
}

/* Entry 0 of a frozen table: REMOVED, linked to the next frozen table (0: none). */
static inline uint64_t make_removed_link_spte(uint64_t next_table_pa)
{
	return MMU_REMOVED_SPTE | (next_table_pa & SPTE_PFN_MASK);
}

static inline uint64_t removed_spte_link(uint64_t spte)
{
	return spte & SPTE_PFN_MASK;
}
