// SPDX-License-Identifier: MIT
#include "arch/x86/apic.h"
#include "arch/x86/console.h"
#include "arch/x86/gdt.h"
#include "arch/x86/interrupt.h"
#include "arch/x86/ipi.h"
#include "arch/x86/panic.h"
#include "arch/x86/percpu.h"

#define STUB_SIZE 16

/*
 * A 64-bit interrupt gate (SDM 6.14.1):
 *   offset[15:0] | selector | IST(3) | type=0xe, P | offset[31:16] | offset[63:32]
 */
struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct idt_gate) == 16, "an IDT gate is 16 bytes");

extern char isr_stubs[];
static struct idt_gate idt[256]; /* written once by the BSP before the APs start */

static void set_gate(unsigned int vec, unsigned int ist)
{
	uint64_t addr = (uint64_t)(isr_stubs + vec * STUB_SIZE);

	idt[vec] = (struct idt_gate){
		.offset_lo = addr & 0xffff,
		.selector = KERNEL_CS,
		.ist = ist,
		.type_attr = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
		.offset_mid = (addr >> 16) & 0xffff,
		.offset_hi = addr >> 32,
	};
}

void idt_init(void)
{
	for (unsigned int v = 0; v < 256; v++)
		set_gate(v, 0);
	/* NMI and #DF run on their own stacks: the current one may be the problem. */
	set_gate(VEC_NMI, IST_NMI);
	set_gate(VEC_DOUBLE_FAULT, IST_DOUBLE_FAULT);
}

void idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) ptr = { sizeof(idt) - 1, (uint64_t)idt };

	asm volatile("lidt %0" ::"m"(ptr));
}

void interrupt_dispatch(struct regs *r)
{
	switch (r->vector) {
	case VEC_NMI:
		panic_nmi(r);
		return;
	case VEC_CALL_FUNCTION:
		apic_eoi();
		smp_call_handle();
		return;
	case VEC_KICK:
		atomic_fetch_add_explicit(&this_cpu()->kicks_received, 1, memory_order_relaxed);
		apic_eoi();
		return;
	case VEC_TIMER:
		apic_eoi();
		return;
	case VEC_SPURIOUS:
		return; /* no EOI for the spurious vector */
	default:
		break;
	}
	if (r->vector < 32)
		exception_fatal(r);
	if (r->vector >= VEC_PIC_BASE && r->vector < VEC_PIC_BASE + 16)
		return; /* a spurious IRQ 7/15 from the masked legacy PICs */
	kprintf("mmuvisor: warning: unexpected interrupt vector %lu on cpu %u\n",
		(unsigned long)r->vector, this_cpu()->cpu);
	apic_eoi();
}
