// SPDX-License-Identifier: MIT
/*
 * The legacy 8259 PICs: remap them above the exception vectors, so that a
 * spurious IRQ 7 or 15 cannot look like an exception, then mask every line.
 * We use the local APIC only.
 */
#include "arch/x86/cpu.h"
#include "arch/x86/interrupt.h"
#include "arch/x86/pic.h"

void pic_disable(void)
{
	outb(0x20, 0x11); /* ICW1: init, ICW4 follows */
	outb(0xa0, 0x11);
	outb(0x21, VEC_PIC_BASE);     /* ICW2: vector base */
	outb(0xa1, VEC_PIC_BASE + 8);
	outb(0x21, 0x04); /* ICW3: slave on IRQ2 */
	outb(0xa1, 0x02);
	outb(0x21, 0x01); /* ICW4: 8086 mode */
	outb(0xa1, 0x01);
	outb(0x21, 0xff); /* mask all */
	outb(0xa1, 0xff);
}
