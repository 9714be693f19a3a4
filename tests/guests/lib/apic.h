// SPDX-License-Identifier: MIT
// The local APIC (xAPIC, MMIO at 0xfee00000), interrupt gates for vectors
// 32-255, the ACPI PM timer for delays, and SMP start-up (INIT-SIPI-SIPI
// into a real-mode trampoline) for the test kernels. lib/apic.c.
//
// Usage:
//   apic_enable();                      // SVR: enabled, spurious vector 0xff
//   apic_irq_set(0x40, handler);        // handler(vector), called with IF=0; EOI is the handler's
//   apic_send_ipi(dest, APIC_DM_FIXED | 0x40);
//   unsigned n = smp_start_aps(ap_main); // ap_main(idx) on each AP, idx 1..n
//
// CPU indices: 0 is the BSP, then the APs in ascending APIC ID order
// (IDs from the MADT; without one, 0..NB_CPUS-1 from fw_cfg).
#ifndef TGUEST_APIC_H
#define TGUEST_APIC_H

#include <stdint.h>

#define APIC_BASE 0xfee00000u

// Register offsets.
#define APIC_ID 0x20
#define APIC_VERSION 0x30
#define APIC_TPR 0x80
#define APIC_PPR 0xa0
#define APIC_EOI 0xb0
#define APIC_LDR 0xd0
#define APIC_DFR 0xe0
#define APIC_SVR 0xf0
#define APIC_ISR 0x100 // 8 registers, 0x10 apart: vector v is bit v%32 of ISR + 0x10 * (v/32)
#define APIC_TMR 0x180
#define APIC_IRR 0x200
#define APIC_ESR 0x280
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_LVT_ERROR 0x370
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_CUR 0x390
#define APIC_TIMER_DIV 0x3e0

// ICR low bits (with the vector in bits 7:0).
#define APIC_DM_FIXED 0x000
#define APIC_DM_LOWEST 0x100
#define APIC_DM_SMI 0x200
#define APIC_DM_NMI 0x400
#define APIC_DM_INIT 0x500
#define APIC_DM_STARTUP 0x600
#define APIC_DEST_LOGICAL 0x800
#define APIC_ICR_BUSY 0x1000 // delivery status: send pending
#define APIC_INT_ASSERT 0x4000
#define APIC_INT_LEVEL 0x8000
#define APIC_DEST_SELF 0x40000
#define APIC_DEST_ALL 0x80000
#define APIC_DEST_ALL_BUT_SELF 0xc0000

#define APIC_SVR_ENABLE 0x100
#define APIC_LVT_MASKED (1u << 16)
#define APIC_SPURIOUS_VECTOR 0xff

// ESR bits.
#define APIC_ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define APIC_ESR_RECV_ILLEGAL_VECTOR (1u << 6)

uint32_t apic_read(uint32_t reg);
void apic_write(uint32_t reg, uint32_t val);
void apic_eoi(void);
// This CPU's APIC ID (APIC_ID bits 31:24).
uint32_t apic_id(void);
// Writes ICR_HI (dest_id << 24; ignored with a shorthand) then ICR_LO with
// IF=0, and waits (bounded) until delivery status is idle again.
void apic_send_ipi(uint32_t dest_id, uint32_t icr_low);
// Waits for ICR delivery status idle; returns 0 if it stayed busy (~100 ms).
int apic_icr_wait_idle(void);
// SVR = enabled | 0xff (a handler for 0xff counts into apic_spurious[cpu]),
// TPR = 0. Call on each CPU that takes interrupts.
void apic_enable(void);
extern volatile uint32_t apic_spurious[];
// Is vector v's bit set in ISR/IRR/TMR (base = APIC_ISR, APIC_IRR, APIC_TMR)?
int apic_vector_bit(uint32_t base, unsigned v);

// Interrupt gates 32-255 in the shared IDT (lib.c's; the APs load the same
// one). The handler runs with IF=0 on the interrupted stack; it EOIs itself.
typedef void (*apic_irq_handler_t)(unsigned vector);
void apic_irq_set(unsigned vector, apic_irq_handler_t h);

static inline void irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline uint32_t atomic_add_return_old(volatile uint32_t *p, uint32_t v)
{
	__asm__ volatile("lock xaddl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
	return v;
}

/* ---- time: the ACPI PM timer (port from the FACP), 3.579545 MHz ---- */

// 1 if the FACP names a PM timer port (found on first use). Without one the
// delays below spin a fixed count (not calibrated).
int pmtimer_present(void);
struct deadline {
	uint32_t last, left;
	uint32_t spins; // the fallback without a PM timer
};
void deadline_start(struct deadline *d, uint32_t us);
int deadline_passed(struct deadline *d);
void udelay(uint32_t us);
// Spins until *p == val or us pass; returns 1 if *p == val.
int wait_eq(volatile uint32_t *p, uint32_t val, uint32_t us);
// Spins until *p >= val or us pass; returns 1 if *p >= val.
int wait_ge(volatile uint32_t *p, uint32_t val, uint32_t us);

/* ---- SMP ---- */

#define SMP_MAX_CPUS 16
#define SMP_TRAMPOLINE 0x9d000u // the real-mode trampoline's page (SIPI vector 0x9d)
#define SMP_SIPI_VECTOR (SMP_TRAMPOLINE >> 12)

// Filled by smp_init() (smp_start_aps calls it): CPUs known, their APIC IDs
// by index (0 = the BSP), where the list came from.
extern unsigned smp_nr_cpus;
extern uint32_t smp_apic_ids[SMP_MAX_CPUS];
extern unsigned smp_fwcfg_cpus; // fw_cfg NB_CPUS (0 when absent)
extern int smp_from_madt;       // 1: the MADT's enabled local APICs; 0: fw_cfg count, IDs 0..n-1
// Also finds the PM timer: call it before paging if the ACPI tables (high
// RAM) will not be mapped.
void smp_init(void);

// INIT, 10 ms, SIPI, 200 us, SIPI to each AP in index order; waits up to 1 s
// for each to reach C. Returns how many APs reached ap_main.
unsigned smp_start_aps(void (*ap_main)(unsigned idx));
// Per index: set once the AP reached C; the CS and CR0 its trampoline saw at
// entry (real mode: CS = vector << 8, CR0.PE = 0).
extern volatile uint32_t smp_ap_online[SMP_MAX_CPUS];
extern volatile uint32_t smp_ap_entry_cs[SMP_MAX_CPUS];
extern volatile uint32_t smp_ap_entry_cr0[SMP_MAX_CPUS];
// Times any AP came through the trampoline into 32-bit code (lock xadd).
extern volatile uint32_t smp_trampoline_entries;
// This CPU's index (its APIC ID looked up), -1 if unknown.
int smp_cpu_index(void);

#endif
