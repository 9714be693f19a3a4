// SPDX-License-Identifier: MIT
/*
 * The guest page-table walker: every x86 paging mode, as the CPU walks it
 * (SDM Vol. 3A ch. 4, AMD APM Vol. 2 ch. 5):
 *  - 4-level (EFER.LMA = 1): 4 KiB, 2 MiB and 1 GiB pages;
 *  - PAE (CR4.PAE = 1, LMA = 0): 4 PDPTEs, then 8-byte PDEs/PTEs, 4 KiB and
 *    2 MiB pages;
 *  - 32-bit (CR4.PAE = 0): 4-byte PDEs/PTEs, 4 KiB and (CR4.PSE) 4 MiB
 *    pages with PSE-36 address bits; no XD;
 *  - paging off (CR0.PG = 0): linear = physical, everything allowed.
 * The mode comes from guest_paging.mode (guest_paging_mode_of()). The
 * walker honours P, R/W, U/S, XD (with EFER.NXE, not in 32-bit paging),
 * CR0.WP, SMEP and SMAP (with RFLAGS.AC and CPL) and the reserved bits, and
 * sets the accessed and dirty bits in the guest's entries when the CPU
 * would: after a walk that allows the access, A in every entry it used (top
 * down; a PAE PDPTE has none), then D in the leaf for a write; a walk that
 * faults sets nothing. It is pure C against two callbacks on
 * guest-physical memory, so the unit tests drive it with a fake guest
 * memory.
 *
 * Bits not modelled: protection keys (CR4.PKE = 0), 5-level paging
 * (CR4.LA57), AMD's reserved bit 8 in non-leaf PML4/PDPT entries, and
 * CR4.PCIDE (the low bits of CR3 are flags). A non-canonical gva never
 * reaches a #PF (the CPU raises #GP), so gva's bits 63:48 are ignored;
 * outside long mode linear addresses are 32 bits, and bits 63:32 are
 * ignored. PSE-36 is taken as supported (every CPU since the Pentium III).
 */
#pragma once

#include "mm/shadow/shadow_mmu.h"
#include "mm/shadow/x86_pte.h"

enum guest_mem_result {
	GUEST_MEM_OK,
	GUEST_MEM_CHANGED, /* cmpxchg: the entry no longer held the old value */
	GUEST_MEM_NO_SLOT, /* no guest memory at that address */
};

/*
 * Guest-physical memory, 8 bytes at a time (gpa is 8-byte aligned). The
 * 4-byte entries of 32-bit paging are read as half of the aligned 8 bytes
 * that hold them, and their A/D bits are set by a cmpxchg of those 8 bytes
 * that keeps the other half (the neighbouring entry) as it was read: a
 * neighbour that changed meanwhile fails the cmpxchg, and the walker reads
 * again and retries, so its change is never lost, and the walk itself
 * starts over only when its own entry changed.
 */
struct guest_mem {
	enum guest_mem_result (*read)(void *ctx, uint64_t gpa, uint64_t *val);
	/* Atomically: if the 8 bytes at gpa hold old, store new. */
	enum guest_mem_result (*cmpxchg)(void *ctx, uint64_t gpa, uint64_t old, uint64_t new_val);
	/*
	 * Optional: the 8 bytes at gpa (8-aligned) in host memory, NULL for
	 * no slot. The walk then reads its entries there and hands their
	 * addresses back (guest_walk.pte_word), so a caller can check an entry
	 * again with one load (the shadow MMU does, under its lock).
	 */
	_Atomic uint64_t *(*word)(void *ctx, uint64_t gpa);
	void *ctx;
};

enum guest_walk_result {
	GUEST_WALK_OK,      /* the guest's tables allow the access; A/D are set */
	GUEST_WALK_FAULT,   /* they do not: inject #PF with w->error */
	GUEST_WALK_NO_SLOT, /* a table lies outside guest memory (w->no_slot_gpa) */
	GUEST_WALK_RETRY,   /* the entries kept changing under the A/D updates */
};

/* A/D cmpxchg races lost before the walk gives up (the guest faults again). */
#define GUEST_WALK_MAX_RETRIES 16

/*
 * The levels of each mode, numbered from the leaf up (as the arrays of
 * struct guest_walk are indexed):
 *
 *   mode        root_level  4       3        2              1
 *   4LEVEL      4           PML4E   PDPTE    PDE            PTE
 *                                   (1 GiB)  (2 MiB)        (4 KiB)
 *   PAE         3                   PDPTE    PDE (2 MiB)    PTE (4 KiB)
 *   32BIT       2                            PDE (4 MiB)    PTE (4 KiB)
 *   OFF         0           (no entry: w->level = 1, a 4 KiB identity frame)
 */
