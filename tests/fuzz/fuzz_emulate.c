// SPDX-License-Identifier: MIT
/*
 * libFuzzer: the instruction decoder and emulator (virt/emulate.c) on any
 * bytes and register values, as a hostile guest would present them, in
 * 16-, 32- and 64-bit code. The bytes are copied to a buffer of exactly the
 * length handed over, so that ASan sees any read past it. Whatever is
 * accepted must be well formed; its execution may change only what the
 * instruction names; the ALU results and flags are checked against the
 * host CPU's own instructions.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virt/emulate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FL_ARITH 0x8d5ull /* CF PF AF ZF SF OF */
#define FL_AF 0x10ull

static uint64_t mask_of(unsigned int width)
{
	return width == 8 ? ~0ull : (1ull << (width * 8)) - 1;
}

/*
 * The host CPU's "op b, a" at width (ADD ... CMP in the encoding's order,
 * then TEST) with flags fin in: the result and, in *fout, the flags. POPFQ
 * and PUSHFQ run below the red zone.
 */
#define NATIVE(insn, mod)                                                       \
	asm volatile("sub $128, %%rsp\n\tpush %[fin]\n\tpopfq\n\t" insn " %" mod "[b], %" mod "[a]\n\t" \
		     "pushfq\n\tpop %[f]\n\tadd $128, %%rsp"                    \
		     : [a] "+r"(a), [f] "=&r"(f)                                \
		     : [b] "r"(b), [fin] "r"(fin)                               \
		     : "cc", "memory")
#define NATIVE_WIDTHS(insn)                                                     \
	do {                                                                    \
		if (width == 1)                                                 \
			NATIVE(insn "b", "b");                                  \
		else if (width == 2)                                            \
			NATIVE(insn "w", "w");                                  \
		else if (width == 4)                                            \
			NATIVE(insn "l", "k");                                  \
		else                                                            \
			NATIVE(insn "q", "q");                                  \
	} while (0)

static uint64_t native(enum emu_op op, unsigned int width, uint64_t a, uint64_t b, uint64_t fin,
		       uint64_t *fout)
{
	uint64_t f = 0;

	switch (op) {
	case EMU_ADD: NATIVE_WIDTHS("add"); break;
	case EMU_OR: NATIVE_WIDTHS("or"); break;
	case EMU_ADC: NATIVE_WIDTHS("adc"); break;
	case EMU_SBB: NATIVE_WIDTHS("sbb"); break;
	case EMU_AND: NATIVE_WIDTHS("and"); break;
	case EMU_SUB: NATIVE_WIDTHS("sub"); break;
	case EMU_XOR: NATIVE_WIDTHS("xor"); break;
	case EMU_CMP: NATIVE_WIDTHS("cmp"); break;
	case EMU_TEST: NATIVE_WIDTHS("test"); break;
	default: break;
	}
	*fout = f & FL_ARITH;
	return a & mask_of(width);
}

static bool valid_width(unsigned int w)
{
	return w == 1 || w == 2 || w == 4 || w == 8;
}

