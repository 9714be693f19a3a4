// SPDX-License-Identifier: MIT
/* Choosing the vendor backend (virt=auto|svm|vmx) and checking its ops. */
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/panic.h"
#include "arch/x86/percpu.h"
#include "arch/x86/smp.h"
#include "arch/x86/svm/svm.h"
#include "arch/x86/vmx/vmx.h"
#include "arch/x86/virt.h"
#include "lib/printf.h"
#include "lib/string.h"

const struct virt_ops *virt;
struct virt_caps virt_caps;

#define CHECK_MANDATORY(ops, op)                                                        \
	do {                                                                            \
		if (!(ops)->op)                                                         \
			panic("virt: the %s backend lacks the mandatory op " #op,      \
			      (ops)->name);                                             \
	} while (0)

static void check_ops(const struct virt_ops *ops)
{
	CHECK_MANDATORY(ops, probe);
	CHECK_MANDATORY(ops, cpu_enable);
	CHECK_MANDATORY(ops, vcpu_init);
	CHECK_MANDATORY(ops, vcpu_free);
	CHECK_MANDATORY(ops, vcpu_run);
	CHECK_MANDATORY(ops, vcpu_flush_tlb);
	CHECK_MANDATORY(ops, vcpu_inject_exception);
	CHECK_MANDATORY(ops, vcpu_inject_page_fault);
	CHECK_MANDATORY(ops, vcpu_set_cr);
	CHECK_MANDATORY(ops, vcpu_seg_base);
	CHECK_MANDATORY(ops, vcpu_get_state);
	CHECK_MANDATORY(ops, vcpu_get_msr);
	CHECK_MANDATORY(ops, vcpu_set_msr);
	CHECK_MANDATORY(ops, vcpu_can_inject);
	CHECK_MANDATORY(ops, vcpu_inject_irq);
	CHECK_MANDATORY(ops, vcpu_inject_nmi);
	CHECK_MANDATORY(ops, vcpu_request_window);
	CHECK_MANDATORY(ops, vcpu_reset_sipi);
	CHECK_MANDATORY(ops, vcpu_load_pm_state);
}

static bool cpu_is_intel(void)
{
	struct cpuid_regs r = cpuid(0, 0);

	return r.ebx == 0x756e6547 && r.edx == 0x49656e69 && r.ecx == 0x6c65746e; /* GenuineIntel */
}

/* What the pCPU held when the backend was enabled on it; written by that pCPU only. */
static struct host_state {
	uint64_t cr0, cr4, cr8, efer, pat, dr7;
	uint64_t xcr0; /* with CR4.OSXSAVE: both backends intercept XSETBV, so a change is a bug */
	/* The MSRs VMX leaves to the guest while it runs (SVM switches them with VMLOAD). */
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base, tsc_aux;
} host_state[PLATFORM_MAX_CPUS];

static bool has_tsc_aux(void)
{
	return cpuid(0x80000001, 0).edx & (1u << 27);
}

static uint64_t read_dr7(void)
{
	uint64_t v;

	asm volatile("mov %%dr7, %0" : "=r"(v));
	return v;
}

static void write_dr7(uint64_t v)
{
	asm volatile("mov %0, %%dr7" ::"r"(v));
}

