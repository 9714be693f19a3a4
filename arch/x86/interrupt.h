// SPDX-License-Identifier: MIT
/* Interrupt vectors, the saved-register frame, and the IDT. */
#pragma once

#include <stdint.h>

#define VEC_NMI 2
#define VEC_DOUBLE_FAULT 8
#define VEC_PIC_BASE 0x20     /* the legacy PICs, remapped and masked */
#define VEC_CALL_FUNCTION 0xf0
#define VEC_KICK 0xf1         /* only forces an exit or a wake-up */
#define VEC_TIMER 0xf2        /* the local APIC timer (apic_timer_arm): the same */
#define VEC_SPURIOUS 0xff

/* Laid out by isr_common in arch/x86/isr.S; lowest address first. */
struct regs {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

_Static_assert(sizeof(struct regs) == 22 * 8, "struct regs must match isr.S");

void idt_init(void);   /* once, on the BSP */
void idt_load(void);   /* on every CPU */
void interrupt_dispatch(struct regs *r);

/* exceptions.c: print everything about a fatal exception, then stop all CPUs. */
_Noreturn void exception_fatal(const struct regs *r);
void backtrace_print(uint64_t rbp);
