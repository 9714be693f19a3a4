// SPDX-License-Identifier: MIT
/*
 * VM creation and teardown: guest RAM from gpa 0 in one memslot of 2 MiB
 * host chunks, the guest's own page tables and GDT written into it, the boot
 * information, the TDP MMU, and the vCPUs (vCPU i runs on pCPU i + 1).
 */
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/percpu.h"
#include "arch/x86/smp.h"
#include "virt/shootdown.h"
#include "arch/x86/tsc.h"
#include "lib/plant.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "mm/page_alloc.h"
#include "virt/guest_abi.h"
#include "virt/dirty_log.h"
#include "virt/mmu.h"
#include "virt/pc.h"
#include "virt/sched.h"
#include "virt/vcpu.h"
#include "virt/vm.h"

#define CHUNK_ORDER 9 /* 2 MiB */
#define CHUNK_PAGES (1ull << CHUNK_ORDER)
#define CHUNK_BYTES (PAGE_SIZE << CHUNK_ORDER)

static atomic_uint next_vm_id;
static struct vm *_Atomic plant_first_vm; /* plant=cross_vm: a group's first VM */

static bool vm_gfn_to_pfn(void *owner, gfn_t gfn, struct mmu_pfn_info *out)
{
	struct vm *vm = owner;

	for (unsigned int i = 0; i < vm->nr_slots; i++) {
		const struct memslot *s = &vm->slots[i];
		uint64_t off = gfn - s->base_gfn; /* wraps, so too big, below the slot */

		if (off >= s->npages)
			continue;
		*out = (struct mmu_pfn_info){
			.pfn = s->chunk_pfn[off / CHUNK_PAGES] + off % CHUNK_PAGES,
			.writable = s->writable,
			/* A PC's first 2 MiB mixes RAM and the ROM slot: 4 KiB pages there. */
			.max_level = vm->cfg.pc && gfn < CHUNK_PAGES ? PG_LEVEL_4K : vm->cfg.mmu.max_level,
			.dirty_logging = atomic_load_explicit(&s->logging, memory_order_acquire),
		};
		return true;
	}
	return false;
}

const struct mmu_ops vm_mmu_ops = {
	.gfn_to_pfn = vm_gfn_to_pfn,
	.mark_dirty = vm_mark_dirty,
};

/*
 * plant=cross_vm: a group's second VM gets the first's page for each gfn
 * of its data (the MMUs get these ops instead, so the real ones pay nothing).
 */
static bool plant_cross_vm_gfn_to_pfn(void *owner, gfn_t gfn, struct mmu_pfn_info *out)
{
	struct vm *vm = owner, *first = atomic_load(&plant_first_vm);

	if (vm->cfg.place_index == 1 && first && first != vm && !vm->cfg.pc &&
	    gfn >= guest_data_base(vm->cfg.nr_vcpus) >> PAGE_SHIFT)
		return vm_gfn_to_pfn(first, gfn, out);
	return vm_gfn_to_pfn(vm, gfn, out);
}

const struct mmu_ops vm_mmu_ops_planted_cross_vm = {
	.gfn_to_pfn = plant_cross_vm_gfn_to_pfn,
	.mark_dirty = vm_mark_dirty,
};

void *vm_gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < vm->nr_slots; i++) {
		const struct memslot *s = &vm->slots[i];
		uint64_t start = s->base_gfn << PAGE_SHIFT, end = start + (s->npages << PAGE_SHIFT);
		uint64_t off = gpa - start;

		if (gpa < start || gpa + len > end || gpa + len < gpa)
			continue;
		/* A range must not straddle two host chunks. */
		if (off / CHUNK_BYTES != (off + (len ? len - 1 : 0)) / CHUNK_BYTES)
			return NULL;
		return (uint8_t *)platform_phys_to_virt(s->chunk_pfn[off / CHUNK_BYTES] << PAGE_SHIFT) +
		       off % CHUNK_BYTES;
	}
	return NULL;
}

static void free_slot(struct memslot *s)
{
	_Atomic uint64_t *dirty = atomic_load_explicit(&s->dirty, memory_order_relaxed);

	if (dirty)
		page_free((void *)dirty, s->dirty_order);
	atomic_store_explicit(&s->dirty, NULL, memory_order_relaxed);
	for (uint64_t c = 0; s->chunk_pfn && c < (s->npages + CHUNK_PAGES - 1) / CHUNK_PAGES; c++)
		if (s->chunk_pfn[c])
			page_free(platform_phys_to_virt(s->chunk_pfn[c] << PAGE_SHIFT), CHUNK_ORDER);
	if (s->chunk_pfn)
		page_free(s->chunk_pfn, 0);
	s->chunk_pfn = NULL;
}

