# SPDX-License-Identifier: MIT
# mmuvisor: `make` builds build/mmuvisor.elf and compile_commands.json;
# `make run` boots it in QEMU; `make test` runs the host and boot suites.
# CROSS_COMPILE=x86_64-elf- uses a cross toolchain; the default is the host's.

CROSS_COMPILE ?=
CC := $(CROSS_COMPILE)gcc
LD := $(CROSS_COMPILE)ld
OBJCOPY := $(CROSS_COMPILE)objcopy

SHELL := /bin/bash
BUILD := build
ELF := $(BUILD)/mmuvisor.elf
ISO := $(BUILD)/mmuvisor.iso
ARGS ?= scenario=demand_paging

KERNEL_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -nostdlib -fno-pic -fno-pie \
	-mno-red-zone -mgeneral-regs-only -mcmodel=small -fno-stack-protector \
	-fno-omit-frame-pointer -fno-asynchronous-unwind-tables \
	-Wall -Wextra -Wshadow -Werror -I. -MMD -MP
# mm/platform.h's hooks, inline (arch/x86/platform_inline.h).
KERNEL_CFLAGS += -DPLATFORM_INLINE_CPU_ID -DPLATFORM_INLINE_CPU_WORD -DPLATFORM_INLINE_PHYS -DPLATFORM_INLINE=arch/x86/platform_inline.h
# make BREAKDOWN=1 BUILD=build/breakdown: stamp every exit's phases (virt/breakdown.h).
KERNEL_CFLAGS += $(if $(BREAKDOWN),-DEXIT_BREAKDOWN)
KERNEL_ASFLAGS := -I. -MMD -MP -Wa,--noexecstack
KERNEL_LDFLAGS := -nostdlib -static -no-pie -z max-page-size=0x1000 -T linker.ld

