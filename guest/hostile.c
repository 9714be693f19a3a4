// SPDX-License-Identifier: MIT
/*
 * hostile: what a hostile kernel did to the hypervisor (issue 19's defects),
 * one test per boot argument 0, each ending the way a CPU would have it end.
 * The tests that the architecture lets finish check their own results and
 * finish; the others must be stopped by the hypervisor with a message. The
 * same image runs under mmu=tdp, where the hardware does everything, so the
 * two MMUs can be compared on it.
 *
 * Every test builds its own 4 KiB page table in PML4 slot 1 (WIN), from
 * frames of the vCPU-0 part of the data region:
 *
 *   WIN + i * 4096   maps pt[i]:  0 frame X, 1 the table itself (a self-map:
 *                                 a store through it is a store to the table
 *                                 on its own translation path, which shadow
 *                                 paging must emulate), 2 frame Y, 3 data
 *                                 page D, 4 the table again, 5 data page E
 */
#include "guest/runtime.h"

#define PAGE 4096ull
#define P (1ull << 0)
#define RW (1ull << 1)
#define WIN 0x8000000000ull /* PML4 slot 1 */
#define VA(i) (WIN + (uint64_t)(i) * PAGE)
#define MAGIC_X 0x5858585858585858ull
#define MAGIC_Y 0x5959595959595959ull
#define RACE_ROUNDS 1000

enum { PT_RACE = 0, STRADDLE, ALIAS, CR8, CR_WALK, IRET_NT, STALE_READ, PF_LOOP, IDT_EMPTY };

/*
 * A probe that may fault: PROBE(insn, ...) records where to resume, runs
 * insn, and counts in faults the #GP or #UD it raised (the handler below
 * resumes there). One image serves every vCPU, and only vCPU 0 probes.
 */
static volatile uint64_t recover_rip, faults;
static uint64_t idt[2 * 256] __attribute__((aligned(16)));

#define PROBE(insn, ...)                                                            \
	asm volatile("lea 1f(%%rip), %%r11\n\tmov %%r11, recover_rip(%%rip)\n\t" insn \
		     "\n1:" ::__VA_ARGS__ : "r11", "memory")

/* #UD and #GP (error code: skip it): count, then resume after the probe. */
asm(".text\n"
    "fault_with_error:\n"
    "	addq $8, %rsp\n"
    "fault_entry:\n"
    "	incq faults(%rip)\n"
    "	pushq %rax\n"
    "	movq recover_rip(%rip), %rax\n"
    "	movq %rax, 8(%rsp)\n"
    "	popq %rax\n"
    "	iretq\n");
extern char fault_entry[], fault_with_error[];

static void set_gate(unsigned int vec, void *handler)
{
	uint64_t h = (uint64_t)handler;

	/* 64-bit interrupt gate: offset, selector 0x08, type 0xe, present. */
	idt[2 * vec] = (h & 0xffff) | (0x08ull << 16) | (0x8eull << 40) | ((h >> 16) & 0xffff) << 48;
	idt[2 * vec + 1] = h >> 32;
}

static void install_idt(void)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) ptr = { sizeof(idt) - 1,
									   (uint64_t)idt };

	set_gate(6, fault_entry);
	set_gate(13, fault_with_error);
	asm volatile("lidt %0" ::"m"(ptr));
}

static volatile uint64_t ready, race_done, flips_done, readers;

struct window {
	uint64_t *pt;   /* the table, through the identity map */
	uint64_t x, y, d, e; /* frames */
};

static struct window win;