/*
 * The node chunk c of guest RAM comes from. numa=local: the node of the
 * vCPU whose share it is (a synthetic guest's per-vCPU regions from
 * GUEST_DATA_BASE, a PC guest's RAM split evenly; vCPU i runs on pCPU
 * i + 1); interleave: round robin; off: the creating CPU's, as without NUMA.
 */
static unsigned int chunk_node(const struct vm *vm, uint64_t c)
{
	uint64_t gpa = c * CHUNK_BYTES, base = vm->cfg.pc ? 0 : guest_data_base(vm->cfg.nr_vcpus);
	uint64_t span = vm->cfg.mem_bytes > base ? vm->cfg.mem_bytes - base : 1;
	unsigned int v;

	switch (vm->cfg.numa) {
	case VM_NUMA_INTERLEAVE:
		return (unsigned int)(c % page_alloc_nr_nodes());
	case VM_NUMA_OFF:
		return page_alloc_cpu_node(platform_cpu_id());
	default:
		v = gpa < base ? 0 : (unsigned int)((gpa - base) * vm->cfg.nr_vcpus / span);
		if (v >= vm->cfg.nr_vcpus)
			v = vm->cfg.nr_vcpus - 1;
		return page_alloc_cpu_node(v + 1);
	}
}

/* On a NUMA host: how much of the VM's RAM each node holds, in one line. */
static void report_numa(const struct vm *vm, const struct memslot *s, uint64_t chunks)
{
	static const char *const names[] = { "local", "interleave", "off" };
	uint64_t mib[PAGE_MAX_NODES] = { 0 };
	char line[40 * PAGE_MAX_NODES] = "";
	size_t at = 0;

	for (uint64_t c = 0; c < chunks; c++)
		mib[page_node(platform_phys_to_virt(s->chunk_pfn[c] << PAGE_SHIFT))] += CHUNK_BYTES >> 20;
	for (unsigned int n = 0; n < page_alloc_nr_nodes(); n++)
		at += (size_t)fmt_snprintf(line + at, sizeof(line) - at, "%snode %u %lu MiB", n ? ", " : "",
					   n, (unsigned long)mib[n]);
	kprintf("vm %u: RAM by node (numa=%s): %s\n", vm->id, names[vm->cfg.numa], line);
}

static bool add_ram_slot(struct vm *vm, uint64_t bytes)
{
	struct memslot *s = &vm->slots[vm->nr_slots];
	uint64_t chunks = (bytes + CHUNK_BYTES - 1) / CHUNK_BYTES;

	if (chunks > PAGE_SIZE / sizeof(uint64_t))
		return false;
	s->base_gfn = 0;
	s->npages = chunks * CHUNK_PAGES;
	s->writable = true;
	s->chunk_pfn = page_alloc_zeroed(0);
	if (!s->chunk_pfn)
		return false;
	vm->nr_slots++;
	for (uint64_t c = 0; c < chunks; c++) {
		void *chunk = page_alloc_node(CHUNK_ORDER, chunk_node(vm, c));

		if (!chunk)
			return false;
		__builtin_memset(chunk, 0, CHUNK_BYTES);
		s->chunk_pfn[c] = platform_virt_to_phys(chunk) >> PAGE_SHIFT;
	}
	if (page_alloc_nr_nodes() > 1)
		report_numa(vm, s, chunks);
	return true;
}

/* A PC's ROM area: read-only to the guest, in a host chunk of its own (virt/pc.c fills it). */
static bool add_rom_slot(struct vm *vm, uint64_t gpa, uint64_t bytes)
{
	struct memslot *s = &vm->slots[vm->nr_slots];
	void *chunk;

	s->base_gfn = gpa >> PAGE_SHIFT;
	s->npages = bytes >> PAGE_SHIFT;
	s->writable = false;
	s->chunk_pfn = page_alloc_zeroed(0);
	if (!s->chunk_pfn)
		return false;
	vm->nr_slots++;
	chunk = page_alloc_zeroed(CHUNK_ORDER);
	if (!chunk)
		return false;
	s->chunk_pfn[0] = platform_virt_to_phys(chunk) >> PAGE_SHIFT;
	return true;
}

