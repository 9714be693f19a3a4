// SPDX-License-Identifier: MIT
/* The store emulator of virt/emulate.h (SDM Vol. 2, chapter 2, for the encoding). */
#include "virt/emulate.h"

#define FL_CF (1ull << 0)
#define FL_PF (1ull << 2)
#define FL_AF (1ull << 4)
#define FL_ZF (1ull << 6)
#define FL_SF (1ull << 7)
#define FL_OF (1ull << 11)
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

#define REX_W 8
#define REX_R 4
#define REX_X 2
#define REX_B 1

static uint64_t width_mask(unsigned int width)
{
	return width == 8 ? ~0ull : (1ull << (width * 8)) - 1;
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

/* The ALU operation of group 1 (80, 81, 83 /n), or -1 for ADC, SBB and CMP. */
static int group1_op(unsigned int n)
{
	static const int ops[8] = { EMU_ADD, EMU_OR, -1, -1, EMU_AND, EMU_SUB, EMU_XOR, -1 };

	return ops[n];
}

const char *emu_decode(const uint8_t *b, unsigned int n, struct emu_insn *in, char *why,
		       unsigned int why_len)
{
	unsigned int i = 0, rex = 0, opcode, start, regf, mod, rm, imm_len = 0, disp = 0;
	bool opsize = false, byte_op, twobyte = false, has_rex = false;
	int op = -1;

	*in = (struct emu_insn){ .reg = -1, .mem = { .base = EMU_NO_REG, .index = EMU_NO_REG,
						     .scale = 1, .seg = -1 } };
	for (; i < n && i < EMU_MAX_INSN; i++) {
		uint8_t p = b[i];

		if (p == 0xf0)
			in->lock = true;
		else if (p == 0x66)
			opsize = true;
		else if (p == 0x67)
			in->mem.addr32 = true;
		else if (p == 0x64 || p == 0x65)
			in->mem.seg = p == 0x64 ? EMU_SEG_FS : EMU_SEG_GS;
		else if (p == 0x26 || p == 0x2e || p == 0x36 || p == 0x3e)
			continue; /* ES, CS, SS, DS: base 0 in 64-bit mode */
		else
			break;
	}
	if (i < n && (b[i] & 0xf0) == 0x40) {
		has_rex = true; /* even 0x40: it makes registers 4-7 SPL..DIL, not AH..BH */
		rex = b[i++] & 0xf;
	}
	if (i + 2 > n)
		return refuse(why, why_len, "truncated instruction", b, n);
	start = i;
	opcode = b[i++];
	if (opcode == 0x0f) {
		twobyte = true;
		opcode = b[i++];
	}
	if (!twobyte && (opcode == 0xa2 || opcode == 0xa3)) {
		/* MOV moffs, AL/eAX/rAX: no ModRM, an absolute address of 8 bytes (4 with 0x67). */
		unsigned int alen = in->mem.addr32 ? 4 : 8;
		uint64_t addr = 0;

		if (i + alen > n)
			return refuse(why, why_len, "truncated instruction", b, n);
		for (unsigned int k = 0; k < alen; k++)
			addr |= (uint64_t)b[i + k] << (8 * k);
		in->mem.disp = (int64_t)addr;
		in->op = EMU_MOV;
		in->reg = 0;
		in->len = i + alen;
		in->width = opcode == 0xa2 ? 1 : rex & REX_W ? 8 : opsize ? 2 : 4;
		return 0;
	}
	if (!twobyte) {
		switch (opcode) {
		case 0x00: case 0x01: op = EMU_ADD; break;
		case 0x08: case 0x09: op = EMU_OR; break;
		case 0x20: case 0x21: op = EMU_AND; break;
		case 0x28: case 0x29: op = EMU_SUB; break;
		case 0x30: case 0x31: op = EMU_XOR; break;
		case 0x86: case 0x87: op = EMU_XCHG; break;
		case 0x88: case 0x89: op = EMU_MOV; break;
		case 0x80: case 0x83: imm_len = 1; op = 0; break; /* group 1: below */
		case 0x81: imm_len = opsize ? 2 : 4; op = 0; break;
		case 0xc6: imm_len = 1; op = EMU_MOV; break;
		case 0xc7: imm_len = opsize ? 2 : 4; op = EMU_MOV; break;
		}
		byte_op = !(opcode & 1); /* every even opcode above is the 8-bit form */
	} else {
		switch (opcode) {
		case 0xb0: case 0xb1: op = EMU_CMPXCHG; break;
		case 0xba: imm_len = 1; op = 0; break; /* group 8: below */
		}
		byte_op = opcode == 0xb0;
	}
	if (op < 0)
		return refuse(why, why_len, "not a store this emulator knows: opcode", b + start,
			      i - start);
	if (i >= n)
		return refuse(why, why_len, "truncated instruction", b, n);
	mod = b[i] >> 6;
	regf = ((b[i] >> 3) & 7) | (rex & REX_R ? 8 : 0);
	rm = b[i] & 7;
	i++;
	if (mod == 3)
		return refuse(why, why_len, "a register destination cannot fault: opcode", b + start,
			      i - start);
	if (rm == 4) { /* SIB: scale, index (4 without REX.X: none), base */
		if (i >= n)
			return refuse(why, why_len, "truncated instruction", b, n);
		in->mem.scale = 1u << (b[i] >> 6);
		if ((((b[i] >> 3) & 7) | (rex & REX_X ? 8 : 0)) != 4)
			in->mem.index = (int)(((b[i] >> 3) & 7) | (rex & REX_X ? 8 : 0));
		if (mod == 0 && (b[i] & 7) == 5)
			disp = 4; /* no base */
		else
			in->mem.base = (int)((b[i] & 7) | (rex & REX_B ? 8 : 0));
		i++;
	} else if (mod == 0 && rm == 5) {
		in->mem.base = EMU_RIP;
		disp = 4;
	} else {
		in->mem.base = (int)(rm | (rex & REX_B ? 8 : 0));
	}
	if (mod == 1)
		disp = 1;
	else if (mod == 2)
		disp = 4;
	if (i + disp > n)
		return refuse(why, why_len, "truncated instruction", b, n);
	for (unsigned int k = 0; k < disp; k++)
		in->mem.disp |= (int64_t)((uint64_t)b[i + k] << (8 * k));
	if (disp && (in->mem.disp & (1ll << (disp * 8 - 1))))
		in->mem.disp |= (int64_t)~width_mask(disp); /* sign-extend */
	i += disp;

	if (!twobyte && (opcode == 0x80 || opcode == 0x81 || opcode == 0x83)) {
		op = group1_op(regf & 7);
		if (op < 0)
			return refuse(why, why_len, "ADC, SBB or CMP to memory: opcode", b + start,
				      i - start);
	} else if (twobyte && opcode == 0xba) {
		unsigned int n8 = regf & 7;

		if (n8 != 5 && n8 != 6)
			return refuse(why, why_len, "BT or BTC to memory: opcode", b + start, 2);
		op = n8 == 5 ? EMU_BTS : EMU_BTR;
	} else if ((opcode == 0xc6 || opcode == 0xc7) && !twobyte && (regf & 7) != 0) {
		return refuse(why, why_len, "not a store this emulator knows: opcode", b + start,
			      i - start);
	} else if (!imm_len) {
		in->reg = (int)regf;
		in->high_byte = byte_op && !has_rex && regf >= 4 && regf < 8;
	}
	if (imm_len) {
		uint64_t v = 0;

		if (i + imm_len > n)
			return refuse(why, why_len, "truncated instruction", b, n);
		for (unsigned int k = 0; k < imm_len; k++)
			v |= (uint64_t)b[i + k] << (8 * k);
		if (v & (1ull << (imm_len * 8 - 1)))
			v |= ~width_mask(imm_len); /* sign-extend */
		in->imm = v;
		i += imm_len;
	}
	if (i > n || i > EMU_MAX_INSN)
		return refuse(why, why_len, "truncated instruction", b, n);
	in->op = (enum emu_op)op;
	in->len = i;
	in->width = byte_op ? 1 : rex & REX_W ? 8 : opsize ? 2 : 4;
	return 0;
}

static uint64_t reg_read(const struct emu_regs *r, int reg, bool high, unsigned int width)
{
	if (high)
		return (r->gpr[reg - 4] >> 8) & 0xff;
	return r->gpr[reg] & width_mask(width);
}

/* A register write at width: 32 bits zero-extend, 16 and 8 merge (SDM 3.4.1.1). */
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

/* a - b at width, with the flags of SUB and CMP. */
static uint64_t sub_flags(struct emu_regs *r, uint64_t a, uint64_t b, unsigned int width)
{
	uint64_t res = (a - b) & width_mask(width), sign = 1ull << (width * 8 - 1);

	set_flags(r, res, width, a < b, (a ^ b) & (a ^ res) & sign, (a ^ b ^ res) & 0x10);
	return res;
}

uint64_t emu_execute(const struct emu_insn *in, uint64_t old, struct emu_regs *r, bool *store)
{
	uint64_t m = width_mask(in->width), sign = 1ull << (in->width * 8 - 1);
	uint64_t src = in->reg >= 0 ? reg_read(r, in->reg, in->high_byte, in->width) : in->imm & m;
	uint64_t res, acc;
	unsigned int bit;

	old &= m;
	*store = true;
	switch (in->op) {
	case EMU_MOV:
		return src;
	case EMU_ADD:
		res = (old + src) & m;
		set_flags(r, res, in->width, res < old, (old ^ res) & (src ^ res) & sign,
			  (old ^ src ^ res) & 0x10);
		return res;
	case EMU_SUB:
		return sub_flags(r, old, src, in->width);
	case EMU_OR:
	case EMU_AND:
	case EMU_XOR:
		res = in->op == EMU_OR ? old | src : in->op == EMU_AND ? old & src : old ^ src;
		set_flags(r, res, in->width, false, false, false);
		return res;
	case EMU_XCHG:
		reg_write(r, in->reg, in->high_byte, in->width, old);
		return src;
	case EMU_CMPXCHG:
		acc = r->gpr[0] & m;
		sub_flags(r, acc, old, in->width);
		if (acc == old)
			return src;
		reg_write(r, 0, false, in->width, old); /* the accumulator gets the memory value */
		return old;
	case EMU_BTS:
	case EMU_BTR:
		bit = (unsigned int)(in->imm & (in->width * 8 - 1));
		r->rflags = (r->rflags & ~FL_CF) | ((old >> bit) & 1 ? FL_CF : 0);
		return in->op == EMU_BTS ? old | 1ull << bit : old & ~(1ull << bit);
	}
	*store = false;
	return old;
}

uint64_t emu_effective_address(const struct emu_insn *in, const struct emu_regs *r,
			       uint64_t rip)
{
	const struct emu_mem *m = &in->mem;
	uint64_t ea = (uint64_t)m->disp;

	if (m->base == EMU_RIP)
		ea += rip + in->len; /* relative to the next instruction */
	else if (m->base != EMU_NO_REG)
		ea += r->gpr[m->base];
	if (m->index != EMU_NO_REG)
		ea += r->gpr[m->index] * m->scale;
	return m->addr32 ? (uint32_t)ea : ea;
}

/*
 * MOV CRn, r64 (0F 22 /r) or MOV r64, CRn (0F 20 /r), with an optional REX:
 * the register (REX.B extends ModRM.rm) and the length. The CR number is
 * the exit's; ModRM.mod is always 3 (the operand is a register).
 */
bool emu_decode_mov_cr(const uint8_t *b, unsigned int n, int *gpr, unsigned int *len)
{
	unsigned int i = 0, rex_b = 0;

	if (n >= 1 && (b[0] & 0xf0) == 0x40) {
		rex_b = b[0] & 1;
		i = 1;
	}
	if (n < i + 3 || b[i] != 0x0f || (b[i + 1] != 0x20 && b[i + 1] != 0x22) ||
	    (b[i + 2] >> 6) != 3)
		return false;
	*gpr = (int)((b[i + 2] & 7) | rex_b << 3);
	*len = i + 3;
	return true;
}

/*
 * INVLPG m8 (0F 01 /7), with an optional REX: its length from ModRM, the
 * SIB byte and the displacement (SDM Vol. 2, 2.1.5). A register operand
 * (mod = 3) is another instruction.
 */
bool emu_decode_invlpg_len(const uint8_t *b, unsigned int n, unsigned int *len)
{
	unsigned int i = 0, mod, rm, total;

	if (n >= 1 && (b[0] & 0xf0) == 0x40)
		i = 1;
	if (n < i + 3 || b[i] != 0x0f || b[i + 1] != 0x01 || ((b[i + 2] >> 3) & 7) != 7)
		return false;
	mod = b[i + 2] >> 6;
	rm = b[i + 2] & 7;
	if (mod == 3)
		return false;
	total = i + 3;
	if (rm == 4) { /* SIB */
		if (n < total + 1)
			return false;
		if (mod == 0 && (b[total] & 7) == 5)
			total += 4; /* no base: disp32 */
		total++;
	}
	if (mod == 1)
		total += 1;
	else if (mod == 2 || (mod == 0 && rm == 5))
		total += 4;
	*len = total;
	return true;
}
