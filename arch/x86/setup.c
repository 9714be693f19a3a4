// SPDX-License-Identifier: MIT
/*
 * Bringing up the machine on the boot CPU (arch/x86/setup.h has the order):
 * memory, ACPI, the local APIC, the TSC, then every other CPU.
 */
#include "arch/x86/acpi.h"
#include "arch/x86/apic.h"
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/interrupt.h"
#include "arch/x86/ipi.h"
#include "arch/x86/paging.h"
#include "arch/x86/percpu.h"
#include "arch/x86/pic.h"
#include "arch/x86/serial.h"
#include "arch/x86/smp.h"
#include "arch/x86/tsc.h"
#include "arch/x86/setup.h"
#include "arch/x86/shutdown.h"
#include "boot/handover.h"
#include "lib/printf.h"
#include "mm/page_alloc.h"
#include "mm/rcu/rcu.h"

#define LOW_MEMORY_END 0x100000
#define TRAMPOLINE_LIMIT 0x9f000 /* below the EBDA */
#define MIB (1ull << 20)

extern char _kernel_start[], _kernel_end[];

static struct mem_range usable[MB2_MAX_MEM_ENTRIES];
static struct mem_range reserved[MB2_MAX_MODULES + 3];

static bool overlaps_reserved(uint64_t start, uint64_t end, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		if (start < reserved[i].end && end > reserved[i].start)
			return true;
	return false;
}