struct guest_walk {
	enum guest_paging_mode mode; /* the mode walked (gp->mode) */
	unsigned int root_level;     /* the top level read: 4, 3 (PAE), 2 (32-bit), 0 (off) */
	unsigned int level;  /* the leaf's level: 1 (4 KiB), 2 (2 or 4 MiB) or 3 (1 GiB) */
	gfn_t gfn;           /* the 4 KiB frame gva translates to */
	unsigned int access; /* ACC_* the translation grants (before CR0.WP/SMEP/SMAP) */
	/* Indexed by level (1..4); levels below the leaf and above root_level are unused. */
	unsigned int pt_access[X86_ROOT_LEVEL + 1]; /* ACC_* of the entries above level L */
	/*
	 * The entry used at L, after the A/D update; 32-bit paging's 4-byte
	 * entries zero-extended. A PAE PDPTE grants no rights and gets no A.
	 */
	uint64_t pte[X86_ROOT_LEVEL + 1];
	uint64_t pte_gpa[X86_ROOT_LEVEL + 1];       /* where it lives (32-bit paging: 4-aligned) */
	/* The 8 bytes holding it, where guest_mem.word gave them; else NULL (a loaded PDPTE too). */
	_Atomic uint64_t *pte_word[X86_ROOT_LEVEL + 1];
	gfn_t table_gfn[X86_ROOT_LEVEL + 1];        /* the guest table of level L */
	uint32_t error;       /* GUEST_WALK_FAULT: the #PF error code */
	uint64_t no_slot_gpa; /* GUEST_WALK_NO_SLOT: what could not be read */
	unsigned int retries; /* A/D updates lost to another writer */
};

/*
 * The mode the CPU uses with these controls (SDM 4.1.1): CR0.PG = 0: off;
 * else EFER.LMA = 1: 4-level; else CR4.PAE: PAE or 32-bit. Pure.
 */
enum guest_paging_mode guest_paging_mode_of(uint64_t cr0, uint64_t cr4, uint64_t efer);

/* The top level of the mode's walk (4, 3 or 2), 0 with paging off. */
static inline unsigned int guest_paging_root_level(enum guest_paging_mode mode)
{
	switch (mode) {
	case GUEST_PAGING_OFF:
		return 0;
	case GUEST_PAGING_32BIT:
		return X86_PTE32_ROOT_LEVEL;
	case GUEST_PAGING_PAE:
		return X86_PAE_ROOT_LEVEL;
	case GUEST_PAGING_4LEVEL:
		break;
	}
	return X86_ROOT_LEVEL;
}

/* The size of the mode's entries in bytes: 4 in 32-bit paging, else 8. */
static inline unsigned int guest_paging_pte_bytes(enum guest_paging_mode mode)
{
	return mode == GUEST_PAGING_32BIT ? 4 : 8;
}

/* The entry at gpa, of the mode's width, out of the aligned 8 bytes that hold it. */
static inline uint64_t guest_pte_of_word(enum guest_paging_mode mode, uint64_t gpa, uint64_t word)
{
	if (mode != GUEST_PAGING_32BIT)
		return word;
	return (uint32_t)(word >> ((gpa & 4) * 8)); /* little-endian */
}

/* log2 of the bytes a leaf of level maps: 12, 21 or 22 (32-bit), 30. */
static inline unsigned int guest_page_shift(enum guest_paging_mode mode, unsigned int level)
{
	unsigned int bits = mode == GUEST_PAGING_32BIT ? X86_PTE32_LEVEL_BITS : X86_LEVEL_BITS;

	return PAGE_SHIFT + (level - 1) * bits;
}

/*
 * Walk the guest's tables for an access to gva. access: PFERR_WRITE,
 * PFERR_USER and PFERR_FETCH as in a hardware error code (PFERR_USER clear
 * with gp->cpl == 3 is an implicit supervisor access). maxphyaddr: the
 * guest's physical-address width (bits above it are reserved).
 *
 * A PAE PDPTE with a reserved bit set ends the walk with #PF (P | RSVD),
 * as the other levels do. A CPU checks the PDPTEs when it loads them (MOV
 * CR3, or a CR0/CR4 write that enters PAE paging) and raises #GP there
 * instead; the caller that emulates that load checks them with
 * guest_pte_rsvd_mask(gp, maxphyaddr, 3, false) and gives them in
 * gp->pdpte[] (gp->pdptes_loaded), so the walk never meets such a PDPTE.
 */
