// SPDX-License-Identifier: MIT
/*
 * COM1, a 16550A at 0x3f8 with nothing on the other end, as QEMU's serial
 * device: the transmitter is always empty (a byte leaves the moment it is
 * written) and the receiver never has data except in loopback.
 * Transmitted bytes are kept for pc_uart_output and printed per line on
 * the console as "vm N com1: <text>".
 *
 * The interrupt line is ISA IRQ 4, I/O APIC pin 4: high while IIR has
 * something to report (received data with IER.RDI, THR empty with
 * IER.THRI), whatever MCR.OUT2 says, as QEMU's serial_update_irq. A THR
 * write drops it and raises it again once the byte is gone, so every byte
 * sent is one edge; reading IIR when it says THR empty drops it.
 *
 *   offset  DLAB=0 read   DLAB=0 write   DLAB=1
 *   0       RBR           THR            DLL
 *   1       IER           IER            DLM
 *   2       IIR           FCR
 *   3       LCR           LCR
 *   4       MCR           MCR
 *   5       LSR           (ignored)
 *   6       MSR           (ignored)
 *   7       SCR           SCR
 */
#include "arch/x86/console.h"
#include "virt/dev/pc.h"

#define UART_IER_RDI 0x01   /* received data available */
#define UART_IER_THRI 0x02  /* transmitter holding register empty */
#define UART_IIR_NO_INT 0x01
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_FIFO 0xc0  /* FIFOs enabled (16550A) */
#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLEAR_RCVR 0x02
#define UART_LCR_DLAB 0x80
#define UART_MCR_LOOP 0x10
#define UART_LSR_DR 0x01
#define UART_LSR_OE 0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_DCD 0x80
#define UART_ISA_IRQ 4

void pc_uart_reset(struct pc_devices *d)
{
	struct pc_uart *u = &d->uart;

	u->lsr = UART_LSR_THRE | UART_LSR_TEMT;
	u->divisor = 12; /* 9600 baud, QEMU's reset value */
	u->ier = u->lcr = u->mcr = u->scr = u->fcr = u->rbr = 0;
	u->thr_ipending = false;
}

/* Print the line gathered so far (the console lock nests inside ours). */
void pc_uart_flush_line(struct pc_devices *d)
{
	struct pc_uart *u = &d->uart;

	pc_assert_locked(d);
	if (!u->line_len)
		return;
	u->line[u->line_len] = '\0';
	kprintf("vm %u com1: %s\n", d->cfg.vm_id, u->line);
	u->line_len = 0;
}

static void uart_transmit(struct pc_devices *d, uint8_t byte)
{
	struct pc_uart *u = &d->uart;

	if (u->out_len < (PAGE_SIZE << PC_UART_OUT_ORDER))
		d->uart_out[u->out_len++] = (char)byte;
	else
		u->out_dropped++;

	if (byte == '\n') {
		u->line[u->line_len] = '\0';
		kprintf("vm %u com1: %s\n", d->cfg.vm_id, u->line);
		u->line_len = 0;
		return;
	}
	if (byte == '\r')
		return;
	u->line[u->line_len++] = (byte == '\t' || (byte >= 0x20 && byte <= 0x7e)) ? (char)byte : '?';
	if (u->line_len == PC_UART_LINE_MAX)
		pc_uart_flush_line(d);
}

/* Is there anything for IIR to report? (uart_iir, without its side effect) */
static bool uart_irq_pending(const struct pc_uart *u)
{
	return ((u->ier & UART_IER_RDI) && (u->lsr & UART_LSR_DR)) ||
	       ((u->ier & UART_IER_THRI) && u->thr_ipending);
}

static void uart_update_irq(struct pc_devices *d)
{
	pc_ioapic_set_irq_locked(d, UART_ISA_IRQ, uart_irq_pending(&d->uart));
}

