// SPDX-License-Identifier: MIT
// The test kernels' runtime. Output goes to COM1 only; every line a kernel
// prints must be the same on any platform with the same CPU features, so
// nothing here prints an address.
#include "lib.h"

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4

unsigned failures;

/* ---- serial ---- */

static void serial_init(void)
{
	outb(COM1 + 1, 0x00); // IER: no interrupts
	outb(COM1 + 3, 0x80); // LCR: DLAB
	outb(COM1 + 0, 0x01); // divisor 1: 115200 baud
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); // 8n1
	outb(COM1 + 2, 0xc7); // FIFO on, cleared
	outb(COM1 + 4, 0x03); // DTR, RTS
}

void serial_putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20)) // LSR.THRE
		;
	outb(COM1, (uint8_t)c);
}

/* ---- strings and arithmetic ---- */

void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

uint64_t udivmod64(uint64_t n, uint64_t d, uint64_t *rem)
{
	uint64_t q = 0, r = 0;
	for (int i = 63; i >= 0; i--) {
		r = (r << 1) | ((n >> i) & 1);
		if (r >= d) {
			r -= d;
			q |= 1ull << i;
		}
	}
	if (rem)
		*rem = r;
	return q;
}

/* ---- printf ---- */

static void put_number(uint64_t v, unsigned base, int width, char pad, int negative)
{
	char buf[24];
	int n = 0;
	do {
		uint64_t digit;
		if (base == 16) {
			digit = v & 15;
			v >>= 4;
		} else {
			v = udivmod64(v, base, &digit);
		}
		buf[n++] = "0123456789abcdef"[digit];
	} while (v);
	if (negative)
		buf[n++] = '-';
	for (int i = n; i < width; i++)
		serial_putc(pad);
	while (n)
		serial_putc(buf[--n]);
}

void kvprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			serial_putc(*fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, longs = 0;
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		uint64_t v;
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			while (*s)
				serial_putc(*s++);
			break;
		}
		case 'c':
			serial_putc((char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t sv = longs >= 2 ? va_arg(ap, int64_t) : va_arg(ap, int32_t);
			put_number(sv < 0 ? -(uint64_t)sv : (uint64_t)sv, 10, width, pad, sv < 0);
			break;
		}
		case 'u':
		case 'x':
			v = longs >= 2 ? va_arg(ap, uint64_t) : va_arg(ap, uint32_t);
			put_number(v, *fmt == 'x' ? 16 : 10, width, pad, 0);
			break;
		case '%':
			serial_putc('%');
			break;
		default:
			serial_putc('?');
			break;
		}
	}
}

void kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
}

void say(const char *fmt, ...)
{
	va_list ap;
	kprintf("%s: ", test_name);
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	serial_putc('\n');
}

int check(int cond, const char *fmt, ...)
{
	va_list ap;
	kprintf("%s: ", test_name);
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	kprintf(cond ? " ok\n" : " FAIL\n");
	if (!cond)
		failures++;
	return cond;
}

void fail(const char *fmt, ...)
{
	va_list ap;
	kprintf("%s: ", test_name);
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	kprintf(" FAIL\n");
	failures++;
}

