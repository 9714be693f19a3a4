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

static struct emu_insn decode_ok_in(unsigned int bits, const uint8_t *b, unsigned int n)
{
	struct emu_insn in;
	char why[96];
	const char *err = emu_decode(b, n, bits, &in, why, sizeof(why));

	if (err)
		fprintf(stderr, "  decode refused: %s\n", err);
	CHECK(err == NULL);
	return in;
}

#define DECODE_IN(bits, ...)                                                   \
	({                                                                     \
		static const uint8_t b_[] = { __VA_ARGS__ };                   \
		decode_ok_in(bits, b_, sizeof(b_));                            \
	})
#define DECODE(...) DECODE_IN(64, __VA_ARGS__) /* 64-bit code */

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
 * emu_decode_sys(): the instructions of a CR or INVLPG exit, as GNU as laid
 * them out or, for the forms it never emits (MOV CR with mod != 3, a REX
 * or a prefix it would not write), as objdump -D decodes the bytes (each
 * line's comment). Memory operands name base, index, scale, disp, address
 * size and segment as objdump's AT&T operand says.
 */
struct sys_case {
	unsigned int bits;
	uint8_t b[15];
	unsigned int len; /* the whole encoding is b[0..len) */
	enum emu_sys_op op;
	int gpr;
	int base, index;
	unsigned int scale;
	int64_t disp;
	unsigned int addr_size;
	int seg;
};

#define NO EMU_NO_REG
#define REG_CASE(bits_, op_, gpr_, len_, ...) \
	{ .bits = bits_, .b = { __VA_ARGS__ }, .len = len_, .op = op_, .gpr = gpr_ }
#define MEM_CASE(bits_, op_, len_, base_, index_, scale_, disp_, as_, seg_, ...)                  \
	{ .bits = bits_, .b = { __VA_ARGS__ }, .len = len_, .op = op_, .gpr = NO, .base = base_, \
	  .index = index_, .scale = scale_, .disp = disp_, .addr_size = as_, .seg = seg_ }
#define TO EMU_SYS_MOV_TO_CR
#define FROM EMU_SYS_MOV_FROM_CR
#define CLTS EMU_SYS_CLTS
#define LMSW_R EMU_SYS_LMSW_REG
#define LMSW_M EMU_SYS_LMSW_MEM
#define INVLPG EMU_SYS_INVLPG
#define SNONE EMU_SEG_NONE

static const struct sys_case sys_cases[] = {
	/* MOV to and from CRn: mod is ignored, never a SIB or a displacement. */
	REG_CASE(64, TO, 0, 3, 0x0f, 0x22, 0xe0),                /* mov %rax,%cr4 (mod 3) */
	REG_CASE(64, TO, 2, 3, 0x0f, 0x22, 0x62, 0x3e),          /* mov %rdx,%cr4 (mod 1; 3e is the next insn's) */
	REG_CASE(64, TO, 4, 3, 0x0f, 0x22, 0x24, 0x25),          /* mov %rsp,%cr4 (mod 0, rm 4: no SIB) */
	REG_CASE(64, TO, 1, 3, 0x0f, 0x22, 0xa1, 0x78, 0x78),    /* mov %rcx,%cr4 (mod 2: no disp32) */
	REG_CASE(64, FROM, 5, 3, 0x0f, 0x20, 0x05, 0x00),        /* mov %cr0,%rbp (mod 0, rm 5: not RIP-relative) */
	REG_CASE(64, FROM, 5, 3, 0x0f, 0x20, 0x45),              /* mov %cr0,%rbp (mod 1) */
	REG_CASE(64, FROM, 0, 3, 0x0f, 0x20, 0xa0),              /* mov %cr4,%rax (mod 2) */
	REG_CASE(64, TO, 9, 4, 0x41, 0x0f, 0x22, 0xc1),          /* mov %r9,%cr0: REX.B */
	REG_CASE(64, TO, 10, 4, 0x41, 0x0f, 0x22, 0x62),         /* mov %r10,%cr4: REX.B, mod 1 */
	REG_CASE(64, TO, 0, 4, 0x44, 0x0f, 0x22, 0xc0),          /* mov %rax,%cr8: REX.R is the CR's */
	REG_CASE(64, FROM, 0, 4, 0x44, 0x0f, 0x20, 0xc0),        /* mov %cr8,%rax */
	REG_CASE(64, TO, 15, 4, 0x45, 0x0f, 0x22, 0xc7),         /* mov %r15,%cr8: REX.R and REX.B */
	REG_CASE(64, FROM, 12, 4, 0x41, 0x0f, 0x20, 0xdc),       /* mov %cr3,%r12 */
	REG_CASE(64, TO, 0, 5, 0x66, 0x3e, 0x0f, 0x22, 0xd8),    /* data16 ds mov %rax,%cr3 */
	REG_CASE(64, FROM, 11, 5, 0xf3, 0x41, 0x0f, 0x20, 0xe3), /* repz mov %cr4,%r11 */
	REG_CASE(64, TO, 2, 5, 0x66, 0xf3, 0x0f, 0x22, 0x62),    /* data16 repz mov %rdx,%cr4 */
	REG_CASE(64, TO, 1, 5, 0x41, 0x66, 0x0f, 0x22, 0xc1),    /* rex.B data16 mov %rcx,%cr0: the REX is not last, ignored */
	REG_CASE(64, TO, 0, 4, 0xf0, 0x0f, 0x22, 0xc0),          /* lock mov %rax,%cr0 */
	REG_CASE(32, TO, 2, 3, 0x0f, 0x22, 0x62, 0x3e),          /* mov %edx,%cr4 (mod 1) */
	REG_CASE(32, TO, 0, 3, 0x0f, 0x22, 0xe0),                /* mov %eax,%cr4 */
	REG_CASE(32, FROM, 5, 3, 0x0f, 0x20, 0x65),              /* mov %cr4,%ebp (mod 1) */
	REG_CASE(32, TO, 0, 4, 0xf0, 0x0f, 0x22, 0xc0),          /* mov %eax,%cr8: AMD's LOCK MOV CR0 */
	REG_CASE(32, TO, 0, 5, 0xf0, 0x66, 0x0f, 0x22, 0xc0),    /* data16 mov %eax,%cr8 */
	REG_CASE(32, TO, 3, 4, 0x66, 0x0f, 0x22, 0xc3),          /* data16 mov %ebx,%cr0 */
	REG_CASE(16, TO, 0, 3, 0x0f, 0x22, 0xc0),                /* mov %eax,%cr0 */
	REG_CASE(16, TO, 2, 3, 0x0f, 0x22, 0x62, 0x3e),          /* mov %edx,%cr4 (mod 1) */
	REG_CASE(16, FROM, 0, 3, 0x0f, 0x20, 0xe8),              /* mov %cr5,%eax */
	REG_CASE(16, TO, 0, 4, 0xf0, 0x0f, 0x22, 0xd8),          /* objdump: mov %eax,%cr11 (LOCK: CR 3 + 8) */

	/* CLTS after prefixes. */
	REG_CASE(64, CLTS, NO, 2, 0x0f, 0x06),                   /* clts */
	REG_CASE(64, CLTS, NO, 3, 0x46, 0x0f, 0x06),             /* rex.RX clts */
	REG_CASE(64, CLTS, NO, 4, 0x66, 0x2e, 0x0f, 0x06),       /* data16 cs clts */
	REG_CASE(64, CLTS, NO, 5, 0xf2, 0x65, 0x4f, 0x0f, 0x06), /* repnz gs rex.WRXB clts */
	REG_CASE(64, CLTS, NO, 4, 0x40, 0x66, 0x0f, 0x06),       /* a REX then 66 (objdump: a lone "rex", then data16 clts) */
	REG_CASE(32, CLTS, NO, 3, 0x3e, 0x0f, 0x06),             /* ds clts */
	REG_CASE(16, CLTS, NO, 2, 0x0f, 0x06),                   /* clts */

	/* LMSW r16. */
	REG_CASE(64, LMSW_R, 0, 3, 0x0f, 0x01, 0xf0),            /* lmsw %ax */
	REG_CASE(64, LMSW_R, 9, 4, 0x41, 0x0f, 0x01, 0xf1),      /* lmsw %r9w */
	REG_CASE(32, LMSW_R, 0, 3, 0x0f, 0x01, 0xf0),            /* lmsw %ax */
	REG_CASE(16, LMSW_R, 3, 3, 0x0f, 0x01, 0xf3),            /* lmsw %bx */
	REG_CASE(16, LMSW_R, 3, 4, 0x66, 0x0f, 0x01, 0xf3),      /* data32 lmsw %bx */

	/* LMSW m16. */
	MEM_CASE(64, LMSW_M, 3, 0, NO, 1, 0, 8, SNONE, 0x0f, 0x01, 0x30),             /* lmsw (%rax) */
	MEM_CASE(64, LMSW_M, 4, 3, NO, 1, 0x10, 8, SNONE, 0x0f, 0x01, 0x73, 0x10),    /* lmsw 0x10(%rbx) */
	MEM_CASE(64, LMSW_M, 5, 13, NO, 1, -8, 8, SNONE, 0x41, 0x0f, 0x01, 0x75, 0xf8), /* lmsw -0x8(%r13) */
	MEM_CASE(64, LMSW_M, 7, 1, NO, 1, 0x12345678, 8, SNONE,
		 0x0f, 0x01, 0xb1, 0x78, 0x56, 0x34, 0x12),                             /* lmsw 0x12345678(%rcx) */
	MEM_CASE(64, LMSW_M, 7, 7, NO, 1, 0x93, 8, SNONE,
		 0x0f, 0x01, 0xb7, 0x93, 0x00, 0x00, 0x00),                             /* lmsw 0x93(%rdi): the fuzzer's */
	MEM_CASE(64, LMSW_M, 5, 4, 1, 4, 8, 8, SNONE, 0x0f, 0x01, 0x74, 0x8c, 0x08),  /* lmsw 0x8(%rsp,%rcx,4) */
	MEM_CASE(64, LMSW_M, 6, 8, 11, 8, 0x20, 8, SNONE,
		 0x43, 0x0f, 0x01, 0x74, 0xd8, 0x20),                                   /* lmsw 0x20(%r8,%r11,8) */
	MEM_CASE(64, LMSW_M, 7, EMU_RIP, NO, 1, 0x100, 8, SNONE,
		 0x0f, 0x01, 0x35, 0x00, 0x01, 0x00, 0x00),                             /* lmsw 0x100(%rip) */
	MEM_CASE(64, LMSW_M, 4, 0, NO, 1, 0, 8, EMU_SEG_FS, 0x64, 0x0f, 0x01, 0x30),  /* lmsw %fs:(%rax) */
	MEM_CASE(64, LMSW_M, 4, 0, NO, 1, 0, 8, SNONE, 0x3e, 0x0f, 0x01, 0x30),       /* ds lmsw (%rax): no DS base in 64-bit mode */
	MEM_CASE(64, LMSW_M, 8, 5, NO, 1, 0x10, 4, SNONE,
		 0x67, 0x0f, 0x01, 0xb5, 0x10, 0x00, 0x00, 0x00),                       /* lmsw 0x10(%ebp) */
	MEM_CASE(32, LMSW_M, 4, 6, NO, 1, 4, 4, EMU_SEG_DS, 0x0f, 0x01, 0x76, 0x04),  /* lmsw 0x4(%esi) */
	MEM_CASE(32, LMSW_M, 7, 5, NO, 1, 0x10, 4, EMU_SEG_SS,
		 0x0f, 0x01, 0xb5, 0x10, 0x00, 0x00, 0x00),                             /* lmsw 0x10(%ebp) */
	MEM_CASE(32, LMSW_M, 5, 6, 1, 4, 8, 4, EMU_SEG_DS, 0x0f, 0x01, 0x74, 0x8e, 0x08), /* lmsw 0x8(%esi,%ecx,4) */
	MEM_CASE(32, LMSW_M, 8, NO, 1, 8, 0x1000, 4, EMU_SEG_DS,
		 0x0f, 0x01, 0x34, 0xcd, 0x00, 0x10, 0x00, 0x00),                       /* lmsw 0x1000(,%ecx,8) */
	MEM_CASE(32, LMSW_M, 4, 0, NO, 1, 0, 4, EMU_SEG_GS, 0x65, 0x0f, 0x01, 0x30),  /* lmsw %gs:(%eax) */
	MEM_CASE(16, LMSW_M, 3, 7, NO, 1, 0, 2, EMU_SEG_DS, 0x0f, 0x01, 0x35),        /* lmsw (%di) */
	MEM_CASE(16, LMSW_M, 4, 5, NO, 1, 0x3e, 2, EMU_SEG_SS, 0x0f, 0x01, 0x76, 0x3e), /* lmsw 0x3e(%bp) */
	MEM_CASE(16, LMSW_M, 5, 3, NO, 1, 0x10, 2, EMU_SEG_ES,
		 0x26, 0x0f, 0x01, 0x77, 0x10),                                         /* lmsw %es:0x10(%bx) */

	/* INVLPG m8. */
	MEM_CASE(64, INVLPG, 3, 0, NO, 1, 0, 8, SNONE, 0x0f, 0x01, 0x38),             /* invlpg (%rax) */
	MEM_CASE(64, INVLPG, 5, 13, NO, 1, 0x10, 8, SNONE, 0x41, 0x0f, 0x01, 0x7d, 0x10), /* invlpg 0x10(%r13) */
	MEM_CASE(64, INVLPG, 8, NO, 1, 8, 0x12345678, 8, SNONE,
		 0x0f, 0x01, 0x3c, 0xcd, 0x78, 0x56, 0x34, 0x12),                       /* invlpg 0x12345678(,%rcx,8) */
	MEM_CASE(64, INVLPG, 4, 0, NO, 1, 0, 4, SNONE, 0x67, 0x0f, 0x01, 0x38),       /* invlpg (%eax) */
	MEM_CASE(64, INVLPG, 5, 5, NO, 1, 0x10, 4, SNONE, 0x67, 0x0f, 0x01, 0x7d, 0x10), /* invlpg 0x10(%ebp) */
	MEM_CASE(64, INVLPG, 5, 5, NO, 1, 0x40, 8, EMU_SEG_GS,
		 0x65, 0x0f, 0x01, 0x7d, 0x40),                                         /* invlpg %gs:0x40(%rbp) */
	MEM_CASE(64, INVLPG, 5, 0, NO, 1, 0, 8, EMU_SEG_FS,
		 0x26, 0x64, 0x0f, 0x01, 0x38),                                         /* es invlpg %fs:(%rax) */
	MEM_CASE(32, INVLPG, 3, 0, NO, 1, 0, 4, EMU_SEG_DS, 0x0f, 0x01, 0x38),        /* invlpg (%eax) */
	MEM_CASE(32, INVLPG, 4, 5, NO, 1, 0x10, 4, EMU_SEG_SS, 0x0f, 0x01, 0x7d, 0x10), /* invlpg 0x10(%ebp) */
	MEM_CASE(32, INVLPG, 7, NO, NO, 1, 0x12345678, 4, EMU_SEG_DS,
		 0x0f, 0x01, 0x3d, 0x78, 0x56, 0x34, 0x12),                             /* invlpg 0x12345678 */
	MEM_CASE(32, INVLPG, 4, 3, 6, 1, 0, 2, EMU_SEG_DS, 0x67, 0x0f, 0x01, 0x38),   /* invlpg (%bx,%si) */
	MEM_CASE(32, INVLPG, 5, 5, NO, 1, 0x10, 2, EMU_SEG_SS,
		 0x67, 0x0f, 0x01, 0x7e, 0x10),                                         /* invlpg 0x10(%bp) */
	MEM_CASE(16, INVLPG, 3, 3, 6, 1, 0, 2, EMU_SEG_DS, 0x0f, 0x01, 0x38),         /* invlpg (%bx,%si) */
	MEM_CASE(16, INVLPG, 4, 5, NO, 1, 0x10, 2, EMU_SEG_SS, 0x0f, 0x01, 0x7e, 0x10), /* invlpg 0x10(%bp) */
	MEM_CASE(16, INVLPG, 5, NO, NO, 1, 0x1234, 2, EMU_SEG_DS,
		 0x0f, 0x01, 0x3e, 0x34, 0x12),                                         /* invlpg 0x1234 */
	MEM_CASE(16, INVLPG, 5, 5, 7, 1, 0x1234, 2, EMU_SEG_SS,
		 0x0f, 0x01, 0xbb, 0x34, 0x12),                                         /* invlpg 0x1234(%bp,%di) */
	MEM_CASE(16, INVLPG, 4, 0, NO, 1, 0, 4, EMU_SEG_DS, 0x67, 0x0f, 0x01, 0x38),  /* invlpg (%eax) */
	MEM_CASE(16, INVLPG, 5, 5, NO, 1, 0x10, 4, EMU_SEG_SS,
		 0x67, 0x0f, 0x01, 0x7d, 0x10),                                         /* invlpg 0x10(%ebp) */
};
#undef NO
#undef REG_CASE
#undef MEM_CASE
#undef TO
#undef FROM
#undef CLTS
#undef LMSW_R
#undef LMSW_M
#undef INVLPG
#undef SNONE

/* b[0..n) in a buffer of exactly n bytes, so that ASan sees a read past them. */
static const char *decode_sys_exact(unsigned int bits, const uint8_t *b, unsigned int n,
				    struct emu_sys_insn *in, char *why, unsigned int why_len)
{
	uint8_t *copy = malloc(n ? n : 1);
	const char *err;

	memcpy(copy, b, n);
	err = emu_decode_sys(copy, n, bits, in, why, why_len);
	free(copy);
	return err;
}

static void test_decode_sys(void)
{
	for (unsigned int i = 0; i < sizeof(sys_cases) / sizeof(sys_cases[0]); i++) {
		const struct sys_case *c = &sys_cases[i];
		bool mem = c->op == EMU_SYS_LMSW_MEM || c->op == EMU_SYS_INVLPG;
		struct emu_sys_insn in;
		char why[96];
		/* The bytes after the encoding (up to 15) must change nothing. */
		const char *err = decode_sys_exact(c->bits, c->b, sizeof(c->b), &in, why, sizeof(why));

		if (err)
			fprintf(stderr, "  case %u refused: %s\n", i, err);
		CHECK(err == NULL);
		if (err)
			continue;
		if (in.op != c->op || in.len != c->len || in.gpr != c->gpr)
			fprintf(stderr, "  case %u: op %d len %u gpr %d\n", i, in.op, in.len, in.gpr);
		CHECK_EQ_U(in.op, c->op);
		CHECK_EQ_U(in.len, c->len);
		CHECK_EQ_U(in.gpr, c->gpr);
		if (mem) {
			CHECK_EQ_U(in.mem.base, c->base);
			CHECK_EQ_U(in.mem.index, c->index);
			CHECK_EQ_U(in.mem.scale, c->scale);
			CHECK_EQ_U(in.mem.disp, c->disp);
			CHECK_EQ_U(in.mem.addr_size, c->addr_size);
			CHECK_EQ_U(in.mem.seg, c->seg);
		} else {
			CHECK_EQ_U(in.mem.base, EMU_NO_REG); /* no operand in memory */
		}
		/* Exactly its bytes decode the same; any fewer are refused, never read past. */
		CHECK(decode_sys_exact(c->bits, c->b, c->len, &in, why, sizeof(why)) == NULL);
		CHECK_EQ_U(in.len, c->len);
		for (unsigned int n = 0; n < c->len; n++) {
			err = decode_sys_exact(c->bits, c->b, n, &in, why, sizeof(why));
			CHECK(err != NULL);
			CHECK_STR_CONTAINS(err, "truncated");
		}
	}
}

/* The operand's address from the registers: objdump's reading of each (the "#" for RIP). */
static void test_decode_sys_address(void)
{
	struct emu_regs r = { 0 };
	struct emu_sys_insn in;
	char why[96];

	r.gpr[1] = 3;           /* rcx */
	r.gpr[4] = 0x7fff0000;  /* rsp */
	r.gpr[5] = 0xfffffff0;  /* rbp */
	r.gpr[3] = 0xffff;      /* rbx */
	r.gpr[6] = 0x12348000;  /* rsi */

	/* lmsw 0x100(%rip) at 0x5f: objdump's "# 0x166" */
	CHECK(emu_decode_sys((const uint8_t[]){ 0x0f, 0x01, 0x35, 0x00, 0x01, 0x00, 0x00 }, 7, 64, &in,
			     why, sizeof(why)) == NULL);
	CHECK_EQ_U(emu_mem_address(&in.mem, &r, 0x5f + in.len), 0x166);
	/* lmsw 0x8(%rsp,%rcx,4) */
	CHECK(emu_decode_sys((const uint8_t[]){ 0x0f, 0x01, 0x74, 0x8c, 0x08 }, 5, 64, &in, why,
			     sizeof(why)) == NULL);
	CHECK_EQ_U(emu_mem_address(&in.mem, &r, 0), 0x7fff0000 + 3 * 4 + 8);
	/* addr32 invlpg 0x10(%ebp): wraps at 32 bits */
	CHECK(emu_decode_sys((const uint8_t[]){ 0x67, 0x0f, 0x01, 0x7d, 0x10 }, 5, 64, &in, why,
			     sizeof(why)) == NULL);
	CHECK_EQ_U(emu_mem_address(&in.mem, &r, 0), 0);
	/* 16-bit invlpg 0x1234(%bp,%di) with bp 0xfff0, di 0x20: wraps at 16 bits */
	r.gpr[7] = 0x20;
	CHECK(emu_decode_sys((const uint8_t[]){ 0x0f, 0x01, 0xbb, 0x34, 0x12 }, 5, 16, &in, why,
			     sizeof(why)) == NULL);
	CHECK_EQ_U(emu_mem_address(&in.mem, &r, 0), (0xfff0 + 0x20 + 0x1234) & 0xffff);
	/* 32-bit lmsw 0x8(%esi,%ecx,4) */
	CHECK(emu_decode_sys((const uint8_t[]){ 0x0f, 0x01, 0x74, 0x8e, 0x08 }, 5, 32, &in, why,
			     sizeof(why)) == NULL);
	CHECK_EQ_U(emu_mem_address(&in.mem, &r, 0), 0x12348000 + 12 + 8);
}

static void expect_sys_refused(unsigned int bits, const uint8_t *b, unsigned int n, const char *reason)
{
	struct emu_sys_insn in;
	char why[96];
	const char *err = decode_sys_exact(bits, b, n, &in, why, sizeof(why));

	CHECK(err != NULL);
	CHECK_STR_CONTAINS(err, reason);
}

#define SYS_REFUSED(bits, reason, ...)                                        \
	do {                                                                  \
		static const uint8_t b_[] = { __VA_ARGS__ };                  \
		expect_sys_refused(bits, b_, sizeof(b_), reason);             \
	} while (0)

/* What is not one of them, as objdump reads it. */
static void test_decode_sys_refusals(void)
{
	SYS_REFUSED(64, "not LMSW or INVLPG", 0x0f, 0x01, 0xf8);      /* swapgs: /7, mod 3 */
	SYS_REFUSED(64, "not LMSW or INVLPG", 0x0f, 0x01, 0xf9);      /* rdtscp */
	SYS_REFUSED(16, "not LMSW or INVLPG", 0x0f, 0x01, 0xff);      /* tlbsync */
	SYS_REFUSED(64, "not LMSW or INVLPG", 0x0f, 0x01, 0x10);      /* lgdt (%rax): /2 */
	SYS_REFUSED(32, "not LMSW or INVLPG", 0x0f, 0x01, 0x4e, 0x04); /* sidtl 0x4(%esi): /1 */
	SYS_REFUSED(64, "not CLTS", 0x0f, 0x23, 0xc0);                /* mov %rax,%db0 */
	SYS_REFUSED(64, "not CLTS", 0x0f, 0x05);                      /* syscall */
	SYS_REFUSED(64, "not CLTS", 0x90, 0x90);                      /* nop */
	SYS_REFUSED(32, "not CLTS", 0x41, 0x0f, 0x22, 0xc0);          /* inc %ecx: no REX in 32-bit code */
	SYS_REFUSED(64, "truncated", 0x66, 0x66);                     /* prefixes only */
	SYS_REFUSED(8, "code size", 0x0f, 0x06);
	/* 14 prefixes and CLTS: 16 bytes, past the architectural 15 */
	SYS_REFUSED(64, "longer than 15", 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
		    0x66, 0x66, 0x66, 0x66, 0x0f, 0x06);
	/* 13 prefixes and MOV CR: 16 bytes */
	SYS_REFUSED(64, "longer than 15", 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e,
		    0x3e, 0x3e, 0x3e, 0x0f, 0x22, 0xc0);
	/* 10 prefixes and a 5-byte INVLPG: 15 bytes, the limit, decodes */
	{
		static const uint8_t b[] = { 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
					     0x0f, 0x01, 0x7d, 0x10, 0x00 };
		struct emu_sys_insn in;

		CHECK(decode_sys_exact(64, b, sizeof(b), &in, 0, 0) == NULL);
		CHECK_EQ_U(in.len, 14);
	}
	/* The same with 12 prefixes: 16 bytes */
	SYS_REFUSED(64, "longer than 15", 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
		    0x66, 0x66, 0x0f, 0x01, 0x7d, 0x10);
}

/* The 64-bit wrappers the fuzzer calls: the same decoder. */
static void test_decode_sys_wrappers(void)
{
	static const uint8_t mov_cr4_mod1[] = { 0x0f, 0x22, 0x62, 0x3e };
	static const uint8_t lmsw_mem[] = { 0x0f, 0x01, 0xb7, 0x93, 0x00, 0x00, 0x00 };
	static const uint8_t invlpg_p[] = { 0x3e, 0x0f, 0x01, 0x38 }; /* ds invlpg (%rax) */
	unsigned int len = 0;
	int gpr = -1;

	CHECK(emu_decode_mov_cr(mov_cr4_mod1, sizeof(mov_cr4_mod1), &gpr, &len));
	CHECK_EQ_U(gpr, 2);
	CHECK_EQ_U(len, 3);
	CHECK(!emu_decode_mov_cr(lmsw_mem, sizeof(lmsw_mem), &gpr, &len));
	CHECK(!emu_decode_invlpg_len(lmsw_mem, sizeof(lmsw_mem), &len));
	CHECK(emu_decode_invlpg_len(invlpg_p, sizeof(invlpg_p), &len));
	CHECK_EQ_U(len, 4);
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

/* ---- 16-, 32- and 64-bit code, loads, strings: virt/emulate.h's wider API. ---- */

#define D_TO_REG 0x01
#define D_READ 0x02
#define D_WRITE 0x04
#define D_HIGH 0x08
#define D_LOCK 0x10
#define D_REP 0x20
#define NONE EMU_NO_REG

/* Encodings checked against the GNU assembler (.code16/.code32/.code64); fields from the SDM. */
static const struct decode_case {
	const char *what;
	unsigned int bits;
	uint8_t b[15];
	unsigned int n;
	enum emu_op op;
	unsigned int len, width, reg_width;
	int reg;
	unsigned int flags;
	uint64_t imm;
	int base, index;
	unsigned int scale;
	int64_t disp;
	unsigned int addr_size;
	int seg;
} decode_cases[] = {
	{ "mov %ax,(%bx)", 16, { 0x89, 0x07 }, 2,
	  EMU_MOV, 2, 2, 2, 0, D_WRITE, 0, 3, NONE, 1, 0, 2, EMU_SEG_DS },
	{ "mov 0x10(%bp,%si),%cx", 16, { 0x8b, 0x4a, 0x10 }, 3,
	  EMU_MOV, 3, 2, 2, 1, D_TO_REG | D_READ, 0, 5, 6, 1, 0x10, 2, EMU_SEG_SS },
	{ "movb $5,0x1234", 16, { 0xc6, 0x06, 0x34, 0x12, 0x05 }, 5,
	  EMU_MOV, 5, 1, 1, -1, D_WRITE, 5, NONE, NONE, 1, 0x1234, 2, EMU_SEG_DS },
	{ "addl %eax,-2(%di)", 16, { 0x66, 0x01, 0x45, 0xfe }, 4,
	  EMU_ADD, 4, 4, 4, 0, D_READ | D_WRITE, 0, 7, NONE, 1, -2, 2, EMU_SEG_DS },
	{ "mov %es:0(%bp),%al", 16, { 0x26, 0x8a, 0x46, 0x00 }, 4,
	  EMU_MOV, 4, 1, 1, 0, D_TO_REG | D_READ, 0, 5, NONE, 1, 0, 2, EMU_SEG_ES },
	{ "mov %ds:0(%bp),%al", 16, { 0x3e, 0x8a, 0x46, 0x00 }, 4,
	  EMU_MOV, 4, 1, 1, 0, D_TO_REG | D_READ, 0, 5, NONE, 1, 0, 2, EMU_SEG_DS },
	{ "cmpw $-1,(%si)", 16, { 0x83, 0x3c, 0xff }, 3,
	  EMU_CMP, 3, 2, 2, -1, D_READ, ~0ull, 6, NONE, 1, 0, 2, EMU_SEG_DS },
	{ "mov 0x1000,%ax", 16, { 0xa1, 0x00, 0x10 }, 3,
	  EMU_MOV, 3, 2, 2, 0, D_TO_REG | D_READ, 0, NONE, NONE, 1, 0x1000, 2, EMU_SEG_DS },
	{ "mov %ax,0xfffe", 16, { 0xa3, 0xfe, 0xff }, 3,
	  EMU_MOV, 3, 2, 2, 0, D_WRITE, 0, NONE, NONE, 1, 0xfffe, 2, EMU_SEG_DS },
	{ "addr32 mov %ax,(%eax,%ebx,2)", 16, { 0x67, 0x89, 0x04, 0x58 }, 4,
	  EMU_MOV, 4, 2, 2, 0, D_WRITE, 0, 0, 3, 2, 0, 4, EMU_SEG_DS },
	{ "mov %ah,(%bx,%di)", 16, { 0x88, 0x21 }, 2,
	  EMU_MOV, 2, 1, 1, 4, D_WRITE | D_HIGH, 0, 3, 7, 1, 0, 2, EMU_SEG_DS },
	{ "xchg %dx,(%bp,%di)", 16, { 0x87, 0x13 }, 2,
	  EMU_XCHG, 2, 2, 2, 2, D_READ | D_WRITE, 0, 5, 7, 1, 0, 2, EMU_SEG_SS },
	{ "lock btsw $3,(%bx)", 16, { 0xf0, 0x0f, 0xba, 0x2f, 0x03 }, 5,
	  EMU_BTS, 5, 2, 2, -1, D_READ | D_WRITE | D_LOCK, 3, 3, NONE, 1, 0, 2, EMU_SEG_DS },
	{ "movzbl (%si),%eax", 16, { 0x66, 0x0f, 0xb6, 0x04 }, 4,
	  EMU_MOVZX, 4, 1, 4, 0, D_TO_REG | D_READ, 0, 6, NONE, 1, 0, 2, EMU_SEG_DS },
	{ "movzbw (%bx),%ax", 16, { 0x0f, 0xb6, 0x07 }, 3,
	  EMU_MOVZX, 3, 1, 2, 0, D_TO_REG | D_READ, 0, 3, NONE, 1, 0, 2, EMU_SEG_DS },
	{ "mov %ax,0x7fff(%bp)", 16, { 0x89, 0x86, 0xff, 0x7f }, 4,
	  EMU_MOV, 4, 2, 2, 0, D_WRITE, 0, 5, NONE, 1, 0x7fff, 2, EMU_SEG_SS },
	{ "stosb", 16, { 0xaa }, 1,
	  EMU_STOS, 1, 1, 1, 0, D_WRITE, 0, 7, NONE, 1, 0, 2, EMU_SEG_ES },
	{ "rep movsw", 16, { 0xf3, 0xa5 }, 2,
	  EMU_MOVS, 2, 2, 2, -1, D_READ | D_WRITE | D_REP, 0, 7, NONE, 1, 0, 2, EMU_SEG_ES },

	{ "mov %eax,0xfee000b0", 32, { 0xa3, 0xb0, 0x00, 0xe0, 0xfe }, 5,
	  EMU_MOV, 5, 4, 4, 0, D_WRITE, 0, NONE, NONE, 1, 0xfee000b0, 4, EMU_SEG_DS },
	{ "mov 0xfee00020,%ecx (mod 0 rm 5: absolute)", 32, { 0x8b, 0x0d, 0x20, 0x00, 0xe0, 0xfe }, 6,
	  EMU_MOV, 6, 4, 4, 1, D_TO_REG | D_READ, 0, NONE, NONE, 1, (int32_t)0xfee00020, 4, EMU_SEG_DS },
	{ "mov %ax,0x8(%esp)", 32, { 0x66, 0x89, 0x44, 0x24, 0x08 }, 5,
	  EMU_MOV, 5, 2, 2, 0, D_WRITE, 0, 4, NONE, 1, 8, 4, EMU_SEG_SS },
	{ "sbbl $0x12345678,(%ebx,%esi,4)", 32, { 0x81, 0x1c, 0xb3, 0x78, 0x56, 0x34, 0x12 }, 7,
	  EMU_SBB, 7, 4, 4, -1, D_READ | D_WRITE, 0x12345678, 3, 6, 4, 0, 4, EMU_SEG_DS },
	{ "movsbl 4(%ebp),%edx", 32, { 0x0f, 0xbe, 0x55, 0x04 }, 4,
	  EMU_MOVSX, 4, 1, 4, 2, D_TO_REG | D_READ, 0, 5, NONE, 1, 4, 4, EMU_SEG_SS },
	{ "testb $0x80,(%eax)", 32, { 0xf6, 0x00, 0x80 }, 3,
	  EMU_TEST, 3, 1, 1, -1, D_READ, 0xffffffffffffff80ull, 0, NONE, 1, 0, 4, EMU_SEG_DS },
	{ "addr16 mov %eax,(%bx,%si)", 32, { 0x67, 0x89, 0x00 }, 3,
	  EMU_MOV, 3, 4, 4, 0, D_WRITE, 0, 3, 6, 1, 0, 2, EMU_SEG_DS },
	{ "rep stosl", 32, { 0xf3, 0xab }, 2,
	  EMU_STOS, 2, 4, 4, 0, D_WRITE | D_REP, 0, 7, NONE, 1, 0, 4, EMU_SEG_ES },
	{ "lock cmpxchg %ecx,(%edx)", 32, { 0xf0, 0x0f, 0xb1, 0x0a }, 4,
	  EMU_CMPXCHG, 4, 4, 4, 1, D_READ | D_WRITE | D_LOCK, 0, 2, NONE, 1, 0, 4, EMU_SEG_DS },
	{ "movzwl (%eax),%eax", 32, { 0x0f, 0xb7, 0x00 }, 3,
	  EMU_MOVZX, 3, 2, 4, 0, D_TO_REG | D_READ, 0, 0, NONE, 1, 0, 4, EMU_SEG_DS },
	{ "xor (%edi),%ah", 32, { 0x32, 0x27 }, 2,
	  EMU_XOR, 2, 1, 1, 4, D_TO_REG | D_READ | D_HIGH, 0, 7, NONE, 1, 0, 4, EMU_SEG_DS },
	{ "%gs:cmp %edx,(%ecx)", 32, { 0x65, 0x39, 0x11 }, 3,
	  EMU_CMP, 3, 4, 4, 2, D_READ, 0, 1, NONE, 1, 0, 4, EMU_SEG_GS },
	{ "testl %ebx,(%eax)", 32, { 0x85, 0x18 }, 2,
	  EMU_TEST, 2, 4, 4, 3, D_READ, 0, 0, NONE, 1, 0, 4, EMU_SEG_DS },
	{ "adc (%eax),%dx", 32, { 0x66, 0x13, 0x10 }, 3,
	  EMU_ADC, 3, 2, 2, 2, D_TO_REG | D_READ, 0, 0, NONE, 1, 0, 4, EMU_SEG_DS },

	{ "mov 0x10(%rip),%eax", 64, { 0x8b, 0x05, 0x10, 0, 0, 0 }, 6,
	  EMU_MOV, 6, 4, 4, 0, D_TO_REG | D_READ, 0, EMU_RIP, NONE, 1, 0x10, 8, EMU_SEG_NONE },
	{ "mov %eax,0x10(%eip)", 64, { 0x67, 0x89, 0x05, 0x10, 0, 0, 0 }, 7,
	  EMU_MOV, 7, 4, 4, 0, D_WRITE, 0, EMU_RIP, NONE, 1, 0x10, 4, EMU_SEG_NONE },
	{ "movslq (%rdi),%rax", 64, { 0x48, 0x63, 0x07 }, 3,
	  EMU_MOVSX, 3, 4, 8, 0, D_TO_REG | D_READ, 0, 7, NONE, 1, 0, 8, EMU_SEG_NONE },
	{ "movsxd (%rdi),%eax", 64, { 0x63, 0x07 }, 2,
	  EMU_MOVSX, 2, 4, 4, 0, D_TO_REG | D_READ, 0, 7, NONE, 1, 0, 8, EMU_SEG_NONE },
	{ "adc %r9,0x8(%r10)", 64, { 0x4d, 0x11, 0x4a, 0x08 }, 4,
	  EMU_ADC, 4, 8, 8, 9, D_READ | D_WRITE, 0, 10, NONE, 1, 8, 8, EMU_SEG_NONE },
	{ "cmp (%rax),%r15b", 64, { 0x44, 0x3a, 0x38 }, 3,
	  EMU_CMP, 3, 1, 1, 15, D_TO_REG | D_READ, 0, 0, NONE, 1, 0, 8, EMU_SEG_NONE },
	{ "mov %sil,(%rdi)", 64, { 0x40, 0x88, 0x37 }, 3,
	  EMU_MOV, 3, 1, 1, 6, D_WRITE, 0, 7, NONE, 1, 0, 8, EMU_SEG_NONE },
	{ "rep stosq", 64, { 0xf3, 0x48, 0xab }, 3,
	  EMU_STOS, 3, 8, 8, 0, D_WRITE | D_REP, 0, 7, NONE, 1, 0, 8, EMU_SEG_NONE },
	{ "addr32 rep movsb", 64, { 0x67, 0xf3, 0xa4 }, 3,
	  EMU_MOVS, 3, 1, 1, -1, D_READ | D_WRITE | D_REP, 0, 7, NONE, 1, 0, 4, EMU_SEG_NONE },
	{ "rep stosl: Linux's memset(early_top_pgt)", 64, { 0xf3, 0xab }, 2,
	  EMU_STOS, 2, 4, 4, 0, D_WRITE | D_REP, 0, 7, NONE, 1, 0, 8, EMU_SEG_NONE },
	{ "stosb", 64, { 0xaa }, 1,
	  EMU_STOS, 1, 1, 1, 0, D_WRITE, 0, 7, NONE, 1, 0, 8, EMU_SEG_NONE },
	{ "stosw", 64, { 0x66, 0xab }, 2,
	  EMU_STOS, 2, 2, 2, 0, D_WRITE, 0, 7, NONE, 1, 0, 8, EMU_SEG_NONE },
	{ "rep movsq", 64, { 0xf3, 0x48, 0xa5 }, 3,
	  EMU_MOVS, 3, 8, 8, -1, D_READ | D_WRITE | D_REP, 0, 7, NONE, 1, 0, 8, EMU_SEG_NONE },
	{ "rep movsb", 64, { 0xf3, 0xa4 }, 2,
	  EMU_MOVS, 2, 1, 1, -1, D_READ | D_WRITE | D_REP, 0, 7, NONE, 1, 0, 8, EMU_SEG_NONE },
	{ "addr32 rep stosq", 64, { 0x67, 0xf3, 0x48, 0xab }, 4,
	  EMU_STOS, 4, 8, 8, 0, D_WRITE | D_REP, 0, 7, NONE, 1, 0, 4, EMU_SEG_NONE },
	{ "movabs 0xfee00000,%eax", 64, { 0xa1, 0x00, 0x00, 0xe0, 0xfe, 0, 0, 0, 0 }, 9,
	  EMU_MOV, 9, 4, 4, 0, D_TO_REG | D_READ, 0, NONE, NONE, 1, 0xfee00000, 8, EMU_SEG_NONE },
	{ "testq $-2,8(%rsp)", 64, { 0x48, 0xf7, 0x44, 0x24, 0x08, 0xfe, 0xff, 0xff, 0xff }, 9,
	  EMU_TEST, 9, 8, 8, -1, D_READ, ~1ull, 4, NONE, 1, 8, 8, EMU_SEG_NONE },
	{ "ds mov (%rdi),%eax: DS means nothing in 64-bit mode", 64, { 0x3e, 0x8b, 0x07 }, 3,
	  EMU_MOV, 3, 4, 4, 0, D_TO_REG | D_READ, 0, 7, NONE, 1, 0, 8, EMU_SEG_NONE },
	{ "movsbw (%rdi),%ax", 64, { 0x66, 0x0f, 0xbe, 0x07 }, 4,
	  EMU_MOVSX, 4, 1, 2, 0, D_TO_REG | D_READ, 0, 7, NONE, 1, 0, 8, EMU_SEG_NONE },
	{ "REX before 0x66 is ignored: mov %ax,(%rdi)", 64, { 0x48, 0x66, 0x89, 0x07 }, 4,
	  EMU_MOV, 4, 2, 2, 0, D_WRITE, 0, 7, NONE, 1, 0, 8, EMU_SEG_NONE },
	{ "REX.W beats 0x66: movq $-1,(%rdi), imm32", 64, { 0x66, 0x48, 0xc7, 0x07, 0xff, 0xff, 0xff, 0xff }, 8,
	  EMU_MOV, 8, 8, 8, -1, D_WRITE, ~0ull, 7, NONE, 1, 0, 8, EMU_SEG_NONE },
	{ "lock sbbb $1,%fs:(%rax)", 64, { 0xf0, 0x64, 0x80, 0x18, 0x01 }, 5,
	  EMU_SBB, 5, 1, 1, -1, D_READ | D_WRITE | D_LOCK, 1, 0, NONE, 1, 0, 8, EMU_SEG_FS },
	{ "mov (%r12),%r13w", 64, { 0x66, 0x45, 0x8b, 0x2c, 0x24 }, 5,
	  EMU_MOV, 5, 2, 2, 13, D_TO_REG | D_READ, 0, 12, NONE, 1, 0, 8, EMU_SEG_NONE },
};

static void test_decode_table(void)
{
	for (unsigned int i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		const struct decode_case *c = &decode_cases[i];
		struct emu_insn in;
		char why[96];
		const char *err = emu_decode(c->b, c->n, c->bits, &in, why, sizeof(why));
		unsigned int flags;

		if (err) {
			fprintf(stderr, "  %u-bit %s: refused: %s\n", c->bits, c->what, err);
			CHECK(0);
			continue;
		}
		flags = (in.to_reg ? D_TO_REG : 0) | (in.reads_mem ? D_READ : 0) |
			(in.writes_mem ? D_WRITE : 0) | (in.high_byte ? D_HIGH : 0) |
			(in.lock ? D_LOCK : 0) | (in.rep ? D_REP : 0);
		if (in.op != c->op || in.len != c->len || in.width != c->width ||
		    in.reg_width != c->reg_width || in.reg != c->reg || flags != c->flags ||
		    (c->reg < 0 && in.imm != c->imm) || in.mem.base != c->base ||
		    in.mem.index != c->index || in.mem.scale != c->scale || in.mem.disp != c->disp ||
		    in.mem.addr_size != c->addr_size || in.mem.seg != c->seg || in.code_bits != c->bits) {
			fprintf(stderr, "  %u-bit %s: op %d len %u width %u/%u reg %d flags 0x%x imm 0x%llx [base %d index %d *%u disp 0x%llx, %u-byte address, seg %d]\n",
				c->bits, c->what, in.op, in.len, in.width, in.reg_width, in.reg, flags,
				(unsigned long long)in.imm, in.mem.base, in.mem.index, in.mem.scale,
				(unsigned long long)in.mem.disp, in.mem.addr_size, in.mem.seg);
			CHECK(0);
		}
	}
}

/* Each string op's source: [DS or the prefix's segment : rSI]. */
static void test_decode_string_source(void)
{
	static const struct {
		unsigned int bits;
		uint8_t b[4];
		unsigned int n, addr_size;
		int seg;
	} cases[] = {
		{ 16, { 0xf3, 0xa5 }, 2, 2, EMU_SEG_DS },      /* rep movsw */
		{ 32, { 0x64, 0xa4 }, 2, 4, EMU_SEG_FS },      /* movsb %fs:(%esi),%es:(%edi) */
		{ 32, { 0x2e, 0x67, 0xa5 }, 3, 2, EMU_SEG_CS }, /* movsl %cs:(%si),%es:(%di) */
		{ 64, { 0x65, 0x48, 0xa5 }, 3, 8, EMU_SEG_GS }, /* movsq %gs:(%rsi),%es:(%rdi) */
		{ 64, { 0x67, 0xf3, 0xa4 }, 3, 4, EMU_SEG_NONE }, /* addr32 rep movsb */
	};
	struct emu_insn in;
	char why[96];

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(emu_decode(cases[i].b, cases[i].n, cases[i].bits, &in, why, sizeof(why)) == NULL);
		CHECK_EQ_U(in.op, EMU_MOVS);
		CHECK_EQ_U(in.src.base, 6);
		CHECK_EQ_U(in.src.addr_size, cases[i].addr_size);
		CHECK_EQ_U(in.mem.addr_size, cases[i].addr_size);
		CHECK_EQ_U((unsigned int)in.src.seg, (unsigned int)cases[i].seg);
		/* The destination's segment is ES whatever the prefix (none in 64-bit mode). */
		CHECK_EQ_U((unsigned int)in.mem.seg,
			   (unsigned int)(cases[i].bits == 64 ? EMU_SEG_NONE : EMU_SEG_ES));
	}
}

static void expect_refused_in(unsigned int bits, const uint8_t *b, unsigned int n, const char *reason)
{
	struct emu_insn in;
	char why[96];
	const char *err = emu_decode(b, n, bits, &in, why, sizeof(why));

	CHECK(err != NULL);
	if (err)
		CHECK_STR_CONTAINS(err, reason);
}

#define REFUSED_IN(bits, reason, ...)                                          \
	do {                                                                   \
		static const uint8_t b_[] = { __VA_ARGS__ };                   \
		expect_refused_in(bits, b_, sizeof(b_), reason);               \
	} while (0)

static void test_decode_refusals_all_modes(void)
{
	REFUSED_IN(32, "INC or DEC, not a memory instruction: opcode 0x40", 0x40, 0x89, 0x07);
	REFUSED_IN(16, "INC or DEC", 0x4f);
	REFUSED_IN(16, "opcode 0x63", 0x63, 0x07);               /* arpl %ax,(%bx) */
	REFUSED_IN(64, "LOCK", 0xf0, 0x89, 0x07);                 /* lock mov: #UD */
	REFUSED_IN(64, "LOCK", 0xf0, 0x03, 0x07);                 /* lock add (%rdi),%eax: #UD */
	REFUSED_IN(32, "LOCK", 0xf0, 0x39, 0x07);                 /* lock cmp: #UD */
	REFUSED_IN(32, "LOCK", 0xf0, 0xa5);                       /* lock movsl: #UD */
	REFUSED_IN(32, "opcode 0x0f 0xab", 0x0f, 0xab, 0x07);     /* bts %eax,(%edi) */
	REFUSED_IN(32, "opcode 0xf7 0x17", 0xf7, 0x17);           /* notl (%edi) */
	REFUSED_IN(16, "opcode 0xc7 0x0f", 0xc7, 0x0f, 0, 0);     /* C7 /1 */
	REFUSED_IN(64, "opcode 0x82", 0x82, 0x07, 0x01);          /* invalid in 64-bit mode */
	REFUSED_IN(64, "opcode 0xa6", 0xa6);                      /* cmpsb */
	REFUSED_IN(16, "register destination", 0x89, 0xc0);       /* mov %ax,%ax */
	REFUSED_IN(32, "register destination", 0x8b, 0xc1);       /* mov %ecx,%eax: a load from a register */
	REFUSED_IN(16, "truncated", 0x8b, 0x46);                  /* disp8 missing */
	REFUSED_IN(16, "truncated", 0x8b, 0x86, 0x00);            /* disp16 cut short */
	REFUSED_IN(16, "truncated", 0xa1, 0x00);                  /* moffs16 cut short */
	REFUSED_IN(32, "truncated", 0xa1, 0x00, 0x10, 0x00);      /* moffs32 cut short */
	REFUSED_IN(64, "truncated", 0xa1, 0, 0, 0, 0, 0, 0, 0);   /* moffs64 cut short */
	REFUSED_IN(32, "truncated", 0x81, 0x00, 0x01, 0x02, 0x03); /* imm32 cut short */
	REFUSED_IN(16, "truncated", 0x81, 0x00, 0x01);            /* imm16 cut short */
	REFUSED_IN(32, "truncated", 0x89, 0x04);                  /* SIB missing */
	REFUSED_IN(16, "truncated", 0x0f);
	REFUSED_IN(32, "truncated", 0x66, 0x67, 0xf3);            /* prefixes only */
	REFUSED_IN(8, "code size", 0x89, 0x07);
	REFUSED_IN(64, "longer than 15 bytes", 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
		   0x66, 0x66, 0x66, 0x66, 0x66, 0x89, 0x04, 0x24);
}

/*
 * The memory operand in 16- and 32-bit code: the sums written out by hand.
 * BX 0x1000, BP 0x2000, SI 0x0234, DI 0x0300, with bits above 16 that a
 * 16-bit address must drop (and above 32 that a 32-bit one must).
 */
static void test_effective_address_16_32(void)
{
	static const struct {
		unsigned int bits;
		uint8_t b[8];
		unsigned int n;
		uint64_t rip, want;
		int seg;
	} cases[] = {
		{ 16, { 0x89, 0x00 }, 2, 0, 0x1234, EMU_SEG_DS },             /* (%bx,%si) */
		{ 16, { 0x89, 0x41, 0xff }, 3, 0, 0x12ff, EMU_SEG_DS },       /* -1(%bx,%di) */
		{ 16, { 0x89, 0x42, 0x10 }, 3, 0, 0x2244, EMU_SEG_SS },       /* 0x10(%bp,%si) */
		{ 16, { 0x89, 0x03 }, 2, 0, 0x2300, EMU_SEG_SS },             /* (%bp,%di) */
		{ 16, { 0x89, 0x04 }, 2, 0, 0x0234, EMU_SEG_DS },             /* (%si) */
		{ 16, { 0x89, 0x05 }, 2, 0, 0x0300, EMU_SEG_DS },             /* (%di) */
		{ 16, { 0x89, 0x46, 0x80 }, 3, 0, 0x1f80, EMU_SEG_SS },       /* -0x80(%bp) */
		{ 16, { 0x89, 0x07 }, 2, 0, 0x1000, EMU_SEG_DS },             /* (%bx) */
		{ 16, { 0x89, 0x06, 0xfe, 0xff }, 4, 0x5000, 0xfffe, EMU_SEG_DS }, /* 0xfffe: no base */
		{ 16, { 0x89, 0x86, 0x00, 0xf0 }, 4, 0, 0x1000, EMU_SEG_SS }, /* 0xf000(%bp): wraps at 64 KiB */
		{ 16, { 0x89, 0x81, 0x00, 0xed }, 4, 0, 0x0000, EMU_SEG_DS }, /* 0xed00(%bx,%di): 0x10000 */
		{ 16, { 0x36, 0x89, 0x07 }, 3, 0, 0x1000, EMU_SEG_SS },       /* %ss:(%bx) */
		{ 16, { 0x3e, 0x89, 0x46, 0x00 }, 4, 0, 0x2000, EMU_SEG_DS },/* %ds:0(%bp) */
		{ 16, { 0x67, 0x89, 0x04, 0x73 }, 4, 0, 0x31468, EMU_SEG_DS }, /* (%ebx,%esi,2) */
		{ 32, { 0x67, 0x89, 0x42, 0x10 }, 4, 0, 0x2244, EMU_SEG_SS }, /* 0x10(%bp,%si) */
		{ 32, { 0x89, 0x45, 0xfc }, 3, 0, 0x11ffc, EMU_SEG_SS },      /* -4(%ebp) */
		{ 32, { 0x89, 0x44, 0x24, 0x08 }, 4, 0, 0x33008, EMU_SEG_SS }, /* 8(%esp) */
		{ 32, { 0x89, 0x04, 0x2b }, 3, 0, 0x23000, EMU_SEG_DS },      /* (%ebx,%ebp): base EBX */
		/* mov %eax,0xfee000b0: mod 0 rm 5 is absolute here, whatever rip is */
		{ 32, { 0x89, 0x05, 0xb0, 0x00, 0xe0, 0xfe }, 6, 0x400000, 0xfee000b0, EMU_SEG_DS },
		{ 32, { 0x89, 0x04, 0x25, 0xb0, 0x00, 0xe0, 0xfe }, 7, 0, 0xfee000b0, EMU_SEG_DS },
		/* 0xf0000000(%eax) with eax 0xf0001000: wraps at 4 GiB */
		{ 32, { 0x89, 0x80, 0x00, 0x00, 0x00, 0xf0 }, 6, 0, 0xe0001000, EMU_SEG_DS },
		/* mov %eax,0x10(%eip) at 0xfffffff0: wraps at 4 GiB */
		{ 64, { 0x67, 0x89, 0x05, 0x10, 0, 0, 0 }, 7, 0xfffffff0, 0x7, EMU_SEG_NONE },
	};
	struct emu_regs r = { 0 };
	struct emu_insn in;
	char why[96];

	r.gpr[0] = 0xabcd0000f0001000ull; /* eax 0xf0001000 */
	r.gpr[3] = 0xffff000000011000ull; /* bx 0x1000, ebx 0x11000 */
	r.gpr[4] = 0x0000000500033000ull; /* esp 0x33000 */
	r.gpr[5] = 0x0000000100012000ull; /* bp 0x2000, ebp 0x12000 */
	r.gpr[6] = 0x7777000000010234ull; /* si 0x0234, esi 0x10234 */
	r.gpr[7] = 0x5555000000010300ull; /* di 0x0300, edi 0x10300 */
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (emu_decode(cases[i].b, cases[i].n, cases[i].bits, &in, why, sizeof(why))) {
			fprintf(stderr, "  case %u refused: %s\n", i, why);
			CHECK(0);
			continue;
		}
		CHECK_EQ_U(in.len, cases[i].n);
		if (emu_effective_address(&in, &r, cases[i].rip) != cases[i].want) {
			fprintf(stderr, "  case %u: 0x%llx, want 0x%llx\n", i,
				(unsigned long long)emu_effective_address(&in, &r, cases[i].rip),
				(unsigned long long)cases[i].want);
			CHECK(0);
		}
		CHECK_EQ_U((unsigned int)in.mem.seg, (unsigned int)cases[i].seg);
	}
}

