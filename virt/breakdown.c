// SPDX-License-Identifier: MIT
/* make BREAKDOWN=1: where an exit's cycles go (virt/breakdown.h). */
#ifdef EXIT_BREAKDOWN
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "lib/printf.h"
#include "virt/breakdown.h"
#include "virt/vcpu.h"

static const char *const kind_names[BD_KINDS] = { "tdp_fault", "guest_pf", "hypercall", "other" };
static const char *const phase_names[BD_PHASES] = {
	"guest_hw", "backend_exit", "core_exit", "handler", "mmu_prep", "mmu_walk", "mmu_install",
	"requests", "core_entry", "backend_entry"
};

static int kind_of(const struct vcpu *v)
{
	switch (v->arch.exit.reason) {
	case EXIT_TDP_FAULT: return BD_TDP_FAULT;
	case EXIT_GUEST_PF: return BD_GUEST_PF;
	case EXIT_HYPERCALL: return BD_HYPERCALL;
	default: return BD_OTHER;
	}
}

void breakdown_exit(struct vcpu *v)
{
	struct vcpu_breakdown *b = &v->breakdown;
	uint64_t now = rdtsc();

	if (b->cur_kind >= 0 && b->t_requests && b->t_entry) { /* the exit before this entry */
		b->cur[BD_REQUESTS] = b->t_requests - b->t_after_handled;
		b->cur[BD_CORE_ENTRY] = b->t_entry - b->t_requests;
		b->cur[BD_BACKEND_ENTRY] = v->arch.bd_run_start - b->t_entry;
		for (int p = 0; p < BD_PHASES; p++)
			b->sum[b->cur_kind][p] += b->cur[p];
		b->count[b->cur_kind]++;
	}
	b->cur_kind = kind_of(v);
	b->cur[BD_GUEST_HW] = v->arch.bd_run_end - v->arch.bd_run_start;
	b->cur[BD_BACKEND_EXIT] = now - v->arch.bd_run_end;
	b->t_requests = b->t_entry = 0;
	b->t_loop_exit = rdtsc(); /* this bookkeeping is nobody's phase */
}

void breakdown_handled(struct vcpu *v)
{
	struct vcpu_breakdown *b = &v->breakdown;

	const struct tdp_page_cache *c = &v->tdp_cache;

	b->t_handled = rdtsc();
	b->cur[BD_CORE_EXIT] = b->t_dispatch - b->t_loop_exit;
	b->cur[BD_HANDLER] = b->t_handled - b->t_dispatch;
	b->cur[BD_MMU_PREP] = b->cur[BD_MMU_WALK] = b->cur[BD_MMU_INSTALL] = 0;
	if (b->cur_kind == BD_TDP_FAULT && c->bd_locked > b->t_dispatch && c->bd_walked > c->bd_locked &&
	    c->bd_unlocked > c->bd_walked && b->t_handled > c->bd_unlocked) {
		b->cur[BD_MMU_PREP] = c->bd_locked - b->t_dispatch;
		b->cur[BD_MMU_WALK] = c->bd_walked - c->bd_locked;
		b->cur[BD_MMU_INSTALL] = c->bd_unlocked - c->bd_walked;
		b->cur[BD_HANDLER] = b->t_handled - c->bd_unlocked;
	}
	b->t_after_handled = rdtsc();
}

void vm_breakdown_print(const struct vm *vm, const char *scenario, const char *keys)
{
	for (int k = 0; k < BD_KINDS; k++) {
		uint64_t sum[BD_PHASES] = { 0 }, n = 0, total = 0;
		char line[400];
		size_t at = 0;

		for (unsigned int i = 0; i < vm->cfg.nr_vcpus; i++) {
			const struct vcpu_breakdown *b = &vm->vcpus[i].breakdown;

			n += b->count[k];
			for (int p = 0; p < BD_PHASES; p++)
				sum[p] += b->sum[k][p];
		}
		if (!n)
			continue;
		for (int p = 0; p < BD_PHASES; p++) {
			at += (size_t)fmt_snprintf(line + at, sizeof(line) - at, " %s=%lu", phase_names[p],
						   (unsigned long)(sum[p] / n));
			total += sum[p];
		}
		kprintf("RESULT scenario=%s phase=breakdown %s exit=%s exits=%lu%s total=%lu\n", scenario,
			keys, kind_names[k], (unsigned long)n, line, (unsigned long)(total / n));
	}
}
#endif