void debug_exit(uint32_t code)
{
	outl(DEBUG_EXIT_PORT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void finish(void)
{
	if (failures)
		say("FAIL (%u failures)", failures);
	else
		say("PASS");
	debug_exit(failures ? 1 : 0);
}

/* ---- CPUID ---- */

struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
	struct cpuid_regs r;
	__asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
	return r;
}

static int cpuid_bit(uint32_t leaf, int reg, int bit)
{
	uint32_t max = cpuid(leaf & 0x80000000u, 0).eax;
	if (max < leaf)
		return 0;
	struct cpuid_regs r = cpuid(leaf, 0);
	uint32_t v = reg == 'b' ? r.ebx : reg == 'c' ? r.ecx : r.edx;
	return (v >> bit) & 1;
}

int cpu_has_pse(void) { return cpuid_bit(1, 'd', 3); }
int cpu_has_pae(void) { return cpuid_bit(1, 'd', 6); }
int cpu_has_nx(void) { return cpuid_bit(0x80000001u, 'd', 20); }
int cpu_has_lm(void) { return cpuid_bit(0x80000001u, 'd', 29); }
int cpu_has_smep(void) { return cpuid_bit(7, 'b', 7); }
int cpu_has_smap(void) { return cpuid_bit(7, 'b', 20); }

/* ---- fw_cfg ---- */

#define FW_CFG_PORT_SEL 0x510
#define FW_CFG_PORT_DATA 0x511

void fw_cfg_select(uint16_t key) { outw(FW_CFG_PORT_SEL, key); }

void fw_cfg_read(void *buf, uint32_t len)
{
	uint8_t *p = buf;
	while (len--)
		*p++ = inb(FW_CFG_PORT_DATA);
}

uint64_t fw_cfg_read_le(uint16_t key, unsigned bytes)
{
	uint8_t b[8] = {0};
	uint64_t v = 0;
	fw_cfg_select(key);
	fw_cfg_read(b, bytes);
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

/*
 * The file directory (key 0x19) is big-endian:
 *   u32 count; then count x { u32 size; u16 select; u16 reserved; char name[56]; }
 */
int fw_cfg_find_file(const char *name, uint16_t *select, uint32_t *size)
{
	uint8_t b[64];
	fw_cfg_select(FW_CFG_FILE_DIR);
	fw_cfg_read(b, 4);
	uint32_t count = be32(b);
	size_t len = strlen(name);
	for (uint32_t i = 0; i < count; i++) {
		fw_cfg_read(b, 64);
		if (len < 56 && !memcmp(b + 8, name, len + 1)) {
			*size = be32(b);
			*select = (uint16_t)(b[4] << 8 | b[5]);
			return 1;
		}
	}
	return 0;
}

/* ---- GDT, TSS, IDT ---- */

struct tss32 {
	uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint32_t es, cs, ss, ds, fs, gs, ldt;
	uint16_t trap, iomap_base;
} __attribute__((packed));

static struct tss32 tss;
static uint8_t trap_stack[16384] __attribute__((aligned(16)));

/*
 * 0x08 code32 DPL0, 0x10 data DPL0, 0x18 code64 DPL0 (L=1),
 * 0x20 code32 DPL3, 0x28 data DPL3, 0x30 code64 DPL3, 0x38 TSS (32-bit, available).
 */
static uint64_t gdt[8] = {
	0,
	0x00cf9a000000ffffull,
	0x00cf92000000ffffull,
	0x00af9a000000ffffull,
	0x00cffa000000ffffull,
	0x00cff2000000ffffull,
	0x00affa000000ffffull,
	0,
};

struct __attribute__((packed)) table_ptr {
	uint16_t limit;
	uint32_t base;
};

struct idt_gate {
	uint16_t offset_lo, selector;
	uint8_t zero, type_attr;
	uint16_t offset_hi;
};
static struct idt_gate idt[256];
static trap_handler_t handlers[256];
extern char trap_stubs[], trap_stub_0x80[];

void tss_set_esp0(uint32_t esp0) { tss.esp0 = esp0; }

static void gdt_init(void)
{
	uint32_t base = (uint32_t)&tss, limit = sizeof(tss) - 1;
	gdt[SEL_TSS / 8] = (uint64_t)(limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 |
			   0x89ull << 40 | (uint64_t)(limit >> 16) << 48 | (uint64_t)(base >> 24) << 56;
	tss.ss0 = SEL_DATA;
	tss.esp0 = (uint32_t)(trap_stack + sizeof(trap_stack));
	tss.iomap_base = sizeof(tss);
	struct table_ptr p = {sizeof(gdt) - 1, (uint32_t)gdt};
	__asm__ volatile("lgdt %0\n\t"
			 "ljmp $0x08, $1f\n"
			 "1:\tmov $0x10, %%ax\n\t"
			 "mov %%ax, %%ds\n\tmov %%ax, %%es\n\tmov %%ax, %%ss\n\t"
			 "mov %%ax, %%fs\n\tmov %%ax, %%gs\n\t"
			 "mov $0x38, %%ax\n\tltr %%ax" ::"m"(p)
			 : "eax", "memory");
}

static void idt_set(unsigned vec, void *stub, unsigned dpl)
{
	uint32_t off = (uint32_t)stub;
	idt[vec] = (struct idt_gate){(uint16_t)off, SEL_CODE32, 0, (uint8_t)(0x8e | dpl << 5), (uint16_t)(off >> 16)};
}

static void idt_init(void)
{
	for (unsigned v = 0; v < 32; v++)
		idt_set(v, trap_stubs + 16 * v, 0);
	idt_set(0x80, trap_stub_0x80, 3);
	struct table_ptr p = {sizeof(idt) - 1, (uint32_t)idt};
	__asm__ volatile("lidt %0" ::"m"(p));
}

void trap_set(unsigned vector, trap_handler_t h) { handlers[vector] = h; }

void trap_dispatch(struct trap_frame *f);
void trap_dispatch(struct trap_frame *f)
{
	if (handlers[f->vector]) {
		handlers[f->vector](f);
		return;
	}
	// Vector and error code only: the eip is an address, not a fact.
	fail("unexpected exception vector=%u error=0x%x cpl=%u", f->vector, f->error, f->cs & 3);
	finish();
}

void lib_start(uint32_t magic, uint32_t mbi);
void lib_start(uint32_t magic, uint32_t mbi)
{
	serial_init();
	gdt_init();
	idt_init();
	if (magic != MULTIBOOT_LOADER_MAGIC) {
		fail("multiboot magic");
		finish();
	}
	test_main(mbi);
	finish();
}