static uint64_t read_cr3(void)
{
	uint64_t v;

	asm volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static void invlpg(uint64_t va)
{
	asm volatile("invlpg (%0)" ::"r"(va) : "memory");
}

static uint64_t *zeroed_frame(uint64_t *next)
{
	uint64_t *p = (uint64_t *)*next;

	*next += PAGE;
	for (unsigned int i = 0; i < PAGE / 8; i++)
		p[i] = 0;
	return p;
}

/* PML4[1] -> PDPT -> PD -> the table, and the table's entries (see above). */
static void build_window(void)
{
	uint64_t next = boot_info->data_base;
	uint64_t *pml4 = (uint64_t *)(read_cr3() & ~0xfffull);
	uint64_t *pdpt = zeroed_frame(&next), *pd = zeroed_frame(&next);
	uint64_t *x = zeroed_frame(&next), *y = zeroed_frame(&next);

	win.pt = zeroed_frame(&next);
	win.d = (uint64_t)zeroed_frame(&next);
	win.e = (uint64_t)zeroed_frame(&next);
	win.x = (uint64_t)x;
	win.y = (uint64_t)y;
	for (unsigned int i = 0; i < PAGE / 8; i++) {
		x[i] = MAGIC_X;
		y[i] = MAGIC_Y;
	}
	win.pt[0] = win.x | P | RW;
	win.pt[1] = (uint64_t)win.pt | P | RW;
	win.pt[2] = win.y | P | RW;
	win.pt[3] = win.d | P | RW;
	win.pt[4] = (uint64_t)win.pt | P | RW;
	win.pt[5] = win.e | P | RW;
	pd[0] = (uint64_t)win.pt | P | RW;
	pdpt[0] = (uint64_t)pd | P | RW;
	pml4[1] = (uint64_t)pdpt | P | RW;
	asm volatile("mov %0, %%cr3" ::"r"(read_cr3()) : "memory"); /* flush: PML4[1] is new */
}

/*
 * Defect 1: vCPU 0 flips pt[0] between X and Y with a plain MOV through the
 * self-map (emulated under shadow), while vCPU 1 reads and writes VA(0)
 * and drops it with INVLPG. Each read must see X's or Y's contents.
 */
static void pt_race(unsigned int id)
{
	volatile uint64_t *pte0 = (volatile uint64_t *)(VA(1) + 0);

	if (id == 0) {
		build_window();
		__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
		for (unsigned int r = 0; r < RACE_ROUNDS; r++)
			*pte0 = ((r & 1) ? win.y : win.x) | P | RW;
		__atomic_store_n(&race_done, 1, __ATOMIC_RELEASE);
	} else if (id == 1) {
		while (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE))
			;
		while (!__atomic_load_n(&race_done, __ATOMIC_ACQUIRE)) {
			volatile uint64_t *p = (volatile uint64_t *)VA(0);
			uint64_t v = *p;

			if (v != MAGIC_X && v != MAGIC_Y)
				guest_fail("pt_race: VA(0) read 0x%lx, neither X's nor Y's contents",
					   (unsigned long)v);
			*p = v;
			invlpg(VA(0));
		}
	}
	guest_barrier();
}

/*
 * Issue 19's stale reads: vCPU 0 moves pt[6] round three frames F0 -> F1 ->
 * F2 -> F0 ... with LOCK CMPXCHG through the self-map (emulated under
 * shadow), and after flip k retires publishes flips_done = k. The others
 * loop: s1 = flips_done, INVLPG VA(6), read VA(6)'s tag, s2 = flips_done.
 *
 * What the architecture allows: a TLB may keep an old translation until
 * the vCPU invalidates it, so without the INVLPG any of the three frames
 * could be read. But INVLPG is serializing and drops VA(6)'s TLB and
 * paging-structure-cache entries (SDM Vol. 3A, 4.10.4.1), so the access
 * after it walks the table, and that walk comes after the load of s1: it
 * sees flip s1 or a later one. When s2 == s1 the only later one possible
 * is flip s1 + 1, in flight. So the frame read must be F(s1 % 3) or
 * F((s1 + 1) % 3); F((s1 + 2) % 3), the frame before flip s1, is stale, and
 * a failure. (With s2 > s1 every frame is allowed, and nothing is checked.)
 * Under shadow paging that holds only if the emulated store drops the
 * shadow entries built from the old PTE, and flushes every vCPU's TLB,
 * before the store retires.
 */
#define STALE_FLIPS 1000
#define STALE_TAG 0x57414c4500000000ull /* "\0\0\0\0ELAW": the frame's number in the low bits */

