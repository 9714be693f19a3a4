// SPDX-License-Identifier: MIT
/*
 * RDMSR and WRMSR of a PC guest. Every MSR access exits (the permission
 * maps are all ones). The MSRs a CPU keeps in the guest state (EFER, PAT,
 * the segment bases, SYSCALL and SYSENTER) go to the backend after the
 * checks the architecture makes; the others live in struct vcpu or are
 * constants a PC's firmware leaves behind. An MSR not listed here raises
 * #GP(0), as on a CPU without it; no access ever stops the VM.
 */
#include "arch/x86/tsc.h"
#include "virt/cpuid.h"
#include "virt/cr.h"
#include "virt/dev/dev.h"
#include "virt/msr.h"

#define MSR_TSC 0x10
#define MSR_FEATURE_CONTROL 0x3a
#define MSR_TSC_ADJUST 0x3b
#define MSR_TSC_DEADLINE 0x6e0 /* the local APIC's (virt/dev/lapic.c) */
#define MSR_BIOS_SIGN_ID 0x8b
#define MSR_MTRRCAP 0xfe
#define MSR_MCG_CAP 0x179
#define MSR_MCG_STATUS 0x17a
#define MSR_MISC_ENABLE 0x1a0
#define MSR_MTRR_PHYS_BASE0 0x200 /* 0x200..0x20f: 8 base/mask pairs */
#define MSR_MTRR_FIX64K 0x250
#define MSR_MTRR_FIX16K_80000 0x258
#define MSR_MTRR_FIX16K_A0000 0x259
#define MSR_MTRR_FIX4K_C0000 0x268 /* 0x268..0x26f */
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_AMD_PERF_CTL0 0xc0010000 /* 0xc0010000..3: event selects; ..7: counters */
#define MSR_AMD_HWCR 0xc0010015
#define MSR_AMD_SYSCFG 0xc0010010 /* Linux reads it on AMD (memory encryption, TOM2) */
#define MSR_AMD_INT_PENDING 0xc0010055 /* Linux reads it for erratum 400 (C1E) on family 0xf/0x10 */


#define MTRR_WB 6
#define MTRR_FIXED_WB 0x0606060606060606ull

/* MTRRs: 16 variable (base, mask), 11 fixed, the default type, at these indices of v->mtrr. */
static int mtrr_index(uint32_t msr)
{
	if (msr >= MSR_MTRR_PHYS_BASE0 && msr < MSR_MTRR_PHYS_BASE0 + 16)
		return (int)(msr - MSR_MTRR_PHYS_BASE0);
	if (msr == MSR_MTRR_FIX64K)
		return 16;
	if (msr == MSR_MTRR_FIX16K_80000 || msr == MSR_MTRR_FIX16K_A0000)
		return 17 + (int)(msr - MSR_MTRR_FIX16K_80000);
	if (msr >= MSR_MTRR_FIX4K_C0000 && msr < MSR_MTRR_FIX4K_C0000 + 8)
		return 19 + (int)(msr - MSR_MTRR_FIX4K_C0000);
	if (msr == MSR_MTRR_DEF_TYPE)
		return 27;
	return -1;
}

/*
 * The state a PC's firmware hands over (SeaBIOS on QEMU does the same):
 * fixed MTRRs write-back but the VGA window (uncached), no variable ones,
 * MTRRs and fixed MTRRs enabled with write-back as the default type.
 * (IA32_APIC_BASE is the local APIC's: virt/dev/lapic.c.)
 */
void msr_vcpu_reset(struct vcpu *v)
{
	for (int i = 16; i < 27; i++)
		v->mtrr[i] = MTRR_FIXED_WB;
	v->mtrr[mtrr_index(MSR_MTRR_FIX16K_A0000)] = 0;
	v->mtrr[27] = (1u << 11) | (1u << 10) | MTRR_WB;
}

static unsigned int maxphyaddr(const struct vcpu *v)
{
	struct cpuid_regs r = vcpu_cpuid(v, 0x80000000u, 0);

	return r.eax >= 0x80000008u ? vcpu_cpuid(v, 0x80000008u, 0).eax & 0xff : 36;
}

