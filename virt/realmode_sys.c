// SPDX-License-Identifier: MIT
/*
 * The real-mode interpreter's system side (virt/realmode.h): segment
 * loads, which read the GDT once CR0.PE is set; the far jump, which ends
 * the run when it loads a protected-mode CS; MOV CR, LMSW, LGDT, LIDT,
 * RDMSR, WRMSR, CPUID, the bit tests and the rest of the 0F page.
 */
#include "virt/realmode_insn.h"

/*
 * A protected-mode segment load: the descriptor for sel from the GDT
 *
 *   63    56 55 52 51  48 47    40 39     32 31       16 15       0
 *   base31:24 G D L AVL limit19:16 P DPL S type base23:16 base15:0 limit15:0
 *
 * present, and a code segment (CS) or a data or readable code segment
 * (the others; a writable data segment for SS); the accessed bit set in
 * the GDT as the CPU does. A null selector leaves a data segment unusable.
 */
static bool load_descriptor(struct rm_insn *d, uint16_t sel, unsigned int sreg,
			    struct vcpu_seg *out)
{
	const struct vcpu_dtr *gdt = &d->s->sys.gdtr;
	uint32_t lo, hi, ar, limit, idx = sel & ~7u;

	if (!idx && sreg != RM_CS && sreg != RM_SS) {
		*out = (struct vcpu_seg){ .sel = sel, .ar = AR_UNUSABLE };
		return true;
	}
	if (!idx || (sel & 4) || idx + 7 > gdt->limit)
		return rm_fail(d, RM_FAULT,
			       "a selector that is null, in the LDT or beyond the GDT's limit (#GP)");
	if (!rm_mem_read(d, gdt->base + idx, 4, &lo) || !rm_mem_read(d, gdt->base + idx + 4, 4, &hi))
		return false;
	ar = (hi >> 8) & 0xf0ff;
	limit = (lo & 0xffff) | (hi & 0xf0000);
	if (ar & AR_G)
		limit = limit << 12 | 0xfff;
	if (!(ar & AR_S) || (sreg == RM_CS && !(ar & AR_CODE)) ||
	    (sreg == RM_SS && (ar & (AR_CODE | AR_WRITABLE)) != AR_WRITABLE) ||
	    (sreg != RM_CS && (ar & (AR_CODE | AR_WRITABLE)) == AR_CODE))
		return rm_fail(d, RM_FAULT, "a descriptor of the wrong type for that segment register (#GP)");
	if (!(ar & AR_P))
		return rm_fail(d, RM_FAULT, "a descriptor that is not present (#NP)");
	if ((sreg == RM_CS || sreg == RM_SS) && (((ar >> 5) & 3) || (sel & 3)))
		return rm_fail(d, RM_FAULT, "a CS or SS of privilege level other than 0 (not emulated)");
	if (!(ar & AR_ACCESSED)) {
		hi |= AR_ACCESSED << 8;
		if (!rm_mem_write(d, gdt->base + idx + 4, 4, hi))
			return false;
		ar |= AR_ACCESSED;
	}
	*out = (struct vcpu_seg){ .sel = sel,
				  .base = (lo >> 16) | (hi & 0xff) << 16 | (hi & 0xff000000u),
				  .limit = limit, .ar = ar };
	return true;
}

/* MOV, POP to a segment register but CS: real mode takes sel << 4, protected mode the GDT. */
bool rm_load_sreg(struct rm_insn *d, unsigned int sreg, uint16_t sel)
{
	struct vcpu_seg *seg = &d->s->sys.seg[sreg];

	if (sreg == RM_CS || sreg > RM_GS)
		return rm_fail(d, RM_UNSUPPORTED, "a load of CS or of no segment register (#UD)");
	if (d->s->sys.cr0 & RM_CR0_PE)
		return load_descriptor(d, sel, sreg, seg);
	seg->sel = sel;
	seg->base = (uint64_t)sel << 4;
	return true;
}

/*
 * A far jump to sel:off. In real mode CS is sel << 4; with CR0.PE set it
 * is the descriptor, and the run is over (true in *done).
 */
bool rm_far_jump(struct rm_insn *d, uint16_t sel, uint32_t off, bool *done)
{
	struct rm_state *s = d->s;

	if (s->sys.cr0 & RM_CR0_PE) {
		if (!load_descriptor(d, sel, RM_CS, &s->sys.seg[RM_CS]))
			return false;
		*done = true;
	} else {
		s->sys.seg[RM_CS].sel = sel;
		s->sys.seg[RM_CS].base = (uint64_t)sel << 4;
	}
	rm_jump(d, off);
	return true;
}

