// SPDX-License-Identifier: MIT
#include "arch/x86/acpi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/paging.h"
#include "mm/page_alloc.h"

/*
 * x86-64 4-level paging, 2 MiB leaves (SDM 4.5):
 *   PML4E -> PDPTE -> PDE(PS=1) -> 2 MiB frame
 *   bits: 0 P, 1 RW, 3 PWT, 4 PCD, 7 PS; 51:12 the next table or frame
 */
#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS (1ull << 7)
#define PTE_ADDR 0x000ffffffffff000ull
#define GIB (1ull << 30)
#define MAX_MAPPED (512 * GIB) /* one PDPT */

extern uint64_t boot_pml4[512];

/* The identity map's end: boot/entry.S maps 4 GiB, paging_map_above_4g() the rest. */
static uint64_t mapped_end = 4 * GIB;

static uint64_t *boot_pdpt(void)
{
	return (uint64_t *)(uintptr_t)(boot_pml4[0] & PTE_ADDR);
}

bool paging_map_above_4g(uint64_t top)
{
	uint64_t *pdpt = boot_pdpt();

	if (top > MAX_MAPPED)
		top = MAX_MAPPED;
	for (uint64_t gib = 4; gib * GIB < top; gib++) {
		uint64_t *pd;

		if (pdpt[gib] & PTE_P)
			continue;
		pd = page_alloc_zeroed(0);
		if (!pd)
			return false;
		for (uint64_t i = 0; i < 512; i++)
			pd[i] = (gib * GIB + (i << 21)) | PTE_P | PTE_RW | PTE_PS;
		pdpt[gib] = (uint64_t)(uintptr_t)pd | PTE_P | PTE_RW;
	}
	if (top > mapped_end)
		mapped_end = (top + GIB - 1) & ~(GIB - 1); /* the loop maps whole GiBs */
	write_cr3(read_cr3()); /* nothing was mapped there before, but be plain */
	return true;
}

void paging_set_uncached(uint64_t pa)
{
	uint64_t *pd = (uint64_t *)(uintptr_t)(boot_pdpt()[pa / GIB] & PTE_ADDR);

	pd[(pa % GIB) >> 21] |= PTE_PCD | PTE_PWT;
	write_cr3(read_cr3());
}

/* Firmware's tables are read in place: physical is virtual, up to mapped_end. */
const void *acpi_map(uint64_t pa, uint64_t len)
{
	if (pa > mapped_end || len > mapped_end - pa)
		return NULL;
	return (const void *)(uintptr_t)pa;
}
