// SPDX-License-Identifier: MIT
/*
 * virt/emulate.c: decoding (lengths, operands, refusals) against encodings
 * written out here from the SDM's tables, and execution against the host
 * CPU itself: the ALU ops are run natively on random operands at every
 * width and must leave the same memory value and arithmetic flags.
 */
#include <stdint.h>

#include "tests/host/check.h"
#include "virt/emulate.h"

#define FL_CF 0x1ull
#define FL_PF 0x4ull
#define FL_AF 0x10ull
#define FL_ZF 0x40ull
#define FL_SF 0x80ull
#define FL_OF 0x800ull
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

static struct emu_insn decode_ok(const uint8_t *b, unsigned int n)
{
	struct emu_insn in;
	char why[96];
	const char *err = emu_decode(b, n, 64, &in, why, sizeof(why));

	if (err)
		fprintf(stderr, "  decode refused: %s\n", err);
	CHECK(err == NULL);
	return in;
}

#define DECODE(...)                                                            \
	({                                                                     \
		static const uint8_t b_[] = { __VA_ARGS__ };                   \
		decode_ok(b_, sizeof(b_));                                     \
	})

/* Lengths and operands of the forms a kernel uses on its page tables. */
static void test_decode_forms(void)
{
	struct emu_insn in;

	in = DECODE(0x48, 0x89, 0x07); /* mov %rax,(%rdi) */
	CHECK_EQ_U(in.op, EMU_MOV);
	CHECK_EQ_U(in.len, 3);
	CHECK_EQ_U(in.width, 8);
	CHECK_EQ_U(in.reg, 0);

	in = DECODE(0x4c, 0x89, 0x43, 0x18); /* mov %r8,0x18(%rbx) */
	CHECK_EQ_U(in.len, 4);
	CHECK_EQ_U(in.reg, 8);

	in = DECODE(0x48, 0x89, 0x84, 0x24, 0x00, 0x01, 0x00, 0x00); /* mov %rax,0x100(%rsp) */
	CHECK_EQ_U(in.len, 8);

	in = DECODE(0x48, 0x89, 0x04, 0x25, 0x00, 0x10, 0x00, 0x00); /* mov %rax,0x1000 (SIB, no base) */
	CHECK_EQ_U(in.len, 8);

	in = DECODE(0x48, 0x89, 0x05, 0x10, 0x00, 0x00, 0x00); /* mov %rax,0x10(%rip) */
	CHECK_EQ_U(in.len, 7);

	in = DECODE(0xf0, 0x49, 0x83, 0x4e, 0x18, 0x02); /* lock orq $2,0x18(%r14) */
	CHECK_EQ_U(in.op, EMU_OR);
	CHECK(in.lock);
	CHECK_EQ_U(in.len, 6);
	CHECK_EQ_U(in.width, 8);
	CHECK_EQ_U(in.imm, 2);
	CHECK(in.reg < 0);

	in = DECODE(0xf0, 0x48, 0x0f, 0xb1, 0x0a); /* lock cmpxchg %rcx,(%rdx) */
	CHECK_EQ_U(in.op, EMU_CMPXCHG);
	CHECK_EQ_U(in.len, 5);
	CHECK_EQ_U(in.reg, 1);

	in = DECODE(0x48, 0xc7, 0x07, 0xff, 0xff, 0xff, 0xff); /* movq $-1,(%rdi) */
	CHECK_EQ_U(in.op, EMU_MOV);
	CHECK_EQ_U(in.len, 7);
	CHECK_EQ_U(in.imm, ~0ull);

	in = DECODE(0x66, 0xc7, 0x07, 0x34, 0x12); /* movw $0x1234,(%rdi) */
	CHECK_EQ_U(in.width, 2);
	CHECK_EQ_U(in.len, 5);
	CHECK_EQ_U(in.imm, 0x1234);

	in = DECODE(0x80, 0x67, 0x08, 0xfd); /* andb $0xfd,0x8(%rdi) */
	CHECK_EQ_U(in.op, EMU_AND);
	CHECK_EQ_U(in.width, 1);
	CHECK_EQ_U(in.len, 4);

	in = DECODE(0x88, 0x27); /* mov %ah,(%rdi) */
	CHECK(in.high_byte);
	CHECK_EQ_U(in.reg, 4);
	in = DECODE(0x40, 0x88, 0x27); /* mov %spl,(%rdi): REX makes it SPL */
	CHECK(!in.high_byte);

	in = DECODE(0xf0, 0x48, 0x0f, 0xba, 0x2f, 0x3f); /* lock btsq $63,(%rdi) */
	CHECK_EQ_U(in.op, EMU_BTS);
	CHECK_EQ_U(in.len, 6);
	in = DECODE(0x0f, 0xba, 0x37, 0x01); /* btrl $1,(%rdi) */
	CHECK_EQ_U(in.op, EMU_BTR);
	CHECK_EQ_U(in.width, 4);

	in = DECODE(0x48, 0x87, 0x1f); /* xchg %rbx,(%rdi) */
	CHECK_EQ_U(in.op, EMU_XCHG);
	CHECK_EQ_U(in.reg, 3);

	in = DECODE(0x3e, 0x67, 0x89, 0x07); /* ds addr32 mov %eax,(%edi) */
	CHECK_EQ_U(in.len, 4);
	CHECK_EQ_U(in.width, 4);
}

