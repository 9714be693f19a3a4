// SPDX-License-Identifier: MIT
/*
 * The machine state the multiboot2 loader handed over, recorded by
 * boot/entry.S before anything is changed. The spec promises 32-bit
 * protected mode, paging off, interrupts off (multiboot2 spec 3.3); firmware
 * also leaves bits the spec does not mention (OVMF: EFER.NXE).
 */
#pragma once

#include <stdint.h>

struct boot_handover {
	uint32_t cr0, cr4, efer_lo, eflags;
};

_Static_assert(sizeof(struct boot_handover) == 16, "boot/entry.S writes 16 bytes");

extern struct boot_handover boot_handover;
