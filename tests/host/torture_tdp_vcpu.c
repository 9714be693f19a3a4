// SPDX-License-Identifier: MIT
/*
 * The vCPU of the TDP MMU torture: a software model of a CPU in guest mode.
 * It walks the tables without any lock, like the hardware walker, sets A
 * and D bits with cmpxchg, and keeps what it learned in a TLB (gfn ->
 * frame) and a paging-structure cache (chunk -> 4 KiB table), which it
 * drops only when a remote flush reaches it. The flush is the IPI
 * shootdown of virt/shootdown.c: it sets a request, kicks a vCPU that is
 * IN_GUEST to EXITING, and waits until the vCPU has left the guest.
 *
 * Every access checks what the real CPU would make true or false:
 *  - a cached translation is used only if no zap (for writes: no
 *    write-protect) of its chunk completed since it was cached;
 *  - a table it reads is a table (never the poison of a freed one);
 *  - the frame it reaches is the frame gfn_to_pfn gives.
 */
#define _GNU_SOURCE
#include "tests/host/torture_tdp.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define BURST 24 /* accesses per guest entry, unless kicked or faulting */

/*
 * The remote flush: request, then kick. The seq_cst RMW on flush_req
 * before reading mode pairs with the vCPU's seq_cst store of IN_GUEST
 * before it reads flush_req (vcpu_enter): either we see it in the guest
 * and wait, or it sees our request before it uses its TLB.
 */
void vcpu_flush_hook(void *owner)
{
	struct torture_vm *tvm = owner;

	atomic_fetch_add(&tvm->flushes, 1);
	platform_torture_delay(); /* the IPI takes a while */
	for (unsigned int i = 0; i < TT_NR_VCPUS; i++) {
		struct vcpu *v = &tvm->vcpus[i];
		unsigned int mode = VCPU_IN_GUEST;

		atomic_fetch_add(&v->flush_req, 1);
		if (!atomic_compare_exchange_strong(&v->mode, &mode, VCPU_EXITING) &&
		    mode != VCPU_EXITING)
			continue; /* outside: it flushes before it enters again */
		while (atomic_load(&v->mode) == VCPU_EXITING)
			sched_yield();
	}
}

static void vcpu_drop_tlb(struct vcpu *v)
{
	for (unsigned int i = 0; i < TT_TLB_SIZE; i++)
		v->tlb[i].valid = false;
	for (unsigned int i = 0; i < TT_PSC_SIZE; i++)
		v->psc[i].valid = false;
}

static void vcpu_enter(struct vcpu *v)
{
	unsigned long req;

	if (vm.offline_in_guest)
		rcu_offline(); /* guest mode: an extended quiescent state */
	atomic_store(&v->mode, VCPU_IN_GUEST);
	req = atomic_load(&v->flush_req);
	if (req != v->flush_done) {
		v->flush_done = req;
		v->flushes_taken++;
		vcpu_drop_tlb(v);
	}
}

/* Leaving the guest acknowledges a kick (release: our reads happened before). */
static void vcpu_exit(struct vcpu *v)
{
	atomic_store_explicit(&v->mode, VCPU_OUTSIDE, memory_order_release);
	if (vm.offline_in_guest)
		rcu_online();
}

/* A non-present entry mmuvisor never writes: the walk is reading freed memory. */
static bool is_garbage_spte(uint64_t spte)
{
	return !is_shadow_present_spte(spte) && spte && !is_removed_spte(spte);
}

struct walk {
	uint64_t spte;      /* the leaf, or the non-present entry that ended the walk */
	unsigned int level;
	tdp_ptep_t sptep;
	tdp_ptep_t tables[TDP_ROOT_LEVEL + 1]; /* tables[l]: the table read at level l */
	bool from_psc;
};

/*
 * Is a table of this walk no longer linked where the walk found it? Then
 * whatever it read there came from a table that was unlinked, freed and
 * reused. Checked from the root down, which is never freed.
 */
static bool walk_path_changed(const struct walk *w, gfn_t gfn)
{
	for (unsigned int l = TDP_ROOT_LEVEL; l > w->level; l--) {
		uint64_t parent = tdp_read_spte(&w->tables[l][tdp_spte_index(gfn, l)]);

		if (!is_shadow_present_spte(parent) || is_last_spte(parent, l) ||
		    tdp_spte_to_child_pt(parent) != w->tables[l - 1])
			return true;
	}
	return false;
}

