// SPDX-License-Identifier: MIT
/*
 * scenario=isolation: vms=K VMs (3 or more) side by side, on pCPUs they
 * share or split (placement=), each vCPU writing its VM's pattern into its
 * memory and reading it back (guest/isolation.c). The last VM's vCPU 0
 * triple-faults after two rounds; the one before it floods hypercalls.
 * Meanwhile the control CPU zaps, write-protects and ages each live VM's
 * memory in turn. It checks:
 *   - no vCPU ever reads another VM's pattern, or loses a write;
 *   - the faulting VM is stopped, and every other VM's vCPUs make rounds
 *     after that;
 *   - placement=split: flushes of VM 0 send no IPI to a pCPU that runs only
 *     other VMs' vCPUs (the kicks each pCPU took, counted by the pCPU);
 *   - every page goes back to the allocator once the VMs are destroyed.
 */
#include "arch/x86/console.h"
#include "arch/x86/percpu.h"
#include "arch/x86/smp.h"
#include "arch/x86/tsc.h"
#include "boot/options.h"
#include "mm/page_alloc.h"
#include "mm/rcu/rcu.h"
#include "stress/result.h"
#include "stress/scenarios.h"
#include "stress/vm_setup.h"
#include "virt/guest_abi.h"
#include "virt/mmu.h"
#include "virt/sched.h"
#include "virt/shootdown.h"

#define MAX_VMS 16
#define READY_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS 60000
#define SPLIT_FLUSHES 64
#define SPLIT_QUIET_MS 50

enum role { ROLE_CHECK, ROLE_FAULT, ROLE_FLOOD };

struct isolation {
	struct vm *vms[MAX_VMS];
	unsigned int nr_vms, nr_vcpus;
	uint64_t per_vcpu;
	uint64_t zaps, write_protects, ages, young;
	uint64_t at_stop[MAX_VMS][VM_MAX_VCPUS]; /* each vCPU's rounds when the faulting VM stopped */
	bool stop_seen;
};

static enum role role_of(const struct isolation *s, unsigned int k)
{
	return k == s->nr_vms - 1 ? ROLE_FAULT : k == s->nr_vms - 2 ? ROLE_FLOOD : ROLE_CHECK;
}

