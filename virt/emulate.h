// SPDX-License-Identifier: MIT
/*
 * A small x86 instruction emulator for the accesses a hypervisor cannot let
 * through: a guest's store to a page table on the written address's own
 * path (SHADOW_EMULATE), and a load or store to a device page with no RAM
 * behind it (MMIO, such as the local APIC at 0xfee00000). It decodes 16-,
 * 32- and 64-bit code and knows the instructions kernels use on such
 * memory: MOV (to and from memory, immediates, moffs), MOVZX, MOVSX,
 * MOVSXD, the eight ALU operations in both directions and with immediates,
 * TEST, XCHG, CMPXCHG, BTS/BTR with an immediate bit, and MOVS/STOS with
 * or without REP, at 8, 16, 32 or 64 bits. Anything else is refused with a
 * reason that names its bytes; the caller stops the guest. Apart from
 * these, emu_decode_sys() decodes (and leaves to its caller to run) the
 * instructions of a CR or INVLPG exit: MOV to and from CRn, CLTS, LMSW and
 * INVLPG.
 *
 * Pure C on a copy of the registers. The caller finds the operand
 * (emu_effective_address() plus the base of in->mem.seg), reads it when
 * in->reads_mem, runs emu_execute(), and writes the value it returns when
 * it says so; a read-modify-write to RAM commits with a cmpxchg before the
 * registers are copied back, so that a concurrent writer (another vCPU)
 * makes it run again rather than be lost. The fault's address (CR2) is
 * only the first byte that faulted, which for an access that straddles two
 * pages may be the start of the second: the operand is decoded in full.
 *
 * MOVS and STOS (the caller's loop, one element at a time):
 *
 *	for (n = emu_string_count(&in, &r); n; n--) {
 *		dst = seg_base(in.mem.seg) + emu_effective_address(&in, &r, rip);
 *		if (in.reads_mem)	// MOVS: the source element
 *			v = read(seg_base(in.src.seg) + emu_mem_address(&in.src, &r, 0), in.width);
 *		v = emu_execute(&in, v, &r, &store);	// steps rSI, rDI (by DF) and rCX
 *		write(dst, v, in.width);
 *	}
 *	rip += in.len;
 *
 * The caller may stop after any element without advancing rip (to bound
 * its time, or at a fault): the registers already say what is left, and
 * the guest runs the instruction again, as a CPU does at an interrupt.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define EMU_MAX_INSN 15 /* the architectural limit */

/* The first eight are the ALU operations in the encoding's order (00-3F, and 80-83 /n). */
enum emu_op {
	EMU_ADD,
	EMU_OR,
	EMU_ADC,
	EMU_SBB,
	EMU_AND,
	EMU_SUB,
	EMU_XOR,
	EMU_CMP,   /* flags only */
	EMU_TEST,  /* flags only */
	EMU_MOV,
	EMU_MOVZX, /* a load zero-extended from width to reg_width */
	EMU_MOVSX, /* a load sign-extended from width to reg_width (MOVSXD too) */
	EMU_XCHG,
	EMU_CMPXCHG,
	EMU_BTS,
	EMU_BTR,
	EMU_MOVS,  /* [ES:rDI] <- [seg:rSI], one element per emu_execute() */
	EMU_STOS,  /* [ES:rDI] <- AL/AX/EAX/RAX, one element per emu_execute() */
};

#define EMU_NO_REG (-1)
#define EMU_RIP (-2) /* base of a RIP-relative operand */

/* Segment registers in the encoding's order (the Sreg field; struct vcpu_state's seg_base). */
#define EMU_SEG_NONE (-1)
#define EMU_SEG_ES 0
#define EMU_SEG_CS 1
#define EMU_SEG_SS 2
#define EMU_SEG_DS 3
#define EMU_SEG_FS 4
#define EMU_SEG_GS 5

/*
 * A memory operand: [seg:] base + index * scale + disp, modulo the address
 * size (SDM Vol. 2, 2.1.5 and 2.2.1.6). 16-bit forms use base BX or BP and
 * index SI or DI, scale 1.
 */
struct emu_mem {
	int base;               /* 0-15, EMU_NO_REG, or EMU_RIP */
	int index;              /* 0-15 or EMU_NO_REG */
	unsigned int scale;     /* 1, 2, 4 or 8 */
	int64_t disp;           /* sign-extended */
	unsigned int addr_size; /* 2, 4 or 8 bytes: the code's default, 0x67 toggles */
	/*
	 * The segment whose base the caller adds, or EMU_SEG_NONE. In 64-bit
	 * mode only FS and GS have one (an FS or GS prefix; the others are
	 * ignored there). In 16- and 32-bit code always a segment: the
	 * prefix's, else SS for a BP- or SP-based operand, else DS.
	 */
	int seg;
};

