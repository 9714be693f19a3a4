// SPDX-License-Identifier: MIT
/*
 * virt/dirty_log.c, compiled unchanged, on the TDP MMU (mm/ept) with a
 * one-slot VM: the enable protocol against a fault that read the slot
 * before logging was on. The fault reads the slot's logging flag first and
 * installs its leaf later; an enable that ran wholly in between would
 * write-protect nothing there, and the fault's leaf (writable, huge, as a
 * read maps it when nothing logs) would let the guest write unlogged. The
 * enable must wait for such a fault (a grace period) before it protects.
 * Bochs showed the bug on Linux: a page written through such a leaf was
 * missing from the migration copy.
 */
#define _GNU_SOURCE
#include "tests/host/mm_fixture.h"
#include "mm/ept/tdp_mmu_internal.h"
#include "lib/plant.h"
#include "virt/dirty_log.h"

#include <pthread.h>
#include <time.h>

#define TD_ARENA_BYTES (64UL << 20)
#define TD_ARENA_PHYS 0x100000000UL
#define TD_PAGES 8192ULL          /* the slot: 32 MiB from gfn 0 */
#define TD_PFN_OFFSET (1ULL << 22) /* host frame = gfn + this (2 MiB aligned) */
#define TD_RACE_GFN 0x1000ULL     /* gpa 0x1000000, where Bochs showed it */

enum plant_kind planted_bug; /* lib/plant.c's, for vm_mark_dirty: nothing planted */

static struct vm vm;
static uint64_t free_at_start;

/* The fault's side of the race, run by the enable's thread. */
static atomic_bool race_armed, enable_done;
static bool enable_done_in_window;

/* virt/mmu.c's, for the TDP MMU only. */
uint64_t vm_mmu_write_protect_range(struct vm *v, gfn_t start, gfn_t end)
{
	return tdp_mmu_write_protect_range(v->mmu, start, end);
}

