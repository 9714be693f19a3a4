// SPDX-License-Identifier: MIT
/*
 * The console= boot option's text: a list joined by '+' of UARTs, each
 *   com1 | com2 | com3 | com4            the PC's ports 0x3f8, 0x2f8, 0x3e8, 0x2e8
 *   uart,io=PORT                         a 16550 at I/O port PORT
 *   uart,mmio=ADDR | uart,mmio32=ADDR    memory-mapped, byte or 32-bit registers
 * each with an optional ",baud=N" (N divides 115200; default 115200), and
 *   fb                                   the loader's framebuffer (arch/x86/fbcon.h)
 * at most once. The empty text is com1. Pure parsing, no hardware: the
 * host tests run it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "arch/x86/serial.h"

#define CONSOLE_MAX 4

struct console_spec {
	unsigned int nr;
	struct uart uart[CONSOLE_MAX]; /* present: false until uart_init */
	bool fb;                       /* "fb" is in the list (wherever it stands) */
};

/* false, with one plain line in err that says what is wrong and what to write. */
bool console_spec_parse(const char *text, struct console_spec *out, char *err, size_t err_len);
/* A UART as console= names it: "com2", "uart,mmio32=0xfe032000,baud=57600". */
void console_spec_name(const struct uart *u, char *buf, size_t len);
