// SPDX-License-Identifier: MIT
#include "arch/x86/acpi.h"
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/shutdown.h"
#include "arch/x86/tsc.h"

#define QEMU_DEBUG_EXIT_PORT 0xf4
#define BOCHS_SHUTDOWN_PORT 0x8900
#define PCI_RESET_PORT 0xcf9 /* the chipset's reset control: 2 = reset on the next write, 6 = now */
#define I8042_STATUS 0x64
#define I8042_RESET 0xfe

static enum machine_end_mode end_mode; /* set once before the APs start */

void machine_set_end_mode(enum machine_end_mode mode)
{
	end_mode = mode;
}

/* Each way a PC resets, in the order Linux tries them; the last cannot fail. */
static _Noreturn void machine_reset(void)
{
	static const struct { uint16_t limit; uint64_t base; } __attribute__((packed)) no_idt;

	if (acpi_reset())
		udelay(50000);
	outb(PCI_RESET_PORT, 0x02);
	udelay(50);
	outb(PCI_RESET_PORT, 0x06);
	udelay(50000);
	for (int i = 0; i < 100000 && (inb(I8042_STATUS) & 2); i++)
		cpu_relax();
	outb(I8042_STATUS, I8042_RESET);
	udelay(50000);
	/* A triple fault: an interrupt with an empty IDT. */
	asm volatile("lidt %0; int3" ::"m"(no_idt) : "memory");
	halt_forever();
}

_Noreturn void machine_exit(int status)
{
	static const char bochs_shutdown[] = "Shutdown";

	kprintf("mmuvisor: exit status %d\n", status);
	if (end_mode == END_HALT) {
		kprintf("mmuvisor: end=halt: halted; reset or power off by hand\n");
		console_drain();
		halt_forever();
	}
	if (end_mode == END_REBOOT) {
		kprintf("mmuvisor: end=reboot: resetting (%s0xcf9, the keyboard controller, a triple fault)\n",
			acpi.has_reset ? "the FADT reset register, " : "");
		console_drain();
		machine_reset();
	}
	console_drain(); /* emulators exit at once: the last line must be out */
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
