// SPDX-License-Identifier: MIT
#include "arch/x86/acpi.h"
#include "arch/x86/apic.h"
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/ipi.h"
#include "arch/x86/percpu.h"
#include "arch/x86/smp.h"
#include "arch/x86/tsc.h"
#include "arch/x86/interrupt.h"
#include "arch/x86/panic.h"
#include "lib/string.h"
#include "mm/rcu/rcu.h"
#include "mm/page_alloc.h"

#define AP_STACK_ORDER 2 /* 16 KiB */
#define AP_START_TIMEOUT_MS 1000

extern char trampoline_start[], trampoline_end[], trampoline_gdt[], trampoline_gdt_ptr[];
extern char trampoline_far_jump[], trampoline_long[], trampoline_cr3[];
extern char trampoline_stack[], trampoline_entry[], trampoline_cpu[];

static uint64_t trampoline_pa; /* immutable after smp_set_trampoline_page */
/*
 * Bits set once, by each CPU itself as it comes up (an atomic OR on its
 * word); read without atomics, since after the APs are up it never changes
 * and before that only the BSP reads it (smp_boot waits for each AP).
 */
cpumask_t smp_online_cpus;
unsigned int cpumask_nr_words = 1; /* arch/x86/cpumask.h; set before the APs start */

unsigned int smp_cpus_online(void)
{
	return cpumask_weight(&smp_online_cpus);
}

void smp_set_trampoline_page(uint64_t pa)
{
	trampoline_pa = pa;
}

/* Where a trampoline symbol ends up in the low page, as a pointer to patch. */
#define TRAMPOLINE_FIELD(type, sym) \
	((type *)(uintptr_t)(trampoline_pa + (uint64_t)((sym) - trampoline_start)))

static void trampoline_install(void)
{
	memcpy((void *)(uintptr_t)trampoline_pa, trampoline_start,
	       trampoline_end - trampoline_start);
	*TRAMPOLINE_FIELD(uint32_t, trampoline_gdt_ptr + 2) =
		(uint32_t)(trampoline_pa + (trampoline_gdt - trampoline_start));
	*TRAMPOLINE_FIELD(uint32_t, trampoline_far_jump) =
		(uint32_t)(trampoline_pa + (trampoline_long - trampoline_start));
	*TRAMPOLINE_FIELD(uint64_t, trampoline_cr3) = read_cr3();
}

static void mark_online(struct percpu *pc)
{
	kprintf("mmuvisor: cpu %u online (apic id %u%s)\n", pc->cpu, pc->apic_id,
		pc->cpu ? "" : ", boot CPU");
	atomic_store(&pc->online, true);
	__atomic_fetch_or(&smp_online_cpus.w[pc->cpu / 64], 1ull << (pc->cpu % 64), __ATOMIC_SEQ_CST);
}

static void cpu_work_run(struct percpu *pc)
{
	void (*fn)(void *) = atomic_load_explicit(&pc->work_fn, memory_order_acquire);

	if (!fn)
		return;
	fn(pc->work_arg);
	atomic_store_explicit(&pc->work_fn, NULL, memory_order_release);
}

/*
 * Idle: a quiescent state on every pass. With no RCU callbacks of its own
 * pending the CPU goes offline (an extended quiescent state) and halts until
 * an IPI; otherwise it keeps polling so its callbacks' grace period ends.
 */
_Noreturn void cpu_idle_loop(void)
{
	struct percpu *pc = this_cpu();

	for (;;) {
		cpu_work_run(pc);
		smp_call_handle();
		rcu_quiescent_state();
		if (rcu_cpu_has_callbacks()) {
			udelay(10);
			continue;
		}
		rcu_offline();
		if (!atomic_load_explicit(&pc->work_fn, memory_order_relaxed))
			safe_halt();
		rcu_online();
	}
}

/* cpu is one of mask's online CPUs other than the caller. */
static bool other_online(int cpu)
{
	return (unsigned int)cpu != this_cpu()->cpu && cpumask_test(&smp_online_cpus, (unsigned int)cpu);
}

void cpu_work_launch(const cpumask_t *targets, void (*fn)(void *arg), void *arg)
{
	cpumask_t mask;

	cpumask_clear(&mask);
	for_each_cpu(cpu, targets)
		if (other_online(cpu))
			cpumask_set(&mask, (unsigned int)cpu);
	for_each_cpu(cpu, &mask) {
		struct percpu *pc = cpu_data((unsigned int)cpu);

		if (atomic_load(&pc->work_fn))
			panic("cpu_work_launch: cpu %u is still busy with earlier work", pc->cpu);
		pc->work_arg = arg;
		atomic_store_explicit(&pc->work_fn, fn, memory_order_release);
	}
	ipi_send_mask(&mask, VEC_KICK);
}

void cpu_work_wait(const cpumask_t *targets, unsigned int timeout_ms)
{
	uint64_t deadline = tsc_deadline_ms(timeout_ms);

	for_each_cpu(cpu, targets) {
		struct percpu *pc = cpu_data((unsigned int)cpu);

		if (!other_online(cpu))
			continue;
		while (atomic_load_explicit(&pc->work_fn, memory_order_acquire)) {
			smp_call_handle();
			rcu_quiescent_state();
			cpu_relax();
			if (tsc_passed(deadline))
				panic("cpu_work_wait: cpu %u did not finish its work within %u ms",
				      pc->cpu, timeout_ms);
		}
	}
}

