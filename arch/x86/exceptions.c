// SPDX-License-Identifier: MIT
#include "arch/x86/console.h"
#include "arch/x86/cpu.h"
#include "arch/x86/interrupt.h"
#include "arch/x86/panic.h"
#include "arch/x86/percpu.h"

#define BACKTRACE_DEPTH 16

extern char _kernel_start[], _kernel_end[], _etext[];

static const char *const exception_names[32] = {
	[0] = "#DE divide error",       [1] = "#DB debug",
	[2] = "NMI",                    [3] = "#BP breakpoint",
	[4] = "#OF overflow",           [5] = "#BR bound range",
	[6] = "#UD invalid opcode",     [7] = "#NM device not available",
	[8] = "#DF double fault",       [10] = "#TS invalid TSS",
	[11] = "#NP segment not present", [12] = "#SS stack fault",
	[13] = "#GP general protection", [14] = "#PF page fault",
	[16] = "#MF x87 error",         [17] = "#AC alignment check",
	[18] = "#MC machine check",     [19] = "#XM SIMD error",
	[20] = "#VE virtualization",    [21] = "#CP control protection",
};

static bool in_kernel_image(uint64_t addr)
{
	return addr >= (uint64_t)_kernel_start && addr < (uint64_t)_kernel_end;
}

/* Walk the frame-pointer chain (we build with -fno-omit-frame-pointer). */
void backtrace_print(uint64_t rbp)
{
	kprintf("backtrace: (resolve with: addr2line -f -e build/mmuvisor.elf ADDR)\n");
	for (int i = 0; i < BACKTRACE_DEPTH && rbp && !(rbp & 7); i++) {
		const uint64_t *frame = (const uint64_t *)rbp;

		if (!in_kernel_image(rbp) && (rbp < 0x1000 || rbp > (1ull << 40)))
			break;
		if (frame[1] < (uint64_t)_kernel_start || frame[1] >= (uint64_t)_etext)
			break; /* not a return address into our code */
		kprintf("  #%d 0x%lx\n", i, (unsigned long)frame[1]);
		if (frame[0] <= rbp)
			break; /* frames grow upwards; anything else is a corrupt chain */
		rbp = frame[0];
	}
}

_Noreturn void exception_fatal(const struct regs *r)
{
	const char *name = r->vector < 32 && exception_names[r->vector]
				   ? exception_names[r->vector]
				   : "reserved exception";

	panic_begin();
	kprintf("EXCEPTION %s (vector %lu) error 0x%lx on cpu %u\n", name,
		(unsigned long)r->vector, (unsigned long)r->error, this_cpu()->cpu);
	kprintf("RIP=%016lx CS=%04lx RFLAGS=%016lx RSP=%016lx SS=%04lx\n",
		(unsigned long)r->rip, (unsigned long)r->cs, (unsigned long)r->rflags,
		(unsigned long)r->rsp, (unsigned long)r->ss);
	kprintf("RAX=%016lx RBX=%016lx RCX=%016lx RDX=%016lx\n", (unsigned long)r->rax,
		(unsigned long)r->rbx, (unsigned long)r->rcx, (unsigned long)r->rdx);
	kprintf("RSI=%016lx RDI=%016lx RBP=%016lx R8 =%016lx\n", (unsigned long)r->rsi,
		(unsigned long)r->rdi, (unsigned long)r->rbp, (unsigned long)r->r8);
	kprintf("R9 =%016lx R10=%016lx R11=%016lx R12=%016lx\n", (unsigned long)r->r9,
		(unsigned long)r->r10, (unsigned long)r->r11, (unsigned long)r->r12);
	kprintf("R13=%016lx R14=%016lx R15=%016lx\n", (unsigned long)r->r13,
		(unsigned long)r->r14, (unsigned long)r->r15);
	kprintf("CR0=%016lx CR2=%016lx CR3=%016lx CR4=%016lx\n", (unsigned long)read_cr0(),
		(unsigned long)read_cr2(), (unsigned long)read_cr3(), (unsigned long)read_cr4());
	kprintf("  #- 0x%lx (faulting instruction)\n", (unsigned long)r->rip);
	backtrace_print(r->rbp);
	panic_finish();
}
