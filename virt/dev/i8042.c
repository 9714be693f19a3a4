// SPDX-License-Identifier: MIT
/*
 * The i8042 keyboard controller at 0x60 (data) and 0x64 (status and
 * command), as QEMU's pckbd with a PS/2 keyboard and mouse that nobody
 * types on, in the state SeaBIOS leaves it: status 0x1c (keyboard not
 * inhibited, command last, system flag), command byte 0x61 (keyboard
 * interrupt, mouse disabled, scancode translation), output port 0xcf. And
 * the ways a guest resets the PC: the i8042's pulse of its reset line
 * (command 0xfe, any 0xf0-0xff with bit 0 clear, or an output-port write
 * with bit 0 clear) and PIIX's reset control register at 0xcf9 (a write
 * with bit 2 set). QEMU with -no-reboot exits there; here the VM ends.
 *
 *   status  bit 0 output buffer full   bit 5 it holds mouse data
 *   command 0x20 read, 0x60 write the command byte   0xa7/0xa8 mouse off/on
 *           0xa9 mouse test (0)  0xaa self-test (0x55)  0xab keyboard test (0)
 *           0xad/0xae keyboard off/on  0xc0 input port  0xd0/0xd1 output port
 *           0xd2/0xd3 the next data byte comes back as keyboard/mouse data
 *           0xd4 the next data byte goes to the mouse  0xdd/0xdf A20 off/on
 *
 * The output buffer is a small queue; IRQ 1 (keyboard) and IRQ 12 (mouse)
 * are high while its head is theirs and the command byte enables them.
 * Bytes written to 0x60 go to the keyboard, which answers its commands
 * (ACK 0xfa; reset, identify, echo, scancode set) and nothing else.
 * Everything is under d->lock.
 */
#include "virt/dev/pc.h"

#define I8042_DATA_PORT 0x60

#define STAT_OBF 0x01
#define STAT_SYSTEM 0x04
#define STAT_CMD 0x08
#define STAT_UNLOCKED 0x10
#define STAT_MOUSE_OBF 0x20

#define MODE_KBD_INT 0x01
#define MODE_MOUSE_INT 0x02
#define MODE_DISABLE_KBD 0x10
#define MODE_DISABLE_MOUSE 0x20
#define MODE_TRANSLATE 0x40

#define OUT_RESET 0x01              /* low: the CPU is held in reset */
#define OUT_A20 0x02

#define CMD_READ_MODE 0x20
#define CMD_WRITE_MODE 0x60
#define CMD_MOUSE_DISABLE 0xa7
#define CMD_MOUSE_ENABLE 0xa8
#define CMD_MOUSE_TEST 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_READ_INPORT 0xc0
#define CMD_READ_OUTPORT 0xd0
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_WRITE_OBUF 0xd2
#define CMD_WRITE_AUX_OBUF 0xd3
#define CMD_WRITE_MOUSE 0xd4
#define CMD_DISABLE_A20 0xdd
#define CMD_ENABLE_A20 0xdf
#define CMD_PULSE 0xf0              /* 0xf0-0xff: pulse output bits 3:0 low where clear */

#define REPLY_ACK 0xfa
#define REPLY_RESEND 0xfe
#define REPLY_POR 0xaa              /* power-on self-test passed */

#define KBD_SET_LEDS 0xed
#define KBD_ECHO 0xee
#define KBD_SCANCODE 0xf0
#define KBD_GET_ID 0xf2
#define KBD_SET_RATE 0xf3
#define KBD_ENABLE 0xf4
#define KBD_RESET_DISABLE 0xf5
#define KBD_RESET_ENABLE 0xf6
#define KBD_RESET 0xff

#define MOUSE_SET_RES 0xe8
#define MOUSE_GET_ID 0xf2
#define MOUSE_SET_RATE 0xf3
#define MOUSE_RESET 0xff

#define KBD_IRQ 1
#define MOUSE_IRQ 12

void pc_i8042_reset(struct pc_devices *d)
{
	d->i8042 = (struct pc_i8042){
		.status = STAT_UNLOCKED | STAT_CMD | STAT_SYSTEM,
		.mode = MODE_TRANSLATE | MODE_DISABLE_MOUSE | MODE_KBD_INT,
		.outport = 0xcc | OUT_A20 | OUT_RESET,
	};
	d->piix_rcr = 0;
}

