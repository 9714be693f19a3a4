// SPDX-License-Identifier: MIT
/*
 * scenario=dirty_log: populate, enable the log, then iterations rounds in
 * which the vCPUs keep writing while the control CPU gets (and, with manual
 * protect, clears) the log and copies every reported page into a
 * destination image, as live migration does. Then the vCPUs stop, a final
 * round copies what is left, and the destination must equal guest memory
 * byte for byte. Runs wp=lockless and wp=locked with split=eager, then
 * wp=lockless with split=lazy, on 2 MiB-mapped memory, in one boot. Then
 * the contended case: vCPUs demand-fault while the control CPU
 * write-protects beside them, lockless and locked (stress/fault_beside.c).
 */
#include "arch/x86/console.h"
#include "arch/x86/tsc.h"
#include "boot/options.h"
#include "mm/page_alloc.h"
#include "stress/migrate.h"
#include "stress/result.h"
#include "stress/scenarios.h"
#include "stress/vm_setup.h"
#include "virt/dirty_log.h"
#include "virt/mmu.h"
#include "virt/guest_abi.h"

#define WAIT_MS 60000

static bool wait_reports(struct vm *vm, unsigned int slot)
{
	uint64_t deadline = tsc_deadline_ms(WAIT_MS);

	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++)
		while (!__atomic_load_n(&vm->vcpus[i].result[slot], __ATOMIC_ACQUIRE)) {
			if (tsc_passed(deadline) || atomic_load(&vm->stopping))
				return false;
			rcu_quiescent_state();
			cpu_relax();
		}
	return true;
}

static bool run_mode(bool wp_locked, bool split_lazy, bool manual)
{
	struct vm_mmu_config mmu = scenario_mmu_config();
	uint64_t per = option(OPTION_MEM_PER_VCPU), iters = option(OPTION_ITERATIONS);
	unsigned int n = scenario_nr_vcpus();
	uint64_t len = n * per, words, get_sum = 0, clear_sum = 0, dirty_sum = 0, t0, t_loop;
	uint64_t enable_cycles = 0, disable_cycles, final_dirty, lost = 0, written = 0;
	uint64_t first_gpa = 0;
	uint64_t *bits;
	struct migrate_image dst;
	struct tdp_page_cache cache = { 0 };
	unsigned int bits_order;
	struct vm *vm;
	char keys[160];
	bool ok;

	mmu.policy.wp_locked = wp_locked;
	mmu.split_lazy = split_lazy;
	mmu.max_level = PG_LEVEL_2M; /* so that logging has huge pages to split */
	vm = scenario_vm_create("dirty_log", n, &mmu, (uint64_t[4]){ per });
	if (!vm)
		return false;
	words = vm_dirty_log_words(vm);
	bits_order = page_order_for(words * 8);
	bits = page_alloc_zeroed(bits_order);
	ok = migrate_image_alloc(&dst, guest_data_base(vm->cfg.nr_vcpus), len) && bits;
	vm_start(vm);
	ok = ok && wait_reports(vm, 2); /* populated */
	if (ok) {
		t0 = rdtsc();
		ok = vm_dirty_log_enable(vm, &cache);
		enable_cycles = rdtsc() - t0;
		/*
		 * The first pass of a migration, after logging is on: a page
		 * written while it is copied is in the log for a later round.
		 */
		if (ok)
			migrate_copy_range(vm, &dst, guest_data_base(vm->cfg.nr_vcpus), len);
	}
	t_loop = rdtsc();
	for (uint64_t it = 0; ok && it < iters && !atomic_load(&vm->stopping); it++) {
		uint64_t t1 = rdtsc(), t2, d;

		udelay(MIGRATE_ROUND_GAP_US); /* let the vCPUs dirty some memory */
		t1 = rdtsc();
		d = vm_dirty_log_get(vm, bits, manual);
		t2 = rdtsc();
		if (manual)
			vm_dirty_log_clear(vm, bits);
		clear_sum += rdtsc() - t2;
		get_sum += t2 - t1;
		dirty_sum += d;
		migrate_copy_dirty(vm, &dst, bits);
		rcu_quiescent_state();
	}
	t_loop = rdtsc() - t_loop;
	*(volatile uint64_t *)vm_gpa_to_hva(vm, GUEST_CONTROL, 8) = 1;
	ok = vm_wait(vm, WAIT_MS) && ok;
	/*
	 * The final round, vCPUs stopped, by the same protocol: whatever the
	 * log holds. (Not a full write-protect: that would not find a missed
	 * write either, but the scenario checks the protocol as used.)
	 */
	final_dirty = ok ? vm_dirty_log_get(vm, bits, manual) : 0;
	if (ok)
		migrate_copy_dirty(vm, &dst, bits);
	t0 = rdtsc();
	vm_dirty_log_disable(vm);
	disable_cycles = rdtsc() - t0;
	lost = ok ? migrate_compare(vm, &dst, &first_gpa) : 0;
	if (lost) {
		const uint64_t *src = vm_gpa_to_hva(vm, first_gpa, PAGE_SIZE);
		const uint64_t *copy = (const uint64_t *)migrate_image_page(&dst, first_gpa);

		kprintf("mmuvisor: dirty_log: page 0x%lx differs: guest has vcpu %lu pass %lu, the copy vcpu %lu pass %lu\n",
			(unsigned long)first_gpa, (unsigned long)(src[0] >> 48),
			(unsigned long)(src[0] & 0xffffffffffffull), (unsigned long)(copy[0] >> 48),
			(unsigned long)(copy[0] & 0xffffffffffffull));
	}
	for (unsigned int i = 0; i < n; i++)
		written += vm->vcpus[i].result[1];
	scenario_vm_keys(vm, keys, sizeof(keys));
	kprintf("RESULT scenario=dirty_log phase=iterations %s wp=%s split=%s manual_protect=%s iterations=%lu fast_faults=%lu enable_cycles=%lu get_cycles_avg=%lu clear_cycles_avg=%lu dirty_pages_avg=%lu final_dirty=%lu disable_cycles=%lu vcpu_writes=%lu vcpu_writes_per_mcycle=%lu lost_pages=%lu\n",
		keys, wp_locked ? "locked" : "lockless", split_lazy ? "lazy" : "eager",
		manual ? "on" : "off", (unsigned long)iters,
		(unsigned long)atomic_load(&vm_mmu_stats(vm)->fast_faults), (unsigned long)enable_cycles,
		(unsigned long)(get_sum / (iters ? iters : 1)),
		(unsigned long)(clear_sum / (iters ? iters : 1)),
		(unsigned long)(dirty_sum / (iters ? iters : 1)), (unsigned long)final_dirty,
		(unsigned long)disable_cycles, (unsigned long)written,
		(unsigned long)(t_loop ? written * 1000000 / t_loop : 0), (unsigned long)lost);
	if (lost) {
		kprintf("mmuvisor: dirty_log: %lu pages of the copy differ from guest memory\n",
			(unsigned long)lost);
		ok = false;
	}
	tdp_page_cache_release(&cache);
	if (bits)
		page_free(bits, bits_order);
	migrate_image_free(&dst);
	vm_destroy(vm);
	return ok;
}

int scenario_dirty_log(void)
{
	bool manual = option(OPTION_MANUAL_PROTECT);
	bool a = run_mode(false, false, manual);
	bool b = run_mode(true, false, manual);
	bool c = run_mode(false, true, manual);
	bool contended = scenario_fault_beside("dirty_log", BESIDE_WP);

	return a && b && c && contended ? EXIT_PASS : EXIT_FAIL;
}
