// SPDX-License-Identifier: MIT
#include "arch/x86/gdt.h"
#include "arch/x86/percpu.h"

#define SEG_CODE64 0x00af9a000000ffffull /* P, DPL0, code, exec/read, L, G */
#define SEG_DATA 0x00cf92000000ffffull   /* P, DPL0, data, read/write, D/B, G */

struct descriptor_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/*
 * A 64-bit TSS descriptor is 16 bytes (SDM 8.2.3):
 *   63..56 base[31:24]  55 G  47 P  46..45 DPL  43..40 type=9  39..16 base[23:0]
 *   15..0 limit[15:0];  second quadword: base[63:32]
 */
static void set_tss_descriptor(uint64_t *slot, const struct tss *tss)
{
	uint64_t base = (uint64_t)tss, limit = sizeof(*tss) - 1;

	slot[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
		  (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	slot[1] = base >> 32;
}

void gdt_load(struct percpu *pc)
{
	struct descriptor_ptr ptr = { sizeof(pc->gdt.entries) - 1, (uint64_t)pc->gdt.entries };

	pc->gdt.entries[0] = 0;
	pc->gdt.entries[1] = SEG_CODE64;
	pc->gdt.entries[2] = SEG_DATA;
	pc->tss.iomap_base = sizeof(pc->tss); /* no I/O bitmap */
	pc->tss.ist[IST_NMI - 1] = pc->nmi_stack_top;
	pc->tss.ist[IST_DOUBLE_FAULT - 1] = pc->df_stack_top;
	set_tss_descriptor(&pc->gdt.entries[3], &pc->tss);

	asm volatile("lgdt %0\n\t"
		     "pushq %1\n\t"
		     "leaq 1f(%%rip), %%rax\n\t"
		     "pushq %%rax\n\t"
		     "lretq\n"
		     "1:\n\t"
		     "movl %2, %%eax\n\t"
		     "movw %%ax, %%ds\n\t"
		     "movw %%ax, %%es\n\t"
		     "movw %%ax, %%ss\n\t"
		     "ltr %w3"
		     :
		     : "m"(ptr), "i"(KERNEL_CS), "i"(KERNEL_DS), "r"((uint16_t)TSS_SEL)
		     : "rax", "memory");
}
