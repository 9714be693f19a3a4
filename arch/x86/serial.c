// SPDX-License-Identifier: MIT
#include "arch/x86/serial.h"
#include "arch/x86/cpu.h"

#define COM1 0x3f8
#define UART_DATA 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_SCRATCH 7
#define LSR_THR_EMPTY 0x20
#define LSR_TX_IDLE 0x40 /* holding register and shift register both empty */
#define SPIN_LIMIT 100000 /* a missing or wedged UART must not hang us */

static bool present; /* immutable after serial_init */

void serial_init(void)
{
	/* A box without COM1 reads back 0xff from an unclaimed port. */
	outb(COM1 + UART_SCRATCH, 0x5a);
	present = inb(COM1 + UART_SCRATCH) == 0x5a;
	if (!present)
		return;
	outb(COM1 + UART_IER, 0x00);
	outb(COM1 + UART_LCR, 0x80); /* DLAB: divisor 1 = 115200 baud */
	outb(COM1 + UART_DATA, 0x01);
	outb(COM1 + UART_IER, 0x00);
	outb(COM1 + UART_LCR, 0x03); /* 8N1 */
	outb(COM1 + UART_FCR, 0xc7); /* FIFO on, cleared, 14-byte threshold */
	outb(COM1 + UART_MCR, 0x03); /* DTR, RTS; no interrupts */
}

void serial_drain(void)
{
	if (!present)
		return;
	for (int i = 0; i < SPIN_LIMIT && !(inb(COM1 + UART_LSR) & LSR_TX_IDLE); i++)
		cpu_relax();
}

void serial_putc(char c)
{
	if (!present)
		return;
	for (int i = 0; i < SPIN_LIMIT && !(inb(COM1 + UART_LSR) & LSR_THR_EMPTY); i++)
		cpu_relax();
	outb(COM1 + UART_DATA, (uint8_t)c);
}
