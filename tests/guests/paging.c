// SPDX-License-Identifier: MIT
// paging: walks paging off -> 32-bit paging (4 KiB and CR4.PSE 4 MiB pages)
// -> PAE (4 KiB and 2 MiB pages) -> long mode. In each mode a window at
// 1 GiB maps three pages onto two physical pages (0 and 1 alias each other,
// 2 is distinct) and one large page onto 8 MiB physical; writes through one
// view must show through the others, and the leaf entries' A/D bits must
// follow the accesses. Long mode then jumps to 64-bit code (paging-long.S),
// which reads through a mapping above 4 GiB, prints and exits.
#include "lib.h"

const char test_name[] = "paging";

#define PTE_P (1u << 0)
#define PTE_RW (1u << 1)
#define PTE_A (1u << 5)
#define PTE_D (1u << 6)
#define PTE_PS (1u << 7)

#define WINDOW 0x40000000u     // 1 GiB: three 4 KiB pages
#define LARGE_VA 0x40400000u   // 1 GiB + 4 MiB: one large page
#define LARGE_PHYS 0x00800000u // 8 MiB
#define MiB (1u << 20)

static uint8_t page_a[4096] __attribute__((aligned(4096)));
static uint8_t page_b[4096] __attribute__((aligned(4096)));

// 32-bit paging: one directory, a 4 KiB table for 0-4 MiB, one for the window.
static uint32_t pd32[1024] __attribute__((aligned(4096)));
static uint32_t pt32_low[1024] __attribute__((aligned(4096)));
static uint32_t pt32_window[1024] __attribute__((aligned(4096)));

// PAE, and long mode reusing its directories: pd_low maps 0-1 GiB with
// 2 MiB pages, pd_window holds the window's table and the large page.
static uint64_t pdpt_pae[4] __attribute__((aligned(32)));
static uint64_t pd_low[512] __attribute__((aligned(4096)));
static uint64_t pd_window[512] __attribute__((aligned(4096)));
static uint64_t pt_window[512] __attribute__((aligned(4096)));
static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt_lm[512] __attribute__((aligned(4096)));
// 512 GiB (PML4 slot 1) -> page_a, read by the 64-bit code.
static uint64_t pdpt_high[512] __attribute__((aligned(4096)));
static uint64_t pd_high[512] __attribute__((aligned(4096)));
static uint64_t pt_high[512] __attribute__((aligned(4096)));

// Read by paging-long.S.
uint32_t high_alias_expect;
__attribute__((noreturn)) void long_mode_enter64(uint32_t failures_so_far);

static void paging_off(void) { write_cr0(read_cr0() & ~CR0_PG); }

/*
 * The checks every mode shares. pte[i] is the low word of the leaf entry that
 * maps WINDOW + i * 4 KiB (A is bit 5, D bit 6 in every format).
 */
static void check_translation(const char *mode, volatile uint32_t *pte[3], const char *large, uint32_t large_size,
			      uint32_t seed)
{
	volatile uint32_t *v0 = (void *)WINDOW, *v1 = (void *)(WINDOW + 4096), *v2 = (void *)(WINDOW + 8192);
	volatile uint32_t *a = (void *)page_a, *b = (void *)page_b;

	*v0 = seed;
	uint32_t through_alias = *v1;
	*v2 = seed ^ 0xffff;
	check(through_alias == seed && *a == seed, "%s 4k alias", mode);
	check(*v0 == seed && *b == (seed ^ 0xffff), "%s 4k distinct pages", mode);
	check((*pte[0] & (PTE_A | PTE_D)) == (PTE_A | PTE_D) && (*pte[1] & (PTE_A | PTE_D)) == PTE_A &&
		      (*pte[2] & (PTE_A | PTE_D)) == (PTE_A | PTE_D),
	      "%s accessed/dirty bits", mode);

	volatile uint32_t *lo = (void *)(LARGE_VA + 0x1234), *hi = (void *)(LARGE_VA + large_size - 16);
	*lo = seed + 1;
	*hi = seed + 2;
	int ok = *(volatile uint32_t *)(LARGE_PHYS + 0x1234) == seed + 1 &&
		 *(volatile uint32_t *)(LARGE_PHYS + large_size - 16) == seed + 2;
	check(ok, "%s %s page", mode, large);
}

static void check_paging_off(void)
{
	volatile uint32_t *p = (void *)(LARGE_PHYS + 0x40);
	*p = 0x0ff0ff0f;
	check(*p == 0x0ff0ff0f && !(read_cr0() & CR0_PG), "paging off, physical access");
}

