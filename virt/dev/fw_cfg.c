// SPDX-License-Identifier: MIT
/*
 * fw_cfg's traditional (non-DMA) interface on x86, as QEMU's docs/specs/
 * fw_cfg.rst describes it: a 16-bit write to 0x510 selects an item and
 * rewinds it; each 8-bit read (of 0x510 or 0x511: QEMU's combined port
 * decodes by width, not address) returns the item's next byte, and 0 past
 * its end or for an item that does not exist. 8-bit writes are ignored
 * (the write channel is gone from QEMU). The DMA interface (0x514) is
 * absent and FW_CFG_ID says so; other widths read all ones.
 *
 * Items (numbers little endian unless noted):
 *   0x0000 signature "QEMU"          0x0005 NB_CPUS  u16
 *   0x0001 ID u32 = 1 (traditional)  0x000f MAX_CPUS u16
 *   0x0002 UUID, 16 zero bytes       0x0019 file directory (big endian):
 *   0x0003 RAM size u64                u32 count, then per file
 *   0x0020 "etc/e820"                  { u32 size, u16 select, u16 0, char name[56] }
 *
 * etc/e820 is QEMU's table of struct { u64 addr; u64 len; u32 type; }:
 * RAM from 0 up to the PCI hole, and the rest from 4 GiB (pc_piix.c: RAM
 * of 0xe0000000 or more keeps only 3 GiB below 4 GiB).
 */
#include "lib/string.h"
#include "virt/dev/pc.h"

#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID 0x01
#define FW_CFG_UUID 0x02
#define FW_CFG_RAM_SIZE 0x03
#define FW_CFG_NB_CPUS 0x05
#define FW_CFG_MAX_CPUS 0x0f
#define FW_CFG_FILE_DIR 0x19
#define FW_CFG_FILE_FIRST 0x20
#define FW_CFG_ARCH_LOCAL 0x8000
#define FW_CFG_ENTRY_MASK 0x3fff
#define FW_CFG_ID_TRADITIONAL 0x01

#define E820_RAM 1
#define E820_ENTRY_SIZE 20
#define PCI_HOLE_START 0xe0000000ull /* lowmem as pc_piix.c has it */
#define LOWMEM_GIGABYTE 0xc0000000ull
#define FOUR_GIB (1ull << 32)

#define FILE_DIR_ENTRY_SIZE (4 + 2 + 2 + PC_FW_CFG_NAME_LEN)
#define ITEM_MAX (4 + FILE_DIR_ENTRY_SIZE) /* the largest item made on demand */

struct fw_cfg_file {
	const char *name;
	uint16_t select;
};

static const struct fw_cfg_file files[] = {
	{ .name = "etc/e820", .select = FW_CFG_FILE_FIRST },
};

static void put_le(uint8_t *p, uint64_t v, unsigned int bytes)
{
	for (unsigned int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_be(uint8_t *p, uint64_t v, unsigned int bytes)
{
	for (unsigned int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static void e820_add(struct pc_devices *d, uint64_t addr, uint64_t len, uint32_t type)
{
	uint8_t *e = d->e820 + d->e820_len;

	BUG_ON(d->e820_len + E820_ENTRY_SIZE > sizeof(d->e820));
	put_le(e, addr, 8);
	put_le(e + 8, len, 8);
	put_le(e + 16, type, 4);
	d->e820_len += E820_ENTRY_SIZE;
}

void pc_fw_cfg_setup(struct pc_devices *d)
{
	uint64_t ram = d->cfg.ram_bytes, below = ram;

	if (ram >= PCI_HOLE_START)
		below = LOWMEM_GIGABYTE;
	e820_add(d, 0, below, E820_RAM);
	if (ram > below)
		e820_add(d, FOUR_GIB, ram - below, E820_RAM);
}

static uint32_t file_size(const struct pc_devices *d, uint16_t select)
{
	switch (select) {
	case FW_CFG_FILE_FIRST:
		return d->e820_len;
	default:
		return 0;
	}
}

/* The item's bytes: a pointer into d, or buf filled; NULL if there is no such item. */
static const uint8_t *fw_cfg_item(const struct pc_devices *d, uint16_t key, uint8_t *buf,
				  uint32_t *len)
{
	if (key & FW_CFG_ARCH_LOCAL)
		return NULL; /* no x86-specific items */
	switch (key & FW_CFG_ENTRY_MASK) {
	case FW_CFG_SIGNATURE:
		memcpy(buf, "QEMU", 4);
		*len = 4;
		return buf;
	case FW_CFG_ID:
		put_le(buf, FW_CFG_ID_TRADITIONAL, 4);
		*len = 4;
		return buf;
	case FW_CFG_UUID:
		memset(buf, 0, 16);
		*len = 16;
		return buf;
	case FW_CFG_RAM_SIZE:
		put_le(buf, d->cfg.ram_bytes, 8);
		*len = 8;
		return buf;
	case FW_CFG_NB_CPUS:
	case FW_CFG_MAX_CPUS:
		put_le(buf, d->cfg.nr_vcpus, 2);
		*len = 2;
		return buf;
	case FW_CFG_FILE_DIR:
		memset(buf, 0, ITEM_MAX);
		put_be(buf, ARRAY_SIZE(files), 4);
		for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
			uint8_t *f = buf + 4 + i * FILE_DIR_ENTRY_SIZE;

			put_be(f, file_size(d, files[i].select), 4);
			put_be(f + 4, files[i].select, 2);
			memcpy(f + 8, files[i].name, strlen(files[i].name));
		}
		*len = 4 + ARRAY_SIZE(files) * FILE_DIR_ENTRY_SIZE;
		return buf;
	case FW_CFG_FILE_FIRST:
		*len = d->e820_len;
		return d->e820;
	default:
		return NULL;
	}
}

static uint8_t fw_cfg_read_byte(struct pc_devices *d)
{
	uint8_t buf[ITEM_MAX];
	uint32_t len = 0;
	const uint8_t *item = fw_cfg_item(d, d->fw_cfg.selector, buf, &len);

	if (!item || d->fw_cfg.offset >= len)
		return 0;
	return item[d->fw_cfg.offset++];
}

enum pc_io_result pc_fw_cfg_io(struct pc_devices *d, uint16_t port, unsigned int size, bool in,
			       uint32_t *val)
{
	pc_assert_locked(d);
	if (size == 1) {
		if (in)
			*val = fw_cfg_read_byte(d);
		return PC_IO_DONE; /* a data write: ignored */
	}
	if (size == 2 && !in && port == 0x510) {
		d->fw_cfg.selector = (uint16_t)*val;
		d->fw_cfg.offset = 0;
		return PC_IO_DONE;
	}
	if (in)
		*val = pc_io_mask(size); /* a width the port does not take */
	return PC_IO_DONE;
}

_Static_assert(sizeof(files) / sizeof(files[0]) == 1, "ITEM_MAX holds a one-file directory");
_Static_assert(ITEM_MAX >= 16, "the UUID fits the item buffer");
