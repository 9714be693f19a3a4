// SPDX-License-Identifier: MIT
/*
 * The real-mode interpreter of virt/realmode.h: decode one instruction
 * (prefixes 66, 67, segment overrides; the 16-bit and, with 67, 32-bit
 * ModRM forms), execute it on struct rm_state, repeat, until a far jump
 * with CR0.PE set loads a protected-mode CS from the guest's GDT
 * (virt/realmode_sys.c). What an AP's start-up code runs before that, and
 * no more: anything else stops with its bytes named, never a guess.
 */
#include "virt/realmode_insn.h"

bool rm_fail(struct rm_insn *d, enum rm_result res, const char *why)
{
	d->res = res;
	d->stop->why = why;
	return false;
}

static uint32_t ip_mask(const struct rm_state *s)
{
	return s->sys.seg[RM_CS].ar & AR_D ? 0xffffffffu : 0xffffu;
}

bool rm_mem_read(struct rm_insn *d, uint64_t la, unsigned int size, uint32_t *v)
{
	uint8_t b[4] = { 0 };

	la &= 0xffffffffu; /* linear addresses are 32 bits outside long mode */
	if (!d->ops->read(d->ctx, la, b, size)) {
		d->stop->addr = la;
		return rm_fail(d, RM_NO_MEMORY, "no memory there");
	}
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return true;
}

bool rm_mem_write(struct rm_insn *d, uint64_t la, unsigned int size, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	la &= 0xffffffffu;
	if (!d->ops->write(d->ctx, la, b, size)) {
		d->stop->addr = la;
		return rm_fail(d, RM_NO_MEMORY, "no memory there");
	}
	return true;
}

/* size bytes of the instruction stream, little-endian, at CS:EIP + len. */
bool rm_fetch(struct rm_insn *d, unsigned int size, uint32_t *v)
{
	const struct rm_state *s = d->s;

	*v = 0;
	for (unsigned int i = 0; i < size; i++) {
		uint32_t ip = (s->eip + d->len) & ip_mask(s), b;

		if (d->len >= 15)
			return rm_fail(d, RM_FAULT, "an instruction longer than 15 bytes (#GP)");
		if (!rm_mem_read(d, s->sys.seg[RM_CS].base + ip, 1, &b))
			return false;
		d->stop->bytes[d->stop->nbytes++] = (uint8_t)b;
		d->len++;
		*v |= b << (8 * i);
	}
	return true;
}

/* An immediate of size bytes (1, 2 or 4), sign-extended to 32 bits. */
bool rm_fetch_simm(struct rm_insn *d, unsigned int size, uint32_t *v)
{
	if (!rm_fetch(d, size, v))
		return false;
	*v = rm_sign_extend(*v, size);
	return true;
}

/* Register r at size: 1 is AL CL DL BL AH CH DH BH. */
uint32_t rm_reg_get(const struct rm_state *s, unsigned int r, unsigned int size)
{
	if (size == 1)
		return r < 4 ? s->gpr[r] & 0xff : (s->gpr[r - 4] >> 8) & 0xff;
	return s->gpr[r] & rm_size_mask(size);
}

void rm_reg_set(struct rm_state *s, unsigned int r, unsigned int size, uint32_t v)
{
	if (size == 1 && r >= 4)
		s->gpr[r - 4] = (s->gpr[r - 4] & ~0xff00u) | (v & 0xff) << 8;
	else
		s->gpr[r] = (s->gpr[r] & ~rm_size_mask(size)) | (v & rm_size_mask(size));
}

/*
 * ModRM, and for a memory operand its offset and linear address. 16-bit
 * forms (SDM vol. 2 table 2-1): BX+SI, BX+DI, BP+SI, BP+DI, SI, DI,
 * BP (disp16 alone with mod 0), BX; BP-based ones default to SS. With 67,
 * the 32-bit forms (table 2-2, SIB 2-3).
 */