/* The highest free page below the EBDA that nothing else claims. */
static uint64_t pick_trampoline_page(unsigned int nr_usable, unsigned int nr_reserved)
{
	uint64_t best = 0;

	for (unsigned int i = 0; i < nr_usable; i++) {
		uint64_t start = (usable[i].start + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
		uint64_t end = usable[i].end < TRAMPOLINE_LIMIT ? usable[i].end : TRAMPOLINE_LIMIT;

		for (uint64_t pa = end & ~(PAGE_SIZE - 1); pa >= start + PAGE_SIZE; pa -= PAGE_SIZE)
			if (pa - PAGE_SIZE >= 0x1000 && pa - PAGE_SIZE > best &&
			    !overlaps_reserved(pa - PAGE_SIZE, pa, nr_reserved)) {
				best = pa - PAGE_SIZE;
				break;
			}
	}
	return best;
}

void arch_memory_init(const struct mb2_info *mb, uint64_t mbi_pa)
{
	unsigned int nr_usable = mb2_usable_ranges(mb, usable, MB2_MAX_MEM_ENTRIES);
	unsigned int nr_reserved = 0;
	uint64_t usable_bytes = 0, top = 0, trampoline;
	struct page_alloc_stats st;
	const char *why;

	reserved[nr_reserved++] = (struct mem_range){ (uint64_t)_kernel_start,
						      (uint64_t)_kernel_end };
	reserved[nr_reserved++] = (struct mem_range){ mbi_pa, mbi_pa + mb->total_size };
	for (unsigned int i = 0; i < mb->nr_modules; i++)
		reserved[nr_reserved++] = (struct mem_range){ mb->modules[i].start,
							      mb->modules[i].end };
	trampoline = pick_trampoline_page(nr_usable, nr_reserved);
	if (!trampoline)
		machine_fail_config("no-low-memory", "no free page below 640 KiB for the AP trampoline");
	smp_set_trampoline_page(trampoline);
	/* Everything below 1 MiB stays out of the allocator: BIOS, EBDA, trampoline. */
	reserved[nr_reserved++] = (struct mem_range){ 0, LOW_MEMORY_END };

	for (unsigned int i = 0; i < nr_usable; i++) {
		usable_bytes += usable[i].end - usable[i].start;
		top = usable[i].end > top ? usable[i].end : top;
	}
	/* Map the ACPI tables too (types 3 and 4), not reserved holes far above RAM. */
	for (unsigned int i = 0; i < mb->nr_mmap; i++)
		if (mb->mmap[i].type == MB2_MMAP_ACPI_RECLAIMABLE || mb->mmap[i].type == MB2_MMAP_ACPI_NVS)
			top = mb->mmap[i].end > top ? mb->mmap[i].end : top;
	if (!page_alloc_init(usable, nr_usable, reserved, nr_reserved, &why))
		machine_fail_config("no-memory", "memory: %s", why);
	if (!paging_map_above_4g(top))
		machine_fail_config("no-memory",
				    "memory: out of pages while mapping RAM above 4 GiB");
	page_alloc_get_stats(&st);
	kprintf("mmuvisor: memory: %lu MiB usable in %u ranges (%s), %lu MiB free after reserving the kernel, boot information, %u modules and low memory; mapped up to 0x%lx\n",
		(unsigned long)(usable_bytes / MIB), nr_usable,
		mb->has_mmap ? "multiboot2 memory map" : "EFI memory map",
		(unsigned long)(st.free_pages * PAGE_SIZE / MIB), mb->nr_modules,
		(unsigned long)top);
}

/*
 * What the spec promises at entry (multiboot2 3.3): CR0.PE on, CR0.PG off,
 * EFLAGS.IF off. Anything else means the loader or firmware left the
 * machine in a state we do not expect: say so, since we reset it anyway.
 */
void arch_report_handover(void)
{
	const struct boot_handover *h = &boot_handover;
	bool sane = (h->cr0 & CR0_PE) && !(h->cr0 & CR0_PG) && !(h->eflags & RFLAGS_IF);

	kprintf("mmuvisor: handover: CR0=0x%x CR4=0x%x EFER=0x%x EFLAGS=0x%x: %s\n", h->cr0,
		h->cr4, h->efer_lo, h->eflags,
		sane ? "protected mode, paging off, interrupts off, as multiboot2 promises"
		     : "NOT the state multiboot2 promises (protected mode, no paging, IF=0)");
}

static atomic_uint call_check_answers;

static void call_check(void *arg)
{
	(void)arg;
	atomic_fetch_add(&call_check_answers, 1);
}

static void crash_on_purpose(void *arg)
{
	switch ((uintptr_t)arg) {
	case CRASH_UD:
		asm volatile("ud2");
		break;
	case CRASH_PF: /* PML4 slot 1 is never mapped */
		(void)*(volatile uint64_t *)0x8000000000ull;
		break;
	case CRASH_GP: /* non-canonical */
		(void)*(volatile uint64_t *)0x8000000000000000ull;
		break;
	}
}

void arch_crash_on_purpose(enum crash_kind kind)
{
	unsigned int last = 0;

	for_each_cpu(cpu, smp_online())
		last = (unsigned int)cpu;
	kprintf("mmuvisor: crash: faulting on cpu %u on purpose\n", last);
	smp_call_one(last, crash_on_purpose, (void *)(uintptr_t)kind);
}

void arch_smp_init(unsigned int max_cpus)
{
	unsigned int want = acpi.nr_cpus < max_cpus ? acpi.nr_cpus : max_cpus;

	rcu_init(want); /* before any AP starts: each comes online in RCU itself */
	rcu_online();
	smp_boot(want);
	kprintf("mmuvisor: smp: %u of %u CPUs online\n", smp_cpus_online(), want);
	unsigned long writes, targets;
	unsigned int logical = 0;
	const char *how = apic_x2apic_mode()   ? "x2APIC clusters" :
			  apic_xapic_cluster() ? "xAPIC clusters" : "xAPIC flat";

	for_each_cpu(cpu, smp_online())
		logical += cpu_data((unsigned int)cpu)->ipi_logical != 0;
	if (!logical)
		how = "one each";
	else if (logical < smp_cpus_online())
		how = "logical where the APIC ID allows, else one each";
	smp_call_all(call_check, NULL);
	ipi_mask_stats(&writes, &targets);
	kprintf("mmuvisor: smp: call-function on all CPUs: %u of %u answered (%lu ICR writes for %lu IPIs, %s)\n",
		atomic_load(&call_check_answers), smp_cpus_online(), writes, targets, how);
}

void arch_early_init(void)
{
	idt_init();
	percpu_init_this_cpu(0);
	console_early_init();
}

/* "0-3 8 10-11": the APIC IDs of node's CPUs, in MADT order, consecutive IDs joined. */
static void node_apic_ids(unsigned int node, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = 0;
	for (unsigned int c = 0; c < acpi.nr_cpus && at < len; c++) {
		uint32_t first = acpi.cpu_apic_id[c], last = first;

		if (acpi.cpu_node[c] != node)
			continue;
		while (c + 1 < acpi.nr_cpus && acpi.cpu_node[c + 1] == node &&
		       acpi.cpu_apic_id[c + 1] == last + 1)
			c++, last++;
		at += (size_t)fmt_snprintf(buf + at, len - at, first == last ? "%s%u" : "%s%u-%u",
					   at ? " " : "", first, last);
	}
}

/* The page allocator's zones, one per node, from the SRAT's memory ranges. */
static void numa_zones(void)
{
	struct mem_node_range r[PAGE_MAX_NODE_RANGES];
	unsigned int n = 0;
	const char *why = "";

	if (acpi.nr_nodes < 2)
		return;
	for (unsigned int i = 0; i < acpi.nr_numa_ranges && n < PAGE_MAX_NODE_RANGES; i++)
		r[n++] = (struct mem_node_range){ acpi.numa_range[i].base,
						  acpi.numa_range[i].base + acpi.numa_range[i].len,
						  acpi.numa_range[i].node };
	if (!page_alloc_set_nodes(r, n, &why))
		kprintf("mmuvisor: warning: numa: %s; the page allocator keeps one zone\n", why);
}

/* One line per NUMA node: its CPUs, its memory, its distances. */
static void numa_report(void)
{
	if (acpi.madt_problem)
		kprintf("mmuvisor: warning: acpi: %s\n", acpi.madt_problem);
	if (acpi.srat_problem)
		kprintf("mmuvisor: warning: acpi: %s\n", acpi.srat_problem);
	if (!acpi.nr_nodes) {
		kprintf("mmuvisor: numa: one node (no SRAT)\n");
		return;
	}
	for (unsigned int n = 0; n < acpi.nr_nodes; n++) {
		char ids[160], dist[3 * ACPI_MAX_NODES + 16];
		unsigned int cpus = 0, ranges = 0;
		uint64_t bytes = 0;
		size_t at = 0;

		for (unsigned int c = 0; c < acpi.nr_cpus; c++)
			cpus += acpi.cpu_node[c] == n;
		for (unsigned int r = 0; r < acpi.nr_numa_ranges; r++)
			if (acpi.numa_range[r].node == n)
				ranges++, bytes += acpi.numa_range[r].len;
		node_apic_ids(n, ids, sizeof(ids));
		dist[0] = 0;
		for (unsigned int m = 0; acpi.slit_found && m < acpi.nr_nodes; m++)
			at += (size_t)fmt_snprintf(dist + at, sizeof(dist) - at, " %u", acpi.distance[n][m]);
		kprintf("mmuvisor: numa: node %u (proximity domain %u): %u CPUs (APIC IDs %s), %lu MiB in %u range%s, distances%s\n",
			n, acpi.node_domain[n], cpus, cpus ? ids : "none", (unsigned long)(bytes >> 20), ranges,
			ranges == 1 ? "" : "s",
			acpi.slit_found ? dist : " unknown (no SLIT)");
	}
	if (acpi.numa_ignored)
		kprintf("mmuvisor: numa: %u SRAT entries ignored (more than %u nodes or %u ranges)\n",
			acpi.numa_ignored, ACPI_MAX_NODES, ACPI_MAX_NUMA_RANGES);
}

void arch_platform_init(const struct mb2_info *mb, unsigned int apic_mode)
{
	char err[256];

	if (!acpi_init(mb->rsdp, mb->rsdp_len, err, sizeof(err)))
		machine_fail_config("no-acpi", "%s", err);
	kprintf("mmuvisor: acpi: RSDP revision %d via %s, MADT lists %u enabled CPUs, %u I/O APICs, PM timer %s, S5 %s\n",
		acpi.rsdp_revision, acpi.has_xsdt ? "XSDT" : "RSDT", acpi.nr_cpus,
		acpi.nr_ioapics, acpi.pm_timer_port ? "yes" : "no",
		acpi.s5_found ? "yes" : "no");
	numa_report();
	numa_zones();
	if (!apic_select_mode(apic_mode, err, sizeof(err)))
		machine_fail_config("cpu-feature", "%s", err);
	pic_disable();
	if (!apic_x2apic_mode())
		paging_set_uncached(rdmsr(MSR_APIC_BASE) & ~0xfffull);
	{
		uint32_t max_id = 0;

		for (unsigned int i = 0; i < acpi.nr_cpus; i++)
			max_id = acpi.cpu_apic_id[i] > max_id ? acpi.cpu_apic_id[i] : max_id;
		apic_choose_logical_model(max_id);
	}
	this_cpu()->ipi_logical = apic_init_this_cpu();
	ipi_note_logical(this_cpu()->cpu, this_cpu()->ipi_logical);
	kprintf("mmuvisor: apic: %s (the CPU %s x2APIC)\n", apic_x2apic_mode() ? "x2apic" : "xapic",
		cpu_has_x2apic() ? "has" : "lacks");
	tsc_calibrate();
	apic_timer_calibrate();
}
