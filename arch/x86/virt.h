// SPDX-License-Identifier: MIT
/*
 * struct virt_ops: the one door between the vendor-neutral core (virt/) and
 * a backend (arch/x86/svm/, arch/x86/vmx/). The core never sees a VMCB or a
 * VMCS; a backend never sees a memslot or a scenario. virt_select() checks at
 * boot that every mandatory op is present and panics naming a missing one.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a VM exit means, in the core's terms (the backend decodes its own codes). */
enum exit_reason {
	EXIT_NONE,
	EXIT_HYPERCALL,   /* VMMCALL / VMCALL */
	EXIT_HLT,
	EXIT_TDP_FAULT,   /* NPF / EPT violation: gpa and access below */
	EXIT_CPUID,
	EXIT_IO,          /* port I/O: io_* below */
	EXIT_MSR,         /* RDMSR/WRMSR (msr_write), the MSR in RCX */
	EXIT_INTERRUPT,   /* a physical interrupt or NMI made the guest exit */
	EXIT_SHUTDOWN,    /* triple fault */
	EXIT_DOUBLE_FAULT,/* the guest could not deliver an exception (it has no handlers) */
	EXIT_ILLEGAL,     /* the guest ran a virtualization instruction (#UD injected) */
	EXIT_ENTRY_FAILED,/* the hardware refused the guest state */
	EXIT_GUEST_PF,    /* mmu=shadow: a #PF in the guest (gva, error) */
	EXIT_CR_ACCESS,   /* mmu=shadow: MOV to or from a control register */
	EXIT_INVLPG,      /* mmu=shadow: INVLPG (gva when the hardware says) */
	EXIT_XSETBV,      /* XSETBV (ECX the XCR, EDX:EAX the value) */
	EXIT_DR_ACCESS,   /* MOV to or from DR0-7: dr, cr_write, gpr (-1 unknown) */
	EXIT_CACHE,       /* INVD or WBINVD: nothing to do in a guest without devices that DMA */
	EXIT_RDPMC,       /* RDPMC: the vCPU has no counters */
	EXIT_MONITOR,     /* MONITOR or MWAIT: hidden from CPUID */
	EXIT_IRQ_WINDOW,  /* the guest can take the interrupt or NMI it waited for (vcpu_request_window) */
	EXIT_PAUSE,       /* a PAUSE loop: the guest spins (vcpu_arch.pause_exits) */
	EXIT_UNKNOWN,
};

#define VECTORING_VALID (1u << 31)
#define VECTORING_TYPE_EXCEPTION (3u << 8)

struct vcpu_exit {
	enum exit_reason reason;
	uint64_t hw_code;      /* the vendor's exit code, for messages */
	uint64_t gpa;          /* EXIT_TDP_FAULT */
	unsigned int access;   /* EXIT_TDP_FAULT: TDP_ACC_* */
	unsigned int insn_len; /* bytes to skip when the core emulates the instruction */
	bool misconfig;        /* EXIT_TDP_FAULT: the entry itself is malformed */
	uint64_t gva;          /* EXIT_GUEST_PF, EXIT_INVLPG */
	uint32_t error;        /* EXIT_GUEST_PF: the #PF error code */
	/*
	 * EXIT_GUEST_PF: the event the CPU was delivering when the #PF came
	 * (VMX IDT-vectoring information, SVM EXITINTINFO; the two agree on
	 * these bits): VECTORING_VALID, the type in 10:8 (3: an exception),
	 * the vector in 7:0.
	 */
	uint32_t vectoring;
	bool gva_known;        /* EXIT_INVLPG: false without decode assists */
	unsigned int cr;       /* EXIT_CR_ACCESS: 0, 3 or 4 */
	bool cr_write;         /* EXIT_CR_ACCESS: MOV to CR */
	int gpr;               /* EXIT_CR_ACCESS, EXIT_DR_ACCESS: the register (0 rax .. 15 r15), -1 unknown */
	unsigned int dr;       /* EXIT_DR_ACCESS: 0..7 */
	bool msr_write;        /* EXIT_MSR: WRMSR */
	/* EXIT_IO: */
	uint16_t io_port;
	unsigned int io_size;  /* 1, 2 or 4 */
	bool io_in, io_string, io_rep;
};

