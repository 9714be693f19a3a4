// SPDX-License-Identifier: MIT
/*
 * Instructions per shadow-MMU demand fault (make bench, under callgrind,
 * which counts inside shadow_mmu_page_fault() only): a 4-level guest maps
 * BENCH_PAGES 4 KiB pages of one guest page table; the guest reads each
 * page, then writes it, as a first touch would (a read fault maps it
 * read-only while the guest's D bit is clear, the write fault maps it
 * writable). The shadow pages of the path are made by the first fault;
 * every fault after that is one the hypervisor's demand paging takes.
 */
#define _GNU_SOURCE
#include "tests/host/test_shadow.h"

#define BENCH_GVA 0x0000123456600000ULL
#define BENCH_FRAME 0x200
#define BENCH_PAGES 512

int main(void)
{
	struct shadow_mmu_config cfg = { 0 };
	struct guest_paging gp = ts_paging(0x80);
	struct shadow_mmu *mmu;
	struct shadow_vcpu *vcpu;
	unsigned long faults = 0;

	ts_setup(1);
	ts_guest_create();
	mmu = ts_create(&cfg);
	vcpu = shadow_vcpu_create(mmu);
	CHECK(vcpu != NULL);
	for (unsigned int i = 0; i < BENCH_PAGES; i++)
		ts_map(0x80, BENCH_GVA + i * PAGE_SIZE, 1, BENCH_FRAME + i, X86_PTE_RW);
	CHECK(shadow_mmu_load_cr3(mmu, vcpu, &gp) != 0);
	for (unsigned int i = 0; i < BENCH_PAGES; i++) {
		faults += ts_access(mmu, vcpu, &gp, BENCH_GVA + i * PAGE_SIZE, 0).faults;
		faults += ts_access(mmu, vcpu, &gp, BENCH_GVA + i * PAGE_SIZE, PFERR_WRITE).faults;
	}
	CHECK_EQ_U(faults, 2 * BENCH_PAGES);
	printf("bench_shadow: %lu faults, %lu through the walk hint\n", faults,
	       (unsigned long)atomic_load(&shadow_mmu_extra_stats(mmu)->hinted_faults));
	ts_destroy(mmu, &vcpu, 1);
	return check_summary("bench_shadow");
}
