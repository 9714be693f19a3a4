// SPDX-License-Identifier: MIT
/*
 * isa-debug-exit (QEMU's -device isa-debug-exit,iobase=0xf4,iosize=4): a
 * write of V, at any size to any of its four ports, ends QEMU with
 * exit((V << 1) | 1). Here the first write records that status and asks
 * the run loop to stop the VM; reads answer all ones, as nothing decodes
 * them. Lockless: the status is one atomic word.
 */
#include "virt/dev/pc.h"

enum pc_io_result pc_debug_exit_io(struct pc_devices *d, uint16_t port, unsigned int size,
				   bool in, uint32_t *val)
{
	int none = -1;

	(void)port;
	if (in) {
		*val = pc_io_mask(size);
		return PC_IO_DONE;
	}
	/* exit(3) keeps the low 8 bits, and so does the status QEMU leaves. */
	atomic_compare_exchange_strong_explicit(&d->exit_status, &none,
						(int)((((uint64_t)*val << 1) | 1) & 0xff),
						memory_order_release, memory_order_relaxed);
	return PC_IO_EXIT;
}
