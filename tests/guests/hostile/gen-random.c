// SPDX-License-Identifier: MIT
// gen-random BYTES: BYTES pseudo-random bytes on stdout, the same on every
// host (splitmix64 from a fixed seed): a module that is no kernel at all.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	uint64_t x = 0x6d6d75766973ull; /* "mmuvis" */
	long n = argc > 1 ? atol(argv[1]) : 65536;

	for (long i = 0; i < n; i += 8) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		for (int b = 0; b < 8 && i + b < n; b++)
			putchar((int)(z >> (8 * b)) & 0xff);
	}
	return ferror(stdout) ? 1 : 0;
}
