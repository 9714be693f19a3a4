// SPDX-License-Identifier: MIT
/*
 * IPIs to one CPU or a set, and smp_call_many(): run a function on a
 * set of CPUs and wait until every one has run it.
 */
#pragma once

#include "arch/x86/apic.h"
#include "arch/x86/cpumask.h"
#include "arch/x86/percpu.h"
#include "mm/platform.h"

typedef void (*smp_call_fn)(void *arg);

void ipi_send(unsigned int cpu, unsigned int vector);
/*
 * vector to every CPU in mask, in one ICR write per logical cluster (see
 * below); returns the writes made. ipi_send_mask counts them and the
 * targets in ipi_mask_stats.
 */
unsigned int ipi_send_set_many(const cpumask_t *mask, unsigned int vector);

/*
 * How CPUs' logical destinations follow from their indices, where they do
 * (QEMU, Bochs and most firmware number APIC IDs as the MADT lists CPUs):
 * in x2APIC mode CPU n is bit n % 16 of cluster n / 16, so each 16 bits of
 * a mask are one ICR write's destination as they stand; in xAPIC mode CPUs
 * 0 to 7 are the flat model's bits, and the others have none, or (the
 * cluster model, apic_choose_logical_model) CPU n below 60 is bit n % 4 of
 * cluster n / 4. Then a set is sent with no CPU's percpu data read but a
 * lone target's APIC ID.
 */
enum ipi_logical_layout { IPI_LOGICAL_OTHER, IPI_LOGICAL_X2APIC, IPI_LOGICAL_FLAT,
			  IPI_LOGICAL_XAPIC_CLUSTER };
extern enum ipi_logical_layout ipi_layout; /* set as CPUs come up, then read-only */

/* The CPUs of bits (a run of 16 from first, x2APIC; or one CPU) in one write: logical for two or more. */
static inline void ipi_send_run(unsigned int first, uint64_t bits, unsigned int vector)
{
	if (bits & (bits - 1))
		apic_send_icr(first / 16 << 16 | (uint32_t)bits, APIC_DM_FIXED | APIC_DEST_LOGICAL | vector);
	else
		apic_send_icr(cpu_data(first + (unsigned int)__builtin_ctzll(bits))->apic_id,
			      APIC_DM_FIXED | vector);
}

/*
 * Two or more CPUs of bits, all below 64 (and below 60 in xAPIC mode),
 * laid out as ipi_layout says: one logical write per cluster of width
 * CPUs (x2APIC 16, the xAPIC cluster model 4), a lone CPU in a cluster in
 * physical mode. Returns the writes.
 */
__attribute__((always_inline)) static inline unsigned int
ipi_send_clusters(uint64_t bits, unsigned int vector, const unsigned int width, const bool x2apic)
{
	unsigned int writes = 0;

	do {
		unsigned int lo = (unsigned int)__builtin_ctzll(bits) & ~(width - 1);
		uint64_t run = bits >> lo & ((1ull << width) - 1);
		uint32_t dest = x2apic ? lo / 16 << 16 | (uint32_t)run : (lo / 4) << 4 | (uint32_t)run;
		uint32_t low = APIC_DM_FIXED | APIC_DEST_LOGICAL | vector;

		if (!(run & (run - 1))) {
			dest = cpu_data(lo + (unsigned int)__builtin_ctzll(run))->apic_id;
			low = APIC_DM_FIXED | vector;
		}
		if (x2apic)
			apic_send_icr_x2apic(dest, low);
		else
			apic_send_icr(dest, low);
		bits &= ~(run << lo);
		writes++;
	} while (bits);
	return writes;
}

/* ipi_send_set of a set of the first 64 CPUs, bits (cpumask_one_word()); returns the ICR writes. */
__attribute__((always_inline)) static inline unsigned int ipi_send_word(uint64_t bits,
									 unsigned int vector)
{
	if (!(bits & (bits - 1))) {
		if (bits && ipi_layout == IPI_LOGICAL_X2APIC)
			apic_send_icr_x2apic(cpu_data((unsigned int)__builtin_ctzll(bits))->apic_id,
					     APIC_DM_FIXED | vector);
		else if (bits)
			ipi_send_run(0, bits, vector);
		return bits != 0;
	}
	if (ipi_layout == IPI_LOGICAL_FLAT && !(bits >> 8)) {
		apic_send_icr((uint32_t)bits, APIC_DM_FIXED | APIC_DEST_LOGICAL | vector);
		return 1;
	}
	if (ipi_layout == IPI_LOGICAL_XAPIC_CLUSTER && !(bits >> 60))
		return ipi_send_clusters(bits, vector, 4, false);
	if (ipi_layout != IPI_LOGICAL_X2APIC) {
		cpumask_t mask = { .w = { bits } };

		return ipi_send_set_many(&mask, vector);
	}
	return ipi_send_clusters(bits, vector, 16, true);
}

