# SPDX-License-Identifier: MIT
# Hostile and odd modules for scenario=guest, built from source at test time
# into $(TGUEST_BUILD)/hostile/ (nothing binary is committed):
#   random.bin    64 KiB of pseudo-random bytes (a fixed seed): no kernel at all
#   outside.elf   multiboot v1 ELF32 linked at 1 GiB, past a 256 MiB guest's RAM
#   badflags.elf  multiboot v1, its header requiring flag bit 5 (no loader has it)
#   mb2-efi.elf   multiboot2, requiring the EFI boot services tag (type 7)
#   aout.bin      multiboot v1 through the a.out kludge, flat: prints and exits
#   mb2.elf       multiboot2 ELF32: walks its boot information, prints and exits
# `make -f tests/guests/hostile/hostile.mk tguests-hostile` builds them (and
# the tguests, which the boot cases run beside them); the top Makefile can
# include this file after tests/guests/guests.mk.

hostile_saved_goal := $(.DEFAULT_GOAL)
ifndef TGUEST_DIR
include tests/guests/guests.mk
endif

HOSTILE_DIR := tests/guests/hostile
HOSTILE_BUILD := $(TGUEST_BUILD)/hostile
HOSTILE_HOST_CC ?= gcc
HOSTILE_OBJCOPY ?= objcopy
HOSTILE_LDFLAGS := -m elf_i386 -nostdlib -static -z max-page-size=0x1000 --no-warn-rwx-segments \
	-T $(HOSTILE_DIR)/hostile.ld
HOSTILE_FILES := $(addprefix $(HOSTILE_BUILD)/,random.bin outside.elf badflags.elf mb2-efi.elf \
	aout.bin mb2.elf)

.PHONY: tguests-hostile
tguests-hostile: tguests $(HOSTILE_FILES)

$(HOSTILE_BUILD)/%.o: $(HOSTILE_DIR)/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(TGUEST_CC) $(TGUEST_CFLAGS) -c $< -o $@

$(HOSTILE_BUILD)/%.o: $(HOSTILE_DIR)/%.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	@$(TGUEST_CC) $(TGUEST_CFLAGS) -c $< -o $@

$(HOSTILE_BUILD)/gen-random: $(HOSTILE_DIR)/gen-random.c
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $<"
	@$(HOSTILE_HOST_CC) -O2 -Wall -Wextra -Werror -o $@ $<

$(HOSTILE_BUILD)/random.bin: $(HOSTILE_BUILD)/gen-random
	@echo "  GEN     $@"
	@$< 65536 >$@.tmp && mv -f $@.tmp $@

# Refused kernels: a header and a halt loop each; outside.elf at 1 GiB.
$(HOSTILE_BUILD)/outside.elf: HOSTILE_BASE := 0x40000000
$(HOSTILE_BUILD)/outside.elf $(HOSTILE_BUILD)/badflags.elf $(HOSTILE_BUILD)/mb2-efi.elf: \
		$(HOSTILE_BUILD)/%.elf: $(HOSTILE_BUILD)/%.o $(HOSTILE_DIR)/hostile.ld
	@echo "  LD      $@"
	@$(TGUEST_LD) $(HOSTILE_LDFLAGS) --defsym=LOAD_BASE=$(or $(HOSTILE_BASE),0x100000) \
		-o $@ $(filter %.o,$^)

# Kernels that run: their entry, their main and the COM1/debug-exit runtime.
$(HOSTILE_BUILD)/mb2.elf $(HOSTILE_BUILD)/aout.elf: $(HOSTILE_BUILD)/%.elf: \
		$(HOSTILE_BUILD)/%-start.o $(HOSTILE_BUILD)/%.o $(HOSTILE_BUILD)/hostile.o \
		$(HOSTILE_DIR)/hostile.ld
	@echo "  LD      $@"
	@$(TGUEST_LD) $(HOSTILE_LDFLAGS) --defsym=LOAD_BASE=0x100000 -o $@ $(filter %.o,$^)

# The a.out kludge's image is the flat file from load_addr to load_end_addr.
$(HOSTILE_BUILD)/aout.bin: $(HOSTILE_BUILD)/aout.elf
	@echo "  OBJCOPY $@"
	@$(HOSTILE_OBJCOPY) -O binary $< $@

-include $(wildcard $(HOSTILE_BUILD)/*.d)

ifneq ($(hostile_saved_goal),)
.DEFAULT_GOAL := $(hostile_saved_goal)
endif
