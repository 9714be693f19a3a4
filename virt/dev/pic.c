// SPDX-License-Identifier: MIT
/*
 * The two 8259s (master 0x20/0x21, slave 0xa0/0xa1) and PIIX's ELCR
 * (0x4d0/0x4d1), as far as a guest that never gets a legacy interrupt can
 * tell: the mask register keeps what is written (0xff, all masked, at
 * reset), the initialisation sequence ICW1..ICW4 is followed so that ICW2-4
 * are not taken for masks, and the command port reads 0 (no IRR, no ISR,
 * no poll result) whatever OCW3 selected.
 *
 *   command port write: bit 4 set = ICW1 (bit 0: ICW4 follows, bit 1: single)
 *                       else OCW2 (bit 3 clear) or OCW3 (bit 3 set): ignored
 *   data port write:    ICW2, [ICW3 unless single], [ICW4 if asked], then OCW1 (mask)
 */
#include "virt/dev/pc.h"

#define PIC_ICW1 0x10
#define PIC_ICW1_IC4 0x01
#define PIC_ICW1_SNGL 0x02

/* The ELCR bits PIIX lets be set: IRQ 0, 1, 2, 8 and 13 are always edge. */
static const uint8_t elcr_writable[2] = { 0xf8, 0xde };

void pc_pic_reset(struct pc_devices *d)
{
	for (unsigned int i = 0; i < 2; i++) {
		d->pic[i] = (struct pc_pic){ .imr = 0xff };
		d->elcr[i] = 0;
	}
}

static void pic_write(struct pc_pic *p, bool data, uint8_t v)
{
	if (!data) {
		if (v & PIC_ICW1) {
			/* ICW1 clears the mask, as the 8259A data sheet says. */
			p->imr = 0;
			p->single = v & PIC_ICW1_SNGL;
			p->need_icw4 = v & PIC_ICW1_IC4;
			p->next_icw = 2;
		}
		return;
	}
	switch (p->next_icw) {
	case 2:
		p->vector_base = v & 0xf8;
		p->next_icw = !p->single ? 3 : p->need_icw4 ? 4 : 0;
		break;
	case 3:
		p->next_icw = p->need_icw4 ? 4 : 0;
		break;
	case 4:
		p->next_icw = 0;
		break;
	default:
		p->imr = v; /* OCW1 */
		break;
	}
}

static enum pc_io_result pic_io(struct pc_devices *d, unsigned int which, uint16_t port,
				bool in, uint32_t *val)
{
	struct pc_pic *p = &d->pic[which];
	bool data = port & 1;

	pc_assert_locked(d);
	if (in)
		*val = data ? p->imr : 0;
	else
		pic_write(p, data, (uint8_t)*val);
	return PC_IO_DONE;
}

enum pc_io_result pc_pic_master_io(struct pc_devices *d, uint16_t port, unsigned int size,
				   bool in, uint32_t *val)
{
	BUG_ON(size != 1);
	return pic_io(d, 0, port, in, val);
}

enum pc_io_result pc_pic_slave_io(struct pc_devices *d, uint16_t port, unsigned int size,
				  bool in, uint32_t *val)
{
	BUG_ON(size != 1);
	return pic_io(d, 1, port, in, val);
}

enum pc_io_result pc_elcr_io(struct pc_devices *d, uint16_t port, unsigned int size, bool in,
			     uint32_t *val)
{
	unsigned int which = port - 0x4d0;

	pc_assert_locked(d);
	BUG_ON(size != 1);
	if (in)
		*val = d->elcr[which];
	else
		d->elcr[which] = (uint8_t)*val & elcr_writable[which];
	return PC_IO_DONE;
}