static void stale_read(unsigned int id)
{
	static uint64_t frames[3];

	if (id == 0) {
		uint64_t next = boot_info->data_base + 16 * PAGE;

		build_window();
		for (unsigned int f = 0; f < 3; f++) {
			uint64_t *p = zeroed_frame(&next);

			for (unsigned int i = 0; i < PAGE / 8; i++)
				p[i] = STALE_TAG | f;
			frames[f] = (uint64_t)p;
		}
		win.pt[6] = frames[0] | P | RW;
		__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&readers, __ATOMIC_ACQUIRE) < boot_info->nr_vcpus - 1)
			;
		for (uint64_t k = 1; k <= STALE_FLIPS; k++) {
			/* LOCK CMPXCHG through the self-map (VA(1) maps the table); A may be set. */
			volatile uint64_t *pte = (volatile uint64_t *)(VA(1) + 6 * 8);
			uint64_t old = *pte;

			if ((old & ~0xfffull) != frames[(k - 1) % 3])
				guest_fail("stale_read: pt[6] was 0x%lx before flip %lu",
					   (unsigned long)old, (unsigned long)k);
			while (!__atomic_compare_exchange_n((uint64_t *)pte, &old, frames[k % 3] | P | RW,
							    false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
				;
			__atomic_store_n(&flips_done, k, __ATOMIC_RELEASE);
			/* Let the readers in between flips, where the hardware walks for them (TDP). */
			for (volatile unsigned int d = 0; d < 200; d++)
				;
		}
		__atomic_store_n(&race_done, 1, __ATOMIC_RELEASE);
	} else {
		uint64_t checked = 0, reads = 0;

		while (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE))
			;
		__atomic_fetch_add(&readers, 1, __ATOMIC_RELEASE);
		while (!__atomic_load_n(&race_done, __ATOMIC_ACQUIRE)) {
			uint64_t s1 = __atomic_load_n(&flips_done, __ATOMIC_ACQUIRE), s2, tag;

			invlpg(VA(6));
			tag = *(volatile uint64_t *)VA(6);
			s2 = __atomic_load_n(&flips_done, __ATOMIC_ACQUIRE);
			reads++;
			if ((tag & ~3ull) != STALE_TAG)
				guest_fail("stale_read: VA(6) read 0x%lx, no frame's tag",
					   (unsigned long)tag);
			if (s2 != s1)
				continue;
			checked++;
			if ((tag & 3) == (s1 + 2) % 3)
				guest_fail("stale_read: after flip %lu and an INVLPG, VA(6) still read F%lu, the frame before it",
					   (unsigned long)s1, (unsigned long)(tag & 3));
		}
		guest_printf("stale_read: vcpu %u: %lu reads, %lu checked, none stale\n", id,
			     (unsigned long)reads, (unsigned long)checked);
	}
	guest_barrier();
}

/*
 * Defect 3: 8-byte stores that straddle a data page and the table (mapped
 * through the self-map, so emulated under shadow): each part lands in its
 * own page, as on a CPU.
 */
static void straddle(unsigned int id)
{
	uint32_t low_y;

	if (id != 0)
		return;
	build_window();
	low_y = (uint32_t)(win.y | P | RW);
	/* D's last 4 bytes, then the low half of pt[0]: VA(0) now maps Y. */
	*(volatile uint64_t *)(VA(4) - 4) = (uint64_t)low_y << 32 | 0xd00dfeedu;
	/* pt[511]'s high half (stays 0, not present), then E's first 4 bytes. */
	*(volatile uint64_t *)(VA(4) + PAGE - 4) = 0xcafe0001ull << 32;
	invlpg(VA(0));
	if (*(volatile uint32_t *)(win.d + PAGE - 4) != 0xd00dfeedu)
		guest_fail("straddle: D's last 4 bytes hold 0x%x, not 0xd00dfeed",
			   *(volatile uint32_t *)(win.d + PAGE - 4));
	if (win.pt[0] != (win.y | P | RW))
		guest_fail("straddle: pt[0] holds 0x%lx, not 0x%lx", (unsigned long)win.pt[0],
			   (unsigned long)(win.y | P | RW));
	if (*(volatile uint32_t *)win.e != 0xcafe0001u || win.pt[511] != 0)
		guest_fail("straddle: E[0] 0x%x (not 0xcafe0001) or pt[511] 0x%lx (not 0)",
			   *(volatile uint32_t *)win.e, (unsigned long)win.pt[511]);
	if (*(volatile uint64_t *)VA(0) != MAGIC_Y)
		guest_fail("straddle: VA(0) does not read Y after the straddling store");
}

