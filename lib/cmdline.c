// SPDX-License-Identifier: MIT
#include "lib/cmdline.h"
#include "lib/printf.h"

#define MAX_TOKEN 256

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool str_eq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static size_t strlen_max(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

/*
 * One token from *line into buf (quotes and backslashes resolved); false
 * if it did not fit. *line moves past it.
 */
static bool next_token(const char **line, char *buf, size_t size)
{
	const char *p = *line;
	char quote = 0;
	size_t n = 0;
	bool fits = true;

	for (; *p && (quote || !is_space(*p)); p++) {
		char c = *p;

		if (!quote && (c == '"' || c == '\'')) {
			quote = c;
			continue;
		}
		if (quote && c == quote) {
			quote = 0;
			continue;
		}
		if (c == '\\' && p[1])
			c = *++p;
		if (n + 1 < size)
			buf[n++] = c;
		else
			fits = false;
	}
	buf[n] = '\0';
	*line = p;
	return fits;
}

static bool parse_number(const char *s, uint64_t *out, bool allow_suffix)
{
	uint64_t v = 0, base = 10, mult = 1;
	bool any = false;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; *s; s++) {
		uint64_t d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
		any = true;
	}
	if (!any)
		return false;
	if (allow_suffix && *s) {
		switch (*s) {
		case 'k': case 'K': mult = 1ull << 10; break;
		case 'm': case 'M': mult = 1ull << 20; break;
		case 'g': case 'G': mult = 1ull << 30; break;
		default: return false;
		}
		s++;
	}
	if (*s || v > UINT64_MAX / mult)
		return false;
	*out = v * mult;
	return true;
}

static bool parse_bool(const char *s, uint64_t *out)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };

	for (unsigned int i = 0; i < 4; i++) {
		if (str_eq(s, yes[i])) {
			*out = 1;
			return true;
		}
		if (str_eq(s, no[i])) {
			*out = 0;
			return true;
		}
	}
	return false;
}

/* Append "a b c" (the enum's choices) to buf. */
static void list_choices(const char *const *choices, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (; *choices; choices++)
		used += fmt_snprintf(buf + used, used < len ? len - used : 0, "%s%s",
				     used ? " " : "", *choices);
}

static bool apply(const struct opt_desc *o, const char *value, bool has_value,
		  uint64_t *out, char *err, size_t err_len)
{
	char list[256];
	uint64_t v;

	if (!has_value && o->type != OPT_BOOL) {
		fmt_snprintf(err, err_len, "option '%s' needs a value: %s=<value>", o->name,
			     o->name);
		return false;
	}
	switch (o->type) {
	case OPT_ENUM:
		for (unsigned int i = 0; o->choices[i]; i++) {
			if (str_eq(value, o->choices[i])) {
				*out = i;
				return true;
			}
		}
		list_choices(o->choices, list, sizeof(list));
		fmt_snprintf(err, err_len, "bad value '%s' for %s; choose one of: %s", value,
			     o->name, list);
		return false;
	case OPT_UINT:
	case OPT_SIZE:
		if (parse_number(value, &v, o->type == OPT_SIZE) && v >= o->min && v <= o->max) {
			*out = v;
			return true;
		}
		fmt_snprintf(err, err_len,
			     o->type == OPT_SIZE
				     ? "bad value '%s' for %s; expected a size from %lu to %lu bytes (K, M, G suffixes allowed)"
				     : "bad value '%s' for %s; expected an integer from %lu to %lu",
			     value, o->name, (unsigned long)o->min, (unsigned long)o->max);
		return false;
	case OPT_STRING:
		if (strlen_max(value, o->str_size) >= o->str_size) {
			fmt_snprintf(err, err_len, "the value of %s is longer than %zu characters",
				     o->name, o->str_size - 1);
			return false;
		}
		for (size_t i = 0; i < o->str_size && (i == 0 || value[i - 1]); i++)
			o->str[i] = value[i];
		*out = 1;
		return true;
	case OPT_BOOL:
		if (!has_value) {
			*out = 1;
			return true;
		}
		if (parse_bool(value, out))
			return true;
		fmt_snprintf(err, err_len, "bad value '%s' for %s; choose one of: on off", value,
			     o->name);
		return false;
	}
	return false;
}

bool cmdline_parse(const char *line, const struct opt_desc *table, unsigned int n,
		   uint64_t *values, char *err, size_t err_len)
{
	char first_err[384] = "", this_err[384], names[320];
	bool ok = true;

	for (unsigned int i = 0; i < n; i++)
		values[i] = table[i].def;

	for (unsigned int i = 0; i < n; i++)
		if (table[i].type == OPT_STRING && table[i].str_size)
			table[i].str[0] = '\0';

	while (*line) {
		char token[MAX_TOKEN], *key = token, *value;
		bool has_value = false, too_long;
		const struct opt_desc *o = NULL;
		unsigned int idx = 0;

		while (is_space(*line))
			line++;
		if (!*line)
			break;
		too_long = !next_token(&line, token, sizeof(token));
		for (value = token; *value && *value != '='; value++)
			;
		if (*value == '=') {
			has_value = true;
			*value++ = '\0';
		}

		for (idx = 0; idx < n; idx++) {
			if (str_eq(key, table[idx].name)) {
				o = &table[idx];
				break;
			}
		}
		if (too_long) {
			fmt_snprintf(this_err, sizeof(this_err),
				     "option '%.32s...' is longer than %u characters", key,
				     MAX_TOKEN - 1);
		} else if (!o) {
			const char *choices[64 + 1];
			unsigned int k;

			for (k = 0; k < n && k < 64; k++)
				choices[k] = table[k].name;
			choices[k] = NULL;
			list_choices(choices, names, sizeof(names));
			fmt_snprintf(this_err, sizeof(this_err),
				     "unknown option '%s'; valid options: %s", key, names);
		} else if (apply(o, value, has_value, &values[idx], this_err,
				 sizeof(this_err))) {
			continue;
		}
		if (ok)
			fmt_snprintf(first_err, sizeof(first_err), "%s", this_err);
		ok = false;
	}
	if (!ok)
		fmt_snprintf(err, err_len, "%s", first_err);
	return ok;
}

void cmdline_format(const struct opt_desc *table, unsigned int n,
		    const uint64_t *values, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < n; i++) {
		const struct opt_desc *o = &table[i];
		size_t room = used < len ? len - used : 0;
		const char *sep = i ? " " : "";

		switch (o->type) {
		case OPT_ENUM:
			used += fmt_snprintf(buf + used, room, "%s%s=%s", sep, o->name,
					     o->choices[values[i]]);
			break;
		case OPT_BOOL:
			used += fmt_snprintf(buf + used, room, "%s%s=%s", sep, o->name,
					     values[i] ? "on" : "off");
			break;
		case OPT_UINT:
		case OPT_SIZE:
			used += fmt_snprintf(buf + used, room, "%s%s=%lu", sep, o->name,
					     (unsigned long)values[i]);
			break;
		case OPT_STRING:
			used += fmt_snprintf(buf + used, room, "%s%s=\"%s\"", sep, o->name,
					     o->str_size ? o->str : "");
			break;
		}
	}
}
