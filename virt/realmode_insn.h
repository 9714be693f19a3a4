// SPDX-License-Identifier: MIT
/*
 * The real-mode interpreter's insides, shared by virt/realmode.c (decoding,
 * operands and the general instructions) and virt/realmode_sys.c (system
 * instructions and the switch to protected mode). Callers use
 * virt/realmode.h.
 */
#pragma once

#include "virt/realmode.h"

#define FL_CF 0x1u
#define FL_PF 0x4u
#define FL_AF 0x10u
#define FL_ZF 0x40u
#define FL_SF 0x80u
#define FL_TF 0x100u
#define FL_IF 0x200u
#define FL_DF 0x400u
#define FL_OF 0x800u
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)
/* What POPF may change at CPL 0 outside virtual-8086 mode (not VM, RF, VIF, VIP). */
#define FL_POPF16 0x7fd5u
#define FL_POPF32 (FL_POPF16 | 0x40000u | 0x200000u)

#define RM_CR0_PE (1u << 0)
#define RM_CR0_TS (1u << 3)
#define RM_CR0_ET (1u << 4)
#define RM_CR0_NW (1u << 29)
#define RM_CR0_CD (1u << 30)
#define RM_CR0_PG (1u << 31)
#define RM_CR4_PAE (1u << 5)
#define RM_EFER_LME (1u << 8)
#define RM_EFER_LMA (1u << 10)
#define RM_EFER_WRITABLE (1u << 0 | RM_EFER_LME | 1u << 11) /* SCE, LME, NXE */
#define RM_MSR_EFER 0xc0000080u

/* Access rights (struct vcpu_seg): the real-mode caches, and descriptor bits. */
#define AR_REAL_CODE 0x9bu /* type 11, S, P */
#define AR_REAL_DATA 0x93u /* type 3, S, P */
#define AR_ACCESSED 0x1u
#define AR_WRITABLE 0x2u   /* data; for code: readable */
#define AR_CODE 0x8u
#define AR_S 0x10u
#define AR_P 0x80u
#define AR_D 0x4000u
#define AR_G 0x8000u
#define AR_UNUSABLE 0x10000u

enum { REG_AX, REG_CX, REG_DX, REG_BX, REG_SP, REG_BP, REG_SI, REG_DI };
enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP };

/* One instruction being decoded and run. */
struct rm_insn {
	struct rm_state *s;
	const struct rm_ops *ops;
	void *ctx;
	struct rm_stop *stop;
	enum rm_result res;  /* why a helper returned false */
	unsigned int len;    /* bytes fetched */
	unsigned int osize, asize; /* 2 or 4 */
	int seg;             /* segment override, -1 none */
	unsigned int mod, reg, rm;
	uint32_t ea;         /* the memory operand's offset ... */
	uint64_t la;         /* ... and linear address */
	bool jumped;         /* EIP already set */
};

static inline uint32_t rm_size_mask(unsigned int size)
{
	return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

static inline uint32_t rm_sign_extend(uint32_t v, unsigned int size)
{
	return size == 1 ? (uint32_t)(int32_t)(int8_t)v
	       : size == 2 ? (uint32_t)(int32_t)(int16_t)v : v;
}

static inline void rm_jump(struct rm_insn *d, uint32_t target)
{
	d->s->eip = d->osize == 2 ? target & 0xffff : target;
	d->jumped = true;
}

/* The offset of the next instruction (a relative jump's base). */
static inline uint32_t rm_next_ip(const struct rm_insn *d)
{
	return d->s->eip + d->len;
}

/* virt/realmode.c: operands, memory, the stack, flags. false: stopped, d->res says why. */
bool rm_fail(struct rm_insn *d, enum rm_result res, const char *why);
bool rm_mem_read(struct rm_insn *d, uint64_t la, unsigned int size, uint32_t *v);
bool rm_mem_write(struct rm_insn *d, uint64_t la, unsigned int size, uint32_t v);
bool rm_fetch(struct rm_insn *d, unsigned int size, uint32_t *v);
bool rm_fetch_simm(struct rm_insn *d, unsigned int size, uint32_t *v);
uint32_t rm_reg_get(const struct rm_state *s, unsigned int r, unsigned int size);
void rm_reg_set(struct rm_state *s, unsigned int r, unsigned int size, uint32_t v);
bool rm_decode_modrm(struct rm_insn *d);
bool rm_operand_get(struct rm_insn *d, unsigned int size, uint32_t *v);
bool rm_operand_put(struct rm_insn *d, unsigned int size, uint32_t v);
bool rm_push(struct rm_insn *d, uint32_t v, unsigned int size);
bool rm_pop(struct rm_insn *d, unsigned int size, uint32_t *v);
bool rm_condition(uint32_t eflags, unsigned int cc);

/* virt/realmode_sys.c: segment loads, the far jump, the 0F page. */
bool rm_load_sreg(struct rm_insn *d, unsigned int sreg, uint16_t sel);
bool rm_far_jump(struct rm_insn *d, uint16_t sel, uint32_t off, bool *done);
bool rm_exec_0f(struct rm_insn *d);
