// SPDX-License-Identifier: MIT
/*
 * The shadow-paging MMU: for each guest page table the vCPUs use, a shadow
 * table that the CPU walks with the guest's linear addresses, mapping them
 * straight to host frames. Every guest paging mode is shadowed: a guest in
 * 4-level paging gets 4-level shadow tables; a guest with paging off, in
 * 32-bit paging or in PAE paging gets PAE-format ones (4 PDPTEs, then
 * 64-bit PDs and PTs), as KVM's shadow MMU does on a 64-bit host. Guest
 * page-table pages are write-protected in the shadow, so the shadow never
 * goes stale: a guest write to one faults, zaps the shadow pages of that
 * frame and unprotects it. A reverse map (gfn -> every shadow entry that
 * maps it) serves zap, dirty logging and aging, and can be walked without
 * any lock. docs/SHADOW_MMU.md has the design, the protocols and the
 * figures.
 *
 * What the backend (SVM, VMX) must do, in guest mode under this MMU:
 *  - hardware CR3 = shadow_vcpu_root_pa(sv), loaded before every VM entry
 *    (it changes on shadow_mmu_load_cr3() and when a fault answers
 *    SHADOW_RETRY), with the vCPU's TLB flushed whenever it changes (the
 *    guest's MOV CR3 would flush it too);
 *  - the hardware paging mode that shadow_vcpu_root_format(sv) names, set
 *    with that CR3 before every VM entry: CR0.PG = 1 and CR4.PAE = 1
 *    always (with the guest's paging off too), and
 *     - SHADOW_ROOT_4LEVEL: EFER.LME = EFER.LMA = 1 (VMX: the "IA-32e mode
 *       guest" entry control);
 *     - SHADOW_ROOT_PAE: EFER.LME = EFER.LMA = 0, PAE paging. The CR3 is
 *       below 4 GiB and 32-byte aligned, and points at 4 PDPTEs (P and an
 *       address only). The CPU loads them from it: VMX without EPT at
 *       every VM entry (the VMCS PDPTE fields are for EPT only), SVM
 *       without NPT at VMRUN. A root's PDPTEs never change while it is a
 *       vCPU's root: different PDPTEs come with a different root_pa, so
 *       the flush above covers them;
 *  - hardware CR0.WP = 1 whatever the guest's (the write protection of
 *    guest page tables depends on it; the guest's WP=0 is emulated),
 *    CR4.PKE = 0, CR4.SMEP and CR4.SMAP = the guest's while the guest's
 *    CR0.PG = 1 and 0 while it is 0 (the guest's SMEP/SMAP mean nothing
 *    without paging, the hardware's would), EFER.NXE = 1 whatever the
 *    guest's (shadow entries use XD, in PAE format too);
 *  - intercept #PF, MOV CR3 and INVLPG; call shadow_mmu_load_cr3() on a
 *    CR3 load and also when the guest changes its paging mode (CR0.PG,
 *    CR4.PAE, EFER.LMA), CR4.PSE, CR0.WP, CR4.SMEP, CR4.SMAP or EFER.NXE;
 *    fill struct guest_paging's mode, pse and (PAE) pdpte[] at every call;
 *  - on a #PF exit: call shadow_mmu_page_fault() with the hardware error
 *    code; re-enter on FIXED and RETRY, inject #PF (CR2 = gva, the given
 *    error code) on INJECT_PF;
 *  - on INVLPG: call shadow_mmu_invlpg(), then flush gva from the vCPU's TLB.
 * Outside 4-level paging linear addresses are 32 bits: gva's bits 63:32
 * are ignored.
 *
 * Context: every call takes an online RCU CPU (mm/rcu/rcu.h), holding no
 * lock and outside any read-side section; never from an interrupt handler.
 * A vCPU's calls come from one CPU at a time.
 */
#pragma once

#include "mm/mmu.h"
#include "mm/rcu/rcu.h"

