// SPDX-License-Identifier: MIT
/*
 * The local APIC in xAPIC (MMIO) or x2APIC (MSR) mode. The mode is chosen
 * once on the BSP (apic_select_mode) and every CPU then enables the same.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APIC_DM_FIXED (0u << 8)
#define APIC_DM_NMI (4u << 8)
#define APIC_DM_INIT (5u << 8)
#define APIC_DM_STARTUP (6u << 8)
#define APIC_LEVEL_ASSERT (1u << 14)
#define APIC_DEST_ALL_BUT_SELF (3u << 18)
#define APIC_DEST_LOGICAL (1u << 11)

/* BSP, before any other APIC call. false (with *err) if the mode is impossible. */
/* apic=: what the boot option asks for. */
enum apic_mode { APIC_MODE_AUTO, APIC_MODE_XAPIC, APIC_MODE_X2APIC };

bool apic_select_mode(unsigned int requested, char *err, size_t err_len);
bool apic_x2apic_mode(void);
/*
 * Returns the logical destination that names this CPU in one ICR write in
 * logical mode (x2APIC: cluster << 16 | bit, as its ID fixes them; xAPIC:
 * a bit of the flat model, which it sets up for an ID below 8, or with
 * the cluster model cluster << 16 | bit of 4, for an ID below 60), or 0
 * where the CPU has none. Goes in percpu.ipi_logical.
 */
uint32_t apic_init_this_cpu(void);
/* xAPIC: the cluster model if an APIC ID is 8 or more, else the flat one; on the BSP, before apic_init_this_cpu. */
void apic_choose_logical_model(uint32_t max_apic_id);
bool apic_xapic_cluster(void);
/* An ICR destination in logical mode: the CPUs of bits (a percpu.ipi_logical's low half) in cluster. */
uint32_t apic_logical_dest(uint32_t cluster, uint32_t bits);
uint32_t apic_read_id(void);
void apic_eoi(void);
/* icr_low carries the vector, delivery mode and shorthand bits. */
void apic_send_icr(uint32_t dest_apic_id, uint32_t icr_low); /* dest: an APIC ID, or a logical destination */
void apic_send_nmi_all_but_self(void);
/* apic_send_icr for a caller that knows the APIC is in x2APIC mode: one WRMSR (ICR, MSR 0x830), inline. */
static inline void apic_send_icr_x2apic(uint32_t dest, uint32_t icr_low)
{
	asm volatile("wrmsr" : : "c"(0x830u), "a"(icr_low), "d"(dest) : "memory");
}

/*
 * The local APIC timer as a wake-up at a TSC value: VEC_TIMER arrives at
 * tsc or a little after it (never before the TSC passes it). Calibrated
 * once on the BSP; armed and disarmed on the CPU it is to interrupt, with
 * interrupts off. A later arm replaces an earlier one.
 */
void apic_timer_calibrate(void);
void apic_timer_arm(uint64_t tsc);
void apic_timer_disarm(void);
bool apic_timer_pending(void);
