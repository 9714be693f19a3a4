// SPDX-License-Identifier: MIT
/*
 * The x86-64 long-mode paging entry (Intel SDM Vol. 3A 4.5, AMD APM Vol. 2
 * 5.3), the format of both the guest's tables and the shadow tables:
 *
 *   63  62  59 58    52 51          M M-1                   12 11  9  8  7  6  5  4  3  2  1  0
 *  +---+------+--------+-------------+------------------------+-----+--+--+--+--+--+--+--+--+--+
 *  |XD | PKey | ignored| reserved (0)|  frame / table address | ign |G |PS|D |A |CD|WT|US|RW|P |
 *  +---+------+--------+-------------+------------------------+-----+--+--+--+--+--+--+--+--+--+
 *   M = MAXPHYADDR. XD is reserved unless EFER.NXE = 1. PKey is ignored
 *   unless CR4.PKE = 1 (never, here). PS: level 2 or 3 maps a 2 MiB or
 *   1 GiB page; PS is reserved at level 4; at level 1 bit 7 is PAT. A huge
 *   entry keeps PAT in bit 12 and has reserved bits between 13 and the
 *   page's own alignment (20:13 or 29:13). G and D mean something in a
 *   leaf only. P = 0: the CPU ignores every other bit.
 */
#pragma once

#include "mm/platform.h"

#define X86_PTE_BIT(n) (1ULL << (n))

#define X86_PTE_P X86_PTE_BIT(0)
#define X86_PTE_RW X86_PTE_BIT(1)
#define X86_PTE_US X86_PTE_BIT(2)
#define X86_PTE_PWT X86_PTE_BIT(3)
#define X86_PTE_PCD X86_PTE_BIT(4)
#define X86_PTE_A X86_PTE_BIT(5)
#define X86_PTE_D X86_PTE_BIT(6)
#define X86_PTE_PS X86_PTE_BIT(7)     /* levels 2..4 */
#define X86_PTE_PAT_4K X86_PTE_BIT(7) /* level 1 */
#define X86_PTE_G X86_PTE_BIT(8)
#define X86_PTE_PAT_HUGE X86_PTE_BIT(12)
#define X86_PTE_NX X86_PTE_BIT(63)
#define X86_PTE_ADDR_MASK 0x000ffffffffff000ULL /* bits 51:12 */

_Static_assert(X86_PTE_P == 0x1 && X86_PTE_RW == 0x2 && X86_PTE_US == 0x4, "P/RW/US: bits 0..2");
_Static_assert(X86_PTE_PWT == 0x8 && X86_PTE_PCD == 0x10, "PWT/PCD: bits 3, 4");
_Static_assert(X86_PTE_A == 0x20 && X86_PTE_D == 0x40 && X86_PTE_PS == 0x80, "A/D/PS: bits 5..7");
_Static_assert(X86_PTE_G == 0x100 && X86_PTE_PAT_HUGE == 0x1000, "G: bit 8, huge PAT: bit 12");
_Static_assert(X86_PTE_NX == 0x8000000000000000ULL, "XD: bit 63");
_Static_assert(X86_PTE_ADDR_MASK == (((1ULL << 52) - 1) & ~((1ULL << 12) - 1)), "address: 51:12");

#define X86_ROOT_LEVEL 4
#define X86_PTES_PER_TABLE 512
#define X86_LEVEL_BITS 9

/* 4 KiB frames mapped by one entry of level (1: 1, 2: 512, 3: 512 * 512). */
static inline uint64_t x86_pages_per_level(unsigned int level)
{
	return 1ULL << ((level - 1) * X86_LEVEL_BITS);
}

/* Index of the entry for linear address gva in a table of level. */
static inline unsigned int x86_pte_index(uint64_t gva, unsigned int level)
{
	return (unsigned int)(gva >> (PAGE_SHIFT + (level - 1) * X86_LEVEL_BITS)) &
	       (X86_PTES_PER_TABLE - 1);
}

/* Bits low..high set (high inclusive; empty when high < low). */
static inline uint64_t x86_bits(unsigned int low, unsigned int high)
{
	return high < low ? 0 : (~0ULL >> (63 - high)) & ~((1ULL << low) - 1);
}

/*
 * #PF error code (SDM 4.7). I/D is set for an instruction fetch only when
 * EFER.NXE or CR4.SMEP is set; RSVD comes with P.
 */
#define PFERR_PRESENT (1u << 0)
#define PFERR_WRITE (1u << 1)
#define PFERR_USER (1u << 2)
#define PFERR_RSVD (1u << 3)
#define PFERR_FETCH (1u << 4)
#define PFERR_ACCESS_MASK (PFERR_WRITE | PFERR_USER | PFERR_FETCH)

/*
 * The rights a translation grants, ANDed over the levels (execute: no XD
 * at any level). Shadow page roles and the fault path speak in these.
 */
#define ACC_EXEC 1u
#define ACC_WRITE 2u
#define ACC_USER 4u
#define ACC_ALL (ACC_EXEC | ACC_WRITE | ACC_USER)

