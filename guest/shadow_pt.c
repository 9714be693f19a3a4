// SPDX-License-Identifier: MIT
/*
 * shadow_pt: a guest that builds and works its own address spaces, for the
 * shadow MMU. Each vCPU, in its own region, builds two address spaces A and
 * B that share their lower tables (a PDPT, a PD and a PT), maps one frame at
 * several addresses, switches CR3 between them, remaps with INVLPG, checks
 * the accessed and dirty bits and the #PF error codes the architecture
 * requires (through its own IDT and #PF handler), then hammers its page
 * table: arg[1] rounds of remap, INVLPG, write and read back.
 * It also writes its live PML4 (which the hypervisor must emulate; first
 * all vCPUs at once, LOCK ADD on the shared boot PML4), clears
 * CR0.WP and sets CR4.SMAP (where the CPU has it), and checks what they
 * change.
 *   arg[0] = bytes per vCPU; reports: 0 = hammer rounds done, 1 = #PFs taken,
 *   2 = vCPUs that checked SMAP (both counted over all vCPUs that checked
 *   before this one), 3 = cycles of one emulated MOV to the live PML4 (the
 *   first to its slot: the write's walk from the root), 4 = the least of
 *   the same MOV done again HOT_MOVS times (each at its own RIP, so none
 *   counts as a write that keeps faulting: virt/shadow_exits.c)
 */
#include "guest/runtime.h"

#define PAGE 4096ull
#define HOT_MOVS 4 /* and the unroll below */
#define P (1ull << 0)
#define RW (1ull << 1)
#define ACC (1ull << 5)
#define DIRTY (1ull << 6)
#define US (1ull << 2)
#define NX (1ull << 63)
#define CR0_WP (1ull << 16)
#define CR4_SMAP (1ull << 21)
#define WINDOW 0x8000000000ull  /* PML4 slot 1 */
#define ALIAS 0x10000000000ull  /* PML4 slot 2 (address space B only) */
#define WINDOW3 0x18000000000ull /* PML4 slot 3: written while A is live */
#define PF_RSVD (1u << 3)
#define LIVE_ADDS 50 /* emulated LOCK ADDs per vCPU on the shared live PML4 */

/*
 * Written by the #PF handler below. One image serves every vCPU, so the
 * checks that fault take turns (turn); the hammering, which must not fault,
 * runs on all vCPUs at once.
 */
static volatile uint64_t pf_error, pf_cr2, pf_count, turn, smap_checked;
static uint64_t idt[2 * 256] __attribute__((aligned(16)));

/*
 * #PF: record the error code and CR2, skip the 3-byte faulting instruction
 * (every probe below is a MOV (%rdi), %rax or MOV %rax, (%rdi): 48 8b 07 or
 * 48 89 07), return. The frame: error code, RIP, CS, RFLAGS, RSP, SS.
 */
asm(".text\n"
    "pf_entry:\n"
    "	pushq %rax\n"
    "	movq 8(%rsp), %rax\n"
    "	movq %rax, pf_error(%rip)\n"
    "	movq %cr2, %rax\n"
    "	movq %rax, pf_cr2(%rip)\n"
    "	incq pf_count(%rip)\n"
    "	addq $3, 16(%rsp)\n"
    "	popq %rax\n"
    "	addq $8, %rsp\n"
    "	iretq\n");
extern char pf_entry[];

static void install_idt(void)
{
	uint64_t h = (uint64_t)pf_entry;
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) ptr = { sizeof(idt) - 1,
									   (uint64_t)idt };

	/* 64-bit interrupt gate: offset, selector 0x08, type 0xe, present. */
	idt[2 * 14] = (h & 0xffff) | (0x08ull << 16) | (0x8eull << 40) | ((h >> 16) & 0xffff) << 48;
	idt[2 * 14 + 1] = h >> 32;
	asm volatile("lidt %0" ::"m"(ptr));
}

