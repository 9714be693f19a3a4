// SPDX-License-Identifier: MIT
/*
 * Inside the PC devices: the per-VM state of every device, and the two
 * dispatch tables' entry types. Only virt/dev/ includes this.
 */
#pragma once

#include "mm/lock.h"
#include "mm/platform.h"
#include "virt/dev/dev.h"

#define PC_UART_LINE_MAX 200           /* a longer line is printed in pieces */
#define PC_UART_OUT_ORDER 4            /* the output buffer: 64 KiB */
#define PC_UNKNOWN_PORTS_MAX 32        /* distinct ports counted one by one */
#define PC_FW_CFG_E820_MAX 2           /* below and above 4 GiB */
#define PC_FW_CFG_NAME_LEN 56

/* A port-I/O device: [first, last] is its range; port is absolute. */
typedef enum pc_io_result pc_port_fn(struct pc_devices *d, uint16_t port, unsigned int size,
				     bool in, uint32_t *val);

struct pc_port_range {
	uint16_t first, last;
	pc_port_fn *io;
	const char *name;
	/*
	 * Byte registers (as QEMU's impl.max_access_size = 1): a wider access
	 * is split into byte accesses at port, port + 1, ..., each dispatched
	 * on its own, low byte first.
	 */
	bool bytewise;
	/* Touches only immutable state and atomics: called without d->lock. */
	bool lockless;
};

/* An MMIO device: [first, last] guest-physical; gpa is absolute. */
typedef bool pc_mmio_fn(struct pc_devices *d, unsigned int vcpu_id, uint64_t gpa,
			unsigned int size, bool write, uint64_t *val);

struct pc_mmio_range {
	uint64_t first, last;
	pc_mmio_fn *access;
	const char *name;
};

/* 16550A UART (virt/dev/uart.c). */
struct pc_uart {
	uint8_t rbr, ier, lcr, mcr, lsr, scr, fcr;
	uint16_t divisor;
	bool thr_ipending;     /* the THR-empty interrupt is pending (cleared by reading IIR) */
	char line[PC_UART_LINE_MAX + 1];
	unsigned int line_len;
	size_t out_len;        /* bytes kept in pc_devices.uart_out */
	uint64_t out_dropped;  /* bytes past the buffer */
};

/* One 8259 (virt/dev/pic.c). */
struct pc_pic {
	uint8_t imr;
	uint8_t vector_base;   /* ICW2, kept for a debugger's eye only */
	uint8_t next_icw;      /* 2, 3 or 4 during initialisation, else 0 */
	bool single, need_icw4;
};

/* fw_cfg's traditional interface (virt/dev/fw_cfg.c). */
struct pc_fw_cfg {
	uint16_t selector;
	uint32_t offset;
};

/*
 * The local APIC of one vCPU (virt/dev/lapic.c; docs/LOCKING.md, "The local
 * and I/O APICs"). Its owner is vCPU n's pCPU: the guest's own register
 * accesses and every pc_lapic_* call for n run there. Other pCPUs only
 * send to it: they set IRR (and TMR), the pending NMI/INIT/SIPI and
 * errors, and read flags, LDR and DFR to match a destination.
 */
#define PC_LAPIC_NR_LVT 6              /* timer, thermal, perf, LINT0, LINT1, error */
#define PC_LAPIC_HW_ENABLED 1u         /* flags: IA32_APIC_BASE.EN */
#define PC_LAPIC_SW_ENABLED 2u         /* flags: SVR bit 8 (and EN): accepts fixed interrupts */
#define PC_LAPIC_X2APIC 4u             /* flags: IA32_APIC_BASE.EXTD */

/* The timer, in clock (TSC) cycles; the owner only. */
struct pc_lapic_timer {
	bool armed;
	uint32_t initial;      /* initial-count register */
	uint32_t dcr;          /* divide configuration register */
	unsigned int shift;    /* log2 of the divisor at the initial-count write */
	uint64_t start;        /* clock at the initial-count write; periods count from it */
	uint64_t period;       /* cycles from start to the first expiry (periodic: clamped) */
	uint64_t deadline;     /* clock of the next expiry, while armed */
	uint64_t tsc_deadline; /* IA32_TSC_DEADLINE as the guest reads it (0 once fired) */
};

struct pc_lapic {
	/*
	 * Set by any pCPU (a sender: ICR, I/O APIC, the owner's own timer),
	 * taken or cleared by the owner. A sender stores TMR before its
	 * release fetch_or of IRR; the owner's acquire load of IRR pairs
	 * with it, so an acked vector's TMR bit is the one its sender wrote.
	 */
	atomic_uint irr[8];
	atomic_uint tmr[8];
	atomic_uint esr_pending;    /* errors not yet latched into esr (ESR write) */
	atomic_bool nmi_pending, init_pending;
	atomic_int sipi_vector;     /* -1: none; an INIT's sender clears it first */