/* How a vCPU starts (virt/ picks; the backend builds the state). */
enum vcpu_start {
	/* 64-bit mode, paging on with boot_cr3, the GDT at boot_gdt_base (virt/guest_abi.h) */
	VCPU_START_LONG,
	/*
	 * 32-bit protected mode with paging off, as the multiboot specs hand
	 * over: flat 4 GiB CS (0x08) and data (0x10) segments, CR0 = PE|ET,
	 * CR4 = 0, EFER = 0, EFLAGS = 2 (interrupts off), no GDT or IDT the
	 * guest could rely on. The guest owns its IDT and every exception.
	 */
	VCPU_START_PROTECTED,
};

/*
 * make BREAKDOWN=1 builds a kernel that stamps the TSC at each phase of an
 * exit (virt/breakdown.h); without it these stamps are not compiled at all.
 */
#ifdef EXIT_BREAKDOWN
#define BREAKDOWN_STAMP(var) ((var) = rdtsc())
#else
#define BREAKDOWN_STAMP(var) ((void)0)
#endif

/* The guest's own view of its mode, as of its last exit (vcpu_get_state). */
struct vcpu_state {
	uint64_t cr0, cr3, cr4, efer;
	unsigned int cpl;
	unsigned int code_bits;  /* 16, 32 or 64: CS.L in long mode, else CS.D */
	uint64_t seg_base[6];    /* ES CS SS DS FS GS */
	uint64_t idt_base;
	uint32_t idt_limit;
};

/*
 * A segment register's hidden part, VMX-style access rights: bits 7:0 the
 * descriptor's type, S, DPL and P (bits 40-47), bits 15:12 its AVL, L, D/B
 * and G (bits 52-55); bit 16 unusable. SVM's attrib is bits 7:0 and 15:12
 * packed into 12 bits.
 */
struct vcpu_seg {
	uint16_t sel;
	uint64_t base;
	uint32_t limit; /* in bytes (G already applied) */
	uint32_t ar;
};

struct vcpu_dtr {
	uint64_t base;
	uint16_t limit;
};

/*
 * A protected-mode state to hand a vCPU (vcpu_load_pm_state): what the
 * core's real-mode emulation (virt/realmode.c) ends with, at the far jump
 * that loads a protected-mode CS.
 */
struct vcpu_pm_state {
	uint64_t cr0, cr3, cr4, efer;
	struct vcpu_seg seg[6]; /* ES CS SS DS FS GS */
	struct vcpu_dtr gdtr, idtr;
};

/* Guest general registers; the backend moves RAX/RSP/RIP/RFLAGS to and from its state area. */
struct guest_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rsp, rip, rflags;
};

/*
 * General register n in the encoding's order (0 rax, 1 rcx, 2 rdx, 3 rbx,
 * 4 rsp, ... 15 r15): one load of a constant offset (the emulator copies
 * all 16 in and out per instruction; a table of pointers built per call
 * cost 20 instructions a register).
 */
static inline uint64_t *guest_reg(struct guest_regs *r, int n)
{
	static const uint8_t offset[16] = {
		offsetof(struct guest_regs, rax), offsetof(struct guest_regs, rcx),
		offsetof(struct guest_regs, rdx), offsetof(struct guest_regs, rbx),
		offsetof(struct guest_regs, rsp), offsetof(struct guest_regs, rbp),
		offsetof(struct guest_regs, rsi), offsetof(struct guest_regs, rdi),
		offsetof(struct guest_regs, r8),  offsetof(struct guest_regs, r9),
		offsetof(struct guest_regs, r10), offsetof(struct guest_regs, r11),
		offsetof(struct guest_regs, r12), offsetof(struct guest_regs, r13),
		offsetof(struct guest_regs, r14), offsetof(struct guest_regs, r15),
	};

	return (uint64_t *)((char *)r + offset[n & 15]);
}