/* Loads: the register written as the CPU writes it (merge below 32 bits, zero-extend at 32). */
static void test_execute_loads(void)
{
	static const struct {
		const char *what;
		unsigned int bits;
		uint8_t b[6];
		unsigned int n;
		int reg;
		uint64_t before, mem, after;
	} cases[] = {
		{ "mov (%rdi),%eax", 64, { 0x8b, 0x07 }, 2, 0, ~0ull, 0x80000001, 0x80000001 },
		{ "mov (%rdi),%ax", 64, { 0x66, 0x8b, 0x07 }, 3, 0, 0x1111222233334444ull, 0xabcd,
		  0x111122223333abcdull },
		{ "mov (%rdi),%ah", 64, { 0x8a, 0x27 }, 2, 0, 0x1234, 0xee, 0xee34 },
		{ "mov (%rdi),%spl", 64, { 0x40, 0x8a, 0x27 }, 3, 4, 0x1234, 0xee, 0x12ee },
		{ "mov (%rdi),%rax", 64, { 0x48, 0x8b, 0x07 }, 3, 0, 0, 0x8877665544332211ull,
		  0x8877665544332211ull },
		{ "movsbq (%rdi),%rax", 64, { 0x48, 0x0f, 0xbe, 0x07 }, 4, 0, 0, 0x80, 0xffffffffffffff80ull },
		{ "movsbl (%rdi),%eax", 64, { 0x0f, 0xbe, 0x07 }, 3, 0, ~0ull, 0x80, 0xffffff80 },
		{ "movzwl (%rdi),%eax", 64, { 0x0f, 0xb7, 0x07 }, 3, 0, ~0ull, 0x8001, 0x8001 },
		{ "movsbw (%rdi),%ax", 64, { 0x66, 0x0f, 0xbe, 0x07 }, 4, 0, 0xaaaaaaaaaaaaaaaaull, 0xff,
		  0xaaaaaaaaaaaaffffull },
		{ "movswq (%rdi),%r9", 64, { 0x4c, 0x0f, 0xbf, 0x0f }, 4, 9, 0, 0x8000, 0xffffffffffff8000ull },
		{ "movslq (%rdi),%rax", 64, { 0x48, 0x63, 0x07 }, 3, 0, 0, 0x80000000, 0xffffffff80000000ull },
		{ "movsxd (%rdi),%eax", 64, { 0x63, 0x07 }, 2, 0, ~0ull, 0x80000000, 0x80000000 },
		{ "mov (%bx),%ax", 16, { 0x8b, 0x07 }, 2, 0, ~0ull, 0x1234, 0xffffffffffff1234ull },
		{ "mov (%bx),%eax", 16, { 0x66, 0x8b, 0x07 }, 3, 0, ~0ull, 0x12345678, 0x12345678 },
		{ "movzbw (%bx),%dx", 16, { 0x0f, 0xb6, 0x17 }, 3, 2, 0xffffffffffffffffull, 0x80,
		  0xffffffffffff0080ull },
		{ "mov 0xfee00020,%eax", 32, { 0xa1, 0x20, 0x00, 0xe0, 0xfe }, 5, 0, 0xdeadbeef00000000ull,
		  0x50000, 0x50000 },
		{ "mov 0x1000,%al", 16, { 0xa0, 0x00, 0x10 }, 3, 0, 0x1234, 0x56, 0x1256 },
		{ "add (%edi),%ecx", 32, { 0x03, 0x0f }, 2, 1, 0xffffffff00000001ull, 0x2, 0x3 },
		{ "sub (%bx),%cl", 16, { 0x2a, 0x0f }, 2, 1, 0x1200, 0x1, 0x12ff },
		{ "or (%rdi),%bh", 64, { 0x0a, 0x3f }, 2, 3, 0x0100, 0x80, 0x8100 },
		{ "cmp (%rdi),%eax: nothing written", 64, { 0x3b, 0x07 }, 2, 0, 0xffffffff00000005ull, 5,
		  0xffffffff00000005ull },
		{ "test %eax,(%rdi): nothing written", 64, { 0x85, 0x07 }, 2, 0, 0xffffffff00000005ull, 5,
		  0xffffffff00000005ull },
	};

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct emu_regs r = { .rflags = 0x2 };
		struct emu_insn in;
		char why[96];
		bool store = true;

		if (emu_decode(cases[i].b, cases[i].n, cases[i].bits, &in, why, sizeof(why))) {
			fprintf(stderr, "  %s: refused: %s\n", cases[i].what, why);
			CHECK(0);
			continue;
		}
		CHECK(in.reads_mem && !in.writes_mem);
		for (int k = 0; k < 16; k++)
			r.gpr[k] = 0x0101010101010101ull * (uint64_t)k;
		r.gpr[cases[i].reg] = cases[i].before;
		emu_execute(&in, cases[i].mem, &r, &store);
		CHECK(!store);
		if (r.gpr[cases[i].reg] != cases[i].after) {
			fprintf(stderr, "  %s: register 0x%llx, want 0x%llx\n", cases[i].what,
				(unsigned long long)r.gpr[cases[i].reg],
				(unsigned long long)cases[i].after);
			CHECK(0);
		}
		for (int k = 0; k < 16; k++) /* no other register changes */
			if (k != cases[i].reg)
				CHECK_EQ_U(r.gpr[k], 0x0101010101010101ull * (uint64_t)k);
	}
}