/*
 * Defect 5: with PML4[300] = the PML4, va(300, 300, 300, 0) maps the PDPT
 * of slot 0, which maps this very code. One 8-byte MOV to an unused PDPT
 * entry through it, then another to clear it: the store is on no table of
 * its own path, but the table it writes is on the code's.
 */
static void alias(unsigned int id)
{
	uint64_t *pml4 = (uint64_t *)(read_cr3() & ~0xfffull);
	/* Canonical: bit 47 is set (300 >= 256), so bits 63:48 are too. */
	uint64_t va = 0xffff000000000000ull | (300ull << 39) | (300ull << 30) | (300ull << 21);
	volatile uint64_t *pdpte = (volatile uint64_t *)(va + 8 * 7); /* 7 GiB: unused */
	uint64_t *pdpt = (uint64_t *)(pml4[0] & ~0xfffull);

	if (id != 0)
		return;
	pml4[300] = (uint64_t)pml4 | P | RW;
	asm volatile("mov %0, %%cr3" ::"r"(read_cr3()) : "memory");
	*pdpte = pdpt[0]; /* a copy of the first GiB's entry */
	if (pdpt[7] != pdpt[0])
		guest_fail("alias: PDPT[7] holds 0x%lx after the store, not 0x%lx",
			   (unsigned long)pdpt[7], (unsigned long)pdpt[0]);
	*pdpte = 0;
	if (pdpt[7] != 0)
		guest_fail("alias: PDPT[7] holds 0x%lx after clearing it", (unsigned long)pdpt[7]);
	pml4[300] = 0;
}

/*
 * Defect 10: every vCPU raises its task priority to 15. The next VM on the
 * same pCPUs must still get its interrupts (the host's TPR is not the
 * guest's).
 */
static void cr8(void)
{
	uint64_t v = 15;

	asm volatile("mov %0, %%cr8" ::"r"(v));
	asm volatile("mov %%cr8, %0" : "=r"(v));
	if (v != 15)
		guest_fail("cr8: reads back %lu after writing 15", (unsigned long)v);
}

/*
 * Defect 8: vCPU 0 flips every CR4 bit (back again if it took), runs CLTS
 * and LMSW, and tries to clear CR0.PG and CR0.PE (each a #GP in 64-bit
 * mode); the CPU decides what faults. Nothing of it may reach the pCPU or
 * the next VM. SMEP and SMAP are left alone: our identity map is
 * user-accessible, so either would fault every access of this very code.
 */
static void cr_walk(unsigned int id)
{
	uint64_t cr0, cr4, v;

	if (id != 0)
		return;
	install_idt();
	asm volatile("mov %%cr0, %0" : "=r"(cr0));
	asm volatile("mov %%cr4, %0" : "=r"(cr4));
	for (unsigned int bit = 0; bit < 32; bit++) {
		if (bit == 20 || bit == 21)
			continue;
		v = cr4 ^ (1ull << bit);
		PROBE("mov %0, %%cr4", "r"(v));
		PROBE("mov %0, %%cr4", "r"(cr4));
	}
	PROBE("clts");
	v = cr0 | 8; /* TS */
	PROBE("lmsw %w0", "r"(v));
	PROBE("clts");
	v = cr0 & ~(1ull << 31);
	PROBE("mov %0, %%cr0", "r"(v));
	v = cr0 & ~1ull;
	PROBE("mov %0, %%cr0", "r"(v));
	asm volatile("mov %%cr0, %0" : "=r"(v));
	if (!(v & 1) || !(v >> 31))
		guest_fail("cr_walk: CR0 is 0x%lx: PE or PG went in 64-bit mode", (unsigned long)v);
	if (faults < 2)
		guest_fail("cr_walk: clearing PG and PE raised %lu faults, not at least 2",
			   (unsigned long)faults);
}