bool rm_decode_modrm(struct rm_insn *d)
{
	static const uint8_t base16[8] = { REG_BX, REG_BX, REG_BP, REG_BP,
					   REG_SI, REG_DI, REG_BP, REG_BX };
	static const int8_t index16[8] = { REG_SI, REG_DI, REG_SI, REG_DI, -1, -1, -1, -1 };
	const uint32_t *gpr = d->s->gpr;
	uint32_t m, disp = 0, sib;
	int seg = RM_DS;

	if (!rm_fetch(d, 1, &m))
		return false;
	d->mod = m >> 6;
	d->reg = (m >> 3) & 7;
	d->rm = m & 7;
	if (d->mod == 3)
		return true;
	if (d->asize == 2) {
		if (d->mod == 0 && d->rm == 6) {
			if (!rm_fetch(d, 2, &disp))
				return false;
			d->ea = disp;
		} else {
			d->ea = gpr[base16[d->rm]] + (index16[d->rm] >= 0 ? gpr[index16[d->rm]] : 0);
			seg = base16[d->rm] == REG_BP ? RM_SS : RM_DS;
		}
		if ((d->mod == 1 && !rm_fetch_simm(d, 1, &disp)) || (d->mod == 2 && !rm_fetch(d, 2, &disp)))
			return false;
		d->ea = d->mod ? (d->ea + disp) & 0xffff : d->ea & 0xffff;
	} else {
		unsigned int base = d->rm;

		d->ea = 0;
		if (d->rm == 4) {
			if (!rm_fetch(d, 1, &sib))
				return false;
			base = sib & 7;
			if (((sib >> 3) & 7) != REG_SP)
				d->ea = gpr[(sib >> 3) & 7] << (sib >> 6);
		}
		if (d->mod == 0 && base == REG_BP) {
			if (!rm_fetch(d, 4, &disp))
				return false;
			d->ea += disp;
		} else {
			d->ea += gpr[base];
			seg = base == REG_SP || base == REG_BP ? RM_SS : RM_DS;
		}
		if ((d->mod == 1 && !rm_fetch_simm(d, 1, &disp)) || (d->mod == 2 && !rm_fetch(d, 4, &disp)))
			return false;
		if (d->mod)
			d->ea += disp;
	}
	d->la = d->s->sys.seg[d->seg >= 0 ? d->seg : seg].base + d->ea;
	return true;
}

/* The r/m operand, register or memory. */
bool rm_operand_get(struct rm_insn *d, unsigned int size, uint32_t *v)
{
	if (d->mod == 3) {
		*v = rm_reg_get(d->s, d->rm, size);
		return true;
	}
	return rm_mem_read(d, d->la, size, v);
}

bool rm_operand_put(struct rm_insn *d, unsigned int size, uint32_t v)
{
	if (d->mod == 3) {
		rm_reg_set(d->s, d->rm, size, v);
		return true;
	}
	return rm_mem_write(d, d->la, size, v);
}

/* ZF, SF and PF from a result; CF, OF and AF as given. */
static void set_flags(struct rm_state *s, uint32_t r, unsigned int size, bool cf, bool of, bool af)
{
	uint32_t f = s->eflags & ~FL_ARITH;

	r &= rm_size_mask(size);
	f |= (cf ? FL_CF : 0) | (of ? FL_OF : 0) | (af ? FL_AF : 0) | (r ? 0 : FL_ZF);
	f |= r >> (size * 8 - 1) ? FL_SF : 0;
	f |= __builtin_parity(r & 0xff) ? 0 : FL_PF;
	s->eflags = f;
}