/*
 * The two stores of an exit's acknowledgement, in this order: *seq =
 * VCPU_LEFT_SEQ with a full barrier (XCHG), then *mode = VCPU_LEFT_MODE
 * (a plain store: release). Their meaning is the core's (virt/vm.h: the
 * vCPU's in_guest_seq and mode); the layout is fixed by both entry.S.
 */
struct vcpu_left {
	atomic_ulong *seq;
	_Atomic int *mode;
};

_Static_assert(offsetof(struct vcpu_left, seq) == 0 && offsetof(struct vcpu_left, mode) == 8,
	       "entry.S reads struct vcpu_left at these offsets");

#define VCPU_LEFT_SEQ UINT64_MAX
#define VCPU_LEFT_MODE 0

/*
 * The part of a vCPU a backend sees. virt/ embeds it in its struct vcpu (as
 * v->arch) and hands the backend nothing else: a backend knows no VM.
 */
struct vcpu_arch {
	/* Immutable after vcpu_init (virt/ sets them before it): */
	unsigned int vm_id, vcpu_id; /* for messages */
	bool shadow;                 /* mmu=shadow: #PF, CR and INVLPG are ours; no NPT/EPT */
	enum vcpu_start start;
	uint64_t boot_cr3;           /* the guest's CR3 at its first entry (64-bit mode) */
	uint64_t boot_gdt_base;      /* its GDT: null, 0x08 64-bit code, 0x10 data */
	/*
	 * VCPU_START_PROTECTED: the selectors of the flat code (CS) and data
	 * (DS ES SS FS GS) segments and the GDTR to start with, for a boot
	 * protocol that names them (Linux: 0x10, 0x18, its loader's GDT).
	 * 0: the multiboot state, CS 0x08, data 0x10, an empty GDTR.
	 */
	uint16_t start_cs, start_ds;
	uint64_t start_gdt_base;
	uint16_t start_gdt_limit;

	/* Owned by the vCPU's pCPU: */
	struct guest_regs regs;
	struct vcpu_exit exit;
	uint64_t hw_cr3;             /* mmu=shadow: the shadow root to enter with */
	/*
	 * A PC guest's TSC is the host's plus tsc_offset (vcpu_set_tsc_offset
	 * puts it in the VMCS or VMCB); tsc_adjust is its IA32_TSC_ADJUST,
	 * which moves with every change of the offset (virt/msr.c).
	 */
	int64_t tsc_offset;
	uint64_t tsc_adjust;
	/*
	 * Flushes of the vCPU's whole tag the backend did on its own, not
	 * asked by the core: VMX its VPID and EPTP before the first entry
	 * (a VPID or EPT root can come back from a destroyed VM); SVM every
	 * ASID of the pCPU when its generation rolls over.
	 */
	uint64_t context_flushes;
	/*
	 * Set by the core before the first entry: exit when the guest spins
	 * in a PAUSE loop (VMX PAUSE-loop exiting, SVM's pause filter), where
	 * the CPU offers it; its pCPU has other vCPUs to run meanwhile.
	 */
	bool pause_exits;
	/*
	 * Set by the core before the first entry: where the vCPU says it is
	 * out of guest mode (the acknowledgement a remote flush waits for,
	 * virt/shootdown.c). The world switch itself (entry.S) stores it, as
	 * the first thing after the exit but for saving the registers it
	 * needs, and vcpu_run (vcpu_arch_left) on a path that did not enter:
	 * an exit's decoding is not the flusher's business.
	 */
	struct vcpu_left left;
#ifdef EXIT_BREAKDOWN
	/* make BREAKDOWN=1 (virt/breakdown.h): the TSC right before VMRUN or VMRESUME, and right after. */
	uint64_t bd_run_start, bd_run_end;
#endif
	void *backend;               /* the VMCB or VMCS and friends */
};

/* The acknowledgement from C, on a path where the world switch did not run. */
static inline void vcpu_arch_left(struct vcpu_arch *v)
{
	atomic_store(v->left.seq, VCPU_LEFT_SEQ);
	atomic_store_explicit(v->left.mode, VCPU_LEFT_MODE, memory_order_release);
}

