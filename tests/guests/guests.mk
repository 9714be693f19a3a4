# SPDX-License-Identifier: MIT
# Third-party-style test kernels: multiboot v1, ELF32, one per behaviour.
# `make -f tests/guests/guests.mk tguests` builds them standalone; the top
# Makefile can `include tests/guests/guests.mk`. Paths are relative to the
# repository root, which is where make runs.

tguest_saved_goal := $(.DEFAULT_GOAL)
TGUEST_DIR := tests/guests
TGUEST_BUILD ?= build/tguests
TGUEST_CC ?= gcc
TGUEST_LD ?= ld
TGUEST_NAMES := paging pfgrid fwcfg msr exitcost apicbench triple modules cpu smp ipi tlbshoot timer x2apic ioapic flood haltoff

TGUEST_CFLAGS := -m32 -std=gnu11 -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
	-nostdlib -O2 -Wall -Wextra -Werror -mgeneral-regs-only -fno-asynchronous-unwind-tables \
	-I$(TGUEST_DIR)/lib -MMD -MP
TGUEST_LDFLAGS := -m elf_i386 -nostdlib -static -z max-page-size=0x1000 --no-warn-rwx-segments \
	-T $(TGUEST_DIR)/kernel.ld

TGUEST_LIB_OBJS := $(TGUEST_BUILD)/lib/crt0.o $(TGUEST_BUILD)/lib/trap.o $(TGUEST_BUILD)/lib/lib.o \
	$(TGUEST_BUILD)/lib/apic.o $(TGUEST_BUILD)/lib/smp-trampoline.o
TGUEST_ELFS := $(patsubst %,$(TGUEST_BUILD)/%.elf,$(TGUEST_NAMES))

.PHONY: tguests tguests-clean
tguests: $(TGUEST_ELFS)

$(TGUEST_BUILD)/%.o: $(TGUEST_DIR)/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(TGUEST_CC) $(TGUEST_CFLAGS) -c $< -o $@

$(TGUEST_BUILD)/%.o: $(TGUEST_DIR)/%.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	@$(TGUEST_CC) $(TGUEST_CFLAGS) -c $< -o $@

# A kernel is its main file; paging also has 64-bit code in paging-long.S.
$(TGUEST_ELFS): $(TGUEST_BUILD)/%.elf: $(TGUEST_BUILD)/%.o $(TGUEST_LIB_OBJS) $(TGUEST_DIR)/kernel.ld
	@echo "  LD      $@"
	@$(TGUEST_LD) $(TGUEST_LDFLAGS) -o $@ $(filter %.o,$^)
$(TGUEST_BUILD)/paging.elf: $(TGUEST_BUILD)/paging-long.o

tguests-clean:
	rm -rf $(TGUEST_BUILD)

-include $(wildcard $(TGUEST_BUILD)/*.d $(TGUEST_BUILD)/lib/*.d)

# Included from another makefile, leave its default goal alone.
ifneq ($(tguest_saved_goal),)
.DEFAULT_GOAL := $(tguest_saved_goal)
endif