/* A decoded instruction is well formed for its code size. */
static void check_decoded(const struct emu_insn *in, unsigned int bits, unsigned int n)
{
	int max_reg = bits == 64 ? 15 : 7;
	const struct emu_mem *m = &in->mem;
	bool string = emu_is_string(in);

	if (in->len == 0 || in->len > n || in->len > EMU_MAX_INSN || in->code_bits != bits)
		abort();
	if (!valid_width(in->width) || !valid_width(in->reg_width) || in->reg_width < in->width ||
	    (in->width == 8 && bits != 64) || (in->reg_width == 8 && bits != 64))
		abort();
	if (in->reg > max_reg || in->reg < -1 || (in->high_byte && (in->reg < 4 || in->reg > 7)))
		abort();
	if (m->base > max_reg || m->base < EMU_RIP || m->index > max_reg || m->index < EMU_NO_REG ||
	    (m->base == EMU_RIP && bits != 64) || !(m->scale == 1 || m->scale == 2 || m->scale == 4 ||
						    m->scale == 8))
		abort();
	if (bits == 64 ? m->addr_size != 8 && m->addr_size != 4 : m->addr_size != 4 && m->addr_size != 2)
		abort();
	if (bits == 64 ? m->seg != EMU_SEG_NONE && m->seg != EMU_SEG_FS && m->seg != EMU_SEG_GS
		       : m->seg < EMU_SEG_ES || m->seg > EMU_SEG_GS)
		abort();
	if (!in->reads_mem && !in->writes_mem)
		abort();
	if ((in->rep && !string) || (in->lock && !(in->reads_mem && in->writes_mem && !string)))
		abort();
	if (in->to_reg && (in->reg < 0 || in->writes_mem))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned int modes[3] = { 16, 32, 64 };
	struct emu_regs r0;
	uint64_t old = 0;
	unsigned int n, len;
	uint8_t *b;
	int gpr;

	memset(&r0, 0, sizeof(r0));
	if (size > EMU_MAX_INSN + sizeof(r0) + 8) { /* registers and the memory value after the bytes */
		memcpy(&r0, data + EMU_MAX_INSN, sizeof(r0));
		memcpy(&old, data + EMU_MAX_INSN + sizeof(r0), 8);
	}
	r0.rflags = (r0.rflags & (FL_ARITH | 0x400)) | 0x2; /* what a guest's RFLAGS can hold here */
	n = size < EMU_MAX_INSN ? (unsigned int)size : EMU_MAX_INSN;
	b = malloc(n ? n : 1); /* exactly n bytes: a read past them is ASan's */
	if (!b)
		return 0;
	memcpy(b, data, n);
	(void)emu_decode_mov_cr(b, n, &gpr, &len);
	(void)emu_decode_invlpg_len(b, n, &len);

	for (int mi = 0; mi < 3; mi++) {
		struct emu_regs r = r0;
		struct emu_insn in;
		uint64_t mem, val, src, nflags, nres;
		char why[96];
		bool store;
		int dst;

		if (emu_decode(b, n, modes[mi], &in, why, sizeof(why)))
			continue;
		check_decoded(&in, modes[mi], n);
		(void)emu_effective_address(&in, &r, 0x400000);
		(void)emu_mem_address(&in.src, &r, 0);
		(void)emu_string_count(&in, &r);
		mem = old & mask_of(in.width);
		val = emu_execute(&in, mem, &r, &store);
		if (store && (!in.writes_mem || (val & ~mask_of(in.width))))
			abort(); /* a store only where one may be, and never past its operand */
		if ((r.rflags & ~FL_ARITH) != (r0.rflags & ~FL_ARITH))
			abort(); /* only the arithmetic flags change */
		/* Only the registers the instruction names change. */
		dst = in.reg >= 0 && in.high_byte ? in.reg - 4 : in.reg;
		for (int k = 0; k < 16; k++) {
			bool may = (in.to_reg || in.op == EMU_XCHG) ? k == dst
				 : in.op == EMU_CMPXCHG ? k == 0
				 : emu_is_string(&in) ? k == 6 || k == 7 || k == 1 : false;

			if (!may && r.gpr[k] != r0.gpr[k])
				abort();
		}
		if (in.op > EMU_TEST)
			continue;
		/* The ALU against the CPU: "op m, r/imm" or "op r, m". */
		src = in.reg < 0 ? in.imm
		    : in.high_byte ? r0.gpr[dst] >> 8 : r0.gpr[in.reg];
		/* Without DF: the compiled code around the asm assumes it clear. */
		if (in.to_reg)
			nres = native(in.op, in.width, src, mem, r0.rflags & ~0x400ull, &nflags);
		else
			nres = native(in.op, in.width, mem, src, r0.rflags & ~0x400ull, &nflags);
		{
			bool logic = in.op == EMU_OR || in.op == EMU_AND || in.op == EMU_XOR ||
				     in.op == EMU_TEST;
			uint64_t care = logic ? FL_ARITH & ~FL_AF : FL_ARITH; /* AF: undefined */
			uint64_t got = in.to_reg ? (in.high_byte ? r.gpr[dst] >> 8 : r.gpr[dst]) & mask_of(in.width)
						 : val;

			if ((r.rflags & care) != (nflags & care))
				abort();
			if (in.op != EMU_CMP && in.op != EMU_TEST && got != nres)
				abort();
			if ((in.op == EMU_CMP || in.op == EMU_TEST) &&
			    (store || (in.to_reg && r.gpr[dst] != r0.gpr[dst])))
				abort(); /* a comparison writes nothing */
		}
	}
	free(b);
	return 0;
}
