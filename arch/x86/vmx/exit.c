// SPDX-License-Identifier: MIT
/* Decode a VM exit into the core's struct vcpu_exit (mirrors arch/x86/svm/exit.c). */
#include "arch/x86/vmx/vmx.h"
#include "mm/ept/tdp_mmu.h"

#define EPT_QUAL_WRITE (1ull << 1)
#define EPT_QUAL_FETCH (1ull << 2)
#define EPT_QUAL_PERMS (7ull << 3) /* the R/W/X the walk granted (qualification bits 3-5); 0: not present */

void vmx_decode_exit(struct vcpu_arch *v, struct vmx_vcpu *x)
{
	uint32_t reason = (uint32_t)vmread(EXIT_REASON);
	uint32_t basic = reason & 0xffff;
	uint64_t qual = vmread(EXIT_QUALIFICATION);
	struct vcpu_exit *e = &v->exit;

	(void)x;
	*e = (struct vcpu_exit){ .reason = EXIT_UNKNOWN, .hw_code = basic,
				 .insn_len = (unsigned int)vmread(EXIT_INSTRUCTION_LEN) };
	if (reason & VMX_EXIT_ENTRY_FAILURE) {
		e->reason = EXIT_ENTRY_FAILED;
		vmx_report_entry_failure(v, false);
		return;
	}
	switch (basic) {
	case VMX_EXIT_VMCALL:
		e->reason = EXIT_HYPERCALL;
		break;
	case VMX_EXIT_HLT:
		e->reason = EXIT_HLT;
		break;
	case VMX_EXIT_CPUID:
		e->reason = EXIT_CPUID;
		break;
	case VMX_EXIT_RDMSR:
	case VMX_EXIT_WRMSR:
		e->reason = EXIT_MSR;
		e->msr_write = basic == VMX_EXIT_WRMSR;
		break;
	case VMX_EXIT_IO: /* qualification: 2:0 size - 1, 3 IN, 4 string, 5 REP, 31:16 port */
		e->reason = EXIT_IO;
		e->io_size = (unsigned int)(qual & 7) + 1;
		e->io_in = qual & (1u << 3);
		e->io_string = qual & (1u << 4);
		e->io_rep = qual & (1u << 5);
		e->io_port = (uint16_t)(qual >> 16);
		break;
	case VMX_EXIT_DR_ACCESS: /* qualification: 2:0 DR, 4 MOV from DR, 11:8 GPR */
		e->reason = EXIT_DR_ACCESS;
		e->dr = qual & 7;
		e->cr_write = !(qual & (1u << 4));
		e->gpr = (int)((qual >> 8) & 0xf);
		break;
	case VMX_EXIT_XSETBV:
		e->reason = EXIT_XSETBV;
		break;
	case VMX_EXIT_INVD:
	case VMX_EXIT_WBINVD:
		e->reason = EXIT_CACHE;
		break;
	case VMX_EXIT_RDPMC:
		e->reason = EXIT_RDPMC;
		break;
	case VMX_EXIT_MONITOR:
	case VMX_EXIT_MWAIT:
		e->reason = EXIT_MONITOR;
		break;
	case VMX_EXIT_EPT_VIOLATION:
	case VMX_EXIT_EPT_MISCONFIG:
		e->reason = EXIT_TDP_FAULT;
		e->gpa = vmread(GUEST_PHYSICAL_ADDRESS);
		e->misconfig = basic == VMX_EXIT_EPT_MISCONFIG;
		e->access = qual & EPT_QUAL_WRITE ? TDP_ACC_WRITE
			  : qual & EPT_QUAL_FETCH ? TDP_ACC_EXEC : TDP_ACC_READ;
		if (!(qual & EPT_QUAL_PERMS))
			e->access |= TDP_ACC_NOT_PRESENT; /* the fast page fault cannot help */
		break;
	case VMX_EXIT_EXCEPTION_NMI: {
		uint32_t info = (uint32_t)vmread(EXIT_INTR_INFO);

		if ((info & INTR_TYPE_MASK) == INTR_TYPE_HW_EXCEPTION && (info & 0xff) == 14) {
			e->reason = EXIT_GUEST_PF;
			e->gva = qual;
			e->error = (uint32_t)vmread(EXIT_INTR_ERROR);
			e->vectoring = (uint32_t)vmread(IDT_VECTORING_INFO);
		} else if ((info & INTR_TYPE_MASK) == INTR_TYPE_NMI) {
			/* The exit consumed the NMI: hand it to our own handler (panic stops). */
			asm volatile("int $2");
			e->reason = EXIT_INTERRUPT;
		} else if ((info & 0xff) == 8) {
			e->reason = EXIT_DOUBLE_FAULT;
		}
		break;
	}
	case VMX_EXIT_CR_ACCESS: /* qualification: 3:0 CR, 5:4 type (0 to CR, 1 from), 11:8 GPR */
		e->reason = EXIT_CR_ACCESS;
		e->cr = qual & 0xf;
		e->cr_write = ((qual >> 4) & 3) == 0;
		e->gpr = (int)((qual >> 8) & 0xf);
		if (((qual >> 4) & 3) > 1)
			e->reason = EXIT_UNKNOWN; /* CLTS or LMSW: our guests never use them */
		break;
	case VMX_EXIT_INVLPG:
		e->reason = EXIT_INVLPG;
		e->gva = qual;
		e->gva_known = true;
		break;
	case VMX_EXIT_EXTERNAL_INTERRUPT:
	case VMX_EXIT_PREEMPTION_TIMER:
		e->reason = EXIT_INTERRUPT;
		break;
	case VMX_EXIT_TRIPLE_FAULT:
		e->reason = EXIT_SHUTDOWN;
		break;
	case VMX_EXIT_INVEPT:
	case VMX_EXIT_INVVPID:
		e->reason = EXIT_ILLEGAL;
		break;
	default:
		if (basic >= VMX_EXIT_VMCLEAR && basic <= VMX_EXIT_VMXON)
			e->reason = EXIT_ILLEGAL;
		break;
	}
}
