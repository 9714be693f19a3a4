// SPDX-License-Identifier: MIT
#include <stdarg.h>

#include "guest/runtime.h"
#include "lib/printf.h"

const struct guest_boot_info *boot_info;
static bool use_vmcall;

/* fmt_vsnprintf returns the untruncated length: clamp it to what buf holds. */
static uint64_t text_len(int n, size_t size)
{
	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

uint64_t hypercall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	uint64_t ret;

	if (use_vmcall)
		asm volatile("vmcall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1), "d"(a2) : "memory");
	else
		asm volatile("vmmcall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1), "d"(a2) : "memory");
	return ret;
}

/* Format into a buffer and hand the text to hypercall nr (HC_PRINT, HC_FAIL). */
static void hypercall_text(uint64_t nr, const char *fmt, va_list ap)
{
	char buf[HC_PRINT_MAX];
	int n = fmt_vsnprintf(buf, sizeof(buf), fmt, ap);

	hypercall(nr, (uint64_t)buf, text_len(n, sizeof(buf)), 0);
}

void guest_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hypercall_text(HC_PRINT, fmt, ap);
	va_end(ap);
}

void guest_report(unsigned int slot, uint64_t value)
{
	hypercall(HC_REPORT, slot, value, 0);
}

void guest_barrier(void)
{
	hypercall(HC_BARRIER, 0, 0, 0);
}

_Noreturn void guest_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hypercall_text(HC_FAIL, fmt, ap);
	va_end(ap);
	for (;;)
		asm volatile("hlt");
}

_Noreturn void guest_start(unsigned int vcpu_id, const struct guest_boot_info *info);
_Noreturn void guest_start(unsigned int vcpu_id, const struct guest_boot_info *info)
{
	boot_info = info;
	use_vmcall = info->use_vmcall;
	if (info->magic != GUEST_BOOT_MAGIC)
		guest_fail("bad boot information magic 0x%lx", (unsigned long)info->magic);
	guest_main(vcpu_id);
	hypercall(HC_DONE, 0, 0, 0);
	for (;;)
		asm volatile("hlt");
}