/* The rights one present entry grants; nx: EFER.NXE (XD means something). */
static inline unsigned int x86_pte_access(uint64_t pte, bool nx)
{
	return ((pte & X86_PTE_RW) ? ACC_WRITE : 0) | ((pte & X86_PTE_US) ? ACC_USER : 0) |
	       ((nx && (pte & X86_PTE_NX)) ? 0 : ACC_EXEC);
}

/*
 * The other paging modes (SDM Vol. 3A 4.1.1, 4.3, 4.4; AMD APM Vol. 2 5.1,
 * 5.2), which the guest walker also reads. The low bits (P .. G) sit where
 * they sit in the long-mode entry; what differs is drawn here.
 *
 * 32-bit paging (CR0.PG = 1, CR4.PAE = 0): two levels of 1024 4-byte
 * entries, indexed by linear-address bits 31:22 and 21:12. No XD.
 *
 *   PDE/PTE  31                       12 11  9  8  7  6  5  4  3  2  1  0
 *           +---------------------------+-----+--+--+--+--+--+--+--+--+--+
 *           | table / frame address     | ign |G |PS|D |A |CD|WT|US|RW|P |
 *           +---------------------------+-----+--+--+--+--+--+--+--+--+--+
 *   PTE: bit 7 is PAT. PDE: PS means something only with CR4.PSE = 1.
 *   No reserved bits in either.
 *
 *   4 MiB PDE (CR4.PSE = 1, PS = 1):
 *            31          22 21 20      13 12  11 .. 0
 *           +--------------+--+----------+---+-------+
 *           | address 31:22|0 | addr 39:32|PAT| as PDE|
 *           +--------------+--+----------+---+-------+
 *   Bit 21 is reserved, and so are the bits of 20:13 that would give an
 *   address bit at MAXPHYADDR or above (PSE-36: at most 40 bits).
 *
 * PAE paging (CR0.PG = 1, CR4.PAE = 1, EFER.LMA = 0): CR3 bits 31:5 point
 * at 4 8-byte PDPTEs (linear bits 31:30), then a page directory and a page
 * table of 512 8-byte entries, as long mode's levels 2 and 1 but with bits
 * 62:MAXPHYADDR reserved (long mode reserves only 51:MAXPHYADDR). A PDPTE
 * is only P, PWT, PCD and the address: bits 2:1, 8:5 and 63:MAXPHYADDR
 * (XD included) are reserved, so it carries no R/W, U/S, A or D.
 */
#define X86_PTE32_ADDR_MASK 0xfffff000ULL      /* 32-bit PDE/PTE: bits 31:12 */
#define X86_PDE32_4M_ADDR_MASK 0xffc00000ULL   /* 4 MiB PDE: address bits 31:22 */
#define X86_PDE32_PSE36_SHIFT 13               /* 4 MiB PDE: bits 20:13 = address 39:32 */
#define X86_PDE32_PSE36_MASK 0x1fe000ULL       /* bits 20:13 */
#define X86_PDE32_4M_RSVD X86_PTE_BIT(21)
#define X86_PSE36_MAX_PHYADDR 40
#define X86_PTE32_LEVEL_BITS 10
#define X86_PTE32_PER_TABLE 1024
#define X86_PTE32_ROOT_LEVEL 2
#define X86_PAE_ROOT_LEVEL 3
#define X86_PAE_NR_PDPTES 4
#define X86_PAE_CR3_MASK 0xffffffe0ULL         /* CR3 bits 31:5: the PDPT */
#define X86_PDPTE_RSVD_LOW 0x1e6ULL            /* bits 2:1 and 8:5 */

_Static_assert(X86_PDE32_PSE36_MASK == (0xffULL << X86_PDE32_PSE36_SHIFT), "PSE-36: 20:13");
_Static_assert(X86_PDPTE_RSVD_LOW == (X86_PTE_RW | X86_PTE_US | X86_PTE_A | X86_PTE_D |
				       X86_PTE_PS | X86_PTE_G), "PDPTE reserved: 2:1, 8:5");
_Static_assert(X86_PTE32_PER_TABLE * 4 == 4096 && X86_PTES_PER_TABLE * 8 == 4096,
	       "a table is a page");

/* Index of the entry for linear address gva in a 32-bit-paging table of level (1 or 2). */
static inline unsigned int x86_pte32_index(uint64_t gva, unsigned int level)
{
	return (unsigned int)(gva >> (PAGE_SHIFT + (level - 1) * X86_PTE32_LEVEL_BITS)) &
	       (X86_PTE32_PER_TABLE - 1);
}

/* The paging controls (SDM 2.5, 4.1.1; AMD APM 3.1). */
#define X86_CR0_PG X86_PTE_BIT(31)
#define X86_CR4_PSE X86_PTE_BIT(4)
#define X86_CR4_PAE X86_PTE_BIT(5)
#define X86_EFER_LMA X86_PTE_BIT(10)
