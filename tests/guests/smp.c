// SPDX-License-Identifier: MIT
// smp: multiprocessor start-up as on a PC. The CPU count from fw_cfg
// (NB_CPUS) and the MADT's enabled local APICs; each AP started in turn with
// INIT, 10 ms, SIPI, 200 us, SIPI (by physical APIC ID) into a real-mode
// trampoline below 1 MiB, which records the CS and CR0.PE it saw (real mode:
// CS = vector << 8, PE = 0). Each AP records its APIC ID and takes a ticket
// with lock xadd, then waits for work: the BSP hands each AP a job through
// shared memory and checks the answer. A SIPI sent again to a running AP
// must be ignored (no CPU in wait-for-SIPI): the trampoline is not entered
// again. Only the BSP prints, after gathering; a missing AP is a failure.
#include "apic.h"
#include "lib.h"

const char test_name[] = "smp";

static volatile uint32_t ap_apic_id[SMP_MAX_CPUS];
static volatile uint32_t ap_ticket[SMP_MAX_CPUS];
static volatile uint32_t tickets;
static volatile uint32_t job_in[SMP_MAX_CPUS], job_out[SMP_MAX_CPUS], job_seq[SMP_MAX_CPUS];
static volatile uint32_t done_seq[SMP_MAX_CPUS];

static void ap_main(unsigned idx)
{
	ap_apic_id[idx] = apic_id();
	ap_ticket[idx] = atomic_add_return_old(&tickets, 1) + 1;
	// Work loop: the BSP bumps job_seq; answer job_in * 3 + idx.
	uint32_t seen = 0;
	for (;;) {
		uint32_t s = __atomic_load_n(&job_seq[idx], __ATOMIC_ACQUIRE);
		if (s != seen) {
			job_out[idx] = job_in[idx] * 3 + idx;
			seen = s;
			__atomic_store_n(&done_seq[idx], s, __ATOMIC_RELEASE);
		}
		cpu_relax();
	}
}

void test_main(uint32_t mbi)
{
	(void)mbi;
	smp_init();
	say("cpus from fw_cfg %u", smp_fwcfg_cpus);
	if (smp_from_madt)
		check(smp_nr_cpus == smp_fwcfg_cpus, "madt enabled lapics %u equals fw_cfg", smp_nr_cpus);
	else
		say("no madt, apic ids 0..n-1 assumed");
	check(smp_apic_ids[0] == apic_id(), "bsp is cpu 0");
	check((rdmsr(0x1b) >> 8) & 1, "bsp flag in apic_base");

	unsigned started = smp_start_aps(ap_main);
	say("aps started %u", started);
	if (started != smp_nr_cpus - 1)
		fail("aps started %u of %u", started, smp_nr_cpus - 1);
	wait_ge(&tickets, started, 1000000);
	check(smp_trampoline_entries == started, "trampoline entered once per ap");

	// IDs: as the MADT says, and distinct (the BSP's included).
	unsigned bad = 0;
	for (unsigned i = 1; i < smp_nr_cpus; i++) {
		if (!smp_ap_online[i])
			continue;
		if (ap_apic_id[i] != smp_apic_ids[i])
			bad++;
		for (unsigned j = 0; j < i; j++)
			if (smp_ap_online[j] || j == 0)
				if ((j ? ap_apic_id[j] : apic_id()) == ap_apic_id[i])
					bad++;
	}
	check(!bad, "apic ids distinct");

	// Tickets: a permutation of 1..started.
	uint32_t seen_mask = 0;
	for (unsigned i = 1; i < smp_nr_cpus; i++)
		if (smp_ap_online[i] && ap_ticket[i] >= 1 && ap_ticket[i] <= started)
			seen_mask |= 1u << ap_ticket[i];
	check(seen_mask == ((1u << (started + 1)) - 2), "lock xadd tickets distinct");

	for (unsigned i = 1; i < smp_nr_cpus; i++) {
		if (!smp_ap_online[i]) {
			fail("ap %u did not start", i);
			continue;
		}
		check(smp_ap_entry_cs[i] == SMP_SIPI_VECTOR << 8 && !(smp_ap_entry_cr0[i] & 1),
		      "ap %u real mode entry cs", i);
	}

	// Work through shared memory, three rounds.
	for (unsigned r = 1; r <= 3; r++) {
		unsigned ok = 0, n = 0;
		for (unsigned i = 1; i < smp_nr_cpus; i++) {
			if (!smp_ap_online[i])
				continue;
			n++;
			job_in[i] = 100 * r + i;
			__atomic_store_n(&job_seq[i], r, __ATOMIC_RELEASE);
		}
		for (unsigned i = 1; i < smp_nr_cpus; i++) {
			if (!smp_ap_online[i])
				continue;
			if (wait_eq(&done_seq[i], r, 1000000) && job_out[i] == (100 * r + i) * 3 + i)
				ok++;
		}
		check(ok == n, "work round %u answered by %u aps", r, ok);
	}

	// A SIPI to a running AP is ignored: no second pass through the trampoline.
	if (smp_nr_cpus > 1 && smp_ap_online[1]) {
		uint32_t before = smp_trampoline_entries;
		apic_send_ipi(smp_apic_ids[1], APIC_DM_STARTUP | SMP_SIPI_VECTOR);
		udelay(10000);
		check(smp_trampoline_entries == before, "sipi to running ap ignored");
		job_in[1] = 7;
		__atomic_store_n(&job_seq[1], 4, __ATOMIC_RELEASE);
		check(wait_eq(&done_seq[1], 4, 1000000) && job_out[1] == 22, "ap 1 still working after sipi");
	}
}