struct virt_caps {
	bool tdp;            /* NPT / EPT */
	unsigned int tdp_format; /* enum tdp_format of mm/ept/tdp_mmu.h */
	bool tdp_1g;         /* 1 GiB TDP pages */
	bool tdp_ad;         /* EPT A/D bits (NPT always has them) */
	bool nrip_save;      /* SVM: next RIP on exits */
	bool flush_by_asid;  /* SVM: TLB_CONTROL 3; VMX: INVEPT single-context */
	bool vpid;           /* VMX */
	bool decode_assists; /* SVM: the exits say which register or address */
	bool shadow_real_mode; /* SVM: paged real mode runs a shadowed guest's real mode */
	unsigned int asids;  /* SVM ASIDs or VMX VPIDs */
	bool pause_exiting;  /* VMX PAUSE-loop exiting; SVM pause filter (vcpu_arch.pause_exits) */
	/* Reported at boot (virt_report), not used yet: */
	bool unrestricted;   /* VMX unrestricted guest */
	bool vmcb_clean;     /* SVM VMCB clean bits */
};

struct virt_ops {
	const char *name; /* "svm" or "vmx" */

	/* Mandatory. */
	bool (*probe)(bool need_tdp, char *err, size_t err_len); /* BSP: can we run? */
	bool (*cpu_enable)(char *err, size_t err_len); /* every pCPU: SVME/VMXON */
	bool (*vcpu_init)(struct vcpu_arch *v, uint64_t tdp_root_pa, char *err, size_t err_len);
	void (*vcpu_free)(struct vcpu_arch *v);
	/* Enter the guest once; fill v->exit; acknowledge the exit (v->left). Called with interrupts off. */
	void (*vcpu_run)(struct vcpu_arch *v);
	/* Flush this vCPU's TLB entries before its next entry (called on its own pCPU). */
	void (*vcpu_flush_tlb)(struct vcpu_arch *v);
	/* Inject #UD (after EXIT_ILLEGAL) or #GP (refused MSR) at the next entry. */
	void (*vcpu_inject_exception)(struct vcpu_arch *v, unsigned int vector, bool has_error,
				      uint32_t error);
	/* Inject #PF with CR2 = gva (mmu=shadow). */
	void (*vcpu_inject_page_fault)(struct vcpu_arch *v, uint64_t gva, uint32_t error);
	/*
	 * mmu=shadow: the guest's CR0 or CR4 is now val, as it will read it
	 * back; load the hardware value shadow paging needs beside it (CR0.WP
	 * stays set, CR4.PAE too). Called on the vCPU's pCPU after an exit.
	 */
	void (*vcpu_set_cr)(struct vcpu_arch *v, unsigned int cr, uint64_t val);
	/*
	 * The guest's FS (seg 4) or GS (seg 5) base as of its last exit, for
	 * an emulated instruction's operand (the other segments' bases are 0
	 * in 64-bit mode). On the vCPU's pCPU.
	 */
	uint64_t (*vcpu_seg_base)(struct vcpu_arch *v, unsigned int seg);

	/* The guest's control registers, EFER, CPL and segment bases as the guest sees them. */
	void (*vcpu_get_state)(struct vcpu_arch *v, struct vcpu_state *s);
	/*
	 * The MSRs the backend keeps in its state area (EFER, PAT, FS/GS/
	 * KernelGS base, STAR, LSTAR, CSTAR, SFMASK, SYSENTER_*, TSC_AUX):
	 * false for any other. virt/msr.c checks a value before it sets it;
	 * for EFER the backend keeps LMA (and SVM its own SVME) itself.
	 */
	bool (*vcpu_get_msr)(struct vcpu_arch *v, uint32_t msr, uint64_t *val);
	bool (*vcpu_set_msr)(struct vcpu_arch *v, uint32_t msr, uint64_t val);
	/* A PC guest: what RDTSC adds to the host's TSC from the next entry (v->tsc_offset). */
	void (*vcpu_set_tsc_offset)(struct vcpu_arch *v);

