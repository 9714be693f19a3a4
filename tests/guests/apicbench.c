// SPDX-License-Identifier: MIT
// apicbench: what a PC guest's interrupts cost, in TSC cycles. Not a
// pass/fail test: a benchmark kept out of the differential test (like
// exitcost). Under Bochs the TSC counts instructions and one TSC is shared
// by every CPU (mmuvisor adds no offset), so a difference between two CPUs'
// RDTSC is exact and repeats run to run.
//
// Each figure is SAMPLES rounds; a line gives the median and the minimum:
//   ipi_running        BSP's RDTSC just before the ICR write of a fixed IPI
//                      to AP 1 -> RDTSC in AP 1's handler; AP 1 spins with
//                      IF=1 (sti; pause loop on a flag).
//   ipi_halted         the same with AP 1 in `sti; hlt` (given time to halt).
//   hlt_wake           the same ICR write -> AP 1's first instruction after
//                      its HLT (the handler, its EOI and IRET included).
//   timer_oneshot_late      how late (cycles) after the intended TSC the
//   timer_oneshot_hlt_late  one-shot APIC timer (divide 1; its rate measured
//                           against the TSC first) reached its handler, the
//                           BSP spinning with IF=1 or in `sti; hlt`.
//   timer_tscdl_late, timer_tscdl_hlt_late: the same with IA32_TSC_DEADLINE
//                      when CPUID.1:ECX[24] offers it.
//   guest_shootdown cpus=K  32-bit paging, one CR3 on every CPU; the BSP
//                      changes a PTE, INVLPGs it and sends a fixed IPI by
//                      physical ID to each of APs 1..K-1 (spinning with IF=1);
//                      each handler INVLPGs and acks with lock xadd; the BSP
//                      spins until every ack is in. Cycles per round.
//   guest_shootdown_allbutself cpus=N: the same to every AP with one ICR
//                      write (the all-but-self shorthand).
// Waits are bounded in TSC cycles (a PM timer read would exit under a
// hypervisor and blur the figure). The handlers are lib/apic.c's: a stub,
// pusha and a call through a table, the same on every platform.
#include "apic.h"
#include "lib.h"

const char test_name[] = "apicbench";

#define SAMPLES 31
#define VEC_IPI 0x40
#define VEC_SHOOT 0x41
#define VEC_TIMER 0x42

#define LVT_TIMER_TSC_DEADLINE (2u << 17)
#define TDCR_DIV1 0xb
#define MSR_TSC_DEADLINE 0x6e0

/*
 * Under Bochs (4 million instructions a second) a millisecond is ~4000
 * cycles, less than one exit of a hypervisor costs: deadlines and settling
 * times are in cycles and large enough that the exits fit.
 */
#define TIMER_DELTA 200000u  // cycles from arming to the intended expiry
#define SETTLE 100000u       // cycles between rounds (the AP's EOI, IRET, exits)
#define HALT_SETTLE 200000u  // at least this long before an IPI to a halted AP
#define CAL_CYCLES 4000000u  // the APIC timer's rate measured over this

#define TEST_VA 0x40000000u
#define PTE_P 0x1u
#define PTE_W 0x2u
#define PTE_PWT 0x8u
#define PTE_PCD 0x10u
#define PDE_PS 0x80u

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static unsigned ncpu;
static uint64_t tsc_per_ms;
static uint64_t bound; // the longest any wait spins, in cycles (2 s)

static void tsc_delay(uint64_t cycles)
{
	uint64_t end = rdtsc() + cycles;
	while (rdtsc() < end)
		cpu_relax();
}

// Spins until *p >= v or `bound` cycles pass; returns 1 if *p >= v.
static int spin_ge(volatile uint32_t *p, uint32_t v)
{
	uint64_t end = rdtsc() + bound;
	while (*p < v)
		if (rdtsc() > end)
			return *p >= v;
		else
			cpu_relax();
	return 1;
}

static int icr_wait_idle(void)
{
	uint64_t end = rdtsc() + bound;
	while (apic_read(APIC_ICR_LO) & APIC_ICR_BUSY)
		if (rdtsc() > end)
			return 0;
	return 1;
}

/* ---- samples ---- */

static void sort_i32(int32_t *a, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		int32_t v = a[i];
		unsigned j = i;
		for (; j > 0 && a[j - 1] > v; j--)
			a[j] = a[j - 1];
		a[j] = v;
	}
}

static int32_t clamp32(int64_t v)
{
	return v > 0x7fffffff ? 0x7fffffff : v < -0x7fffffff ? -0x7fffffff : (int32_t)v;
}

