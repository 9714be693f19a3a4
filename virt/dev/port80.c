// SPDX-License-Identifier: MIT
/*
 * Port 0x80, the POST-code port kernels write to for a short I/O delay
 * (Linux's outb_p). QEMU's PC has a device there that drops writes and
 * reads 0xff, so even under io=strict a guest's delay is not an error.
 * Lockless: it has no state.
 */
#include "virt/dev/pc.h"

enum pc_io_result pc_port80_io(struct pc_devices *d, uint16_t port, unsigned int size, bool in,
			       uint32_t *val)
{
	(void)d;
	(void)port;
	if (in)
		*val = pc_io_mask(size);
	return PC_IO_DONE;
}
