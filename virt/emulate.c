// SPDX-License-Identifier: MIT
/*
 * The emulator of virt/emulate.h: a decoder that turns bytes into one
 * struct emu_insn (SDM Vol. 2, chapter 2 and appendix A), and an executor
 * that runs it on a copy of the registers and one memory value.
 */
#include "virt/emulate.h"

#define FL_CF (1ull << 0)
#define FL_PF (1ull << 2)
#define FL_AF (1ull << 4)
#define FL_ZF (1ull << 6)
#define FL_SF (1ull << 7)
#define FL_DF (1ull << 10)
#define FL_OF (1ull << 11)
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

#define REX_W 8
#define REX_R 4
#define REX_X 2
#define REX_B 1

#define REG_AX 0
#define REG_CX 1
#define REG_SI 6
#define REG_DI 7

static uint64_t width_mask(unsigned int width)
{
	return width >= 8 ? ~0ull : (1ull << (width * 8)) - 1;
}

static uint64_t sign_extend(uint64_t v, unsigned int width)
{
	uint64_t sign = 1ull << (width * 8 - 1);

	return ((v & width_mask(width)) ^ sign) - sign;
}

/* "what 0x0f 0x05" into why: the refused bytes, for the guest's stop message. */
static const char *refuse(char *why, unsigned int len, const char *what, const uint8_t *b,
			  unsigned int nb)
{
	static const char hex[] = "0123456789abcdef";
	unsigned int o = 0;

	if (!len)
		return what;
	for (const char *p = what; *p && o + 1 < len; p++)
		why[o++] = *p;
	for (unsigned int i = 0; i < nb && o + 6 < len; i++) {
		why[o++] = ' ';
		why[o++] = '0';
		why[o++] = 'x';
		why[o++] = hex[b[i] >> 4];
		why[o++] = hex[b[i] & 15];
	}
	why[o] = 0;
	return why;
}

/* The instruction as decoded so far: its bytes, the position, and what its prefixes said. */
struct decoder {
	const uint8_t *b;
	unsigned int n, i;
	unsigned int code_bits;
	/*
	 * The REX prefix itself (40-4F: WRXB in its low bits), 0 without one;
	 * even 40 counts, as it makes registers 4-7 SPL..DIL, not AH..BH.
	 */
	unsigned int rex;
	unsigned int opsize, asize;
	int seg_prefix;   /* EMU_SEG_*; in 64-bit mode only FS or GS */
	bool lock, rep;   /* F0; F2 or F3 */
};

/* One more byte into *v, or false if the instruction stops short. */
static inline bool fetch_byte(struct decoder *d, unsigned int *v)
{
	if (d->i >= d->n)
		return false;
	*v = d->b[d->i++];
	return true;
}

/*
 * bytes (0, 1, 2, 4 or 8) more, little-endian, into *v: sign-extended to
 * 64 bits, or zero-extended when !sign; false if the instruction stops
 * short. One bounds check and one load (x86 takes it unaligned), not a
 * loop a byte at a time: displacements, immediates and moffs.
 */
static inline bool fetch(struct decoder *d, unsigned int bytes, bool sign, uint64_t *v)
{
	const uint8_t *p = d->b + d->i;
	uint16_t w;
	uint32_t l;

	if (bytes > d->n - d->i)
		return false;
	d->i += bytes;
	switch (bytes) {
	case 0:
		*v = 0;
		break;
	case 1:
		*v = sign ? (uint64_t)(int8_t)*p : *p;
		break;
	case 2:
		__builtin_memcpy(&w, p, 2);
		*v = sign ? (uint64_t)(int16_t)w : w;
		break;
	case 4:
		__builtin_memcpy(&l, p, 4);
		*v = sign ? (uint64_t)(int32_t)l : l;
		break;
	default:
		__builtin_memcpy(v, p, 8);
		break;
	}
	return true;
}

/* The segment an operand uses: outside 64-bit mode DS unless BP or SP is its base (SS). */
static int operand_seg(const struct decoder *d, bool stack_based)
{
	if (d->code_bits == 64 || d->seg_prefix != EMU_SEG_NONE)
		return d->seg_prefix;
	return stack_based ? EMU_SEG_SS : EMU_SEG_DS;
}