static uint64_t rng(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static uint64_t rounds(const struct vcpu *v)
{
	return __atomic_load_n(&v->result[0], __ATOMIC_ACQUIRE);
}

/*
 * Every checking vCPU has made a round (the flooder has said it floods),
 * or its VM has stopped already: the checks at the end say why.
 */
static bool all_ready(const struct isolation *s)
{
	for (unsigned int k = 0; k < s->nr_vms; k++)
		for (unsigned int i = 0; role_of(s, k) != ROLE_FAULT && i < s->nr_vcpus &&
					 !atomic_load(&s->vms[k]->stopping); i++)
			if (!rounds(&s->vms[k]->vcpus[i]))
				return false;
	return true;
}

/* One operation on VM k's memory: a zap, a write-protect or an aging pass of up to 2 MiB. */
static void disturb(struct isolation *s, unsigned int k, unsigned int op, uint64_t *seed)
{
	struct vm *vm = s->vms[k];
	gfn_t first = guest_data_base(s->nr_vcpus) >> PAGE_SHIFT;
	gfn_t pages = s->nr_vcpus * (s->per_vcpu >> PAGE_SHIFT), len = 1 + rng(seed) % 512;
	gfn_t start = first + rng(seed) % pages;
	uint64_t young[512 / 64];

	if (start + len > first + pages)
		len = first + pages - start;
	switch (op % 3) {
	case 0:
		vm_mmu_zap_range(vm, start, start + len);
		s->zaps++;
		break;
	case 1:
		vm_mmu_write_protect_range(vm, start, start + len);
		tlb_flush_vm(vm);
		s->write_protects++;
		break;
	default:
		s->young += vm_mmu_test_and_clear_young(vm, start, start + len, young);
		tlb_flush_vm(vm); /* so that later accesses set A again */
		s->ages++;
		break;
	}
}

/* The first time the faulting VM is seen stopping: where every other vCPU's rounds stand. */
static void note_stop(struct isolation *s)
{
	struct vm *bad = s->vms[s->nr_vms - 1];

	if (s->stop_seen || !atomic_load(&bad->stopping))
		return;
	s->stop_seen = true;
	for (unsigned int k = 0; k + 1 < s->nr_vms; k++)
		for (unsigned int i = 0; i < s->nr_vcpus; i++)
			s->at_stop[k][i] = rounds(&s->vms[k]->vcpus[i]);
}

/*
 * placement=split: flush VM 0 again and again while the others run, and
 * count the kick IPIs the pCPUs of the others took meanwhile (nothing else
 * kicks them now: the faulting VM is long stopped, the control CPU is the
 * only flusher). Returns those kicks; *own gets VM 0's pCPUs' kicks.
 */
static uint64_t split_kicks(struct isolation *s, uint64_t *own)
{
	static uint64_t before[PLATFORM_MAX_CPUS];
	cpumask_t mine;
	uint64_t foreign = 0, deadline;

	/*
	 * A kick of an earlier flush may still be on its way: its target can
	 * leave the guest by itself before the IPI lands (the flooder does all
	 * the time), and takes it at a later exit. A quiet spell first.
	 */
	deadline = tsc_deadline_ms(SPLIT_QUIET_MS);
	while (!tsc_passed(deadline)) {
		smp_call_handle();
		rcu_quiescent_state();
		cpu_relax();
	}
	vm_vcpu_pcpus(s->vms[0], &mine);
	for (unsigned int c = 1; c < smp_cpus_online(); c++)
		before[c] = atomic_load(&cpu_data(c)->kicks_received);
	for (unsigned int f = 0; f < SPLIT_FLUSHES; f++)
		tlb_flush_vm(s->vms[0]);
	*own = 0;
	for (unsigned int c = 1; c < smp_cpus_online(); c++) {
		uint64_t d = atomic_load(&cpu_data(c)->kicks_received) - before[c];

		if (cpumask_test(&mine, c))
			*own += d;
		else
			foreign += d;
	}
	return foreign;
}

static bool create_vms(struct isolation *s)
{
	struct vm_mmu_config mmu = scenario_mmu_config();

	for (unsigned int k = 0; k < s->nr_vms; k++) {
		uint64_t args[4] = { s->per_vcpu, k + 1, s->nr_vms, role_of(s, k) };
		struct vm_config cfg;
		char err[160];

		if (!scenario_vm_config("isolation", s->nr_vcpus, &mmu, args, &cfg))
			return false;
		cfg.place_index = k;
		cfg.place_count = s->nr_vms;
		cfg.place_split = option(OPTION_PLACEMENT) == PLACEMENT_SPLIT;
		s->vms[k] = vm_create(&cfg, err, sizeof(err));
		if (!s->vms[k]) {
			kprintf("mmuvisor: error: cannot create VM %u of %u: %s\n", k + 1, s->nr_vms, err);
			return false;
		}
	}
	return true;
}

int scenario_isolation(void)
{
	static struct isolation s;
	struct page_alloc_stats before, after;
	uint64_t seed = 0x9e3779b97f4a7c15ull, deadline, hard, iter = 0, own = 0, foreign = 0;
	uint64_t min_rounds = ~0ull, flood = 0, context_flushes = 0, cross = 0, lost = 0;
	unsigned int progressed = 0, checked = 0, stopped = 0;
	bool split = option(OPTION_PLACEMENT) == PLACEMENT_SPLIT, ok;

	s.nr_vms = option(OPTION_VMS) ? (unsigned int)option(OPTION_VMS) : 3;
	s.nr_vcpus = scenario_nr_vcpus();
	s.per_vcpu = option(OPTION_MEM_PER_VCPU);
	if (s.nr_vms < 3) {
		kprintf("mmuvisor: error: scenario=isolation needs vms=3 or more (one faults, one floods hypercalls, the rest check), not %u\n",
			s.nr_vms);
		result_done(EXIT_CONFIG, "config");
	}
	if (split && !option(OPTION_VCPUS)) /* each VM gets its share of the pCPUs */
		s.nr_vcpus = (smp_cpus_online() - 1) / s.nr_vms ? (smp_cpus_online() - 1) / s.nr_vms : 1;
	page_alloc_get_stats(&before);
	if (!create_vms(&s)) {
		for (unsigned int k = 0; k < s.nr_vms && s.vms[k]; k++)
			vm_destroy(s.vms[k]);
		result_done(EXIT_CONFIG, "config");
	}
	sched_launch(s.vms, s.nr_vms);

	deadline = tsc_deadline_ms(READY_TIMEOUT_MS);
	while (!all_ready(&s) && !tsc_passed(deadline)) {
		note_stop(&s);
		smp_call_handle();
		rcu_quiescent_state();
		cpu_relax();
	}
	ok = all_ready(&s);
	deadline = tsc_deadline_ms(option(OPTION_DURATION_MS));
	hard = tsc_deadline_ms(option(OPTION_DURATION_MS) + READY_TIMEOUT_MS);
	/* For duration_ms, and at least until the faulting VM has stopped. */
	while (ok && (!tsc_passed(deadline) || !s.stop_seen) && !tsc_passed(hard)) {
		unsigned int k = (unsigned int)(iter % s.nr_vms);

		note_stop(&s);
		if (!atomic_load(&s.vms[k]->stopping))
			disturb(&s, k, (unsigned int)(iter / s.nr_vms), &seed);
		iter++;
		smp_call_handle();
		rcu_quiescent_state();
	}
	if (ok && split)
		foreign = split_kicks(&s, &own);
	for (unsigned int k = 0; k < s.nr_vms; k++)
		*(volatile uint64_t *)vm_gpa_to_hva(s.vms[k], GUEST_CONTROL, 8) = 1; /* stop */
	vm_group_wait(s.vms, s.nr_vms, STOP_TIMEOUT_MS);

	for (unsigned int k = 0; k < s.nr_vms; k++) {
		struct vm *vm = s.vms[k];

		stopped += atomic_load(&vm->stopping) && !atomic_load(&vm->unresponsive);
		for (unsigned int i = 0; i < s.nr_vcpus; i++) {
			struct vcpu *v = &vm->vcpus[i];

			context_flushes += v->arch.context_flushes;
			cross += v->result[2] == 1;
			lost += v->result[2] == 2;
			if (role_of(&s, k) == ROLE_FAULT)
				continue;
			if (role_of(&s, k) == ROLE_FLOOD && i == 0) {
				flood = v->result[1];
				continue;
			}
			checked++;
			progressed += s.stop_seen && v->result[0] > s.at_stop[k][i];
			min_rounds = v->result[0] < min_rounds ? v->result[0] : min_rounds;
		}
	}
	kprintf("RESULT scenario=isolation phase=run vms=%u placement=%s vcpus=%u mmu=%s zaps=%lu write_protects=%lu ages=%lu young=%lu rounds_min=%lu cross_reads=%lu lost_writes=%lu stopped_vms=%u progressed_after_stop=%u of %u flood_hypercalls=%lu context_flushes=%lu\n",
		s.nr_vms, split ? "split" : "shared", s.nr_vcpus,
		s.vms[0]->cfg.mmu.shadow ? "shadow" : "tdp", (unsigned long)s.zaps,
		(unsigned long)s.write_protects, (unsigned long)s.ages, (unsigned long)s.young,
		(unsigned long)(checked ? min_rounds : 0), (unsigned long)cross, (unsigned long)lost,
		stopped, progressed, checked, (unsigned long)flood, (unsigned long)context_flushes);
	if (split)
		kprintf("RESULT scenario=isolation phase=split_flush vms=%u flushes=%u kicks_own=%lu kicks_foreign=%lu\n",
			s.nr_vms, SPLIT_FLUSHES, (unsigned long)own, (unsigned long)foreign);
	ok = ok && s.stop_seen && cross == 0 && lost == 0 && stopped == 1 &&
	     atomic_load(&s.vms[s.nr_vms - 1]->stopping) && progressed == checked && checked &&
	     flood > 0 && (!split || foreign == 0);
	for (unsigned int k = 0; k < s.nr_vms; k++)
		vm_destroy(s.vms[k]);
	vm_mmu_drain_this_cpu();
	rcu_barrier();
	page_alloc_get_stats(&after);
	kprintf("RESULT scenario=isolation phase=teardown vms=%u leaked_pages=%ld\n", s.nr_vms,
		(long)(before.free_pages - after.free_pages));
	ok = ok && before.free_pages == after.free_pages;
	result_done(ok ? EXIT_PASS : EXIT_FAIL, ok ? NULL : "check");
}