static void expect_refused(const uint8_t *b, unsigned int n, const char *reason)
{
	struct emu_insn in;
	char why[96];
	const char *err = emu_decode(b, n, 64, &in, why, sizeof(why));

	CHECK(err != NULL);
	if (err)
		CHECK_STR_CONTAINS(err, reason);
}

#define REFUSED(reason, ...)                                                   \
	do {                                                                   \
		static const uint8_t b_[] = { __VA_ARGS__ };                   \
		expect_refused(b_, sizeof(b_), reason);                        \
	} while (0)

static void test_decode_refusals(void)
{
	REFUSED("register destination", 0x48, 0x89, 0xc7);     /* mov %rax,%rdi */
	REFUSED("opcode 0x0f 0x05", 0x0f, 0x05, 0x00);          /* syscall */
	REFUSED("opcode 0xff", 0xff, 0x07);                     /* incl (%rdi) */
	REFUSED("opcode 0xf7 0x17", 0x48, 0xf7, 0x17);          /* notq (%rdi) */
	REFUSED("BT or BTC", 0x0f, 0xba, 0x27, 0x01);           /* btl $1,(%rdi) */
	REFUSED("truncated", 0x48, 0x89, 0x84, 0x24, 0x00);     /* disp32 cut short */
	REFUSED("truncated", 0x48, 0xc7, 0x07, 0xff);           /* imm32 cut short */
	REFUSED("truncated", 0x48);
}

static void test_execute_mov_xchg_cmpxchg(void)
{
	struct emu_regs r = { .rflags = 0x2 };
	struct emu_insn in;
	bool store;

	in = DECODE(0x89, 0x07); /* mov %eax,(%rdi) */
	r.gpr[0] = 0xffffffff12345678ull;
	CHECK_EQ_U(emu_execute(&in, 0xdeadbeef, &r, &store), 0x12345678);
	CHECK(store);

	in = DECODE(0x88, 0x27); /* mov %ah,(%rdi) */
	r.gpr[0] = 0xab00;
	CHECK_EQ_U(emu_execute(&in, 0x11, &r, &store), 0xab);

	in = DECODE(0x48, 0x87, 0x1f); /* xchg %rbx,(%rdi) */
	r.gpr[3] = 0x1111;
	CHECK_EQ_U(emu_execute(&in, 0x2222, &r, &store), 0x1111);
	CHECK_EQ_U(r.gpr[3], 0x2222);

	in = DECODE(0x87, 0x1f); /* xchg %ebx,(%rdi): the register's upper half clears */
	r.gpr[3] = 0xffffffff00000001ull;
	CHECK_EQ_U(emu_execute(&in, 0x5, &r, &store), 0x1);
	CHECK_EQ_U(r.gpr[3], 0x5);

	in = DECODE(0xf0, 0x48, 0x0f, 0xb1, 0x0a); /* lock cmpxchg %rcx,(%rdx): equal */
	r.gpr[0] = 0x77;
	r.gpr[1] = 0x99;
	CHECK_EQ_U(emu_execute(&in, 0x77, &r, &store), 0x99);
	CHECK(r.rflags & FL_ZF);
	CHECK_EQ_U(r.gpr[0], 0x77);
	/* ... not equal: RAX gets the memory value, memory keeps it, ZF clear */
	CHECK_EQ_U(emu_execute(&in, 0x55, &r, &store), 0x55);
	CHECK(!(r.rflags & FL_ZF));
	CHECK_EQ_U(r.gpr[0], 0x55);

	in = DECODE(0x66, 0x0f, 0xb1, 0x0a); /* cmpxchg %cx,(%rdx): not equal merges AX */
	r.gpr[0] = 0xffff0000ffff1234ull;
	CHECK_EQ_U(emu_execute(&in, 0x4321, &r, &store), 0x4321);
	CHECK_EQ_U(r.gpr[0], 0xffff0000ffff4321ull);

	in = DECODE(0xf0, 0x48, 0x0f, 0xba, 0x2f, 0x3f); /* lock btsq $63,(%rdi) */
	CHECK_EQ_U(emu_execute(&in, 0x1, &r, &store), 0x8000000000000001ull);
	CHECK(!(r.rflags & FL_CF));
	CHECK_EQ_U(emu_execute(&in, 0x8000000000000000ull, &r, &store), 0x8000000000000000ull);
	CHECK(r.rflags & FL_CF);
	in = DECODE(0x0f, 0xba, 0x37, 0x21); /* btrl $33,(%rdi): the offset wraps at 32 */
	CHECK_EQ_U(emu_execute(&in, 0x3, &r, &store), 0x1);
	CHECK(r.rflags & FL_CF);
}

