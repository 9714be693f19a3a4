// SPDX-License-Identifier: MIT
/*
 * A PC guest (virt/pc.h): its memory, its loading, its devices, and the
 * exits only a PC guest takes. The ROM area is a read-only memslot of its
 * own, listed before the RAM slot, so it wins the lookup over the RAM
 * beneath it; the RAM from 640 KiB to 1 MiB that it leaves stays RAM (as
 * shadowed video and option ROM memory would) but the memory map tells the
 * guest it is not there.
 */
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/tsc.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "virt/cpuid.h"
#include "virt/dev/dev.h"
#include "virt/emulate.h"
#include "virt/cr.h"
#include "virt/loader.h"
#include "virt/msr.h"
#include "virt/pc.h"
#include "virt/vcpu.h"

static bool write_guest(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	struct vm *vm = ctx;

	/* Page by page: a range may straddle the host chunks behind guest RAM. */
	while (len) {
		size_t chunk = PAGE_SIZE - (gpa & (PAGE_SIZE - 1));
		uint8_t *dst;

		if (chunk > len)
			chunk = len;
		dst = vm_gpa_to_hva(vm, gpa, chunk);
		if (!dst)
			return false;
		if (src) {
			memcpy(dst, src, chunk);
			src = (const uint8_t *)src + chunk;
		} else {
			memset(dst, 0, chunk);
		}
		gpa += chunk;
		len -= chunk;
	}
	return true;
}

/* The RSDP pc_acpi_build wrote, found as a guest would: "RSD PTR " on a 16-byte boundary. */
static const uint8_t *find_rsdp(struct vm *vm)
{
	const uint8_t *rom = vm_gpa_to_hva(vm, PC_ROM_BASE, PC_ROM_SIZE);

	for (uint64_t off = 0; rom && off + 36 <= PC_ROM_SIZE; off += 16)
		if (!memcmp(rom + off, "RSD PTR ", 8))
			return rom + off;
	return NULL;
}

bool pc_vm_setup(struct vm *vm, char *err, size_t len)
{
	const struct pc_guest *g = vm->cfg.pc;
	struct pc_config dc = { .nr_vcpus = vm->cfg.nr_vcpus, .ram_bytes = vm->cfg.mem_bytes,
				.io_strict = g->io_strict, .vm_id = vm->id,
				.kick = pc_vcpu_kick, .kick_ctx = vm,
				.clock = pc_clock, .tsc_khz = tsc_khz };
	struct loader_module mods[PC_MAX_MODULES];
	char cmdline[300];
	struct loader_input in = { .image = g->image, .image_len = g->image_len,
				   .cmdline = cmdline, .args = g->args, .modules = mods,
				   .nr_modules = g->nr_modules, .tsc_khz = tsc_khz };
	struct loader_target t = {
		.low_end = PC_LOW_RAM_END, .high_start = PC_HIGH_RAM, .ram_end = vm->cfg.mem_bytes,
		.info_base = PC_INFO_BASE, .info_end = PC_INFO_END,
		.rom_base = PC_ROM_BASE, .rom_end = PC_ROM_BASE + PC_ROM_SIZE,
		.write = write_guest, .ctx = vm,
	};
	struct loader_result r;
	char why[200];

	vm->dev = pc_devices_create(&dc);
	if (!vm->dev) {
		fmt_snprintf(err, len, "out of memory for the PC's devices");
		return false;
	}
	if (!pc_acpi_build(vm->dev, vm_gpa_to_hva(vm, PC_ROM_BASE, PC_ROM_SIZE), PC_ROM_BASE,
			   PC_ROM_SIZE)) {
		fmt_snprintf(err, len, "the ACPI tables for %u vCPUs do not fit the ROM area",
			     vm->cfg.nr_vcpus);
		return false;
	}
	t.rsdp = find_rsdp(vm);
	if (t.rsdp) /* the ROM area is one host range: the RSDP's offset is the guest's */
		t.rsdp_gpa = PC_ROM_BASE +
			     (uint64_t)(t.rsdp - (const uint8_t *)vm_gpa_to_hva(vm, PC_ROM_BASE, 1));
	/* As GRUB hands it over: the kernel's own name first, then its arguments. */
	fmt_snprintf(cmdline, sizeof(cmdline), "%s%s%s", g->name, g->args[0] ? " " : "", g->args);
	for (unsigned int i = 0; i < g->nr_modules; i++)
		mods[i] = (struct loader_module){ g->modules[i].start, g->modules[i].len,
						  g->modules[i].cmdline };
	switch (loader_load(&in, &t, &r, why, sizeof(why))) {
	case LOADER_OK:
		break;
	case LOADER_NOT_MULTIBOOT:
		fmt_snprintf(err, len,
			     "guest '%s' (%zu bytes) is not a multiboot kernel nor a Linux bzImage: no multiboot or multiboot2 header in its first 8 KiB or 32 KiB, no \"HdrS\" at 0x202",
			     g->name, g->image_len);
		return false;
	case LOADER_BAD:
		fmt_snprintf(err, len, "guest '%s' cannot be loaded: %s", g->name, why);
		return false;
	}
	kprintf("vm %u: guest '%s': %s, 0x%lx-0x%lx, entry 0x%x, %u module%s, %lu MiB RAM\n",
		vm->id, g->name, r.format, (unsigned long)r.kernel_start,
		(unsigned long)r.kernel_end, r.entry, g->nr_modules, g->nr_modules == 1 ? "" : "s",
		(unsigned long)(vm->cfg.mem_bytes >> 20));
	if (r.linux_boot)
		kprintf("vm %u: guest '%s': Linux boot protocol %u.%02u, zero page 0x%x, initrd 0x%lx-0x%lx\n",
			vm->id, g->name, r.linux_protocol >> 8, r.linux_protocol & 0xff, r.esi,
			(unsigned long)r.initrd_start, (unsigned long)r.initrd_end);
	for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		v->arch.start = VCPU_START_PROTECTED;
		/* Linux's 32-bit entry: its GDT loaded, CS __BOOT_CS, data __BOOT_DS (0: multiboot's) */
		v->arch.start_cs = r.cs;
		v->arch.start_ds = r.ds;
		v->arch.start_gdt_base = r.gdt_base;
		v->arch.start_gdt_limit = r.gdt_limit;
		v->arch.regs = (struct guest_regs){ .rip = r.entry, .rax = r.magic, .rbx = r.info,
						    .rsi = r.esi, .rflags = 0x2 };
		v->guest_cr0 = CR0_PE | CR0_ET;
		v->guest_cr3 = v->guest_cr4 = v->guest_efer = 0;
		v->guest_dr[6] = 0xffff0ff0;
		v->guest_dr[7] = 0x400;
		v->wait_sipi = i != 0; /* the APs wait for INIT and SIPI */
		msr_vcpu_reset(v);
	}
	return true;
}