enum modrm_result { MODRM_MEMORY, MODRM_REGISTER, MODRM_TRUNCATED };

/*
 * ModRM and what follows it (SIB, displacement) into m; *regf gets the
 * reg field (REX.R included). The 16-bit forms, by ModRM.rm:
 *
 *	0 [BX+SI]  1 [BX+DI]  2 [BP+SI]  3 [BP+DI]  4 [SI]  5 [DI]  6 [BP]  7 [BX]
 *
 * with mod 1 adding a disp8, mod 2 a disp16, and mod 0 rm 6 a disp16 alone.
 * In 32- and 64-bit forms, rm 4 takes a SIB and mod 0 rm 5 is a disp32:
 * RIP-relative in 64-bit mode, absolute in 32-bit code. Inline in both
 * decoders, so that the decoder's state stays in registers across it.
 */
__attribute__((always_inline)) static inline enum modrm_result
decode_modrm(struct decoder *d, struct emu_mem *m, unsigned int *regf)
{
	static const int8_t base16[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };
	static const int8_t index16[8] = { 6, 7, 6, 7, EMU_NO_REG, EMU_NO_REG, EMU_NO_REG, EMU_NO_REG };
	unsigned int modrm, sib, mod, rm, disp = 0, scale = 1;
	int base, index = EMU_NO_REG;
	uint64_t v;

	if (!fetch_byte(d, &modrm))
		return MODRM_TRUNCATED;
	mod = modrm >> 6;
	rm = modrm & 7;
	*regf = ((modrm >> 3) & 7) | (d->rex & REX_R) << 1;
	if (mod == 3)
		return MODRM_REGISTER;
	if (d->asize == 2) {
		base = base16[rm];
		index = index16[rm];
		if (mod == 0 && rm == 6) {
			base = EMU_NO_REG;
			disp = 2;
		}
		if (mod)
			disp = mod == 1 ? 1 : 2;
	} else {
		base = (int)(rm | (d->rex & REX_B) << 3);
		if (rm == 4) { /* SIB: scale, index (4 without REX.X: none), base */
			if (!fetch_byte(d, &sib))
				return MODRM_TRUNCATED;
			scale = 1u << (sib >> 6);
			index = (int)(((sib >> 3) & 7) | (d->rex & REX_X) << 2);
			if (index == 4)
				index = EMU_NO_REG;
			base = (int)((sib & 7) | (d->rex & REX_B) << 3);
			if (mod == 0 && (sib & 7) == 5) {
				base = EMU_NO_REG;
				disp = 4; /* no base */
			}
		} else if (mod == 0 && rm == 5) {
			base = d->code_bits == 64 ? EMU_RIP : EMU_NO_REG;
			disp = 4;
		}
		if (mod)
			disp = mod == 1 ? 1 : 4;
	}
	if (!fetch(d, disp, true, &v))
		return MODRM_TRUNCATED;
	m->base = base;
	m->index = index;
	m->scale = scale;
	m->disp = (int64_t)v;
	m->addr_size = d->asize;
	m->seg = operand_seg(d, base == 4 || base == 5); /* SP, BP (never in 16-bit forms: SP) */
	return MODRM_MEMORY;
}

/* How an opcode's operands are laid out. */
enum form {
	FORM_NONE,   /* not an instruction this emulator knows */
	FORM_MODRM,  /* ModRM; the register operand is ModRM.reg */
	FORM_GROUP,  /* ModRM; ModRM.reg picks the operation, the other operand is an immediate */
	FORM_MOFFS,  /* A0-A3: the accumulator and an absolute address of the address size */
	FORM_STRING, /* MOVS, STOS: rSI, rDI, rCX implied */
};

#define IMM_V 16 /* an immediate of the operand size: 2 bytes, else 4 (a 64-bit one sign-extends) */

/*
 * The one-byte opcodes: the form, op (for groups, their opcode's first
 * byte stands in), and the immediate. *byte_op for the 8-bit forms.
 */
