// SPDX-License-Identifier: MIT
/*
 * The PC a guest kernel written for QEMU's "pc" machine expects to find:
 * COM1, isa-debug-exit, fw_cfg, the two 8259s, the PIIX4 PM timer and ACPI
 * tables, the 8254 PIT, the CMOS RTC, the i8042 and PIIX's reset control
 * register, each behaving as QEMU's does. One struct pc_devices per VM; the
 * vCPU run loop hands every port I/O (and MMIO) exit to it.
 *
 * Every port without a device reads all ones and drops writes, as on the
 * ISA bus, and is reported once; with io_strict it stops the VM instead.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The VM's side of interrupt delivery: vCPU vcpu_id has something new to
 * look at (an IRR bit, an NMI, INIT, SIPI, or its timer was programmed).
 * The VM makes it leave the guest, or wakes it from its halt; it then
 * calls pc_lapic_* on its own pCPU. Called from any pCPU, with no device
 * lock held, possibly for the caller's own vCPU (then it need do nothing
 * but note the request).
 */
#define PC_MAX_VCPUS 64 /* a PC guest's vCPUs: its kick masks are one uint64_t */

typedef void pc_kick_fn(void *ctx, unsigned int vcpu_id);
/* The clock every timer counts on: the (host = guest) TSC. */
typedef uint64_t pc_clock_fn(void);

struct pc_config {            /* handed in by the VM's creator */
	unsigned int nr_vcpus;    /* 1 .. PC_MAX_VCPUS */
	uint64_t ram_bytes;       /* guest RAM as the guest is told (fw_cfg RAM size, etc/e820) */
	bool io_strict;           /* io=strict: an unknown port stops the VM instead of all-ones/drop */
	unsigned int vm_id;       /* for the console prefix */
	pc_kick_fn *kick;         /* NULL: nobody to kick (host tests may poll) */
	void *kick_ctx;
	pc_clock_fn *clock;       /* NULL: the clock stands at 0 */
	uint64_t tsc_khz;         /* TSC cycles per ms, for the APIC timer's 1 GHz bus clock */
};

struct pc_devices;            /* opaque (virt/dev/pc.h) */

/* NULL when out of memory. */
struct pc_devices *pc_devices_create(const struct pc_config *cfg);
/* Flushes a partial COM1 line first. No vCPU may be doing I/O. */
void pc_devices_destroy(struct pc_devices *d);

enum pc_io_result {
	PC_IO_DONE,        /* *val filled (in) or the write taken */
	PC_IO_EXIT,        /* the guest wrote isa-debug-exit: pc_exit_status() has the status */
	PC_IO_STRICT_STOP, /* io_strict and no device at that port (nothing printed) */
	PC_IO_RESET,       /* the guest reset the machine: pc_reset_cause() says how */
	PC_IO_POWEROFF,    /* ACPI S5 through PM1a_CNT: the guest powered off */
};

/*
 * Port I/O of size 1, 2 or 4 by vCPU vcpu_id. in: *val is set (all ones
 * where nothing answers, masked to size); out: *val holds the value (only
 * its low size bytes count). Called concurrently from several vCPUs' pCPUs.
 */
enum pc_io_result pc_port_io(struct pc_devices *d, unsigned int vcpu_id, uint16_t port,
			     unsigned int size, bool in, uint32_t *val);

/*
 * MMIO of size 1, 2, 4 or 8 at guest-physical gpa by vCPU vcpu_id: false
 * when no device is mapped there (the caller decides): the local APIC page
 * at 0xfee00000 (virt/dev/lapic.c) and the I/O APIC at 0xfec00000
 * (virt/dev/ioapic.c).
 */
bool pc_mmio(struct pc_devices *d, unsigned int vcpu_id, uint64_t gpa, unsigned int size,
	     bool write, uint64_t *val);

/*
 * --- The local APICs (virt/dev/lapic.c) and the I/O APIC (virt/dev/ioapic.c) ---
 *
 * One local APIC per vCPU, APIC ID = vCPU number, xAPIC (MMIO at its
 * APIC_BASE, through pc_mmio) or x2APIC (MSRs 0x800-0x8ff, through
 * pc_lapic_msr), as the guest switches it in IA32_APIC_BASE. The timer
 * counts a 1 GHz bus clock (as QEMU's: one tick per ns) derived from
 * cfg.clock and cfg.tsc_khz; TSC-deadline mode compares IA32_TSC_DEADLINE
 * with cfg.clock directly.
 *
 * Threads: IRR, and the pending NMI, INIT and SIPI, may be set by any pCPU
 * (an IPI, the I/O APIC, a device); after setting one the setter calls
 * cfg.kick for the target. Everything else of vCPU n's APIC (ISR, TMR,
 * TPR, the LVTs, the timer) is changed only on vCPU n's pCPU: by its own
 * register accesses and by the pc_lapic_* calls below, which only vCPU
 * n's pCPU makes for n. ID, LDR and DFR are read by other pCPUs to match
 * destinations (atomics).
 */

/*
 * IA32_APIC_BASE and every x2APIC MSR (0x800-0x8ff) and IA32_TSC_DEADLINE
 * (0x6e0) of vCPU vcpu_id: true if msr is one of them, with *ok false when
 * the access must #GP (an x2APIC MSR in xAPIC mode, a reserved register, a
 * reserved bit, a write to a read-only register, an illegal APIC_BASE
 * transition). false: not an APIC MSR, the caller goes on.
 */