#define FL_DF 0x400ull

/* One element per emu_execute(): the value, then rSI, rDI, rCX as the address size has them. */
static void test_execute_string_steps(void)
{
	struct emu_regs r = { .rflags = 0x2 };
	struct emu_insn in;
	bool store;

	/* rep movsw in 16-bit code: SI wraps at 64 KiB, the bits above 16 stay. */
	in = DECODE_IN(16, 0xf3, 0xa5);
	r.gpr[1] = 0xaaaa000000000002ull; /* cx 2 */
	r.gpr[6] = 0xbbbb00000000fffeull; /* si 0xfffe */
	r.gpr[7] = 0xcccc000000000100ull; /* di 0x100 */
	CHECK_EQ_U(emu_string_count(&in, &r), 2);
	CHECK_EQ_U(emu_execute(&in, 0xbeef, &r, &store), 0xbeef);
	CHECK(store);
	CHECK_EQ_U(r.gpr[6], 0xbbbb000000000000ull);
	CHECK_EQ_U(r.gpr[7], 0xcccc000000000102ull);
	CHECK_EQ_U(r.gpr[1], 0xaaaa000000000001ull);
	CHECK_EQ_U(emu_string_count(&in, &r), 1);
	emu_execute(&in, 0x1, &r, &store);
	CHECK_EQ_U(emu_string_count(&in, &r), 0);
	CHECK_EQ_U(r.gpr[6], 0xbbbb000000000002ull);

	/* std; rep stosl in 32-bit code: down by 4, EAX stored, the registers' upper halves clear. */
	in = DECODE_IN(32, 0xf3, 0xab);
	r.rflags = 0x2 | FL_DF;
	r.gpr[0] = 0x5555555511223344ull;
	r.gpr[1] = 0x0000000100000002ull; /* ecx 2 */
	r.gpr[7] = 0x0000000700001000ull;
	r.gpr[6] = 0x6666;
	CHECK_EQ_U(emu_string_count(&in, &r), 2);
	CHECK_EQ_U(emu_execute(&in, 0, &r, &store), 0x11223344);
	CHECK(store);
	CHECK_EQ_U(r.gpr[7], 0xffc);
	CHECK_EQ_U(r.gpr[1], 1);
	CHECK_EQ_U(r.gpr[6], 0x6666); /* STOS leaves rSI */
	CHECK_EQ_U(emu_effective_address(&in, &r, 0), 0xffc);

	/* rep stosq with rcx 0: nothing to do. */
	in = DECODE_IN(64, 0xf3, 0x48, 0xab);
	r.gpr[1] = 0;
	CHECK_EQ_U(emu_string_count(&in, &r), 0);

	/* movsb without REP: one element, rCX untouched; DF set: down by 1. */
	in = DECODE_IN(64, 0xa4);
	r.gpr[1] = 0x77;
	r.gpr[6] = 0x2000;
	r.gpr[7] = 0x3000;
	CHECK_EQ_U(emu_string_count(&in, &r), 1);
	CHECK_EQ_U(emu_execute(&in, 0x1ab, &r, &store), 0xab); /* one byte of what was read */
	CHECK_EQ_U(r.gpr[1], 0x77);
	CHECK_EQ_U(r.gpr[6], 0x1fff);
	CHECK_EQ_U(r.gpr[7], 0x2fff);

	/* addr32 rep movsb in 64-bit mode: ECX counts, ESI/EDI step, all zero-extended. */
	in = DECODE_IN(64, 0x67, 0xf3, 0xa4);
	r.rflags = 0x2;
	r.gpr[1] = 0x0000000300000001ull;
	r.gpr[6] = 0x00000001ffffffffull;
	r.gpr[7] = 0x0000000200000010ull;
	CHECK_EQ_U(emu_string_count(&in, &r), 1);
	CHECK_EQ_U(emu_mem_address(&in.src, &r, 0), 0xffffffff);
	CHECK_EQ_U(emu_effective_address(&in, &r, 0), 0x10);
	emu_execute(&in, 0x5a, &r, &store);
	CHECK_EQ_U(r.gpr[1], 0);
	CHECK_EQ_U(r.gpr[6], 0);
	CHECK_EQ_U(r.gpr[7], 0x11);
}