// One line: "<label> cycles median=N min=M" (n samples; fewer: a failure).
static void report(const char *label, int32_t *s, unsigned n)
{
	if (n < SAMPLES) {
		fail("%s: %u of %u samples (timed out)", label, n, SAMPLES);
		return;
	}
	sort_i32(s, n);
	say("%s cycles median=%d min=%d", label, s[n / 2], s[0]);
}

/* ---- the APs: a mailbox each ---- */

enum { CMD_NONE, CMD_SPIN, CMD_HALT, CMD_PAGING, CMD_SHOOT };

static volatile uint32_t ap_cmd[SMP_MAX_CPUS], ap_seq[SMP_MAX_CPUS];
static volatile uint32_t ap_armed[SMP_MAX_CPUS], ap_done[SMP_MAX_CPUS];
static volatile uint32_t ap_ready;
static volatile uint32_t ipi_flag, shoot_stop, acks;
static volatile uint64_t ipi_tsc, wake_tsc;

static uint32_t pd[1024] __attribute__((aligned(4096)));
static volatile uint32_t pt[1024] __attribute__((aligned(4096)));
static uint32_t frames[2][1024] __attribute__((aligned(4096)));

static void paging_on(void)
{
	write_cr4(read_cr4() | CR4_PSE);
	write_cr3((uint32_t)pd);
	write_cr0(read_cr0() | CR0_PG);
}

static void on_ipi(unsigned vector)
{
	(void)vector;
	ipi_tsc = rdtsc();
	ipi_flag = 1;
	apic_eoi();
}

static void on_shoot(unsigned vector)
{
	(void)vector;
	invlpg(TEST_VA);
	atomic_add_return_old(&acks, 1);
	apic_eoi();
}

static void ap_main(unsigned idx)
{
	uint32_t seen = 0;

	apic_enable();
	atomic_add_return_old(&ap_ready, 1);
	for (;;) {
		while (ap_seq[idx] == seen)
			cpu_relax();
		seen = ap_seq[idx];
		switch (ap_cmd[idx]) {
		case CMD_SPIN:
			ap_armed[idx] = seen;
			irq_enable();
			while (!ipi_flag)
				cpu_relax();
			irq_disable();
			break;
		case CMD_HALT:
			ap_armed[idx] = seen;
			for (;;) {
				__asm__ volatile("sti; hlt; cli" ::: "memory");
				uint64_t t = rdtsc();
				if (ipi_flag) {
					wake_tsc = t;
					break;
				}
			}
			break;
		case CMD_PAGING:
			paging_on();
			break;
		case CMD_SHOOT:
			ap_armed[idx] = seen;
			irq_enable();
			while (!shoot_stop)
				cpu_relax();
			irq_disable();
			break;
		}
		ap_done[idx] = seen;
	}
}

static uint32_t post(unsigned idx, uint32_t cmd)
{
	ap_cmd[idx] = cmd;
	return ++ap_seq[idx];
}

/* ---- 1-3: an IPI to a running and to a halted AP ---- */

static void ipi_figures(void)
{
	static int32_t run[SAMPLES], halt[SAMPLES], wake[SAMPLES];
	unsigned nr = 0, nh = 0;
	uint32_t dest = smp_apic_ids[1] << 24;

	for (unsigned i = 0; i < SAMPLES; i++) {
		ipi_flag = 0;
		uint32_t s = post(1, CMD_SPIN);
		if (!spin_ge(&ap_armed[1], s))
			break;
		tsc_delay(SETTLE / 10);
		icr_wait_idle();
		apic_write(APIC_ICR_HI, dest);
		uint64_t t0 = rdtsc();
		apic_write(APIC_ICR_LO, APIC_DM_FIXED | VEC_IPI);
		if (!spin_ge(&ap_done[1], s))
			break;
		run[nr++] = clamp32((int64_t)(ipi_tsc - t0));
		tsc_delay(SETTLE);
	}
	report("ipi_running", run, nr);

	uint64_t settle = 2 * tsc_per_ms > HALT_SETTLE ? 2 * tsc_per_ms : HALT_SETTLE;
	for (unsigned i = 0; i < SAMPLES; i++) {
		ipi_flag = 0;
		uint32_t s = post(1, CMD_HALT);
		if (!spin_ge(&ap_armed[1], s))
			break;
		tsc_delay(settle);
		icr_wait_idle();
		apic_write(APIC_ICR_HI, dest);
		uint64_t t0 = rdtsc();
		apic_write(APIC_ICR_LO, APIC_DM_FIXED | VEC_IPI);
		if (!spin_ge(&ap_done[1], s))
			break;
		halt[nh] = clamp32((int64_t)(ipi_tsc - t0));
		wake[nh++] = clamp32((int64_t)(wake_tsc - t0));
		tsc_delay(SETTLE);
	}
	report("ipi_halted", halt, nh);
	report("hlt_wake", wake, nh);
}

