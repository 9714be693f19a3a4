// SPDX-License-Identifier: MIT
/*
 * A 16550-compatible UART, polled, 8N1: at I/O ports (COM1..COM4), or
 * memory-mapped with byte registers or with 32-bit registers 4 bytes apart
 * (as on many boards behind a BMC). The console (arch/x86/console.c) keeps a
 * list of them.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum uart_kind { UART_IO, UART_MMIO, UART_MMIO32 };

#define UART_BASE_BAUD 115200 /* the divisor-1 rate of a PC UART's 1.8432 MHz clock */

struct uart {
	enum uart_kind kind;
	uint64_t base;  /* the I/O port, or the physical address (below 4 GiB, identity-mapped) */
	uint32_t baud;  /* divides UART_BASE_BAUD */
	bool present;   /* set by uart_init: the scratch register held a value */
};

/* Probe the UART (its scratch register must hold what is written) and program it. */
bool uart_init(struct uart *u);
void uart_putc(const struct uart *u, char c);
/* Wait until the last byte has left the wire (before power-off or exit). */
void uart_drain(const struct uart *u);
