// SPDX-License-Identifier: MIT
/*
 * A small 16-bit real-mode interpreter (virt/realmode.c), for a backend
 * that cannot run real mode (VMX without unrestricted guest, i.e.
 * mmu=shadow): an AP's SIPI trampoline runs here, instruction by
 * instruction, until its far jump loads a protected-mode CS; the vCPU then
 * goes to the hardware in that state (docs/REAL_MODE.md). Vendor-neutral:
 * memory, ports, CPUID and MSRs are the caller's callbacks.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/virt.h"

/* The segment registers' order in rm_state.sys.seg (the encoding's sreg order). */
enum rm_sreg { RM_ES, RM_CS, RM_SS, RM_DS, RM_FS, RM_GS };

struct rm_state {
	uint32_t gpr[8]; /* EAX ECX EDX EBX ESP EBP ESI EDI (R8-R15 are 64-bit mode's only) */
	uint32_t eip, eflags;
	/*
	 * Segments, GDTR/IDTR, CR0/3/4, EFER. In real mode a segment's base is
	 * sel << 4; after the MOV to CR0 that sets PE, CS keeps its real-mode
	 * base until the far jump, as on the CPU.
	 */
	struct vcpu_pm_state sys;
};

/*
 * The caller's side. Memory is by linear address, which in real mode (no
 * paging) is the guest-physical one. Each returns false to stop the run:
 * read and write where nothing backs la, io where the VM must stop (the
 * callback has said why), rdmsr/wrmsr where the CPU would raise #GP.
 */
struct rm_ops {
	bool (*read)(void *ctx, uint64_t la, void *buf, unsigned int len);
	bool (*write)(void *ctx, uint64_t la, const void *buf, unsigned int len);
	bool (*io)(void *ctx, uint16_t port, unsigned int size, bool in, uint32_t *val);
	void (*cpuid)(void *ctx, uint32_t leaf, uint32_t sub, uint32_t out[4]);
	bool (*rdmsr)(void *ctx, uint32_t msr, uint64_t *val);
	bool (*wrmsr)(void *ctx, uint32_t msr, uint64_t val);
};

enum rm_result {
	RM_PROTECTED,   /* a far jump loaded a protected-mode CS: state holds it, EIP its target */
	RM_UNSUPPORTED, /* an instruction the interpreter does not know: stop.bytes */
	RM_NO_MEMORY,   /* read or write refused stop.addr */
	RM_IO_STOP,     /* the io callback stopped the VM */
	RM_FAULT,       /* the CPU would raise an exception here: stop.why */
	RM_HLT,         /* HLT before protected mode */
	RM_LIMIT,       /* max_insns ran out */
};

/* Where and why a run ended (for everything but RM_PROTECTED, at the instruction's start). */
struct rm_stop {
	uint16_t cs;
	uint32_t ip;
	uint8_t bytes[16]; /* the instruction as far as it was fetched */
	unsigned int nbytes;
	uint64_t addr;     /* RM_NO_MEMORY */
	const char *why;   /* RM_FAULT, RM_UNSUPPORTED: a short phrase */
	unsigned long insns; /* instructions completed */
};

/* The state INIT, then a SIPI with vector, leaves (SDM vol. 3 table 10-1). */
void rm_init_sipi(struct rm_state *s, unsigned int vector);

/* Run s until protected mode or a stop, at most max_insns instructions. */
enum rm_result rm_run(struct rm_state *s, const struct rm_ops *ops, void *ctx,
		      unsigned long max_insns, struct rm_stop *stop);
