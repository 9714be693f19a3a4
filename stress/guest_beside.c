// SPDX-License-Identifier: MIT
/*
 * The control CPU's steps beside a PC guest, one per vm_wait poll whose
 * time has come. After a round (a harvest or an aging pass) the next step
 * waits MIGRATE_ROUND_GAP_US, and never less than the round took: a locked
 * pass (wp=locked, age=locked) holds mmu_lock for write, and back to back
 * it could starve the guest's faults outright (stress/fault_beside.c paces
 * its passes the same way). A step of the first pass waits as long as itself.
 */
#include "arch/x86/console.h"
#include "arch/x86/tsc.h"
#include "lib/printf.h"
#include "mm/ept/tdp_mmu.h"
#include "mm/page_alloc.h"
#include "stress/guest_beside.h"
#include "virt/dirty_log.h"
#include "virt/mmu.h"
#include "virt/shootdown.h"

#define FIRST_PASS_STEP (2ull << 20) /* the first pass copies this much a step */

void guest_beside_config(enum guest_beside_mode what, struct vm_mmu_config *mmu)
{
	mmu->policy.wp_locked = what == GUEST_BESIDE_DIRTY_LOG_LOCKED;
	mmu->policy.age_locked = what == GUEST_BESIDE_AGE_LOCKED;
}

bool guest_beside_prepare(struct guest_beside *b, enum guest_beside_mode what, struct vm *vm)
{
	uint64_t words;

	*b = (struct guest_beside){
		.what = what,
		.dirty_log = what == GUEST_BESIDE_DIRTY_LOG ||
			     what == GUEST_BESIDE_DIRTY_LOG_LOCKED,
		.age = what == GUEST_BESIDE_AGE || what == GUEST_BESIDE_AGE_LOCKED,
		.locked = what == GUEST_BESIDE_DIRTY_LOG_LOCKED || what == GUEST_BESIDE_AGE_LOCKED,
		.manual_protect = option(OPTION_MANUAL_PROTECT),
		.gfns = vm->cfg.mem_bytes >> PAGE_SHIFT,
	};
	if (what == GUEST_BESIDE_NONE)
		return true;
	words = b->dirty_log ? vm_dirty_log_words(vm) : (b->gfns + 63) / 64;
	b->bits_order = page_order_for(words * 8);
	b->bits = page_alloc_zeroed(b->bits_order);
	/* The destination: all guest RAM, as the dirty log covers it (virt/dirty_log.c). */
	if (b->bits && (!b->dirty_log || migrate_image_alloc(&b->image, 0, vm->cfg.mem_bytes)))
		return true;
	kprintf("mmuvisor: error: beside=%s: out of memory for %s\n",
		option_choice_name(OPTION_BESIDE),
		b->bits ? "the destination image (as much as guest RAM)" : "the bitmap");
	return false;
}

/* get (and with manual protect, clear) the log, then copy what it reported. */
static uint64_t harvest(struct guest_beside *b, struct vm *vm, bool clear)
{
	uint64_t t0 = rdtsc(), dirty = vm_dirty_log_get(vm, b->bits, b->manual_protect);

	if (clear && b->manual_protect)
		vm_dirty_log_clear(vm, b->bits);
	b->protect_cycles += rdtsc() - t0;
	/* After the re-protect: a write before it is in this copy, a later one in the log. */
	b->pages += migrate_copy_dirty(vm, &b->image, b->bits);
	return dirty;
}

static void dirty_log_step(struct guest_beside *b, struct vm *vm)
{
	uint64_t left = vm->cfg.mem_bytes - b->first_pass_at;

	if (!b->enabled) {
		b->enabled = vm_dirty_log_enable(vm, &b->cache);
	} else if (left) {
		/* The first pass, after logging is on: a page written meanwhile is in the log. */
		left = left < FIRST_PASS_STEP ? left : FIRST_PASS_STEP;
		migrate_copy_range(vm, &b->image, b->first_pass_at, left);
		b->first_pass_at += left;
	} else {
		harvest(b, vm, true);
		b->rounds++;
	}
}

