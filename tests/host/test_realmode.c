// SPDX-License-Identifier: MIT
/*
 * virt/realmode.c: the AP trampoline of tests/guests/lib/smp-trampoline.S,
 * byte for byte, run to its far jump into protected mode against a fake
 * memory with a GDT; a program of the other instructions, whose results
 * were worked out by hand from the SDM; and the stops (an unknown opcode,
 * memory outside RAM, the instruction bound, a bad descriptor).
 */
#include <stdint.h>

#include "tests/host/check.h"
#include "virt/realmode.h"

#define MEM_BYTES 0x100000u
#define GDT_BASE 0x2000u
#define TRAMPOLINE 0x9d000u

static uint8_t mem[MEM_BYTES];

static struct {
	unsigned int outs;
	uint16_t out_port;
	uint32_t out_val;
} io_log;

static bool fake_read(void *ctx, uint64_t la, void *buf, unsigned int len)
{
	(void)ctx;
	if (la + len > MEM_BYTES)
		return false;
	memcpy(buf, mem + la, len);
	return true;
}

static bool fake_write(void *ctx, uint64_t la, const void *buf, unsigned int len)
{
	(void)ctx;
	if (la + len > MEM_BYTES)
		return false;
	memcpy(mem + la, buf, len);
	return true;
}

static bool fake_io(void *ctx, uint16_t port, unsigned int size, bool in, uint32_t *val)
{
	(void)ctx;
	(void)size;
	if (in) {
		*val = port == 0x61 ? 0x20 : 0xffffffff;
		return true;
	}
	io_log.outs++;
	io_log.out_port = port;
	io_log.out_val = *val;
	return port != 0xf4; /* isa-debug-exit stops the VM */
}

static void fake_cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	(void)ctx;
	(void)sub;
	out[0] = leaf == 1 ? 0x000306a9 : 0;
	out[1] = 0x800;
	out[2] = 0x11;
	out[3] = 0x22;
}

static bool fake_rdmsr(void *ctx, uint32_t msr, uint64_t *val)
{
	(void)ctx;
	*val = 0xfee00900;
	return msr == 0x1b; /* IA32_APIC_BASE; anything else #GP */
}

static bool fake_wrmsr(void *ctx, uint32_t msr, uint64_t val)
{
	(void)ctx;
	(void)val;
	return msr == 0x1b;
}

static const struct rm_ops fake_ops = {
	.read = fake_read, .write = fake_write, .io = fake_io,
	.cpuid = fake_cpuid, .rdmsr = fake_rdmsr, .wrmsr = fake_wrmsr,
};

/* tests/guests/lib/lib.c's GDT, code 0x08 not yet accessed (type 0xa). */
static const uint64_t guest_gdt[] = {
	0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull, 0x00af9a000000ffffull,
	0x00cffa000000ffffull, 0x00cff2000000ffffull, 0x00affa000000ffffull,
	0x0040820000000000ull, /* 0x38: not a code or data segment (S = 0) */
	0x00cf1a000000ffffull, /* 0x40: code, not present */
};

static void reset_memory(void)
{
	memset(mem, 0, sizeof(mem));
	memcpy(mem + GDT_BASE, guest_gdt, sizeof(guest_gdt));
	memset(&io_log, 0, sizeof(io_log));
}

/*
 * smp-trampoline.S from smp_tramp_start to smp_tramp_end, as gas
 * assembles it (objdump -d -M i8086), the ljmpl target relocated to
 * 0x00101234 and smp_tramp_gdtr (offset 0x28) filled with the GDT.
 */
static const uint8_t trampoline[] = {
	0xfa,                               /* cli */
	0xfc,                               /* cld */
	0x66, 0x31, 0xdb,                   /* xor %ebx,%ebx */
	0x8c, 0xcb,                         /* mov %cs,%bx */
	0x0f, 0x20, 0xc7,                   /* mov %cr0,%edi */
	0x8e, 0xdb,                         /* mov %bx,%ds */
	0x66, 0x0f, 0x01, 0x16, 0x28, 0x00, /* lgdtl 0x28 */
	0x66, 0xb8, 0x11, 0x00, 0x00, 0x00, /* mov $0x11,%eax */
	0x0f, 0x22, 0xc0,                   /* mov %eax,%cr0 */
	0x66, 0xea, 0x34, 0x12, 0x10, 0x00, 0x08, 0x00, /* ljmpl $0x8,$0x101234 */
	0x0f, 0x1f, 0x44, 0x00,             /* .balign 8 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* smp_tramp_gdtr: .word 0, .long 0 */
};