void pc_vm_teardown(struct vm *vm)
{
	if (!vm->dev)
		return;
	pc_devices_report(vm->dev);
	pc_devices_destroy(vm->dev);
	vm->dev = NULL;
}

void pc_guest_end(struct vcpu *v, int status, const char *how)
{
	struct vm *vm = v->vm;

	if (!atomic_exchange(&vm->guest_ended, true)) {
		atomic_store(&vm->guest_status, status);
		kprintf("vm %u: the guest ended: %s\n", vm->id, how);
	}
	vm_stop(vm);
}

/* Port I/O: the device's answer in AL/AX/EAX (EAX zero-extends into RAX, as IN does). */
static void pc_port_exit(struct vcpu *v)
{
	const struct vcpu_exit *e = &v->arch.exit;
	uint32_t mask = e->io_size == 4 ? 0xffffffffu : (1u << (8 * e->io_size)) - 1;
	uint32_t val = e->io_in ? 0 : (uint32_t)v->arch.regs.rax & mask;
	char how[64];

	v->stats.pc.io++;
	if (e->io_string) {
		vcpu_fail(v, "%s%s of %u bytes at port 0x%x (rip 0x%lx): string port I/O is not emulated",
			  e->io_rep ? "REP " : "", e->io_in ? "INS" : "OUTS", e->io_size, e->io_port,
			  (unsigned long)v->arch.regs.rip);
		return;
	}
	switch (pc_port_io(v->vm->dev, v->id, e->io_port, e->io_size, e->io_in, &val)) {
	case PC_IO_DONE:
		break;
	case PC_IO_EXIT:
		fmt_snprintf(how, sizeof(how), "isa-debug-exit, status %d",
			     pc_exit_status(v->vm->dev));
		pc_guest_end(v, pc_exit_status(v->vm->dev), how);
		return;
	case PC_IO_RESET:
		pc_guest_end(v, -1, pc_reset_cause(v->vm->dev));
		return;
	case PC_IO_POWEROFF: /* QEMU exits 0 */
		pc_guest_end(v, 0, "ACPI S5 (power off)");
		return;
	case PC_IO_STRICT_STOP:
		vcpu_fail(v, "%s port 0x%x (rip 0x%lx), where no device is (io=strict)",
			  e->io_in ? "read of" : "write to", e->io_port, (unsigned long)v->arch.regs.rip);
		return;
	}
	if (e->io_in)
		v->arch.regs.rax = e->io_size == 4 ? val : (v->arch.regs.rax & ~(uint64_t)mask) | val;
	v->arch.regs.rip += e->insn_len;
}

