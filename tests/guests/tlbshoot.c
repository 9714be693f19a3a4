// SPDX-License-Identifier: MIT
// tlbshoot: a TLB shootdown as a kernel does it. 32-bit paging, the same
// CR3 on every CPU: 4 MiB pages map the first 8 MiB and the APIC area
// one-to-one, and one 4 KiB page table holds the test page at 1 GiB. Every
// CPU reads the test page (so its TLB holds the translation). Each round the
// BSP points the PTE at another physical page (each holds its own value),
// flushes its own entry with INVLPG and sends a fixed IPI to all but
// itself; each AP's handler flushes (INVLPG, or in the last round a CR3
// reload), reads the page, records the value and acks with lock xadd. The
// BSP waits for every ack (bounded) and prints what each CPU saw.
#include "apic.h"
#include "lib.h"

const char test_name[] = "tlbshoot";

#define TEST_VA 0x40000000u
#define VEC_SHOOT 0x40
#define ROUNDS 3
#define WAIT_US 2000000

#define PTE_P 0x1u
#define PTE_W 0x2u
#define PTE_PWT 0x8u
#define PTE_PCD 0x10u
#define PDE_PS 0x80u

static uint32_t pd[1024] __attribute__((aligned(4096)));
static volatile uint32_t pt[1024] __attribute__((aligned(4096)));
static uint32_t frames[ROUNDS + 1][1024] __attribute__((aligned(4096)));

static unsigned ncpu;
static volatile uint32_t round_now;     // the round the next IPI is for
static volatile uint32_t seen[ROUNDS + 1][SMP_MAX_CPUS];
static volatile uint32_t handled[ROUNDS + 1][SMP_MAX_CPUS];
static volatile uint32_t acks, ready;

static uint32_t value_of(unsigned r) { return 0x7100 + r; }

static uint32_t read_test(void) { return *(volatile uint32_t *)TEST_VA; }

static void paging_on(void)
{
	write_cr4(read_cr4() | CR4_PSE);
	write_cr3((uint32_t)pd);
	write_cr0(read_cr0() | CR0_PG);
}

static void shoot_handler(unsigned vector)
{
	(void)vector;
	int i = smp_cpu_index();
	uint32_t r = round_now;
	if (r == ROUNDS)
		write_cr3(read_cr3());
	else
		invlpg(TEST_VA);
	if (i >= 0 && r <= ROUNDS) {
		seen[r][i] = read_test();
		handled[r][i]++;
	}
	atomic_add_return_old(&acks, 1);
	apic_eoi();
}

static void ap_main(unsigned idx)
{
	paging_on();
	apic_enable();
	seen[0][idx] = read_test();
	atomic_add_return_old(&ready, 1);
	for (;;)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
}

void test_main(uint32_t mbi)
{
	(void)mbi;
	smp_init();
	ncpu = smp_nr_cpus;
	say("cpus %u", ncpu);
	if (!cpu_has_pse()) {
		say("pse not offered, skipped");
		return;
	}
	outb(0x21, 0xff); // legacy PICs masked
	outb(0xa1, 0xff);

	for (unsigned r = 0; r <= ROUNDS; r++)
		for (unsigned w = 0; w < 1024; w++)
			frames[r][w] = value_of(r);
	pd[0] = 0x000000 | PDE_PS | PTE_W | PTE_P;
	pd[1] = 0x400000 | PDE_PS | PTE_W | PTE_P;
	pd[0xfec00000u >> 22] = 0xfec00000u | PDE_PS | PTE_PCD | PTE_PWT | PTE_W | PTE_P; // I/O APIC, local APIC
	pd[TEST_VA >> 22] = (uint32_t)pt | PTE_W | PTE_P;
	pt[(TEST_VA >> 12) & 1023] = (uint32_t)frames[0] | PTE_W | PTE_P;
	paging_on();

	apic_irq_set(VEC_SHOOT, shoot_handler);
	apic_enable();
	seen[0][0] = read_test();

	unsigned started = smp_start_aps(ap_main);
	say("aps started %u", started);
	if (started != ncpu - 1) {
		fail("aps started %u of %u", started, ncpu - 1);
		finish();
	}
	wait_ge(&ready, ncpu - 1, WAIT_US);
	unsigned bad = 0;
	for (unsigned i = 0; i < ncpu; i++)
		bad += seen[0][i] != value_of(0);
	check(ready == ncpu - 1 && !bad, "initial mapping seen by all cpus");

	for (unsigned r = 1; r <= ROUNDS; r++) {
		round_now = r;
		uint32_t before = acks;
		pt[(TEST_VA >> 12) & 1023] = (uint32_t)frames[r] | PTE_W | PTE_P;
		invlpg(TEST_VA);
		seen[r][0] = read_test();
		handled[r][0] = 1;
		apic_send_ipi(0, APIC_DEST_ALL_BUT_SELF | APIC_DM_FIXED | VEC_SHOOT);
		int all = wait_ge(&acks, before + ncpu - 1, WAIT_US);
		udelay(5000); // a duplicate IPI would show as a second ack
		check(all && acks == before + ncpu - 1, "round %u acks %u", r, acks - before);
		for (unsigned i = 0; i < ncpu; i++) {
			if (handled[r][i] != 1)
				fail("round %u cpu %u handled %u times", r, i, handled[r][i]);
			else
				check(seen[r][i] == value_of(r), "round %u (%s) cpu %u sees new", r,
				      r == ROUNDS ? "cr3 reload" : "invlpg", i);
		}
	}
	// The old pages were never written through the test page.
	bad = 0;
	for (unsigned r = 0; r <= ROUNDS; r++)
		bad += frames[r][0] != value_of(r) || frames[r][1023] != value_of(r);
	check(!bad, "frames unchanged");
}
