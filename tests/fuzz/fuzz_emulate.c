// SPDX-License-Identifier: MIT
/*
 * libFuzzer: the instruction decoder and store emulator (virt/emulate.c) on
 * any bytes and register values, as a hostile guest would present them.
 * Whatever it accepts must be a well-formed store; the ALU results are
 * checked against the host CPU's own instructions.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virt/emulate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FL_ARITH 0x8d5ull /* CF PF AF ZF SF OF */

/* The host CPU's 64-bit ALU operation: the result and the arithmetic flags. */
static uint64_t native(enum emu_op op, uint64_t a, uint64_t b, uint64_t *flags)
{
	uint64_t f;

	switch (op) {
	case EMU_ADD: asm("add %2, %0; pushfq; popq %1" : "+r"(a), "=r"(f) : "r"(b) : "cc"); break;
	case EMU_OR:  asm("or %2, %0; pushfq; popq %1" : "+r"(a), "=r"(f) : "r"(b) : "cc"); break;
	case EMU_AND: asm("and %2, %0; pushfq; popq %1" : "+r"(a), "=r"(f) : "r"(b) : "cc"); break;
	case EMU_SUB: asm("sub %2, %0; pushfq; popq %1" : "+r"(a), "=r"(f) : "r"(b) : "cc"); break;
	case EMU_XOR: asm("xor %2, %0; pushfq; popq %1" : "+r"(a), "=r"(f) : "r"(b) : "cc"); break;
	default: f = 0; break;
	}
	*flags = f & FL_ARITH;
	return a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct emu_regs r;
	struct emu_insn in;
	uint64_t old = 0, val, f;
	unsigned int len;
	char why[96];
	bool store;
	int gpr;

	memset(&r, 0, sizeof(r));
	if (size > EMU_MAX_INSN + sizeof(r) + 8) { /* registers and the old value after the bytes */
		memcpy(&r, data + EMU_MAX_INSN, sizeof(r));
		memcpy(&old, data + EMU_MAX_INSN + sizeof(r), 8);
	}
	len = size < EMU_MAX_INSN ? (unsigned int)size : EMU_MAX_INSN;
	(void)emu_decode_mov_cr(data, len, &gpr, &len);
	len = size < EMU_MAX_INSN ? (unsigned int)size : EMU_MAX_INSN;
	(void)emu_decode_invlpg_len(data, len, &len);
	len = size < EMU_MAX_INSN ? (unsigned int)size : EMU_MAX_INSN;
	if (emu_decode(data, len, 64, &in, why, sizeof(why)))
		return 0;
	if (in.len == 0 || in.len > len || (in.width != 1 && in.width != 2 && in.width != 4 &&
					    in.width != 8) || in.reg > 15 || in.mem.scale > 8)
		abort();
	(void)emu_effective_address(&in, &r, 0x400000);
	if (in.width < 8)
		old &= (1ull << (in.width * 8)) - 1;
	val = emu_execute(&in, old, &r, &store);
	if (in.width < 8 && (val >> (in.width * 8)))
		abort(); /* a store never spills past its operand */
	if (in.width == 8 && in.op >= EMU_ADD && in.op <= EMU_XOR && store) {
		/* An ALU store leaves its register operand as it was. */
		uint64_t src = in.reg >= 0 ? r.gpr[in.reg] : in.imm;
		uint64_t care = in.op == EMU_ADD || in.op == EMU_SUB ? FL_ARITH : FL_ARITH & ~0x10ull;

		if (native(in.op, old, src, &f) != val || (r.rflags & care) != (f & care))
			abort(); /* the emulator and the CPU disagree (AF is undefined for logic ops) */
	}
	return 0;
}