enum guest_walk_result guest_walk(const struct guest_mem *mem, const struct guest_paging *gp,
				  unsigned int maxphyaddr, uint64_t gva, uint32_t access,
				  struct guest_walk *w);

/*
 * The same walk, going on from level from (below the mode's root level)
 * where w already holds one of gva's walks above it: its entries
 * (pte[], pte_gpa[], pte_word[]) at the levels above from, table_gfn[from]
 * and pt_access[from], all as guest_walk() left them after an access it
 * allowed (so each of those entries has A set). The caller vouches that
 * the guest's entries above from still hold pte[] (the shadow MMU's walk
 * hint checks each one with a load). from = 0, or a mode without such a
 * level: the whole walk. A lost A/D update walks again from the root.
 */
enum guest_walk_result guest_walk_from(const struct guest_mem *mem, const struct guest_paging *gp,
				       unsigned int maxphyaddr, uint64_t gva, uint32_t access,
				       struct guest_walk *w, unsigned int from);

/*
 * Read the guest entry at gpa as mode's entries are: 8 bytes, or (32-bit
 * paging, gpa 4-aligned) the 4 bytes of the aligned 8 that hold it,
 * zero-extended: the value the walk put in w->pte[].
 */
enum guest_mem_result guest_read_pte(const struct guest_mem *mem, enum guest_paging_mode mode,
				     uint64_t gpa, uint64_t *pte);

/*
 * The permission check alone: does a translation granting acc (ACC_*)
 * allow access under gp's controls? The walker's last step, also used by
 * the fault path to decide what a shadow entry may allow.
 */
bool guest_access_allowed(const struct guest_paging *gp, unsigned int acc, uint32_t access);

/*
 * The reserved bits of an entry at level in gp->mode (large: a leaf above
 * level 1: PS set at level 2 or 3, and in 32-bit paging with CR4.PSE).
 * 32-bit paging: none but in a 4 MiB PDE; paging off: none.
 */
uint64_t guest_pte_rsvd_mask(const struct guest_paging *gp, unsigned int maxphyaddr,
			     unsigned int level, bool large);

/*
 * guest_pte_rsvd_mask() for 4-level paging, inline, in two parts: the
 * bits every level has (MAXPHYADDR to 51, and NX without EFER.NXE), which
 * a walk makes once, and the level's own (PS at level 4; a 1 GiB or
 * 2 MiB leaf's).
 */
static inline uint64_t guest_pte_rsvd_4level_all(unsigned int maxphyaddr, bool nx)
{
	return x86_bits(maxphyaddr, 51) | (nx ? 0 : X86_PTE_NX);
}

static inline uint64_t guest_pte_rsvd_4level_own(unsigned int level, bool large)
{
	if (level == 4)
		return X86_PTE_PS;
	if (!large)
		return 0;
	return level == 3 ? x86_bits(13, 29) : x86_bits(13, 20);
}

/* The 4 KiB frame of a leaf at level (8-byte entries: 4-level, PAE), for linear address gva. */
static inline gfn_t guest_leaf_gfn(uint64_t pte, unsigned int level, uint64_t gva)
{
	uint64_t pages = x86_pages_per_level(level);
	gfn_t base = (pte & X86_PTE_ADDR_MASK) >> PAGE_SHIFT;

	/* A huge leaf's bit 12 is PAT, not address: the frame is aligned to the page. */
	return (base & ~(pages - 1)) + ((gva >> PAGE_SHIFT) & (pages - 1));
}

/*
 * The 4 KiB frame of a 32-bit-paging leaf: a PTE, or a 4 MiB PDE whose
 * bits 20:13 are address bits 39:32 (PSE-36).
 */
static inline gfn_t guest_leaf_gfn32(uint64_t pte, unsigned int level, uint64_t gva)
{
	uint64_t pa;

	if (level == 1)
		return (pte & X86_PTE32_ADDR_MASK) >> PAGE_SHIFT;
	pa = (pte & X86_PDE32_4M_ADDR_MASK) |
	     ((pte & X86_PDE32_PSE36_MASK) >> X86_PDE32_PSE36_SHIFT) << 32;
	return (pa >> PAGE_SHIFT) + x86_pte32_index(gva, 1);
}
