// SPDX-License-Identifier: MIT
/*
 * fuzz: a hostile kernel for scenario=guest_fuzz. Seeded (boot argument 0,
 * mixed with the vCPU id), each vCPU runs arg[1] steps, each one of:
 *  - random instruction bytes, run under our own IDT: every exception
 *    resumes at the step's end, so privileged, virtualization and garbage
 *    instructions all reach the hypervisor with random registers;
 *  - a hypercall with a random number and random pointers and lengths
 *    (outside RAM, straddling its end, huge);
 *  - a random rewrite of the shared page table of PML4 slot 1 (random
 *    frames and flags, reserved bits, self-references, the table mapped
 *    at several levels) through a plain store or through its self-map,
 *    then reads, writes and INVLPGs of what it maps;
 *  - a CR3 load of a random frame now and then (the step's end puts ours
 *    back, if the vCPU still runs);
 *  - a stretch with interrupts off.
 * The vCPUs race each other's table edits. Whatever the guest does, the
 * hypervisor must stop it or let it finish, and never fail itself.
 *
 * A round is short or long (boot argument 3: 0, or the long round's time
 * budget in TSC ticks, after which its vCPUs take no more steps). A short
 * round does all of the above, so it usually ends early: port I/O, a wild
 * pointer or a bad hypercall argument stops a VM at once. A long round
 * leaves those out (ends_a_long_round(): no port I/O, MSR, CR3 or
 * descriptor-table loads, no loops; registers in a frame pool, good
 * hypercalls only, no garbage CR3, its own tables guarded) so that it runs
 * many more steps inside one VM: what it exercises is the state a
 * long-lived guest builds up (shadow pages, rmaps, unsynced tables,
 * pending flushes), not the first exit.
 */
#include "guest/runtime.h"

#define PAGE 4096ull
#define P (1ull << 0)
#define RW (1ull << 1)
#define PS (1ull << 7)
#define WIN 0x8000000000ull /* PML4 slot 1 */
#define CODE_BYTES 16

static volatile uint64_t recover_rip[64], recover_rsp[64], faults[64];
static uint64_t idt[2 * 256] __attribute__((aligned(16)));
static volatile uint64_t *win_pt, win_pt_phys, frames_base, frames_nr, ready;
static uint8_t code[64][64] __attribute__((aligned(64)));
static bool long_round;