static void pc_msr_exit(struct vcpu *v)
{
	const struct vcpu_exit *e = &v->arch.exit;
	struct guest_regs *r = &v->arch.regs;
	uint32_t msr = (uint32_t)r->rcx;
	uint64_t val;

	v->stats.pc.msr++;
	if (e->msr_write) {
		if (!msr_write(v, msr, (uint32_t)r->rax | (r->rdx << 32))) {
			virt->vcpu_inject_exception(&v->arch, 13, true, 0);
			return;
		}
	} else {
		if (!msr_read(v, msr, &val)) {
			virt->vcpu_inject_exception(&v->arch, 13, true, 0);
			return;
		}
		r->rax = (uint32_t)val;
		r->rdx = val >> 32;
	}
	r->rip += e->insn_len;
}

/*
 * MOV to or from a debug register: they are the guest's, kept in the vCPU
 * (the hardware's never see them, so its breakpoints do not fire). DR4 and
 * DR5 are DR6 and DR7 unless CR4.DE makes them #UD; the upper halves of
 * DR6 and DR7 are reserved (#GP).
 */
static void pc_dr_exit(struct vcpu *v)
{
	struct vcpu_exit *e = &v->arch.exit;
	struct vcpu_state st;
	unsigned int dr = e->dr;
	uint64_t *gpr;

	v->stats.pc.dr++;
	virt->vcpu_get_state(&v->arch, &st);
	if (e->gpr < 0) {
		/* SVM without decode assists: [REX] 0F 21/23 /r, mod = 3 */
		uint8_t b[4];
		unsigned int n = vcpu_fetch_insn(v, b, sizeof(b)), i = 0;
		int rex_b = 0;

		if (n && st.code_bits == 64 && (b[0] & 0xf0) == 0x40)
			rex_b = (b[i++] & 1) << 3;
		if (n < i + 3 || b[i] != 0x0f || (b[i + 1] != 0x21 && b[i + 1] != 0x23)) {
			vcpu_fail(v, "cannot decode the access to DR%u at rip 0x%lx", dr,
				  (unsigned long)v->arch.regs.rip);
			return;
		}
		e->gpr = (b[i + 2] & 7) | rex_b;
		e->insn_len = i + 3;
	}
	if ((dr == 4 || dr == 5) && (st.cr4 & CR4_DE)) {
		virt->vcpu_inject_exception(&v->arch, 6, false, 0);
		return;
	}
	if (dr == 4 || dr == 5)
		dr += 2;
	gpr = guest_reg(&v->arch.regs, e->gpr);
	if (!e->cr_write) {
		*gpr = st.code_bits == 64 ? v->guest_dr[dr] : (uint32_t)v->guest_dr[dr];
	} else if (dr >= 6 && (*gpr >> 32)) {
		virt->vcpu_inject_exception(&v->arch, 13, true, 0);
		return;
	} else {
		v->guest_dr[dr] = dr == 6 ? (*gpr | 0xffff0ff0) & 0xffffefff
				: dr == 7 ? (*gpr | 0x400) & ~0xd000ull : *gpr;
	}
	v->arch.regs.rip += e->insn_len;
}

/*
 * SVM's #DF intercept (arch/x86/svm/svm.c says why): deliver the #DF if
 * the guest's IDT has a present gate for it; otherwise the delivery would
 * fault again, which is a triple fault, and the VM ends as a PC resets.
 * A gate that is present but unusable in another way (a bad selector)
 * still reaches the CPU, whose SHUTDOWN then ends the VM.
 */
static void pc_double_fault(struct vcpu *v)
{
	struct vcpu_state st;
	unsigned int gate = 8;
	uint8_t desc[8];

	virt->vcpu_get_state(&v->arch, &st);
	gate = st.efer & EFER_LMA ? 16 : 8;
	if (st.idt_limit >= 9 * gate - 1 &&
	    vcpu_read_linear(v, st.idt_base + 8 * gate, desc, sizeof(desc)) == sizeof(desc) &&
	    (desc[5] & 0x80)) {
		virt->vcpu_inject_exception(&v->arch, 8, true, 0);
		return;
	}
	vcpu_fail(v, "triple fault at rip 0x%lx: a double fault, and the guest's IDT has no present gate 8 (a PC would reset)",
		  (unsigned long)v->arch.regs.rip);
}

/*
 * A guest access to guest-physical memory that is not RAM: a device's
 * registers (pc_mmio: the local APIC page), or a write to the ROM area,
 * which a PC drops. The instruction is fetched through the guest's paging,
 * decoded in its code size and run by virt/emulate.c on the device's
 * value; the access's address is the fault's (a device register is never
 * split across pages). Anything else (no device there, an instruction the
 * emulator does not know, a string operation) stops the VM with a line
 * naming it, as a wild access does.
 */