/*
 * Defect 9: IRETQ with RFLAGS.NT set is a #GP in 64-bit mode (there is no
 * task to return to). The #GP handler resumes after it; NT is cleared
 * again.
 */
static void iret_nt(unsigned int id)
{
	if (id != 0)
		return;
	install_idt();
	asm volatile("pushfq; orq $0x4000, (%%rsp); popfq" ::: "memory", "cc");
	/*
	 * A frame that returns to 1: (SS, RSP, RFLAGS, CS, RIP, as IRETQ pops
	 * them); RSP comes back from r10 whether it returned or faulted.
	 */
	asm volatile("lea 1f(%%rip), %%r11\n\tmov %%r11, recover_rip(%%rip)\n\t"
		     "mov %%rsp, %%r10\n\tmov %%ss, %%eax\n\tpushq %%rax\n\tpushq %%r10\n\t"
		     "pushfq\n\tmov %%cs, %%eax\n\tpushq %%rax\n\tpushq %%r11\n\tiretq\n"
		     "1:\tmov %%r10, %%rsp" ::: "rax", "r10", "r11", "memory");
	asm volatile("pushfq; andq $~0x4000, (%%rsp); popfq" ::: "memory", "cc");
	if (faults != 1)
		guest_fail("iret_nt: IRETQ with NT set raised %lu faults, not one #GP",
			   (unsigned long)faults);
}

/*
 * Defect 4: with an IDT installed, vCPU 0 loads CR3 with a zeroed table.
 * The next fetch faults, and delivering the #PF faults again (the IDT is
 * not mapped): a double fault, which the hypervisor intercepts, so the VM
 * must be stopped, under either MMU. The other vCPUs wait at a barrier
 * vCPU 0 never reaches.
 */
static void pf_loop(unsigned int id)
{
	uint64_t next = boot_info->data_base;

	if (id != 0) {
		guest_barrier();
		guest_fail("passed a barrier that vcpu 0 never reached");
	}
	install_idt();
	asm volatile("mov %0, %%cr3" ::"r"((uint64_t)zeroed_frame(&next)) : "memory");
	guest_fail("pf_loop: ran on after loading an empty CR3");
}

/*
 * An IDT of not-present gates, then a #PF: delivering it raises #NP, and
 * delivering the #DF that makes raises #NP again: a triple fault, which must
 * end the VM (a SHUTDOWN exit), whoever delivers the #PF (the CPU under
 * TDP, the hypervisor's injection under shadow paging).
 */
static void idt_empty(unsigned int id)
{
	static uint64_t empty[2 * 256] __attribute__((aligned(16)));
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) ptr = {
		sizeof(empty) - 1, (uint64_t)empty };

	if (id != 0) {
		guest_barrier();
		guest_fail("passed a barrier that vcpu 0 never reached");
	}
	asm volatile("lidt %0" ::"m"(ptr));
	(void)*(volatile uint64_t *)0x7000000000ull; /* PML4 slot 0's PDPT has no entry 448 */
	guest_fail("idt_empty: a read of an unmapped address did not fault");
}

void guest_main(unsigned int vcpu_id)
{
	switch (boot_info->arg[0]) {
	case PT_RACE:
		pt_race(vcpu_id);
		break;
	case STRADDLE:
		straddle(vcpu_id);
		break;
	case ALIAS:
		alias(vcpu_id);
		break;
	case CR8:
		cr8();
		break;
	case CR_WALK:
		cr_walk(vcpu_id);
		break;
	case IRET_NT:
		iret_nt(vcpu_id);
		break;
	case STALE_READ:
		stale_read(vcpu_id);
		break;
	case PF_LOOP:
		pf_loop(vcpu_id);
		break;
	case IDT_EMPTY:
		idt_empty(vcpu_id);
		break;
	default:
		guest_fail("no hostile test %lu", (unsigned long)boot_info->arg[0]);
	}
	guest_report(0, 0x600d);
}
