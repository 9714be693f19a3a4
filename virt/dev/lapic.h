// SPDX-License-Identifier: MIT
/*
 * Inside the local APIC model: register offsets and bits, and the calls
 * between its three files (lapic.c registers, lapic_irq.c messages and
 * priority, lapic_timer.c the timer). Only those include this.
 */
#pragma once

#include "virt/dev/pc.h"

#define MSR_IA32_APIC_BASE 0x1bu
#define MSR_IA32_TSC_DEADLINE 0x6e0u
#define MSR_X2APIC_FIRST 0x800u
#define MSR_X2APIC_LAST 0x8ffu

/* xAPIC offsets (x2APIC MSR 0x800 + offset / 16). */
#define LAPIC_ID 0x020
#define LAPIC_VERSION 0x030
#define LAPIC_TPR 0x080
#define LAPIC_APR 0x090
#define LAPIC_PPR 0x0a0
#define LAPIC_EOI 0x0b0
#define LAPIC_RRD 0x0c0
#define LAPIC_LDR 0x0d0
#define LAPIC_DFR 0x0e0
#define LAPIC_SVR 0x0f0
#define LAPIC_ISR 0x100
#define LAPIC_TMR 0x180
#define LAPIC_IRR 0x200
#define LAPIC_ESR 0x280
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_TIMER_DCR 0x3e0
#define LAPIC_SELF_IPI 0x3f0

#define LAPIC_SVR_ENABLE (1u << 8)
#define LAPIC_LVT_MASKED (1u << 16)
#define LAPIC_LVT_TIMER_MODE(lvt) (((lvt) >> 17) & 3)
#define LAPIC_TIMER_ONESHOT 0u
#define LAPIC_TIMER_PERIODIC 1u
#define LAPIC_TIMER_TSC_DEADLINE 2u      /* 3 is reserved: counts as one-shot */
#define LAPIC_ESR_SEND_ILLEGAL (1u << 5) /* a vector below 16 sent */
#define LAPIC_ESR_RECV_ILLEGAL (1u << 6) /* a vector below 16 received */

/* lapic.c */
void lapic_init_state(struct pc_lapic *a, unsigned int n);

/* lapic_irq.c: vCPU n's pCPU only. */
uint32_t lapic_ppr(const struct pc_lapic *a);
void lapic_eoi(struct pc_devices *d, unsigned int n);
/* An edge fixed interrupt from APIC n to itself (SELF IPI, its timer). */
void lapic_send_self(struct pc_devices *d, unsigned int n, unsigned int vector);

/* lapic_timer.c: vCPU n's pCPU only. */
void lapic_timer_set_lvt(struct pc_devices *d, unsigned int n, uint32_t lvt);
void lapic_timer_set_initial(struct pc_devices *d, unsigned int n, uint32_t count);
uint32_t lapic_timer_current(struct pc_devices *d, unsigned int n);
void lapic_timer_set_tsc_deadline(struct pc_devices *d, unsigned int n, uint64_t tsc);
uint64_t lapic_timer_tsc_deadline(const struct pc_lapic *a);
