// SPDX-License-Identifier: MIT
/*
 * libFuzzer: the boot options (boot/options.c over lib/cmdline.c) on any
 * command line. Accepted lines must format back to an accepted line;
 * refused ones must say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[1024], back[1024], err[256];

	if (size >= sizeof(line))
		size = sizeof(line) - 1;
	memcpy(line, data, size);
	line[size] = 0;
	if (options_parse(line, err, sizeof(err))) {
		options_format(back, sizeof(back));
		if (!options_parse(back, err, sizeof(err)))
			abort(); /* what we print must parse again */
	} else if (!err[0]) {
		abort();
	}
	return 0;
}
