// SPDX-License-Identifier: MIT
/*
 * CPUID as a guest sees it. A synthetic guest gets the host's answers
 * minus VMX and SVM. A PC guest gets the host's answers minus everything
 * mmuvisor does not back: virtualization, MONITOR/MWAIT, PCID and INVPCID,
 * XSAVE and what needs it (AVX...), PKU, LA57, performance monitoring,
 * the speculation-control MSRs; plus the hypervisor bit, x2APIC and the
 * TSC-deadline timer (the virtual local APIC has both, whatever the host's),
 * an invariant TSC with IA32_TSC_ADJUST, a vendor leaf at 0x40000000
 * ("mmuvisor"), and a topology of one thread per core, nr_vcpus cores,
 * whose APIC IDs are the vCPU numbers, as the MADT and fw_cfg say.
 */
#include "arch/x86/cpu.h"
#include "virt/cpuid.h"

#define MAX_BASIC_LEAF 0xd
#define HV_LEAF 0x40000000u

static bool host_is_intel(void)
{
	struct cpuid_regs r = cpuid(0, 0);

	return r.ebx == 0x756e6547 && r.edx == 0x49656e69 && r.ecx == 0x6c65746e;
}

/* Bits of x2APIC ID that one topology level takes (leaf 0xB): enough for n. */
static uint32_t id_bits(unsigned int n)
{
	uint32_t b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

static struct cpuid_regs pc_cpuid(const struct vcpu *v, uint32_t leaf, uint32_t sub)
{
	unsigned int n = v->vm->cfg.nr_vcpus;
	uint32_t max_basic = cpuid(0, 0).eax;
	struct cpuid_regs r = { 0 };

	if (leaf >= HV_LEAF && leaf < HV_LEAF + 0x100) {
		if (leaf == HV_LEAF) /* "mmuvisor\0\0\0\0" */
			r = (struct cpuid_regs){ HV_LEAF, 0x76756d6d, 0x726f7369, 0 };
		return r;
	}
	if (leaf < 0x80000000u && leaf > (max_basic < MAX_BASIC_LEAF ? max_basic : MAX_BASIC_LEAF))
		return r; /* beyond our max leaf: zeros, as the SDM's "reserved" answer */
	if (leaf >= 0x80000000u && leaf > cpuid(0x80000000u, 0).eax)
		return r;
	r = cpuid(leaf, sub);
	switch (leaf) {
	case 0:
		r.eax = max_basic < MAX_BASIC_LEAF ? max_basic : MAX_BASIC_LEAF;
		break;
	case 1:
		r.ebx = (r.ebx & 0xffff) | (uint32_t)v->id << 24 | (uint32_t)n << 16;
		r.ecx &= ~((1u << 3) |  /* MONITOR */
			   (1u << 5) |  /* VMX */
			   (1u << 6) |  /* SMX */
			   (1u << 15) | /* PDCM: no perf capabilities MSR */
			   (1u << 17) | /* PCID */
			   (1u << 18) | /* DCA */
			   (1u << 26) | /* XSAVE */
			   (1u << 27) | /* OSXSAVE */
			   (1u << 28) | /* AVX */
			   (1u << 29)); /* F16C (VEX-encoded) */
		r.ecx |= 1u << 31 |     /* running under a hypervisor */
			 1u << 24 |     /* TSC deadline (virt/dev/lapic_timer.c) */
			 1u << 21;      /* x2APIC (virt/dev/lapic.c) */
		r.edx |= 1u << 9;       /* APIC */
		r.edx |= 1u << 28;      /* HTT: EBX[23:16] is meaningful */
		r.edx &= ~((1u << 22) | /* ACPI thermal MSRs */
			   (1u << 29));  /* TM */
		break;
	case 4: /* cache topology: cores per package in EAX[31:26] */
		r.eax = (r.eax & 0x3ffffff & ~(0xfffu << 14)) | (uint32_t)(n - 1) << 26;
		break;
	case 5: /* MONITOR/MWAIT: hidden */
	case 6: /* thermal and power: nothing */
	case 0xa: /* performance monitoring: version 0, no counters */
	case 0xd: /* XSAVE: hidden */
		r = (struct cpuid_regs){ 0 };
		break;
	case 7:
		if (sub != 0) {
			r = (struct cpuid_regs){ 0 };
			break;
		}
		r.eax = 0;
		/*
		 * Kept: FSGSBASE, BMI1, FDP_EXCPTN_ONLY, SMEP, BMI2, ERMS, the FCS/FDS
		 * deprecation, RDSEED, ADX, SMAP, CLFLUSHOPT, CLWB, SHA. Gone: SGX,
		 * TSX, AVX2 and AVX-512 (no XSAVE), INVPCID, RDT, PT and the rest.
		 * Added: IA32_TSC_ADJUST (virt/msr.c), whatever the host's.
		 */
		r.ebx &= (1u << 0) | (1u << 3) | (1u << 6) | (1u << 7) | (1u << 8) | (1u << 9) |
			 (1u << 13) | (1u << 18) | (1u << 19) | (1u << 20) | (1u << 23) |
			 (1u << 24) | (1u << 29);
		r.ebx |= 1u << 1;
		r.ecx = 0;              /* UMIP, PKU, LA57, RDPID, ...: none backed */
		r.edx = 0;              /* speculation control and friends: no MSRs behind them */
		break;
	case 0xb: { /* x2APIC topology: one thread per core, n cores */
		uint32_t level = sub & 0xff;

		if (level == 0)
			r = (struct cpuid_regs){ 0, 1, 0x100 | level, v->id };
		else if (level == 1)
			r = (struct cpuid_regs){ id_bits(n), n, 0x200 | level, v->id };
		else
			r = (struct cpuid_regs){ 0, 0, level, v->id };
		break;
	}
	case 0x80000001u:
		r.ecx &= ~((1u << 2) |  /* SVM */
			   (1u << 13) | /* WDT */
			   (1u << 15) | /* LWP */
			   (1u << 23) | /* PerfCtrExtCore: the legacy four counters only */
			   (1u << 29)); /* MONITORX */
		break;
	case 0x80000007u:
		/*
		 * Invariant TSC: the guest's is the host's plus an offset, and
		 * mmuvisor itself needs a constant-rate TSC (every deadline it
		 * arms is a TSC value from one calibration). Linux then trusts
		 * the TSC (with TSC_ADJUST, no clocksource watchdog), as on a
		 * PC of today; without it, a slow machine's lost ticks (Bochs)
		 * made it fall back to the PM timer and an exit per clock read.
		 */
		r.edx |= 1u << 8;
		break;
	case 0x80000008u: /* AMD: NC = cores - 1, legacy APIC ID size; no speculation MSRs */
		r.ebx = 0;
		r.ecx = (r.ecx & ~0xf0ffu) | (n - 1);
		break;
	case 0x8000000au: /* SVM features */
	case 0x8000001eu: /* AMD extended APIC ID: would contradict the above */
	case 0x8000001fu: /* SME/SEV: no memory encryption is backed (Linux would read MSR 0xc0010131) */
		r = (struct cpuid_regs){ 0 };
		break;
	}
	return r;
}

struct cpuid_regs vcpu_cpuid(const struct vcpu *v, uint32_t leaf, uint32_t sub)
{
	struct cpuid_regs r;

	if (v->vm->cfg.pc)
		return pc_cpuid(v, leaf, sub);
	r = cpuid(leaf, sub);
	if (leaf == 1)
		r.ecx &= ~(1u << 5); /* VMX */
	if (leaf == 0x80000001)
		r.ecx &= ~(1u << 2); /* SVM */
	return r;
}

bool vcpu_cpuid_intel(void)
{
	return host_is_intel();
}