static uint64_t read_xcr0(void)
{
	uint32_t lo, hi;

	if (!(read_cr4() & CR4_OSXSAVE))
		return 0;
	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

static void write_xcr0(uint64_t v)
{
	asm volatile("xsetbv" ::"a"((uint32_t)v), "d"((uint32_t)(v >> 32)), "c"(0));
}

static struct host_state host_state_now(void)
{
	return (struct host_state){ .cr0 = read_cr0(), .cr4 = read_cr4(), .cr8 = read_cr8(),
				    .xcr0 = read_xcr0(),
				    .efer = rdmsr(MSR_EFER), .pat = rdmsr(MSR_PAT),
				    .dr7 = read_dr7(), .star = rdmsr(MSR_STAR),
				    .lstar = rdmsr(MSR_LSTAR), .cstar = rdmsr(MSR_CSTAR),
				    .sfmask = rdmsr(MSR_SFMASK),
				    .kernel_gs_base = rdmsr(MSR_KERNEL_GS_BASE),
				    .tsc_aux = has_tsc_aux() ? rdmsr(MSR_TSC_AUX) : 0 };
}

#define RESTORE(field, write)                                                               \
	do {                                                                                \
		if (now.field != was->field) {                                              \
			kprintf("virt: cpu %u: " #field " was 0x%lx after a VM, 0x%lx before: restored\n", \
				this_cpu()->cpu, (unsigned long)now.field,                  \
				(unsigned long)was->field);                                 \
			write;                                                              \
			changed++;                                                          \
		}                                                                           \
	} while (0)

unsigned int virt_restore_host_state(void)
{
	const struct host_state *was = &host_state[this_cpu()->cpu];
	struct host_state now = host_state_now();
	unsigned int changed = 0;

	RESTORE(cr0, write_cr0(was->cr0));
	RESTORE(cr4, write_cr4(was->cr4));
	RESTORE(cr8, write_cr8(was->cr8));
	if (was->cr4 & CR4_OSXSAVE)
		RESTORE(xcr0, write_xcr0(was->xcr0));
	RESTORE(efer, wrmsr(MSR_EFER, was->efer));
	RESTORE(pat, wrmsr(MSR_PAT, was->pat));
	RESTORE(dr7, write_dr7(was->dr7));
	RESTORE(star, wrmsr(MSR_STAR, was->star));
	RESTORE(lstar, wrmsr(MSR_LSTAR, was->lstar));
	RESTORE(cstar, wrmsr(MSR_CSTAR, was->cstar));
	RESTORE(sfmask, wrmsr(MSR_SFMASK, was->sfmask));
	RESTORE(kernel_gs_base, wrmsr(MSR_KERNEL_GS_BASE, was->kernel_gs_base));
	RESTORE(tsc_aux, wrmsr(MSR_TSC_AUX, was->tsc_aux));
	return changed;
}

static atomic_uint enable_failures;
static char enable_err[160]; /* the first failure's message */

static void enable_this_cpu(void *arg)
{
	char err[160];

	(void)arg;
	if (virt->cpu_enable(err, sizeof(err)))
		host_state[this_cpu()->cpu] = host_state_now(); /* SVME or VMXE included */
	else if (atomic_fetch_add(&enable_failures, 1) == 0)
		fmt_snprintf(enable_err, sizeof(enable_err), "cpu %u: %s", this_cpu()->cpu, err);
}

/* Every pCPU but the control CPU runs vCPUs: enable the backend there, in thread context. */
static bool enable_on_vcpu_cpus(char *err, size_t len)
{
	/* The caller is left out: cpu_work_launch never runs work on it. */
	cpu_work_launch(smp_online(), enable_this_cpu, NULL);
	cpu_work_wait(smp_online(), 2000);
	if (atomic_load(&enable_failures)) {
		fmt_snprintf(err, len, "%s", enable_err);
		return false;
	}
	return true;
}

static size_t strspn_blank(const char *s)
{
	size_t n = 0;

	while (s[n] == ' ')
		n++;
	return n;
}

static const char *yes(bool b)
{
	return b ? "yes" : "no";
}

/* The CPU, and what of its virtualization the backend found, in two lines. */
static void virt_report(bool intel)
{
	struct cpuid_regs r = cpuid(1, 0);
	unsigned int family = (r.eax >> 8) & 0xf, model = (r.eax >> 4) & 0xf;
	char brand[49] = "";

	if (family == 0xf)
		family += (r.eax >> 20) & 0xff;
	if (family == 0x6 || family >= 0xf)
		model |= ((r.eax >> 16) & 0xf) << 4;
	if (cpuid(0x80000000, 0).eax >= 0x80000004) {
		for (unsigned int i = 0; i < 3; i++) {
			struct cpuid_regs b = cpuid(0x80000002 + i, 0);

			memcpy(brand + i * 16, &b.eax, 4);
			memcpy(brand + i * 16 + 4, &b.ebx, 4);
			memcpy(brand + i * 16 + 8, &b.ecx, 4);
			memcpy(brand + i * 16 + 12, &b.edx, 4);
		}
	}
	for (int i = (int)strlen(brand) - 1; i >= 0 && brand[i] == ' '; i--)
		brand[i] = 0;
	kprintf("mmuvisor: cpu: \"%s\" family 0x%x model 0x%x stepping %u\n",
		brand + strspn_blank(brand), family, model, r.eax & 0xf);
	if (intel)
		kprintf("mmuvisor: virt: vmx: EPT %s (A/D %s, 1G %s, INVEPT single-context %s), VPID %s, unrestricted guest %s, PAUSE-loop exiting %s\n",
			yes(virt_caps.tdp), yes(virt_caps.tdp_ad), yes(virt_caps.tdp_1g),
			yes(virt_caps.flush_by_asid), yes(virt_caps.vpid), yes(virt_caps.unrestricted),
			yes(virt_caps.pause_exiting));
	else
		kprintf("mmuvisor: virt: svm: NPT %s (1G %s), %u ASIDs, NRIP save %s, decode assists %s, flush-by-ASID %s, VMCB clean bits %s, pause filter %s\n",
			yes(virt_caps.tdp), yes(virt_caps.tdp_1g), virt_caps.asids,
			yes(virt_caps.nrip_save), yes(virt_caps.decode_assists),
			yes(virt_caps.flush_by_asid), yes(virt_caps.vmcb_clean),
			yes(virt_caps.pause_exiting));
}

bool virt_select(unsigned int requested, bool need_tdp, char *err, size_t len)
{
	const struct virt_ops *ops = NULL;
	bool intel = cpu_is_intel();

	if (requested == VIRT_SVM && intel) {
		fmt_snprintf(err, len, "virt=svm, but this is an Intel CPU: use virt=auto or virt=vmx");
		return false;
	}
	if (requested == VIRT_VMX && !intel) {
		fmt_snprintf(err, len, "virt=vmx, but this is not an Intel CPU: use virt=auto or virt=svm");
		return false;
	}
	ops = intel ? &vmx_ops : &svm_ops;
	check_ops(ops);
	if (!ops->probe(need_tdp, err, len))
		return false;
	virt = ops;
	virt_report(intel);
	return enable_on_vcpu_cpus(err, len);
}