	/* Written by the owner only, read by senders (relaxed: a message that
	 * races with a mode or LDR change may match either, as on hardware). */
	atomic_uint flags;          /* PC_LAPIC_* */
	atomic_uint ldr, dfr;

	/* The owner only, no lock: */
	uint64_t apic_base;         /* IA32_APIC_BASE */
	uint32_t svr, tpr, esr, icr_low, icr_high;
	uint32_t isr[8];
	uint32_t lvt[PC_LAPIC_NR_LVT];
	struct pc_lapic_timer timer;
};

/*
 * The I/O APIC at 0xfec00000 (virt/dev/ioapic.c): 24 pins, QEMU's version
 * 0x20. Everything here is under pc_devices.lock.
 */
#define PC_IOAPIC_PINS 24

struct pc_ioapic {
	uint8_t regsel;               /* IOREGSEL */
	uint8_t id;                   /* bits 27:24 of register 0 */
	uint32_t input;               /* bit i: pin i's input level as set, before polarity */
	uint64_t rte[PC_IOAPIC_PINS]; /* redirection table; Remote IRR (bit 14) kept here */
};

/*
 * The 8254 PIT (virt/dev/pit.c), as QEMU's i8254: each channel's count is
 * computed from the clock at its load, never decremented. Under
 * pc_devices.lock, but for pc_devices.pit_next.
 */
#define PC_PIT_CHANNELS 3

struct pc_pit_channel {
	uint32_t count;          /* 1 .. 0x10000 (a written 0 is 0x10000) */
	uint64_t load;           /* clock at the count's load (or at a gate's restart) */
	uint16_t latched_count;
	uint8_t count_latched;   /* the access mode left of a latched count; 0: none */
	bool status_latched;
	uint8_t status;
	uint8_t rw_mode;         /* control word bits 5:4: 1 lobyte, 2 hibyte, 3 both */
	uint8_t read_state, write_state, write_latch;
	uint8_t mode;            /* control word bits 3:1, as written (0-7) */
	bool bcd;                /* kept for the status byte; the count is binary */
	bool gate;
};

struct pc_pit {
	struct pc_pit_channel ch[PC_PIT_CHANNELS];
	bool speaker_data;       /* port 0x61 bit 1 */
	uint8_t refresh;         /* port 0x61 bit 4 as the next read flips it */
	/* Channel 0's line to I/O APIC pin 2 (pc_pit_poll): */
	bool irq_level;
	uint64_t irq_rises;      /* OUT's rising edges since the load, delivered */
	uint64_t irq_last_edge;  /* clock of the last edge sent (the floor counts from it) */
};

/*
 * The MC146818 RTC and its NVRAM (virt/dev/rtc.c). The time registers
 * hold the time only while B.SET stops the clock; otherwise they are
 * computed at each read from the clock, start_clock and offset.
 */
#define PC_RTC_BYTES 128

struct pc_rtc {
	uint8_t index;           /* port 0x70 bits 6:0 */
	uint8_t ram[PC_RTC_BYTES];
	uint64_t start_clock;    /* clock at create: PC_RTC_START then */
	int64_t offset;          /* seconds the guest's writes moved the time */
};

/* The i8042 keyboard controller (virt/dev/i8042.c). */
#define PC_I8042_QUEUE 8

struct pc_i8042 {
	uint8_t status;          /* port 0x64 but for the output-buffer bits */
	uint8_t mode;            /* the command byte */
	uint8_t outport;
	uint8_t write_cmd;       /* the controller command a data byte completes; 0: none */
	uint8_t kbd_param;       /* the keyboard command awaiting its parameter; 0: none */
	uint8_t mouse_param;     /* the same for the mouse */
	uint8_t queue[PC_I8042_QUEUE];
	bool queue_aux[PC_I8042_QUEUE];
	unsigned int head, len;
	uint8_t last;            /* read again from an empty output buffer */
};

struct pc_unknown_port {
	uint16_t port;
	uint32_t reads, writes;
};

struct pc_devices {
	/* Immutable after pc_devices_create: */
	struct pc_config cfg;
	char *uart_out;                /* 64 KiB; bytes below uart.out_len are written once */
	uint64_t pm_timer_mult;        /* PM timer ticks per TSC cycle, 32.32 fixed point */
	uint8_t e820[PC_FW_CFG_E820_MAX * 20];
	uint32_t e820_len;

	/* Atomic: */
	atomic_int exit_status;        /* -1 until the first isa-debug-exit write */
	atomic_int reset_cause;        /* PC_RESET_*: the guest's first reset request */
	/* The PIT's next event (0: none): written under lock, read by pc_pit_poll without. */
	_Atomic uint64_t pit_next;

