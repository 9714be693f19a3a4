// SPDX-License-Identifier: MIT
/*
 * The log covers every writable memslot, each with a bitmap of its own; the
 * caller's bitmap is one bit per gfn from 0 to the end of the highest
 * writable slot. A read-only slot (a PC's ROM area) has no log: the guest
 * cannot change it (a write there is dropped, virt/pc.c), and the RAM slot's
 * pages beneath it are never mapped, since the lookup takes the first slot.
 */
#include "lib/plant.h"
#include "lib/string.h"
#include "mm/page_alloc.h"
#include "mm/rcu/rcu.h"
#include "virt/dirty_log.h"
#include "virt/mmu.h"

/* The slot that maps gfn: the first that holds it, as vm_gfn_to_pfn() looks. */
static struct memslot *slot_of(struct vm *vm, gfn_t gfn)
{
	for (unsigned int i = 0; i < vm->nr_slots; i++)
		if (gfn - vm->slots[i].base_gfn < vm->slots[i].npages)
			return &vm->slots[i];
	return NULL;
}

static uint64_t slot_words(const struct memslot *s)
{
	return (s->npages + 63) / 64;
}

uint64_t vm_dirty_log_words(const struct vm *vm)
{
	uint64_t end = 0;

	for (const struct memslot *s = vm->slots; s < vm->slots + vm->nr_slots; s++)
		if (s->writable && s->base_gfn + s->npages > end)
			end = s->base_gfn + s->npages;
	return (end + 63) / 64;
}

void vm_mark_dirty(void *owner, gfn_t gfn)
{
	struct vm *vm = owner;
	struct memslot *s;
	_Atomic uint64_t *bits;

	/* Acquire, like the bitmap's load below: it was stored before the first bitmap. */
	if (!atomic_load_explicit(&vm->dirty_bitmaps, memory_order_acquire))
		return;
	s = slot_of(vm, gfn);
	if (!s || !s->writable)
		return;
	bits = atomic_load_explicit(&s->dirty, memory_order_acquire);
	if (!bits)
		return; /* never logged: a dirty leaf zapped for another reason */
	if (planted(PLANT_DIRTY_LOG_MISS) && gfn % 64 == 7)
		return; /* the planted bug: the log forgets one page in 64 */
	atomic_fetch_or_explicit(&bits[(gfn - s->base_gfn) / 64],
				 1ull << ((gfn - s->base_gfn) % 64), memory_order_relaxed);
}

void vm_dirty_log_write_fault(struct vm *vm, uint64_t gpa)
{
	struct memslot *s;

	/* No bitmap yet, no log: vm_mark_dirty() would return at this test anyway. */
	if (!atomic_load_explicit(&vm->dirty_bitmaps, memory_order_acquire))
		return;
	s = slot_of(vm, gpa >> PAGE_SHIFT);
	if (s && atomic_load_explicit(&s->logging, memory_order_relaxed))
		vm_mark_dirty(vm, gpa >> PAGE_SHIFT);
}

/* The slot's bitmap, allocated the first time or cleared; logging is not on yet. */
static bool slot_log_prepare(struct vm *vm, struct memslot *s)
{
	_Atomic uint64_t *bits = atomic_load_explicit(&s->dirty, memory_order_relaxed);

	/*
	 * The caller's bitmap takes a slot's words whole: a slot starts on a
	 * word. Slot bases are the hypervisor's constants (0, PC_HIGH_RAM; the
	 * ROM at 0xe0000 is never logged), never a guest's or a user's choice.
	 */
	BUG_ON(s->base_gfn % 64);
	if (bits) { /* logged before: the same bitmap, cleared (published until vm_destroy) */
		for (uint64_t i = 0; i < slot_words(s); i++)
			atomic_store_explicit(&bits[i], 0, memory_order_relaxed);
		return true;
	}
	s->dirty_order = page_order_for(slot_words(s) * 8);
	bits = page_alloc_zeroed(s->dirty_order);
	if (!bits)
		return false;
	atomic_store_explicit(&vm->dirty_bitmaps, true, memory_order_relaxed);
	/* Release: the bitmap is zeroed, and dirty_bitmaps set, before any CPU can see it. */
	atomic_store_explicit(&s->dirty, bits, memory_order_release);
	return true;
}