static void i8042_queue(struct pc_i8042 *k, uint8_t byte, bool aux)
{
	unsigned int at = (k->head + k->len) % PC_I8042_QUEUE;

	if (k->len == PC_I8042_QUEUE)
		return; /* nobody reads: dropped */
	k->queue[at] = byte;
	k->queue_aux[at] = aux;
	k->len++;
}

static bool head_is_aux(const struct pc_i8042 *k)
{
	return k->len && k->queue_aux[k->head];
}

static void i8042_update_irq(struct pc_devices *d)
{
	const struct pc_i8042 *k = &d->i8042;

	pc_ioapic_set_irq_locked(d, KBD_IRQ, k->len && !head_is_aux(k) && (k->mode & MODE_KBD_INT));
	pc_ioapic_set_irq_locked(d, MOUSE_IRQ, head_is_aux(k) && (k->mode & MODE_MOUSE_INT));
}

static uint8_t i8042_status(const struct pc_i8042 *k)
{
	return k->status | (k->len ? STAT_OBF : 0) | (head_is_aux(k) ? STAT_MOUSE_OBF : 0);
}

/* An empty output buffer reads its last byte again, as QEMU's. */
static uint8_t i8042_read_data(struct pc_devices *d)
{
	struct pc_i8042 *k = &d->i8042;

	if (k->len) {
		k->last = k->queue[k->head];
		k->head = (k->head + 1) % PC_I8042_QUEUE;
		k->len--;
		/* The line drops with the read: the next byte is a new edge. */
		pc_ioapic_set_irq_locked(d, KBD_IRQ, false);
		pc_ioapic_set_irq_locked(d, MOUSE_IRQ, false);
	}
	return k->last;
}

/* The keyboard's answers (QEMU's ps2_write_keyboard); translated IDs with the command byte's bit 6. */
static void keyboard_write(struct pc_i8042 *k, uint8_t v)
{
	bool xlate = k->mode & MODE_TRANSLATE;

	if (k->kbd_param) {
		if (k->kbd_param == KBD_SCANCODE && v == 0) {
			i8042_queue(k, REPLY_ACK, false);
			i8042_queue(k, xlate ? 0x41 : 2, false); /* set 2 */
		} else {
			i8042_queue(k, REPLY_ACK, false);
		}
		k->kbd_param = 0;
		return;
	}
	switch (v) {
	case KBD_SET_LEDS:
	case KBD_SCANCODE:
	case KBD_SET_RATE:
		k->kbd_param = v;
		i8042_queue(k, REPLY_ACK, false);
		break;
	case KBD_ECHO:
		i8042_queue(k, KBD_ECHO, false);
		break;
	case KBD_GET_ID:
		i8042_queue(k, REPLY_ACK, false);
		i8042_queue(k, 0xab, false);
		i8042_queue(k, xlate ? 0x41 : 0x83, false);
		break;
	case KBD_ENABLE:
	case KBD_RESET_DISABLE:
	case KBD_RESET_ENABLE:
		i8042_queue(k, REPLY_ACK, false);
		break;
	case KBD_RESET:
		i8042_queue(k, REPLY_ACK, false);
		i8042_queue(k, REPLY_POR, false);
		break;
	default:
		i8042_queue(k, REPLY_RESEND, false);
		break;
	}
}

/* The mouse, after 0xd4: ACK to all, an ID of 0, a reset's 0xaa 0x00. */
static void mouse_write(struct pc_i8042 *k, uint8_t v)
{
	i8042_queue(k, REPLY_ACK, true);
	if (k->mouse_param) {
		k->mouse_param = 0;
		return;
	}
	switch (v) {
	case MOUSE_SET_RES:
	case MOUSE_SET_RATE:
		k->mouse_param = v;
		break;
	case MOUSE_GET_ID:
		i8042_queue(k, 0x00, true);
		break;
	case MOUSE_RESET:
		i8042_queue(k, REPLY_POR, true);
		i8042_queue(k, 0x00, true);
		break;
	default:
		break;
	}
}

static enum pc_io_result i8042_write_outport(struct pc_devices *d, uint8_t v)
{
	d->i8042.outport = v;
	if (!(v & OUT_RESET))
		return pc_request_reset(d, PC_RESET_I8042);
	return PC_IO_DONE; /* A20 stays on: the PC has no A20 gate */
}

static enum pc_io_result i8042_write_data(struct pc_devices *d, uint8_t v)
{
	struct pc_i8042 *k = &d->i8042;
	uint8_t cmd = k->write_cmd;

