// SPDX-License-Identifier: MIT
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/serial.h"
#include "lib/printf.h"

#define LINE_MAX 1024 /* a PC guest's RESULT line with beside= keys passes 512 */

static spinlock_t console_lock = SPINLOCK_INIT("console");
static atomic_bool panic_mode; /* once set, writers skip the lock */

void console_panic_mode(void)
{
	atomic_store(&panic_mode, true);
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
	for (int i = 0; i < n; i++) {
		if (buf[i] == '\n')
			serial_putc('\r');
		serial_putc(buf[i]);
	}
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