/* read_crN() and write_crN(): the guest's own MOVs, which the hypervisor intercepts under shadow. */
#define CR_ACCESSORS(n)                                                    \
	static uint64_t read_cr##n(void)                                   \
	{                                                                  \
		uint64_t v;                                                \
									   \
		asm volatile("mov %%cr" #n ", %0" : "=r"(v));              \
		return v;                                                  \
	}                                                                  \
	static void write_cr##n(uint64_t v)                                \
	{                                                                  \
		asm volatile("mov %0, %%cr" #n ::"r"(v) : "memory");       \
	}
CR_ACCESSORS(0)
CR_ACCESSORS(3)
CR_ACCESSORS(4)

static bool cpu_has_smap(void)
{
	uint32_t a = 7, b, c = 0, d;

	asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return b & (1u << 20);
}

static void invlpg(uint64_t va)
{
	asm volatile("invlpg (%0)" ::"r"(va) : "memory");
}

static uint64_t probe_read(uint64_t va)
{
	uint64_t v = 0;

	asm volatile("movq (%%rdi), %%rax" : "+a"(v) : "D"(va) : "memory");
	return v;
}

static void probe_write(uint64_t va, uint64_t v)
{
	asm volatile("movq %%rax, (%%rdi)" ::"a"(v), "D"(va) : "memory");
}

/* The access must fault with exactly this error code at this address. */
static void expect_pf(const char *what, uint64_t va, bool write, uint32_t error)
{
	uint64_t before = pf_count;

	if (write)
		probe_write(va, 0xbad);
	else
		probe_read(va);
	if (pf_count != before + 1)
		guest_fail("%s at 0x%lx did not fault", what, (unsigned long)va);
	if (pf_error != error || pf_cr2 != va)
		guest_fail("%s at 0x%lx: #PF error 0x%lx cr2 0x%lx, the architecture says 0x%x and 0x%lx",
			   what, (unsigned long)va, (unsigned long)pf_error, (unsigned long)pf_cr2,
			   error, (unsigned long)va);
}

static void expect_bits(const char *what, volatile uint64_t *pte, uint64_t set, uint64_t clear)
{
	if ((*pte & set) != set || (*pte & clear))
		guest_fail("%s: entry 0x%lx, expected bits 0x%lx set and 0x%lx clear", what,
			   (unsigned long)*pte, (unsigned long)set, (unsigned long)clear);
}

void guest_main(unsigned int vcpu_id)
{
	uint64_t base = boot_info->data_base + vcpu_id * boot_info->arg[0];
	uint64_t *pml4_a = (uint64_t *)base, *pml4_b = (uint64_t *)(base + PAGE);
	uint64_t *pdpt = (uint64_t *)(base + 2 * PAGE), *pd = (uint64_t *)(base + 3 * PAGE);
	volatile uint64_t *pt = (volatile uint64_t *)(base + 4 * PAGE);
	uint64_t frame[4], boot_cr3 = read_cr3(), rounds = boot_info->arg[1], emulated_cycles;
	uint64_t hot_cycles = ~0ull;
	const uint64_t *boot_pml4 = (const uint64_t *)boot_cr3;

	if (boot_info->arg[0] < 16 * PAGE || base + boot_info->arg[0] > boot_info->mem_bytes)
		guest_fail("region too small");
	if (boot_cr3 != 0x1000)
		guest_fail("CR3 reads 0x%lx, not the 0x1000 the hypervisor loaded", (unsigned long)boot_cr3);
	install_idt();
	for (int i = 0; i < 4; i++) {
		frame[i] = base + (8 + i) * PAGE;
		*(volatile uint64_t *)frame[i] = 0x1000 * (i + 1) + vcpu_id;
	}
	for (int i = 0; i < 512; i++) {
		pml4_a[i] = pml4_b[i] = pdpt[i] = pd[i] = 0;
		pt[i] = 0;
	}
	/* A and B: the identity map, plus the window through shared lower tables; B maps it twice. */
	pml4_a[0] = pml4_b[0] = boot_pml4[0];
	pml4_a[1] = pml4_b[1] = pml4_b[2] = (uint64_t)pdpt | P | RW;
	pdpt[0] = (uint64_t)pd | P | RW;
	pd[0] = (uint64_t)pt | P | RW;
	pt[0] = frame[0] | P | RW;
	pt[1] = frame[0] | P | RW;        /* the same frame, another address */
	pt[2] = frame[1] | P;             /* read-only */
	pt[3] = 0;                        /* not present */
	pt[4] = frame[2] | P | RW | NX;   /* NX with EFER.NXE clear: a reserved bit */

	/*
	 * Every vCPU at once: LOCK ADD to one unused slot of the shared boot
	 * PML4, live on all of them, so every add is emulated, on several
	 * pCPUs at the same time. None may be lost (bit 0 stays clear: the
	 * slot never becomes present).
	 */
	for (int i = 0; i < LIVE_ADDS; i++)
		__atomic_fetch_add((uint64_t *)(boot_cr3 + 8 * 511), 2, __ATOMIC_SEQ_CST);
	guest_barrier();
	if (*(volatile uint64_t *)(boot_cr3 + 8 * 511) != 2ull * LIVE_ADDS * boot_info->nr_vcpus)
		guest_fail("LOCK ADD on the live PML4 from %u vCPUs: 0x%lx, not 0x%llx",
			   boot_info->nr_vcpus, (unsigned long)*(volatile uint64_t *)(boot_cr3 + 8 * 511),
			   2ull * LIVE_ADDS * boot_info->nr_vcpus);

	while (turn != vcpu_id)
		asm volatile("pause");
	write_cr3((uint64_t)pml4_a);
	if (read_cr3() != (uint64_t)pml4_a)
		guest_fail("CR3 reads 0x%lx after loading 0x%lx", (unsigned long)read_cr3(),
			   (unsigned long)pml4_a);
	/* One frame at two addresses: a write through one is read through the other. */
	probe_write(WINDOW, 0xa11a5);
	if (probe_read(WINDOW + PAGE) != 0xa11a5)
		guest_fail("the alias does not see the write");
	expect_bits("written pte", &pt[0], P | ACC | DIRTY, 0);
	expect_bits("read-only-used alias pte", &pt[1], P | ACC, DIRTY);
	expect_bits("pd entry", (volatile uint64_t *)&pd[0], ACC, 0);
	expect_bits("pml4 entry", (volatile uint64_t *)&pml4_a[1], ACC, 0);
	expect_bits("untouched pte", &pt[2], P, ACC | DIRTY);

	/*
	 * Writes to the live PML4 through the identity map: the written table
	 * is on the write's own path, so the hypervisor emulates each (a MOV,
	 * a LOCK OR with an immediate, a LOCK CMPXCHG), and what they wrote
	 * must take effect: a new slot that maps the window read-only, made
	 * writable, then cleared.
	 */
	{
		volatile uint64_t *live = (volatile uint64_t *)pml4_a;
		uint64_t expected, t0;

		t0 = guest_rdtsc();
		live[3] = (uint64_t)pdpt | P;
		emulated_cycles = guest_rdtsc() - t0;
		/* The same store again: written out, one RIP each. */
#pragma GCC unroll 4
		for (int k = 0; k < HOT_MOVS; k++) {
			uint64_t dt;

			t0 = guest_rdtsc();
			live[3] = (uint64_t)pdpt | P;
			dt = guest_rdtsc() - t0;
			hot_cycles = dt < hot_cycles ? dt : hot_cycles;
		}
		if (probe_read(WINDOW3) != 0xa11a5)
			guest_fail("a PML4 entry written while live does not map the window");
		expect_pf("write through a read-only PML4 entry", WINDOW3, true, 0x3);
		__atomic_fetch_or(&pml4_a[3], RW, __ATOMIC_SEQ_CST);
		invlpg(WINDOW3);
		probe_write(WINDOW3, 0xa11a6);
		if (probe_read(WINDOW) != 0xa11a6)
			guest_fail("a write through the PML4 entry made writable did not land");
		expected = live[3];
		if (!__atomic_compare_exchange_n(&pml4_a[3], &expected, 0, false, __ATOMIC_SEQ_CST,
						 __ATOMIC_SEQ_CST))
			guest_fail("CMPXCHG on the live PML4 found 0x%lx", (unsigned long)expected);
		invlpg(WINDOW3);
		expect_pf("read through a PML4 entry CMPXCHG cleared", WINDOW3, false, 0x0);
	}

	/* Error codes: supervisor accesses, CR0.WP=1. */
	expect_pf("write to a read-only page", WINDOW + 2 * PAGE, true, 0x3);
	expect_bits("read-only pte after a refused write", &pt[2], P, DIRTY);
	expect_pf("read of a non-present page", WINDOW + 3 * PAGE, false, 0x0);
	expect_pf("write to a non-present page", WINDOW + 3 * PAGE, true, 0x2);
	expect_pf("read through a reserved bit", WINDOW + 4 * PAGE, false, 0x1 | PF_RSVD);

	/* CR0.WP=0: a supervisor write to a read-only page goes through and sets D. */
	{
		uint64_t cr0 = read_cr0(), before = pf_count;

		if (!(cr0 & CR0_WP))
			guest_fail("CR0 reads 0x%lx: WP is clear from the start", (unsigned long)cr0);
		write_cr0(cr0 & ~CR0_WP);
		if (read_cr0() != (cr0 & ~CR0_WP))
			guest_fail("CR0 reads 0x%lx after loading 0x%lx", (unsigned long)read_cr0(),
				   (unsigned long)(cr0 & ~CR0_WP));
		probe_write(WINDOW + 2 * PAGE, 0x3e11);
		if (pf_count != before || *(volatile uint64_t *)frame[1] != 0x3e11)
			guest_fail("with CR0.WP=0 a supervisor write to a read-only page did not go through");
		expect_bits("read-only pte written with CR0.WP=0", &pt[2], P | ACC | DIRTY, RW);
		write_cr0(cr0);
		expect_pf("write to a read-only page with CR0.WP=1 again", WINDOW + 2 * PAGE, true, 0x3);
		*(volatile uint64_t *)frame[1] = 0x2000 + vcpu_id; /* for the remap below */
	}

	/* CR4.SMAP: a supervisor read of a user page faults unless RFLAGS.AC is set. */
	if (cpu_has_smap()) {
		uint64_t cr4 = read_cr4();

		/* The user bit goes on every level of the walk (the live PML4's write is emulated). */
		pt[5] = frame[3] | P | RW | US;
		pd[0] |= US;
		pdpt[0] |= US;
		((volatile uint64_t *)pml4_a)[1] |= US;
		invlpg(WINDOW + 5 * PAGE);
		if (probe_read(WINDOW + 5 * PAGE) != 0x4000 + vcpu_id)
			guest_fail("with CR4.SMAP=0 a user page does not read its frame");
		write_cr4(cr4 | CR4_SMAP);
		if (read_cr4() != (cr4 | CR4_SMAP))
			guest_fail("CR4 reads 0x%lx after loading 0x%lx", (unsigned long)read_cr4(),
				   (unsigned long)(cr4 | CR4_SMAP));
		expect_pf("supervisor read of a user page with CR4.SMAP=1", WINDOW + 5 * PAGE, false,
			  0x1);
		asm volatile("stac" ::: "memory");
		if (probe_read(WINDOW + 5 * PAGE) != 0x4000 + vcpu_id)
			guest_fail("with RFLAGS.AC=1 SMAP still refused the read");
		asm volatile("clac" ::: "memory");
		write_cr4(cr4);
		smap_checked++;
	}

	/* Remap with INVLPG: the old translation must go. */
	pt[0] = frame[1] | P | RW;
	invlpg(WINDOW);
	if (probe_read(WINDOW) != 0x2000 + vcpu_id)
		guest_fail("after the remap and INVLPG, the window still reads the old frame");
	/* Address space B shares the tables: the same remap shows, at both addresses. */
	write_cr3((uint64_t)pml4_b);
	if (probe_read(WINDOW) != 0x2000 + vcpu_id || probe_read(ALIAS) != 0x2000 + vcpu_id)
		guest_fail("address space B does not see the shared table's remap");
	write_cr3((uint64_t)pml4_a);
	guest_report(1, pf_count);
	guest_report(2, smap_checked);
	guest_report(3, emulated_cycles);
	guest_report(4, hot_cycles);
	turn = vcpu_id + 1; /* the next vCPU's checks */

	/* Hammer the page table: remap one entry round after round. */
	for (uint64_t r = 0; r < rounds; r++) {
		uint64_t f = frame[r % 4];

		pt[6] = f | P | RW;
		invlpg(WINDOW + 6 * PAGE);
		probe_write(WINDOW + 6 * PAGE, r);
		if (*(volatile uint64_t *)f != r)
			guest_fail("round %lu: the write went to the wrong frame", (unsigned long)r);
		if (r % 64 == 63)
			write_cr3(r % 128 == 127 ? (uint64_t)pml4_b : (uint64_t)pml4_a);
	}
	write_cr3(boot_cr3);
	guest_report(0, rounds);
}