/*
 * The caller's loop of virt/emulate.h, over a flat 256-byte memory (every
 * segment base 0): an overlapping rep movsb forwards (the CPU's element
 * order smears the first bytes), and rep stosw backwards.
 */
static void test_execute_string_loop(void)
{
	uint8_t mem[256];
	struct emu_regs r = { .rflags = 0x2 };
	struct emu_insn in;
	bool store;

	for (int i = 0; i < 256; i++)
		mem[i] = (uint8_t)i;
	in = DECODE_IN(32, 0xf3, 0xa4); /* rep movsb */
	r.gpr[6] = 0x10;
	r.gpr[7] = 0x12; /* overlapping: each element sees the one stored two before it */
	r.gpr[1] = 6;
	for (uint64_t n = emu_string_count(&in, &r); n; n--) {
		uint64_t dst = emu_effective_address(&in, &r, 0);
		uint64_t v = mem[emu_mem_address(&in.src, &r, 0) & 0xff];

		v = emu_execute(&in, v, &r, &store);
		CHECK(store);
		mem[dst & 0xff] = (uint8_t)v;
	}
	{
		static const uint8_t want[8] = { 0x10, 0x11, 0x10, 0x11, 0x10, 0x11, 0x10, 0x11 };

		CHECK(memcmp(&mem[0x10], want, 8) == 0);
		CHECK_EQ_U(mem[0x18], 0x18);
	}
	CHECK_EQ_U(r.gpr[1], 0);
	CHECK_EQ_U(r.gpr[6], 0x16);
	CHECK_EQ_U(r.gpr[7], 0x18);

	in = DECODE_IN(16, 0xf3, 0xab); /* rep stosw, DF set */
	r.rflags = 0x2 | FL_DF;
	r.gpr[0] = 0xffffffffffffa55aull;
	r.gpr[1] = 3;
	r.gpr[7] = 0x44;
	for (uint64_t n = emu_string_count(&in, &r); n; n--) {
		uint64_t dst = emu_effective_address(&in, &r, 0);
		uint64_t v = emu_execute(&in, 0, &r, &store);

		mem[dst & 0xff] = (uint8_t)v;
		mem[(dst + 1) & 0xff] = (uint8_t)(v >> 8);
	}
	for (int a = 0x40; a <= 0x45; a += 2) {
		CHECK_EQ_U(mem[a], 0x5a);
		CHECK_EQ_U(mem[a + 1], 0xa5);
	}
	CHECK_EQ_U(mem[0x3f], 0x3f);
	CHECK_EQ_U(mem[0x46], 0x46);
	CHECK_EQ_U(r.gpr[7], 0x3e);
}