static void check_frame(struct vcpu *v, gfn_t gfn, const struct walk *w)
{
	uint64_t pages = tdp_pages_per_level(w->level);
	uint64_t frame = spte_to_pfn(w->spte) + (gfn & (pages - 1));
	struct mmu_pfn_info slot = tt_slot_of(gfn);

	if (frame == slot.pfn && !(spte_to_pfn(w->spte) & (pages - 1)) &&
	    (!is_writable_spte(w->spte) || slot.writable) && w->level <= slot.max_level)
		return;
	if (w->from_psc || walk_path_changed(w, gfn))
		fail("vCPU %u read a freed table (already reused) at gfn %#llx: entry %#llx level %u",
		     v->id, (unsigned long long)gfn, (unsigned long long)w->spte, w->level);
	fail("vCPU %u: the leaf of gfn %#llx maps the wrong frame or rights: entry %#llx level %u, "
	     "expected frame %#llx, slot %s, max level %u", v->id, (unsigned long long)gfn,
	     (unsigned long long)w->spte, w->level, (unsigned long long)slot.pfn,
	     slot.writable ? "writable" : "read-only", slot.max_level);
}

/* The CPU's walk from the root (the EPT pointer / nCR3). False: not present. */
static bool vcpu_walk(struct vcpu *v, gfn_t gfn, struct walk *w)
{
	tdp_ptep_t table = platform_phys_to_virt(tdp_mmu_root_pa(vm.mmu));

	v->walks++;
	w->from_psc = false;
	for (unsigned int level = TDP_ROOT_LEVEL;; level--) {
		tdp_ptep_t sptep = &table[tdp_spte_index(gfn, level)];
		uint64_t spte = tdp_read_spte(sptep);

		if (is_garbage_spte(spte))
			fail("vCPU %u read a freed table: entry %#llx at level %u on the walk of gfn %#llx",
			     v->id, (unsigned long long)spte, level, (unsigned long long)gfn);
		w->tables[level] = table;
		w->spte = spte;
		w->level = level;
		w->sptep = sptep;
		if (!is_shadow_present_spte(spte))
			return false;
		if (is_last_spte(spte, level))
			return true;
		table = tdp_spte_to_child_pt(spte);
		if (level == PG_LEVEL_2M)
			platform_torture_delay(); /* between a table and its child */
	}
}

/* The paging-structure cache: straight to the chunk's 4 KiB table. False: not usable. */
static bool vcpu_walk_psc(struct vcpu *v, gfn_t gfn, struct walk *w)
{
	uint64_t c = chunk_of(gfn);
	struct psc_entry *p = &v->psc[c % TT_PSC_SIZE];
	uint64_t spte;

	if (!p->valid || p->chunk != c)
		return false;
	if (atomic_load(&chunk_seq[c].zap_end) != p->zap_seq)
		fail("vCPU %u: stale translation: its cached table for gfns %#llx.. outlived a "
		     "completed zap of them (no flush reached this vCPU)",
		     v->id, (unsigned long long)(c * TT_CHUNK));
	w->sptep = &p->table[tdp_spte_index(gfn, PG_LEVEL_4K)];
	spte = tdp_read_spte(w->sptep);
	if (is_garbage_spte(spte))
		fail("vCPU %u read a freed table through its paging-structure cache: entry %#llx "
		     "for gfn %#llx (the table was freed before the flush reached this vCPU)",
		     v->id, (unsigned long long)spte, (unsigned long long)gfn);
	if (!is_shadow_present_spte(spte)) {
		p->valid = false; /* empty, or frozen (REMOVED): ask the tables */
		return false;
	}
	w->spte = spte;
	w->level = PG_LEVEL_4K;
	w->tables[PG_LEVEL_4K] = p->table;
	w->from_psc = true;
	v->psc_hits++;
	return true;
}

/*
 * Is the table that holds this walk's leaf still linked under the root?
 * Then the A bit the walk set or saw was in the live tree afterwards, where
 * aging finds it. (Through a stale paging-structure cache a CPU may set A
 * in a table that is being unlinked; that bit goes with the table.)
 */
static bool leaf_is_live(gfn_t gfn, const struct walk *w)
{
	tdp_ptep_t table = platform_phys_to_virt(tdp_mmu_root_pa(vm.mmu));

	for (unsigned int l = TDP_ROOT_LEVEL; l > w->level; l--) {
		uint64_t spte = tdp_read_spte(&table[tdp_spte_index(gfn, l)]);

		if (!is_shadow_present_spte(spte) || is_last_spte(spte, l))
			return false;
		table = tdp_spte_to_child_pt(spte);
	}
	return table == w->tables[w->level];
}

static bool vcpu_tlb_hit(struct vcpu *v, gfn_t gfn, bool write)
{
	struct tlb_entry *t = &v->tlb[gfn % TT_TLB_SIZE];
	struct chunk_seq *cs = &chunk_seq[chunk_of(gfn)];

	if (!t->valid || t->gfn != gfn || (write && !(t->writable && t->dirty)))
		return false;
	if (atomic_load(&cs->zap_end) != t->zap_seq)
		fail("vCPU %u: stale translation: gfn %#llx used after a zap of it completed "
		     "(the zap's flush never reached this vCPU)", v->id, (unsigned long long)gfn);
	if (write && atomic_load(&cs->wp_end) != t->wp_seq)
		fail("vCPU %u wrote gfn %#llx through a writable translation that a completed "
		     "write-protect should have flushed", v->id, (unsigned long long)gfn);
	v->tlb_hits++;
	return true;
}

