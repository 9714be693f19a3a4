// SPDX-License-Identifier: MIT
/*
 * The guest page-table walker: x86-64 4-level paging with 2 MiB and 1 GiB
 * pages, as the CPU walks it. It honours P, R/W, U/S, XD (with EFER.NXE),
 * CR0.WP, SMEP and SMAP (with RFLAGS.AC and CPL) and the reserved bits, and
 * sets the accessed and dirty bits in the guest's entries when the CPU
 * would: after a walk that allows the access, A in every entry it used (top
 * down), then D in the leaf for a write; a walk that faults sets nothing.
 * It is pure C against two callbacks on guest-physical memory, so the unit
 * tests drive it with a fake guest memory.
 *
 * Bits not modelled: protection keys (CR4.PKE = 0), AMD's reserved bit 8 in
 * non-leaf PML4/PDPT entries, and CR4.PCIDE (the low bits of CR3 are flags).
 * A non-canonical gva never reaches a #PF (the CPU raises #GP), so gva's
 * bits 63:48 are ignored.
 */
#pragma once

#include "mm/shadow/shadow_mmu.h"
#include "mm/shadow/x86_pte.h"

enum guest_mem_result {
	GUEST_MEM_OK,
	GUEST_MEM_CHANGED, /* cmpxchg: the entry no longer held the old value */
	GUEST_MEM_NO_SLOT, /* no guest memory at that address */
};

/* Guest-physical memory, 8 bytes at a time (gpa is 8-byte aligned). */
struct guest_mem {
	enum guest_mem_result (*read)(void *ctx, uint64_t gpa, uint64_t *val);
	/* Atomically: if the 8 bytes at gpa hold old, store new. */
	enum guest_mem_result (*cmpxchg)(void *ctx, uint64_t gpa, uint64_t old, uint64_t new_val);
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

struct guest_walk {
	unsigned int level;  /* the leaf's level: 1 (4 KiB), 2 (2 MiB) or 3 (1 GiB) */
	gfn_t gfn;           /* the 4 KiB frame gva translates to */
	unsigned int access; /* ACC_* the translation grants (before CR0.WP/SMEP/SMAP) */
	/* Indexed by level (1..4); levels below the leaf are unused. */
	unsigned int pt_access[X86_ROOT_LEVEL + 1]; /* ACC_* of the entries above level L */
	uint64_t pte[X86_ROOT_LEVEL + 1];           /* the entry used at L, after the A/D update */
	uint64_t pte_gpa[X86_ROOT_LEVEL + 1];       /* where it lives */
	gfn_t table_gfn[X86_ROOT_LEVEL + 1];        /* the guest table of level L */
	uint32_t error;       /* GUEST_WALK_FAULT: the #PF error code */
	uint64_t no_slot_gpa; /* GUEST_WALK_NO_SLOT: what could not be read */
	unsigned int retries; /* A/D updates lost to another writer */
};

/*
 * Walk the guest's tables for an access to gva. access: PFERR_WRITE,
 * PFERR_USER and PFERR_FETCH as in a hardware error code (PFERR_USER clear
 * with gp->cpl == 3 is an implicit supervisor access). maxphyaddr: the
 * guest's physical-address width (bits above it are reserved).
 */
enum guest_walk_result guest_walk(const struct guest_mem *mem, const struct guest_paging *gp,
				  unsigned int maxphyaddr, uint64_t gva, uint32_t access,
				  struct guest_walk *w);

/*
 * The permission check alone: does a translation granting acc (ACC_*)
 * allow access under gp's controls? The walker's last step, also used by
 * the fault path to decide what a shadow entry may allow.
 */
bool guest_access_allowed(const struct guest_paging *gp, unsigned int acc, uint32_t access);

/* The reserved bits of an entry at level (large: PS set at level 2 or 3). */
uint64_t guest_pte_rsvd_mask(const struct guest_paging *gp, unsigned int maxphyaddr,
			     unsigned int level, bool large);

/* The 4 KiB frame of a leaf at level, for linear address gva. */
static inline gfn_t guest_leaf_gfn(uint64_t pte, unsigned int level, uint64_t gva)
{
	uint64_t pages = x86_pages_per_level(level);
	gfn_t base = (pte & X86_PTE_ADDR_MASK) >> PAGE_SHIFT;

	/* A huge leaf's bit 12 is PAT, not address: the frame is aligned to the page. */
	return (base & ~(pages - 1)) + ((gva >> PAGE_SHIFT) & (pages - 1));
}
