// SPDX-License-Identifier: MIT
/*
 * GDT and TSS. Every CPU has its own GDT because the TSS descriptor's busy
 * bit is per TSS. Layout:
 *   0x00 null   0x08 kernel code (64-bit)   0x10 kernel data   0x18 TSS (16 bytes)
 */
#pragma once

#include <stdint.h>

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define TSS_SEL 0x18

#define IST_NMI 1
#define IST_DOUBLE_FAULT 2

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

_Static_assert(sizeof(struct tss) == 104, "the 64-bit TSS is 104 bytes (SDM 8.7)");

struct gdt {
	uint64_t entries[5];
};

struct percpu;
void gdt_load(struct percpu *pc);
