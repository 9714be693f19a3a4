// SPDX-License-Identifier: MIT
// cpu: the instructions a kernel uses that a hypervisor must answer for:
// CPUID's hypervisor bit, MOV to and from the debug registers, RDTSCP with
// TSC_AUX, MONITOR when CPUID hides it, and the local APIC page (ID,
// version, the spurious-interrupt register) read and written as MMIO, and
// a port with nothing behind it (COM2's, on a PC with one serial port).
// A #UD or #GP handler records the fault and steps over the instruction.
#include "lib.h"

const char test_name[] = "cpu";

#define MSR_TSC_AUX 0xc0000103
#define LAPIC_BASE 0xfee00000u

static volatile unsigned faults, last_vector;
static volatile unsigned skip; /* bytes to step over on a fault */

static void on_fault(struct trap_frame *f)
{
	faults++;
	last_vector = f->vector;
	f->eip += skip;
}

static volatile uint32_t *lapic(unsigned reg)
{
	return (volatile uint32_t *)(LAPIC_BASE + reg);
}

static void debug_registers(void)
{
	uint32_t v;

	__asm__ volatile("mov %0, %%dr0" ::"r"(0x12345678u));
	__asm__ volatile("mov %%dr0, %0" : "=r"(v));
	check(v == 0x12345678u, "dr0 write/read back");
	__asm__ volatile("mov %0, %%dr3" ::"r"(0xcafef00du));
	__asm__ volatile("mov %%dr3, %0" : "=r"(v));
	check(v == 0xcafef00du, "dr3 write/read back");
	__asm__ volatile("mov %%dr7, %0" : "=r"(v));
	say("dr7 at reset=0x%x", v);
	__asm__ volatile("mov %%dr6, %0" : "=r"(v));
	say("dr6 at reset=0x%x", v);
}

static void rdtscp_aux(void)
{
	uint32_t lo, hi, aux;

	if (!(cpuid(0x80000001, 0).edx & (1u << 27))) {
		say("rdtscp not offered, skipped");
		return;
	}
	wrmsr(MSR_TSC_AUX, 0x1234);
	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
	check(aux == 0x1234, "rdtscp returns tsc_aux");
	check(rdmsr(MSR_TSC_AUX) == 0x1234, "tsc_aux write/read back");
}

static void monitor_hidden(void)
{
	if (cpuid(1, 0).ecx & (1u << 3)) {
		say("monitor offered, skipped");
		return;
	}
	faults = 0;
	skip = 3; /* monitor: 0f 01 c8 */
	__asm__ volatile("monitor" ::"a"(0), "c"(0), "d"(0));
	check(faults == 1 && last_vector == 6, "monitor without cpuid's monitor bit is #UD");
}

static void local_apic(void)
{
	uint32_t version = *lapic(0x30), svr;

	say("lapic id=%u", *lapic(0x20) >> 24);
	say("lapic version=0x%x max lvt=%u", version & 0xff, (version >> 16) & 0xff);
	svr = *lapic(0xf0);
	*lapic(0xf0) = svr | 0x1ff; /* software enable, spurious vector 0xff */
	check((*lapic(0xf0) & 0x1ff) == 0x1ff, "lapic svr write/read back");
}

static void absent_port(void)
{
	say("com2 lsr reads 0x%x", inb(0x2fd));
}

void test_main(uint32_t mbi)
{
	(void)mbi;
	trap_set(6, on_fault);
	trap_set(13, on_fault);
	check(cpuid(1, 0).ecx & (1u << 31), "cpuid says a hypervisor is present");
	debug_registers();
	rdtscp_aux();
	monitor_hidden();
	local_apic();
	absent_port();
}
