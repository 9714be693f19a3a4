// SPDX-License-Identifier: MIT
/*
 * The contract between the hypervisor and the synthetic guests in guest/:
 * the guest-physical layout the hypervisor builds, the boot information, and
 * the hypercalls. Guests are entered in 64-bit mode at GUEST_IMAGE_BASE with
 * RDI = vCPU id and RSI = GUEST_BOOT_INFO, interrupts enabled, paging on
 * (an identity map of guest RAM in 2 MiB pages).
 *
 *   0x001000  PML4, then the PDPT, then one PD per GiB of guest RAM
 *   0x008000  GDT: null, 0x08 64-bit code, 0x10 data
 *   0x009000  struct guest_boot_info
 *   0x100000  the guest image (at most 1 MiB)
 *   0x200000  vCPU stacks, GUEST_STACK_SIZE each
 *   0x3ff000  GUEST_CONTROL: words the control CPU writes (word 0: stop)
 *   0x400000  GUEST_DATA_BASE: the scenario's memory
 *
 * A VM of more than GUEST_LOW_STACKS vCPUs has its stacks from 0x400000
 * instead, and its data after them, at the next 2 MiB boundary:
 * guest_data_base() says where (the boot information carries it).
 */
#pragma once

#include <stdint.h>

#define GUEST_PML4 0x1000ull
#define GUEST_GDT 0x8000ull
#define GUEST_BOOT_INFO 0x9000ull
#define GUEST_IMAGE_BASE 0x100000ull
#define GUEST_IMAGE_MAX 0x100000ull
#define GUEST_STACKS_BASE 0x200000ull
#define GUEST_STACK_SIZE 0x4000ull
#define GUEST_CONTROL 0x3ff000ull
#define GUEST_DATA_BASE 0x400000ull
#define GUEST_MAX_RAM (4ull << 30)
#define GUEST_LOW_STACKS 127 /* stacks that fit below GUEST_CONTROL */

/* Where a VM of nr_vcpus vCPUs has its scenario memory. */
static inline uint64_t guest_data_base(unsigned int nr_vcpus)
{
	uint64_t end = GUEST_DATA_BASE + nr_vcpus * GUEST_STACK_SIZE;

	return nr_vcpus <= GUEST_LOW_STACKS ? GUEST_DATA_BASE : (end + 0x1fffff) & ~0x1fffffull;
}

/* The top of vCPU id's stack (it grows down from there). */
static inline uint64_t guest_stack_top(unsigned int nr_vcpus, unsigned int id)
{
	uint64_t base = nr_vcpus <= GUEST_LOW_STACKS ? GUEST_STACKS_BASE : GUEST_DATA_BASE;

	return base + (id + 1ull) * GUEST_STACK_SIZE;
}

#define GUEST_BOOT_MAGIC 0x4d4d55564953524full /* "OSRIVUMM" */

struct guest_boot_info {
	uint64_t magic;
	uint32_t nr_vcpus;
	uint32_t use_vmcall;   /* 1: Intel VMCALL, 0: AMD VMMCALL */
	uint64_t mem_bytes;
	uint64_t data_base;    /* guest_data_base(nr_vcpus) */
	uint64_t data_bytes;   /* from data_base to the end of RAM */
	uint64_t control;      /* GUEST_CONTROL */
	uint64_t arg[4];       /* scenario parameters */
};

/* Hypercalls: RAX = number, RDI/RSI/RDX = arguments, RAX = result. */
enum hypercall {
	HC_PRINT = 1,   /* rdi = gpa of text, rsi = length (<= 256) */
	HC_REPORT = 2,  /* rdi = slot (0..3), rsi = value */
	HC_BARRIER = 3, /* wait until every vCPU of the VM is here */
	HC_VCPU_ID = 4, /* returns the vCPU id */
	HC_DONE = 5,    /* this vCPU has finished */
	HC_FAIL = 6,    /* rdi = gpa of reason text, rsi = length: the guest's own check failed */
	HC_COUNT
};

#define HC_PRINT_MAX 256