	k->write_cmd = 0;
	switch (cmd) {
	case 0:
		keyboard_write(k, v);
		break;
	case CMD_WRITE_MODE:
		k->mode = v;
		break;
	case CMD_WRITE_OUTPORT:
		return i8042_write_outport(d, v);
	case CMD_WRITE_OBUF:
		i8042_queue(k, v, false);
		break;
	case CMD_WRITE_AUX_OBUF:
		i8042_queue(k, v, true);
		break;
	case CMD_WRITE_MOUSE:
		mouse_write(k, v);
		break;
	}
	return PC_IO_DONE;
}

static enum pc_io_result i8042_command(struct pc_devices *d, uint8_t v)
{
	struct pc_i8042 *k = &d->i8042;

	if (v >= CMD_PULSE) {
		/* Bit 0 clear pulses the reset line; the others reach nothing. */
		if (!(v & OUT_RESET))
			return pc_request_reset(d, PC_RESET_I8042);
		return PC_IO_DONE;
	}
	switch (v) {
	case CMD_READ_MODE:
		i8042_queue(k, k->mode, false);
		break;
	case CMD_WRITE_MODE:
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_OBUF:
	case CMD_WRITE_AUX_OBUF:
	case CMD_WRITE_MOUSE:
		k->write_cmd = v;
		break;
	case CMD_MOUSE_DISABLE:
		k->mode |= MODE_DISABLE_MOUSE;
		break;
	case CMD_MOUSE_ENABLE:
		k->mode &= ~MODE_DISABLE_MOUSE;
		break;
	case CMD_MOUSE_TEST:
	case CMD_KBD_TEST:
		i8042_queue(k, 0x00, false);
		break;
	case CMD_SELF_TEST:
		k->status |= STAT_SYSTEM;
		k->outport |= OUT_RESET;
		i8042_queue(k, 0x55, false);
		break;
	case CMD_KBD_DISABLE:
		k->mode |= MODE_DISABLE_KBD;
		break;
	case CMD_KBD_ENABLE:
		k->mode &= ~MODE_DISABLE_KBD;
		break;
	case CMD_READ_INPORT:
		i8042_queue(k, 0x80, false);
		break;
	case CMD_READ_OUTPORT:
		i8042_queue(k, k->outport, false);
		break;
	case CMD_DISABLE_A20:
		k->outport &= ~OUT_A20;
		break;
	case CMD_ENABLE_A20:
		k->outport |= OUT_A20;
		break;
	default:
		break; /* QEMU ignores the rest too */
	}
	return PC_IO_DONE;
}

enum pc_io_result pc_i8042_io(struct pc_devices *d, uint16_t port, unsigned int size, bool in,
			      uint32_t *val)
{
	enum pc_io_result res = PC_IO_DONE;

	pc_assert_locked(d);
	BUG_ON(size != 1);
	if (port == I8042_DATA_PORT) {
		if (in)
			*val = i8042_read_data(d);
		else
			res = i8042_write_data(d, (uint8_t)*val);
	} else {
		if (in)
			*val = i8042_status(&d->i8042);
		else
			res = i8042_command(d, (uint8_t)*val);
	}
	i8042_update_irq(d);
	return res;
}

/* PIIX's reset control register: bit 2 set resets (bit 1: hard), as QEMU's piix_rcr_write. */
enum pc_io_result pc_piix_rcr_io(struct pc_devices *d, uint16_t port, unsigned int size, bool in,
				 uint32_t *val)
{
	(void)port;
	pc_assert_locked(d);
	BUG_ON(size != 1);
	if (in) {
		*val = d->piix_rcr;
		return PC_IO_DONE;
	}
	if (*val & 0x04)
		return pc_request_reset(d, PC_RESET_PIIX_RCR);
	d->piix_rcr = *val & 0x02;
	return PC_IO_DONE;
}

enum pc_io_result pc_request_reset(struct pc_devices *d, int cause)
{
	int none = PC_RESET_NONE;

	atomic_compare_exchange_strong_explicit(&d->reset_cause, &none, cause,
						memory_order_release, memory_order_relaxed);
	return PC_IO_RESET;
}

const char *pc_reset_cause(const struct pc_devices *d)
{
	switch (atomic_load_explicit(&d->reset_cause, memory_order_acquire)) {
	case PC_RESET_I8042:
		return "reset through the keyboard controller";
	case PC_RESET_PIIX_RCR:
		return "reset through the PIIX reset control register (port 0xcf9)";
	default:
		return NULL;
	}
}
