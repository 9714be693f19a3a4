// SPDX-License-Identifier: MIT
// msr: reads and writes architectural MSRs from 32-bit protected mode. A #GP
// handler counts the fault and steps over the 2-byte rdmsr/wrmsr, so every
// access reports whether it faulted.
#include "lib.h"

const char test_name[] = "msr";

#define MSR_TSC 0x10
#define MSR_APIC_BASE 0x1b
#define MSR_MTRRCAP 0xfe
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define MSR_PAT 0x277
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_SFMASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
// No CPU implements it, so a read or a write must #GP.
#define MSR_BOGUS 0xdeadbeef

#define APIC_BASE_BSP (1u << 8)
#define PAT_RESET 0x0007040600070406ull

static volatile unsigned gp_count;

static void on_gp(struct trap_frame *f)
{
	gp_count++;
	f->eip += 2; // rdmsr and wrmsr are 0f 32 and 0f 30
}

// Each returns 1 when the access completed, 0 when it took #GP.
static int rdmsr_safe(uint32_t msr, uint64_t *v)
{
	unsigned before = gp_count;
	uint32_t lo = 0, hi = 0;
	__asm__ volatile("rdmsr" : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
	*v = (uint64_t)hi << 32 | lo;
	return gp_count == before;
}

static int wrmsr_safe(uint32_t msr, uint64_t v)
{
	unsigned before = gp_count;
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
	return gp_count == before;
}

static void check_write_read(const char *name, uint32_t msr, uint64_t value)
{
	uint64_t old, back = 0;
	int ok = rdmsr_safe(msr, &old) && wrmsr_safe(msr, value) && rdmsr_safe(msr, &back) && back == value;
	check(ok, "%s write/read back", name);
	wrmsr_safe(msr, old);
}

static void check_apic_base(void)
{
	uint64_t v;
	if (!check(rdmsr_safe(MSR_APIC_BASE, &v), "apic_base readable"))
		return;
	say("apic_base base=0x%llx bsp=%u", v & ~0xfffull, (unsigned)!!(v & APIC_BASE_BSP));
	check((v & ~0xfffull) == 0xfee00000u, "apic_base at the reset address");
	check(v & APIC_BASE_BSP, "apic_base bsp");
}

static void check_pat(void)
{
	uint64_t v;
	if (!check(rdmsr_safe(MSR_PAT, &v), "pat readable"))
		return;
	check(v == PAT_RESET, "pat reset value 0x%016llx", PAT_RESET);
	// UC WC WT WP WB UC- in a new order: every byte a valid memory type.
	check_write_read("pat", MSR_PAT, 0x0006050401000706ull);
}

static void check_efer(void)
{
	uint64_t efer, back;
	if (!check(rdmsr_safe(MSR_EFER, &efer), "efer readable"))
		return;
	if (cpu_has_nx()) {
		check(wrmsr_safe(MSR_EFER, efer | EFER_NXE) && rdmsr_safe(MSR_EFER, &back) && (back & EFER_NXE),
		      "efer.nxe set");
		wrmsr_safe(MSR_EFER, efer);
	} else {
		say("nx not offered, efer.nxe skipped");
	}
	// Architecturally a #GP; QEMU's TCG drops the bit instead. Printed, not counted.
	int faulted = !wrmsr_safe(MSR_EFER, efer | 1ull << 63);
	say("efer reserved bit 63 wrmsr %s", faulted ? "#GP" : "no #GP");
	wrmsr_safe(MSR_EFER, efer);
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

// 1 when the counter never goes back over many reads and moves at least once:
// back-to-back reads may match where the TSC follows a coarse clock.
static int tsc_moves_forward(int use_rdmsr)
{
	uint64_t first, prev, now = 0;
	int ok = use_rdmsr ? rdmsr_safe(MSR_TSC, &first) : (first = rdtsc(), 1);
	prev = first;
	for (uint32_t i = 0; ok && i < 1000000 && now <= first; i++) {
		if (use_rdmsr)
			ok = rdmsr_safe(MSR_TSC, &now);
		else
			now = rdtsc();
		ok = ok && now >= prev;
		prev = now;
	}
	return ok && now > first;
}

static void check_tsc(void)
{
	check(tsc_moves_forward(0), "tsc increases (rdtsc)");
	// rdmsr of IA32_TSC must read the same counter; QEMU 7.2's TCG reads 0.
	// Printed, not counted.
	say("rdmsr ia32_tsc %s", tsc_moves_forward(1) ? "increases" : "does not increase");
}

static void check_sysenter(void)
{
	check_write_read("sysenter_cs", MSR_SYSENTER_CS, SEL_CODE32);
	check_write_read("sysenter_esp", MSR_SYSENTER_ESP, 0x00123450);
	check_write_read("sysenter_eip", MSR_SYSENTER_EIP, 0x00401000);
}

static void check_mtrr(void)
{
	uint64_t v;
	check(rdmsr_safe(MSR_MTRRCAP, &v), "mtrrcap readable");
	check(rdmsr_safe(MSR_MTRR_DEF_TYPE, &v), "mtrr_def_type readable");
}

static void check_bogus(void)
{
	// Architecturally a #GP; QEMU's TCG reads 0 and drops the write instead.
	// Printed, not counted, so a platform that differs shows in the diff.
	uint64_t v;
	say("bogus rdmsr %s", rdmsr_safe(MSR_BOGUS, &v) ? "no #GP" : "#GP");
	say("bogus wrmsr %s", wrmsr_safe(MSR_BOGUS, 0) ? "no #GP" : "#GP");
}

// These exist on any CPU with long mode and are reachable from legacy mode too.
static void check_long_mode_msrs(void)
{
	if (!cpu_has_lm()) {
		say("long mode not offered, syscall msrs skipped");
		return;
	}
	check_write_read("star", MSR_STAR, 0x0023001000080000ull);
	check_write_read("lstar", MSR_LSTAR, 0xffffffff81234560ull);
	check_write_read("sfmask", MSR_SFMASK, 0x00047700);
	check_write_read("kernel_gs_base", MSR_KERNEL_GS_BASE, 0xffff888012345000ull);
	check_write_read("fs_base", MSR_FS_BASE, 0x00007fff12340000ull);
	check_write_read("gs_base", MSR_GS_BASE, 0xffff800000001000ull);
}

void test_main(uint32_t mbi)
{
	(void)mbi;
	trap_set(13, on_gp);
	check_apic_base();
	check_pat();
	check_efer();
	check_tsc();
	check_sysenter();
	check_mtrr();
	check_bogus();
	check_long_mode_msrs();
}