static void test_smp_trampoline(void)
{
	struct rm_state s;
	struct rm_stop stop;
	uint16_t gdt_limit = sizeof(guest_gdt) - 1;
	uint32_t gdt_base = GDT_BASE, hi;

	reset_memory();
	memcpy(mem + TRAMPOLINE, trampoline, sizeof(trampoline));
	memcpy(mem + TRAMPOLINE + 0x28, &gdt_limit, 2);
	memcpy(mem + TRAMPOLINE + 0x2a, &gdt_base, 4);
	rm_init_sipi(&s, TRAMPOLINE >> 12);
	s.gpr[2] = 0x000306a9; /* EDX: the signature, as the core sets it */
	CHECK_EQ_U(s.sys.seg[RM_CS].sel, 0x9d00);
	CHECK_EQ_U(s.sys.seg[RM_CS].base, 0x9d000);

	CHECK_EQ_U(rm_run(&s, &fake_ops, NULL, 1000, &stop), RM_PROTECTED);
	CHECK_EQ_U(stop.insns, 10);
	CHECK_EQ_U(s.eip, 0x101234);
	CHECK_EQ_U(s.gpr[3], 0x9d00);     /* EBX: the CS it saw */
	CHECK_EQ_U(s.gpr[7], 0x60000010); /* EDI: CR0 = CD|NW|ET */
	CHECK_EQ_U(s.gpr[0], 0x11);
	CHECK_EQ_U(s.gpr[2], 0x000306a9);
	CHECK_EQ_U(s.eflags, 0x46);       /* IF and DF clear; XOR's ZF and PF */
	CHECK_EQ_U(s.sys.cr0, 0x11);
	CHECK_EQ_U(s.sys.cr3, 0);
	CHECK_EQ_U(s.sys.cr4, 0);
	CHECK_EQ_U(s.sys.efer, 0);
	CHECK_EQ_U(s.sys.gdtr.base, GDT_BASE);
	CHECK_EQ_U(s.sys.gdtr.limit, sizeof(guest_gdt) - 1);
	CHECK_EQ_U(s.sys.idtr.base, 0);
	CHECK_EQ_U(s.sys.idtr.limit, 0xffff);
	/* CS from descriptor 1: flat 4 GiB, 32-bit, accessed now (in the GDT too). */
	CHECK_EQ_U(s.sys.seg[RM_CS].sel, 0x08);
	CHECK_EQ_U(s.sys.seg[RM_CS].base, 0);
	CHECK_EQ_U(s.sys.seg[RM_CS].limit, 0xffffffff);
	CHECK_EQ_U(s.sys.seg[RM_CS].ar, 0xc09b);
	memcpy(&hi, mem + GDT_BASE + 8 + 4, 4);
	CHECK_EQ_U(hi, 0x00cf9b00);
	/* The data segments as real mode left them. */
	CHECK_EQ_U(s.sys.seg[RM_DS].sel, 0x9d00);
	CHECK_EQ_U(s.sys.seg[RM_DS].base, 0x9d000);
	CHECK_EQ_U(s.sys.seg[RM_DS].limit, 0xffff);
	CHECK_EQ_U(s.sys.seg[RM_DS].ar, 0x93);
	CHECK_EQ_U(s.sys.seg[RM_SS].sel, 0);
	CHECK_EQ_U(s.sys.seg[RM_SS].ar, 0x93);
}

