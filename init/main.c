// SPDX-License-Identifier: MIT
/*
 * kmain: the boot CPU's path from long mode (boot/entry.S) to the scenario,
 * top to bottom: the console, the boot information and options, the machine
 * (arch/x86/setup.h), then the scenario, which makes its VMs (virt/) and
 * prints its result lines (stress/). Every step that fails on bad input
 * ends the boot with one plain error line and EXIT_CONFIG, never a hang.
 */
#include "arch/x86/console.h"
#include "arch/x86/setup.h"
#include "arch/x86/shutdown.h"
#include "boot/mb2.h"
#include "boot/options.h"
#include "lib/plant.h"
#include "stress/result.h"
#include "stress/scenario.h"

#define MMUVISOR_VERSION "0.1"
#define MB2_BOOTLOADER_MAGIC 0x36d76289

void kmain(uint32_t magic, uint64_t mbi_pa);

void kmain(uint32_t magic, uint64_t mbi_pa)
{
	const struct mb2_info *mb = boot_mb2();
	char err[384], line[640];
	int status;

	arch_early_init();
	/* A panic or a failed step from here on ends with the DONE line. */
	machine_set_last_words(result_print_done);
	kprintf("\nmmuvisor %s: a type-1 hypervisor for measuring scalable MMU virtualisation\n",
		MMUVISOR_VERSION);
	if (magic != MB2_BOOTLOADER_MAGIC)
		machine_fail_config("bad-boot-info", "bad multiboot2 magic 0x%x", magic);
	if (!boot_mb2_parse(mbi_pa, err, sizeof(err)))
		machine_fail_config("bad-boot-info", "multiboot2 information at 0x%lx: %s",
				    (unsigned long)mbi_pa, err);
	kprintf("mmuvisor: loader \"%s\", firmware %s, command line \"%s\"\n", mb->loader_name,
		mb->booted_from_efi ? "UEFI (boot services exited)" : "BIOS", mb->cmdline);
	arch_report_handover();
	if (!options_parse(mb->cmdline, err, sizeof(err)))
		machine_fail_config("bad-option", "%s", err);
	machine_set_end_mode((enum machine_end_mode)option(OPTION_END));
	options_format(line, sizeof(line));
	kprintf("mmuvisor: options: %s\n", line);
	if (!console_configure(option_str(OPTION_CONSOLE), mb->has_framebuffer ? &mb->fb : NULL, err,
			       sizeof(err)))
		machine_fail_config("bad-option", "%s", err);
	planted_bug = (enum plant_kind)option(OPTION_PLANT);

	arch_memory_init(mb, mbi_pa);
	arch_platform_init(mb, (unsigned int)option(OPTION_APIC));
	arch_smp_init((unsigned int)option(OPTION_CPUS));
	if (option(OPTION_CRASH) != CRASH_NONE) {
		kprintf("mmuvisor: crash=%s\n", option_choice_name(OPTION_CRASH));
		arch_crash_on_purpose((enum crash_kind)option(OPTION_CRASH));
	}
	status = scenario_run();
	/* EXIT_CONFIG: the scenario refused its options or could not make its VM. */
	result_done(status, status == EXIT_CONFIG ? "config" : "scenario-failed");
}