static uint64_t next_rand(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static unsigned int my_id(void)
{
	return (unsigned int)hypercall(HC_VCPU_ID, 0, 0, 0) & 63;
}

/*
 * Every exception: back to this vCPU's recover point, on its saved stack
 * (the fuzzed bytes may have moved RSP). The vCPU id comes from the
 * hypercall, not from memory the bytes may have overwritten... mostly: a
 * garbage IDT entry or a wild RSP ends the VM, which is an outcome too.
 */
asm(".text\n"
    "fuzz_fault:\n"
    "	cld\n"                       /* the bytes may have set DF: C code assumes it clear */
    "	movq $4, %rax\n"              /* HC_VCPU_ID */
    "	cmpb $0, use_vmcall(%rip)\n"
    "	je 1f\n"
    "	vmcall\n"
    "	jmp 2f\n"
    "1:	vmmcall\n"
    "2:	andq $63, %rax\n"
    "	leaq faults(%rip), %rcx\n"
    "	incq (%rcx,%rax,8)\n"
    "	leaq recover_rsp(%rip), %rcx\n"
    "	movq (%rcx,%rax,8), %rsp\n"
    "	leaq recover_rip(%rip), %rcx\n"
    "	jmp *(%rcx,%rax,8)\n");
extern char fuzz_fault[];
volatile uint8_t use_vmcall;

/*
 * Every gate switches to IST 1, a stack of the vCPU's own in its TSS, so an
 * exception is delivered whatever the bytes did to RSP (a #PF on a wild RSP
 * would otherwise be a double fault, the end of the round). The GDT is the
 * hypervisor's three descriptors, then one TSS descriptor per vCPU.
 */
#define GDT_TSS 3 /* the first TSS descriptor's index (selector 0x18) */
#define IST_STACK 2048
static uint64_t gdt[GDT_TSS + 2 * 64] __attribute__((aligned(16)));
static uint32_t tss[64][26] __attribute__((aligned(16))); /* 104 bytes: IST1 at 0x24 */
static uint8_t ist_stack[64][IST_STACK] __attribute__((aligned(16)));

static void build_gdt_idt(void)
{
	uint64_t h = (uint64_t)fuzz_fault;

	gdt[1] = 0x00af9b000000ffffull; /* 64-bit code, as the hypervisor's at 0x08 */
	gdt[2] = 0x00cf93000000ffffull; /* data, 0x10 */
	for (unsigned int i = 0; i < 64; i++) {
		uint64_t base = (uint64_t)tss[i], top = (uint64_t)ist_stack[i + 1];

		tss[i][9] = (uint32_t)top; /* IST1 */
		tss[i][10] = (uint32_t)(top >> 32);
		tss[i][25] = sizeof(tss[i]) << 16; /* I/O map base past the limit: no bitmap */
		gdt[GDT_TSS + 2 * i] = (sizeof(tss[i]) - 1) | (base & 0xffffff) << 16 |
				       0x89ull << 40 | ((base >> 24) & 0xff) << 56;
		gdt[GDT_TSS + 2 * i + 1] = base >> 32;
	}
	for (unsigned int v = 0; v < 256; v++) {
		idt[2 * v] = (h & 0xffff) | (0x08ull << 16) | (1ull << 32) | (0x8eull << 40) |
			     ((h >> 16) & 0xffff) << 48;
		idt[2 * v + 1] = h >> 32;
	}
}

static void install_idt(unsigned int id)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed))
		iptr = { sizeof(idt) - 1, (uint64_t)idt }, gptr = { sizeof(gdt) - 1, (uint64_t)gdt };
	uint16_t sel = (uint16_t)((GDT_TSS + 2 * id) * 8);

	asm volatile("lgdt %0; ltr %1; lidt %2" ::"m"(gptr), "r"(sel), "m"(iptr) : "memory");
}

/* What run_bytes() hands its asm, in one register (offsets fixed below). */
struct bytes_frame {
	volatile uint64_t *rip_slot, *rsp_slot; /* 0, 8 */
	uint64_t regs[6];                       /* 16..56: rbx rcx rdx rsi r8 r9 */
	uint8_t *code;                          /* 64 */
	uint64_t rdi, rbp, rsp, rax;            /* 72, 80, 88, 96 */
};

/*
 * A long round leaves out the bytes that would end it or stall it: port
 * I/O; the branches, LOOPs and indirect jumps that make a loop no exit ends
 * (a step must end by itself: nothing interrupts a synthetic guest) or
 * land in memory that is not code; RET and IRET, which take their target
 * from the stack; the fast system calls, which take theirs from an MSR;
 * HLT, which nothing wakes; loads of CR3, GDTR, IDTR, LDTR and TR, which
 * would take the guest's tables from the frame pool's random bytes; RDMSR
 * and WRMSR, which stop a synthetic guest for most MSRs (a short round
 * still does all of these).
 */
static bool ends_a_long_round(uint8_t b, uint8_t next, uint8_t modrm)
{
	unsigned int reg = (modrm >> 3) & 7;

	if (b == 0x0f) /* SYSCALL, SYSRET, SYSENTER, SYSEXIT (to an MSR's RIP), Jcc rel32 */
		return next == 0x05 || next == 0x07 || next == 0x34 || next == 0x35 ||
		       (next & 0xf0) == 0x80 ||
		       /* MOV CR3 (a table of garbage), LGDT, LIDT, LLDT, LTR (the same) */
		       (next == 0x22 && reg == 3) || next == 0x00 ||
		       next == 0x30 || next == 0x32 || /* WRMSR, RDMSR: most MSRs stop a VM */
		       (next == 0x01 && modrm < 0xc0 && (reg == 2 || reg == 3));
	return (b & 0xf4) == 0xe4 || (b & 0xfc) == 0x6c ||	/* IN, OUT, INS, OUTS */
	       (b & 0xf0) == 0x70 || (b & 0xfc) == 0xe0 ||	/* Jcc rel8, LOOPcc, JrCXZ */
	       b == 0xe8 || b == 0xe9 || b == 0xeb || b == 0xff || /* CALL, JMP, group 5 */
	       b == 0xc2 || b == 0xc3 || b == 0xca || b == 0xcb || b == 0xcf || /* RET, IRET */
	       b == 0xf4;					/* HLT */
}

