// SPDX-License-Identifier: MIT
// A hostile SMP kernel, for a boot test rather than the differential test:
// every CPU floods. The APs start (INIT-SIPI); the odd-numbered CPUs program
// their local APIC timer periodic with an initial count of 1 (a 1 ns period
// at QEMU's 1 GHz bus: each APIC puts its own floor under it); then every
// CPU sends fixed IPIs to itself and to all the others, and NMIs to all the
// others (every 64th round), in a loop that never ends. The BSP prints one line once every AP floods, then
// one per 2^k rounds, and never exits: the hypervisor must stop it on its
// own timeout, and the next VM (and the control CPU) must not notice.
#include "apic.h"
#include "lib.h"

const char test_name[] = "flood";

#define VEC_TIMER 0x40
#define VEC_IPI 0x41

static volatile uint32_t flooding, go;
static volatile uint32_t irqs[SMP_MAX_CPUS];

static void on_irq(unsigned vector)
{
	int i = smp_cpu_index();

	(void)vector;
	if (i >= 0)
		irqs[i]++;
	apic_eoi();
}

static void on_nmi(struct trap_frame *f)
{
	(void)f;
}

static void flood(unsigned idx)
{
	apic_enable();
	atomic_add_return_old(&flooding, 1);
	while (!go)
		cpu_relax();
	if (idx & 1) { // odd CPUs: the timer, as fast as the APIC lets it go
		apic_write(APIC_TIMER_DIV, 0xb); // divide by 1
		apic_write(APIC_LVT_TIMER, (1u << 17) | VEC_TIMER); // periodic
		apic_write(APIC_TIMER_INIT, 1);
	}
	irq_enable();
	for (uint32_t round = 0;; round++) {
		apic_send_ipi(0, APIC_DEST_SELF | VEC_IPI);
		apic_send_ipi(0, APIC_DEST_ALL_BUT_SELF | VEC_IPI);
		if (!(round & 63))
			apic_send_ipi(0, APIC_DEST_ALL_BUT_SELF | APIC_DM_NMI);
		if (idx == 0 && !(round & (round - 1)))
			say("round %u", round);
	}
}

void test_main(uint32_t mbi)
{
	unsigned aps;

	(void)mbi;
	outb(0x21, 0xff); // both 8259s masked
	outb(0xa1, 0xff);
	apic_irq_set(VEC_TIMER, on_irq);
	apic_irq_set(VEC_IPI, on_irq);
	trap_set(2, on_nmi);
	aps = smp_start_aps(flood);
	wait_eq(&flooding, aps, 1000000);
	say("%u aps flood", flooding);
	go = 1;
	flood(0);
}
