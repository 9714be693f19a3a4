// SPDX-License-Identifier: MIT
/*
 * The TDP MMU torture (torture_tdp.c, torture_tdp_vcpu.c): what the
 * threads share. The guest-physical layout, the per-chunk counters that
 * tell a vCPU which of its cached translations a completed operation
 * should have flushed, and the vCPU model with its software TLB.
 */
#pragma once

#include "mm/ept/tdp_mmu_internal.h"
#include "tests/host/platform_host.h"

/*
 * Guest memory: 2 GiB, host frame = gfn + TT_PFN_OFFSET (1 GiB aligned).
 * Region A, [0, 1 GiB), is cut into 2 MiB chunks with different slots
 * (chunk_slot()); region B, [1 GiB, 2 GiB), allows 1 GiB pages.
 */
#define TT_GFNS (2ULL << 18)
#define TT_CHUNK 512ULL
#define TT_NR_CHUNKS (TT_GFNS / TT_CHUNK)
#define TT_REGION_B (1ULL << 18)
#define TT_PFN_OFFSET (1ULL << 22)

#define TT_NR_VCPUS 2
#define TT_TLB_SIZE 64
#define TT_PSC_SIZE 16

static inline uint64_t chunk_of(gfn_t gfn)
{
	return gfn / TT_CHUNK;
}

/* The slot that covers gfn: what gfn_to_pfn answers. */
static inline struct mmu_pfn_info tt_slot_of(gfn_t gfn)
{
	uint64_t c = chunk_of(gfn) % 8;
	struct mmu_pfn_info info = {
		.pfn = gfn + TT_PFN_OFFSET,
		.writable = true,
		.max_level = PG_LEVEL_2M,
	};

	if (gfn >= TT_REGION_B)
		info.max_level = PG_LEVEL_1G;
	else if (c == 0)
		info.max_level = PG_LEVEL_4K;
	else if (c == 3)
		info.writable = false;
	else if (c == 5 || c == 6)
		info.dirty_logging = true;
	return info;
}

/*
 * Per 2 MiB chunk, bumped by the thread that runs an operation: *_begin
 * before the call, *_end after it returned (so after its flush). A vCPU
 * caches a translation only from a walk during which no operation on its
 * chunk was in progress or began; a later *_end past the begin it saw means
 * a flush should have dropped the translation.
 *  - zap_*: chunks in a zap's range (ranges are whole chunks);
 *  - wp_*: chunks in a write-protect's range;
 *  - lossy_*: chunks whose A bits an operation may drop: a zap or a
 *    write-protect (which zaps huge leaves unless split=lazy), widened to
 *    the largest leaf that can overlap the range.
 */
struct chunk_seq {
	atomic_uint zap_begin, zap_end;
	atomic_uint wp_begin, wp_end;
	atomic_uint lossy_begin, lossy_end;
};
extern struct chunk_seq chunk_seq[TT_NR_CHUNKS];

/*
 * Aging: round r starts by setting age_gen to r, then clears every A bit.
 * A vCPU that saw the same generation g before and after it set (or found)
 * an A bit records touch[gfn] = g << 32 | lossy_begin; the ager checks
 * that such a gfn was reported young in round g or g + 1.
 */
extern atomic_uint age_gen;
extern atomic_ulong touch[TT_GFNS];

enum vcpu_mode { VCPU_OUTSIDE, VCPU_IN_GUEST, VCPU_EXITING };

struct tlb_entry {
	gfn_t gfn;
	bool valid, writable, dirty;
	unsigned int zap_seq, wp_seq;
};

/* A paging-structure cache entry: the 4 KiB table of one chunk. */
struct psc_entry {
	uint64_t chunk;
	tdp_ptep_t table;
	bool valid;
	unsigned int zap_seq;
};

struct vcpu {
	unsigned int id, cpu;
	atomic_uint mode;       /* enum vcpu_mode; EXITING is the IPI */
	atomic_ulong flush_req; /* bumped by every remote flush */
	/* The vCPU's own: */
	unsigned long flush_done;
	struct tlb_entry tlb[TT_TLB_SIZE];
	struct psc_entry psc[TT_PSC_SIZE];
	struct tdp_page_cache cache;
	atomic_ulong hot_chunk; /* where it works now: zaps aim there */
	unsigned long accesses, tlb_hits, psc_hits, walks, faults, flushes_taken;
} __cacheline_aligned;

struct torture_vm {
	struct tdp_mmu *mmu;
	struct vcpu vcpus[TT_NR_VCPUS];
	bool offline_in_guest; /* this epoch, guest mode is RCU-offline */
	atomic_ulong flushes;
};
extern struct torture_vm vm;

_Noreturn void fail(const char *fmt, ...) __printf(1, 2);
void vcpu_run(struct vcpu *v, atomic_bool *stop);
void vcpu_flush_hook(void *owner);