/*
 * QEMU 7.2's TCG aborts the whole emulator ("tcg fatal error") on a LOCK
 * BT/BTS/BTR/BTC whose destination is a register, where a CPU raises #UD
 * (docs/PLATFORM_FINDINGS.md). Such bytes would end the test machine, not
 * test the hypervisor: the LOCK becomes a NOP.
 */
static bool kills_qemu(const uint8_t *b)
{
	unsigned int i = 1;

	if (b[0] != 0xf0)
		return false;
	while (i < 15 && (b[i] == 0x26 || b[i] == 0x2e || b[i] == 0x36 || b[i] == 0x3e ||
			  b[i] == 0x64 || b[i] == 0x65 || b[i] == 0x66 || b[i] == 0x67 ||
			  b[i] == 0xf0 || b[i] == 0xf2 || b[i] == 0xf3 || (b[i] & 0xf0) == 0x40))
		i++;
	return b[i] == 0x0f &&
	       (b[i + 1] == 0xa3 || b[i + 1] == 0xab || b[i + 1] == 0xb3 || b[i + 1] == 0xbb ||
		b[i + 1] == 0xba) &&
	       b[i + 2] >= 0xc0;
}

/*
 * Run the bytes at code[id] with random registers and a stack of their own;
 * any exception comes back to 1:, on the stack saved here. The callee-saved
 * registers are pushed and popped around it, since the bytes may change any
 * register.
 */
