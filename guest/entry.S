// SPDX-License-Identifier: MIT
/* Guest entry: RDI = vCPU id, RSI = boot info, RSP = this vCPU's stack. */
	.section .text.entry, "ax"
	.globl _start
_start:
	xorl %ebp, %ebp
	call guest_start		/* never returns */
1:	hlt
	jmp 1b