/* tests/host: gas .code16 of a program using the rest (listing beside each). */
static const uint8_t program[] = {
	0xb8, 0x00, 0x70,       /* 00 mov $0x7000,%ax */
	0x8e, 0xd0,             /* 03 mov %ax,%ss */
	0xbc, 0x00, 0x01,       /* 05 mov $0x100,%sp */
	0xb9, 0x05, 0x00,       /* 08 mov $0x5,%cx */
	0x31, 0xf6,             /* 0b xor %si,%si */
	0x01, 0xce,             /* 0d 1: add %cx,%si */
	0x49,                   /* 0f dec %cx */
	0x75, 0xfb,             /* 10 jne 1b */
	0xe8, 0x02, 0x00,       /* 12 call 2f */
	0xeb, 0x04,             /* 15 jmp 3f */
	0xbf, 0xef, 0xbe,       /* 17 2: mov $0xbeef,%di */
	0xc3,                   /* 1a ret */
	0x56,                   /* 1b 3: push %si */
	0x5d,                   /* 1c pop %bp */
	0xba, 0x80, 0x00,       /* 1d mov $0x80,%dx */
	0xb0, 0x5a,             /* 20 mov $0x5a,%al */
	0xee,                   /* 22 out %al,(%dx) */
	0xe4, 0x61,             /* 23 in $0x61,%al */
	0x88, 0xc3,             /* 25 mov %al,%bl */
	0x66, 0xb9, 0x78, 0x56, 0x34, 0x12, /* 27 mov $0x12345678,%ecx */
	0x66, 0xb8, 0x01, 0x00, 0x00, 0x00, /* 2d mov $0x1,%eax */
	0x0f, 0xa2,             /* 33 cpuid */
	0x66, 0xb9, 0x1b, 0x00, 0x00, 0x00, /* 35 mov $0x1b,%ecx */
	0x0f, 0x32,             /* 3b rdmsr */
	0xbb, 0x00, 0x02,       /* 3d mov $0x200,%bx */
	0xc7, 0x40, 0x04, 0x42, 0x42, /* 40 movw $0x4242,0x4(%bx,%si) */
	0x67, 0x66, 0xc7, 0x44, 0x73, 0x10, 0x44, 0x33, 0x22, 0x11,
				/* 45 movl $0x11223344,0x10(%ebx,%esi,2) */
	0xb0, 0x42,             /* 4f mov $0x42,%al */
	0x3c, 0x43,             /* 51 cmp $0x43,%al */
	0x72, 0x03,             /* 53 jb 4f */
	0xbf, 0xad, 0xde,       /* 55 mov $0xdead,%di */
	0xc1, 0xe3, 0x04,       /* 58 4: shl $0x4,%bx */
	0x9c,                   /* 5b pushf */
	0x58,                   /* 5c pop %ax */
	0xf4,                   /* 5d hlt */
};

static void test_instructions(void)
{
	struct rm_state s;
	struct rm_stop stop;
	uint32_t v;

	reset_memory();
	memcpy(mem + 0x8000, program, sizeof(program));
	rm_init_sipi(&s, 8);
	CHECK_EQ_U(rm_run(&s, &fake_ops, NULL, 1000, &stop), RM_HLT);
	CHECK_EQ_U(stop.cs, 0x800);
	CHECK_EQ_U(stop.ip, 0x5d);
	CHECK_EQ_U(stop.insns, 45);
	CHECK_EQ_U(s.sys.seg[RM_SS].base, 0x70000);
	CHECK_EQ_U(s.gpr[4], 0x100);       /* SP: every push popped */
	CHECK_EQ_U(s.gpr[6], 15);          /* SI: 5 + 4 + 3 + 2 + 1 */
	CHECK_EQ_U(s.gpr[5], 15);          /* BP */
	CHECK_EQ_U(s.gpr[7], 0xbeef);      /* DI: the call ran, JB skipped 0xdead */
	CHECK_EQ_U(io_log.outs, 1);
	CHECK_EQ_U(io_log.out_port, 0x80);
	CHECK_EQ_U(io_log.out_val & 0xff, 0x5a);
	CHECK_EQ_U(s.gpr[1], 0x1b);
	CHECK_EQ_U(s.gpr[2], 0);           /* EDX from RDMSR */
	CHECK_EQ_U(s.gpr[3], 0x2000);      /* EBX: CPUID's 0x800, BX = 0x200, << 4 */
	/* AX = FLAGS after SHL: PF only (CMP's CF, SF and AF gone); EAX's top from RDMSR. */
	CHECK_EQ_U(s.gpr[0], 0xfee00006);
	memcpy(&v, mem + 0x213, 4);
	CHECK_EQ_U(v & 0xffff, 0x4242);
	memcpy(&v, mem + 0x22e, 4);
	CHECK_EQ_U(v, 0x11223344);
}

/* Flags as Jcc reads them after CMP and SUB, signed and unsigned. */
static void test_compare_flags(void)
{
	static const uint8_t code[] = {
		0x66, 0xb8, 0x00, 0x00, 0x00, 0x80, /* mov $0x80000000,%eax */
		0x66, 0x83, 0xf8, 0x01,             /* cmp $1,%eax: overflow, no carry */
		0x70, 0x01, 0xf4,                   /* jo +1; hlt */
		0x72, 0x01,                         /* jb +1 (not taken) */
		0x90,                               /* nop */
		0x7c, 0x01, 0xf4,                   /* jl +1; hlt */
		0xf4,
	};
	struct rm_state s;
	struct rm_stop stop;

	reset_memory();
	memcpy(mem + 0x1000, code, sizeof(code));
	rm_init_sipi(&s, 1);
	CHECK_EQ_U(rm_run(&s, &fake_ops, NULL, 100, &stop), RM_HLT);
	/* 0x80000000 - 1: OF set, SF and CF clear: JO taken, JB not, JL (SF != OF) taken. */
	CHECK_EQ_U(stop.ip, 0x13);
	CHECK(s.eflags & 0x800);
	CHECK(!(s.eflags & 0x1));
}