/* Identity-map guest RAM with 2 MiB pages, inside the guest (it owns these tables). */
static void build_guest_page_tables(struct vm *vm)
{
	uint64_t gibs = (vm->cfg.mem_bytes + (1ull << 30) - 1) >> 30;
	uint64_t *pml4 = vm_gpa_to_hva(vm, GUEST_PML4, PAGE_SIZE);
	uint64_t *pdpt = vm_gpa_to_hva(vm, GUEST_PML4 + PAGE_SIZE, PAGE_SIZE);
	uint64_t *gdt = vm_gpa_to_hva(vm, GUEST_GDT, 3 * 8);

	pml4[0] = (GUEST_PML4 + PAGE_SIZE) | 0x3; /* present, writable */
	for (uint64_t g = 0; g < gibs; g++) {
		uint64_t pd_gpa = GUEST_PML4 + (2 + g) * PAGE_SIZE;
		uint64_t *pd = vm_gpa_to_hva(vm, pd_gpa, PAGE_SIZE);

		pdpt[g] = pd_gpa | 0x3;
		for (uint64_t i = 0; i < 512; i++)
			pd[i] = ((g << 30) + (i << 21)) | 0x83; /* present, writable, 2 MiB */
	}
	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffull; /* 64-bit code */
	gdt[2] = 0x00cf93000000ffffull; /* data */
}

/* A guest of guest/: its image, page tables, GDT and boot information (virt/guest_abi.h). */
static void load_synthetic_guest(struct vm *vm)
{
	const struct vm_config *cfg = &vm->cfg;
	struct guest_boot_info *boot;

	build_guest_page_tables(vm);
	memcpy(vm_gpa_to_hva(vm, GUEST_IMAGE_BASE, cfg->image_len), cfg->image, cfg->image_len);
	boot = vm_gpa_to_hva(vm, GUEST_BOOT_INFO, sizeof(*boot));
	*boot = (struct guest_boot_info){
		.magic = GUEST_BOOT_MAGIC,
		.nr_vcpus = cfg->nr_vcpus,
		.use_vmcall = virt->name[0] == 'v',
		.mem_bytes = cfg->mem_bytes,
		.data_base = guest_data_base(cfg->nr_vcpus),
		.data_bytes = cfg->mem_bytes - guest_data_base(cfg->nr_vcpus),
		.control = GUEST_CONTROL,
		.arg = { cfg->arg[0], cfg->arg[1], cfg->arg[2], cfg->arg[3] },
	};
}

/* Its vCPUs start in 64-bit mode at the image, each on its own stack. */
static void synthetic_vcpu_start(struct vcpu *v)
{
	v->arch.start = VCPU_START_LONG;
	v->arch.boot_cr3 = GUEST_PML4;
	v->arch.boot_gdt_base = GUEST_GDT;
	v->arch.regs.rip = GUEST_IMAGE_BASE;
	v->arch.regs.rsp = guest_stack_top(v->vm->cfg.nr_vcpus, v->id);
	v->arch.regs.rdi = v->id;
	v->arch.regs.rsi = GUEST_BOOT_INFO;
	v->arch.regs.rflags = 0x202; /* IF: physical interrupts must force exits */
	/* The guest's view under mmu=shadow: what the hypervisor set up for it. */
	v->guest_cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	v->guest_cr3 = GUEST_PML4;
	v->guest_cr4 = CR4_PAE;
	v->guest_efer = EFER_LME | EFER_LMA;
}