static _Noreturn void ap_entry(unsigned int cpu)
{
	struct percpu *pc = cpu_data(cpu);
	uint32_t id;

	percpu_init_this_cpu(cpu);
	pc->ipi_logical = apic_init_this_cpu();
	ipi_note_logical(cpu, pc->ipi_logical);
	id = apic_read_id();
	if (id != pc->apic_id)
		kprintf("mmuvisor: warning: cpu %u reports apic id %u, the MADT said %u\n", cpu,
			id, pc->apic_id);
	rcu_online();
	mark_online(pc);
	cpu_idle_loop();
}

static bool alloc_stacks(struct percpu *pc)
{
	char *stack = page_alloc(AP_STACK_ORDER), *nmi = page_alloc(0), *df = page_alloc(0);

	if (!stack || !nmi || !df)
		return false;
	pc->stack_top = stack + (PAGE_SIZE << AP_STACK_ORDER);
	pc->nmi_stack_top = (uint64_t)(nmi + PAGE_SIZE);
	pc->df_stack_top = (uint64_t)(df + PAGE_SIZE);
	return true;
}

static bool start_ap(struct percpu *pc)
{
	uint64_t deadline;
	uint8_t vector = trampoline_pa >> 12;

	*TRAMPOLINE_FIELD(uint64_t, trampoline_stack) = (uint64_t)pc->stack_top;
	*TRAMPOLINE_FIELD(uint64_t, trampoline_entry) = (uint64_t)ap_entry;
	*TRAMPOLINE_FIELD(uint64_t, trampoline_cpu) = pc->cpu;
	atomic_thread_fence(memory_order_seq_cst);

	/* The MP startup protocol (SDM 8.4.4.1): INIT, 10 ms, SIPI, 200 us, SIPI. */
	apic_send_icr(pc->apic_id, APIC_DM_INIT | APIC_LEVEL_ASSERT);
	udelay(10000);
	apic_send_icr(pc->apic_id, APIC_DM_STARTUP | vector);
	udelay(200);
	if (!atomic_load(&pc->online))
		apic_send_icr(pc->apic_id, APIC_DM_STARTUP | vector);
	deadline = tsc_deadline_ms(AP_START_TIMEOUT_MS);
	while (!atomic_load(&pc->online))
		if (tsc_passed(deadline))
			return false;
	return true;
}

void smp_boot(unsigned int max_cpus)
{
	uint32_t bsp_id = apic_read_id();
	unsigned int next = 1, too_high = 0;

	cpu_data(0)->apic_id = bsp_id;
	{
		unsigned int most = acpi.nr_cpus < max_cpus ? acpi.nr_cpus : max_cpus;

		cpumask_nr_words = (most + 63) / 64 ? (most + 63) / 64 : 1;
	}
	for (unsigned int i = 0; i < acpi.nr_cpus; i++)
		if (acpi.cpu_apic_id[i] == bsp_id)
			page_alloc_set_cpu_node(0, acpi.cpu_node[i]);
	mark_online(cpu_data(0));
	if (acpi.nr_cpus_ignored)
		kprintf("mmuvisor: warning: ignoring %u CPUs beyond the first %u\n",
			acpi.nr_cpus_ignored, PLATFORM_MAX_CPUS);
	trampoline_install();
	/*
	 * Node by node (the MADT's order within a node), so that CPU numbers,
	 * and the vCPUs placed on them in order (virt/vm.c), fill one node
	 * before the next: a box whose MADT interleaves its sockets still
	 * gets a VM's vCPUs on as few nodes as they fit.
	 */
	for (unsigned int node = 0, i = 0; node < (acpi.nr_nodes ? acpi.nr_nodes : 1) &&
					   next < max_cpus; i++) {
		struct percpu *pc = cpu_data(next);

		if (i == acpi.nr_cpus) {
			i = (unsigned int)-1;
			node++;
			continue;
		}
		if (acpi.cpu_node[i] != node || acpi.cpu_apic_id[i] == bsp_id ||
		    acpi.cpu_apic_id[i] == 0xffffffff)
			continue;
		if (!apic_x2apic_mode() && acpi.cpu_apic_id[i] > 0xfe) {
			too_high++;
			continue;
		}
		pc->cpu = next;
		pc->apic_id = acpi.cpu_apic_id[i];
		page_alloc_set_cpu_node(next, acpi.cpu_node[i]); /* before its stacks: they come from there */
		if (!alloc_stacks(pc)) {
			kprintf("mmuvisor: warning: out of memory for cpu %u's stacks\n", next);
			break;
		}
		if (!start_ap(pc)) {
			kprintf("mmuvisor: warning: cpu %u (apic id %u) did not come up within %d ms\n",
				next, pc->apic_id, AP_START_TIMEOUT_MS);
			continue;
		}
		next++;
	}
	if (too_high)
		kprintf("mmuvisor: warning: %u CPUs have APIC IDs above 254, which need x2APIC mode (%s): skipped\n",
			too_high, cpu_has_x2apic() ? "this boot forced xAPIC: drop apic=xapic"
						  : "this CPU has no x2APIC: enable it in the firmware setup");
}