struct shadow_mmu_config {
	struct mmu_policy policy;
	uint64_t gfn_limit;  /* gfns at or above are treated as no memory (0: 1 << 20, 4 GiB; at most 1 << 28) */
	unsigned int guest_maxphyaddr; /* the guest's CPUID MAXPHYADDR (0: 48); bits above are reserved */
	/*
	 * Optional. The page that holds a vCPU's PAE-format roots (allocated
	 * at its first one, freed with the vCPU) must lie below 4 GiB: the
	 * hardware CR3 is 32 bits in PAE paging. NULL: page_alloc_zeroed(0)
	 * and page_free(); a page at or above 4 GiB is given back and the root
	 * cannot be built (shadow_mmu_load_cr3() returns 0, the fault
	 * SHADOW_NOMEM: the caller stops the VM). The host tests, whose arena lies above, give
	 * a pool below. alloc returns a zeroed page, or NULL.
	 */
	void *(*alloc_low_page)(void *owner);
	void (*free_low_page)(void *owner, void *page);
};

/*
 * The guest's paging mode (guest_paging_mode_of() in walker.h). 4-level is
 * the zero value on purpose: every user of struct guest_paging before the
 * other modes existed (the shadow MMU, virt/, the host tests) fills it with
 * a designated initialiser for a long-mode guest, and keeps walking 4-level
 * tables; a zero meaning "paging off" would silently identity-map them all.
 */
enum guest_paging_mode {
	GUEST_PAGING_4LEVEL = 0, /* EFER.LMA = 1 (CR4.LA57 is not modelled) */
	GUEST_PAGING_OFF,        /* CR0.PG = 0: linear = physical (32 bits) */
	GUEST_PAGING_32BIT,      /* CR0.PG = 1, CR4.PAE = 0 */
	GUEST_PAGING_PAE,        /* CR0.PG = 1, CR4.PAE = 1, EFER.LMA = 0 */
};

/* The guest's paging controls at the time of a fault or a CR3 load. */
struct guest_paging {
	uint64_t cr3;
	bool wp, nx, smep, smap, ac; /* CR0.WP, EFER.NXE, CR4.SMEP, CR4.SMAP, RFLAGS.AC */
	unsigned int cpl;            /* 0 or 3 */
	enum guest_paging_mode mode; /* 0: 4-level */
	bool pse;                    /* CR4.PSE: 4 MiB pages in 32-bit paging (other modes ignore it) */
	/*
	 * PAE only. false (the default): the walker reads the PDPTEs from
	 * memory at CR3 & 0xffffffe0 on every walk. true: it uses pdpte[],
	 * which the caller loaded (and checked, #GP) at MOV CR3 time, as the
	 * CPU's PDPTE registers do. docs/SHADOW_MMU.md has the difference.
	 * The shadow MMU builds a root from the PDPTEs of its load: pdpte[]
	 * if loaded, else those in memory at shadow_mmu_load_cr3() time, and
	 * its faults walk with that root's PDPTEs until the next load (the
	 * CPU's behaviour either way).
	 */
	bool pdptes_loaded;
	uint64_t pdpte[4];
};

struct shadow_mmu;  /* opaque: mm/shadow/shadow_internal.h */
struct shadow_vcpu; /* per-vCPU state (page cache topped up outside mmu_lock, current root) */

/* NULL when cfg is out of range or there is no memory. */
struct shadow_mmu *shadow_mmu_create(const struct shadow_mmu_config *cfg,
				     const struct mmu_ops *ops, void *owner);
/* Frees everything; every vCPU must have been destroyed first. */
void shadow_mmu_destroy(struct shadow_mmu *m);
struct shadow_vcpu *shadow_vcpu_create(struct shadow_mmu *m);
void shadow_vcpu_destroy(struct shadow_vcpu *sv);

/*
 * A CR3 load (or the first entry): returns the host-physical address of the
 * shadow root to put in the hardware CR3; 0 when there was no memory for it
 * (the caller may retry after freeing some). The vCPU keeps its three last
 * roots, so switching back and forth between address spaces rebuilds nothing.
 */
uint64_t shadow_mmu_load_cr3(struct shadow_mmu *m, struct shadow_vcpu *sv,
			     const struct guest_paging *gp);