/*
 * The host CPU runs "op src, dst" at width on full 64-bit registers, so
 * that its own merge (8, 16 bits) and zero extension (32 bits) show in
 * *dst; high: dst is AH/BH/CH/DH. Flags go in through POPFQ and come back
 * through PUSHFQ, below the red zone.
 */
#define NATIVE_ASM(insn, dcons, scons)                                          \
	asm volatile("sub $128, %%rsp\n\t"                                      \
		     "push %[fin]\n\t"                                          \
		     "popfq\n\t" insn "\n\t"                                    \
		     "pushfq\n\t"                                               \
		     "pop %[fout]\n\t"                                          \
		     "add $128, %%rsp"                                          \
		     : [d] dcons(d), [fout] "=&r"(fout)                         \
		     : [s] scons(s), [fin] "r"(fin)                             \
		     : "cc", "memory")
#define NATIVE_REG_OP(op)                                                       \
	static uint64_t native_reg_##op(unsigned int width, bool high, uint64_t *dst, \
					uint64_t s, uint64_t fin)               \
	{                                                                       \
		uint64_t d = *dst, fout;                                        \
		if (high)                                                       \
			NATIVE_ASM(#op "b %b[s], %h[d]", "+Q", "Q");            \
		else if (width == 1)                                            \
			NATIVE_ASM(#op "b %b[s], %b[d]", "+q", "q");            \
		else if (width == 2)                                            \
			NATIVE_ASM(#op "w %w[s], %w[d]", "+r", "r");            \
		else if (width == 4)                                            \
			NATIVE_ASM(#op "l %k[s], %k[d]", "+r", "r");            \
		else                                                            \
			NATIVE_ASM(#op "q %q[s], %q[d]", "+r", "r");            \
		*dst = d;                                                       \
		return fout;                                                    \
	}
NATIVE_REG_OP(add)
NATIVE_REG_OP(or)
NATIVE_REG_OP(adc)
NATIVE_REG_OP(sbb)
NATIVE_REG_OP(and)
NATIVE_REG_OP(sub)
NATIVE_REG_OP(xor)
NATIVE_REG_OP(cmp)
NATIVE_REG_OP(test)

typedef uint64_t (*native_fn)(unsigned int, bool, uint64_t *, uint64_t, uint64_t);
/* In enum emu_op's order: EMU_ADD ... EMU_CMP, then EMU_TEST. */
static const native_fn native_reg[9] = {
	native_reg_add, native_reg_or, native_reg_adc, native_reg_sbb, native_reg_and,
	native_reg_sub, native_reg_xor, native_reg_cmp, native_reg_test,
};

/* One ALU encoding in one code size, against the CPU on random operands and flags. */
struct alu_form {
	unsigned int bits, width;
	int op;        /* EMU_ADD..EMU_TEST */
	int reg;       /* ModRM.reg's register, or -1: the immediate form */
	bool to_reg;   /* "op r, m" */
	bool rex40;    /* a plain REX (registers 4-7 are SPL..DIL) */
	unsigned int imm_opcode; /* 0x80, 0x81, 0x83, 0xf6, 0xf7 */
};

/* The bytes of f: prefixes, opcode, ModRM (mod 0, rm 7: (%bx) or (%edi)/(%rdi)), immediate. */
static unsigned int alu_encode(const struct alu_form *f, uint8_t *b, uint64_t imm, uint64_t *imm_val)
{
	unsigned int n = 0, deflt = f->bits == 16 ? 2 : 4, rex = 0;
	unsigned int regf = f->reg >= 0 ? (unsigned int)f->reg : f->op == EMU_TEST ? 0 : (unsigned int)f->op;

	if (f->width != 1 && f->width != 8 && f->width != deflt)
		b[n++] = 0x66;
	if (f->width == 8)
		rex |= 0x48;
	if (regf >= 8)
		rex |= 0x44;
	if (rex || f->rex40)
		b[n++] = (uint8_t)(rex | 0x40);
	if (f->reg >= 0)
		b[n++] = (uint8_t)(f->op == EMU_TEST ? (f->width == 1 ? 0x84 : 0x85)
				    : (f->op << 3) + (f->width == 1 ? 0 : 1) + (f->to_reg ? 2 : 0));
	else
		b[n++] = (uint8_t)f->imm_opcode;
	b[n++] = (uint8_t)(((regf & 7) << 3) | 7);
	*imm_val = 0;
	if (f->reg < 0) {
		/* imm8 (80, 83, F6) or imm16/imm32 (81, F7): sign-extended to the width */
		unsigned int len = f->imm_opcode == 0x81 || f->imm_opcode == 0xf7 ? (f->width == 2 ? 2 : 4) : 1;

		for (unsigned int k = 0; k < len; k++)
			b[n++] = (uint8_t)(imm >> (8 * k));
		*imm_val = len == 1 ? (uint64_t)(int64_t)(int8_t)imm
			 : len == 2 ? (uint64_t)(int64_t)(int16_t)imm : (uint64_t)(int64_t)(int32_t)imm;
	}
	return n;
}

static bool alu_form_against_cpu(const struct alu_form *f, unsigned int iters)
{
	uint64_t mask = f->width == 8 ? ~0ull : (1ull << (f->width * 8)) - 1;
	bool logic = f->op == EMU_OR || f->op == EMU_AND || f->op == EMU_XOR || f->op == EMU_TEST;
	uint64_t care = logic ? FL_ARITH & ~FL_AF : FL_ARITH; /* AF is undefined after logic ops */
	bool high = f->reg >= 4 && f->reg < 8 && f->width == 1 && !f->rex40 && f->width != 8;

	for (unsigned int i = 0; i < iters; i++) {
		struct emu_regs r;
		struct emu_insn in;
		uint8_t b[16];
		char why[96];
		uint64_t imm_val, mem = operand() & mask, fin = 0x2 | (rng() & FL_ARITH), got, want, nflags;
		uint64_t regs_before[16], nat_dst, nat_src;
		unsigned int n = alu_encode(f, b, rng(), &imm_val);
		bool store;

		if (emu_decode(b, n, f->bits, &in, why, sizeof(why))) {
			fprintf(stderr, "  %u-bit op %d width %u reg %d: refused: %s\n", f->bits, f->op,
				f->width, f->reg, why);
			return false;
		}
		for (int k = 0; k < 16; k++)
			regs_before[k] = r.gpr[k] = operand();
		r.rflags = fin | 0x600; /* IF and DF too: they must survive */
		got = emu_execute(&in, mem, &r, &store);
		if (f->reg < 0) {
			nat_dst = mem;
			nat_src = imm_val;
			nflags = native_reg[f->op](f->width, false, &nat_dst, nat_src, fin);
			want = nat_dst & mask;
		} else if (!f->to_reg) {
			/* op m, r: memory is the destination, the register the source */
			int rr = high ? f->reg - 4 : f->reg;

			nat_dst = mem;
			nat_src = high ? regs_before[rr] >> 8 : regs_before[rr];
			nflags = native_reg[f->op](f->width, false, &nat_dst, nat_src, fin);
			want = nat_dst & mask;
		} else {
			/* op r, m: the register (all 64 bits of it) is the destination */
			int rr = high ? f->reg - 4 : f->reg;

			nat_dst = regs_before[rr];
			nat_src = mem;
			nflags = native_reg[f->op](f->width, high, &nat_dst, nat_src, fin);
			want = nat_dst;
			got = r.gpr[rr];
		}
		{
			bool stores = !f->to_reg && f->op != EMU_CMP && f->op != EMU_TEST;
			bool ok = (r.rflags & care) == (nflags & care) &&
				  (r.rflags & ~FL_ARITH) == ((fin | 0x600) & ~FL_ARITH) && store == stores &&
				  (!stores || got == want) && (!f->to_reg || got == want);

			for (int k = 0; k < 16; k++) /* only the destination register may change */
				if (!(f->to_reg && k == (high ? f->reg - 4 : f->reg)) && r.gpr[k] != regs_before[k])
					ok = false;
			if (!ok) {
				fprintf(stderr, "  %u-bit op %d width %u reg %d%s%s: mem 0x%llx flags in 0x%llx: emulated 0x%llx flags 0x%llx store %d, the CPU 0x%llx flags 0x%llx\n",
					f->bits, f->op, f->width, f->reg, f->to_reg ? " (to reg)" : "",
					high ? " (high byte)" : "", (unsigned long long)mem,
					(unsigned long long)fin, (unsigned long long)got,
					(unsigned long long)(r.rflags & care), store,
					(unsigned long long)want, (unsigned long long)(nflags & care));
				return false;
			}
		}
	}
	return true;
}

/* Every ALU op, both directions and the immediate forms, at every width of every code size. */
static void test_alu_all_modes_against_the_cpu(void)
{
	static const unsigned int modes[3] = { 16, 32, 64 };
	static const int regs[] = { 0, 1, 3, 4, 5, 7, 9, 14 };
	unsigned int forms = 0;

	for (int m = 0; m < 3; m++) {
		for (unsigned int width = 1; width <= 8; width *= 2) {
			if (width == 8 && modes[m] != 64)
				continue;
			for (int op = EMU_ADD; op <= EMU_TEST; op++) {
				for (unsigned int k = 0; k < sizeof(regs) / sizeof(regs[0]); k++) {
					for (int dir = 0; dir < 2; dir++) {
						struct alu_form f = { .bits = modes[m], .width = width, .op = op,
								      .reg = regs[k], .to_reg = dir };

						if (regs[k] >= 8 && modes[m] != 64)
							continue;
						if (dir && op == EMU_TEST)
							continue; /* TEST has no "r, m" opcode */
						forms++;
						CHECK(alu_form_against_cpu(&f, 400));
						if (modes[m] == 64 && width == 1 && regs[k] >= 4 && regs[k] < 8) {
							f.rex40 = true; /* SPL..DIL */
							forms++;
							CHECK(alu_form_against_cpu(&f, 400));
						}
					}
				}
				{
					static const unsigned int imm_ops[3] = { 0x80, 0x81, 0x83 };

					for (int k = 0; k < 3; k++) {
						struct alu_form f = { .bits = modes[m], .width = width, .op = op,
								      .reg = -1 };

						if ((width == 1) != (imm_ops[k] == 0x80))
							continue;
						f.imm_opcode = op == EMU_TEST ? (width == 1 ? 0xf6 : 0xf7) : imm_ops[k];
						if (op == EMU_TEST && imm_ops[k] == 0x83)
							continue;
						forms++;
						CHECK(alu_form_against_cpu(&f, 2000));
					}
				}
			}
		}
	}
	printf("        %u forms checked against the CPU\n", forms);
}

/* CMPXCHG in 16- and 32-bit code against the host's own CMPXCHG. */
static void test_cmpxchg_against_the_cpu(void)
{
	for (int i = 0; i < 20000; i++) {
		unsigned int bits = i & 1 ? 16 : 32, width = bits / 8;
		uint64_t mask = (1ull << (width * 8)) - 1, mem = operand() & mask, nmem = mem;
		uint64_t rax = rng() & 1 ? (mem | (rng() & ~mask)) : operand(), ncx = operand();
		uint64_t nrax = rax, nflags, got;
		struct emu_regs r = { .rflags = 0x2 };
		struct emu_insn in;
		bool store;

		in = bits == 16 ? DECODE_IN(16, 0x0f, 0xb1, 0x0f) : DECODE_IN(32, 0x0f, 0xb1, 0x0f);
		r.gpr[0] = rax;
		r.gpr[1] = ncx;
		got = emu_execute(&in, mem, &r, &store);
		/* The flags are pushed below the red zone (LEA: no flags), after the last use of %[m]. */
		if (width == 2)
			asm volatile("lock cmpxchgw %w[s], %[m]\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %[f]\n\tlea 128(%%rsp), %%rsp"
				     : [m] "+m"(*(uint16_t *)&nmem), "+a"(nrax), [f] "=r"(nflags)
				     : [s] "r"(ncx) : "cc", "memory");
		else
			asm volatile("lock cmpxchgl %k[s], %[m]\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %[f]\n\tlea 128(%%rsp), %%rsp"
				     : [m] "+m"(*(uint32_t *)&nmem), "+a"(nrax), [f] "=r"(nflags)
				     : [s] "r"(ncx) : "cc", "memory");
		CHECK(store);
		if (got != (nmem & mask) || r.gpr[0] != nrax || (r.rflags & FL_ARITH) != (nflags & FL_ARITH)) {
			fprintf(stderr, "  %u-bit cmpxchg: mem 0x%llx rax 0x%llx: emulated 0x%llx rax 0x%llx flags 0x%llx, the CPU 0x%llx rax 0x%llx flags 0x%llx\n",
				bits, (unsigned long long)mem, (unsigned long long)rax,
				(unsigned long long)got, (unsigned long long)r.gpr[0], (unsigned long long)(r.rflags & FL_ARITH),
				(unsigned long long)nmem, (unsigned long long)nrax, (unsigned long long)(nflags & FL_ARITH));
			CHECK(0);
			return;
		}
	}
}

int main(void)
{
	RUN_TEST(test_decode_forms);
	RUN_TEST(test_decode_refusals);
	RUN_TEST(test_execute_mov_xchg_cmpxchg);
	RUN_TEST(test_alu_against_the_cpu);
	RUN_TEST(test_decode_mov_cr_and_invlpg);
	RUN_TEST(test_decode_sys);
	RUN_TEST(test_decode_sys_address);
	RUN_TEST(test_decode_sys_refusals);
	RUN_TEST(test_decode_sys_wrappers);
	RUN_TEST(test_effective_address);
	RUN_TEST(test_decode_table);
	RUN_TEST(test_decode_string_source);
	RUN_TEST(test_decode_refusals_all_modes);
	RUN_TEST(test_effective_address_16_32);
	RUN_TEST(test_execute_loads);
	RUN_TEST(test_execute_string_steps);
	RUN_TEST(test_execute_string_loop);
	RUN_TEST(test_alu_all_modes_against_the_cpu);
	RUN_TEST(test_cmpxchg_against_the_cpu);
	return check_summary("test_emulate");
}
