// SPDX-License-Identifier: MIT
#include "arch/x86/console.h"
#include "lib/printf.h"
#include "mm/page_alloc.h"
#include "stress/migrate.h"

#define CHUNK_ORDER 9 /* 2 MiB */
#define CHUNK_BYTES (PAGE_SIZE << CHUNK_ORDER)

bool migrate_image_alloc(struct migrate_image *im, uint64_t base, uint64_t bytes)
{
	*im = (struct migrate_image){ .base = base, .bytes = bytes };
	im->nr = (unsigned int)((bytes + CHUNK_BYTES - 1) / CHUNK_BYTES);
	im->array_order = page_order_for(im->nr * sizeof(*im->chunk));
	im->chunk = page_alloc_zeroed(im->array_order);
	if (!im->chunk)
		return false;
	for (unsigned int i = 0; i < im->nr; i++)
		if (!(im->chunk[i] = page_alloc(CHUNK_ORDER)))
			return false;
	return true;
}

void migrate_image_free(struct migrate_image *im)
{
	for (unsigned int i = 0; im->chunk && i < im->nr; i++)
		if (im->chunk[i])
			page_free(im->chunk[i], CHUNK_ORDER);
	if (im->chunk)
		page_free(im->chunk, im->array_order);
	im->chunk = NULL;
}

uint8_t *migrate_image_page(struct migrate_image *im, uint64_t gpa)
{
	uint64_t off = gpa - im->base;

	return im->chunk[off / CHUNK_BYTES] + off % CHUNK_BYTES;
}

/*
 * A page by words, not rep movsb: the vCPUs may be writing it (the log has
 * the page again then), and under QEMU TCG each iteration of a rep string
 * instruction costs about what a whole word's load and store does here.
 */
static void copy_page(struct vm *vm, struct migrate_image *im, uint64_t gpa)
{
	const uint64_t *src = vm_gpa_to_hva(vm, gpa, PAGE_SIZE);
	uint64_t *dst = (uint64_t *)migrate_image_page(im, gpa);

	for (unsigned int i = 0; src && i < PAGE_SIZE / 8; i++) /* src: always, in guest memory */
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

static bool page_differs(const uint64_t *a, const uint64_t *b)
{
	uint64_t x = 0;

	for (unsigned int i = 0; i < PAGE_SIZE / 8; i++)
		x |= a[i] ^ b[i];
	return x != 0;
}

void migrate_copy_range(struct vm *vm, struct migrate_image *im, uint64_t gpa, uint64_t len)
{
	for (uint64_t at = gpa; at < gpa + len; at += PAGE_SIZE)
		copy_page(vm, im, at);
}

uint64_t migrate_copy_dirty(struct vm *vm, struct migrate_image *im, const uint64_t *bits)
{
	gfn_t first = im->base >> PAGE_SHIFT, end = first + (im->bytes >> PAGE_SHIFT);
	uint64_t n = 0;

	for (gfn_t g = first; g < end; g++) {
		if (!bits[g / 64] && g % 64 == 0) {
			g += 63; /* a clean word */
			continue;
		}
		if (bits[g / 64] & (1ull << (g % 64))) {
			copy_page(vm, im, g << PAGE_SHIFT);
			n++;
		}
	}
	return n;
}

uint64_t migrate_compare(struct vm *vm, struct migrate_image *im, uint64_t *first_gpa)
{
	uint64_t differ = 0;

	for (uint64_t gpa = im->base; gpa < im->base + im->bytes; gpa += PAGE_SIZE) {
		const uint64_t *src = vm_gpa_to_hva(vm, gpa, PAGE_SIZE);

		if (src && page_differs(src, (const uint64_t *)migrate_image_page(im, gpa))) {
			if (!differ)
				*first_gpa = gpa;
			differ++;
		}
	}
	return differ;
}

void migrate_describe(struct vm *vm, struct migrate_image *im, uint64_t gpa)
{
	const uint64_t *src = vm_gpa_to_hva(vm, gpa, PAGE_SIZE);
	const uint64_t *dst = (const uint64_t *)migrate_image_page(im, gpa);
	unsigned int words = 0;

	for (unsigned int i = 0; src && i < PAGE_SIZE / 8; i++) {
		if (src[i] == dst[i])
			continue;
		if (words++ < 4)
			kprintf("mmuvisor: migrate: gpa 0x%lx: the copy holds 0x%016lx, guest memory 0x%016lx\n",
				(unsigned long)(gpa + i * 8), (unsigned long)dst[i], (unsigned long)src[i]);
	}
	kprintf("mmuvisor: migrate: gpa 0x%lx: %u of %u words differ\n", (unsigned long)gpa, words,
		(unsigned int)(PAGE_SIZE / 8));
}