/* The root the hardware CR3 must hold at the next VM entry (0: none yet). */
uint64_t shadow_vcpu_root_pa(const struct shadow_vcpu *sv);
/*
 * Where that address lives, for a caller that reads it before every
 * entry: only the vCPU's own calls (faults, CR3 loads) change it, so its
 * pCPU may read it through this with no call.
 */
const uint64_t *shadow_vcpu_root_pa_word(const struct shadow_vcpu *sv);

/* The hardware paging mode a root is walked in (the banner says what each needs). */
enum shadow_root_format {
	SHADOW_ROOT_NONE,   /* no root yet */
	SHADOW_ROOT_4LEVEL, /* 4-level paging: a page-aligned PML4 */
	SHADOW_ROOT_PAE,    /* PAE paging: 4 PDPTEs, 32-byte aligned, below 4 GiB */
};

/* The format of the root the hardware CR3 must hold at the next VM entry. */
enum shadow_root_format shadow_vcpu_root_format(const struct shadow_vcpu *sv);

/* The format a guest in mode gets: 4-level for 4-level, PAE for the rest. Pure. */
static inline enum shadow_root_format shadow_root_format_for(enum guest_paging_mode mode)
{
	return mode == GUEST_PAGING_4LEVEL ? SHADOW_ROOT_4LEVEL : SHADOW_ROOT_PAE;
}

enum shadow_fault_result {
	SHADOW_FIXED,     /* the shadow now allows the access (or already did): re-enter */
	SHADOW_RETRY,     /* raced, or the root changed: reload CR3 (and the format) from
			     shadow_vcpu_root_pa() (shadow_vcpu_root_format()), re-enter */
	SHADOW_INJECT_PF, /* the guest's own tables deny the access: inject #PF */
	SHADOW_NO_SLOT,   /* the translation or a guest table lies outside guest memory */
	SHADOW_NOMEM,     /* no memory for a shadow page or an rmap descriptor */
	SHADOW_READONLY,  /* the guest allows a write, but its memslot is read-only */
	SHADOW_EMULATE,   /* only instruction emulation makes progress (docs/SHADOW_MMU.md): a
			     write to a guest page table that its own translation uses, or
			     with CR0.WP = 0 and SMAP a supervisor write to a read-only user
			     page; after emulating a write to guest memory, the caller calls
			     shadow_mmu_zap_range() on the frame written */
};

/*
 * An intercepted guest #PF at gva (32 bits outside 4-level paging) with
 * the hardware error code; on SHADOW_INJECT_PF, *inject_error is the exact
 * #PF error code to inject (CR2 = gva). The error code's W, U and I/D bits give the access (U clear
 * with cpl 3 is an implicit supervisor access, which SMAP checks whatever AC).
 * On SHADOW_EMULATE, *emulate (if not NULL) is the frame the guest's
 * tables gave gva for this very write, and its host address: the emulator
 * need not walk again, nor look up the slot, for the page that faulted.
 */
struct shadow_emulate_frame {
	gfn_t gfn;
	void *hva; /* the frame's first byte */
};
/*
 * Guest-physical memory as the MMU's own walks see it (walker.h): reads in
 * place through each CPU's cache of guest frames, and A/D bits set by
 * cmpxchg and reported to ops.mark_dirty. The hypervisor's other walks of
 * the same guest (its instruction fetch) share the cache this way.
 */
const struct guest_mem *shadow_mmu_guest_mem(const struct shadow_mmu *m);

/*
 * The 4 KiB shadow leaf (x86 format) that the vCPU's current root maps gva
 * with, or 0: the translation the CPU itself uses, which write protection
 * keeps equal to the guest's. The vCPU's own calls; no lock. The
 * emulator fetches the instruction that faulted through it.
 */
uint64_t shadow_vcpu_leaf(struct shadow_vcpu *sv, uint64_t gva);

enum shadow_fault_result shadow_mmu_page_fault(struct shadow_mmu *m, struct shadow_vcpu *sv,
					       const struct guest_paging *gp, uint64_t gva,
					       uint32_t error, uint32_t *inject_error,
					       struct shadow_emulate_frame *emulate);