static void *enable_thread(void *arg)
{
	struct tdp_page_cache cache = { 0 };

	(void)arg;
	host_cpu_enter(1);
	rcu_online();
	CHECK(vm_dirty_log_enable(&vm, &cache));
	atomic_store(&enable_done, true);
	rcu_offline();
	tdp_page_cache_release(&cache);
	host_cpu_leave();
	return NULL;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * virt/vm.c's gfn_to_pfn, plus the race: once armed, after it has read the
 * flag it lets the enable run beside it for up to 300 ms before the fault
 * goes on to install its leaf.
 */
static pthread_t enabler;
static bool td_gfn_to_pfn(void *owner, gfn_t gfn, struct mmu_pfn_info *out)
{
	struct memslot *s = &((struct vm *)owner)->slots[0];

	if (gfn >= TD_PAGES)
		return false;
	*out = (struct mmu_pfn_info){
		.pfn = gfn + TD_PFN_OFFSET,
		.writable = true,
		.max_level = PG_LEVEL_2M,
		.dirty_logging = atomic_load_explicit(&s->logging, memory_order_acquire),
	};
	if (atomic_exchange(&race_armed, false)) {
		CHECK(pthread_create(&enabler, NULL, enable_thread, NULL) == 0);
		for (unsigned int ms = 0; ms < 300 && !atomic_load(&enable_done); ms += 5)
			sleep_ms(5);
		enable_done_in_window = atomic_load(&enable_done);
	}
	return true;
}

static const struct mmu_ops td_ops = {
	.gfn_to_pfn = td_gfn_to_pfn,
	.mark_dirty = vm_mark_dirty,
};

static uint64_t leaf_at(gfn_t gfn, unsigned int *level)
{
	struct tdp_iter iter;
	uint64_t spte = 0;

	*level = 0;
	rcu_read_lock();
	for_each_tdp_pte(iter, vm.mmu->root_pt, gfn, gfn + 1) {
		if (!is_leaf_spte(iter.old_spte, iter.level))
			continue;
		spte = iter.old_spte;
		*level = iter.level;
		break;
	}
	rcu_read_unlock();
	return spte;
}

static bool logged(gfn_t gfn)
{
	_Atomic uint64_t *bits = atomic_load(&vm.slots[0].dirty);

	return bits && (atomic_load(&bits[gfn / 64]) >> (gfn % 64) & 1);
}

static void vm_setup(unsigned int format)
{
	struct tdp_mmu_config cfg = {
		.format = format ? TDP_FORMAT_NPT : TDP_FORMAT_EPT,
		.ept_ad_bits = true,
		.ept_memtype = EPT_MEMTYPE_WB,
		.max_level = PG_LEVEL_2M,
	};

	memset(&vm, 0, sizeof(vm));
	vm.cfg.mmu.max_level = PG_LEVEL_2M;
	vm.slots[0] = (struct memslot){ .base_gfn = 0, .npages = TD_PAGES, .writable = true };
	vm.nr_slots = 1;
	vm.mmu = tdp_mmu_create(&cfg, &td_ops, &vm);
	CHECK(vm.mmu != NULL);
}

static void vm_teardown(struct tdp_page_cache *cache)
{
	_Atomic uint64_t *bits = atomic_load(&vm.slots[0].dirty);

	rcu_barrier();
	tdp_mmu_destroy(vm.mmu);
	rcu_barrier();
	tdp_page_cache_release(cache);
	if (bits)
		page_free((void *)bits, vm.slots[0].dirty_order);
	mm_fixture_check_all_back(2, free_at_start);
}

/*
 * The fault reads "off", the enable runs, the fault installs. Afterwards
 * the guest's next write at the gfn must fault (the leaf is read-only) or
 * be logged already; and the enable must not have finished while the fault
 * was between its read and its install.
 */
static void test_enable_waits_for_faults_in_flight(void)
{
	for (unsigned int format = 0; format < 2; format++) {
		struct tdp_page_cache cache = { 0 };
		unsigned int level;
		uint64_t spte;

		vm_setup(format);
		atomic_store(&enable_done, false);
		atomic_store(&race_armed, true);
		CHECK_EQ_U(tdp_mmu_page_fault(vm.mmu, &cache, TD_RACE_GFN << PAGE_SHIFT, TDP_ACC_READ),
			   TDP_FAULT_FIXED);
		rcu_quiescent_state(); /* the fault is over: the enable may go on */
		CHECK(pthread_join(enabler, NULL) == 0);
		CHECK(!enable_done_in_window);
		spte = leaf_at(TD_RACE_GFN, &level);
		if (is_writable_spte(spte) && !logged(TD_RACE_GFN)) {
			fprintf(stderr, "  %s: gfn 0x%llx is writable (leaf 0x%llx, level %u) "
				"after the enable, and not logged: a write there is lost\n",
				format ? "npt" : "ept", TD_RACE_GFN, (unsigned long long)spte, level);
			CHECK(!"a fault in flight escaped the enable's write-protect");
		}
		/* And the protocol goes on: the write faults, 4 KiB, and is logged. */
		CHECK_EQ_U(tdp_mmu_page_fault(vm.mmu, &cache, (TD_RACE_GFN + 1) << PAGE_SHIFT,
					      TDP_ACC_WRITE), TDP_FAULT_FIXED);
		vm_dirty_log_write_fault(&vm, (TD_RACE_GFN + 1) << PAGE_SHIFT);
		spte = leaf_at(TD_RACE_GFN + 1, &level);
		CHECK(is_writable_spte(spte) && level == PG_LEVEL_4K);
		CHECK(logged(TD_RACE_GFN + 1));
		CHECK(!is_writable_spte(leaf_at(TD_RACE_GFN, &level)));
		vm_dirty_log_disable(&vm);
		vm_teardown(&cache);
	}
}

int main(void)
{
	free_at_start = mm_fixture_setup(2, TD_ARENA_BYTES, TD_ARENA_PHYS, NULL);
	RUN_TEST(test_enable_waits_for_faults_in_flight);
	rcu_offline();
	host_arena_destroy();
	return check_summary("test_dirty_log");
}
