// SPDX-License-Identifier: MIT
#include "arch/x86/acpi.h"
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/serial.h"
#include "arch/x86/shutdown.h"

#define QEMU_DEBUG_EXIT_PORT 0xf4
#define BOCHS_SHUTDOWN_PORT 0x8900

_Noreturn void machine_exit(int status)
{
	static const char bochs_shutdown[] = "Shutdown";

	kprintf("mmuvisor: exit status %d\n", status);
	serial_drain(); /* emulators exit at once: the last line must be out */
	outl(QEMU_DEBUG_EXIT_PORT, (uint32_t)status);
	for (const char *c = bochs_shutdown; *c; c++)
		outb(BOCHS_SHUTDOWN_PORT, (uint8_t)*c);
	acpi_poweroff();
	kprintf("mmuvisor: halted (no debug-exit device and no ACPI power-off); exit status %d, power off by hand\n",
		status);
	halt_forever();
}

static last_words_fn last_words; /* written once on the BSP before the APs start */

void machine_set_last_words(last_words_fn fn)
{
	last_words = fn;
}

_Noreturn void machine_end(int status, const char *reason)
{
	if (last_words)
		last_words(status, reason);
	machine_exit(status);
}

_Noreturn void machine_fail_config(const char *reason, const char *fmt, ...)
{
	va_list ap;

	kprintf("mmuvisor: error: ");
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	kprintf("\n");
	machine_end(EXIT_CONFIG, reason);
}
