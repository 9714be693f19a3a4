// SPDX-License-Identifier: MIT
// The AP start-up trampoline. smp_start_aps() copies [smp_tramp_start,
// smp_tramp_end) to SMP_TRAMPOLINE (a page below 1 MiB) and fills in
// smp_tramp_gdtr; a SIPI with vector SMP_TRAMPOLINE >> 12 starts an AP there
// in real mode with CS = vector << 8, IP = 0. It keeps the CS and CR0 it saw
// (ebx, edi), loads the BSP's GDT, enters 32-bit protected mode (flat, paging
// off), claims a stack slot with lock xadd and calls
// smp_ap_c_entry(cs, cr0, slot).

#define SMP_STACK_SIZE 8192
#define SMP_MAX_CPUS 16

	.text
	.code16
	.balign 16
	.globl smp_tramp_start
smp_tramp_start:
	cli
	cld
	xor %ebx, %ebx
	mov %cs, %bx
	mov %cr0, %edi
	mov %bx, %ds
	lgdtl (smp_tramp_gdtr - smp_tramp_start)
	// PE and ET only: also clears CD and NW, which INIT leaves set.
	mov $0x11, %eax
	mov %eax, %cr0
	ljmpl $0x08, $smp_ap_entry32

	.balign 8
	.globl smp_tramp_gdtr
smp_tramp_gdtr:
	.word 0
	.long 0
	.globl smp_tramp_end
smp_tramp_end:

	.code32
smp_ap_entry32:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov $1, %eax
	lock xaddl %eax, smp_trampoline_entries
	// Slot s uses stack s (0-based); more APs than stacks halt here.
	cmp $SMP_MAX_CPUS, %eax
	jae 2f
	mov %eax, %ecx
	inc %ecx
	imul $SMP_STACK_SIZE, %ecx
	lea smp_ap_stacks(%ecx), %esp
	push %eax
	push %edi
	push %ebx
	call smp_ap_c_entry
2:	cli
	hlt
	jmp 2b

	.bss
	.balign 16
	.globl smp_ap_stacks
smp_ap_stacks:
	.skip SMP_STACK_SIZE * SMP_MAX_CPUS

	.section .note.GNU-stack, "", @progbits
