// SPDX-License-Identifier: MIT
/*
 * The console: one or more polled UARTs (arch/x86/serial.h), and the
 * framebuffer console (arch/x86/fbcon.h) if console= names it. kprintf
 * formats into a local buffer and writes the whole line to every console
 * under one lock with interrupts off, so lines from different CPUs never
 * interleave. The panic path breaks the lock (console_panic_mode) rather
 * than wait on a CPU that will never release it.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include "boot/mb2.h"
#include "mm/platform.h"

void kprintf(const char *fmt, ...) __printf(1, 2);
void kvprintf(const char *fmt, va_list ap);
void console_panic_mode(void);

/* COM1 at 115200, before anything is printed. */
void console_early_init(void);
/*
 * The console= list (arch/x86/console_spec.h), once, on the BSP before the
 * APs start; fb is the loader's framebuffer (NULL: it gave none), taken if
 * the list names fb. A console that answers gets the boot's first lines
 * replayed; one that does not (or an fb that is absent or that the console
 * cannot draw on) is named on the others and skipped; if none answers the
 * console stays COM1. false (with err) only for text that does not parse.
 */
bool console_configure(const char *text, const struct mb2_framebuffer *fb, char *err,
		       size_t err_len);
/* Wait until every console's last byte has left (before power-off or reset). */
void console_drain(void);