static void run_bytes(unsigned int id, uint64_t *s)
{
	struct bytes_frame f = { &recover_rip[id], &recover_rsp[id], { 0 }, code[id], 0, 0, 0, 0 };
	struct bytes_frame *fp = &f;

	for (unsigned int i = 0; i < CODE_BYTES; i++)
		code[id][i] = (uint8_t)next_rand(s);
	/*
	 * INT3s after them: the bytes ran off their end. A one-byte trap, so an
	 * instruction that runs into them still meets one next (after a UD2
	 * cut in half, the CPU would slide on through whatever memory follows).
	 */
	for (unsigned int i = CODE_BYTES; i < sizeof(code[id]); i++)
		code[id][i] = 0xcc;
	/*
	 * Port I/O stops a VM at once (guests have no devices): keep most
	 * rounds going by making a leading IN or OUT a NOP, 15 times in 16; a
	 * long round makes every such byte a NOP, wherever it lands.
	 */
	if (((code[id][0] & 0xf4) == 0xe4 || (code[id][0] & 0xfc) == 0x6c) && next_rand(s) % 16)
		code[id][0] = 0x90;
	for (unsigned int i = 0; i < CODE_BYTES; i++) {
		if (kills_qemu(&code[id][i]) ||
		    (long_round && ends_a_long_round(code[id][i], code[id][i + 1], code[id][i + 2])))
			code[id][i] = 0x90;
	}
	/*
	 * Registers that mostly point into guest RAM, so that a memory operand
	 * mostly lands somewhere the VM survives (an access outside its memory
	 * stops it); 1 in 8 anything. A long round's point into the frame pool.
	 */
	for (unsigned int i = 0; i < 6; i++) {
		if (long_round) /* the frame pool: nothing there matters to the VM */
			f.regs[i] = frames_base + next_rand(s) % (frames_nr * PAGE);
		else
			f.regs[i] = next_rand(s) % 8 ? boot_info->data_base +
							 next_rand(s) % boot_info->data_bytes
						       : next_rand(s) >> (next_rand(s) & 63);
	}
	/*
	 * RDI and RBP into the pool too, and a stack of the pool's: the bytes
	 * must not reach this function's frame (the registers saved below, a
	 * pointer the loop uses next), or a store through RSP or RBP would
	 * turn into a wild store of ours after the recovery.
	 */
	if (long_round) /* RCX a count: a REP with STD would sweep down over the image */
		f.regs[1] = next_rand(s) % 512;
	f.rdi = frames_base + next_rand(s) % (frames_nr * PAGE);
	f.rbp = frames_base + next_rand(s) % (frames_nr * PAGE);
	f.rsp = frames_base + (id % frames_nr) * PAGE + PAGE / 2;
	f.rax = frames_base + next_rand(s) % (frames_nr * PAGE);
	asm volatile("push %%rbx\n\tpush %%rbp\n\tpush %%r12\n\tpush %%r13\n\t"
		     "push %%r14\n\tpush %%r15\n\t"
		     "mov 0(%%rdi), %%rax\n\tlea 1f(%%rip), %%rcx\n\tmov %%rcx, (%%rax)\n\t"
		     "mov 8(%%rdi), %%rax\n\tmov %%rsp, (%%rax)\n\t"
		     "mov 16(%%rdi), %%rbx\n\tmov 24(%%rdi), %%rcx\n\tmov 32(%%rdi), %%rdx\n\t"
		     "mov 40(%%rdi), %%rsi\n\tmov 48(%%rdi), %%r8\n\tmov 56(%%rdi), %%r9\n\t"
		     "mov 80(%%rdi), %%rbp\n\tmov 88(%%rdi), %%rsp\n\tpush 64(%%rdi)\n\t"
		     "mov 96(%%rdi), %%rax\n\tmov 72(%%rdi), %%rdi\n\t"
		     "ret\n"
		     "1:\tpop %%r15\n\tpop %%r14\n\tpop %%r13\n\tpop %%r12\n\tpop %%rbp\n\t"
		     "pop %%rbx"
		     : "+D"(fp)
		     :
		     : "rax", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "memory", "cc");
	asm volatile("sti"); /* the bytes may have cleared IF */
}

static void random_hypercall(uint64_t *s)
{
	/*
	 * Mostly calls that exist, with arguments that are bad now and then (a
	 * bad one stops the VM, which ends the round); now and then a call that
	 * does not exist.
	 */
	static const uint64_t nrs[] = { HC_PRINT, HC_REPORT, HC_VCPU_ID, HC_PRINT, HC_REPORT,
					HC_VCPU_ID, HC_PRINT, 0, 7, 0xbad, ~0ull };
	uint64_t a[3], pick = next_rand(s) % 64;

	if (long_round || next_rand(s) % 8) { /* a good call: text in RAM, a slot that exists */
		uint64_t text = boot_info->data_base + next_rand(s) % (boot_info->data_bytes - 256);

		if (next_rand(s) & 1)
			hypercall(HC_PRINT, text, next_rand(s) % 64, 0);
		else
			hypercall(HC_REPORT, 1 + next_rand(s) % 3, next_rand(s), 0);
		return;
	}
	for (unsigned int i = 0; i < 3; i++) {
		switch (next_rand(s) % 4) {
		case 0: a[i] = next_rand(s); break;
		case 1: a[i] = boot_info->mem_bytes - (next_rand(s) % 64); break; /* its end */
		case 2: a[i] = next_rand(s) % 8; break; /* a slot that exists, or nearly */
		default: a[i] = boot_info->data_base + next_rand(s) % boot_info->data_bytes; break;
		}
	}
	if (a[0] == 0 && a[1] == 0)
		return;
	hypercall(nrs[pick < 60 ? pick % 7 : 7 + pick % 4], a[0], a[1], a[2]);
}