	/*
	 * Interrupts for a PC guest (virt/pc_irq.c), all on the vCPU's pCPU
	 * between exits. can_inject: may an external interrupt (nmi false) or
	 * an NMI go in at the next entry? False while an event is queued for
	 * that entry (an exception, or an event whose delivery an exit cut
	 * short, which the backend re-injects itself); for an interrupt while
	 * RFLAGS.IF is clear or an STI or MOV SS shadow blocks; for an NMI
	 * while NMIs are blocked (from an NMI's delivery to the guest's IRET)
	 * or a MOV SS shadow blocks.
	 */
	bool (*vcpu_can_inject)(struct vcpu_arch *v, bool nmi);
	/* Queue external interrupt vector (32-255) or an NMI; only after can_inject said yes. */
	void (*vcpu_inject_irq)(struct vcpu_arch *v, unsigned int vector);
	void (*vcpu_inject_nmi)(struct vcpu_arch *v);
	/*
	 * Exit with EXIT_IRQ_WINDOW as soon as the guest could take an
	 * interrupt (irq) or an NMI (nmi), before it runs anything else
	 * once it can; both false: stop asking. A request lasts until changed.
	 */
	void (*vcpu_request_window)(struct vcpu_arch *v, bool irq, bool nmi);
	/*
	 * INIT, then a start-up IPI with vector: the state INIT leaves (SDM
	 * vol. 3 table 10-1: real mode, CR0 = ET|CD|NW, EFER 0, no pending
	 * event, NMIs unblocked) with CS = vector << 8 (base vector << 12)
	 * and IP 0. The core resets the general registers. Where the backend
	 * cannot run real mode (v->shadow && !virt_caps.shadow_real_mode: VMX
	 * without unrestricted guest) it resets the rest (events, EFER, CR0
	 * and CR4 as INIT leaves them) but not the mode: the core emulates the
	 * real-mode start (virt/realmode.c) and then calls vcpu_load_pm_state.
	 * False with one line in err.
	 */
	bool (*vcpu_reset_sipi)(struct vcpu_arch *v, unsigned int vector, char *err, size_t len);
	/*
	 * The guest is now in the protected-mode state s (CS just loaded by a
	 * far jump; LDTR and TR as INIT left them): the segments, GDTR and
	 * IDTR, and CR0, CR4 and EFER as the guest reads them, the hardware
	 * keeping the bits it needs beside them (mmu=shadow: paging, WP, PAE;
	 * CR3 is then the shadow root, not s->cr3). RIP, RSP and RFLAGS are
	 * the core's (v->regs). On the vCPU's pCPU, after vcpu_reset_sipi.
	 * False with one line in err.
	 */
	bool (*vcpu_load_pm_state)(struct vcpu_arch *v, const struct vcpu_pm_state *s, char *err,
				   size_t len);

	/* Optional. */
	/* On the vCPU's pCPU, after its last run (VMX: VMCLEAR before the VMCS is freed). */
	void (*vcpu_unload)(struct vcpu_arch *v);
	/*
	 * On the vCPU's pCPU, between two of its runs: another vCPU ran here
	 * since its last, so make its state current again (VMX: VMPTRLD). A
	 * vCPU never changes pCPU (virt/sched.c).
	 */
	void (*vcpu_switch)(struct vcpu_arch *v);
	/*
	 * On the control CPU, before the vCPU's first entry: v->pause_exits
	 * is set; exit on PAUSE loops from then on (VMX needs no call: its
	 * controls are written at the first entry).
	 */
	void (*vcpu_set_pause_exits)(struct vcpu_arch *v);
};

extern const struct virt_ops *virt; /* chosen once by virt_select(); read-only after */
extern struct virt_caps virt_caps;

/*
 * After a VM's last run on this pCPU: compare what a guest could leave
 * behind in the pCPU (CR0, CR4, CR8, EFER, PAT, DR7) with what it was when
 * the backend was enabled here, put back what differs, and return how
 * many differed (each is named on the console).
 */
unsigned int virt_restore_host_state(void);

/* virt=: which backend the boot option asks for. */
enum virt_choice { VIRT_AUTO, VIRT_SVM, VIRT_VMX };

/* BSP: pick a backend for virt=auto|svm|vmx; false with one line in err. */
bool virt_select(unsigned int requested, bool need_tdp, char *err, size_t err_len);