/*
 * BT, BTS, BTR, BTC (Linux's verify_cpu runs them in an AP's trampoline):
 * immediates modulo the operand size, a register's offset into memory as a
 * bit string (35: the next dword's bit 3; -1: the previous dword's bit 31).
 */
static void test_bit_tests(void)
{
	static const uint8_t code[] = {
		0x66, 0x31, 0xc0,                   /* xor %eax,%eax */
		0x66, 0x0f, 0xba, 0xe8, 0x1f,       /* bts $31,%eax: CF 0 */
		0x66, 0x0f, 0xba, 0xf0, 0x1f,       /* btr $31,%eax: CF 1, EAX 0 */
		0xbb, 0x00, 0x03,                   /* mov $0x300,%bx */
		0x66, 0xb9, 0x23, 0x00, 0x00, 0x00, /* mov $35,%ecx */
		0x66, 0x0f, 0xab, 0x0f,             /* bts %ecx,(%bx): 0x304 bit 3 */
		0x66, 0xba, 0xff, 0xff, 0xff, 0xff, /* mov $-1,%edx */
		0x66, 0x0f, 0xbb, 0x17,             /* btc %edx,(%bx): 0x2fc bit 31 */
		0x66, 0x0f, 0xba, 0x67, 0x04, 0x03, /* btl $3,4(%bx): CF 1 */
		0xb8, 0x02, 0x00,                   /* mov $2,%ax */
		0x0f, 0xba, 0xe0, 0x11,             /* bt $17,%ax: bit 1, CF 1 */
		0xf4,                               /* hlt */
	};
	struct rm_state s;
	struct rm_stop stop;
	uint32_t v;

	reset_memory();
	memcpy(mem + 0x1000, code, sizeof(code));
	rm_init_sipi(&s, 1);
	CHECK_EQ_U(rm_run(&s, &fake_ops, NULL, 100, &stop), RM_HLT);
	CHECK_EQ_U(stop.insns, 11);
	CHECK_EQ_U(s.gpr[0], 2);
	CHECK(s.eflags & 0x1);
	memcpy(&v, mem + 0x304, 4);
	CHECK_EQ_U(v, 0x8);
	memcpy(&v, mem + 0x2fc, 4);
	CHECK_EQ_U(v, 0x80000000u);
	memcpy(&v, mem + 0x300, 4);
	CHECK_EQ_U(v, 0);
}

static void test_unknown_opcode(void)
{
	static const uint8_t code[] = { 0x90, 0x66, 0x0f, 0x0b }; /* nop; ud2 */
	struct rm_state s;
	struct rm_stop stop;

	reset_memory();
	memcpy(mem + 0x9d000 + 0x10, code, sizeof(code));
	rm_init_sipi(&s, 0x9d);
	s.eip = 0x10;
	CHECK_EQ_U(rm_run(&s, &fake_ops, NULL, 100, &stop), RM_UNSUPPORTED);
	CHECK_EQ_U(stop.cs, 0x9d00);
	CHECK_EQ_U(stop.ip, 0x11);
	CHECK_EQ_U(stop.nbytes, 3);
	CHECK_EQ_U(stop.bytes[0], 0x66);
	CHECK_EQ_U(stop.bytes[1], 0x0f);
	CHECK_EQ_U(stop.bytes[2], 0x0b);
	CHECK_EQ_U(stop.insns, 1);
	CHECK_EQ_U(s.eip, 0x11); /* not stepped over */
}