static enum form onebyte(struct decoder *d, unsigned int opcode, struct emu_insn *in,
			 int *op, unsigned int *imm_len, bool *byte_op)
{
	*byte_op = !(opcode & 1);
	if (opcode < 0x40 && (opcode & 7) < 4) { /* ALU Eb,Gb  Ev,Gv  Gb,Eb  Gv,Ev */
		*op = (int)(opcode >> 3);
		in->to_reg = opcode & 2;
		return FORM_MODRM;
	}
	switch (opcode) {
	case 0x63: /* MOVSXD Gv, Ed (ARPL outside 64-bit mode) */
		if (d->code_bits != 64)
			return FORM_NONE;
		*op = EMU_MOVSX;
		*byte_op = false;
		in->to_reg = true;
		in->width = d->opsize == 8 ? 4 : d->opsize;
		return FORM_MODRM;
	case 0x80: case 0x83:
		*imm_len = 1;
		*byte_op = opcode == 0x80;
		return FORM_GROUP;
	case 0x81:
		*imm_len = IMM_V;
		return FORM_GROUP;
	case 0x84: case 0x85: *op = EMU_TEST; return FORM_MODRM;
	case 0x86: case 0x87: *op = EMU_XCHG; return FORM_MODRM;
	case 0x88: case 0x89: *op = EMU_MOV; return FORM_MODRM;
	case 0x8a: case 0x8b: *op = EMU_MOV; in->to_reg = true; return FORM_MODRM;
	case 0xa0: case 0xa1: *op = EMU_MOV; in->to_reg = true; return FORM_MOFFS;
	case 0xa2: case 0xa3: *op = EMU_MOV; return FORM_MOFFS;
	case 0xa4: case 0xa5: *op = EMU_MOVS; return FORM_STRING;
	case 0xaa: case 0xab: *op = EMU_STOS; return FORM_STRING;
	case 0xc6: case 0xf6: *imm_len = 1; return FORM_GROUP;
	case 0xc7: case 0xf7: *imm_len = IMM_V; return FORM_GROUP;
	}
	return FORM_NONE;
}

/* The two-byte opcodes 0F xx, as onebyte(). */
static enum form twobyte(unsigned int opcode, struct emu_insn *in, int *op, unsigned int *imm_len,
			 bool *byte_op)
{
	*byte_op = false;
	switch (opcode) {
	case 0xb0: case 0xb1:
		*op = EMU_CMPXCHG;
		*byte_op = opcode == 0xb0;
		return FORM_MODRM;
	case 0xb6: case 0xb7: case 0xbe: case 0xbf: /* MOVZX, MOVSX Gv, Eb/Ew */
		*op = opcode & 8 ? EMU_MOVSX : EMU_MOVZX;
		in->to_reg = true;
		in->width = opcode & 1 ? 2 : 1;
		return FORM_MODRM;
	case 0xba:
		*imm_len = 1;
		return FORM_GROUP;
	}
	return FORM_NONE;
}

/* A group's operation from ModRM.reg (regf & 7), or a reason it is refused. */
static const char *group_op(bool two, unsigned int opcode, unsigned int n, int *op)
{
	if (two) { /* 0F BA: group 8 */
		if (n == 5 || n == 6) {
			*op = n == 5 ? EMU_BTS : EMU_BTR;
			return 0;
		}
		return n == 4 || n == 7 ? "BT or BTC to memory: opcode" : 0;
	}
	if (opcode >= 0x80 && opcode <= 0x83) { /* group 1: the ALU operations, in order */
		*op = (int)n;
		return 0;
	}
	if (n == 0) /* C6/C7 /0 is MOV, F6/F7 /0 TEST */
		*op = opcode == 0xc6 || opcode == 0xc7 ? EMU_MOV : EMU_TEST;
	return 0;
}

