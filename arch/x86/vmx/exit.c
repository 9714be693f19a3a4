// SPDX-License-Identifier: MIT
/* Decode a VM exit into the core's struct vcpu_exit (mirrors arch/x86/svm/exit.c). */
#include "arch/x86/vmx/vmx.h"
#include "mm/ept/tdp_mmu.h"

#define EPT_QUAL_WRITE (1ull << 1)
#define EPT_QUAL_FETCH (1ull << 2)
#define EPT_QUAL_PERMS (7ull << 3) /* the R/W/X the walk granted (qualification bits 3-5); 0: not present */
#define EPT_QUAL_NMI_UNBLOCKED (1ull << 12)

/*
 * An exit in the middle of delivering an event (SDM vol. 3 27.2.4,
 * "Information for VM Exits During Event Delivery": IDT-vectoring
 * information valid) leaves it undelivered: it goes in again at the next
 * entry (26.5, "Event Injection"), e.g. an interrupt or NMI whose delivery
 * met an EPT violation on the guest's IDT or stack. An INTn, INT1, INT3 or
 * INTO needs its instruction's length, which the exit reports (27.2.5);
 * without it (0) it is left to run again from RIP, which still points at
 * it. Otherwise nothing is queued: a VM exit clears the valid bit of the
 * VM-entry interruption information (24.8.3), but writing 0 makes what
 * vcpu_can_inject reads true on any CPU. The core may still replace the
 * event with its own (a #PF or #DF under mmu=shadow, after reading
 * e->vectoring).
 */
static void requeue_event(uint32_t vectoring, unsigned int insn_len)
{
	uint32_t type = vectoring & INTR_TYPE_MASK;

	if (!(vectoring & INTR_INFO_VALID)) {
		vmwrite(ENTRY_INTR_INFO, 0);
		return;
	}
	if (type == INTR_TYPE_SOFT_INTR || type == INTR_TYPE_PRIV_SOFT_EXC ||
	    type == INTR_TYPE_SOFT_EXC) {
		if (insn_len == 0 || insn_len > 15) {
			vmwrite(ENTRY_INTR_INFO, 0);
			return;
		}
		vmwrite(ENTRY_INSTRUCTION_LEN, insn_len);
	}
	if (vectoring & INTR_INFO_DELIVER_ERROR)
		vmwrite(ENTRY_EXCEPTION_ERROR, vmread(IDT_VECTORING_ERROR));
	/*
	 * An NMI: an exit during its delivery leaves virtual-NMI blocking
	 * clear, as the entry check for an injected NMI wants (26.3.1.5);
	 * delivering it sets the blocking again.
	 */
	vmwrite(ENTRY_INTR_INFO, vectoring & INTR_INFO_EVENT);
}

/*
 * A guest IRET that unblocked virtual NMIs and then faulted (an EPT
 * violation, or a #PF we intercept under mmu=shadow) will run again: NMIs
 * stay blocked until it does (SDM vol. 3 27.2.3, "Information About NMI
 * Unblocking Due to IRET"). The bit means nothing when the exit came
 * during event delivery, or with a double fault.
 */
static void reblock_nmi_after_iret(uint32_t basic, uint64_t qual, uint32_t vectoring)
{
	bool unblocked = false;

	if (vectoring & INTR_INFO_VALID)
		return;
	if (basic == VMX_EXIT_EPT_VIOLATION) {
		unblocked = qual & EPT_QUAL_NMI_UNBLOCKED;
	} else if (basic == VMX_EXIT_EXCEPTION_NMI) {
		uint32_t info = (uint32_t)vmread(EXIT_INTR_INFO);

		unblocked = (info & INTR_INFO_NMI_UNBLOCKED) &&
			    (info & INTR_TYPE_MASK) == INTR_TYPE_HW_EXCEPTION && (info & 0xff) != 8;
	}
	if (unblocked)
		vmwrite(GUEST_INTERRUPTIBILITY, vmread(GUEST_INTERRUPTIBILITY) | INTR_BLOCK_NMI);
}

void vmx_decode_exit(struct vcpu_arch *v, struct vmx_vcpu *x)
{
	uint32_t reason = (uint32_t)vmread(EXIT_REASON);
	uint32_t basic = reason & 0xffff;
	uint64_t qual = vmread(EXIT_QUALIFICATION);
	uint32_t vectoring = 0;
	struct vcpu_exit *e = &v->exit;

	*e = (struct vcpu_exit){ .reason = EXIT_UNKNOWN, .hw_code = basic,
				 .insn_len = (unsigned int)vmread(EXIT_INSTRUCTION_LEN) };
	if (reason & VMX_EXIT_ENTRY_FAILURE) {
		e->reason = EXIT_ENTRY_FAILED;
		vmx_report_entry_failure(v, false);
		return;
	}
	/*
	 * Only a PC guest takes events that an exit can cut short (a synthetic
	 * guest has no IDT: its exceptions end it), so only its exits pay for
	 * the re-injection; a synthetic guest's #PF exit reads the field below.
	 */
	if (x->pc) {
		vectoring = (uint32_t)vmread(IDT_VECTORING_INFO);
		requeue_event(vectoring, e->insn_len);
		reblock_nmi_after_iret(basic, qual, vectoring); /* virtual NMIs */
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
	case VMX_EXIT_PAUSE:
		e->reason = EXIT_PAUSE;
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
			e->vectoring = x->pc ? vectoring : (uint32_t)vmread(IDT_VECTORING_INFO);
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
	case VMX_EXIT_IRQ_WINDOW:
	case VMX_EXIT_NMI_WINDOW:
		e->reason = EXIT_IRQ_WINDOW;
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