KERNEL_SRCS := \
	boot/header.S boot/entry.S boot/trampoline.S boot/mb2.c boot/options.c \
	init/main.c arch/x86/setup.c arch/x86/percpu.c arch/x86/gdt.c arch/x86/idt.c arch/x86/isr.S \
	arch/x86/exceptions.c arch/x86/panic.c arch/x86/serial.c arch/x86/console.c arch/x86/console_spec.c \
	arch/x86/fbcon.c arch/x86/acpi.c arch/x86/apic.c arch/x86/pic.c arch/x86/ipi.c arch/x86/smp.c \
	arch/x86/tsc.c arch/x86/paging.c arch/x86/shutdown.c arch/x86/platform.c \
	arch/x86/virt.c \
	arch/x86/svm/svm.c arch/x86/svm/asid.c arch/x86/svm/exit.c arch/x86/svm/entry.S \
	arch/x86/vmx/vmx.c arch/x86/vmx/vmcs.c arch/x86/vmx/exit.c arch/x86/vmx/entry.S \
	$(sort $(wildcard mm/*.c mm/*/*.c)) \
	virt/vm.c virt/vcpu.c virt/sched.c virt/breakdown.c virt/hypercall.c virt/dirty_log.c virt/mmu.c virt/shootdown.c \
	virt/shadow_exits.c virt/cr.c virt/shadow_emulate.c virt/emulate.c \
	virt/pc.c virt/pc_irq.c virt/realmode.c virt/realmode_sys.c \
	virt/loader.c virt/loader_linux.c virt/cpuid.c virt/msr.c virt/fetch.c \
	$(sort $(wildcard virt/dev/*.c)) \
	lib/printf.c lib/string.c lib/cmdline.c lib/plant.c \
	stress/result.c stress/scenario.c stress/rcu_torture.c stress/guests.c \
	stress/guest.c stress/vm_setup.c stress/hello.c stress/guest_fault.c stress/demand_paging.c \
	stress/tlb_shootdown.c stress/zap_stress.c stress/dirty_log.c \
	stress/access_tracking.c stress/shadow_pt.c stress/fault_beside.c stress/guest_fuzz.c \
	stress/migrate.c stress/guest_beside.c stress/isolation.c stress/rcu_guest.c

# The synthetic guests (guest/images.h lists the same names): each is linked
# at 1 MiB with the guest runtime, flattened, and embedded in the hypervisor.
GUESTS := hello misbehave demand_paging spin zap_stress dirty_log access_tracking \
	shadow_pt hostile fuzz isolation exits
GUEST_RUNTIME_OBJS := $(BUILD)/kernel/guest/entry.S.o $(BUILD)/kernel/guest/runtime.c.o \
	$(BUILD)/kernel/lib/printf.c.o $(BUILD)/kernel/lib/string.c.o
GUEST_BINS := $(patsubst %,$(BUILD)/guest/%.bin,$(GUESTS))

# The framebuffer console's font (arch/x86/font.h): an 8x16 PSF font from Debian's
# archive, fetched into build/font/ at build time (tools/fetch-font) and turned
# into a C array (tools/psf.py); no font is kept in git. make FONT_SRC=FILE.psf[.gz]
# takes an 8x16 font you have instead. tests/boot/run reads screenshots with $(FONT).
FONT_SRC ?=
FONT := $(BUILD)/font/font8x16.psf.gz
FONT_OBJ := $(BUILD)/font/font8x16.c.o

KERNEL_OBJS := $(patsubst %,$(BUILD)/kernel/%.o,$(KERNEL_SRCS)) $(BUILD)/guest/images.S.o $(FONT_OBJ)
LIBGCC := $(shell $(CC) -print-libgcc-file-name)

.PHONY: all iso run test boot-test guest-diff debug bench bench-apic clean deps FORCE
.SECONDARY:
all: $(ELF) compile_commands.json

$(BUILD)/kernel/%.c.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(BUILD)/kernel/%.S.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	@$(CC) $(KERNEL_ASFLAGS) -c $< -o $@

# Remade when FONT_SRC changes (the stamp holds the last one).
$(BUILD)/font/source: FORCE
	@mkdir -p $(dir $@)
	@echo '$(FONT_SRC)' | cmp -s - $@ || echo '$(FONT_SRC)' >$@

$(FONT): $(BUILD)/font/source
	@tools/fetch-font $@ $(FONT_SRC)

$(BUILD)/font/font8x16.c: $(FONT) tools/psf.py
	@command -v python3 >/dev/null || { echo "python3 not found (it turns the console font into C): run tools/deps" >&2; exit 1; }
	@echo "  FONT    $<"
	@python3 tools/psf.py $< $@

$(FONT_OBJ): $(BUILD)/font/font8x16.c arch/x86/font.h
	@echo "  CC      $<"
	@$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(BUILD)/guest/%.elf: $(BUILD)/kernel/guest/%.c.o $(GUEST_RUNTIME_OBJS) guest/guest.ld
	@echo "  LD      $@"
	@$(LD) -nostdlib -static -no-pie -z max-page-size=0x1000 --no-warn-rwx-segments \
		-T guest/guest.ld -o $@ \
		$< $(GUEST_RUNTIME_OBJS) $(LIBGCC)

$(BUILD)/guest/%.bin: $(BUILD)/guest/%.elf
	@$(OBJCOPY) -O binary $< $@

$(BUILD)/guest/images.S: Makefile
	@mkdir -p $(dir $@)
	@{ echo '.section .rodata'; for g in $(GUESTS); do \
	  printf '.balign 16\n.globl guest_image_%s_start, guest_image_%s_end\n' $$g $$g; \
	  printf 'guest_image_%s_start:\n.incbin "$(BUILD)/guest/%s.bin"\nguest_image_%s_end:\n' $$g $$g $$g; \
	  done; echo '.section .note.GNU-stack,"",@progbits'; } > $@

$(BUILD)/guest/images.S.o: $(BUILD)/guest/images.S $(GUEST_BINS)
	@echo "  AS      $<"
	@$(CC) $(KERNEL_ASFLAGS) -c $< -o $@

$(ELF): $(KERNEL_OBJS) linker.ld
	@echo "  LD      $@"
	@$(LD) $(KERNEL_LDFLAGS) -o $@ $(KERNEL_OBJS) $(LIBGCC)

# For clangd: one entry per kernel source, with the flags it is built with.
compile_commands.json: Makefile
	@{ echo '['; sep=''; for f in $(KERNEL_SRCS) $(patsubst %,guest/%.c,$(GUESTS)) guest/runtime.c; do \
	  printf '%s{"directory":"%s","file":"%s","command":"%s %s -c %s -o %s"}\n' \
	    "$$sep" "$(CURDIR)" "$$f" "$(CC)" "$(KERNEL_CFLAGS)" "$$f" "$(BUILD)/kernel/$$f.o"; \
	  sep=','; done; echo ']'; } > $@

deps:
	tools/deps

iso: $(ELF)
	tools/mkiso -o $(ISO) $(ARGS)

run: deps all
	ARGS='$(ARGS)' tools/run

debug: all
	tools/deps gdb
	ARGS='$(ARGS)' tools/debug

# make linux: Debian's kernel, busybox and tcc, and the initramfs whose /init builds a
# C tree with tcc (tools/linux, tests/linux/README.md); make run-linux boots them
# under mmuvisor (ARGS given on the command line are added to its options).
.PHONY: linux run-linux
linux: deps
	tools/linux fetch initramfs
$(BUILD)/linux/initramfs.cpio.gz: tools/linux tests/linux/init
	$(MAKE) --no-print-directory linux
run-linux: deps all $(BUILD)/linux/initramfs.cpio.gz
	MODULES="$(BUILD)/linux/vmlinuz:linux $(BUILD)/linux/initramfs.cpio.gz:linux.1" \
	ARGS="scenario=guest guest=linux $(if $(filter file,$(origin ARGS)),,$(ARGS))" tools/run

boot-test: deps all tguests-hostile $(BUILD)/linux/initramfs.cpio.gz
	tests/boot/run

# The third-party-style test kernels, each run on bare QEMU and under mmuvisor
# on every platform, their outputs compared line by line (tests/guests/run-diff).
# The SMP kernels again with 2 and 4 vCPUs, on every platform (VMX with
# mmu=shadow emulates the APs' real-mode trampoline: docs/REAL_MODE.md).
SMP_KERNELS := smp ipi tlbshoot
SMP_PLATFORMS := qemu-svm-tdp qemu-svm-shadow bochs-vmx-tdp bochs-vmx-shadow bochs-svm-tdp bochs-svm-shadow
# 4 vCPUs on one model of each vendor's emulator: bochs-svm's 2-vCPU run covers its SMP path.
SMP4_PLATFORMS := qemu-svm-tdp qemu-svm-shadow bochs-vmx-tdp bochs-vmx-shadow
GUEST_DIFF := tests/guests/run-diff && \
	VCPUS=2 KERNELS="$(SMP_KERNELS)" tests/guests/run-diff $(SMP_PLATFORMS) && \
	VCPUS=4 KERNELS="$(SMP_KERNELS)" tests/guests/run-diff $(SMP4_PLATFORMS)

guest-diff: deps all tguests
	$(GUEST_DIFF)

# The exit breakdown's kernel (make BREAKDOWN=1) prints its phases; the normal one has none.
BREAKDOWN_CHECK := $(MAKE) --no-print-directory BREAKDOWN=1 BUILD=$(BUILD)/breakdown \
	$(BUILD)/breakdown/mmuvisor.elf && tests/boot/breakdown-check $(BUILD)/breakdown/mmuvisor.elf $(ELF)

# Host tests, then boot tests (two at a time: most boots keep one core busy,
# and the suite must stay well under 30 minutes on two cores); the last line
# adds up every suite's count.
BOOT_JOBS ?= 2
test: deps all tguests tguests-hostile $(BUILD)/linux/initramfs.cpio.gz
	@mkdir -p $(BUILD); set -o pipefail; \
	{ $(MAKE) --no-print-directory host-test && $(MAKE) --no-print-directory fuzz-smoke && \
	  JOBS=$(BOOT_JOBS) tests/boot/run && $(BREAKDOWN_CHECK) && $(GUEST_DIFF); } 2>&1 | tee $(BUILD)/test.log; \
	rc=$$?; \
	awk '/[0-9]+ passed, [0-9]+ failed$$/ { p += $$(NF-3); f += $$(NF-1) } \
	     END { printf "make test: %d passed, %d failed\n", p, f + (rc ? (f ? 0 : 1) : 0) }' \
	    rc=$$rc $(BUILD)/test.log; \
	exit $$rc

# make soak [SOAK_SECONDS=3600]: random seeds and scenarios on QEMU and both Bochs models (tools/soak).
SOAK_SECONDS ?= 3600
.PHONY: soak
soak: deps all
	tools/soak $(SOAK_SECONDS)

clean:
	rm -rf $(BUILD) compile_commands.json

# Host tests of code outside mm/ name their extra sources (tests/host/host.mk).
HOST_UNIT_TESTS += test_mb2 test_cmdline test_page_alloc test_locks test_emulate
HOST_SRCS_test_emulate := virt/emulate.c
HOST_SRCS_test_mb2 := boot/mb2.c lib/printf.c
HOST_SRCS_test_cmdline := lib/cmdline.c boot/options.c lib/printf.c
include tests/host/host.mk
include tests/fuzz/fuzz.mk
include tests/guests/guests.mk
include tests/guests/hostile/hostile.mk

# make bench: the Bochs scaling sweep, then the host benchmarks (tests/host/host.mk).
.PHONY: bench-sweep bench-linux bench-sched bench-breakdown
bench: deps all bench-sweep bench-sched bench-breakdown bench-apic bench-linux
# Where an exit's cycles go, by phase (tools/bench-breakdown: a make BREAKDOWN=1 kernel).
bench-breakdown: deps all tguests
	tools/bench-breakdown
# The vCPU scheduler: 14..448 vCPUs on 14 pCPUs, a flush with half of them
# descheduled, two VMs against one (tools/bench-sched; Bochs, both models).
bench-sched: deps all tguests
	tools/bench-sched
# A PC guest's interrupt costs, in Bochs cycles, against bare Bochs (tests/guests/apicbench.c).
bench-apic: deps all tguests
	tests/guests/run-apicbench
# Debian's Linux compiling a C tree: tdp against shadow, 1 and 4 vCPUs, and beside
# dirty-log harvest and aging, both Bochs models (tests/linux/run-kernbench; hours).
bench-linux: deps all $(BUILD)/linux/initramfs.cpio.gz
	tools/deps gnuplot-nox
	tests/linux/run-kernbench
bench-sweep: deps all
	tools/deps gnuplot-nox
	tools/sweep
	MMU=shadow tools/sweep demand_paging dirty_log access_tracking fault_while_wp fault_while_aging

-include $(KERNEL_OBJS:.o=.d) $(GUEST_RUNTIME_OBJS:.o=.d) \
	$(patsubst %,$(BUILD)/kernel/guest/%.c.d,$(GUESTS))