/* MOV to CR0, CR3, CR4 (0F 22): the checks a CPU makes, LMA as paging with LME makes it. */
static bool write_cr(struct rm_insn *d, unsigned int cr, uint32_t v)
{
	struct vcpu_pm_state *sys = &d->s->sys;

	switch (cr) {
	case 0:
		if (((v & RM_CR0_PG) && !(v & RM_CR0_PE)) || ((v & RM_CR0_NW) && !(v & RM_CR0_CD)) ||
		    ((v & RM_CR0_PG) && (sys->efer & RM_EFER_LME) && !(sys->cr4 & RM_CR4_PAE)))
			return rm_fail(d, RM_FAULT, "a CR0 value the CPU refuses (#GP)");
		sys->cr0 = v | RM_CR0_ET;
		sys->efer = (sys->efer & ~(uint64_t)RM_EFER_LMA) |
			    ((v & RM_CR0_PG) && (sys->efer & RM_EFER_LME) ? RM_EFER_LMA : 0);
		return true;
	case 3:
		sys->cr3 = v;
		return true;
	case 4:
		sys->cr4 = v;
		return true;
	}
	return rm_fail(d, RM_UNSUPPORTED, "a control register other than CR0, CR3 and CR4");
}

static bool read_cr(struct rm_insn *d, unsigned int cr, uint32_t *v)
{
	const struct vcpu_pm_state *sys = &d->s->sys;

	if (cr != 0 && cr != 3 && cr != 4)
		return rm_fail(d, RM_UNSUPPORTED, "a control register other than CR0, CR3 and CR4");
	*v = (uint32_t)(cr == 0 ? sys->cr0 : cr == 3 ? sys->cr3 : sys->cr4);
	return true;
}

/* RDMSR, WRMSR: EFER is the interpreter's own (LMA follows it), the rest the caller's. */
static bool msr_access(struct rm_insn *d, bool write)
{
	struct rm_state *s = d->s;
	uint32_t msr = s->gpr[REG_CX];
	uint64_t v = (uint64_t)s->gpr[REG_DX] << 32 | s->gpr[REG_AX];

	if (msr == RM_MSR_EFER && write) {
		if (v & ~(uint64_t)(RM_EFER_WRITABLE | RM_EFER_LMA))
			return rm_fail(d, RM_FAULT, "a reserved EFER bit (#GP)");
		s->sys.efer = (v & RM_EFER_WRITABLE) | (s->sys.efer & RM_EFER_LMA);
		return true;
	}
	if (msr == RM_MSR_EFER)
		v = s->sys.efer;
	else if (write ? !d->ops->wrmsr(d->ctx, msr, v) : !d->ops->rdmsr(d->ctx, msr, &v))
		return rm_fail(d, RM_FAULT, "an MSR access the vCPU refuses (#GP)");
	if (!write) {
		s->gpr[REG_AX] = (uint32_t)v;
		s->gpr[REG_DX] = (uint32_t)(v >> 32);
	}
	return true;
}

/* 0F 01: SMSW, LMSW, LGDT, LIDT. */
static bool group7(struct rm_insn *d)
{
	struct rm_state *s = d->s;
	uint32_t limit, base, v;

	if (!rm_decode_modrm(d))
		return false;
	switch (d->reg) {
	case 2:
	case 3:
		if (d->mod == 3)
			break;
		if (!rm_mem_read(d, d->la, 2, &limit) || !rm_mem_read(d, d->la + 2, 4, &base))
			return false;
		/* Without 66 the base is 24 bits. */
		*(d->reg == 2 ? &s->sys.gdtr : &s->sys.idtr) = (struct vcpu_dtr){
			.base = d->osize == 2 ? base & 0xffffff : base, .limit = (uint16_t)limit };
		return true;
	case 4:
		return rm_operand_put(d, d->mod == 3 ? d->osize : 2, (uint32_t)s->sys.cr0);
	case 6: /* PE, MP, EM, TS; PE is not cleared */
		if (!rm_operand_get(d, 2, &v))
			return false;
		return write_cr(d, 0, (uint32_t)(s->sys.cr0 & ~0xeull) | (v & 0xf));
	}
	return rm_fail(d, RM_UNSUPPORTED, NULL);
}

