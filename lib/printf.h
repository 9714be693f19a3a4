// SPDX-License-Identifier: MIT
/*
 * A small vsnprintf: %d %i %u %x %X %o %c %s %p %%, with flags '-' '0',
 * a width (or '*'), a precision for %s, and the length modifiers hh h l ll z.
 * Always NUL-terminates; returns the length the full output would have had.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