/*
 * One access in guest mode. Returns false when it needs a fault (the
 * caller leaves the guest). The counters are read ends first, then begins:
 * equal pairs mean no operation on the chunk was in progress.
 */
static bool vcpu_access(struct vcpu *v, gfn_t gfn, bool write)
{
	const struct tdp_spte_format *f = &vm.mmu->fmt;
	struct chunk_seq *cs = &chunk_seq[chunk_of(gfn)];
	unsigned int ze, we, le, zb, wb, lb, gen;
	struct walk w = { 0 };
	uint64_t want;

	v->accesses++;
	if (vcpu_tlb_hit(v, gfn, write))
		return true;
	ze = atomic_load(&cs->zap_end);
	we = atomic_load(&cs->wp_end);
	le = atomic_load(&cs->lossy_end);
	zb = atomic_load(&cs->zap_begin);
	wb = atomic_load(&cs->wp_begin);
	lb = atomic_load(&cs->lossy_begin);
	gen = atomic_load(&age_gen);
	for (;;) {
		if (!vcpu_walk_psc(v, gfn, &w) && !vcpu_walk(v, gfn, &w))
			return false;
		check_frame(v, gfn, &w);
		if (write && !is_writable_spte(w.spte))
			return false;
		/* Like the CPU: A on every walk, D on a write, with a locked cmpxchg. */
		want = w.spte | f->accessed | (write ? f->dirty : 0);
		if (want == w.spte || atomic_compare_exchange_strong(w.sptep, &w.spte, want))
			break;
	}
	if (f->accessed && le == lb && leaf_is_live(gfn, &w) && gen == atomic_load(&age_gen) &&
	    lb == atomic_load(&cs->lossy_begin))
		atomic_store(&touch[gfn], (uint64_t)gen << 32 | lb);
	if (ze == zb && we == wb && zb == atomic_load(&cs->zap_begin) &&
	    wb == atomic_load(&cs->wp_begin)) {
		struct tlb_entry *t = &v->tlb[gfn % TT_TLB_SIZE];

		*t = (struct tlb_entry){
			.gfn = gfn,
			.valid = true,
			.writable = is_writable_spte(want),
			.dirty = !f->dirty || (want & f->dirty),
			.zap_seq = zb,
			.wp_seq = wb,
		};
		if (w.level == PG_LEVEL_4K && !w.from_psc)
			v->psc[chunk_of(gfn) % TT_PSC_SIZE] = (struct psc_entry){
				.chunk = chunk_of(gfn),
				.table = w.tables[PG_LEVEL_4K],
				.valid = true,
				.zap_seq = zb,
			};
	}
	return true;
}

static void vcpu_fault(struct vcpu *v, gfn_t gfn, bool write)
{
	enum tdp_fault_result r;

	v->faults++;
	r = tdp_mmu_page_fault(vm.mmu, &v->cache, gfn << PAGE_SHIFT,
			       write ? TDP_ACC_WRITE : TDP_ACC_READ);
	if (r != TDP_FAULT_FIXED && r != TDP_FAULT_RETRY)
		fail("vCPU %u: fault on gfn %#llx (%s) returned %d", v->id, (unsigned long long)gfn,
		     write ? "write" : "read", r);
}

/* The vCPU's loop until stop: enter, a burst of accesses in one chunk, exit, fault. */
void vcpu_run(struct vcpu *v, atomic_bool *stop)
{
	uint64_t chunk = host_rand() % TT_NR_CHUNKS;

	while (!atomic_load_explicit(stop, memory_order_relaxed)) {
		gfn_t fault_gfn = 0;
		bool fault_write = false, need_fault = false;

		if (host_rand() % 8 == 0) {
			chunk = host_rand() % TT_NR_CHUNKS;
			atomic_store_explicit(&v->hot_chunk, chunk, memory_order_relaxed);
		}
		vcpu_enter(v);
		for (unsigned int k = 0; k < BURST; k++) {
			gfn_t gfn = chunk * TT_CHUNK + host_rand() % TT_CHUNK;
			bool write = tt_slot_of(gfn).writable && host_rand() % 3 == 0;
			bool ok;

			if (atomic_load(&v->mode) == VCPU_EXITING)
				break;
			if (!vm.offline_in_guest)
				rcu_read_lock();
			ok = vcpu_access(v, gfn, write);
			if (!vm.offline_in_guest) {
				rcu_read_unlock();
				rcu_quiescent_state();
			}
			if (!ok) {
				need_fault = true;
				fault_gfn = gfn;
				fault_write = write;
				break;
			}
			platform_torture_delay();
		}
		vcpu_exit(v);
		if (need_fault)
			vcpu_fault(v, fault_gfn, fault_write);
		rcu_quiescent_state();
	}
	vcpu_drop_tlb(v);
	tdp_page_cache_release(&v->cache);
}