static bool is_canonical(uint64_t va)
{
	return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

/* A PAT entry must be UC, WC, WT, WP, WB or UC- (0, 1, 4, 5, 6, 7). */
static bool pat_valid(uint64_t pat)
{
	for (unsigned int i = 0; i < 8; i++) {
		unsigned int t = (pat >> (8 * i)) & 0xff;

		if (t > 7 || t == 2 || t == 3)
			return false;
	}
	return true;
}

static bool is_backend_msr(uint32_t msr)
{
	switch (msr) {
	case MSR_PAT: case MSR_FS_BASE: case MSR_GS_BASE: case MSR_KERNEL_GS_BASE:
	case MSR_STAR: case MSR_LSTAR: case MSR_CSTAR: case MSR_SFMASK:
	case MSR_SYSENTER_CS: case MSR_SYSENTER_ESP: case MSR_SYSENTER_EIP:
		return true;
	case MSR_TSC_AUX: /* with RDTSCP only */
		return true;
	}
	return false;
}

/*
 * The guest's TSC is the host's plus v->arch.tsc_offset. A write to
 * IA32_TSC moves the offset and, as on a CPU, IA32_TSC_ADJUST by the same
 * amount; a write to IA32_TSC_ADJUST moves the TSC by its change (SDM Vol.
 * 3B, 18.17.3). Linux reads TSC_ADJUST on each CPU and, with an invariant
 * TSC (virt/cpuid.c), trusts the TSC without a clocksource watchdog.
 */
static void tsc_move(struct vcpu *v, int64_t delta)
{
	/* Modulo 2^64, as the hardware adds the offset: any value the guest writes is fine. */
	v->arch.tsc_offset = (int64_t)((uint64_t)v->arch.tsc_offset + (uint64_t)delta);
	v->arch.tsc_adjust += (uint64_t)delta;
	virt->vcpu_set_tsc_offset(&v->arch);
}

/*
 * IA32_TSC_DEADLINE holds a guest TSC value; the local APIC's timer counts
 * the host's. One the host's TSC has passed already is due at once (1).
 * One more than 2^62 cycles ahead (decades) is held there: the host's
 * timers compare TSC values signed, so a farther one would read as past
 * and fire at once, again and again (it reads back as the held value).
 */
static uint64_t deadline_to_host(const struct vcpu *v, uint64_t guest)
{
	uint64_t off = (uint64_t)v->arch.tsc_offset, far = rdtsc() + (1ull << 62), host;

	if (!guest)
		return 0; /* disarm */
	if (v->arch.tsc_offset >= 0)
		host = guest > off ? guest - off : 1;
	else
		host = guest > UINT64_MAX - (0 - off) ? UINT64_MAX : guest + (0 - off);
	return host > far ? far : host;
}

bool msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	bool intel = vcpu_cpuid_intel();
	int mtrr = mtrr_index(msr);
	bool ok;

	/* IA32_APIC_BASE, the x2APIC MSRs, IA32_TSC_DEADLINE: the local APIC's (virt/dev/lapic.c). */
	if (v->vm->dev && pc_lapic_msr(v->vm->dev, v->id, msr, false, val, &ok)) {
		if (ok && msr == MSR_TSC_DEADLINE && *val)
			*val += (uint64_t)v->arch.tsc_offset;
		return ok;
	}
	if (msr == MSR_EFER && v->shadow) { /* the hardware's is the shadow MMU's, not the guest's */
		*val = v->guest_efer;
		return true;
	}
	if (msr == MSR_EFER || is_backend_msr(msr)) {
		if (msr == MSR_TSC_AUX && !(vcpu_cpuid(v, 0x80000001u, 0).edx & (1u << 27)))
			return false;
		return virt->vcpu_get_msr(&v->arch, msr, val);
	}
	if (mtrr >= 0) {
		*val = v->mtrr[mtrr];
		return true;
	}
	switch (msr) {
	case MSR_TSC:
		*val = rdtsc() + (uint64_t)v->arch.tsc_offset; /* what RDTSC in the guest reads */
		return true;
	case MSR_TSC_ADJUST:
		*val = v->arch.tsc_adjust;
		return true;
	case MSR_MTRRCAP: /* 8 variable ranges, fixed ranges, write combining */
		*val = (1u << 10) | (1u << 8) | 8;
		return true;
	case MSR_MISC_ENABLE: /* fast strings */
		*val = 1;
		return true;
	case MSR_MCG_CAP: /* no machine-check banks */
	case MSR_MCG_STATUS:
		*val = 0;
		return true;
	case MSR_FEATURE_CONTROL: /* locked, VMX off */
	case MSR_BIOS_SIGN_ID:    /* no microcode revision */
		if (!intel)
			return false;
		*val = msr == MSR_FEATURE_CONTROL ? 1 : 0;
		return true;
	case MSR_AMD_HWCR:
	case MSR_AMD_SYSCFG: /* no TOM2, no MTRR fixed-range extensions, no SME */
	case MSR_AMD_INT_PENDING: /* no C1E: no SMI on an interrupt pending */
		if (intel)
			return false;
		*val = 0;
		return true;
	}
	if (!intel && msr >= MSR_AMD_PERF_CTL0 && msr <= MSR_AMD_PERF_CTL0 + 7) {
		*val = 0; /* four counters that count nothing */
		return true;
	}
	return false;
}