/* The common sets inline: of the first 64 CPUs, and none or one or laid out as above. */
static inline unsigned int ipi_send_set(const cpumask_t *mask, unsigned int vector)
{
	if (!cpumask_one_word())
		return ipi_send_set_many(mask, vector);
	return ipi_send_word(mask->w[0], vector);
}
void ipi_send_mask(const cpumask_t *mask, unsigned int vector);
/* cpu's logical destination, as apic_init_this_cpu set it up: called on cpu before it is online. */
void ipi_note_logical(unsigned int cpu, uint32_t logical);

/*
 * One vector to CPUs named one at a time: add each, then send. A CPU's
 * logical destination (percpu.ipi_logical) is fixed by its APIC ID: an
 * x2APIC cluster (ID >> 4) and a bit of 16 in it (SDM 10.12.10.2), or in
 * xAPIC mode a bit of the flat model's 8 (cluster 0), or with the cluster
 * model a cluster (ID >> 2) and a bit of 4 (apic_logical_dest). One ICR write in
 * logical mode reaches every CPU its bits name in one cluster, so a batch
 * costs a write per run of CPUs in one cluster (CPUs are numbered in MADT
 * order, node by node, so a cluster's CPUs are usually adjacent), sent when
 * the next CPU is in another cluster and by ipi_batch_send(). A write for
 * one CPU alone saves nothing: it goes in physical mode. A CPU with no
 * logical destination is sent to alone, at once.
 */
struct ipi_batch {
	unsigned int vector;
	uint32_t cluster;  /* of the CPUs in bits */
	uint32_t bits;     /* gathered, not yet sent */
	unsigned int last; /* the CPU gathered last: the one, if bits names one */
	unsigned int writes;
};

#define IPI_BATCH_INIT(vec) ((struct ipi_batch){ .vector = (vec) })

void ipi_batch_send(struct ipi_batch *b);

static inline void ipi_batch_add(struct ipi_batch *b, unsigned int cpu)
{
	uint32_t ldr = cpu_data(cpu)->ipi_logical;

	if (!ldr) {
		ipi_send(cpu, b->vector);
		b->writes++;
		return;
	}
	if (b->bits && ldr >> 16 != b->cluster)
		ipi_batch_send(b);
	b->cluster = ldr >> 16;
	b->bits |= ldr & 0xffff;
	b->last = cpu;
}
/* ipi_send_mask's ICR writes and the CPUs they reached, since boot. */
void ipi_mask_stats(unsigned long *writes, unsigned long *targets);
/*
 * An NMI that only forces cpu out of guest mode: no IF, interrupt shadow
 * or guest setting holds it back (SVM and VMX intercept NMIs), so it is the
 * backstop for a kick that a guest running with IF=0 kept out. Its handler
 * on cpu does nothing else.
 */
void ipi_send_nmi_kick(unsigned int cpu);
/* The NMI handler: true if this NMI was a kick (and is now consumed). */
bool ipi_nmi_was_kick(void);

/*
 * Run fn(arg) on every online CPU in mask (the caller included, if it is in
 * the mask) and return when all have finished. Interrupt context on the
 * targets; fn must not sleep or call smp_call_many itself. Callers may run
 * with interrupts off: while waiting they serve calls aimed at themselves,
 * so two CPUs calling each other cannot deadlock. Panics, naming the CPUs,
 * if they do not answer within SMP_CALL_TIMEOUT_MS.
 */
void smp_call_many(const cpumask_t *mask, smp_call_fn fn, void *arg);
void smp_call_all(smp_call_fn fn, void *arg);
/* smp_call_many for one CPU (an offline one is skipped). */
void smp_call_one(unsigned int cpu, smp_call_fn fn, void *arg);

/* Run a call posted to this CPU, if any (the IPI handler and idle loops). */
void smp_call_handle(void);

#define SMP_CALL_TIMEOUT_MS 2000