bool pc_mmio_exit(struct vcpu *v, uint64_t gpa, bool rom_write)
{
	struct vcpu_state st;
	struct emu_insn in;
	struct emu_regs r;
	uint8_t b[EMU_MAX_INSN];
	char why[96];
	unsigned int n;
	uint64_t val = 0;
	bool store = false;
	const char *err;

	vcpu_sync_guest_state(v, &st);
	n = vcpu_fetch_insn(v, b, sizeof(b));
	err = emu_decode(b, n, st.code_bits, &in, why, sizeof(why));
	if (!err && emu_is_string(&in))
		err = "a string operation (MOVS/STOS) on device memory is not emulated";
	if (err) {
		vcpu_fail(v, "cannot emulate the %s at gpa 0x%lx (rip 0x%lx): %s",
			  rom_write ? "write to the ROM area" : "device access",
			  (unsigned long)gpa, (unsigned long)v->arch.regs.rip, err);
		return false;
	}
	if (in.reads_mem) {
		const void *rom = rom_write ? vm_gpa_to_hva(v->vm, gpa, in.width) : NULL;

		if (rom)
			memcpy(&val, rom, in.width);
		else if (rom_write || !pc_mmio(v->vm->dev, v->id, gpa, in.width, false, &val))
			goto wild;
	}
	vcpu_regs_to_emu(&v->arch.regs, &r);
	val = emu_execute(&in, val, &r, &store);
	if (store && !rom_write && !pc_mmio(v->vm->dev, v->id, gpa, in.width, true, &val))
		goto wild;
	vcpu_regs_from_emu(&v->arch.regs, &r);
	v->arch.regs.rip += in.len;
	v->stats.pc.mmio++;
	return true;
wild:
	vcpu_fail(v, "wild access: %u-byte %s gpa 0x%lx, where there is neither RAM nor a device (rip 0x%lx)",
		  in.width, in.writes_mem ? "write to" : "read of", (unsigned long)gpa,
		  (unsigned long)v->arch.regs.rip);
	return false;
}

bool pc_handle_exit(struct vcpu *v)
{
	struct vcpu_exit *e = &v->arch.exit;
	struct cpuid_regs c;

	switch (e->reason) {
	case EXIT_IO:
		pc_port_exit(v);
		return true;
	case EXIT_MSR:
		pc_msr_exit(v);
		return true;
	case EXIT_CPUID:
		v->stats.pc.cpuid++;
		c = vcpu_cpuid(v, (uint32_t)v->arch.regs.rax, (uint32_t)v->arch.regs.rcx);
		v->arch.regs.rax = c.eax;
		v->arch.regs.rbx = c.ebx;
		v->arch.regs.rcx = c.ecx;
		v->arch.regs.rdx = c.edx;
		v->arch.regs.rip += e->insn_len;
		return true;
	case EXIT_HLT:
		v->stats.halts++;
		v->arch.regs.rip += e->insn_len;
		pc_halt(v); /* sleeps until it can take an interrupt (virt/pc_irq.c) */
		return true;
	case EXIT_IRQ_WINDOW: /* pc_prepare_entry injects what it waited for */
		v->stats.irq_windows++;
		return true;
	case EXIT_DR_ACCESS:
		pc_dr_exit(v);
		return true;
	case EXIT_HYPERCALL: /* VMCALL/VMMCALL: a PC guest has no hypercalls (#UD, as outside VMX/SVM) */
	case EXIT_XSETBV: /* XSAVE is hidden, so CR4.OSXSAVE cannot be set: #UD */
	case EXIT_MONITOR: /* hidden from CPUID: #UD, as on a CPU without them */
		v->stats.pc.other++;
		virt->vcpu_inject_exception(&v->arch, 6, false, 0);
		return true;
	case EXIT_RDPMC: /* no counters: #GP */
		v->stats.pc.other++;
		virt->vcpu_inject_exception(&v->arch, 13, true, 0);
		return true;
	case EXIT_CACHE: /* no caches to write back that a device could miss */
		v->stats.pc.other++;
		v->arch.regs.rip += e->insn_len ? e->insn_len : 2;
		return true;
	case EXIT_DOUBLE_FAULT:
		pc_double_fault(v);
		return true;
	case EXIT_SHUTDOWN:
		vcpu_fail(v, "triple fault at rip 0x%lx: the guest could not handle an exception (a PC would reset)",
			  (unsigned long)v->arch.regs.rip);
		return true;
	default:
		return false;
	}
}