/* ADD OR ADC SBB AND SUB XOR CMP of a and b at size: the result, flags set. */
static uint32_t alu(struct rm_state *s, unsigned int op, uint32_t a, uint32_t b, unsigned int size)
{
	uint32_t mask = rm_size_mask(size), sign = 1u << (size * 8 - 1);
	uint32_t c = (op == ALU_ADC || op == ALU_SBB) && (s->eflags & FL_CF) ? 1 : 0;
	uint64_t r;

	a &= mask;
	b &= mask;
	switch (op) {
	case ALU_ADD:
	case ALU_ADC:
		r = (uint64_t)a + b + c;
		set_flags(s, (uint32_t)r, size, r > mask, ~(a ^ b) & (a ^ (uint32_t)r) & sign,
			  (a ^ b ^ (uint32_t)r) & 0x10);
		return (uint32_t)r & mask;
	case ALU_SUB:
	case ALU_SBB:
	case ALU_CMP:
		r = (uint64_t)a - b - c;
		set_flags(s, (uint32_t)r, size, (uint64_t)a < (uint64_t)b + c,
			  (a ^ b) & (a ^ (uint32_t)r) & sign, (a ^ b ^ (uint32_t)r) & 0x10);
		return (uint32_t)r & mask;
	}
	r = op == ALU_OR ? a | b : op == ALU_AND ? a & b : a ^ b;
	set_flags(s, (uint32_t)r, size, false, false, false);
	return (uint32_t)r;
}

/* INC and DEC leave CF alone. */
static uint32_t inc_dec(struct rm_state *s, uint32_t v, bool dec, unsigned int size)
{
	uint32_t cf = s->eflags & FL_CF, r = alu(s, dec ? ALU_SUB : ALU_ADD, v, 1, size);

	s->eflags = (s->eflags & ~FL_CF) | cf;
	return r;
}

/* SHL (4), SHR (5), SAR (7) by count (masked to 5 bits); flags as the SDM has them for count 1. */
static uint32_t shift(struct rm_state *s, unsigned int op, uint32_t v, unsigned int count,
		      unsigned int size)
{
	unsigned int bits = size * 8;
	uint32_t mask = rm_size_mask(size), r;
	bool cf;

	count &= 31;
	v &= mask;
	if (!count)
		return v;
	if (op == 4) {
		cf = count <= bits && ((uint64_t)v << count) >> bits & 1;
		r = (uint32_t)((uint64_t)v << count) & mask;
		set_flags(s, r, size, cf, (r >> (bits - 1)) ^ cf, false);
	} else {
		uint64_t sv = op == 7 ? (uint64_t)(int64_t)(int32_t)rm_sign_extend(v, size) : v;

		cf = (sv >> (count - 1)) & 1;
		r = (uint32_t)(op == 7 ? (uint64_t)((int64_t)sv >> count) : sv >> count) & mask;
		set_flags(s, r, size, cf, op == 5 && (v >> (bits - 1)), false);
	}
	return r;
}

/* Jcc's condition cc (the opcode's low nibble). */
bool rm_condition(uint32_t f, unsigned int cc)
{
	bool sf_ne_of = !(f & FL_SF) != !(f & FL_OF), r = false;

	switch (cc >> 1) {
	case 0: r = f & FL_OF; break;
	case 1: r = f & FL_CF; break;
	case 2: r = f & FL_ZF; break;
	case 3: r = f & (FL_CF | FL_ZF); break;
	case 4: r = f & FL_SF; break;
	case 5: r = f & FL_PF; break;
	case 6: r = sf_ne_of; break;
	case 7: r = (f & FL_ZF) || sf_ne_of; break;
	}
	return cc & 1 ? !r : r;
}

static uint32_t sp_mask(const struct rm_state *s)
{
	return s->sys.seg[RM_SS].ar & AR_D ? 0xffffffffu : 0xffffu;
}

bool rm_push(struct rm_insn *d, uint32_t v, unsigned int size)
{
	struct rm_state *s = d->s;
	uint32_t m = sp_mask(s), sp = (s->gpr[REG_SP] - size) & m;

	if (!rm_mem_write(d, s->sys.seg[RM_SS].base + sp, size, v))
		return false;
	s->gpr[REG_SP] = (s->gpr[REG_SP] & ~m) | sp;
	return true;
}

