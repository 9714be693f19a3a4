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

static void install_idt(void)
{
	uint64_t h = (uint64_t)fuzz_fault;
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) ptr = { sizeof(idt) - 1,
									   (uint64_t)idt };

	for (unsigned int v = 0; v < 256; v++) {
		idt[2 * v] = (h & 0xffff) | (0x08ull << 16) | (0x8eull << 40) |
			     ((h >> 16) & 0xffff) << 48;
		idt[2 * v + 1] = h >> 32;
	}
	asm volatile("lidt %0" ::"m"(ptr));
}

/* What run_bytes() hands its asm, in one register (offsets fixed below). */
struct bytes_frame {
	volatile uint64_t *rip_slot, *rsp_slot; /* 0, 8 */
	uint64_t regs[6];                       /* 16..56: rbx rcx rdx rsi r8 r9 */
	uint8_t *code;                          /* 64 */
};

/*
 * Run the bytes at code[id] with random registers; any exception comes back
 * to 1:, on the stack saved here. The callee-saved registers are pushed and
 * popped around it, since the bytes may change any register.
 */
static void run_bytes(unsigned int id, uint64_t *s)
{
	struct bytes_frame f = { &recover_rip[id], &recover_rsp[id], { 0 }, code[id] };
	struct bytes_frame *fp = &f;

	for (unsigned int i = 0; i < CODE_BYTES; i++)
		code[id][i] = (uint8_t)next_rand(s);
	/*
	 * Port I/O stops a VM at once (guests have no devices): keep most
	 * rounds going by making a leading IN or OUT a NOP, 15 times in 16.
	 */
	if (((code[id][0] & 0xf4) == 0xe4 || (code[id][0] & 0xfc) == 0x6c) && next_rand(s) % 16)
		code[id][0] = 0x90;
	code[id][CODE_BYTES] = 0x0f; /* UD2: the bytes ran off their end */
	code[id][CODE_BYTES + 1] = 0x0b;
	/*
	 * Registers that mostly point into guest RAM, so that a memory operand
	 * mostly lands somewhere the VM survives (an access outside its memory
	 * stops it); 1 in 8 anything.
	 */
	for (unsigned int i = 0; i < 6; i++)
		f.regs[i] = next_rand(s) % 8 ? boot_info->data_base +
						next_rand(s) % boot_info->data_bytes
					      : next_rand(s) >> (next_rand(s) & 63);
	asm volatile("push %%rbx\n\tpush %%rbp\n\tpush %%r12\n\tpush %%r13\n\t"
		     "push %%r14\n\tpush %%r15\n\t"
		     "mov 0(%%rdi), %%rax\n\tlea 1f(%%rip), %%rcx\n\tmov %%rcx, (%%rax)\n\t"
		     "mov 8(%%rdi), %%rax\n\tmov %%rsp, (%%rax)\n\t"
		     "mov 64(%%rdi), %%rax\n\t"
		     "mov 16(%%rdi), %%rbx\n\tmov 24(%%rdi), %%rcx\n\tmov 32(%%rdi), %%rdx\n\t"
		     "mov 40(%%rdi), %%rsi\n\tmov 48(%%rdi), %%r8\n\tmov 56(%%rdi), %%r9\n\t"
		     "xor %%edi, %%edi\n\t"
		     "jmp *%%rax\n"
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

	if (next_rand(s) % 8) { /* a good call: a text in RAM, a slot that exists */
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
		return (r >> 11) % 8 ? frame | P : (r & ~0xfffull) | P;
	case 3: return frame | P | RW | PS;                 /* a huge page at level 1 */
	case 4: return frame | P | (1ull << 51);            /* a reserved address bit */
	default: return frame | P | ((r >> 16) & 0xf06);    /* RW, US, A, D at random */
	}
}

static void table_step(unsigned int id, uint64_t *s)
{
	unsigned int idx = next_rand(s) % 512;
	uint64_t val = random_pte(s), va = WIN + (next_rand(s) % 512) * PAGE;

	recover_rip[id] = (uint64_t)&&done;
	asm volatile("mov %%rsp, %0" : "=m"(recover_rsp[id]));
	switch (next_rand(s) % 4) {
	case 0: /* through the identity map */
		win_pt[idx] = val;
		break;
	case 1: /* through the self-map: a store to a table on its own path */
		*(volatile uint64_t *)(WIN + PAGE + idx * 8) = val;
		break;
	case 2: /* LOCK CMPXCHG through the self-map */
		__atomic_compare_exchange_n((uint64_t *)(WIN + PAGE + idx * 8), &val, val ^ RW,
					    false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		break;
	default: /* unaligned, straddling the table's last entry and the page after */
		*(volatile uint64_t *)(WIN + 2 * PAGE - 4) = val;
		break;
	}
	asm volatile("invlpg (%0)" ::"r"(va) : "memory");
	if (next_rand(s) & 1)
		*(volatile uint64_t *)va = next_rand(s);
	else
		(void)*(volatile uint64_t *)(va + (next_rand(s) % PAGE & ~7ull));
done:
	asm volatile("" ::: "memory");
}

static void cr3_step(unsigned int id, uint64_t *s)
{
	uint64_t cr3, junk = frames_base + (next_rand(s) % frames_nr) * PAGE;

	asm volatile("mov %%cr3, %0" : "=r"(cr3));
	recover_rip[id] = (uint64_t)&&back;
	asm volatile("mov %%rsp, %0" : "=m"(recover_rsp[id]));
	/* Our code and stack stay mapped only if the junk table happens to map them. */
	asm volatile("mov %0, %%cr3; mov %1, %%cr3" ::"r"(junk), "r"(cr3) : "memory");
back:
	asm volatile("mov %0, %%cr3" ::"r"(cr3) : "memory");
}

void guest_main(unsigned int vcpu_id)
{
	uint64_t seed = boot_info->arg[0] * 0x9e3779b97f4a7c15ull + vcpu_id + 1;
	uint64_t steps = boot_info->arg[1], shadow = boot_info->arg[2];
	unsigned int id = my_id();

	use_vmcall = (uint8_t)boot_info->use_vmcall;
	if (vcpu_id == 0) {
		install_idt();
		build_window();
		__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
	} else {
		while (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE))
			;
		install_idt();
	}
	for (uint64_t i = 0; i < steps; i++) {
		switch (next_rand(&seed) % 16) {
		case 0: case 1: case 2: case 3: case 4: case 5:
			run_bytes(id, &seed);
			break;
		case 6: case 7:
			random_hypercall(&seed);
			break;
		case 8: /* a garbage CR3 now and then (under shadow, where it is ours to check) */
			if (shadow && next_rand(&seed) % 8 == 0)
				cr3_step(id, &seed);
			break;
		case 9: { /* interrupts off for a while */
			unsigned int n = (unsigned int)(next_rand(&seed) % 100000);

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
