// SPDX-License-Identifier: MIT
/*
 * Fetching the instruction a vCPU exited on, in whatever mode it runs:
 * CS:RIP to a linear address (the CS base counts outside 64-bit mode,
 * and linear addresses are 32-bit there), then through the guest's own
 * paging if it has paging on. Used to decode what the hardware did not
 * (SVM without decode assists) and to emulate.
 */
#include "arch/x86/cpu.h"
#include "mm/shadow/walker.h"
#include "virt/cr.h"
#include "virt/shadow_emulate.h"
#include "virt/shadow_exits.h"
#include "virt/vcpu.h"

#define PDPTE_ACCESSED (1ull << 5)
#define PFERR_FETCH (1u << 4)

/*
 * Under TDP the CPU walked the guest's PAE tables itself, from the PDPTEs
 * it loaded at MOV CR3: hand those to the walker as loaded. QEMU's TCG sets
 * bit 5 (accessed) in a PAE PDPTE, a bit the SDM reserves there
 * (docs/PLATFORM_FINDINGS.md); the CPU that sets it accepts it, so the
 * fetch does too.
 */
static void load_pdptes(struct vcpu *v, struct guest_paging *gp)
{
	const uint64_t *p = vm_gpa_to_hva(v->vm, gp->cr3 & 0xffffffe0ull, 32);

	if (!p)
		return;
	for (unsigned int i = 0; i < 4; i++)
		gp->pdpte[i] = __atomic_load_n(&p[i], __ATOMIC_RELAXED) & ~PDPTE_ACCESSED;
	gp->pdptes_loaded = true;
}

/*
 * n bytes at linear address la through the guest's paging, as access
 * pf_access at CPL 0 (vcpu_guest_paging's), after vcpu_sync_guest_state().
 */
static unsigned int read_linear(struct vcpu *v, uint64_t la, uint8_t *b, unsigned int n,
				uint32_t pf_access)
{
	struct guest_paging gp = vcpu_guest_paging(v);
	unsigned int got = 0;
	if (gp.mode == GUEST_PAGING_PAE && !v->shadow)
		load_pdptes(v, &gp);
	if (gp.mode != GUEST_PAGING_OFF)
		return shadow_read_guest(v, &gp, la, b, n, pf_access);
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

unsigned int vcpu_fetch_insn(struct vcpu *v, uint8_t *b, unsigned int n)
{
	struct vcpu_state st;

	vcpu_sync_guest_state(v, &st);
	return read_linear(v, st.code_bits == 64 ? v->arch.regs.rip
			   : (uint32_t)(st.seg_base[1] + (uint32_t)v->arch.regs.rip), b, n,
			   PFERR_FETCH);
}

unsigned int vcpu_read_linear(struct vcpu *v, uint64_t la, uint8_t *b, unsigned int n)
{
	struct vcpu_state st;

	vcpu_sync_guest_state(v, &st);
	return read_linear(v, la, b, n, 0); /* a supervisor read, as the CPU's own of its tables */
}
