// SPDX-License-Identifier: MIT
/*
 * Hypercalls (virt/guest_abi.h): RAX holds the number, RDI/RSI/RDX the
 * arguments, RAX the result. A bad number or a buffer outside guest memory
 * stops the VM with a message; it never reaches the hypervisor's own memory.
 */
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/tsc.h"
#include "lib/string.h"
#include "mm/rcu/rcu.h"
#include "virt/guest_abi.h"
#include "virt/hypercall.h"
#include "virt/vcpu.h"

typedef uint64_t (*hypercall_fn)(struct vcpu *v, uint64_t a0, uint64_t a1, uint64_t a2);

/* Copy a guest string into buf (NUL-terminated); false if it is not all guest memory. */
static bool copy_guest_text(struct vcpu *v, uint64_t gpa, uint64_t len, char *buf)
{
	const char *src;

	if (len > HC_PRINT_MAX)
		len = HC_PRINT_MAX;
	src = vm_gpa_to_hva(v->vm, gpa, len);
	if (!src)
		return false;
	memcpy(buf, src, len);
	buf[len] = '\0';
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	return true;
}

static uint64_t hc_print(struct vcpu *v, uint64_t gpa, uint64_t len, uint64_t unused)
{
	char buf[HC_PRINT_MAX + 1];

	(void)unused;
	if (!copy_guest_text(v, gpa, len, buf)) {
		vcpu_fail(v, "print: the text at gpa 0x%lx (%lu bytes) is outside guest memory",
			  (unsigned long)gpa, (unsigned long)len);
		return 0;
	}
	kprintf("vm %u/vcpu %u: %s\n", v->vm->id, v->id, buf);
	return 0;
}

static uint64_t hc_report(struct vcpu *v, uint64_t slot, uint64_t value, uint64_t unused)
{
	(void)unused;
	if (slot >= ARRAY_SIZE(v->result)) {
		vcpu_fail(v, "report: slot %lu does not exist (0..%zu)", (unsigned long)slot,
			  ARRAY_SIZE(v->result) - 1);
		return 0;
	}
	v->result[slot] = value;
	return 0;
}

/*
 * A barrier over the VM's vCPUs, by generation: the last to come opens it.
 * A vCPU alone on its pCPU waits here, outside the guest; one that shares
 * its pCPU waits off its pCPU's run (vcpu_runnable in virt/vcpu.c), so that
 * the vCPUs queued behind it can come.
 */
static uint64_t hc_barrier(struct vcpu *v, uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct vm *vm = v->vm;
	unsigned int gen = atomic_load(&vm->barrier_gen);

	(void)a0, (void)a1, (void)a2;
	if (atomic_fetch_add(&vm->barrier_count, 1) + 1 == vm->cfg.nr_vcpus) {
		atomic_store(&vm->barrier_count, 0);
		atomic_fetch_add(&vm->barrier_gen, 1); /* releases the others */
		return 0;
	}
	if (v->pcpu_shared) {
		v->barrier_gen = gen;
		v->in_barrier = true;
		return 0;
	}
	while (atomic_load(&vm->barrier_gen) == gen && !atomic_load(&vm->stopping)) {
		rcu_quiescent_state();
		irq_window();
		cpu_relax();
	}
	return 0;
}

static uint64_t hc_vcpu_id(struct vcpu *v, uint64_t a0, uint64_t a1, uint64_t a2)
{
	(void)a0, (void)a1, (void)a2;
	return v->id;
}

static uint64_t hc_done(struct vcpu *v, uint64_t a0, uint64_t a1, uint64_t a2)
{
	(void)a0, (void)a1, (void)a2;
	v->done = true;
	return 0;
}

static uint64_t hc_fail(struct vcpu *v, uint64_t gpa, uint64_t len, uint64_t unused)
{
	char buf[HC_PRINT_MAX + 1];

	(void)unused;
	if (!copy_guest_text(v, gpa, len, buf))
		vcpu_fail(v, "the guest failed, and its reason is outside guest memory");
	else
		vcpu_fail(v, "the guest's check failed: %s", buf);
	return 0;
}

static const hypercall_fn hypercalls[HC_COUNT] = {
	[HC_PRINT] = hc_print,
	[HC_REPORT] = hc_report,
	[HC_BARRIER] = hc_barrier,
	[HC_VCPU_ID] = hc_vcpu_id,
	[HC_DONE] = hc_done,
	[HC_FAIL] = hc_fail,
};

void hypercall_handle(struct vcpu *v)
{
	uint64_t nr = v->arch.regs.rax;

	v->stats.hypercalls++;
	v->arch.regs.rip += v->arch.exit.insn_len;
	if (nr >= HC_COUNT || !hypercalls[nr]) {
		vcpu_fail(v, "bad hypercall %lu at rip 0x%lx", (unsigned long)nr,
			  (unsigned long)(v->arch.regs.rip - v->arch.exit.insn_len));
		return;
	}
	v->arch.regs.rax = hypercalls[nr](v, v->arch.regs.rdi, v->arch.regs.rsi, v->arch.regs.rdx);
}
