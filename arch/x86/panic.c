// SPDX-License-Identifier: MIT
#include "arch/x86/apic.h"
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/panic.h"
#include "arch/x86/percpu.h"
#include "arch/x86/shutdown.h"
#include "arch/x86/smp.h"
#include "arch/x86/tsc.h"

#define STOP_WAIT_MS 1000

static atomic_int panic_cpu = -1;  /* the CPU that owns the panic */
static atomic_uint cpus_stopped;   /* acknowledgements from the NMI handler */

void panic_begin(void)
{
	int expected = -1, me = this_cpu()->cpu;

	irq_disable();
	if (!atomic_compare_exchange_strong(&panic_cpu, &expected, me)) {
		if (expected == me) {
			/* Panicking inside the panic: nothing more we can trust. */
			kprintf("mmuvisor: recursive panic on cpu %d\n", me);
			machine_exit(EXIT_PANIC);
		}
		halt_forever(); /* the owner's NMI finds us here */
	}
	console_panic_mode();
}

_Noreturn void panic_finish(void)
{
	unsigned int others = smp_cpus_online() - 1;
	uint64_t deadline = tsc_deadline_ms(STOP_WAIT_MS);

	if (others) {
		apic_send_nmi_all_but_self();
		while (atomic_load(&cpus_stopped) < others && !tsc_passed(deadline))
			cpu_relax();
	}
	if (atomic_load(&cpus_stopped) >= others)
		kprintf("mmuvisor: panic: all %u CPUs stopped\n", others + 1);
	else
		kprintf("mmuvisor: panic: only %u of the %u other CPUs stopped within %d ms\n",
			atomic_load(&cpus_stopped), others, STOP_WAIT_MS);
	machine_end(EXIT_PANIC, "panic");
}

_Noreturn void vpanic(const char *fmt, va_list ap)
{
	panic_begin();
	kprintf("mmuvisor: panic on cpu %u: ", this_cpu()->cpu);
	kvprintf(fmt, ap);
	kprintf("\n");
	backtrace_print((uint64_t)__builtin_frame_address(0));
	panic_finish();
}

_Noreturn void panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpanic(fmt, ap);
}

void panic_nmi(const struct regs *r)
{
	int owner = atomic_load(&panic_cpu);

	if (owner >= 0 && owner != (int)this_cpu()->cpu) {
		atomic_fetch_add(&cpus_stopped, 1);
		halt_forever();
	}
	if (ipi_nmi_was_kick())
		return; /* it has done its work: we are out of guest mode */
	exception_fatal(r); /* an NMI nobody sent: hardware trouble */
}