/* The host CPU runs op on (*m, src) and returns RFLAGS after it. */
#define NATIVE(name, insn, type, cons)                                          \
	static uint64_t name(void *mp, uint64_t s)                             \
	{                                                                      \
		type *m = mp, src = (type)s;                                   \
		uint64_t f;                                                    \
		asm volatile(insn " %2, %0\n\tpushfq\n\tpopq %1"               \
			     : "+m"(*m), "=r"(f)                                \
			     : cons(src)                                       \
			     : "cc");                                          \
		return f;                                                      \
	}
#define NATIVE_ALL(op)                                                          \
	NATIVE(native_##op##b, #op "b", uint8_t, "q")                          \
	NATIVE(native_##op##w, #op "w", uint16_t, "r")                         \
	NATIVE(native_##op##l, #op "l", uint32_t, "r")                         \
	NATIVE(native_##op##q, #op "q", uint64_t, "r")
NATIVE_ALL(add)
NATIVE_ALL(or)
NATIVE_ALL(and)
NATIVE_ALL(sub)
NATIVE_ALL(xor)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Operands that hit the edges: 0, all ones, the sign bits, and random values. */
static uint64_t operand(void)
{
	static const uint64_t edge[] = { 0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
					 0x7fffffff, 0x80000000, 0xffffffff,
					 0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull };
	uint64_t r = rng();

	return r % 3 ? rng() : edge[r / 3 % (sizeof(edge) / sizeof(edge[0]))];
}

/* op: the base opcode of "op r/m, r" (the byte form; +1 for the others). */
static void differential(uint8_t opcode, uint64_t (*const nat[4])(void *, uint64_t), bool logic)
{
	static const unsigned int widths[4] = { 1, 2, 4, 8 };

	for (int w = 0; w < 4; w++) {
		uint8_t b[4];
		unsigned int n = 0;
		struct emu_insn in;
		char why[96];

		if (widths[w] == 2)
			b[n++] = 0x66;
		if (widths[w] == 8)
			b[n++] = 0x48;
		b[n++] = widths[w] == 1 ? opcode : opcode + 1;
		b[n++] = 0x07; /* (%rdi), register operand %al/%ax/%eax/%rax */
		CHECK(emu_decode(b, n, 64, &in, why, sizeof(why)) == NULL);
		CHECK_EQ_U(in.width, widths[w]);
		for (int i = 0; i < 20000; i++) {
			uint64_t mask = widths[w] == 8 ? ~0ull : (1ull << (widths[w] * 8)) - 1;
			uint64_t old = operand() & mask, src = operand() & mask, mem = old, nflags;
			uint64_t care = logic ? FL_ARITH & ~FL_AF : FL_ARITH; /* AF is undefined */
			struct emu_regs r = { .rflags = 0x2 };
			bool store;
			uint64_t got;

			r.gpr[0] = src | (rng() & ~mask); /* the bits above the width must not matter */
			got = emu_execute(&in, old, &r, &store);
			nflags = nat[w](&mem, src);
			if (got != mem || (r.rflags & care) != (nflags & care)) {
				fprintf(stderr, "  opcode 0x%02x width %u: 0x%llx, 0x%llx -> emulated 0x%llx flags 0x%llx, the CPU 0x%llx flags 0x%llx\n",
					opcode, widths[w], (unsigned long long)old,
					(unsigned long long)src, (unsigned long long)got,
					(unsigned long long)(r.rflags & care),
					(unsigned long long)mem, (unsigned long long)(nflags & care));
				CHECK(0);
				return;
			}
		}
	}
}

#define NAT4(op)                                                                \
	((uint64_t (*const[4])(void *, uint64_t)){ native_##op##b, native_##op##w, \
						   native_##op##l, native_##op##q })

static void test_alu_against_the_cpu(void)
{
	differential(0x00, NAT4(add), false);
	differential(0x08, NAT4(or), true);
	differential(0x20, NAT4(and), true);
	differential(0x28, NAT4(sub), false);
	differential(0x30, NAT4(xor), true);
}

/* Encodings from the GNU assembler (mov %rax,%cr3 ...), lengths as it laid them out. */
static void test_decode_mov_cr_and_invlpg(void)
{
	static const struct {
		uint8_t b[8];
		unsigned int n, len;
		int gpr; /* -1: INVLPG */
	} cases[] = {
		{ { 0x0f, 0x22, 0xd8 }, 3, 3, 0 },                      /* mov %rax,%cr3 */
		{ { 0x41, 0x0f, 0x20, 0xe1 }, 4, 4, 9 },                /* mov %cr4,%r9 */
		{ { 0x41, 0x0f, 0x22, 0xc7 }, 4, 4, 15 },               /* mov %r15,%cr0 */
		{ { 0x0f, 0x01, 0x38 }, 3, 3, -1 },                     /* invlpg (%rax) */
		{ { 0x0f, 0x01, 0x7c, 0x24, 0x10 }, 5, 5, -1 },         /* invlpg 0x10(%rsp) */
		{ { 0x0f, 0x01, 0x3d, 0x78, 0x56, 0x34, 0x12 }, 7, 7, -1 }, /* invlpg disp32(%rip) */
		{ { 0x0f, 0x01, 0x3c, 0xcd, 0, 0x10, 0, 0 }, 8, 8, -1 }, /* invlpg 0x1000(,%rcx,8) */
		{ { 0x41, 0x0f, 0x01, 0xbd, 0x80, 0, 0, 0 }, 8, 8, -1 }, /* invlpg 0x80(%r13) */
		{ { 0x41, 0x0f, 0x01, 0x3c, 0xcc }, 5, 5, -1 },         /* invlpg (%r12,%rcx,8) */
	};
	static const uint8_t not_invlpg[][3] = {
		{ 0x0f, 0x01, 0xf8 }, /* swapgs: 0F 01 /7 with mod = 3 */
		{ 0x0f, 0x01, 0x10 }, /* lgdt (%rax): /2 */
	};
	unsigned int len;
	int gpr;

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = 0;
		gpr = -2;
		if (cases[i].gpr >= 0) {
			CHECK(emu_decode_mov_cr(cases[i].b, cases[i].n, &gpr, &len));
			CHECK_EQ_U(gpr, cases[i].gpr);
			CHECK(!emu_decode_invlpg_len(cases[i].b, cases[i].n, &len));
		} else {
			CHECK(emu_decode_invlpg_len(cases[i].b, cases[i].n, &len));
			CHECK(!emu_decode_mov_cr(cases[i].b, cases[i].n, &gpr, &len));
		}
		CHECK_EQ_U(len, cases[i].len);
		/* Cut short (the fetch stopped at an unmapped page): refused, never read past n. */
		CHECK(!emu_decode_mov_cr(cases[i].b, 2, &gpr, &len));
		CHECK(!emu_decode_invlpg_len(cases[i].b, 2, &len));
	}
	for (unsigned int i = 0; i < sizeof(not_invlpg) / sizeof(not_invlpg[0]); i++)
		CHECK(!emu_decode_invlpg_len(not_invlpg[i], 3, &len));
}

/*
 * The memory operand, from the assembler's encodings: register n holds
 * 0x1000 * (n + 1), so every term of the sum shows.
 */
static void test_effective_address(void)
{
	static const struct {
		uint8_t b[12];
		unsigned int n;
		uint64_t rip, want;
		int seg;
	} cases[] = {
		/* mov %rax,0x10(%rbx,%rcx,4) */
		{ { 0x48, 0x89, 0x44, 0x8b, 0x10 }, 5, 0, 0x4000 + 0x2000 * 4 + 0x10, -1 },
		/* movq $1,-0x8(%rbp) */
		{ { 0x48, 0xc7, 0x45, 0xf8, 1, 0, 0, 0 }, 8, 0, 0x6000 - 8, -1 },
		/* mov %eax,0x1234(%rip), at 0x400000: relative to the next instruction */
		{ { 0x89, 0x05, 0x34, 0x12, 0, 0 }, 6, 0x400000, 0x400006 + 0x1234, -1 },
		/* mov %rax,%gs:0x28: no base, no index; the GS base is the caller's */
		{ { 0x65, 0x48, 0x89, 0x04, 0x25, 0x28, 0, 0, 0 }, 9, 0, 0x28, EMU_SEG_GS },
		/* addr32 mov %rax,(%eax) with rax = 0x1'0000'1000: wraps at 4 GiB */
		{ { 0x67, 0x48, 0x89, 0x00 }, 4, 0, 0x1000, -1 },
		/* mov %r8,(%r12,%r13,8) */
		{ { 0x4f, 0x89, 0x04, 0xec }, 4, 0, 0xd000 + 0xe000 * 8, -1 },
		/* mov %rax,0x100(,%r9,2) */
		{ { 0x4a, 0x89, 0x04, 0x4d, 0, 1, 0, 0 }, 8, 0, 0xa000 * 2 + 0x100, -1 },
		/* lock cmpxchg %rdx,0x7f(%r13) */
		{ { 0xf0, 0x49, 0x0f, 0xb1, 0x55, 0x7f }, 6, 0, 0xe000 + 0x7f, -1 },
		/* movb $5,(%rsp) */
		{ { 0xc6, 0x04, 0x24, 5 }, 4, 0, 0x5000, -1 },
		/* movabs %rax,0x8000003ffc: no ModRM, the address in the instruction */
		{ { 0x48, 0xa3, 0xfc, 0x3f, 0, 0, 0x80, 0, 0, 0 }, 10, 0, 0x8000003ffc, -1 },
		/* movabs %al,0x1122334455667788 */
		{ { 0xa2, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }, 9, 0, 0x1122334455667788, -1 },
		/* addr32 mov %eax,0x1000 */
		{ { 0x67, 0xa3, 0, 0x10, 0, 0 }, 6, 0, 0x1000, -1 },
	};
	struct emu_regs r = { 0 };
	struct emu_insn in;
	char why[96];

	for (int i = 0; i < 16; i++)
		r.gpr[i] = 0x1000ull * (uint64_t)(i + 1);
	r.gpr[0] |= 1ull << 32;
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(emu_decode(cases[i].b, cases[i].n, 64, &in, why, sizeof(why)) == NULL);
		CHECK_EQ_U(in.len, cases[i].n);
		CHECK_EQ_U(emu_effective_address(&in, &r, cases[i].rip), cases[i].want);
		CHECK_EQ_U((unsigned int)in.mem.seg, (unsigned int)cases[i].seg);
	}
}

int main(void)
{
	RUN_TEST(test_decode_forms);
	RUN_TEST(test_decode_refusals);
	RUN_TEST(test_execute_mov_xchg_cmpxchg);
	RUN_TEST(test_alu_against_the_cpu);
	RUN_TEST(test_decode_mov_cr_and_invlpg);
	RUN_TEST(test_effective_address);
	return check_summary("test_emulate");
}
