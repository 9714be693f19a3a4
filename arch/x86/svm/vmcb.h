// SPDX-License-Identifier: MIT
/*
 * The VMCB (AMD APM vol. 2, appendix B): a 4 KiB page, the control area at
 * 0x000 and the guest state save area at 0x400. Only the fields we use are
 * named; every offset is checked below.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct vmcb_seg {
	uint16_t selector;
	uint16_t attrib; /* descriptor bits 47:40 in 7:0, bits 55:52 in 11:8 */
	uint32_t limit;
	uint64_t base;
} __attribute__((packed));

struct vmcb_control {
	uint32_t intercept_cr;        /* 0x000: reads 15:0, writes 31:16 */
	uint32_t intercept_dr;        /* 0x004 */
	uint32_t intercept_exceptions;/* 0x008 */
	uint32_t intercept_misc1;     /* 0x00c: INTR ... SHUTDOWN */
	uint32_t intercept_misc2;     /* 0x010: VMRUN ... */
	uint8_t reserved1[0x3c - 0x14];
	uint16_t pause_filter_thresh; /* 0x03c */
	uint16_t pause_filter_count;  /* 0x03e */
	uint64_t iopm_base_pa;        /* 0x040 */
	uint64_t msrpm_base_pa;       /* 0x048 */
	uint64_t tsc_offset;          /* 0x050 */
	uint32_t asid;                /* 0x058 */
	uint8_t tlb_control;          /* 0x05c */
	uint8_t reserved2[3];
	uint64_t int_ctl;             /* 0x060: V_INTR_MASKING is bit 24 */
	uint64_t int_state;           /* 0x068: interrupt shadow */
	uint64_t exit_code;           /* 0x070 */
	uint64_t exit_info1;          /* 0x078 */
	uint64_t exit_info2;          /* 0x080 */
	uint64_t exit_int_info;       /* 0x088 */
	uint64_t nested_ctl;          /* 0x090: bit 0 NP_ENABLE */
	uint64_t avic_vapic_bar;      /* 0x098 */
	uint64_t ghcb_pa;             /* 0x0a0 */
	uint64_t event_inj;           /* 0x0a8 */
	uint64_t nested_cr3;          /* 0x0b0 */
	uint64_t virt_ext;            /* 0x0b8 */
	uint32_t clean;               /* 0x0c0 */
	uint32_t reserved3;
	uint64_t next_rip;            /* 0x0c8 */
	uint8_t insn_len;             /* 0x0d0 */
	uint8_t insn_bytes[15];
	uint8_t reserved4[0x400 - 0x0e0];
} __attribute__((packed));

struct vmcb_save {
	struct vmcb_seg es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr; /* 0x400 */
	uint8_t reserved1[0x4cb - 0x4a0];
	uint8_t cpl;                  /* 0x4cb */
	uint32_t reserved2;
	uint64_t efer;                /* 0x4d0 */
	uint8_t reserved3[0x548 - 0x4d8];
	uint64_t cr4;                 /* 0x548 */
	uint64_t cr3;                 /* 0x550 */
	uint64_t cr0;                 /* 0x558 */
	uint64_t dr7;                 /* 0x560 */
	uint64_t dr6;                 /* 0x568 */
	uint64_t rflags;              /* 0x570 */
	uint64_t rip;                 /* 0x578 */
	uint8_t reserved4[0x5d8 - 0x580];
	uint64_t rsp;                 /* 0x5d8 */
	uint8_t reserved5[0x5f8 - 0x5e0];
	uint64_t rax;                 /* 0x5f8 */
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base; /* 0x600 */
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;    /* 0x628 */
	uint64_t cr2;                 /* 0x640 */
	uint8_t reserved6[0x668 - 0x648];
	uint64_t g_pat;               /* 0x668 */
} __attribute__((packed));

struct vmcb {
	struct vmcb_control control;
	struct vmcb_save save;
	uint8_t reserved[4096 - 0x400 - sizeof(struct vmcb_save)];
} __attribute__((packed));

#define VMCB_OFFSET(f, off) _Static_assert(offsetof(struct vmcb, f) == (off), #f " at " #off)
VMCB_OFFSET(control.intercept_misc1, 0x00c);
VMCB_OFFSET(control.iopm_base_pa, 0x040);
VMCB_OFFSET(control.asid, 0x058);
VMCB_OFFSET(control.tlb_control, 0x05c);
VMCB_OFFSET(control.int_ctl, 0x060);
VMCB_OFFSET(control.exit_code, 0x070);
VMCB_OFFSET(control.exit_int_info, 0x088);
VMCB_OFFSET(control.nested_ctl, 0x090);
VMCB_OFFSET(control.event_inj, 0x0a8);
VMCB_OFFSET(control.nested_cr3, 0x0b0);
VMCB_OFFSET(control.clean, 0x0c0);
VMCB_OFFSET(control.next_rip, 0x0c8);
VMCB_OFFSET(save.es, 0x400);
VMCB_OFFSET(save.cs, 0x410);
VMCB_OFFSET(save.gdtr, 0x460);
VMCB_OFFSET(save.tr, 0x490);
VMCB_OFFSET(save.cpl, 0x4cb);
VMCB_OFFSET(save.efer, 0x4d0);
VMCB_OFFSET(save.cr4, 0x548);
VMCB_OFFSET(save.cr0, 0x558);
VMCB_OFFSET(save.rflags, 0x570);
VMCB_OFFSET(save.rip, 0x578);
VMCB_OFFSET(save.rsp, 0x5d8);
VMCB_OFFSET(save.rax, 0x5f8);
VMCB_OFFSET(save.cr2, 0x640);
VMCB_OFFSET(save.g_pat, 0x668);
_Static_assert(sizeof(struct vmcb) == 4096, "a VMCB is one page");