/* ---- 4: timer lateness ---- */

static volatile uint32_t timer_flag;
static volatile uint64_t timer_tsc;
static uint64_t apic_ratio_q32; // APIC timer ticks per TSC cycle, 32.32 fixed point

static void on_timer(unsigned vector)
{
	(void)vector;
	timer_tsc = rdtsc();
	timer_flag = 1;
	apic_eoi();
}

// The APIC timer's rate at divide 1 against the TSC, over CAL_CYCLES (each
// end the midpoint of RDTSCs around the count's read).
static int calibrate_apic_timer(void)
{
	apic_write(APIC_TIMER_DIV, TDCR_DIV1);
	apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | VEC_TIMER);
	apic_write(APIC_TIMER_INIT, 0xffffffffu);
	uint64_t a0 = rdtsc();
	uint32_t c0 = apic_read(APIC_TIMER_CUR);
	uint64_t a1 = rdtsc();
	uint64_t cal = CAL_CYCLES > 10 * tsc_per_ms ? CAL_CYCLES : 10 * tsc_per_ms;
	tsc_delay(cal);
	uint64_t b0 = rdtsc();
	uint32_t c1 = apic_read(APIC_TIMER_CUR);
	uint64_t b1 = rdtsc();
	apic_write(APIC_TIMER_INIT, 0);
	uint64_t cycles = (b0 + b1) / 2 - (a0 + a1) / 2;
	uint32_t ticks = c0 - c1;
	if (!ticks || !cycles || c1 == 0)
		return 0;
	apic_ratio_q32 = udivmod64((uint64_t)ticks << 32, cycles, NULL);
	say("apic timer ticks per 1000 tsc cycles=%u",
	    (unsigned)udivmod64((uint64_t)ticks * 1000, cycles, NULL));
	return apic_ratio_q32 != 0;
}

// Waits for the timer's interrupt, IF=1, spinning or in HLT; 1 if it came.
static int timer_wait(int halt)
{
	uint64_t end = rdtsc() + bound;
	if (halt) {
		while (!timer_flag && rdtsc() < end)
			__asm__ volatile("sti; hlt; cli" ::: "memory");
	} else {
		irq_enable();
		while (!timer_flag && rdtsc() < end)
			cpu_relax();
		irq_disable();
	}
	return timer_flag;
}

static int timer_figure(const char *label, int tscdl, int halt)
{
	static int32_t s[SAMPLES];
	unsigned n = 0;
	uint64_t c = (TIMER_DELTA * apic_ratio_q32) >> 32;
	uint32_t count = c > 0xffffffffu ? 0xffffffffu : c ? (uint32_t)c : 1;
	// The expiry the count stands for, in cycles (rounding included).
	uint64_t delta = udivmod64((uint64_t)count << 32, apic_ratio_q32, NULL);

	apic_write(APIC_TIMER_DIV, TDCR_DIV1);
	apic_write(APIC_LVT_TIMER, (tscdl ? LVT_TIMER_TSC_DEADLINE : 0) | VEC_TIMER);
	for (unsigned i = 0; i < SAMPLES; i++) {
		uint64_t want;
		timer_flag = 0;
		if (tscdl) {
			want = rdtsc() + TIMER_DELTA;
			wrmsr(MSR_TSC_DEADLINE, want);
		} else {
			uint64_t t = rdtsc();
			apic_write(APIC_TIMER_INIT, count);
			want = t + delta;
		}
		if (!timer_wait(halt))
			break;
		s[n++] = clamp32((int64_t)(timer_tsc - want));
	}
	if (tscdl)
		wrmsr(MSR_TSC_DEADLINE, 0);
	else
		apic_write(APIC_TIMER_INIT, 0);
	apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | VEC_TIMER);
	report(label, s, n);
	return n == SAMPLES;
}

static void timer_figures(void)
{
	if (!calibrate_apic_timer()) {
		fail("apic timer does not count");
		return;
	}
	if (timer_figure("timer_oneshot_late", 0, 0))
		timer_figure("timer_oneshot_hlt_late", 0, 1);
	if (!(cpuid(1, 0).ecx & (1u << 24))) {
		say("tsc-deadline not offered, timer_tscdl skipped");
		return;
	}
	if (timer_figure("timer_tscdl_late", 1, 0))
		timer_figure("timer_tscdl_hlt_late", 1, 1);
}

/* ---- 5: TLB shootdown ---- */

