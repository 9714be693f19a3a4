// SPDX-License-Identifier: MIT
#include "lib/plant.h"
#include "mm/page_alloc.h"
#include "virt/dirty_log.h"
#include "virt/mmu.h"

static struct memslot *ram(struct vm *vm)
{
	return &vm->slots[0]; /* one RAM slot from gpa 0 (virt/vm.c) */
}

uint64_t vm_dirty_log_words(const struct vm *vm)
{
	return (vm->slots[0].npages + 63) / 64;
}

void vm_mark_dirty(void *owner, gfn_t gfn)
{
	struct memslot *s = ram(owner);
	_Atomic uint64_t *bits = atomic_load_explicit(&s->dirty, memory_order_acquire);

	if (!bits || gfn - s->base_gfn >= s->npages)
		return; /* not logging: a dirty leaf zapped for another reason */
	if (planted(PLANT_DIRTY_LOG_MISS) && gfn % 64 == 7)
		return; /* the planted bug: the log forgets one page in 64 */
	atomic_fetch_or_explicit(&bits[(gfn - s->base_gfn) / 64], 1ull << ((gfn - s->base_gfn) % 64),
				 memory_order_relaxed);
}

void vm_dirty_log_write_fault(struct vm *vm, uint64_t gpa)
{
	if (atomic_load_explicit(&ram(vm)->logging, memory_order_relaxed))
		vm_mark_dirty(vm, gpa >> PAGE_SHIFT);
}

bool vm_dirty_log_enable(struct vm *vm, struct tdp_page_cache *cache)
{
	struct memslot *s = ram(vm);
	unsigned int order = page_order_for(vm_dirty_log_words(vm) * 8);
	void *bits = page_alloc_zeroed(order);

	if (!bits)
		return false;
	s->dirty_order = order;
	/* Release: the bitmap is zeroed before any CPU can see it. */
	atomic_store_explicit(&s->dirty, bits, memory_order_release);
	/*
	 * Logging on before the write-protect: a fault that reads the slot
	 * after this maps writes at 4 KiB and marks them; one that read it
	 * before installed a leaf the write-protect below then finds.
	 */
	atomic_store(&s->logging, true);
	if (vm->mmu && !vm->cfg.mmu.split_lazy && vm->cfg.mmu.max_level > PG_LEVEL_4K)
		tdp_mmu_split_huge_range(vm->mmu, cache, s->base_gfn, s->base_gfn + s->npages);
	vm_mmu_write_protect_range(vm, s->base_gfn, s->base_gfn + s->npages);
	return true;
}

static uint64_t take_bitmap(struct memslot *s, uint64_t *out, uint64_t words)
{
	_Atomic uint64_t *bits = atomic_load_explicit(&s->dirty, memory_order_relaxed);
	uint64_t n = 0;

	for (uint64_t i = 0; i < words; i++) {
		out[i] = atomic_exchange_explicit(&bits[i], 0, memory_order_relaxed);
		n += __builtin_popcountll(out[i]);
	}
	return n;
}

uint64_t vm_dirty_log_get(struct vm *vm, uint64_t *out, bool manual_protect)
{
	struct memslot *s = ram(vm);

	/*
	 * Without manual protect, re-protect first: a write before this is in
	 * the caller's copy, which comes after; every later write faults and
	 * is marked again.
	 */
	if (!manual_protect)
		vm_mmu_write_protect_range(vm, s->base_gfn, s->base_gfn + s->npages);
	return take_bitmap(s, out, vm_dirty_log_words(vm));
}

void vm_dirty_log_clear(struct vm *vm, const uint64_t *bitmap)
{
	struct memslot *s = ram(vm);
	uint64_t words = vm_dirty_log_words(vm);

	/* Runs of set bits, each one write-protect call. */
	for (uint64_t i = 0; i < words * 64;) {
		uint64_t start;

		while (i < words * 64 && !(bitmap[i / 64] & (1ull << (i % 64))))
			i++;
		start = i;
		while (i < words * 64 && (bitmap[i / 64] & (1ull << (i % 64))))
			i++;
		if (i > start)
			vm_mmu_write_protect_range(vm, s->base_gfn + start, s->base_gfn + i);
	}
}

void vm_dirty_log_disable(struct vm *vm)
{
	struct memslot *s = ram(vm);

	atomic_store(&s->logging, false);
	if (vm->mmu && vm->cfg.mmu.max_level > PG_LEVEL_4K)
		tdp_mmu_collapse_range(vm->mmu, s->base_gfn, s->base_gfn + s->npages);
}
