// SPDX-License-Identifier: MIT
/*
 * A typed key=value command-line parser. The caller gives a table of option
 * descriptions; values land in a parallel array of uint64_t (the choice index
 * for enums, 0/1 for booleans, the number for integers and sizes).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum opt_type {
	OPT_ENUM, /* one of choices[] */
	OPT_UINT, /* decimal or 0x-hex integer in [min, max] */
	OPT_SIZE, /* integer with an optional K/M/G suffix, in bytes, in [min, max] */
	OPT_BOOL, /* on/off, yes/no, true/false, 1/0; a bare key means on */
	OPT_STRING, /* any text, into str (value: 1 once given); quote it to include spaces */
};

struct opt_desc {
	const char *name;
	enum opt_type type;
	const char *const *choices; /* OPT_ENUM: NULL-terminated */
	uint64_t min, max;          /* OPT_UINT, OPT_SIZE */
	uint64_t def;
	const char *help;
	char *str;                  /* OPT_STRING: where the text goes ("" by default) */
	size_t str_size;            /* ... and its size, NUL included */
};

/*
 * Tokens are separated by blanks. Within a token, "..." and '...' quote
 * (blanks included) and a backslash takes the next character as it is, so
 * both key="a b" and "key=a b" (GRUB's two ways) give key the text a b.
 *
 * Parse @line against @table into @values (defaults first). Every token is
 * checked; the first error is written to @err as one plain line that names
 * the option and the valid choices, and false is returned. Valid tokens are
 * applied even when another token is bad, so the caller can still report,
 * say, which scenario was asked for.
 */
bool cmdline_parse(const char *line, const struct opt_desc *table, unsigned int n,
		   uint64_t *values, char *err, size_t err_len);

/* "name=value name=value ...", every option, in table order. */
void cmdline_format(const struct opt_desc *table, unsigned int n,
		    const uint64_t *values, char *buf, size_t len);
