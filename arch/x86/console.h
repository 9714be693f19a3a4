// SPDX-License-Identifier: MIT
/*
 * The serial console. kprintf formats into a local buffer and writes the
 * whole line under one lock with interrupts off, so lines from different
 * CPUs never interleave. The panic path breaks the lock (console_panic_mode)
 * rather than wait on a CPU that will never release it.
 */
#pragma once

#include <stdarg.h>
#include "mm/platform.h"

void kprintf(const char *fmt, ...) __printf(1, 2);
void kvprintf(const char *fmt, va_list ap);
void console_panic_mode(void);
