// SPDX-License-Identifier: MIT
#include "arch/x86/cpu.h"
#include "arch/x86/serial.h"

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

static uint8_t uart_in(const struct uart *u, unsigned int reg)
{
	switch (u->kind) {
	case UART_MMIO:
		return *(volatile uint8_t *)(uintptr_t)(u->base + reg);
	case UART_MMIO32:
		return (uint8_t)*(volatile uint32_t *)(uintptr_t)(u->base + reg * 4);
	default:
		return inb((uint16_t)(u->base + reg));
	}
}

static void uart_out(const struct uart *u, unsigned int reg, uint8_t v)
{
	switch (u->kind) {
	case UART_MMIO:
		*(volatile uint8_t *)(uintptr_t)(u->base + reg) = v;
		break;
	case UART_MMIO32:
		*(volatile uint32_t *)(uintptr_t)(u->base + reg * 4) = v;
		break;
	default:
		outb((uint16_t)(u->base + reg), v);
	}
}

bool uart_init(struct uart *u)
{
	unsigned int divisor = UART_BASE_BAUD / u->baud;

	/* A box without the UART reads back 0xff (a port) or 0xff/0 (memory) from it. */
	uart_out(u, UART_SCRATCH, 0x5a);
	u->present = uart_in(u, UART_SCRATCH) == 0x5a;
	if (u->present) {
		uart_out(u, UART_SCRATCH, 0xa5);
		u->present = uart_in(u, UART_SCRATCH) == 0xa5;
	}
	if (!u->present)
		return false;
	uart_out(u, UART_IER, 0x00);
	uart_out(u, UART_LCR, 0x80); /* DLAB: the divisor follows */
	uart_out(u, UART_DATA, (uint8_t)divisor);
	uart_out(u, UART_IER, (uint8_t)(divisor >> 8));
	uart_out(u, UART_LCR, 0x03); /* 8N1 */
	uart_out(u, UART_FCR, 0xc7); /* FIFO on, cleared, 14-byte threshold */
	uart_out(u, UART_MCR, 0x03); /* DTR, RTS; no interrupts */
	return true;
}

void uart_drain(const struct uart *u)
{
	for (int i = 0; i < SPIN_LIMIT && !(uart_in(u, UART_LSR) & LSR_TX_IDLE); i++)
		cpu_relax();
}

void uart_putc(const struct uart *u, char c)
{
	for (int i = 0; i < SPIN_LIMIT && !(uart_in(u, UART_LSR) & LSR_THR_EMPTY); i++)
		cpu_relax();
	uart_out(u, UART_DATA, (uint8_t)c);
}