/* What the operation does to memory, and whether LOCK may prefix it (else #UD). */
static bool set_access(struct emu_insn *in)
{
	switch (in->op) {
	case EMU_ADD: case EMU_OR: case EMU_ADC: case EMU_SBB:
	case EMU_AND: case EMU_SUB: case EMU_XOR:
		in->reads_mem = true;
		in->writes_mem = !in->to_reg;
		return !in->to_reg;
	case EMU_CMP: case EMU_TEST: case EMU_MOVZX: case EMU_MOVSX:
		in->reads_mem = true;
		return false;
	case EMU_MOV:
		in->reads_mem = in->to_reg;
		in->writes_mem = !in->to_reg;
		return false;
	case EMU_XCHG: case EMU_CMPXCHG: case EMU_BTS: case EMU_BTR:
		in->reads_mem = in->writes_mem = true;
		return true;
	case EMU_MOVS:
		in->reads_mem = in->writes_mem = true;
		return false;
	case EMU_STOS:
		in->writes_mem = true;
		return false;
	}
	return false;
}

/* An operand that is not there: no register, no segment. */
static const struct emu_mem no_mem = { .base = EMU_NO_REG, .index = EMU_NO_REG, .scale = 1,
				       .addr_size = 8, .seg = EMU_SEG_NONE };

/*
 * What a byte is as a prefix, so that the prefix loop costs one load per
 * byte rather than a chain of compares: 0 for none (the opcode), else
 * one bit. A segment override's segment is in the byte itself: ES, CS,
 * SS, DS are 26, 2E, 36, 3E (bits 3-4), FS and GS 64 and 65.
 */
#define PFX_LOCK 0x01   /* F0 */
#define PFX_REP 0x02    /* F2 or F3 */
#define PFX_OPSIZE 0x04 /* 66 */
#define PFX_ASIZE 0x08  /* 67 */
#define PFX_SEG 0x10    /* ES, CS, SS, DS: ignored in 64-bit mode */
#define PFX_SEG_FG 0x20 /* FS, GS */
#define PFX_REX 0x40    /* 40-4F: only in 64-bit mode (INC and DEC elsewhere) */

static const uint8_t prefix_class[256] = {
	[0xf0] = PFX_LOCK,
	[0xf2] = PFX_REP, [0xf3] = PFX_REP,
	[0x66] = PFX_OPSIZE,
	[0x67] = PFX_ASIZE,
	[0x26] = PFX_SEG, [0x2e] = PFX_SEG, [0x36] = PFX_SEG, [0x3e] = PFX_SEG,
	[0x64] = PFX_SEG_FG, [0x65] = PFX_SEG_FG,
	[0x40 ... 0x4f] = PFX_REX,
};

/*
 * The prefixes, up to the opcode: the legacy ones (F0, F2, F3, 66, 67 and
 * the segment overrides) in any order, then in 64-bit code a REX, which
 * counts only right before the opcode (a legacy prefix after it cancels
 * it). Leaves d->i at the opcode and sets the operand and address sizes;
 * NULL, or why the bytes are refused.
 */
__attribute__((always_inline)) static inline const char *
decode_prefixes(struct decoder *d, char *why, unsigned int why_len)
{
	unsigned int bits = d->code_bits, seen = 0, i = 0, k;
	unsigned int end = d->n < EMU_MAX_INSN ? d->n : EMU_MAX_INSN;

	if (bits != 16 && bits != 32 && bits != 64)
		return refuse(why, why_len, "code size not 16, 32 or 64 bits", d->b, 0);
	for (; i < end; i++) {
		uint8_t p = d->b[i];

		k = prefix_class[p];
		if (!k)
			break;
		if (k & PFX_REX) {
			if (bits != 64)
				break;
			d->rex = p;
			continue;
		}
		d->rex = 0;
		seen |= k;
		if (k & PFX_SEG_FG)
			d->seg_prefix = EMU_SEG_FS + (p & 1);
		else if ((k & PFX_SEG) && bits != 64)
			d->seg_prefix = (p >> 3) & 3;
	}
	d->i = i;
	if (i >= d->n)
		return refuse(why, why_len, "truncated instruction", d->b, d->n);
	if (i >= EMU_MAX_INSN)
		return refuse(why, why_len, "longer than 15 bytes:", d->b, EMU_MAX_INSN);
	d->lock = seen & PFX_LOCK;
	d->rep = seen & PFX_REP; /* REP for MOVS and STOS; a hint (XACQUIRE...) elsewhere */
	d->opsize = bits == 64 && (d->rex & REX_W) ? 8 : (bits == 16) != !!(seen & PFX_OPSIZE) ? 2 : 4;
	d->asize = bits == 64 ? (seen & PFX_ASIZE ? 4 : 8) : (bits == 16) != !!(seen & PFX_ASIZE) ? 2 : 4;
	return 0;
}

