// SPDX-License-Identifier: MIT
// Exception stubs for vectors 0-31 and the 0x80 software interrupt: each
// pushes a dummy error code where the CPU pushes none, then the vector, and
// trap_common hands the frame (struct trap_frame) to trap_dispatch.

.macro STUB vec, has_error
	.balign 16
	.if !\has_error
	pushl $0
	.endif
	pushl $\vec
	jmp trap_common
.endm

	.text
	.balign 16
	.globl trap_stubs
trap_stubs:
	STUB 0, 0
	STUB 1, 0
	STUB 2, 0
	STUB 3, 0
	STUB 4, 0
	STUB 5, 0
	STUB 6, 0
	STUB 7, 0
	STUB 8, 1
	STUB 9, 0
	STUB 10, 1
	STUB 11, 1
	STUB 12, 1
	STUB 13, 1
	STUB 14, 1
	STUB 15, 0
	STUB 16, 0
	STUB 17, 1
	STUB 18, 0
	STUB 19, 0
	STUB 20, 0
	STUB 21, 1
	STUB 22, 0
	STUB 23, 0
	STUB 24, 0
	STUB 25, 0
	STUB 26, 0
	STUB 27, 0
	STUB 28, 0
	STUB 29, 1
	STUB 30, 1
	STUB 31, 0
	.globl trap_stub_0x80
trap_stub_0x80:
	STUB 0x80, 0

trap_common:
	pusha
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	push %esp
	call trap_dispatch
	add $4, %esp
	popa
	add $8, %esp
	iret

	.section .note.GNU-stack, "", @progbits
