// SPDX-License-Identifier: MIT
/*
 * The console: every line goes to every UART in the list. The list starts
 * as COM1 (console_early_init) and is replaced once by console_configure
 * (console=), on the BSP before the APs start; afterwards it is read-only
 * but for the panic path, which only reads it. Until then every byte is
 * also kept in early_log, so a console that joins later gets the boot's
 * first lines too.
 */
#include "arch/x86/console.h"
#include "arch/x86/console_spec.h"
#include "arch/x86/cpu.h"
#include "arch/x86/serial.h"
#include "lib/printf.h"
#include "lib/string.h"

#define LINE_MAX 1024 /* a PC guest's RESULT line with beside= keys passes 512 */
#define EARLY_LOG 8192

static spinlock_t console_lock = SPINLOCK_INIT("console");
static atomic_bool panic_mode; /* once set, writers skip the lock */
/* Under console_lock (and written only before the APs start). */
static struct uart consoles[CONSOLE_MAX];
static unsigned int nr_consoles;
static char early_log[EARLY_LOG];
static size_t early_len;
static bool configured;

void console_panic_mode(void)
{
	atomic_store(&panic_mode, true);
}

static void put_all(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (unsigned int c = 0; c < nr_consoles; c++) {
			if (s[i] == '\n')
				uart_putc(&consoles[c], '\r');
			uart_putc(&consoles[c], s[i]);
		}
	if (!configured && early_len < EARLY_LOG) {
		size_t k = n < EARLY_LOG - early_len ? n : EARLY_LOG - early_len;

		memcpy(early_log + early_len, s, k);
		early_len += k;
	}
}

void kvprintf(const char *fmt, va_list ap)
{
	char buf[LINE_MAX];
	int n = fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
	bool locked = false, irqs;

	if (n >= LINE_MAX) { /* cut short: still end the line, so the next one starts its own */
		n = LINE_MAX - 1;
		buf[n - 1] = '\n';
	}
	irqs = irq_save();
	if (!atomic_load(&panic_mode)) {
		spin_lock(&console_lock);
		locked = true;
	}
	put_all(buf, (size_t)n);
	if (locked)
		spin_unlock(&console_lock);
	irq_restore(irqs);
}

void kprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
}

void console_early_init(void)
{
	consoles[0] = (struct uart){ .kind = UART_IO, .base = 0x3f8, .baud = UART_BASE_BAUD };
	nr_consoles = uart_init(&consoles[0]) ? 1 : 0;
}

void console_drain(void)
{
	for (unsigned int c = 0; c < nr_consoles; c++)
		uart_drain(&consoles[c]);
}

static bool same_uart(const struct uart *a, const struct uart *b)
{
	return a->kind == b->kind && a->base == b->base;
}

/* The early log onto u, a line at a time, as the boot printed it. */
static void replay(const struct uart *u)
{
	for (size_t i = 0; i < early_len; i++) {
		if (early_log[i] == '\n')
			uart_putc(u, '\r');
		uart_putc(u, early_log[i]);
	}
	if (early_len == EARLY_LOG) {
		static const char cut[] = "\r\nmmuvisor: console: (the boot's first lines were longer than this console's replay)\r\n";

		for (const char *p = cut; *p; p++)
			uart_putc(u, *p);
	}
}

bool console_configure(const char *text, char *err, size_t err_len)
{
	struct console_spec spec;
	char absent[CONSOLE_MAX][48], names[160] = "";
	unsigned int nr_absent = 0, nr = 0;
	struct uart on[CONSOLE_MAX];
	size_t at = 0;
	bool irqs;

	if (!console_spec_parse(text, &spec, err, err_len))
		return false;
	for (unsigned int i = 0; i < spec.nr; i++) {
		struct uart *u = &spec.uart[i];
		bool known = false;

		for (unsigned int c = 0; c < nr_consoles; c++)
			known |= same_uart(&consoles[c], u) && consoles[c].baud == u->baud;
		if (known || uart_init(u)) {
			u->present = true;
			if (!known)
				replay(u);
			on[nr++] = *u;
			console_spec_name(u, names + at, sizeof(names) - at);
			at += strlen(names + at);
			if (at + 1 < sizeof(names))
				names[at++] = ' ', names[at] = 0;
		} else {
			console_spec_name(u, absent[nr_absent++], sizeof(absent[0]));
		}
	}
	irqs = irq_save();
	spin_lock(&console_lock);
	if (nr) {
		memcpy(consoles, on, nr * sizeof(on[0]));
		nr_consoles = nr;
	}
	configured = true;
	spin_unlock(&console_lock);
	irq_restore(irqs);
	for (unsigned int i = 0; i < nr_absent; i++)
		kprintf("mmuvisor: console: %s is absent (its scratch register does not hold a value): skipped\n",
			absent[i]);
	if (!nr)
		kprintf("mmuvisor: warning: console=%s: no UART in the list answers; staying on com1\n", text);
	else if (at)
		kprintf("mmuvisor: console: %.*s\n", (int)at - 1, names);
	return true;
}
