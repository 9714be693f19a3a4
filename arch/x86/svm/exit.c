// SPDX-License-Identifier: MIT
/* Decode a #VMEXIT into the core's struct vcpu_exit. */
#include "arch/x86/svm/svm.h"
#include "mm/ept/tdp_mmu.h"

/*
 * Without NRIP save the length of the instruction to skip must be known per
 * exit: VMMCALL 3 bytes, CPUID/RDMSR/WRMSR 2, HLT 1 (IOIO gives the next RIP
 * in EXITINFO2 anyway).
 */
static unsigned int insn_len(const struct vmcb *vmcb, unsigned int fixed)
{
	if (virt_caps.nrip_save && vmcb->control.next_rip > vmcb->save.rip)
		return (unsigned int)(vmcb->control.next_rip - vmcb->save.rip);
	return fixed;
}

void svm_decode_exit(struct vcpu_arch *v, struct svm_vcpu *s)
{
	const struct vmcb *vmcb = s->vmcb;
	uint32_t code = (uint32_t)vmcb->control.exit_code; /* QEMU writes INVALID as 0xffffffff */
	uint64_t info1 = vmcb->control.exit_info1;
	struct vcpu_exit *e = &v->exit;

	*e = (struct vcpu_exit){ .reason = EXIT_UNKNOWN, .hw_code = code };
	switch (code) {
	case SVM_EXIT_VMMCALL:
		e->reason = EXIT_HYPERCALL;
		e->insn_len = insn_len(vmcb, 3);
		break;
	case SVM_EXIT_HLT:
		e->reason = EXIT_HLT;
		e->insn_len = insn_len(vmcb, 1);
		break;
	case SVM_EXIT_CPUID:
		e->reason = EXIT_CPUID;
		e->insn_len = insn_len(vmcb, 2);
		break;
	case SVM_EXIT_MSR:
		e->reason = EXIT_MSR;
		e->msr_write = info1 & 1;
		e->insn_len = insn_len(vmcb, 2);
		break;
	case SVM_EXIT_IOIO:
		e->reason = EXIT_IO;
		e->insn_len = (unsigned int)(vmcb->control.exit_info2 - vmcb->save.rip);
		e->io_in = info1 & IOIO_IN;
		e->io_string = info1 & IOIO_STRING;
		e->io_rep = info1 & IOIO_REP;
		e->io_size = info1 & (1u << IOIO_SIZE_SHIFT) ? 1 : info1 & (2u << IOIO_SIZE_SHIFT) ? 2 : 4;
		e->io_port = (uint16_t)(info1 >> 16);
		break;
	case SVM_EXIT_DR0_READ ... SVM_EXIT_DR0_READ + 7:
	case SVM_EXIT_DR0_WRITE ... SVM_EXIT_DR0_WRITE + 7:
		e->reason = EXIT_DR_ACCESS;
		e->dr = code & 7;
		e->cr_write = code >= SVM_EXIT_DR0_WRITE;
		e->gpr = virt_caps.decode_assists && (info1 & EXITINFO1_CR_VALID) ? (int)(info1 & 0xf) : -1;
		e->insn_len = virt_caps.decode_assists ? insn_len(vmcb, 3) : 0;
		break;
	case SVM_EXIT_XSETBV:
		e->reason = EXIT_XSETBV;
		e->insn_len = insn_len(vmcb, 3);
		break;
	case SVM_EXIT_INVD:
	case SVM_EXIT_WBINVD:
		e->reason = EXIT_CACHE;
		e->insn_len = insn_len(vmcb, 2);
		break;
	case SVM_EXIT_RDPMC:
		e->reason = EXIT_RDPMC;
		break;
	case SVM_EXIT_MONITOR:
	case SVM_EXIT_MWAIT:
		e->reason = EXIT_MONITOR;
		break;
	case SVM_EXIT_PAUSE:
		e->reason = EXIT_PAUSE;
		e->insn_len = insn_len(vmcb, 2);
		break;
	case SVM_EXIT_NPF:
		e->reason = EXIT_TDP_FAULT;
		e->gpa = vmcb->control.exit_info2;
		e->access = info1 & NPF_WRITE ? TDP_ACC_WRITE
			  : info1 & NPF_FETCH ? TDP_ACC_EXEC : TDP_ACC_READ;
		if (!(info1 & NPF_PRESENT))
			e->access |= TDP_ACC_NOT_PRESENT; /* the fast page fault cannot help */
		e->misconfig = info1 & NPF_RSVD;
		break;
	case SVM_EXIT_INTR:
	case SVM_EXIT_NMI:
	case SVM_EXIT_SMI:
	case SVM_EXIT_INIT:
		e->reason = EXIT_INTERRUPT;
		break;
	case SVM_EXIT_VINTR:
	case SVM_EXIT_IRET: /* svm_vcpu_run has unmasked NMIs */
		e->reason = EXIT_IRQ_WINDOW;
		break;
	case SVM_EXIT_SHUTDOWN:
		e->reason = EXIT_SHUTDOWN;
		break;
	case SVM_EXIT_EXCP_BASE + 8:
		e->reason = EXIT_DOUBLE_FAULT;
		break;
	case SVM_EXIT_EXCP_BASE + 14:
		e->reason = EXIT_GUEST_PF;
		e->error = (uint32_t)info1;
		e->gva = vmcb->control.exit_info2;
		e->vectoring = (uint32_t)vmcb->control.exit_int_info;
		break;
	case SVM_EXIT_CR0_READ:
	case SVM_EXIT_CR3_READ:
	case SVM_EXIT_CR4_READ:
	case SVM_EXIT_CR8_READ:
	case SVM_EXIT_CR0_WRITE:
	case SVM_EXIT_CR3_WRITE:
	case SVM_EXIT_CR4_WRITE:
	case SVM_EXIT_CR8_WRITE:
		e->reason = EXIT_CR_ACCESS;
		e->cr = code & 0xf;
		e->cr_write = code >= SVM_EXIT_CR0_WRITE;
		/* Decode assists name the register; without them virt/ decodes it. */
		e->gpr = virt_caps.decode_assists && (info1 & EXITINFO1_CR_VALID) ? (int)(info1 & 0xf) : -1;
		e->insn_len = virt_caps.decode_assists ? insn_len(vmcb, 3) : 0;
		break;
	case SVM_EXIT_INVLPG:
		e->reason = EXIT_INVLPG;
		e->gva_known = virt_caps.decode_assists;
		e->gva = info1;
		/* INVLPG m8's length depends on its ModRM: 0 (unknown) lets virt/ decode it. */
		e->insn_len = virt_caps.nrip_save ? insn_len(vmcb, 0) : 0;
		break;
	case SVM_EXIT_VMRUN:
	case SVM_EXIT_VMLOAD:
	case SVM_EXIT_VMSAVE:
	case SVM_EXIT_STGI:
	case SVM_EXIT_CLGI:
	case SVM_EXIT_SKINIT:
	case SVM_EXIT_INVLPGA:
		e->reason = EXIT_ILLEGAL;
		break;
	case SVM_EXIT_INVALID:
		e->reason = EXIT_ENTRY_FAILED;
		break;
	}
}