const char *emu_decode(const uint8_t *b, unsigned int n, unsigned int code_bits,
		       struct emu_insn *in, char *why, unsigned int why_len)
{
	struct decoder d = { .b = b, .n = n, .code_bits = code_bits, .seg_prefix = EMU_SEG_NONE };
	unsigned int start, opcode, regf = 0, imm_len = 0;
	bool two = false, byte_op;
	const char *err;
	enum form form;
	int op = -1;
	uint64_t v;

	err = decode_prefixes(&d, why, why_len);
	if (err)
		return err;
	/*
	 * Only what not every form sets; the rest is written once, below.
	 * Clearing the whole of *in first cost as much as decoding a MOV.
	 */
	in->code_bits = code_bits;
	in->width = 0;
	in->reg = -1;
	in->to_reg = in->reads_mem = in->writes_mem = false;
	in->imm = 0;
	in->src = no_mem;

	start = d.i;
	opcode = b[d.i++];
	if (opcode == 0x0f) {
		if (!fetch_byte(&d, &opcode))
			return refuse(why, why_len, "truncated instruction", b, n);
		two = true;
	}
	form = two ? twobyte(opcode, in, &op, &imm_len, &byte_op)
		   : onebyte(&d, opcode, in, &op, &imm_len, &byte_op);
	if (form == FORM_NONE) {
		if (!two && (opcode & 0xf0) == 0x40) /* only outside 64-bit mode: REX there */
			return refuse(why, why_len, "INC or DEC, not a memory instruction: opcode",
				      b + start, 1);
		return refuse(why, why_len, "not an instruction this emulator knows: opcode",
			      b + start, d.i - start);
	}
	if (!in->width) /* all but MOVZX, MOVSX and MOVSXD: the register's width too */
		in->width = byte_op ? 1 : d.opsize;
	in->reg_width = byte_op ? 1 : d.opsize;

	switch (form) {
	case FORM_MODRM:
	case FORM_GROUP:
		switch (decode_modrm(&d, &in->mem, &regf)) {
		case MODRM_TRUNCATED:
			return refuse(why, why_len, "truncated instruction", b, n);
		case MODRM_REGISTER:
			return refuse(why, why_len, "no memory operand (a register destination cannot fault): opcode",
				      b + start, d.i - start);
		case MODRM_MEMORY:
			break;
		}
		if (form == FORM_MODRM) {
			in->reg = (int)regf;
			break;
		}
		err = group_op(two, opcode, regf & 7, &op);
		if (err || op < 0)
			return refuse(why, why_len,
				      err ? err : "not an instruction this emulator knows: opcode",
				      b + start, d.i - start);
		break;
	case FORM_MOFFS:
		if (!fetch(&d, d.asize, false, &v))
			return refuse(why, why_len, "truncated instruction", b, n);
		in->mem = (struct emu_mem){ .base = EMU_NO_REG, .index = EMU_NO_REG, .scale = 1,
					    .disp = (int64_t)v, .addr_size = d.asize,
					    .seg = operand_seg(&d, false) };
		in->reg = REG_AX;
		break;
	case FORM_STRING:
		/* The destination is always ES:rDI; a segment prefix moves only the source. */
		in->mem = (struct emu_mem){ .base = REG_DI, .index = EMU_NO_REG, .scale = 1,
					    .addr_size = d.asize,
					    .seg = code_bits == 64 ? EMU_SEG_NONE : EMU_SEG_ES };
		if (op == EMU_MOVS) {
			in->src = (struct emu_mem){ .base = REG_SI, .index = EMU_NO_REG, .scale = 1,
						    .addr_size = d.asize, .seg = operand_seg(&d, false) };
		} else {
			in->reg = REG_AX;
		}
		break;
	case FORM_NONE:
		break;
	}
	if (imm_len) {
		unsigned int bytes = imm_len == IMM_V ? (d.opsize == 2 ? 2 : 4) : imm_len;

		if (!fetch(&d, bytes, true, &in->imm))
			return refuse(why, why_len, "truncated instruction", b, n);
	}
	if (d.i > EMU_MAX_INSN)
		return refuse(why, why_len, "longer than 15 bytes:", b, EMU_MAX_INSN);
	in->op = (enum emu_op)op;
	in->len = d.i;
	in->high_byte = byte_op && !d.rex && (unsigned int)(in->reg - 4) < 4; /* AH..BH */
	in->lock = d.lock;
	in->rep = d.rep && (op == EMU_MOVS || op == EMU_STOS);
	if (!set_access(in) && d.lock)
		return refuse(why, why_len, "LOCK on an instruction that cannot take it (#UD): opcode",
			      b + start, d.i - start);
	return 0;
}