struct emu_insn {
	enum emu_op op;
	unsigned int len;       /* bytes, prefixes included */
	unsigned int code_bits; /* 16, 32 or 64: what it was decoded as */
	unsigned int width;     /* the memory operand's bytes (a string element's): 1, 2, 4 or 8 */
	/*
	 * The register operand's bytes: width, but for MOVZX and MOVSX(D).
	 * A register written at 4 bytes is zero-extended to 64 bits; at 1 or
	 * 2 bytes the rest of it is kept (SDM Vol. 1, 3.4.1.1).
	 */
	unsigned int reg_width;
	int reg;                /* the register operand (0-15; 0-7 outside 64-bit mode), or -1: an immediate */
	bool high_byte;         /* reg names AH, CH, DH or BH (8-bit, no REX) */
	bool to_reg;            /* "op r, m": the register is the destination (CMP: the first operand) */
	bool reads_mem;         /* the caller reads in->mem (MOVS: in->src) before emu_execute() */
	bool writes_mem;        /* emu_execute() may return a value to store to in->mem */
	bool lock;
	bool rep;               /* MOVS, STOS: F3 or F2; emu_string_count() says how many */
	uint64_t imm;           /* sign-extended to 64 bits */
	struct emu_mem mem;     /* the memory operand; MOVS and STOS: the destination, ES:rDI */
	struct emu_mem src;     /* MOVS: the source, seg:rSI (DS unless a prefix says otherwise) */
};

/* The registers an emulated instruction may read or change. */
struct emu_regs {
	uint64_t gpr[16]; /* rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8-r15 */
	uint64_t rflags;
};

/*
 * Decode the instruction in b[0..n) as code_bits (16, 32 or 64) code.
 * Returns NULL on success, or a short reason ("not an instruction this
 * emulator knows: opcode 0x0f 0x05") that names what was refused; in that
 * case *out is not meaningful. Never reads past b[n - 1].
 */
const char *emu_decode(const uint8_t *b, unsigned int n, unsigned int code_bits,
		       struct emu_insn *out, char *why, unsigned int why_len);

/*
 * Run in on mem, the memory operand's value when in->reads_mem (in->width
 * bytes, zero-extended; ignored otherwise). Updates r: a destination
 * register, the arithmetic flags, XCHG's and CMPXCHG's registers, and a
 * string op's rSI, rDI and rCX. Sets *store and, when it is true, returns
 * the value to store to in->mem (a failed CMPXCHG stores the old value
 * back, as the CPU does); CMP, TEST and loads never store.
 */
uint64_t emu_execute(const struct emu_insn *in, uint64_t mem, struct emu_regs *r, bool *store);

/*
 * The address of in's memory operand, less its segment base (add the base
 * of in->mem.seg unless it is EMU_SEG_NONE). rip is the instruction's own
 * address.
 */
uint64_t emu_effective_address(const struct emu_insn *in, const struct emu_regs *r,
			       uint64_t rip);
/* The same for any operand (MOVS's in->src); next_rip matters only to RIP-relative ones. */
uint64_t emu_mem_address(const struct emu_mem *m, const struct emu_regs *r, uint64_t next_rip);

/* MOVS or STOS: the caller loops (above). */
static inline bool emu_is_string(const struct emu_insn *in)
{
	return in->op == EMU_MOVS || in->op == EMU_STOS;
}
/* The elements a string op has left: rCX at the address size with REP (0: none), else 1. */
uint64_t emu_string_count(const struct emu_insn *in, const struct emu_regs *r);

/*
 * The system instructions a control-register or INVLPG exit may leave to
 * the hypervisor to decode (SVM without decode assists names neither the
 * register nor the address, and without NRIP save not the length).
 */
enum emu_sys_op {
	EMU_SYS_MOV_TO_CR,   /* 0F 22: MOV CRn, r32/r64 */
	EMU_SYS_MOV_FROM_CR, /* 0F 20: MOV r32/r64, CRn */
	EMU_SYS_CLTS,        /* 0F 06 */
	EMU_SYS_LMSW_REG,    /* 0F 01 /6, a register: LMSW r16 */
	EMU_SYS_LMSW_MEM,    /* 0F 01 /6, memory: LMSW m16 */
	EMU_SYS_INVLPG,      /* 0F 01 /7, memory only: INVLPG m8 */
};

struct emu_sys_insn {
	enum emu_sys_op op;
	unsigned int len;   /* bytes, prefixes included */
	int gpr;            /* MOV CR and LMSW r16: the register (0-15); else EMU_NO_REG */
	struct emu_mem mem; /* LMSW m16 and INVLPG: the operand, as struct emu_insn's */
};

/*
 * Decode one of them in b[0..n) as code_bits code, as emu_decode() does
 * (prefixes, 16-bit addressing, refusals). The CR number is not decoded:
 * the exit's is the truth (AMD's LOCK MOV CR0 is CR8).
 */
const char *emu_decode_sys(const uint8_t *b, unsigned int n, unsigned int code_bits,
			   struct emu_sys_insn *out, char *why, unsigned int why_len);

/* emu_decode_sys() in 64-bit code, for MOV to or from CR: the register and the length. */
bool emu_decode_mov_cr(const uint8_t *b, unsigned int n, int *gpr, unsigned int *len);
/* emu_decode_sys() in 64-bit code, for INVLPG: its length. */
bool emu_decode_invlpg_len(const uint8_t *b, unsigned int n, unsigned int *len);