bool rm_pop(struct rm_insn *d, unsigned int size, uint32_t *v)
{
	struct rm_state *s = d->s;
	uint32_t m = sp_mask(s), sp = s->gpr[REG_SP] & m;

	if (!rm_mem_read(d, s->sys.seg[RM_SS].base + sp, size, v))
		return false;
	s->gpr[REG_SP] = (s->gpr[REG_SP] & ~m) | ((sp + size) & m);
	return true;
}

static bool port_io(struct rm_insn *d, uint16_t port, unsigned int size, bool in)
{
	uint32_t v = rm_reg_get(d->s, REG_AX, size);

	if (!d->ops->io(d->ctx, port, size, in, &v)) {
		d->res = RM_IO_STOP;
		return false;
	}
	if (in)
		rm_reg_set(d->s, REG_AX, size, v);
	return true;
}

/* 80, 81, 83: ALU r/m, imm; F6, F7: TEST, NOT, NEG; FE, FF: INC, DEC, CALL, JMP, PUSH. */
static bool exec_group(struct rm_insn *d, unsigned int op, bool *done)
{
	struct rm_state *s = d->s;
	unsigned int size = op & 1 ? d->osize : 1;
	uint32_t v, imm, sel;

	if (!rm_decode_modrm(d))
		return false;
	if (op == 0xff && (d->reg == 3 || d->reg == 5)) { /* far CALL, far JMP through memory */
		if (d->reg == 3 || d->mod == 3)
			return rm_fail(d, RM_UNSUPPORTED, NULL);
		return rm_mem_read(d, d->la, d->osize, &v) && rm_mem_read(d, d->la + d->osize, 2, &sel) &&
		       rm_far_jump(d, (uint16_t)sel, v, done);
	}
	if (!rm_operand_get(d, size, &v))
		return false;
	switch (op) {
	case 0x80:
	case 0x81:
	case 0x83:
		if (!rm_fetch_simm(d, op == 0x81 ? size : 1, &imm))
			return false;
		v = alu(s, d->reg, v, imm, size);
		return d->reg == ALU_CMP || rm_operand_put(d, size, v);
	case 0xf6:
	case 0xf7:
		if (d->reg == 0) { /* TEST */
			if (!rm_fetch(d, size, &imm))
				return false;
			alu(s, ALU_AND, v, imm, size);
			return true;
		}
		if (d->reg == 2)
			return rm_operand_put(d, size, ~v);
		if (d->reg == 3) {
			v = alu(s, ALU_SUB, 0, v, size);
			return rm_operand_put(d, size, v);
		}
		break; /* MUL, IMUL, DIV, IDIV */
	case 0xfe:
	case 0xff:
		if (d->reg <= 1)
			return rm_operand_put(d, size, inc_dec(s, v, d->reg == 1, size));
		if (op == 0xfe)
			break;
		if (d->reg == 2) {
			if (!rm_push(d, rm_next_ip(d), d->osize))
				return false;
			rm_jump(d, v);
			return true;
		}
		if (d->reg == 4) {
			rm_jump(d, v);
			return true;
		}
		if (d->reg == 6)
			return rm_push(d, v, d->osize);
		break;
	}
	return rm_fail(d, RM_UNSUPPORTED, NULL);
}

/* C0, C1, D0-D3: shifts (rotates are not emulated). */
static bool exec_shift(struct rm_insn *d, unsigned int op)
{
	unsigned int size = op & 1 ? d->osize : 1;
	uint32_t v, count = 1;

	if (!rm_decode_modrm(d))
		return false;
	if (d->reg != 4 && d->reg != 5 && d->reg != 7)
		return rm_fail(d, RM_UNSUPPORTED, NULL);
	if ((op <= 0xc1 && !rm_fetch(d, 1, &count)) || !rm_operand_get(d, size, &v))
		return false;
	if (op >= 0xd2)
		count = d->s->gpr[REG_CX] & 0xff;
	return rm_operand_put(d, size, shift(d->s, d->reg, v, count, size));
}

