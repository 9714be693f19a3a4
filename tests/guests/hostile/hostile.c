// SPDX-License-Identifier: MIT
// The hostile modules' runtime (hostile.h): polled COM1 output and isa-debug-exit.
#include "hostile.h"

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4

static inline void outb(uint16_t p, uint8_t v)
{
	__asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(p));
}
static inline uint8_t inb(uint16_t p)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p));
	return v;
}

static void serial_putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20)) // LSR.THRE
		;
	outb(COM1, (uint8_t)c);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

void serial_putu(uint32_t v)
{
	char buf[11], *p = buf + sizeof(buf);

	*--p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	serial_puts(p);
}

void say_u(const char *s, uint32_t n)
{
	serial_puts(s);
	serial_putu(n);
	serial_puts("\n");
}

void debug_exit(uint8_t code)
{
	outb(DEBUG_EXIT_PORT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}