static void uart_write_thr(struct pc_devices *d, uint8_t byte)
{
	struct pc_uart *u = &d->uart;

	/* THR is full for the moment: THRE's interrupt goes away, as QEMU's. */
	u->thr_ipending = false;
	uart_update_irq(d);
	if (u->mcr & UART_MCR_LOOP) {
		/* The byte comes straight back to the receiver. */
		if (u->lsr & UART_LSR_DR)
			u->lsr |= UART_LSR_OE;
		u->rbr = byte;
		u->lsr |= UART_LSR_DR;
	} else {
		uart_transmit(d, byte);
	}
	/* Sent at once: THR is empty again, and its interrupt would be raised. */
	u->thr_ipending = true;
}

static uint8_t uart_iir(struct pc_devices *d)
{
	struct pc_uart *u = &d->uart;
	uint8_t fifo = (u->fcr & UART_FCR_ENABLE) ? UART_IIR_FIFO : 0;

	if ((u->ier & UART_IER_RDI) && (u->lsr & UART_LSR_DR))
		return fifo | UART_IIR_RDI;
	if ((u->ier & UART_IER_THRI) && u->thr_ipending) {
		u->thr_ipending = false; /* reading IIR acknowledges THRE */
		return fifo | UART_IIR_THRI;
	}
	return fifo | UART_IIR_NO_INT;
}

static uint8_t uart_msr(const struct pc_uart *u)
{
	/* Loopback wires DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
	if (u->mcr & UART_MCR_LOOP)
		return (uint8_t)(((u->mcr & 0x0c) << 4) | ((u->mcr & 0x02) << 3) |
				 ((u->mcr & 0x01) << 5));
	return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
}

static uint8_t uart_read(struct pc_devices *d, unsigned int reg)
{
	struct pc_uart *u = &d->uart;
	uint8_t v;

	switch (reg) {
	case 0:
		if (u->lcr & UART_LCR_DLAB)
			return u->divisor & 0xff;
		u->lsr &= ~UART_LSR_DR;
		return u->rbr;
	case 1:
		return (u->lcr & UART_LCR_DLAB) ? u->divisor >> 8 : u->ier;
	case 2:
		return uart_iir(d);
	case 3:
		return u->lcr;
	case 4:
		return u->mcr;
	case 5:
		v = u->lsr;
		u->lsr &= ~UART_LSR_OE; /* overrun clears on read */
		return v;
	case 6:
		return uart_msr(u);
	default:
		return u->scr;
	}
}

static void uart_write(struct pc_devices *d, unsigned int reg, uint8_t v)
{
	struct pc_uart *u = &d->uart;

	switch (reg) {
	case 0:
		if (u->lcr & UART_LCR_DLAB)
			u->divisor = (u->divisor & 0xff00) | v;
		else
			uart_write_thr(d, v);
		break;
	case 1:
		if (u->lcr & UART_LCR_DLAB) {
			u->divisor = (uint16_t)((u->divisor & 0x00ff) | (v << 8));
			break;
		}
		/* Enabling THRI with THR empty raises it, as on the chip. */
		if (!(u->ier & UART_IER_THRI) && (v & UART_IER_THRI))
			u->thr_ipending = true;
		u->ier = v & 0x0f;
		break;
	case 2:
		if (v & UART_FCR_CLEAR_RCVR)
			u->lsr &= ~(UART_LSR_DR | UART_LSR_OE);
		u->fcr = v & 0xc9; /* enable, DMA mode, trigger level */
		break;
	case 3:
		u->lcr = v;
		break;
	case 4:
		u->mcr = v & 0x1f;
		break;
	case 7:
		u->scr = v;
		break;
	default:
		break; /* LSR and MSR are read-only */
	}
}

enum pc_io_result pc_uart_io(struct pc_devices *d, uint16_t port, unsigned int size, bool in,
			     uint32_t *val)
{
	unsigned int reg = port - 0x3f8;

	pc_assert_locked(d);
	BUG_ON(size != 1);
	if (in)
		*val = uart_read(d, reg);
	else
		uart_write(d, reg, (uint8_t)*val);
	uart_update_irq(d); /* the caller kicks after it drops the lock */
	return PC_IO_DONE;
}

size_t pc_uart_output(const struct pc_devices *d, const char **text)
{
	/* After the vCPUs have stopped: their last unlock ordered every byte before this. */
	*text = d->uart_out;
	return d->uart.out_len;
}
