// SPDX-License-Identifier: MIT
/*
 * scenario=guest guest=NAME[,NAME...]: run each named GRUB module in a VM
 * of its own, one after another: a multiboot kernel on the small PC of
 * virt/pc.c; a module without a multiboot header that names a guest of
 * guest/ (or replaces one: stress/guests.c) runs as that synthetic guest,
 * today's flat binaries. A module that is neither, or that cannot be
 * loaded, gets one line, and the next VM still runs.
 *
 * The guest's modules: the GRUB modules NAME.1, NAME.2, ... in order, or
 * those guest_modules= lists; a module is named by the first word of its
 * command line, and the guest gets the whole line, as from GRUB. Each VM prints a RESULT line; the DONE line
 * carries the last VM's guest_status= (QEMU's exit status for the guest's
 * isa-debug-exit write, "halt" or "none"), which tools/run can exit with.
 *
 * beside= gives the control CPU work while a PC guest runs: migration's
 * dirty-log rounds, checked by a copy of guest memory after the guest
 * stopped, or aging rounds (stress/guest_beside.c); the RESULT line then
 * ends with their figures, and a copy that differs fails the VM.
 */
#include "arch/x86/console.h"
#include "arch/x86/tsc.h"
#include "boot/mb2.h"
#include "boot/options.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "stress/guest_beside.h"
#include "stress/guests.h"
#include "stress/result.h"
#include "stress/scenarios.h"
#include "stress/vm_setup.h"
#include "virt/dev/dev.h"
#include "virt/pc.h"

#define MAX_GUESTS 16

/* The GRUB module whose command line's first word is name ("module2 FILE name args..."). */
static const struct mb2_module *find_module(const char *name)
{
	const struct mb2_info *mb = boot_mb2();
	size_t n = strlen(name);

	for (unsigned int i = 0; i < mb->nr_modules; i++) {
		const char *c = mb->modules[i].cmdline;

		if (!memcmp(c, name, n) && (c[n] == '\0' || c[n] == ' '))
			return &mb->modules[i];
	}
	return NULL;
}