static void age_step(struct guest_beside *b, struct vm *vm)
{
	b->pages += vm_mmu_test_and_clear_young(vm, 0, b->gfns, b->bits);
	tlb_flush_vm(vm); /* so that later accesses set A again (stress/access_tracking.c) */
	b->rounds++;
}

void guest_beside_step(struct vm *vm, void *ctx)
{
	struct guest_beside *b = ctx;
	uint64_t t0 = rdtsc(), dt, gap = MIGRATE_ROUND_GAP_US * tsc_khz / 1000;
	bool round;

	if (b->what == GUEST_BESIDE_NONE || !tsc_passed(b->next_round))
		return;
	round = b->age || (b->enabled && b->first_pass_at == vm->cfg.mem_bytes);
	if (b->age)
		age_step(b, vm);
	else
		dirty_log_step(b, vm);
	dt = rdtsc() - t0;
	b->work_cycles += dt;
	/* A round waits the gap (and no less than itself); the first pass only itself. */
	b->next_round = rdtsc() + (round && gap > dt ? gap : dt);
}

bool guest_beside_finish(struct guest_beside *b, struct vm *vm)
{
	uint64_t t0 = rdtsc();

	if (!b->dirty_log)
		return true;
	/* A guest that ended early: the protocol to its end all the same, the vCPUs stopped. */
	if (!b->enabled)
		b->enabled = vm_dirty_log_enable(vm, &b->cache);
	if (!b->enabled) {
		kprintf("mmuvisor: error: beside=dirty_log: out of memory for the log's bitmaps\n");
		return false;
	}
	migrate_copy_range(vm, &b->image, b->first_pass_at, vm->cfg.mem_bytes - b->first_pass_at);
	b->first_pass_at = vm->cfg.mem_bytes;
	/* The last round, as a migration's once the guest is paused: whatever the log holds. */
	b->final_dirty = harvest(b, vm, false);
	vm_dirty_log_disable(vm);
	b->work_cycles += rdtsc() - t0;
	b->differ = migrate_compare(vm, &b->image, &b->first_differ);
	b->checked = true;
	if (b->differ)
		kprintf("mmuvisor: beside=dirty_log: the copy differs from guest memory in %lu pages, the first at gpa 0x%lx\n",
			(unsigned long)b->differ, (unsigned long)b->first_differ);
	if (b->differ && vm->mmu) {
		unsigned int level;
		uint64_t spte = tdp_mmu_lookup(vm->mmu, b->first_differ >> PAGE_SHIFT, &level);

		kprintf("mmuvisor: beside=dirty_log: gpa 0x%lx: its TDP leaf is 0x%lx at level %u\n",
			(unsigned long)b->first_differ, (unsigned long)spte, level);
	}
	if (b->differ)
		migrate_describe(vm, &b->image, b->first_differ);
	return !b->differ;
}

void guest_beside_keys(const struct guest_beside *b, char *buf, size_t len)
{
	if (b->dirty_log)
		fmt_snprintf(buf, len, " beside=dirty_log wp=%s manual_protect=%s rounds=%lu pages_copied=%lu final_dirty=%lu harvest_cycles=%lu protect_cycles=%lu copy_check=%s",
			     b->locked ? "locked" : "lockless", b->manual_protect ? "on" : "off",
			     (unsigned long)b->rounds, (unsigned long)b->pages,
			     (unsigned long)b->final_dirty, (unsigned long)b->work_cycles,
			     (unsigned long)b->protect_cycles,
			     b->checked && !b->differ ? "ok" : "fail");
	else if (b->age)
		fmt_snprintf(buf, len, " beside=age age=%s rounds=%lu young=%lu age_cycles=%lu",
			     b->locked ? "locked" : "lockless", (unsigned long)b->rounds,
			     (unsigned long)b->pages, (unsigned long)b->work_cycles);
	else
		buf[0] = '\0';
}

void guest_beside_release(struct guest_beside *b)
{
	tdp_page_cache_release(&b->cache);
	if (b->bits)
		page_free(b->bits, b->bits_order);
	b->bits = NULL;
	migrate_image_free(&b->image);
}