/*
 * Logging on, then a grace period, then split and write-protect. A fault
 * reads the slot's logging flag before it takes mmu_lock and installs its
 * leaf, all inside one RCU read-side section (a vCPU's exit handling runs
 * between two quiescent states). One that read "off" maps a read writable
 * and a write huge, and logs nothing; the grace period waits for every such
 * fault to install its leaf, so the write-protect below finds it. Without
 * it, a fault that read "off" could install after the walk had passed its
 * gfn, and the guest would write there unlogged (Bochs showed it: a Linux
 * guest's page at gpa 0x1000000 missing from the migration copy). A fault
 * that reads "on" maps writes at 4 KiB and marks them itself.
 */
bool vm_dirty_log_enable(struct vm *vm, struct tdp_page_cache *cache)
{
	struct memslot *s;

	for (s = vm->slots; s < vm->slots + vm->nr_slots; s++)
		if (s->writable && !slot_log_prepare(vm, s))
			return false;
	atomic_store(&vm->logging, true);
	for (s = vm->slots; s < vm->slots + vm->nr_slots; s++)
		if (s->writable)
			atomic_store(&s->logging, true);
	synchronize_rcu();
	for (s = vm->slots; s < vm->slots + vm->nr_slots; s++) {
		if (!s->writable)
			continue;
		if (vm->mmu && !vm->cfg.mmu.split_lazy && vm->cfg.mmu.max_level > PG_LEVEL_4K)
			tdp_mmu_split_huge_range(vm->mmu, cache, s->base_gfn,
						 s->base_gfn + s->npages);
		vm_mmu_write_protect_range(vm, s->base_gfn, s->base_gfn + s->npages);
	}
	return true;
}

/* Take the slot's words into out, from the slot's base. */
static uint64_t take_bitmap(struct memslot *s, uint64_t *out)
{
	_Atomic uint64_t *bits = atomic_load_explicit(&s->dirty, memory_order_relaxed);
	uint64_t n = 0, *to = out + s->base_gfn / 64;

	for (uint64_t i = 0; bits && i < slot_words(s); i++) {
		to[i] = atomic_exchange_explicit(&bits[i], 0, memory_order_relaxed);
		n += __builtin_popcountll(to[i]);
	}
	return n;
}

uint64_t vm_dirty_log_get(struct vm *vm, uint64_t *out, bool manual_protect)
{
	uint64_t n = 0;

	memset(out, 0, vm_dirty_log_words(vm) * 8);
	for (struct memslot *s = vm->slots; s < vm->slots + vm->nr_slots; s++) {
		if (!s->writable)
			continue;
		/*
		 * Without manual protect, re-protect first: a write before
		 * this is in the caller's copy, which comes after; every later
		 * write faults and is marked again.
		 */
		if (!manual_protect)
			vm_mmu_write_protect_range(vm, s->base_gfn, s->base_gfn + s->npages);
		n += take_bitmap(s, out);
	}
	return n;
}

void vm_dirty_log_clear(struct vm *vm, const uint64_t *bitmap)
{
	uint64_t bits = vm_dirty_log_words(vm) * 64;

	/* Runs of set bits (gfns), each one write-protect call. */
	for (uint64_t i = 0; i < bits;) {
		uint64_t start;

		while (i < bits && !(bitmap[i / 64] & (1ull << (i % 64))))
			i++;
		start = i;
		while (i < bits && (bitmap[i / 64] & (1ull << (i % 64))))
			i++;
		if (i > start)
			vm_mmu_write_protect_range(vm, start, i);
	}
}

void vm_dirty_log_disable(struct vm *vm)
{
	for (struct memslot *s = vm->slots; s < vm->slots + vm->nr_slots; s++) {
		if (!s->writable)
			continue;
		atomic_store(&s->logging, false);
		if (vm->mmu && vm->cfg.mmu.max_level > PG_LEVEL_4K)
			tdp_mmu_collapse_range(vm->mmu, s->base_gfn, s->base_gfn + s->npages);
	}
	atomic_store(&vm->logging, false);
}