/*
 * The guest invalidated gva: drop the shadow translation of gva under the
 * vCPU's root (the whole 4 MiB of a 32-bit guest's 4 MiB page; nothing
 * with paging off).
 */
void shadow_mmu_invlpg(struct shadow_mmu *m, struct shadow_vcpu *sv, uint64_t gva);

/*
 * Drop every shadow mapping of [start, end) and every shadow page of a guest
 * table there; returns once no TLB holds them. Returns the leaves zapped.
 * Also the call to make after the host (or an emulated instruction) wrote
 * guest memory that may hold a guest page table: the shadow never sees
 * such writes otherwise.
 */
uint64_t shadow_mmu_zap_range(struct shadow_mmu *m, gfn_t start, gfn_t end);
/*
 * The host writes bytes [off, off + len) of gfn for the guest (an emulated
 * store to a guest table): the shadow drops what those entries gave, and
 * only that (a level-1 table's shadow pages that shadow those bytes go
 * whole; a 32-bit guest's 4-byte PDE gives two shadow PDEs). Cheaper than
 * shadow_mmu_zap_range(m, gfn, gfn + 1), which takes every shadow page of
 * gfn: for a live root, every vCPU's whole address space.
 */
struct shadow_written {
	gfn_t gfn;
	unsigned int off, len;
};
/*
 * SHADOW_EMULATE's store as one step with respect to faults: drop what
 * each of the nr written ranges gave, then call store(ctx), which writes
 * guest memory, all under shadow_lock (so no fault builds a shadow entry
 * from a guest entry that is changing); returns once no TLB holds what
 * went. store may be NULL: the host wrote already (as for
 * shadow_mmu_guest_table_written(), for the host tests).
 */
void shadow_mmu_emulated_write(struct shadow_mmu *m, const struct shadow_written *w,
			       unsigned int nr, void (*store)(void *ctx), void *ctx);
void shadow_mmu_guest_table_written(struct shadow_mmu *m, gfn_t gfn, unsigned int off,
				    unsigned int len);
/*
 * Dirty logging, via the rmap: take write access away from every mapping of
 * [start, end); returns once no TLB can write them. A mapping that was
 * writable and dirty goes to ops->mark_dirty. Returns the mappings changed.
 */
uint64_t shadow_mmu_write_protect_range(struct shadow_mmu *m, gfn_t start, gfn_t end);
/*
 * Aging via the rmap: set bit (gfn - start) in young for each gfn that has
 * a mapping with the accessed bit set, and clear it. Never reports a young
 * gfn as old. young holds (end - start) bits, in 64-bit words; the call
 * clears it first. Returns the number of young gfns.
 */
uint64_t shadow_mmu_test_and_clear_young(struct shadow_mmu *m, gfn_t start, gfn_t end,
					 uint64_t *young);

/* The counters both MMUs keep (struct mmu_stats, mm/mmu.h); tables_* count shadow pages. */
const struct mmu_stats *shadow_mmu_stats(const struct shadow_mmu *m);

/* What struct mmu_stats has no name for. */
struct shadow_mmu_extra_stats {
	atomic_ulong pf_injected;       /* faults the guest's own tables denied */
	atomic_ulong emulate;           /* SHADOW_EMULATE answers */
	atomic_ulong emulate_unwalked;  /* ... found from the shadow path, with no guest walk */
	atomic_ulong roots_created;
	atomic_ulong hinted_faults;     /* faults whose path the walk hint gave whole */
	atomic_ulong hinted_walks;      /* guest walks that were one load of the hint's table */
	atomic_ulong gfns_unprotected;  /* guest page tables written, their shadow pages zapped */
	atomic_ulong rmap_walks;        /* lockless rmap walks of one gfn */
	atomic_ulong rmap_restarts;     /* ... that ended on another chain's nulls and started again */
	atomic_ulong rmap_fallbacks;    /* ... that gave up and walked under shadow_lock */
};
const struct shadow_mmu_extra_stats *shadow_mmu_extra_stats(const struct shadow_mmu *m);