/* intercept_misc1 (vector 3) */
#define INTERCEPT_INTR (1u << 0)
#define INTERCEPT_NMI (1u << 1)
#define INTERCEPT_SMI (1u << 2)
#define INTERCEPT_INIT (1u << 3)
#define INTERCEPT_VINTR (1u << 4)
#define INTERCEPT_IRET (1u << 20)
#define INTERCEPT_CPUID (1u << 18)
#define INTERCEPT_HLT (1u << 24)
#define INTERCEPT_INVLPG (1u << 25)
#define INTERCEPT_INVLPGA (1u << 26)
#define INTERCEPT_IOIO (1u << 27)
#define INTERCEPT_MSR (1u << 28)
#define INTERCEPT_RDPMC (1u << 15)
#define INTERCEPT_INVD (1u << 22)
#define INTERCEPT_PAUSE (1u << 23)
#define INTERCEPT_SHUTDOWN (1u << 31)
/* intercept_misc2 (vector 4) */
#define INTERCEPT_VMRUN (1u << 0)
#define INTERCEPT_VMMCALL (1u << 1)
#define INTERCEPT_VMLOAD (1u << 2)
#define INTERCEPT_VMSAVE (1u << 3)
#define INTERCEPT_STGI (1u << 4)
#define INTERCEPT_CLGI (1u << 5)
#define INTERCEPT_SKINIT (1u << 6)
#define INTERCEPT_WBINVD (1u << 9)
#define INTERCEPT_MONITOR (1u << 10)
#define INTERCEPT_MWAIT (1u << 11)
#define INTERCEPT_XSETBV (1u << 13)

#define V_IRQ (1ull << 8)
#define V_INTR_PRIO_SHIFT 16
#define V_IGN_TPR (1ull << 20)
#define V_INTR_MASKING (1ull << 24)
#define INT_STATE_SHADOW (1ull << 0) /* int_state: an STI or MOV SS shadow */
#define NESTED_CTL_NP_ENABLE (1ull << 0)
#define INTERCEPT_CR_READ(n) (1u << (n))
#define INTERCEPT_CR_WRITE(n) (1u << (16 + (n)))
#define EXITINFO1_CR_VALID (1ull << 63) /* decode assists: bits 3:0 name the register */

#define TLB_CONTROL_NOTHING 0
#define TLB_CONTROL_FLUSH_ALL 1
#define TLB_CONTROL_FLUSH_ASID 3

#define EVENTINJ_VALID (1ull << 31)
#define EVENTINJ_TYPE_INTR (0ull << 8)
#define EVENTINJ_TYPE_NMI (2ull << 8)
#define EVENTINJ_TYPE_EXCEPTION (3ull << 8)
#define EVENTINJ_ERROR_VALID (1ull << 11)

/* Exit codes (APM vol. 2, appendix C) */
#define SVM_EXIT_CR0_READ 0x000
#define SVM_EXIT_CR3_READ 0x003
#define SVM_EXIT_CR4_READ 0x004
#define SVM_EXIT_CR8_READ 0x008
#define SVM_EXIT_CR0_WRITE 0x010
#define SVM_EXIT_CR3_WRITE 0x013
#define SVM_EXIT_CR4_WRITE 0x014
#define SVM_EXIT_CR8_WRITE 0x018
#define SVM_EXIT_DR0_READ 0x020 /* 0x20 + n: MOV from DRn; 0x30 + n: MOV to DRn */
#define SVM_EXIT_DR0_WRITE 0x030
#define SVM_EXIT_EXCP_BASE 0x040
#define SVM_EXIT_RDPMC 0x06f
#define SVM_EXIT_INVD 0x076
#define SVM_EXIT_PAUSE 0x077
#define SVM_EXIT_WBINVD 0x089
#define SVM_EXIT_MONITOR 0x08a
#define SVM_EXIT_MWAIT 0x08b
#define SVM_EXIT_XSETBV 0x08d
#define SVM_EXIT_INVLPG 0x079
#define SVM_EXIT_INTR 0x060
#define SVM_EXIT_NMI 0x061
#define SVM_EXIT_SMI 0x062
#define SVM_EXIT_INIT 0x063
#define SVM_EXIT_VINTR 0x064
#define SVM_EXIT_IRET 0x074
#define SVM_EXIT_CPUID 0x072
#define SVM_EXIT_HLT 0x078
#define SVM_EXIT_INVLPGA 0x07a
#define SVM_EXIT_IOIO 0x07b
#define SVM_EXIT_MSR 0x07c
#define SVM_EXIT_SHUTDOWN 0x07f
#define SVM_EXIT_VMRUN 0x080
#define SVM_EXIT_VMMCALL 0x081
#define SVM_EXIT_VMLOAD 0x082
#define SVM_EXIT_VMSAVE 0x083
#define SVM_EXIT_STGI 0x084
#define SVM_EXIT_CLGI 0x085
#define SVM_EXIT_SKINIT 0x086
#define SVM_EXIT_NPF 0x400
#define SVM_EXIT_INVALID 0xffffffffu /* compare the low 32 bits only (QEMU) */

/* NPF exit_info1 bits (a #PF error code, plus bits 32/33) */
#define NPF_PRESENT (1ull << 0)
#define NPF_WRITE (1ull << 1)
#define NPF_FETCH (1ull << 4)
#define NPF_RSVD (1ull << 3)

/* IOIO EXITINFO1 */
#define IOIO_IN (1u << 0)
#define IOIO_STRING (1u << 2)
#define IOIO_REP (1u << 3)
#define IOIO_SIZE_SHIFT 4 /* bits 6:4: 8, 16, 32 bits */