static void shootdown_figures(void)
{
	static int32_t s[SAMPLES];
	static char label[48];
	const unsigned slot = (TEST_VA >> 12) & 1023;

	for (unsigned f = 0; f < 2; f++)
		for (unsigned w = 0; w < 1024; w++)
			frames[f][w] = 0x5100 + f;
	pd[0] = 0x000000 | PDE_PS | PTE_W | PTE_P;
	pd[1] = 0x400000 | PDE_PS | PTE_W | PTE_P;
	pd[0xfec00000u >> 22] = 0xfec00000u | PDE_PS | PTE_PCD | PTE_PWT | PTE_W | PTE_P;
	pd[TEST_VA >> 22] = (uint32_t)pt | PTE_W | PTE_P;
	pt[slot] = (uint32_t)frames[0] | PTE_W | PTE_P;
	paging_on();
	for (unsigned i = 1; i < ncpu; i++) {
		uint32_t q = post(i, CMD_PAGING);
		if (!spin_ge(&ap_done[i], q)) {
			fail("cpu %u did not turn paging on", i);
			return;
		}
	}

	shoot_stop = 0;
	uint32_t seq[SMP_MAX_CPUS];
	for (unsigned i = 1; i < ncpu; i++)
		seq[i] = post(i, CMD_SHOOT);
	for (unsigned i = 1; i < ncpu; i++)
		if (!spin_ge(&ap_armed[i], seq[i])) {
			fail("cpu %u not ready for shootdowns", i);
			return;
		}
	tsc_delay(SETTLE / 10);

	unsigned round = 0;
	for (unsigned k = 2; k <= ncpu + 1; k++) {
		int allbut = k == ncpu + 1;
		unsigned cpus = allbut ? ncpu : k, n = 0;
		for (unsigned i = 0; i < SAMPLES; i++) {
			uint32_t before = acks;
			round++;
			uint64_t t0 = rdtsc();
			pt[slot] = (uint32_t)frames[round & 1] | PTE_W | PTE_P;
			invlpg(TEST_VA);
			if (allbut) {
				icr_wait_idle();
				apic_write(APIC_ICR_HI, 0);
				apic_write(APIC_ICR_LO, APIC_DEST_ALL_BUT_SELF | APIC_DM_FIXED | VEC_SHOOT);
			} else {
				for (unsigned j = 1; j < cpus; j++) {
					icr_wait_idle();
					apic_write(APIC_ICR_HI, smp_apic_ids[j] << 24);
					apic_write(APIC_ICR_LO, APIC_DM_FIXED | VEC_SHOOT);
				}
			}
			if (!spin_ge(&acks, before + cpus - 1))
				break;
			s[n++] = clamp32((int64_t)(rdtsc() - t0));
			tsc_delay(SETTLE);
		}
		// kprintf knows no %s width: build the label by hand.
		const char *base = allbut ? "guest_shootdown_allbutself cpus=" : "guest_shootdown cpus=";
		unsigned l = 0;
		while (*base)
			label[l++] = *base++;
		if (cpus >= 10)
			label[l++] = (char)('0' + cpus / 10);
		label[l++] = (char)('0' + cpus % 10);
		label[l] = 0;
		report(label, s, n);
		uint32_t a = acks;
		tsc_delay(SETTLE);
		if (acks != a)
			fail("%s: late acks", label);
	}

	shoot_stop = 1;
	for (unsigned i = 1; i < ncpu; i++)
		spin_ge(&ap_done[i], seq[i]);
}

void test_main(uint32_t mbi)
{
	(void)mbi;
	smp_init(); // the ACPI tables (and the PM timer's port) before paging
	ncpu = smp_nr_cpus;
	outb(0x21, 0xff); // legacy PICs masked
	outb(0xa1, 0xff);

	// The TSC's rate, only to size waits (never printed).
	uint64_t t = rdtsc();
	udelay(10000);
	tsc_per_ms = udivmod64(rdtsc() - t, 10, NULL);
	if (tsc_per_ms < 1000)
		tsc_per_ms = 1000;
	bound = 2000 * tsc_per_ms;

	apic_irq_set(VEC_IPI, on_ipi);
	apic_irq_set(VEC_SHOOT, on_shoot);
	apic_irq_set(VEC_TIMER, on_timer);
	apic_enable();

	unsigned started = ncpu > 1 ? smp_start_aps(ap_main) : 0;
	say("cpus %u", ncpu);
	if (started != ncpu - 1 || !spin_ge(&ap_ready, ncpu - 1)) {
		fail("aps started %u of %u", started, ncpu - 1);
		ncpu = 1 + started;
	}

	if (ncpu > 1)
		ipi_figures();
	else
		say("one cpu, ipi figures skipped");
	timer_figures();
	if (!cpu_has_pse())
		say("pse not offered, guest_shootdown skipped");
	else if (ncpu > 1)
		shootdown_figures();
	else
		say("one cpu, guest_shootdown skipped");
	say("done");
	debug_exit(failures ? 1 : 0);
}
