// SPDX-License-Identifier: MIT
#include "lib/string.h"

#include <stdint.h>

/*
 * GCC assumes memset and memcpy return dst and reuses that value: keep it.
 * Whole aligned quadwords go 8 bytes a step: Bochs counts every step of a
 * string instruction, so zeroing a page with STOSB cost 4096 cycles there.
 */
void *memset(void *dst, int c, size_t n)
{
	void *ret = dst;

	if (!(((uintptr_t)dst | n) & 7)) {
		uint64_t v = 0x0101010101010101ULL * (unsigned char)c;

		n /= 8;
		asm volatile("rep stosq" : "+D"(dst), "+c"(n) : "a"(v) : "memory");
		return ret;
	}
	asm volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
	return ret;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	void *ret = dst;

	if (!(((uintptr_t)dst | (uintptr_t)src | n) & 7)) {
		n /= 8;
		asm volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
		return ret;
	}
	asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
	return ret;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}