/* Guest memory: a PC's ROM area and RAM, or the synthetic layout with the image in it. */
static bool vm_create_memory(struct vm *vm, char *err, size_t len)
{
	const struct vm_config *cfg = &vm->cfg;

	if (cfg->pc && (cfg->mem_bytes > PC_MAX_RAM || cfg->mem_bytes < PC_MIN_RAM)) {
		fmt_snprintf(err, len, "a PC guest's RAM (mem=) must be from %lu MiB to %lu MiB, not %lu MiB",
			     (unsigned long)(PC_MIN_RAM >> 20), (unsigned long)(PC_MAX_RAM >> 20),
			     (unsigned long)(cfg->mem_bytes >> 20));
		return false;
	}
	if (!cfg->pc && (cfg->mem_bytes > GUEST_MAX_RAM || cfg->image_len > GUEST_IMAGE_MAX ||
			 guest_data_base(cfg->nr_vcpus) >= cfg->mem_bytes)) {
		fmt_snprintf(err, len, "the guest does not fit its layout (RAM %lu MiB, image %zu bytes)",
			     (unsigned long)(cfg->mem_bytes >> 20), cfg->image_len);
		return false;
	}
	/* The ROM slot comes first: it wins the lookup over the RAM beneath it. */
	if ((cfg->pc && !add_rom_slot(vm, PC_ROM_BASE, PC_ROM_SIZE)) ||
	    !add_ram_slot(vm, cfg->mem_bytes)) {
		fmt_snprintf(err, len, "out of memory for %lu MiB of guest RAM",
			     (unsigned long)(cfg->mem_bytes >> 20));
		return false;
	}
	if (!cfg->pc)
		load_synthetic_guest(vm);
	return true;
}

struct vm *vm_create(const struct vm_config *cfg, char *err, size_t len)
{
	struct vm *vm = page_alloc_zeroed(page_order_for(sizeof(struct vm)));
	uint64_t root;

	if (!vm) {
		fmt_snprintf(err, len, "out of memory for the VM");
		return NULL;
	}
	vm->id = atomic_fetch_add(&next_vm_id, 1);
	vm->cfg = *cfg;
	vm->cfg.mem_bytes = (cfg->mem_bytes + CHUNK_BYTES - 1) & ~(CHUNK_BYTES - 1);
	atomic_store(&vm->guest_status, -1);
	if (cfg->nr_vcpus == 0 || cfg->nr_vcpus > VM_MAX_VCPUS) {
		fmt_snprintf(err, len, "a VM has 1 to %u vCPUs, not %u", VM_MAX_VCPUS, cfg->nr_vcpus);
		goto fail;
	}
	vm->vcpus_order = page_order_for(cfg->nr_vcpus * sizeof(struct vcpu));
	vm->vcpus = page_alloc_zeroed(vm->vcpus_order);
	if (!vm->vcpus) {
		fmt_snprintf(err, len, "out of memory for %u vCPUs", cfg->nr_vcpus);
		goto fail;
	}
	if (!sched_place(vm, err, len))
		goto fail;
	if (!vm_create_memory(vm, err, len) || !vm_mmu_create(vm, err, len))
		goto fail;
	root = vm->mmu ? tdp_mmu_root_pa(vm->mmu) : 0;
	for (unsigned int i = 0; i < cfg->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		v->vm = vm;
		v->id = i;
#ifdef EXIT_BREAKDOWN
		v->breakdown.cur_kind = -1;
#endif
		v->arch.vm_id = vm->id;
		v->arch.vcpu_id = i;
		v->arch.shadow = cfg->mmu.shadow;
		v->arch.left = (struct vcpu_left){ .seq = &v->in_guest_seq, .mode = &v->mode };
		atomic_store(&v->in_guest_seq, NOT_IN_GUEST);
		if (!cfg->pc)
			synthetic_vcpu_start(v);
	}
	if (planted(PLANT_CROSS_VM) && cfg->place_count > 1 && cfg->place_index == 0)
		atomic_store(&plant_first_vm, vm);
	if (cfg->pc && !pc_vm_setup(vm, err, len)) /* loads the kernel, starts the vCPUs */
		goto fail;
	for (unsigned int i = 0; i < cfg->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!vm_mmu_vcpu_create(v)) {
			fmt_snprintf(err, len, "out of memory for vcpu %u's shadow state", i);
			goto fail;
		}
		if (!virt->vcpu_init(&v->arch, root, err, len))
			goto fail;
	}
	return vm;
fail:
	vm_destroy(vm);
	return NULL;
}

void vm_destroy(struct vm *vm)
{
	struct vm *self = vm;

	atomic_compare_exchange_strong(&plant_first_vm, &self, NULL);
	pc_vm_teardown(vm);
	for (unsigned int i = 0; vm->vcpus && i < vm->cfg.nr_vcpus; i++) {
		if (vm->vcpus[i].arch.backend)
			virt->vcpu_free(&vm->vcpus[i].arch);
		vm_mmu_vcpu_destroy(&vm->vcpus[i]);
	}
	vm_mmu_destroy(vm);
	for (unsigned int i = 0; i < vm->nr_slots; i++)
		free_slot(&vm->slots[i]);
	if (vm->vcpus)
		page_free(vm->vcpus, vm->vcpus_order);
	page_free(vm, page_order_for(sizeof(struct vm)));
}