static uint64_t reg_read(const struct emu_regs *r, int reg, bool high, unsigned int width)
{
	if (high)
		return (r->gpr[reg - 4] >> 8) & 0xff;
	return r->gpr[reg] & width_mask(width);
}

/* A register write at width: 32 bits zero-extend, 16 and 8 merge (SDM Vol. 1, 3.4.1.1). */
static void reg_write(struct emu_regs *r, int reg, bool high, unsigned int width, uint64_t v)
{
	uint64_t m = width_mask(width);

	if (high)
		r->gpr[reg - 4] = (r->gpr[reg - 4] & ~0xff00ull) | (v & 0xff) << 8;
	else if (width >= 4)
		r->gpr[reg] = v & m;
	else
		r->gpr[reg] = (r->gpr[reg] & ~m) | (v & m);
}

static void set_flags(struct emu_regs *r, uint64_t res, unsigned int width, bool cf, bool of,
		      bool af)
{
	uint64_t f = r->rflags & ~FL_ARITH;

	f |= cf ? FL_CF : 0;
	f |= of ? FL_OF : 0;
	f |= af ? FL_AF : 0;
	f |= res ? 0 : FL_ZF;
	f |= res & (1ull << (width * 8 - 1)) ? FL_SF : 0;
	f |= __builtin_parity((unsigned int)(res & 0xff)) ? 0 : FL_PF;
	r->rflags = f;
}

/*
 * a op b at width, and the arithmetic flags as the CPU leaves them (SDM
 * Vol. 1, appendix A). ADC and SBB take CF in. CF is the carry out of (or
 * the borrow into) the top bit, OF a signed result that does not fit, AF
 * the same for bit 3; a logic op clears CF and OF, and leaves AF undefined
 * (0 here).
 */
static uint64_t alu(enum emu_op op, uint64_t a, uint64_t b, unsigned int width, struct emu_regs *r)
{
	uint64_t m = width_mask(width), sign = 1ull << (width * 8 - 1), res;
	uint64_t c = op == EMU_ADC || op == EMU_SBB ? r->rflags & FL_CF : 0;

	a &= m;
	b &= m;
	switch (op) {
	case EMU_ADD:
	case EMU_ADC:
		res = (a + b + c) & m;
		set_flags(r, res, width, res < a || (c && res == a), (a ^ res) & (b ^ res) & sign,
			  (a ^ b ^ res) & 0x10);
		return res;
	case EMU_SUB:
	case EMU_SBB:
	case EMU_CMP:
		res = (a - b - c) & m;
		set_flags(r, res, width, a < b || (c && a == b), (a ^ b) & (a ^ res) & sign,
			  (a ^ b ^ res) & 0x10);
		return res;
	default:
		res = op == EMU_OR ? a | b : op == EMU_XOR ? a ^ b : a & b; /* AND, TEST */
		set_flags(r, res, width, false, false, false);
		return res;
	}
}

