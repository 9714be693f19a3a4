// SPDX-License-Identifier: MIT
// exitcost: what an exit costs a PC guest, in TSC cycles per instruction,
// averaged over ROUNDS: a port write the hypervisor emulates (COM1's scratch
// register, which prints nothing), a port read (COM1's LSR), RDMSR of an MSR
// kept in the hypervisor (MTRRdefType) and of one in the hardware state
// (PAT), CPUID (the bare exit round trip), and a load from the local APIC
// page (MMIO, emulated). Not a pass/fail test: its numbers are a benchmark
// (Bochs' TSC counts instructions, so they repeat there), and it is kept out
// of the differential test.
#include "lib.h"

const char test_name[] = "exitcost";

#define ROUNDS 200
#define MSR_PAT 0x277
#define MSR_MTRR_DEF_TYPE 0x2ff
#define LAPIC_ID ((volatile uint32_t *)0xfee00020)

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static void report(const char *what, uint64_t cycles)
{
	say("%s cycles=%u", what, (unsigned)udivmod64(cycles, ROUNDS, NULL));
}

void test_main(uint32_t mbi)
{
	uint64_t t;
	volatile uint32_t sink = 0;

	(void)mbi;
	t = rdtsc();
	for (int i = 0; i < ROUNDS; i++)
		outb(0x3ff, (uint8_t)i);
	report("out com1 scratch", rdtsc() - t);
	t = rdtsc();
	for (int i = 0; i < ROUNDS; i++)
		sink += inb(0x3fd);
	report("in com1 lsr", rdtsc() - t);
	t = rdtsc();
	for (int i = 0; i < ROUNDS; i++)
		sink += (uint32_t)rdmsr(MSR_MTRR_DEF_TYPE);
	report("rdmsr mtrr_def_type", rdtsc() - t);
	t = rdtsc();
	for (int i = 0; i < ROUNDS; i++)
		sink += (uint32_t)rdmsr(MSR_PAT);
	report("rdmsr pat", rdtsc() - t);
	t = rdtsc();
	for (int i = 0; i < ROUNDS; i++)
		sink += cpuid(0, 0).eax;
	report("cpuid", rdtsc() - t);
	t = rdtsc();
	for (int i = 0; i < ROUNDS; i++)
		sink += *LAPIC_ID;
	report("mmio load lapic id", rdtsc() - t);
	(void)sink;
}
