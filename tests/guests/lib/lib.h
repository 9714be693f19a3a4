// SPDX-License-Identifier: MIT
// The test kernels' runtime: serial output, checks, exit, fw_cfg, traps, CPUID
// and MSR access. Everything runs at 1 MiB, 32-bit, interrupts off.
#ifndef TGUEST_LIB_H
#define TGUEST_LIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define MULTIBOOT_LOADER_MAGIC 0x2BADB002u

// GDT selectors (lib/gdt.c draws the table).
#define SEL_CODE32 0x08
#define SEL_DATA 0x10
#define SEL_CODE64 0x18
#define SEL_UCODE32 0x23
#define SEL_UDATA 0x2b
#define SEL_TSS 0x38

// Each kernel defines its name (the prefix of every output line) and main.
extern const char test_name[];
void test_main(uint32_t mbi);

// Output. kprintf knows %s %c %d %u %x %lx %llx %llu with '0' and width.
void serial_putc(char c);
void kprintf(const char *fmt, ...);
void kvprintf(const char *fmt, va_list ap);
// One line: "<name>: <text>\n".
void say(const char *fmt, ...);
// One line "<name>: <text> ok" or "<name>: <text> FAIL"; a false cond counts a failure.
int check(int cond, const char *fmt, ...);
void fail(const char *fmt, ...);
extern unsigned failures;
// Prints "<name>: PASS" or "<name>: FAIL (<n> failures)" and exits 0 or 1.
__attribute__((noreturn)) void finish(void);
// isa-debug-exit: QEMU exits with (code << 1) | 1.
__attribute__((noreturn)) void debug_exit(uint32_t code);

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
// 64-bit division without libgcc (there is no 32-bit libgcc on the host).
uint64_t udivmod64(uint64_t n, uint64_t d, uint64_t *rem);

// Port I/O, control registers, MSRs, CPUID.
static inline void outb(uint16_t p, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(p)); }
static inline void outw(uint16_t p, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(p)); }
static inline void outl(uint16_t p, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(p)); }
static inline uint8_t inb(uint16_t p) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline uint32_t inl(uint16_t p) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }

#define DEFINE_CR(n) \
	static inline uint32_t read_cr##n(void) { uint32_t v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
	static inline void write_cr##n(uint32_t v) { __asm__ volatile("mov %0, %%cr" #n ::"r"(v) : "memory"); }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

#define CR0_WP (1u << 16)
#define CR0_PG (1u << 31)
#define CR4_PSE (1u << 4)
#define CR4_PAE (1u << 5)
#define CR4_SMEP (1u << 20)
#define CR4_SMAP (1u << 21)

#define MSR_EFER 0xc0000080u
#define EFER_LME (1ull << 8)
#define EFER_NXE (1ull << 11)

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline void invlpg(uint32_t va) { __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory"); }

struct cpuid_regs { uint32_t eax, ebx, ecx, edx; };
struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf);

// CPU features the kernels care about (CPUID bits, false where the leaf is absent).
int cpu_has_pse(void);
int cpu_has_pae(void);
int cpu_has_nx(void);
int cpu_has_lm(void);
int cpu_has_smep(void);
int cpu_has_smap(void);

// fw_cfg, traditional I/O interface: selector 0x510, data 0x511.
#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID 0x01
#define FW_CFG_RAM_SIZE 0x03
#define FW_CFG_NB_CPUS 0x05
#define FW_CFG_MAX_CPUS 0x0f
#define FW_CFG_FILE_DIR 0x19
void fw_cfg_select(uint16_t key);
void fw_cfg_read(void *buf, uint32_t len);
uint64_t fw_cfg_read_le(uint16_t key, unsigned bytes);
// Finds a named file; returns 0 when absent.
int fw_cfg_find_file(const char *name, uint16_t *select, uint32_t *size);

// Traps: a handler gets the frame and may change eip (or longjmp away).
struct trap_frame {
	uint32_t edi, esi, ebp, esp_at_pusha, ebx, edx, ecx, eax;
	uint32_t vector, error;
	uint32_t eip, cs, eflags;
	uint32_t esp, ss; // only when the trap came from CPL3
};
typedef void (*trap_handler_t)(struct trap_frame *f);
void trap_set(unsigned vector, trap_handler_t h);
// The TSS's ring-0 stack, used when a trap comes from CPL3.
void tss_set_esp0(uint32_t esp0);

struct jmp_buf_s { uint32_t ebx, esi, edi, ebp, esp, eip; };
typedef struct jmp_buf_s jmp_buf[1];
int setjmp(jmp_buf jb) __attribute__((returns_twice));
// Also reloads ds/es/fs/gs with the kernel data selector and clears EFLAGS.AC.
__attribute__((noreturn)) void longjmp(jmp_buf jb, int v);
// iret to CPL3 at eip with eax/ebx loaded; returns only by a longjmp.
__attribute__((noreturn)) void enter_user(uint32_t eip, uint32_t esp, uint32_t eax, uint32_t ebx);

extern char __kernel_start[], __kernel_end[], __user_start[], __user_end[];

#endif
