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

/* The xAPIC stub, one per vCPU (virt/dev/lapic.c). */
struct pc_lapic {
	uint32_t svr, icr_low, icr_high;
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

	/* Owned by vCPU i's pCPU (its own APIC page), no lock: */
	struct pc_lapic lapic[PLATFORM_MAX_CPUS];
};

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
	pc_fw_cfg_io, pc_pm1_io, pc_pm_timer_io, pc_port80_io;
pc_mmio_fn pc_lapic_mmio;

void pc_uart_reset(struct pc_devices *d);
void pc_uart_flush_line(struct pc_devices *d);
void pc_pic_reset(struct pc_devices *d);
void pc_fw_cfg_setup(struct pc_devices *d);
void pc_pm_timer_setup(struct pc_devices *d);
void pc_lapic_reset(struct pc_devices *d);

/* The unknown-port path (virt/dev/devices.c). */
enum pc_io_result pc_unknown_port_io(struct pc_devices *d, uint16_t port, unsigned int size,
				     bool in, uint32_t *val);
/* Check the dispatch tables are sorted and disjoint (once, at create). */
void pc_io_check_tables(void);