/* One instruction after its prefixes. false: stopped (d->res), or done with *done. */
static bool exec(struct rm_insn *d, unsigned int op, bool *done)
{
	struct rm_state *s = d->s;
	unsigned int size = op & 1 ? d->osize : 1;
	uint32_t v, w, off;

	if (op < 0x40 && (op & 7) < 6) { /* ALU: Eb,Gb Ev,Gv Gb,Eb Gv,Ev AL,Ib eAX,Iv */
		unsigned int alu_op = op >> 3;

		if ((op & 7) >= 4) {
			if (!rm_fetch(d, size, &v))
				return false;
			w = alu(s, alu_op, rm_reg_get(s, REG_AX, size), v, size);
			if (alu_op != ALU_CMP)
				rm_reg_set(s, REG_AX, size, w);
			return true;
		}
		if (!rm_decode_modrm(d) || !rm_operand_get(d, size, &v))
			return false;
		w = rm_reg_get(s, d->reg, size);
		if (op & 2) {
			w = alu(s, alu_op, w, v, size);
			if (alu_op != ALU_CMP)
				rm_reg_set(s, d->reg, size, w);
			return true;
		}
		v = alu(s, alu_op, v, w, size);
		return alu_op == ALU_CMP || rm_operand_put(d, size, v);
	}
	if (op >= 0x40 && op <= 0x4f) {
		v = rm_reg_get(s, op & 7, d->osize);
		rm_reg_set(s, op & 7, d->osize, inc_dec(s, v, op >= 0x48, d->osize));
		return true;
	}
	if (op >= 0x50 && op <= 0x57)
		return rm_push(d, rm_reg_get(s, op & 7, d->osize), d->osize);
	if (op >= 0x58 && op <= 0x5f) {
		if (!rm_pop(d, d->osize, &v))
			return false;
		rm_reg_set(s, op & 7, d->osize, v);
		return true;
	}
	if (op >= 0x70 && op <= 0x7f) {
		if (!rm_fetch_simm(d, 1, &v))
			return false;
		if (rm_condition(s->eflags, op & 0xf))
			rm_jump(d, rm_next_ip(d) + v);
		return true;
	}
	if (op >= 0x91 && op <= 0x97) { /* XCHG eAX, r */
		v = rm_reg_get(s, op & 7, d->osize);
		rm_reg_set(s, op & 7, d->osize, rm_reg_get(s, REG_AX, d->osize));
		rm_reg_set(s, REG_AX, d->osize, v);
		return true;
	}
	if (op >= 0xb0 && op <= 0xbf) { /* MOV r, imm */
		size = op >= 0xb8 ? d->osize : 1;
		if (!rm_fetch(d, size, &v))
			return false;
		rm_reg_set(s, op & 7, size, v);
		return true;
	}
	switch (op) {
	case 0x06: case 0x0e: case 0x16: case 0x1e: /* PUSH ES, CS, SS, DS */
		return rm_push(d, s->sys.seg[op >> 3].sel, d->osize);
	case 0x07: case 0x17: case 0x1f: /* POP ES, SS, DS */
		return rm_pop(d, d->osize, &v) && rm_load_sreg(d, op >> 3, (uint16_t)v);
	case 0x0f:
		return rm_exec_0f(d);
	case 0x68:
	case 0x6a:
		return rm_fetch_simm(d, op == 0x68 ? d->osize : 1, &v) && rm_push(d, v, d->osize);
	case 0x80: case 0x81: case 0x83: case 0xf6: case 0xf7: case 0xfe: case 0xff:
		return exec_group(d, op, done);
	case 0x84: /* TEST */
	case 0x85:
		if (!rm_decode_modrm(d) || !rm_operand_get(d, size, &v))
			return false;
		alu(s, ALU_AND, v, rm_reg_get(s, d->reg, size), size);
		return true;
	case 0x86: /* XCHG r/m, r */
	case 0x87:
		if (!rm_decode_modrm(d) || !rm_operand_get(d, size, &v) ||
		    !rm_operand_put(d, size, rm_reg_get(s, d->reg, size)))
			return false;
		rm_reg_set(s, d->reg, size, v);
		return true;
	case 0x88: /* MOV r/m, r */
	case 0x89:
		return rm_decode_modrm(d) && rm_operand_put(d, size, rm_reg_get(s, d->reg, size));
	case 0x8a: /* MOV r, r/m */
	case 0x8b:
		if (!rm_decode_modrm(d) || !rm_operand_get(d, size, &v))
			return false;
		rm_reg_set(s, d->reg, size, v);
		return true;
	case 0x8c: /* MOV r/m, sreg: a register takes the operand size, memory 16 bits */
		if (!rm_decode_modrm(d))
			return false;
		if (d->reg > RM_GS)
			return rm_fail(d, RM_UNSUPPORTED, NULL);
		return rm_operand_put(d, d->mod == 3 ? d->osize : 2, s->sys.seg[d->reg].sel);
	case 0x8d: /* LEA */
		if (!rm_decode_modrm(d))
			return false;
		if (d->mod == 3)
			return rm_fail(d, RM_UNSUPPORTED, "LEA of a register (#UD)");
		rm_reg_set(s, d->reg, d->osize, d->ea);
		return true;
	case 0x8e:
		return rm_decode_modrm(d) && rm_operand_get(d, 2, &v) && rm_load_sreg(d, d->reg, (uint16_t)v);
	case 0x90: /* NOP */
		return true;
	case 0x9c: /* PUSHF(D): VM and RF read as 0 */
		return rm_push(d, s->eflags & 0xfcffff, d->osize);
	case 0x9d:
		if (!rm_pop(d, d->osize, &v))
			return false;
		w = d->osize == 2 ? FL_POPF16 : FL_POPF32;
		s->eflags = (s->eflags & ~w) | (v & w) | 2;
		return true;
	case 0xa0: case 0xa1: case 0xa2: case 0xa3: /* MOV AL/eAX <-> moffs */
		if (!rm_fetch(d, d->asize, &off))
			return false;
		d->la = s->sys.seg[d->seg >= 0 ? d->seg : RM_DS].base + off;
		if (op >= 0xa2)
			return rm_mem_write(d, d->la, size, rm_reg_get(s, REG_AX, size));
		if (!rm_mem_read(d, d->la, size, &v))
			return false;
		rm_reg_set(s, REG_AX, size, v);
		return true;
	case 0xa8: /* TEST AL/eAX, imm */
	case 0xa9:
		if (!rm_fetch(d, size, &v))
			return false;
		alu(s, ALU_AND, rm_reg_get(s, REG_AX, size), v, size);
		return true;
	case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		return exec_shift(d, op);
	case 0xc2: /* RET imm16, RET */
	case 0xc3:
		if ((op == 0xc2 && !rm_fetch(d, 2, &w)) || !rm_pop(d, d->osize, &v))
			return false;
		if (op == 0xc2)
			s->gpr[REG_SP] = (s->gpr[REG_SP] & ~sp_mask(s)) |
					 ((s->gpr[REG_SP] + w) & sp_mask(s));
		rm_jump(d, v);
		return true;
	case 0xc6: /* MOV r/m, imm */
	case 0xc7:
		if (!rm_decode_modrm(d))
			return false;
		if (d->reg != 0)
			return rm_fail(d, RM_UNSUPPORTED, NULL);
		return rm_fetch(d, size, &v) && rm_operand_put(d, size, v);
	case 0xe4: case 0xe5: case 0xe6: case 0xe7: /* IN, OUT with imm8 */
		return rm_fetch(d, 1, &v) && port_io(d, (uint16_t)v, size, op <= 0xe5);
	case 0xec: case 0xed: case 0xee: case 0xef: /* IN, OUT with DX */
		return port_io(d, (uint16_t)s->gpr[REG_DX], size, op <= 0xed);
	case 0xe8: /* CALL rel */
		if (!rm_fetch_simm(d, d->osize, &v) || !rm_push(d, rm_next_ip(d), d->osize))
			return false;
		rm_jump(d, rm_next_ip(d) + v);
		return true;
	case 0xe9: /* JMP rel16/32, rel8 */
	case 0xeb:
		if (!rm_fetch_simm(d, op == 0xeb ? 1 : d->osize, &v))
			return false;
		rm_jump(d, rm_next_ip(d) + v);
		return true;
	case 0xea: /* JMP ptr16:16, ptr16:32 */
		return rm_fetch(d, d->osize, &off) && rm_fetch(d, 2, &v) &&
		       rm_far_jump(d, (uint16_t)v, off, done);
	case 0xf4:
		d->res = RM_HLT;
		return false;
	case 0xf5: s->eflags ^= FL_CF; return true;          /* CMC */
	case 0xf8: s->eflags &= ~FL_CF; return true;         /* CLC */
	case 0xf9: s->eflags |= FL_CF; return true;          /* STC */
	case 0xfa: s->eflags &= ~FL_IF; return true;         /* CLI */
	case 0xfb: s->eflags |= FL_IF; return true;          /* STI */
	case 0xfc: s->eflags &= ~FL_DF; return true;         /* CLD */
	case 0xfd: s->eflags |= FL_DF; return true;          /* STD */
	}
	return rm_fail(d, RM_UNSUPPORTED, NULL);
}

