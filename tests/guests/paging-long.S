// SPDX-License-Identifier: MIT
// paging's 64-bit tail: entered from compatibility mode with
// long_mode_enter64(failures), it reads page_a through the mapping at
// 512 GiB, prints its line and the verdict over COM1 and exits through
// isa-debug-exit, all from 64-bit code.

#define HIGH_ALIAS 0x8000000000

	.text
	.code32
	.globl long_mode_enter64
long_mode_enter64:
	mov 4(%esp), %edi // failures so far
	ljmp $0x18, $1f

	.code64
1:	mov %esp, %esp // zero-extends: the upper half is undefined after compat mode
	mov $HIGH_ALIAS, %rax
	mov (%rax), %eax
	cmp high_alias_expect(%rip), %eax
	jne 2f
	lea msg_high_ok(%rip), %rsi
	call puts64
	jmp 3f
2:	lea msg_high_bad(%rip), %rsi
	call puts64
	inc %edi
3:	test %edi, %edi
	jnz 4f
	lea msg_pass(%rip), %rsi
	call puts64
	xor %eax, %eax
	jmp exit64
4:	lea msg_fail(%rip), %rsi
	call puts64
	mov %edi, %eax
	call putdec64
	lea msg_failures(%rip), %rsi
	call puts64
	mov $1, %eax
exit64:
	mov $0xf4, %dx
	out %eax, %dx
5:	cli
	hlt
	jmp 5b

// putc64: %al to COM1 once LSR.THRE is set; clobbers %rdx, %rcx.
putc64:
	mov %eax, %ecx
	mov $0x3fd, %dx
6:	in %dx, %al
	test $0x20, %al
	jz 6b
	mov $0x3f8, %dx
	mov %ecx, %eax
	out %al, %dx
	ret

// puts64: the NUL-terminated string at %rsi.
puts64:
	movzbl (%rsi), %eax
	test %al, %al
	jz 7f
	call putc64
	inc %rsi
	jmp puts64
7:	ret

// putdec64: %eax in decimal.
putdec64:
	mov $10, %r8d
	xor %r9d, %r9d
8:	xor %edx, %edx
	div %r8d
	add $'0', %edx
	push %rdx
	inc %r9d
	test %eax, %eax
	jnz 8b
9:	pop %rax
	call putc64
	dec %r9d
	jnz 9b
	ret

	.section .rodata
msg_high_ok:
	.asciz "paging: long 64-bit read above 4g ok\n"
msg_high_bad:
	.asciz "paging: long 64-bit read above 4g FAIL\n"
msg_pass:
	.asciz "paging: PASS\n"
msg_fail:
	.asciz "paging: FAIL ("
msg_failures:
	.asciz " failures)\n"

	.section .note.GNU-stack, "", @progbits
