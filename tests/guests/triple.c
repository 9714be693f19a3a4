// SPDX-License-Identifier: MIT
// triple: a double fault the guest handles, then a triple fault it cannot.
// With an IDT that ends after vector 8, INT 0x40 is #GP, whose delivery is
// #GP again: a double fault, which gate 8 takes. With an empty IDT, UD2's
// #UD cannot be delivered, nor the #GP or #DF that follow: a PC resets
// (bare QEMU, with -no-reboot, exits without isa-debug-exit) and mmuvisor
// ends the VM with a triple-fault line. tests/guests/run-diff checks both.
#include "lib.h"

const char test_name[] = "triple";

struct table_ptr {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

static jmp_buf back;

static void on_double_fault(struct trap_frame *f)
{
	say("double fault delivered, error code %u", f->error);
	longjmp(back, 1);
}

void test_main(uint32_t mbi)
{
	struct table_ptr full, short_idt, none = { 0, 0 };

	(void)mbi;
	trap_set(8, on_double_fault);
	__asm__ volatile("sidt %0" : "=m"(full));
	short_idt = (struct table_ptr){ 9 * 8 - 1, full.base };
	if (!setjmp(back)) {
		__asm__ volatile("lidt %0" ::"m"(short_idt));
		__asm__ volatile("int $0x40");
		fail("int 0x40 beyond the IDT's limit did not fault");
	}
	__asm__ volatile("lidt %0" ::"m"(full));
	say("now a triple fault");
	__asm__ volatile("lidt %0; ud2" ::"m"(none));
	fail("ud2 with an empty IDT returned");
}