/*
 * A long round keeps the bytes away from what would end it. It unmaps the
 * identity map past the end of RAM: a wild access then faults in the guest
 * (and is recovered) instead of reaching the hypervisor, which would stop
 * the VM. And it maps its own first 2 MiB with 4 KiB pages, the page
 * tables and the boot GDT (0x1000-0x8fff) read-only: a stray store there
 * (a PUSH on a wild RSP) faults instead of rewriting the tables the code
 * runs on. The table for that is the page after the frame pool.
 */
static void guard_own_tables(void)
{
	uint64_t *pd0 = (uint64_t *)(GUEST_PML4 + 2 * PAGE);
	uint64_t *pt = (uint64_t *)(frames_base + frames_nr * PAGE);

	for (uint64_t a = (boot_info->mem_bytes + (2ull << 20) - 1) & ~((2ull << 20) - 1);
	     a < (1ull << 30); a += 2ull << 20)
		pd0[a >> 21] = 0;
	for (uint64_t i = 0; i < 512; i++)
		pt[i] = i * PAGE | P | (i >= 1 && i < 9 ? 0 : RW);
	pd0[0] = (uint64_t)pt | P | RW;
}

/* vCPU 0: the shared window, its PDPT and PD, and a pool of frames to point at. */
static void build_window(void)
{
	uint64_t *pml4, next = boot_info->data_base;
	uint64_t *pdpt, *pd;

	asm volatile("mov %%cr3, %0" : "=r"(pml4));
	pml4 = (uint64_t *)((uint64_t)pml4 & ~0xfffull);
	pdpt = (uint64_t *)next;
	pd = (uint64_t *)(next + PAGE);
	win_pt = (uint64_t *)(next + 2 * PAGE);
	win_pt_phys = next + 2 * PAGE;
	for (unsigned int i = 0; i < 3 * PAGE / 8; i++)
		((uint64_t *)next)[i] = 0;
	frames_base = next + 3 * PAGE;
	frames_nr = 32;
	for (unsigned int i = 0; i < 512; i++)
		win_pt[i] = (frames_base + (i % frames_nr) * PAGE) | P | RW;
	win_pt[1] = win_pt_phys | P | RW; /* the self-map */
	pd[0] = win_pt_phys | P | RW;
	pdpt[0] = (uint64_t)pd | P | RW;
	pml4[1] = (uint64_t)pdpt | P | RW;
	if (long_round)
		guard_own_tables();
	asm volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: "rax", "memory");
}

/* A random value for a page-table entry: mostly sane, sometimes not. */
static uint64_t random_pte(uint64_t *s)
{
	uint64_t r = next_rand(s);
	uint64_t frame = frames_base + (r % frames_nr) * PAGE;

	switch ((r >> 8) % 8) {
	case 0: return 0;                                   /* not present */
	case 1: return win_pt_phys | P | RW;                /* the table itself */
	case 2: /* anywhere, reserved bits too (a wild access stops the VM: rarely) */
		return long_round || (r >> 11) % 8 ? frame | P : (r & ~0xfffull) | P;
	case 3: return frame | P | RW | PS;                 /* a huge page at level 1 */
	case 4: return frame | P | (1ull << 51);            /* a reserved address bit */
	default: return frame | P | ((r >> 16) & 0xf06);    /* RW, US, A, D at random */
	}
}

/*
 * One access that may fault, with its own recover point right after it:
 * the fault handler comes back to 1: on this RSP (it clobbers RAX, RCX and
 * the flags). The label is in the asm: a C label's address (&&label) may
 * be placed anywhere by the compiler, even on the faulting access itself.
 */
#define GUARDED(id, insn, ...)                                                     \
	asm volatile("lea 1f(%%rip), %%rax\n\tmov %%rax, (%[rip_slot])\n\t"        \
		     "mov %%rsp, (%[rsp_slot])\n\t" insn "\n1:"                      \
		     : : [rip_slot] "r"(&recover_rip[id]), [rsp_slot] "r"(&recover_rsp[id]), \
		       __VA_ARGS__ : "rax", "rcx", "memory", "cc")

