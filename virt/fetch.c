// SPDX-License-Identifier: MIT
/*
 * Fetching the instruction a vCPU exited on, in whatever mode it runs:
 * CS:RIP to a linear address (the CS base counts outside 64-bit mode,
 * and linear addresses are 32-bit there), then through the guest's own
 * paging if it has paging on. Used to decode what the hardware did not
 * (SVM without decode assists) and to emulate.
 */
#include "arch/x86/cpu.h"
#include "virt/cr.h"
#include "virt/shadow_emulate.h"
#include "virt/vcpu.h"

unsigned int vcpu_fetch_insn(struct vcpu *v, uint8_t *b, unsigned int n)
{
	struct vcpu_state st;
	uint64_t la;
	unsigned int got = 0;

	vcpu_sync_guest_state(v, &st);
	la = st.code_bits == 64 ? v->arch.regs.rip
				: (uint32_t)(st.seg_base[1] + (uint32_t)v->arch.regs.rip);
	if (v->guest_cr0 & CR0_PG)
		return shadow_fetch_insn(v, la, b, n);
	/* Paging off: linear is physical. */
	while (got < n) {
		uint64_t pa = (uint32_t)(la + got), in_page = PAGE_SIZE - (pa & (PAGE_SIZE - 1));
		unsigned int chunk = n - got < in_page ? n - got : (unsigned int)in_page;
		const uint8_t *p = vm_gpa_to_hva(v->vm, pa, chunk);

		if (!p)
			break;
		for (unsigned int i = 0; i < chunk; i++)
			b[got + i] = p[i];
		got += chunk;
	}
	return got;
}
