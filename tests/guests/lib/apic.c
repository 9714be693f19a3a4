// SPDX-License-Identifier: MIT
// The local APIC, interrupt gates 32-255, PM-timer delays and SMP start-up
// for the test kernels (see apic.h). Nothing here prints.
#include "apic.h"
#include "lib.h"

/* ---- the local APIC ---- */

uint32_t apic_read(uint32_t reg) { return *(volatile uint32_t *)(APIC_BASE + reg); }
void apic_write(uint32_t reg, uint32_t val) { *(volatile uint32_t *)(APIC_BASE + reg) = val; }
void apic_eoi(void) { apic_write(APIC_EOI, 0); }
uint32_t apic_id(void) { return apic_read(APIC_ID) >> 24; }

int apic_vector_bit(uint32_t base, unsigned v) { return (apic_read(base + 0x10 * (v / 32)) >> (v % 32)) & 1; }

int apic_icr_wait_idle(void)
{
	struct deadline d;
	deadline_start(&d, 100000);
	while (apic_read(APIC_ICR_LO) & APIC_ICR_BUSY)
		if (deadline_passed(&d))
			return 0;
	return 1;
}

void apic_send_ipi(uint32_t dest_id, uint32_t icr_low)
{
	uint32_t flags;
	__asm__ volatile("pushf; pop %0; cli" : "=r"(flags) : : "memory");
	apic_icr_wait_idle();
	apic_write(APIC_ICR_HI, dest_id << 24);
	apic_write(APIC_ICR_LO, icr_low);
	apic_icr_wait_idle();
	if (flags & (1u << 9))
		irq_enable();
}

volatile uint32_t apic_spurious[SMP_MAX_CPUS];

static void spurious_handler(unsigned vector)
{
	(void)vector;
	int i = smp_cpu_index();
	if (i >= 0)
		apic_spurious[i]++;
	// No EOI for the spurious vector.
}

void apic_enable(void)
{
	apic_irq_set(APIC_SPURIOUS_VECTOR, spurious_handler);
	apic_write(APIC_SVR, APIC_SVR_ENABLE | APIC_SPURIOUS_VECTOR);
	apic_write(APIC_TPR, 0);
}

/* ---- interrupt gates 32-255 ---- */

// One 16-byte stub per vector: push the vector, then the common path.
__asm__(".text\n\t"
	".balign 16\n"
	"apic_irq_stubs:\n\t"
	".set apic_irq_v, 32\n\t"
	".rept 224\n\t"
	".balign 16\n\t"
	"pushl $apic_irq_v\n\t"
	"jmp apic_irq_common\n\t"
	".set apic_irq_v, apic_irq_v + 1\n\t"
	".endr\n"
	"apic_irq_common:\n\t"
	"pusha\n\t"
	"cld\n\t"
	"pushl 32(%esp)\n\t"
	"call apic_irq_dispatch\n\t"
	"addl $4, %esp\n\t"
	"popa\n\t"
	"addl $4, %esp\n\t"
	"iret\n");
extern char apic_irq_stubs[];

static apic_irq_handler_t irq_handlers[256];

void apic_irq_dispatch(uint32_t vector);
void apic_irq_dispatch(uint32_t vector)
{
	if (vector < 256 && irq_handlers[vector]) {
		irq_handlers[vector](vector);
		return;
	}
	fail("unexpected interrupt vector=0x%x cpu=%d", vector, smp_cpu_index());
	finish();
}

struct __attribute__((packed)) dt_ptr {
	uint16_t limit;
	uint32_t base;
};

void apic_irq_set(unsigned vector, apic_irq_handler_t h)
{
	if (vector < 32 || vector > 255)
		return;
	irq_handlers[vector] = h;
	struct dt_ptr p;
	__asm__ volatile("sidt %0" : "=m"(p));
	uint32_t off = (uint32_t)(apic_irq_stubs + 16 * (vector - 32));
	volatile uint32_t *g = (volatile uint32_t *)(p.base + 8 * vector);
	g[0] = (off & 0xffff) | (uint32_t)SEL_CODE32 << 16;
	g[1] = (off & 0xffff0000u) | 0x8e00; // present, DPL0, 32-bit interrupt gate
}

/* ---- ACPI: MADT and the FACP's PM timer ---- */

static uint32_t le32(const uint8_t *b) { return (uint32_t)b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24; }

static const uint8_t *acpi_find(const char *sig)
{
	const uint8_t *rsdp = NULL;
	for (uint32_t a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp((const void *)a, "RSD PTR ", 8)) {
			rsdp = (const uint8_t *)a;
			break;
		}
	if (!rsdp)
		return NULL;
	const uint8_t *rsdt = (const uint8_t *)le32(rsdp + 16);
	if (memcmp(rsdt, "RSDT", 4))
		return NULL;
	uint32_t n = (le32(rsdt + 4) - 36) / 4;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *h = (const uint8_t *)le32(rsdt + 36 + 4 * i);
		if (!memcmp(h, sig, 4))
			return h;
	}
	return NULL;
}

static int pm_state; // 0 not looked, 1 present, -1 absent
static uint16_t pm_port;

int pmtimer_present(void)
{
	if (!pm_state) {
		const uint8_t *facp = acpi_find("FACP");
		uint32_t port = facp && le32(facp + 4) >= 80 ? le32(facp + 76) : 0;
		pm_port = (uint16_t)port;
		pm_state = port && port < 0x10000 ? 1 : -1;
	}
	return pm_state > 0;
}

static uint32_t pm_read(void) { return inl(pm_port) & 0xffffff; }

