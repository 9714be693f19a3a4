// SPDX-License-Identifier: MIT
/*
 * The console: every line goes to every UART in the list, and to the
 * framebuffer console when console= names fb. The list starts as COM1
 * (console_early_init) and is replaced once by console_configure
 * (console=), on the BSP before the APs start; afterwards it is read-only
 * but for the panic path, which only reads it. Until then every byte is
 * also kept in early_log, so a console that joins later gets the boot's
 * first lines too.
 */
#include "arch/x86/console.h"
#include "arch/x86/console_spec.h"
#include "arch/x86/cpu.h"
#include "arch/x86/fbcon.h"
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
static bool fb_on; /* arch/x86/fbcon.c draws too (its state is under this lock as well) */
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
	if (fb_on)
		fbcon_write(s, n);
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

#define REPLAY_CUT "\nmmuvisor: console: (the boot's first lines were longer than this console's replay)\n"

/* The early log onto u, a line at a time, as the boot printed it. */
static void replay_uart(const struct uart *u)
{
	static const char cut[] = REPLAY_CUT;

	for (size_t i = 0; i < early_len; i++) {
		if (early_log[i] == '\n')
			uart_putc(u, '\r');
		uart_putc(u, early_log[i]);
	}
	for (const char *p = cut; early_len == EARLY_LOG && *p; p++) {
		if (*p == '\n')
			uart_putc(u, '\r');
		uart_putc(u, *p);
	}
}

/* The same onto the framebuffer console, which has just been cleared. */
static void replay_fb(void)
{
	static const char cut[] = REPLAY_CUT;

	fbcon_write(early_log, early_len);
	if (early_len == EARLY_LOG)
		fbcon_write(cut, sizeof(cut) - 1);
}

/* Append name and a space to names[*at...], as far as it fits. */
static void add_name(char *names, size_t len, size_t *at, const char *name)
{
	fmt_snprintf(names + *at, len - *at, "%s ", name);
	*at += strlen(names + *at);
}

/* fb joins if there is one it can draw on; otherwise why says what is wrong. */
static bool join_fb(const struct mb2_framebuffer *fb, char *why, size_t len)
{
	if (!fb) {
		fmt_snprintf(why, len, "is absent (no framebuffer from the loader)");
		return false;
	}
	if (!fbcon_init(fb, why, len))
		return false;
	replay_fb();
	return true;
}

bool console_configure(const char *text, const struct mb2_framebuffer *fb, char *err,
		       size_t err_len)
{
	struct console_spec spec;
	char absent[CONSOLE_MAX][48], names[160] = "", fb_why[160] = "", line[128];
	unsigned int nr_absent = 0, nr = 0;
	struct uart on[CONSOLE_MAX];
	bool fb_joins = false;
	size_t at = 0;
	bool irqs;

	if (!console_spec_parse(text, &spec, err, err_len))
		return false;
	for (unsigned int i = 0; i < spec.nr; i++) {
		struct uart *u = &spec.uart[i];
		bool known = false;

		for (unsigned int c = 0; c < nr_consoles; c++)
			known |= same_uart(&consoles[c], u) && consoles[c].baud == u->baud;
		console_spec_name(u, line, sizeof(line));
		if (known || uart_init(u)) {
			u->present = true;
			if (!known)
				replay_uart(u);
			on[nr++] = *u;
			add_name(names, sizeof(names), &at, line);
		} else {
			fmt_snprintf(absent[nr_absent++], sizeof(absent[0]), "%s", line);
		}
	}
	/* Only this CPU runs yet, and fb_on is still false: the fb is ours to draw on. */
	if (spec.fb && (fb_joins = join_fb(fb, fb_why, sizeof(fb_why))))
		add_name(names, sizeof(names), &at, "fb");
	irqs = irq_save();
	spin_lock(&console_lock);
	if (nr || fb_joins) {
		memcpy(consoles, on, nr * sizeof(on[0]));
		nr_consoles = nr;
		fb_on = fb_joins;
	}
	configured = true;
	spin_unlock(&console_lock);
	irq_restore(irqs);
	for (unsigned int i = 0; i < nr_absent; i++)
		kprintf("mmuvisor: console: %s is absent (its scratch register does not hold a value): skipped\n",
			absent[i]);
	if (spec.fb && !fb_joins)
		kprintf("mmuvisor: console: fb %s: skipped\n", fb_why);
	if (!nr && !fb_joins) {
		kprintf("mmuvisor: warning: console=%s: no console in the list answers; staying on com1\n",
			text);
		return true;
	}
	kprintf("mmuvisor: console: %.*s\n", (int)at - 1, names);
	if (fb_joins) {
		fbcon_describe(line, sizeof(line));
		kprintf("mmuvisor: console: fb: %s\n", line);
	}
	return true;
}