/* One string element done: rSI and rDI step by its size (down with DF), REP counts rCX down. */
static void string_step(const struct emu_insn *in, struct emu_regs *r)
{
	unsigned int as = in->mem.addr_size;
	uint64_t step = r->rflags & FL_DF ? -(uint64_t)in->width : in->width;

	if (in->op == EMU_MOVS)
		reg_write(r, REG_SI, false, as, r->gpr[REG_SI] + step);
	reg_write(r, REG_DI, false, as, r->gpr[REG_DI] + step);
	if (in->rep)
		reg_write(r, REG_CX, false, as, r->gpr[REG_CX] - 1);
}

uint64_t emu_execute(const struct emu_insn *in, uint64_t mem, struct emu_regs *r, bool *store)
{
	uint64_t m = width_mask(in->width);
	uint64_t src = in->reg >= 0 ? reg_read(r, in->reg, in->high_byte, in->width) : in->imm & m;
	uint64_t res, acc;
	unsigned int bit;

	mem &= m;
	*store = false;
	switch (in->op) {
	case EMU_ADD: case EMU_OR: case EMU_ADC: case EMU_SBB:
	case EMU_AND: case EMU_SUB: case EMU_XOR: case EMU_CMP:
		res = in->to_reg ? alu(in->op, src, mem, in->width, r) : alu(in->op, mem, src, in->width, r);
		if (in->op == EMU_CMP)
			return 0;
		if (in->to_reg) {
			reg_write(r, in->reg, in->high_byte, in->width, res);
			return 0;
		}
		*store = true;
		return res;
	case EMU_TEST:
		alu(EMU_TEST, mem, src, in->width, r);
		return 0;
	case EMU_MOV:
		if (in->to_reg) {
			reg_write(r, in->reg, in->high_byte, in->width, mem);
			return 0;
		}
		*store = true;
		return src;
	case EMU_MOVZX:
	case EMU_MOVSX:
		reg_write(r, in->reg, false, in->reg_width,
			  in->op == EMU_MOVSX ? sign_extend(mem, in->width) : mem);
		return 0;
	case EMU_XCHG:
		reg_write(r, in->reg, in->high_byte, in->width, mem);
		*store = true;
		return src;
	case EMU_CMPXCHG:
		acc = r->gpr[REG_AX] & m;
		alu(EMU_CMP, acc, mem, in->width, r);
		*store = true;
		if (acc == mem)
			return src;
		reg_write(r, REG_AX, false, in->width, mem); /* the accumulator gets the memory value */
		return mem;
	case EMU_BTS:
	case EMU_BTR:
		bit = (unsigned int)(in->imm & (in->width * 8 - 1));
		r->rflags = (r->rflags & ~FL_CF) | ((mem >> bit) & 1 ? FL_CF : 0);
		*store = true;
		return in->op == EMU_BTS ? mem | 1ull << bit : mem & ~(1ull << bit);
	case EMU_MOVS:
	case EMU_STOS:
		string_step(in, r);
		*store = true;
		return in->op == EMU_MOVS ? mem : src;
	}
	return 0;
}

uint64_t emu_mem_address(const struct emu_mem *m, const struct emu_regs *r, uint64_t next_rip)
{
	uint64_t ea = (uint64_t)m->disp;

	if (m->base == EMU_RIP)
		ea += next_rip; /* relative to the next instruction */
	else if (m->base >= 0)
		ea += r->gpr[m->base & 15];
	if (m->index >= 0)
		ea += r->gpr[m->index & 15] * m->scale;
	return ea & width_mask(m->addr_size);
}

uint64_t emu_effective_address(const struct emu_insn *in, const struct emu_regs *r,
			       uint64_t rip)
{
	return emu_mem_address(&in->mem, r, rip + in->len);
}

uint64_t emu_string_count(const struct emu_insn *in, const struct emu_regs *r)
{
	return in->rep ? r->gpr[REG_CX] & width_mask(in->mem.addr_size) : 1;
}

