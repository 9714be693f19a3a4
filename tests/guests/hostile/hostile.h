// SPDX-License-Identifier: MIT
// The hostile modules' runtime: COM1 output and isa-debug-exit, nothing else.
// Each kernel brings its own multiboot header, so none links
// tests/guests/lib/crt0.S (whose header would be found first).
#ifndef HOSTILE_H
#define HOSTILE_H

#include <stdint.h>

void serial_puts(const char *s);
void serial_putu(uint32_t v);
// One line "<s1><n>\n" (n printed in decimal).
void say_u(const char *s, uint32_t n);
// isa-debug-exit: bare QEMU exits with (code << 1) | 1; mmuvisor reports the same.
__attribute__((noreturn)) void debug_exit(uint8_t code);

#endif