static void test_stops(void)
{
	static const uint8_t spin[] = { 0xeb, 0xfe };                    /* jmp . */
	static const uint8_t far_read[] = { 0xb8, 0xff, 0xff, 0x8e, 0xd8, /* mov $0xffff,%ax; mov %ax,%ds */
					    0x66, 0xa1, 0x00, 0xff };        /* mov 0xff00,%eax */
	static const uint8_t bad_cs[] = { 0x66, 0x0f, 0x01, 0x16, 0x20, 0x00, /* lgdtl 0x20 */
					  0x0f, 0x22, 0xc0,                   /* mov %eax,%cr0 */
					  0xea, 0x00, 0x00, 0x40, 0x00 };     /* ljmp $0x40,$0 */
	static const uint8_t out_stop[] = { 0xb0, 0x01, 0xe6, 0xf4, 0xf4 }; /* out %al,$0xf4 */
	uint16_t gdt_limit = sizeof(guest_gdt) - 1;
	uint32_t gdt_base = GDT_BASE;
	struct rm_state s;
	struct rm_stop stop;

	reset_memory();
	memcpy(mem + 0x1000, spin, sizeof(spin));
	rm_init_sipi(&s, 1);
	CHECK_EQ_U(rm_run(&s, &fake_ops, NULL, 500, &stop), RM_LIMIT);
	CHECK_EQ_U(stop.insns, 500);

	memcpy(mem + 0x1000, far_read, sizeof(far_read));
	rm_init_sipi(&s, 1);
	CHECK_EQ_U(rm_run(&s, &fake_ops, NULL, 100, &stop), RM_NO_MEMORY);
	CHECK_EQ_U(stop.addr, 0x10fef0); /* past 1 MiB: no A20 wrap */
	CHECK_EQ_U(stop.ip, 5);

	memcpy(mem + 0x1000, bad_cs, sizeof(bad_cs));
	memcpy(mem + 0x20, &gdt_limit, 2); /* DS:0x20, DS = 0 */
	memcpy(mem + 0x22, &gdt_base, 4);
	rm_init_sipi(&s, 1);
	s.gpr[0] = 0x11;
	CHECK_EQ_U(rm_run(&s, &fake_ops, NULL, 100, &stop), RM_FAULT);
	CHECK_STR_CONTAINS(stop.why, "not present");
	CHECK_EQ_U(stop.ip, 9);

	/* A null selector and one past the limit fault too; S = 0 is the wrong type. */
	mem[0x100c] = 0x00;
	rm_init_sipi(&s, 1);
	s.gpr[0] = 0x11;
	CHECK_EQ_U(rm_run(&s, &fake_ops, NULL, 100, &stop), RM_FAULT);
	mem[0x100c] = 0x38;
	rm_init_sipi(&s, 1);
	s.gpr[0] = 0x11;
	CHECK_EQ_U(rm_run(&s, &fake_ops, NULL, 100, &stop), RM_FAULT);
	CHECK_STR_CONTAINS(stop.why, "wrong type");

	/* PG without PE: #GP. */
	rm_init_sipi(&s, 1);
	s.gpr[0] = 0x80000000;
	CHECK_EQ_U(rm_run(&s, &fake_ops, NULL, 100, &stop), RM_FAULT);
	CHECK_EQ_U(stop.ip, 6);

	memcpy(mem + 0x1000, out_stop, sizeof(out_stop));
	rm_init_sipi(&s, 1);
	CHECK_EQ_U(rm_run(&s, &fake_ops, NULL, 100, &stop), RM_IO_STOP);
	CHECK_EQ_U(io_log.out_port, 0xf4);
}

/* Real-mode far jumps reload CS; PE set later enters protected mode at the next one. */
static void test_real_far_jump(void)
{
	static const uint8_t code[] = { 0xea, 0x00, 0x00, 0x00, 0x03 }; /* ljmp $0x300,$0 */
	static const uint8_t there[] = { 0xf4 };
	struct rm_state s;
	struct rm_stop stop;

	reset_memory();
	memcpy(mem + 0x1000, code, sizeof(code));
	memcpy(mem + 0x3000, there, sizeof(there));
	rm_init_sipi(&s, 1);
	CHECK_EQ_U(rm_run(&s, &fake_ops, NULL, 100, &stop), RM_HLT);
	CHECK_EQ_U(s.sys.seg[RM_CS].sel, 0x300);
	CHECK_EQ_U(s.sys.seg[RM_CS].base, 0x3000);
	CHECK_EQ_U(stop.cs, 0x300);
	CHECK_EQ_U(stop.ip, 0);
}

int main(void)
{
	RUN_TEST(test_smp_trampoline);
	RUN_TEST(test_instructions);
	RUN_TEST(test_compare_flags);
	RUN_TEST(test_bit_tests);
	RUN_TEST(test_unknown_opcode);
	RUN_TEST(test_stops);
	RUN_TEST(test_real_far_jump);
	return check_summary("test_realmode");
}
