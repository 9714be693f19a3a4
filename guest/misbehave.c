// SPDX-License-Identifier: MIT
/*
 * misbehave: vCPU 0 does one forbidden thing (boot argument 0 says which);
 * the others wait at a barrier the VM will never pass, until it is stopped.
 */
#include "guest/runtime.h"

enum { WILD_ACCESS, TRIPLE_FAULT, BAD_HYPERCALL, VIRT_INSN, PORT_IO, BAD_PRINT, PT_RMW, CR4_RSVD,
       IRQ_OFF };

void guest_main(unsigned int vcpu_id)
{
	if (vcpu_id != 0) {
		guest_barrier();
		guest_fail("passed a barrier that vcpu 0 never reached");
	}
	switch (boot_info->arg[0]) {
	case WILD_ACCESS: /* mapped by our page tables, beyond guest RAM */
		(void)*(volatile uint64_t *)(boot_info->mem_bytes + 0x1000);
		break;
	case TRIPLE_FAULT: /* no IDT: #UD becomes #GP, then #DF (intercepted) */
		asm volatile("ud2");
		break;
	case BAD_HYPERCALL:
		hypercall(0xbad, 0, 0, 0);
		break;
	case VIRT_INSN: /* the hypervisor injects #UD, then the same double fault */
		if (boot_info->use_vmcall)
			asm volatile("vmxoff");
		else
			asm volatile("vmrun" ::"a"(0));
		break;
	case PORT_IO:
		asm volatile("outb %%al, $0x80" ::"a"(0));
		break;
	case BAD_PRINT: /* the hypervisor must not read outside guest memory */
		hypercall(HC_PRINT, 0xfffffffffff00000ull, 64, 0);
		break;
	case PT_RMW: { /* mmu=shadow: a write to the live PML4 the emulator does not know (INC) */
		uint64_t cr3;

		asm volatile("mov %%cr3, %0" : "=r"(cr3));
		asm volatile("incq 8*511(%0)" ::"r"(cr3) : "memory");
		break;
	}
	case CR4_RSVD: { /* a reserved CR4 bit: #GP (the CPU's, or ours under mmu=shadow), then #DF */
		uint64_t cr4;

		asm volatile("mov %%cr4, %0" : "=r"(cr4));
		asm volatile("mov %0, %%cr4" ::"r"(cr4 | (1ull << 31)) : "memory");
		break;
	}
	case IRQ_OFF: /* spin with interrupts off and never exit: only an NMI gets us out */
		hypercall(HC_REPORT, 0, 1, 0);
		asm volatile("cli; 1: jmp 1b");
		break;
	}
	guest_fail("misbehaviour %lu went unnoticed", (unsigned long)boot_info->arg[0]);
}