	/*
	 * lock guards everything below (docs/LOCKING.md, "pc_devices.lock").
	 * Held across one device access and no more; under it only
	 * kprintf (console_lock) for a finished COM1 line. Never taken in an
	 * interrupt handler, never held in guest mode.
	 */
	spinlock_t lock;
	struct pc_uart uart;
	struct pc_pic pic[2];          /* master at 0x20, slave at 0xa0 */
	uint8_t elcr[2];
	struct pc_fw_cfg fw_cfg;
	struct pc_unknown_port unknown[PC_UNKNOWN_PORTS_MAX];
	unsigned int nr_unknown;
	uint64_t others_reads, others_writes; /* ports past the table */
	bool others_reported;
	struct pc_ioapic ioapic;
	struct pc_pit pit;
	struct pc_rtc rtc;
	struct pc_i8042 i8042;
	uint8_t piix_rcr;              /* port 0xcf9's bit 1 */
	/* vCPUs to kick once the lock is dropped (pc_unlock_and_kick): bit n = vCPU n. */
	uint64_t kicks_deferred;

	/* vCPU i's local APIC: its own rules (struct pc_lapic), no lock. */
	struct pc_lapic lapic[PC_MAX_VCPUS];
};

_Static_assert(PC_MAX_VCPUS <= 64, "a kick mask is one uint64_t");

static inline uint32_t pc_io_mask(unsigned int size)
{
	return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static inline void pc_assert_locked(struct pc_devices *d)
{
	BUG_ON(!spin_is_locked(&d->lock));
}

/* The devices' handlers, in port order (virt/dev/io.c's table). */
pc_port_fn pc_pic_master_io, pc_pic_slave_io, pc_debug_exit_io, pc_uart_io, pc_elcr_io,
	pc_fw_cfg_io, pc_pm1_io, pc_pm_timer_io, pc_port80_io, pc_pit_io, pc_port61_io,
	pc_i8042_io, pc_rtc_io, pc_piix_rcr_io;
pc_mmio_fn pc_lapic_mmio, pc_ioapic_mmio;

void pc_uart_reset(struct pc_devices *d);
void pc_uart_flush_line(struct pc_devices *d);
void pc_pic_reset(struct pc_devices *d);
void pc_fw_cfg_setup(struct pc_devices *d);
void pc_pm_timer_setup(struct pc_devices *d);
void pc_lapic_reset(struct pc_devices *d);
void pc_ioapic_reset(struct pc_devices *d);
void pc_pit_reset(struct pc_devices *d);
void pc_rtc_reset(struct pc_devices *d);
void pc_i8042_reset(struct pc_devices *d);

/* A reset request (virt/dev/i8042.c): the first cause is kept. Returns PC_IO_RESET. */
#define PC_RESET_NONE 0
#define PC_RESET_I8042 1
#define PC_RESET_PIIX_RCR 2
enum pc_io_result pc_request_reset(struct pc_devices *d, int cause);

/*
 * Interrupt messages (virt/dev/lapic.c). One message to the APICs that
 * dest and shorthand select; returns the vCPUs whose APIC accepted it, to
 * be kicked by the caller once it holds no lock (pc_kick). x2apic_format:
 * dest is 32 bits wide (broadcast 0xffffffff), else 8 (broadcast 0xff).
 */
struct pc_apic_msg {
	uint32_t dest;
	bool logical, x2apic_format;
	unsigned int mode;      /* PC_APIC_DM_* */
	unsigned int vector;
	bool level;             /* a level-triggered fixed interrupt: TMR set */
	unsigned int shorthand; /* PC_APIC_SH_*; from the ICR only */
	unsigned int self;      /* the sender, for a shorthand */
};

#define PC_APIC_DM_FIXED 0u
#define PC_APIC_DM_LOWEST 1u
#define PC_APIC_DM_NMI 4u
#define PC_APIC_DM_INIT 5u
#define PC_APIC_DM_SIPI 6u
#define PC_APIC_SH_NONE 0u
#define PC_APIC_SH_SELF 1u
#define PC_APIC_SH_ALL 2u
#define PC_APIC_SH_OTHERS 3u

uint64_t pc_lapic_send(struct pc_devices *d, const struct pc_apic_msg *m);
/* cfg.kick for every vCPU in mask. No device lock held. */
void pc_kick(struct pc_devices *d, uint64_t mask);

/* The I/O APIC's side (virt/dev/ioapic.c), d->lock held: */
void pc_ioapic_set_irq_locked(struct pc_devices *d, unsigned int irq, bool level);
/* A level interrupt's EOI from a local APIC: takes d->lock. */
void pc_ioapic_eoi(struct pc_devices *d, unsigned int vector);
/* Drop d->lock, then make the kicks deferred under it. */
void pc_unlock_and_kick(struct pc_devices *d);

/* The unknown-port path (virt/dev/devices.c). */
enum pc_io_result pc_unknown_port_io(struct pc_devices *d, uint16_t port, unsigned int size,
				     bool in, uint32_t *val);
/* Check the dispatch tables are sorted and disjoint (once, at create). */
void pc_io_check_tables(void);