bool pc_lapic_msr(struct pc_devices *d, unsigned int vcpu_id, uint32_t msr, bool write,
		  uint64_t *val, bool *ok);

/* CR8 of vCPU vcpu_id in 64-bit mode: its APIC's TPR[7:4] (the owner's pCPU). */
unsigned int pc_lapic_cr8(struct pc_devices *d, unsigned int vcpu_id);
void pc_lapic_set_cr8(struct pc_devices *d, unsigned int vcpu_id, unsigned int cr8);

/* The highest vector in IRR that may be delivered now (above PPR, APIC enabled), or -1. */
int pc_lapic_pending_vector(struct pc_devices *d, unsigned int vcpu_id);
/* The CPU took vector (it was injected): IRR -> ISR, PPR rises. */
void pc_lapic_ack(struct pc_devices *d, unsigned int vcpu_id, unsigned int vector);
/* A pending NMI, taken (cleared) if there is one. */
bool pc_lapic_take_nmi(struct pc_devices *d, unsigned int vcpu_id);
/*
 * A pending INIT, taken if there is one: the APIC itself is reset (as
 * INIT resets it: everything but the ID and APIC_BASE) and the vCPU must
 * wait for a SIPI.
 */
bool pc_lapic_take_init(struct pc_devices *d, unsigned int vcpu_id);
/* A pending SIPI's vector, taken, or -1. Only a vCPU waiting for one asks. */
int pc_lapic_take_sipi(struct pc_devices *d, unsigned int vcpu_id);
/*
 * The timer: fire it if its time (cfg.clock) has come (IRR gets the LVT
 * vector unless masked; periodic mode starts the next period) and return
 * the clock value of its next expiry, or 0 if none is armed. The vCPU's
 * pCPU calls it before each entry and when it wakes, and arranges to be
 * woken (or made to exit) at the returned time.
 */
uint64_t pc_lapic_timer_poll(struct pc_devices *d, unsigned int vcpu_id);

/*
 * Deliver an interrupt as an interrupt message does (ICR, I/O APIC):
 * dest is an APIC ID (physical: 0xff, or 0xffffffff in x2APIC, is
 * broadcast) or a logical destination (logical: matched against each
 * APIC's LDR and DFR, flat or cluster; x2APIC cluster), mode is the
 * delivery mode (0 fixed, 1 lowest priority, 4 NMI, 5 INIT, 6 SIPI),
 * level true for a level-triggered fixed interrupt (TMR set; its EOI is
 * broadcast to the I/O APIC). Any pCPU.
 */
void pc_lapic_deliver(struct pc_devices *d, uint32_t dest, bool logical, unsigned int mode,
		      unsigned int vector, bool level);

/*
 * The I/O APIC's input pin irq (0-23) is now at level (ISA IRQs are
 * active high; an edge pin fires on 0 -> 1). Any pCPU; takes d->lock.
 */
void pc_ioapic_set_irq(struct pc_devices *d, unsigned int irq, bool level);

/*
 * The status QEMU's process would exit with after the guest's first write
 * of V to isa-debug-exit: ((V << 1) | 1) & 0xff (exit(3) keeps 8 bits);
 * -1 if there has been none. Later writes do not change it.
 */
int pc_exit_status(const struct pc_devices *d);

/*
 * How the guest asked for the reset that PC_IO_RESET reported: "reset
 * through the keyboard controller" (i8042 command 0xfe, or an output-port
 * write with bit 0 clear) or "reset through the PIIX reset control
 * register (port 0xcf9)"; NULL if it did not. QEMU with -no-reboot exits
 * there.
 */
const char *pc_reset_cause(const struct pc_devices *d);

/*
 * The 8254 PIT's channel 0 (virt/dev/pit.c), ISA IRQ 0 on I/O APIC pin 2
 * (the MADT's override): raise the edges that are due by now and return
 * the clock value of its next one, 0 if none. vCPU 0's pCPU calls it
 * before each entry, next to pc_lapic_timer_poll, and arranges to be woken
 * at the returned time; a reprogramming of channel 0 kicks vCPU 0. Takes
 * d->lock only when something is due.
 */
uint64_t pc_pit_poll(struct pc_devices *d);

/*
 * Write the ACPI tables (RSDP v2, RSDT, XSDT, FADT, FACS, DSDT, MADT) into
 * the guest's ROM area: rom is the host mapping of guest-physical rom_gpa ..
 * rom_gpa + rom_len (0xE0000, 128 KiB). Writes only the first few KiB,
 * from offset 0, the RSDP first. False if they do not fit, if the RSDP
 * would fall outside 0xE0000-0xFFFFF, or if pc_acpi_verify rejects them.
 */
bool pc_acpi_build(const struct pc_devices *d, void *rom, uint64_t rom_gpa, size_t rom_len);
/* Re-walk the tables from the RSDP: every checksum, length and pointer. */
bool pc_acpi_verify(const void *rom, uint64_t rom_gpa, size_t rom_len);

/*
 * The COM1 output so far (every byte transmitted, '\r' and '\n' included;
 * at most 64 KiB, later bytes are counted and dropped). Not NUL-terminated.
 * Read it once the vCPUs have stopped.
 */
size_t pc_uart_output(const struct pc_devices *d, const char **text);

/*
 * Print the ports without a device the guest touched, each once, with its
 * counts: "vm N: unhandled ports: 0x80 (12 writes), ..." (nothing if none),
 * and the COM1 bytes dropped past the output buffer, if any.
 */
void pc_devices_report(const struct pc_devices *d);
