// SPDX-License-Identifier: MIT
/*
 * scenario=rcu_guest: how long a grace period takes while the other pCPUs
 * run guests. A pCPU in guest mode is offline to RCU (an extended quiescent
 * state), so synchronize_rcu() and a call_rcu() callback on the control CPU
 * should wait for nobody there, whatever the guests do and however long
 * they have run. Three rounds, each SAMPLES grace periods and SAMPLES
 * callbacks, median and p99 against the smp_call round trip:
 *   idle   the other pCPUs idle (their idle loop is offline too);
 *   spin   one vCPU per pCPU in a guest that never exits (guest/spin.c),
 *          measured right after the guests start and again duration_ms
 *          later (when=early, when=late);
 *   exits  one vCPU per pCPU exiting as fast as it can (guest/exits.c).
 * The checks that can fail: once settled (when=late: their first touches
 * of a page are behind them), the spinning guests take no exit while the
 * control CPU runs its grace periods (exits_during=0): nothing is sent to
 * get them out; and the flooding guests did exit. Timings are figures,
 * not checks.
 */
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/smp.h"
#include "arch/x86/tsc.h"
#include "boot/options.h"
#include "mm/rcu/rcu.h"
#include "stress/result.h"
#include "stress/scenarios.h"
#include "stress/vm_setup.h"
#include "virt/guest_abi.h"
#include "virt/vcpu.h"

#define SAMPLES 256
#define READY_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 30000

struct gp_round {
	uint64_t sync[SAMPLES], cb[SAMPLES];
};

static struct gp_round round_buf;

struct cb_probe {
	struct rcu_head head;
	atomic_ulong done_at;
};

static void cb_stamp(struct rcu_head *head)
{
	struct cb_probe *p = (struct cb_probe *)head;

	atomic_store(&p->done_at, rdtsc());
}

static void noop(void *arg)
{
	(void)arg;
}

/* The fastest of 32 smp_call round trips to another pCPU: the unit below. */
static uint64_t ipi_round_trip(void)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 32; i++) {
		uint64_t t0 = rdtsc(), t;

		smp_call_one(1, noop, NULL);
		t = rdtsc() - t0;
		best = t < best ? t : best;
	}
	return best;
}

static void sort(uint64_t *a, unsigned int n)
{
	for (unsigned int i = 1; i < n; i++)
		for (unsigned int j = i; j && a[j - 1] > a[j]; j--) {
			uint64_t t = a[j];

			a[j] = a[j - 1];
			a[j - 1] = t;
		}
}

/* SAMPLES synchronize_rcu() calls, then SAMPLES callbacks, each timed to its end. */
static void measure(struct gp_round *r)
{
	static struct cb_probe probe;

	for (unsigned int i = 0; i < SAMPLES; i++) {
		uint64_t t0 = rdtsc();

		synchronize_rcu();
		r->sync[i] = rdtsc() - t0;
	}
	for (unsigned int i = 0; i < SAMPLES; i++) {
		uint64_t t0 = rdtsc();

		atomic_store(&probe.done_at, 0);
		call_rcu(&probe.head, cb_stamp);
		while (!atomic_load(&probe.done_at)) {
			rcu_quiescent_state(); /* runs our callbacks once their grace period is over */
			cpu_relax();
		}
		r->cb[i] = atomic_load(&probe.done_at) - t0;
	}
	sort(r->sync, SAMPLES);
	sort(r->cb, SAMPLES);
}

static void report(const char *guests, const char *when, const struct gp_round *r, uint64_t ipi,
		   uint64_t exits_during)
{
	const uint64_t sm = r->sync[SAMPLES / 2], sp = r->sync[SAMPLES * 99 / 100];
	const uint64_t cm = r->cb[SAMPLES / 2], cp = r->cb[SAMPLES * 99 / 100];

	kprintf("RESULT scenario=rcu_guest phase=grace_period guests=%s when=%s pcpus=%u samples=%u sync_median_cycles=%lu sync_p99_cycles=%lu call_rcu_median_cycles=%lu call_rcu_p99_cycles=%lu ipi_rtt_cycles=%lu sync_median_ipi_rtts_x100=%lu sync_p99_ipi_rtts_x100=%lu exits_during=%lu\n",
		guests, when, smp_cpus_online() - 1, SAMPLES, (unsigned long)sm, (unsigned long)sp,
		(unsigned long)cm, (unsigned long)cp, (unsigned long)ipi,
		(unsigned long)(ipi ? sm * 100 / ipi : 0), (unsigned long)(ipi ? sp * 100 / ipi : 0),
		(unsigned long)exits_during);
}

static uint64_t vm_exits(const struct vm *vm)
{
	uint64_t n = 0;

	/* Racy reads of the vCPUs' own counters while they run: a figure, checked after vm_wait. */
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++)
		n += __atomic_load_n(&vm->vcpus[i].stats.exits, __ATOMIC_RELAXED);
	return n;
}

/*
 * One round with a VM of guest image on every other pCPU; false if it went
 * wrong. *settled_exits: spin, the exits during the late round; exits, the
 * hypercalls the guests made in all.
 */
static bool guest_round(const char *image, bool spin, uint64_t ipi, uint64_t *settled_exits)
{
	struct vm_mmu_config mmu = scenario_mmu_config();
	unsigned int n = smp_cpus_online() - 1;
	struct vm *vm = scenario_vm_create(image, n, &mmu, (uint64_t[4]){ 0 });
	bool ok;
	uint64_t e0;

	if (!vm)
		return false;
	vm_start(vm);
	ok = scenario_wait_all_reported(vm, 0, 1, READY_TIMEOUT_MS);
	if (ok) {
		e0 = vm_exits(vm);
		measure(&round_buf);
		report(spin ? "spin" : "exits", "early", &round_buf, ipi, vm_exits(vm) - e0);
	}
	if (ok && spin) { /* the guests run on; a grace period must not care how long */
		uint64_t deadline = tsc_deadline_ms(option(OPTION_DURATION_MS)), e1;

		while (!tsc_passed(deadline)) {
			rcu_quiescent_state();
			cpu_relax();
		}
		e1 = vm_exits(vm);
		measure(&round_buf);
		*settled_exits = vm_exits(vm) - e1;
		report("spin", "late", &round_buf, ipi, *settled_exits);
	}
	*(volatile uint64_t *)vm_gpa_to_hva(vm, GUEST_CONTROL, 8) = 1;
	ok = vm_wait(vm, STOP_TIMEOUT_MS) && ok;
	for (unsigned int i = 0; !spin && i < vm->cfg.nr_vcpus; i++)
		*settled_exits += vm->vcpus[i].result[1];
	vm_destroy(vm);
	return ok;
}

int scenario_rcu_guest(void)
{
	uint64_t ipi = ipi_round_trip(), spin_exits = ~0ull, hypercalls = 0;
	bool ok;

	measure(&round_buf);
	report("none", "idle", &round_buf, ipi, 0);
	ok = guest_round("spin", true, ipi, &spin_exits);
	ok = guest_round("exits", false, ipi, &hypercalls) && ok;
	kprintf("RESULT scenario=rcu_guest phase=check spin_exits_during_late_grace_periods=%ld flooding_guests_hypercalls=%lu\n",
		(long)spin_exits, (unsigned long)hypercalls);
	/* A spinning guest's pCPU is never asked for a quiescent state; the flooding ones exit. */
	return ok && spin_exits == 0 && hypercalls > 0 ? EXIT_PASS : EXIT_FAIL;
}
