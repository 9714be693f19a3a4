// SPDX-License-Identifier: MIT
/*
 * Panic: the first CPU to panic owns the console, stops every other CPU with
 * an NMI, waits for each to acknowledge, and exits with EXIT_PANIC. A CPU
 * that panics second halts and waits for the NMI.
 */
#pragma once

#include "arch/x86/interrupt.h"

#include <stdarg.h>

_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void vpanic(const char *fmt, va_list ap);

/* For callers that print their own report between the two. */
void panic_begin(void);
_Noreturn void panic_finish(void);

/* The NMI handler: stop here if another CPU is panicking. */
void panic_nmi(const struct regs *r);