static void table_step(unsigned int id, uint64_t *s)
{
	unsigned int idx = next_rand(s) % 512;
	uint64_t val = random_pte(s), va = WIN + (next_rand(s) % 512) * PAGE;
	uint64_t self = WIN + PAGE + idx * 8;

	switch (next_rand(s) % 4) {
	case 0: /* through the identity map */
		GUARDED(id, "movq %[v], (%[a])", [a] "r"(&win_pt[idx]), [v] "r"(val));
		break;
	case 1: /* through the self-map: a store to a table on its own path */
		GUARDED(id, "movq %[v], (%[a])", [a] "r"(self), [v] "r"(val));
		break;
	case 2: /* LOCK CMPXCHG through the self-map */
		GUARDED(id, "movq %[o], %%rax\n\tlock cmpxchgq %[v], (%[a])", [a] "r"(self),
			[o] "r"(val), [v] "r"(val ^ RW));
		break;
	default: /* unaligned, straddling the table's last entry and the page after */
		if (long_round) /* the entry's high half 0: its frame stays in RAM */
			val &= ~0xffffffffull;
		GUARDED(id, "movq %[v], (%[a])", [a] "r"(WIN + 2 * PAGE - 4), [v] "r"(val));
		break;
	}
	GUARDED(id, "invlpg (%[a])", [a] "r"(va));
	if (next_rand(s) & 1)
		GUARDED(id, "movq %[v], (%[a])", [a] "r"(va), [v] "r"(next_rand(s)));
	else
		GUARDED(id, "movq (%[a]), %%rax", [a] "r"(va + (next_rand(s) % PAGE & ~7ull)));
}

static void cr3_step(unsigned int id, uint64_t *s)
{
	uint64_t cr3, junk = frames_base + (next_rand(s) % frames_nr) * PAGE;

	asm volatile("mov %%cr3, %0" : "=r"(cr3));
	/* Our code and stack stay mapped only if the junk table happens to map them. */
	GUARDED(id, "mov %[j], %%cr3\n\tmov %[c], %%cr3", [j] "r"(junk), [c] "r"(cr3));
	asm volatile("mov %0, %%cr3" ::"r"(cr3) : "memory");
}

void guest_main(unsigned int vcpu_id)
{
	uint64_t seed = boot_info->arg[0] * 0x9e3779b97f4a7c15ull + vcpu_id + 1;
	uint64_t steps = boot_info->arg[1], shadow = boot_info->arg[2];
	unsigned int id = my_id();
	uint64_t t0;

	long_round = boot_info->arg[3] != 0; /* its time budget, in TSC ticks */

	use_vmcall = (uint8_t)boot_info->use_vmcall;
	if (vcpu_id == 0) {
		build_gdt_idt();
		install_idt(id);
		build_window();
		__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
	} else {
		while (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE))
			;
		/* vCPU 0 changed the identity map (a long round): forget the old one. */
		asm volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: "rax", "memory");
		install_idt(id);
	}
	t0 = guest_rdtsc();
	for (uint64_t i = 0; i < steps && (!long_round || guest_rdtsc() - t0 < boot_info->arg[3]); i++) {
		switch (next_rand(&seed) % 16) {
		case 0: case 1: case 2: case 3: case 4: case 5:
			run_bytes(id, &seed);
			break;
		case 6: case 7:
			random_hypercall(&seed);
			break;
		case 8: /* a garbage CR3 now and then (under shadow, where it is ours to check) */
			if (shadow && !long_round && next_rand(&seed) % 8 == 0)
				cr3_step(id, &seed);
			break;
		case 9: { /* interrupts off for a while (a long round's: briefly) */
			/*
			 * Where only a timer gets a vCPU with IF=0 out (Bochs'
			 * Skylake-X: the preemption timer, about 1 s), every
			 * flush waits out each stretch: a long round would spend
			 * its time waiting.
			 */
			unsigned int n = (unsigned int)(next_rand(&seed) % (long_round ? 1000 : 100000));

			asm volatile("cli");
			for (volatile unsigned int k = 0; k < n; k++)
				;
			asm volatile("sti");
			break;
		}
		default:
			table_step(id, &seed);
			break;
		}
	}
	guest_report(0, faults[id]);
}