/*
 * The system instructions that write or read a control register, or drop
 * a TLB entry, whose exits may say neither the register nor the length:
 *
 *	0F 06		CLTS
 *	0F 20 /r	MOV r, CRn	the mod field is ignored: always the
 *	0F 22 /r	MOV CRn, r	register form, no SIB, no displacement
 *	0F 01 /6	LMSW r/m16
 *	0F 01 /7	INVLPG m8	(mod = 3 is SWAPGS, RDTSCP... instead)
 *
 * after any prefixes. The CR number is the exit's, not ModRM.reg: AMD's
 * LOCK MOV CR0 is CR8 in 32-bit code.
 */
const char *emu_decode_sys(const uint8_t *b, unsigned int n, unsigned int code_bits,
			   struct emu_sys_insn *out, char *why, unsigned int why_len)
{
	struct decoder d = { .b = b, .n = n, .code_bits = code_bits, .seg_prefix = EMU_SEG_NONE };
	enum modrm_result mr;
	unsigned int start, regf;
	const char *err;
	uint64_t v;

	*out = (struct emu_sys_insn){ .gpr = EMU_NO_REG, .mem = no_mem };
	err = decode_prefixes(&d, why, why_len);
	if (err)
		return err;
	start = d.i;
	if (!fetch(&d, 2, false, &v))
		return refuse(why, why_len, "truncated instruction", b, n);
	if ((v & 0xff) != 0x0f)
		return refuse(why, why_len, "not CLTS, LMSW, INVLPG or MOV to or from CR: opcode",
			      b + start, 1);
	switch (v >> 8) {
	case 0x06:
		out->op = EMU_SYS_CLTS;
		break;
	case 0x20:
	case 0x22:
		if (!fetch(&d, 1, false, &v))
			return refuse(why, why_len, "truncated instruction", b, n);
		out->op = b[start + 1] == 0x22 ? EMU_SYS_MOV_TO_CR : EMU_SYS_MOV_FROM_CR;
		out->gpr = (int)((v & 7) | (d.rex & REX_B ? 8 : 0));
		break;
	case 0x01: /* group 7: ModRM.reg picks the instruction */
		mr = decode_modrm(&d, &out->mem, &regf);
		if (mr == MODRM_TRUNCATED)
			return refuse(why, why_len, "truncated instruction", b, n);
		if ((regf & 7) == 6)
			out->op = mr == MODRM_REGISTER ? EMU_SYS_LMSW_REG : EMU_SYS_LMSW_MEM;
		else if ((regf & 7) == 7 && mr == MODRM_MEMORY)
			out->op = EMU_SYS_INVLPG;
		else
			return refuse(why, why_len, "0F 01 but not LMSW or INVLPG: opcode", b + start,
				      d.i - start);
		if (mr == MODRM_REGISTER) /* ModRM was the last byte */
			out->gpr = (int)((b[d.i - 1] & 7) | (d.rex & REX_B ? 8 : 0));
		break;
	default:
		return refuse(why, why_len, "not CLTS, LMSW, INVLPG or MOV to or from CR: opcode",
			      b + start, 2);
	}
	if (d.i > EMU_MAX_INSN)
		return refuse(why, why_len, "longer than 15 bytes:", b, EMU_MAX_INSN);
	out->len = d.i;
	return 0;
}

bool emu_decode_mov_cr(const uint8_t *b, unsigned int n, int *gpr, unsigned int *len)
{
	struct emu_sys_insn in;

	if (emu_decode_sys(b, n, 64, &in, 0, 0) ||
	    (in.op != EMU_SYS_MOV_TO_CR && in.op != EMU_SYS_MOV_FROM_CR))
		return false;
	*gpr = in.gpr;
	*len = in.len;
	return true;
}

bool emu_decode_invlpg_len(const uint8_t *b, unsigned int n, unsigned int *len)
{
	struct emu_sys_insn in;

	if (emu_decode_sys(b, n, 64, &in, 0, 0) || in.op != EMU_SYS_INVLPG)
		return false;
	*len = in.len;
	return true;
}