void rm_init_sipi(struct rm_state *s, unsigned int vector)
{
	*s = (struct rm_state){ .eflags = 0x2 };
	for (unsigned int i = 0; i < 6; i++)
		s->sys.seg[i] = (struct vcpu_seg){ .limit = 0xffff, .ar = AR_REAL_DATA };
	s->sys.seg[RM_CS] = (struct vcpu_seg){ .sel = (uint16_t)((vector & 0xff) << 8),
					       .base = (uint64_t)(vector & 0xff) << 12,
					       .limit = 0xffff, .ar = AR_REAL_CODE };
	s->sys.cr0 = RM_CR0_CD | RM_CR0_NW | RM_CR0_ET;
	s->sys.gdtr.limit = s->sys.idtr.limit = 0xffff;
}

enum rm_result rm_run(struct rm_state *s, const struct rm_ops *ops, void *ctx,
		      unsigned long max_insns, struct rm_stop *stop)
{
	*stop = (struct rm_stop){ 0 };
	while (stop->insns < max_insns) {
		struct rm_insn d = { .s = s, .ops = ops, .ctx = ctx, .stop = stop, .seg = -1,
				     .res = RM_UNSUPPORTED };
		bool def32 = s->sys.seg[RM_CS].ar & AR_D, done = false, prefix = true;
		uint32_t op = 0;

		stop->cs = s->sys.seg[RM_CS].sel;
		stop->ip = s->eip;
		stop->nbytes = 0;
		stop->why = NULL;
		d.osize = d.asize = def32 ? 4 : 2;
		while (prefix) {
			if (!rm_fetch(&d, 1, &op))
				return d.res;
			switch (op) {
			case 0x66: d.osize = def32 ? 2 : 4; break;
			case 0x67: d.asize = def32 ? 2 : 4; break;
			case 0x26: d.seg = RM_ES; break;
			case 0x2e: d.seg = RM_CS; break;
			case 0x36: d.seg = RM_SS; break;
			case 0x3e: d.seg = RM_DS; break;
			case 0x64: d.seg = RM_FS; break;
			case 0x65: d.seg = RM_GS; break;
			default: prefix = false;
			}
		}
		if (!exec(&d, op, &done))
			return d.res;
		if (!d.jumped)
			s->eip = (s->eip + d.len) & ip_mask(s);
		stop->insns++;
		if (done)
			return RM_PROTECTED;
	}
	return RM_LIMIT;
}