void vm_start(struct vm *vm)
{
	sched_launch(&vm, 1);
}

/* A VM whose vCPUs shared pCPUs: how the scheduler (virt/sched.c) shared them. */
static void report_sched(const struct vm *vm)
{
	uint64_t slices = 0, preempted = 0, switches = 0, yields = 0, pauses = 0;
	bool shared = false;

	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++) {
		const struct vcpu *v = &vm->vcpus[i];

		shared |= v->pcpu_shared;
		slices += v->stats.slices;
		preempted += v->stats.preemptions;
		switches += v->stats.switches_in;
		yields += v->stats.yields;
		pauses += v->stats.pause_exits;
	}
	if (shared)
		kprintf("vm %u: scheduler: %lu turns, %lu ended by the time slice, %lu given up (%lu at a PAUSE loop), %lu switches between vCPUs\n",
			vm->id, (unsigned long)slices, (unsigned long)preempted, (unsigned long)yields,
			(unsigned long)pauses, (unsigned long)switches);
}

/*
 * vm_wait_beside and vm_group_wait: wait until every vCPU of vms[0..n) is
 * done or its VM stopped, stopping a VM past timeout_ms and sending NMIs to
 * the vCPUs of a stopping VM that its stop's IPI did not get out of the
 * guest; then until their pCPUs are idle. beside (one VM only) runs after
 * each poll while its VM is not stopping.
 */
static bool wait_vms(struct vm *const *vms, unsigned int n, unsigned int timeout_ms,
		     vm_beside_fn beside, void *ctx)
{
	uint64_t deadline = tsc_deadline_ms(timeout_ms), next_nmi = 0;
	bool failed = false;
	cpumask_t pcpus, mine;

	for (;;) {
		bool running = false, stopping = false;

		for (unsigned int k = 0; k < n; k++) {
			if (atomic_load(&vms[k]->vcpus_done) == vms[k]->cfg.nr_vcpus)
				continue;
			running = true;
			if (tsc_passed(deadline) && !atomic_load(&vms[k]->stopping)) {
				kprintf("vm %u: stopped after %u ms without finishing\n", vms[k]->id, timeout_ms);
				vm_stop(vms[k]);
				failed = true;
			}
			stopping |= atomic_load(&vms[k]->stopping);
		}
		if (!running)
			break;
		smp_call_handle();
		rcu_quiescent_state();
		if (beside && !atomic_load(&vms[0]->stopping))
			beside(vms[0], ctx);
		cpu_relax();
		if (!stopping)
			continue;
		if (!next_nmi) {
			next_nmi = tsc_deadline_ms(KICK_NMI_AFTER_MS);
		} else if (tsc_passed(next_nmi)) {
			for (unsigned int k = 0; k < n; k++)
				if (atomic_load(&vms[k]->stopping))
					vm_nmi_kick_lingering(vms[k]);
			next_nmi = tsc_deadline_ms(KICK_NMI_EVERY_MS);
		}
	}
	cpumask_clear(&pcpus);
	for (unsigned int k = 0; k < n; k++) {
		vm_vcpu_pcpus(vms[k], &mine);
		cpumask_or(&pcpus, &pcpus, &mine);
	}
	cpu_work_wait(&pcpus, 1000);
	for (unsigned int k = 0; k < n; k++) {
		failed |= atomic_load(&vms[k]->unresponsive);
		for (unsigned int i = 0; i < vms[k]->cfg.nr_vcpus; i++)
			failed |= vms[k]->vcpus[i].failed;
		report_sched(vms[k]);
	}
	return !failed;
}

bool vm_wait_beside(struct vm *vm, unsigned int timeout_ms, vm_beside_fn beside, void *ctx)
{
	return wait_vms(&vm, 1, timeout_ms, beside, ctx);
}

bool vm_group_wait(struct vm *const *vms, unsigned int n, unsigned int timeout_ms)
{
	return wait_vms(vms, n, timeout_ms, NULL, NULL);
}

bool vm_wait(struct vm *vm, unsigned int timeout_ms)
{
	return vm_wait_beside(vm, timeout_ms, NULL, NULL);
}

bool vm_run(struct vm *vm, unsigned int timeout_ms)
{
	vm_start(vm);
	return vm_wait(vm, timeout_ms);
}