void deadline_start(struct deadline *d, uint32_t us)
{
	d->last = d->left = d->spins = 0;
	if (pmtimer_present()) {
		d->left = (uint32_t)udivmod64((uint64_t)us * 3579545u, 1000000u, NULL);
		d->last = pm_read();
	} else {
		d->spins = us * 100 + 1; // not calibrated: about right for TCG
	}
}

int deadline_passed(struct deadline *d)
{
	if (!pmtimer_present()) {
		cpu_relax();
		return --d->spins == 0;
	}
	uint32_t now = pm_read(), delta = (now - d->last) & 0xffffff;
	d->last = now;
	if (delta >= d->left) {
		d->left = 0;
		return 1;
	}
	d->left -= delta;
	return 0;
}

void udelay(uint32_t us)
{
	struct deadline d;
	deadline_start(&d, us);
	while (!deadline_passed(&d))
		;
}

int wait_eq(volatile uint32_t *p, uint32_t val, uint32_t us)
{
	struct deadline d;
	deadline_start(&d, us);
	while (*p != val)
		if (deadline_passed(&d))
			return *p == val;
	return 1;
}

int wait_ge(volatile uint32_t *p, uint32_t val, uint32_t us)
{
	struct deadline d;
	deadline_start(&d, us);
	while (*p < val)
		if (deadline_passed(&d))
			return *p >= val;
	return 1;
}

/* ---- SMP ---- */

unsigned smp_nr_cpus;
uint32_t smp_apic_ids[SMP_MAX_CPUS];
unsigned smp_fwcfg_cpus;
int smp_from_madt;
volatile uint32_t smp_ap_online[SMP_MAX_CPUS];
volatile uint32_t smp_ap_entry_cs[SMP_MAX_CPUS];
volatile uint32_t smp_ap_entry_cr0[SMP_MAX_CPUS];
volatile uint32_t smp_trampoline_entries;

static int smp_inited;
static struct dt_ptr bsp_idtr;
static void (*smp_ap_main)(unsigned idx);

extern char smp_tramp_start[], smp_tramp_end[], smp_tramp_gdtr[];

void smp_init(void)
{
	if (smp_inited)
		return;
	smp_inited = 1;
	pmtimer_present(); // reads the FACP now, while the ACPI tables are reachable
	char sig[4];
	fw_cfg_select(FW_CFG_SIGNATURE);
	fw_cfg_read(sig, 4);
	if (!memcmp(sig, "QEMU", 4))
		smp_fwcfg_cpus = (unsigned)fw_cfg_read_le(FW_CFG_NB_CPUS, 2);

	uint32_t bsp = apic_id();
	unsigned n = 0;
	smp_apic_ids[n++] = bsp;
	const uint8_t *madt = acpi_find("APIC");
	if (madt) {
		smp_from_madt = 1;
		uint32_t len = le32(madt + 4);
		for (uint32_t off = 44; off + 2 <= len; off += madt[off + 1]) {
			const uint8_t *e = madt + off;
			if (e[1] < 2)
				break;
			// Type 0: processor local APIC; flags bit 0: enabled.
			if (e[0] == 0 && e[1] >= 8 && (le32(e + 4) & 1) && e[3] != bsp && n < SMP_MAX_CPUS)
				smp_apic_ids[n++] = e[3];
		}
	} else {
		for (uint32_t id = 0; id < smp_fwcfg_cpus && n < SMP_MAX_CPUS; id++)
			if (id != bsp)
				smp_apic_ids[n++] = id;
	}
	// APs in ascending APIC ID order.
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (smp_apic_ids[j] < smp_apic_ids[i]) {
				uint32_t t = smp_apic_ids[i];
				smp_apic_ids[i] = smp_apic_ids[j];
				smp_apic_ids[j] = t;
			}
	smp_nr_cpus = n;
}

int smp_cpu_index(void)
{
	uint32_t id = apic_id();
	for (unsigned i = 0; i < smp_nr_cpus; i++)
		if (smp_apic_ids[i] == id)
			return (int)i;
	return -1;
}

void smp_ap_c_entry(uint32_t cs, uint32_t cr0, uint32_t slot);
void smp_ap_c_entry(uint32_t cs, uint32_t cr0, uint32_t slot)
{
	(void)slot;
	__asm__ volatile("lidt %0" ::"m"(bsp_idtr));
	int i = smp_cpu_index();
	if (i <= 0)
		return; // unknown (or the BSP's ID): halt in the trampoline
	smp_ap_entry_cs[i] = cs;
	smp_ap_entry_cr0[i] = cr0;
	__atomic_store_n(&smp_ap_online[i], 1, __ATOMIC_SEQ_CST);
	smp_ap_main((unsigned)i);
}

unsigned smp_start_aps(void (*ap_main)(unsigned idx))
{
	smp_init();
	smp_ap_main = ap_main;
	struct dt_ptr gdtr;
	__asm__ volatile("sgdt %0" : "=m"(gdtr));
	__asm__ volatile("sidt %0" : "=m"(bsp_idtr));
	memcpy((void *)SMP_TRAMPOLINE, smp_tramp_start, (size_t)(smp_tramp_end - smp_tramp_start));
	memcpy((void *)(SMP_TRAMPOLINE + (smp_tramp_gdtr - smp_tramp_start)), &gdtr, sizeof(gdtr));

	unsigned started = 0;
	for (unsigned i = 1; i < smp_nr_cpus; i++) {
		uint32_t id = smp_apic_ids[i];
		apic_send_ipi(id, APIC_DM_INIT | APIC_INT_ASSERT);
		udelay(10000);
		apic_send_ipi(id, APIC_DM_STARTUP | SMP_SIPI_VECTOR);
		udelay(200);
		apic_send_ipi(id, APIC_DM_STARTUP | SMP_SIPI_VECTOR);
		if (wait_eq(&smp_ap_online[i], 1, 1000000))
			started++;
	}
	return started;
}