/* EFER: SCE, LME and NXE (if CPUID offers it); LME may not change while paging is on. */
static bool efer_write(struct vcpu *v, uint64_t val)
{
	uint64_t allowed = EFER_SCE | EFER_LME | EFER_LMA, old;
	struct vcpu_state st;

	if (vcpu_cpuid(v, 0x80000001u, 0).edx & (1u << 20))
		allowed |= EFER_NXE;
	if (val & ~allowed)
		return false;
	vcpu_sync_guest_state(v, &st); /* v->guest_*: the guest's view under either MMU */
	old = v->guest_efer;
	if ((v->guest_cr0 & CR0_PG) && ((old ^ val) & EFER_LME))
		return false;
	/* LMA is the CPU's to set (the write's bit is ignored). */
	v->guest_efer = (val & ~(uint64_t)EFER_LMA) | (old & EFER_LMA);
	if (!virt->vcpu_set_msr(&v->arch, MSR_EFER, v->guest_efer))
		return false;
	if ((old ^ val) & EFER_NXE)
		virt->vcpu_flush_tlb(&v->arch); /* the meaning of bit 63 in every entry changed */
	return true;
}

bool msr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	int mtrr = mtrr_index(msr);
	bool ok;

	if (msr == MSR_TSC_DEADLINE)
		val = deadline_to_host(v, val);
	if (v->vm->dev && pc_lapic_msr(v->vm->dev, v->id, msr, true, &val, &ok))
		return ok;
	switch (msr) {
	case MSR_EFER:
		return efer_write(v, val);
	case MSR_PAT:
		return pat_valid(val) && virt->vcpu_set_msr(&v->arch, msr, val);
	case MSR_FS_BASE: case MSR_GS_BASE: case MSR_KERNEL_GS_BASE:
	case MSR_LSTAR: case MSR_CSTAR:
	case MSR_SYSENTER_ESP: case MSR_SYSENTER_EIP:
		return is_canonical(val) && virt->vcpu_set_msr(&v->arch, msr, val);
	case MSR_STAR: case MSR_SYSENTER_CS:
		return virt->vcpu_set_msr(&v->arch, msr, val);
	case MSR_SFMASK:
		return !(val >> 32) && virt->vcpu_set_msr(&v->arch, msr, val);
	case MSR_TSC_AUX:
		return (vcpu_cpuid(v, 0x80000001u, 0).edx & (1u << 27)) && !(val >> 32) &&
		       virt->vcpu_set_msr(&v->arch, msr, val);
	case MSR_TSC:
		tsc_move(v, (int64_t)(val - (rdtsc() + (uint64_t)v->arch.tsc_offset)));
		return true;
	case MSR_TSC_ADJUST:
		tsc_move(v, (int64_t)(val - v->arch.tsc_adjust));
		return true;
	case MSR_MISC_ENABLE:
	case MSR_MCG_STATUS:
		return true;
	case MSR_BIOS_SIGN_ID:
		return vcpu_cpuid_intel();
	case MSR_AMD_HWCR:
	case MSR_AMD_SYSCFG:
	case MSR_AMD_INT_PENDING:
		return !vcpu_cpuid_intel();
	}
	if (mtrr >= 0) {
		if (mtrr < 16 && (val & ~((1ull << maxphyaddr(v)) - 1)))
			return false;
		v->mtrr[mtrr] = val;
		return true;
	}
	if (!vcpu_cpuid_intel() && msr >= MSR_AMD_PERF_CTL0 && msr <= MSR_AMD_PERF_CTL0 + 7)
		return true;
	return false;
}