static void check_32bit(void)
{
	if (!cpu_has_pse()) {
		say("pse not offered, 32-bit paging skipped");
		return;
	}
	for (uint32_t i = 0; i < 1024; i++)
		pt32_low[i] = i << 12 | PTE_P | PTE_RW;
	pd32[0] = (uint32_t)pt32_low | PTE_P | PTE_RW;
	for (uint32_t i = 1; i < 64; i++) // 4-256 MiB with 4 MiB pages
		pd32[i] = i << 22 | PTE_PS | PTE_P | PTE_RW;
	pt32_window[0] = (uint32_t)page_a | PTE_P | PTE_RW;
	pt32_window[1] = (uint32_t)page_a | PTE_P | PTE_RW;
	pt32_window[2] = (uint32_t)page_b | PTE_P | PTE_RW;
	pd32[WINDOW >> 22] = (uint32_t)pt32_window | PTE_P | PTE_RW;
	pd32[LARGE_VA >> 22] = LARGE_PHYS | PTE_PS | PTE_P | PTE_RW;

	write_cr4((read_cr4() & ~CR4_PAE) | CR4_PSE);
	write_cr3((uint32_t)pd32);
	write_cr0(read_cr0() | CR0_PG);
	volatile uint32_t *pte[3] = {&pt32_window[0], &pt32_window[1], &pt32_window[2]};
	check_translation("32-bit", pte, "4m", 4 * MiB, 0x32323200);
	paging_off();
}

static void fill_pae_tables(void)
{
	for (uint64_t i = 0; i < 512; i++)
		pd_low[i] = i << 21 | PTE_PS | PTE_P | PTE_RW;
	memset(pt_window, 0, sizeof(pt_window));
	pt_window[0] = (uint32_t)page_a | PTE_P | PTE_RW;
	pt_window[1] = (uint32_t)page_a | PTE_P | PTE_RW;
	pt_window[2] = (uint32_t)page_b | PTE_P | PTE_RW;
	pd_window[(LARGE_VA >> 21) & 511] = LARGE_PHYS | PTE_PS | PTE_P | PTE_RW;
	pd_window[(WINDOW >> 21) & 511] = (uint32_t)pt_window | PTE_P | PTE_RW;
}

static void check_pae(void)
{
	if (!cpu_has_pae()) {
		say("pae not offered, pae and long mode skipped");
		return;
	}
	fill_pae_tables();
	// PAE PDPTEs take only P: RW and US are reserved there.
	pdpt_pae[0] = (uint32_t)pd_low | PTE_P;
	pdpt_pae[1] = (uint32_t)pd_window | PTE_P;

	write_cr4(read_cr4() | CR4_PAE);
	write_cr3((uint32_t)pdpt_pae);
	write_cr0(read_cr0() | CR0_PG);
	volatile uint32_t *pte[3] = {(void *)&pt_window[0], (void *)&pt_window[1], (void *)&pt_window[2]};
	check_translation("pae", pte, "2m", 2 * MiB, 0x0bae0000);
	paging_off();
}

static void check_long(void)
{
	if (!cpu_has_pae() || !cpu_has_lm()) {
		say("long mode not offered, skipped");
		return;
	}
	fill_pae_tables();
	pdpt_lm[0] = (uint32_t)pd_low | PTE_P | PTE_RW;
	pdpt_lm[1] = (uint32_t)pd_window | PTE_P | PTE_RW;
	pml4[0] = (uint32_t)pdpt_lm | PTE_P | PTE_RW;
	pt_high[0] = (uint32_t)page_a | PTE_P | PTE_RW;
	pd_high[0] = (uint32_t)pt_high | PTE_P | PTE_RW;
	pdpt_high[0] = (uint32_t)pd_high | PTE_P | PTE_RW;
	pml4[1] = (uint32_t)pdpt_high | PTE_P | PTE_RW;

	// EFER.LME with paging off, then CR0.PG: IA-32e mode, still in this
	// 32-bit code segment (compatibility mode).
	write_cr4(read_cr4() | CR4_PAE);
	write_cr3((uint32_t)pml4);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_LME);
	write_cr0(read_cr0() | CR0_PG);
	check(rdmsr(MSR_EFER) & (1ull << 10), "long mode active (efer.lma)");
	volatile uint32_t *pte[3] = {(void *)&pt_window[0], (void *)&pt_window[1], (void *)&pt_window[2]};
	check_translation("long", pte, "2m", 2 * MiB, 0x64646400);

	high_alias_expect = 0x5a5a0064;
	*(volatile uint32_t *)page_a = high_alias_expect;
	long_mode_enter64(failures);
}

void test_main(uint32_t mbi)
{
	(void)mbi;
	check_paging_off();
	check_32bit();
	check_pae();
	check_long(); // does not return where long mode is offered
}
