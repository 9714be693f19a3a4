// SPDX-License-Identifier: MIT
/*
 * A small x86-64 instruction emulator for the one case shadow paging cannot
 * avoid: a guest write to a page table on the written address's own path
 * (SHADOW_EMULATE). It knows the stores a kernel makes to its page tables:
 * MOV, the ALU read-modify-writes (ADD, OR, AND, SUB, XOR), XCHG, CMPXCHG
 * and BTS/BTR with an immediate bit, each with a memory destination, at
 * 8, 16, 32 or 64 bits, with the LOCK, operand-size, address-size and
 * segment prefixes and REX. Anything else is refused with a reason; the
 * caller stops the guest.
 *
 * Pure C on a copy of the registers: the caller reads the old memory value,
 * runs emu_execute(), and commits the new value with a cmpxchg before it
 * copies the registers back, so that a concurrent writer (another vCPU)
 * makes it run again rather than be lost. The memory operand is decoded in
 * full (emu_effective_address()): the fault's address (CR2) is only the
 * first byte that faulted, which for a store that straddles two pages may
 * be the start of the second.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define EMU_MAX_INSN 15 /* the architectural limit */

enum emu_op {
	EMU_MOV,
	EMU_ADD,
	EMU_OR,
	EMU_AND,
	EMU_SUB,
	EMU_XOR,
	EMU_XCHG,
	EMU_CMPXCHG,
	EMU_BTS,
	EMU_BTR,
};

#define EMU_NO_REG (-1)
#define EMU_RIP (-2) /* base of a RIP-relative operand */
#define EMU_SEG_FS 4
#define EMU_SEG_GS 5

/* The memory operand: [seg:] base + index * scale + disp (SDM Vol. 2, 2.1.5 and 2.2.1.6). */
struct emu_mem {
	int base;           /* 0-15, EMU_NO_REG, or EMU_RIP */
	int index;          /* 0-15 or EMU_NO_REG */
	unsigned int scale; /* 1, 2, 4 or 8 */
	int64_t disp;       /* sign-extended */
	bool addr32;        /* 0x67: the address is computed in 32 bits */
	int seg;            /* EMU_SEG_FS, EMU_SEG_GS, or -1: the others have base 0 in 64-bit mode */
};

struct emu_insn {
	enum emu_op op;
	unsigned int len;   /* bytes, prefixes included */
	unsigned int width; /* operand bytes: 1, 2, 4 or 8 */
	int reg;            /* the register operand (0-15), or -1 for an immediate */
	bool high_byte;     /* reg names AH, CH, DH or BH (8-bit, no REX) */
	uint64_t imm;       /* sign-extended to 64 bits */
	bool lock;
	struct emu_mem mem;
};

/* The registers an emulated instruction may read or change. */
struct emu_regs {
	uint64_t gpr[16]; /* rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8-r15 */
	uint64_t rflags;
};

/*
 * Decode the instruction in b[0..n). Returns NULL on success, or a short
 * reason ("opcode 0x0f 0x05 is not a store emulate knows") that names
 * what was refused; in that case out->len is not meaningful.
 */
const char *emu_decode(const uint8_t *b, unsigned int n, struct emu_insn *out, char *why,
		       unsigned int why_len);

/*
 * Run in on a memory operand whose value is old (in->width bytes,
 * zero-extended). Sets *store and returns the value to store (a failed
 * CMPXCHG stores the old value back, as the CPU does); updates r (the
 * register operand of XCHG and CMPXCHG, and the arithmetic flags).
 */
uint64_t emu_execute(const struct emu_insn *in, uint64_t old, struct emu_regs *r, bool *store);

/*
 * The linear address of in's memory operand, less its segment base (add
 * the FS or GS base when in->mem.seg names one). rip is the instruction's
 * own address.
 */
uint64_t emu_effective_address(const struct emu_insn *in, const struct emu_regs *r,
			       uint64_t rip);

/* MOV to or from a control register at b: the general register and the length. */
bool emu_decode_mov_cr(const uint8_t *b, unsigned int n, int *gpr, unsigned int *len);
/* INVLPG m8 at b: its length. */
bool emu_decode_invlpg_len(const uint8_t *b, unsigned int n, unsigned int *len);