/*
 * BT, BTS, BTR, BTC (0F A3, AB, B3, BB with the bit in a register; 0F BA
 * /4-/7 with an immediate): CF gets the bit, the others change it. An
 * immediate, or any offset into a register, counts modulo the operand's
 * bits; a register's offset into memory addresses a bit string, the
 * operand-size unit it falls in (signed). Linux's verify_cpu runs these
 * in an AP's real-mode trampoline.
 */
static bool bit_test(struct rm_insn *d, unsigned int op, bool imm)
{
	struct rm_state *s = d->s;
	unsigned int bits = d->osize * 8, kind;
	uint32_t off, v, mask;

	if (!rm_decode_modrm(d))
		return false;
	if (imm) {
		if (d->reg < 4)
			return rm_fail(d, RM_UNSUPPORTED, "0F BA /0-/3 (#UD)");
		if (!rm_fetch(d, 1, &off))
			return false;
		kind = d->reg & 3;
	} else {
		off = rm_reg_get(s, d->reg, d->osize);
		kind = (op >> 3) & 3; /* A3 BT, AB BTS, B3 BTR, BB BTC */
		if (d->mod != 3) { /* floor(offset / bits) units, in 64 bits: no overflow */
			int64_t soff = (int32_t)rm_sign_extend(off, d->osize);

			d->la += (uint64_t)((soff >= 0 ? soff : soff - (int64_t)bits + 1) /
					    (int64_t)bits * (int64_t)d->osize);
		}
	}
	mask = 1u << (off & (bits - 1));
	if (!rm_operand_get(d, d->osize, &v))
		return false;
	s->eflags = (s->eflags & ~FL_CF) | (v & mask ? FL_CF : 0);
	switch (kind) {
	case 1: return rm_operand_put(d, d->osize, v | mask);
	case 2: return rm_operand_put(d, d->osize, v & ~mask);
	case 3: return rm_operand_put(d, d->osize, v ^ mask);
	}
	return true;
}

/* Two-byte opcodes (0F xx). */
bool rm_exec_0f(struct rm_insn *d)
{
	struct rm_state *s = d->s;
	uint32_t op, v, r[4];

	if (!rm_fetch(d, 1, &op))
		return false;
	if (op >= 0x80 && op <= 0x8f) { /* Jcc rel16/32 */
		if (!rm_fetch_simm(d, d->osize, &v))
			return false;
		if (rm_condition(s->eflags, op & 0xf))
			rm_jump(d, rm_next_ip(d) + v);
		return true;
	}
	switch (op) {
	case 0x01:
		return group7(d);
	case 0x06: /* CLTS */
		s->sys.cr0 &= ~(uint64_t)RM_CR0_TS;
		return true;
	case 0x08: /* INVD */
	case 0x09: /* WBINVD: no cache to write back that a guest could see */
		return true;
	case 0x20: /* MOV r32, CRn: the r/m is always a register */
	case 0x22:
		if (!rm_fetch(d, 1, &v))
			return false;
		if (op == 0x22)
			return write_cr(d, (v >> 3) & 7, s->gpr[v & 7]);
		if (!read_cr(d, (v >> 3) & 7, &s->gpr[v & 7]))
			return false;
		return true;
	case 0x30:
		return msr_access(d, true);
	case 0x32:
		return msr_access(d, false);
	case 0xa2:
		d->ops->cpuid(d->ctx, s->gpr[REG_AX], s->gpr[REG_CX], r);
		s->gpr[REG_AX] = r[0];
		s->gpr[REG_BX] = r[1];
		s->gpr[REG_CX] = r[2];
		s->gpr[REG_DX] = r[3];
		return true;
	case 0xa0: /* PUSH FS, POP FS, PUSH GS, POP GS */
	case 0xa8:
		return rm_push(d, s->sys.seg[op == 0xa0 ? RM_FS : RM_GS].sel, d->osize);
	case 0xa1:
	case 0xa9:
		return rm_pop(d, d->osize, &v) && rm_load_sreg(d, op == 0xa1 ? RM_FS : RM_GS, (uint16_t)v);
	case 0xa3: case 0xab: case 0xb3: case 0xbb:
		return bit_test(d, op, false);
	case 0xba:
		return bit_test(d, op, true);
	case 0xb6: /* MOVZX, MOVSX */
	case 0xb7:
	case 0xbe:
	case 0xbf:
		if (!rm_decode_modrm(d) || !rm_operand_get(d, op & 1 ? 2 : 1, &v))
			return false;
		rm_reg_set(s, d->reg, d->osize, op & 8 ? rm_sign_extend(v, op & 1 ? 2 : 1) : v);
		return true;
	}
	return rm_fail(d, RM_UNSUPPORTED, NULL);
}