/* Split "a,b,c" into at most max names (in buf, which it overwrites). */
static unsigned int split_list(char *buf, const char **names, unsigned int max)
{
	unsigned int n = 0;

	for (char *p = buf; *p && n < max;) {
		names[n++] = p;
		while (*p && *p != ',')
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

/* The guest's own modules: guest_modules=, else NAME.1, NAME.2, ... while they exist. */
static bool collect_modules(struct pc_guest *g)
{
	char list[200], name[160];
	const char *names[PC_MAX_MODULES + 1];
	unsigned int n = 0;

	fmt_snprintf(list, sizeof(list), "%s", option_str(OPTION_GUEST_MODULES));
	if (list[0]) {
		n = split_list(list, names, PC_MAX_MODULES + 1);
	} else {
		for (; n < PC_MAX_MODULES + 1; n++) {
			fmt_snprintf(name, sizeof(name), "%s.%u", g->name, n + 1);
			if (!find_module(name))
				break;
		}
	}
	if (n > PC_MAX_MODULES) {
		kprintf("mmuvisor: error: guest '%s' has more than %u modules\n", g->name,
			PC_MAX_MODULES);
		return false;
	}
	for (unsigned int i = 0; i < n; i++) {
		const struct mb2_module *m;

		if (!list[0])
			fmt_snprintf(name, sizeof(name), "%s.%u", g->name, i + 1);
		m = find_module(list[0] ? names[i] : name);
		if (!m) {
			kprintf("mmuvisor: error: guest_modules names '%s', but no GRUB module has that command line\n",
				names[i]);
			return false;
		}
		g->modules[i] = (struct pc_module){ platform_phys_to_virt(m->start),
						    (size_t)(m->end - m->start), m->cmdline };
	}
	g->nr_modules = n;
	return true;
}

/* How the VM ended, for the RESULT line. */
static const char *ending(const struct vm *vm, bool ok)
{
	if (atomic_load(&vm->guest_ended))
		return atomic_load(&vm->guest_status) < 0 ? "halt" : "exit";
	return ok ? "done" : "stopped";
}

/* A flat binary of guest/'s kind: its vCPUs must all reach HC_DONE. */
static int run_synthetic(const char *name)
{
	struct vm_mmu_config mmu = scenario_mmu_config();
	uint64_t args[4] = { 0 }, t0, cycles, exits = 0;
	struct vm *vm = scenario_vm_create(name, scenario_nr_vcpus(), &mmu, args);
	unsigned int done = 0;
	char keys[128];
	bool ok;

	if (!vm)
		return EXIT_CONFIG;
	t0 = rdtsc();
	ok = vm_run(vm, option(OPTION_GUEST_TIMEOUT_MS));
	cycles = rdtsc() - t0;
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++) {
		done += vm->vcpus[i].done;
		exits += vm->vcpus[i].stats.exits;
	}
	scenario_vm_keys(vm, keys, sizeof(keys));
	kprintf("RESULT scenario=guest phase=run guest=%s %s kind=synthetic ended=%s vcpus_done=%u cycles=%lu exits=%lu\n",
		name, keys, ok ? "done" : "stopped", done, (unsigned long)cycles,
		(unsigned long)exits);
	vm_destroy(vm);
	return ok && done == scenario_nr_vcpus() ? EXIT_PASS : EXIT_FAIL;
}

/* One VM for one module; EXIT_PASS if it ran and ended as its guest wished. */
static int run_one(const char *name, char *status_out, size_t status_len)
{
	const struct mb2_module *m = find_module(name);
	struct vm_mmu_config mmu = scenario_mmu_config();
	unsigned int nr_vcpus = option(OPTION_VCPUS) ? (unsigned int)option(OPTION_VCPUS) : 1;
	static struct pc_guest g; /* the control CPU's; read by vm_create only */
	struct vm_config cfg = { .nr_vcpus = nr_vcpus, .mem_bytes = option(OPTION_MEM),
				 .mmu = mmu, .pc = &g, .numa = (enum vm_numa)option(OPTION_NUMA) };
	struct pc_exit_stats pc = { 0 };
	uint64_t exits = 0, t0, cycles, irqs = 0, nmis = 0, windows = 0, sleeps = 0, sipis = 0;
	uint64_t faults = 0, emulated = 0, retries_emulated = 0;
	const char *com1 = NULL;
	size_t com1_len;
	unsigned int com1_lines = 0;
	char keys[128], err[240], beside_keys[240];
	static struct guest_beside beside; /* the control CPU's */
	struct vm *vm;
	bool ok, copy_ok;
	int status;

	fmt_snprintf(status_out, status_len, "none");
	if (!m) {
		kprintf("mmuvisor: error: guest '%s': no GRUB module has that command line (module2 /boot/FILE %s)\n",
			name, name);
		return EXIT_CONFIG;
	}
	if (!loader_multiboot_version(platform_phys_to_virt(m->start), (size_t)(m->end - m->start)) &&
	    guest_image_is_builtin(name))
		return run_synthetic(name);
	g = (struct pc_guest){ .name = m->cmdline, .image = platform_phys_to_virt(m->start),
			       .image_len = (size_t)(m->end - m->start),
			       .args = option_str(OPTION_GUEST_ARGS),
			       .io_strict = option(OPTION_IO) == IO_STRICT };
	if (!collect_modules(&g))
		return EXIT_CONFIG;
	guest_beside_config(option(OPTION_BESIDE), &cfg.mmu);
	vm = vm_create(&cfg, err, sizeof(err));
	if (!vm) {
		kprintf("mmuvisor: error: %s\n", err);
		return EXIT_CONFIG;
	}
	if (!guest_beside_prepare(&beside, option(OPTION_BESIDE), vm)) {
		guest_beside_release(&beside);
		vm_destroy(vm);
		return EXIT_CONFIG;
	}
	t0 = rdtsc();
	vm_start(vm);
	ok = vm_wait_beside(vm, option(OPTION_GUEST_TIMEOUT_MS), guest_beside_step, &beside);
	cycles = rdtsc() - t0;
	copy_ok = guest_beside_finish(&beside, vm);
	guest_beside_keys(&beside, beside_keys, sizeof(beside_keys));
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++) {
		const struct vcpu_stats *s = &vm->vcpus[i].stats;

		exits += s->exits;
		pc.io += s->pc.io;
		pc.msr += s->pc.msr;
		pc.cpuid += s->pc.cpuid;
		pc.dr += s->pc.dr;
		pc.mmio += s->pc.mmio;
		pc.other += s->pc.other;
		faults += s->tdp_faults;
		emulated += s->emulated;
		retries_emulated += s->write_retries_emulated;
		irqs += s->irqs_injected;
		nmis += s->nmis_injected;
		windows += s->irq_windows;
		sleeps += s->sleeps;
		sipis += s->sipis;
	}
	/* What the guest wrote on COM1, read back (every byte, the lines printed above). */
	com1_len = pc_uart_output(vm->dev, &com1);
	for (size_t i = 0; i < com1_len; i++)
		com1_lines += com1[i] == '\n';
	status = atomic_load(&vm->guest_status);
	if (atomic_load(&vm->guest_ended))
		fmt_snprintf(status_out, status_len, status < 0 ? "halt" : "%d", status);
	scenario_vm_keys(vm, keys, sizeof(keys));
	kprintf("RESULT scenario=guest phase=run guest=%s %s mem_mib=%lu ended=%s guest_status=%s cycles=%lu exits=%lu io_exits=%lu msr_exits=%lu cpuid_exits=%lu dr_exits=%lu mmio_exits=%lu other_exits=%lu faults=%lu emulated=%lu emulated_after_retries=%lu irqs=%lu nmis=%lu irq_windows=%lu sleeps=%lu sipis=%lu com1_bytes=%zu com1_lines=%u%s\n",
		name, keys, (unsigned long)(vm->cfg.mem_bytes >> 20), ending(vm, ok), status_out,
		(unsigned long)cycles, (unsigned long)exits, (unsigned long)pc.io,
		(unsigned long)pc.msr, (unsigned long)pc.cpuid, (unsigned long)pc.dr,
		(unsigned long)pc.mmio, (unsigned long)pc.other, (unsigned long)faults,
		(unsigned long)emulated, (unsigned long)retries_emulated, (unsigned long)irqs,
		(unsigned long)nmis, (unsigned long)windows, (unsigned long)sleeps,
		(unsigned long)sipis, com1_len, com1_lines, beside_keys);
	/* A guest that ended itself stopped the VM on purpose: vm_wait_beside() said false. */
	ok = (ok || atomic_load(&vm->guest_ended)) && !atomic_load(&vm->host_state_restored);
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++)
		ok = ok && !vm->vcpus[i].failed;
	ok = ok && copy_ok;
	guest_beside_release(&beside);
	vm_destroy(vm);
	return ok ? EXIT_PASS : EXIT_FAIL;
}

int scenario_guest(void)
{
	char list[128], status[16] = "none", keys[32];
	const char *names[MAX_GUESTS];
	unsigned int n;
	int worst = EXIT_PASS;

	fmt_snprintf(list, sizeof(list), "%s", option_str(OPTION_GUEST));
	n = split_list(list, names, MAX_GUESTS);
	if (!n) {
		kprintf("mmuvisor: error: scenario=guest needs guest=NAME, the command line of the GRUB module to run (module2 /boot/FILE NAME)\n");
		return EXIT_CONFIG;
	}
	for (unsigned int i = 0; i < n; i++) {
		int r = run_one(names[i], status, sizeof(status));

		if (r == EXIT_CONFIG && worst == EXIT_PASS)
			worst = EXIT_CONFIG;
		else if (r == EXIT_FAIL)
			worst = EXIT_FAIL;
	}
	fmt_snprintf(keys, sizeof(keys), "guest_status=%s", status);
	result_done_keys(keys);
	return worst;
}
