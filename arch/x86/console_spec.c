// SPDX-License-Identifier: MIT
#include "arch/x86/console_spec.h"
#include "lib/printf.h"

static const uint16_t com_ports[] = { 0x3f8, 0x2f8, 0x3e8, 0x2e8 };

#define SYNTAX "use com1..com4, uart,io=PORT, uart,mmio=ADDR or uart,mmio32=ADDR, each with an optional ,baud=N, and fb, joined by +"

/* Does [s, end) begin with word? Then *s moves past it. */
static bool take(const char **s, const char *end, const char *word)
{
	const char *p = *s;

	for (; *word; word++, p++)
		if (p >= end || *p != *word)
			return false;
	*s = p;
	return true;
}

/* A decimal or 0x-hex number that fills [s, end) exactly. */
static bool number(const char *s, const char *end, uint64_t *out)
{
	unsigned int base = 10;
	uint64_t v = 0;

	if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (s >= end)
		return false;
	for (; s < end; s++) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned int)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned int)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned int)(*s - 'A' + 10);
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

static const char *find(const char *s, const char *end, char c)
{
	while (s < end && *s != c)
		s++;
	return s;
}

/* One item, [s, end): a UART into *u, or the framebuffer (*is_fb). */
static bool parse_item(const char *s, const char *end, struct uart *u, bool *is_fb, char *err,
		       size_t len)
{
	const char *item = s, *comma;
	int n = (int)(end - s);
	uint64_t v;

	*u = (struct uart){ .kind = UART_IO, .baud = UART_BASE_BAUD };
	*is_fb = false;
	if (take(&s, end, "fb") && (s == end || *s == ',')) {
		if (s != end) {
			fmt_snprintf(err, len, "console=: '%.*s': fb takes no options; write fb alone", n, item);
			return false;
		}
		*is_fb = true;
		return true;
	}
	s = item;
	if (take(&s, end, "com") && s < end && *s >= '1' && *s <= '4' &&
	    (s + 1 == end || s[1] == ',')) {
		u->base = com_ports[*s - '1'];
		s++;
	} else if (s = item, take(&s, end, "uart,")) {
		comma = find(s, end, ',');
		if (take(&s, comma, "io=")) {
			if (!number(s, comma, &v) || v == 0 || v > 0xfff8) {
				fmt_snprintf(err, len, "console=: '%.*s': the port must be a number from 0x1 to 0xfff8", n, item);
				return false;
			}
		} else if (take(&s, comma, "mmio32=") || (u->kind = UART_MMIO, take(&s, comma, "mmio="))) {
			if (u->kind == UART_IO)
				u->kind = UART_MMIO32;
			if (!number(s, comma, &v) || v == 0 || v > 0xffffffffull - 32) {
				fmt_snprintf(err, len, "console=: '%.*s': the address must be a number below 4 GiB (the identity map's)", n, item);
				return false;
			}
		} else {
			fmt_snprintf(err, len, "console=: '%.*s': a uart needs io=PORT, mmio=ADDR or mmio32=ADDR", n, item);
			return false;
		}
		u->base = v;
		s = comma;
	} else {
		fmt_snprintf(err, len, "console=: unknown console '%.*s': %s", n, item, SYNTAX);
		return false;
	}
	if (s == end)
		return true;
	s++; /* the comma */
	if (!take(&s, end, "baud=")) {
		fmt_snprintf(err, len, "console=: '%.*s': after the UART only ,baud=N may follow", n, item);
		return false;
	}
	if (!number(s, end, &v) || v == 0 || v > UART_BASE_BAUD || UART_BASE_BAUD % v) {
		fmt_snprintf(err, len, "console=: '%.*s': baud must divide 115200 (115200, 57600, 38400, 19200, 9600, ...)", n, item);
		return false;
	}
	u->baud = (uint32_t)v;
	return true;
}

/* Add the item [s, end) of text to out, unless it is already there or out is full. */
static bool add_item(struct console_spec *out, const char *text, const char *s, const char *end,
		     char *err, size_t len)
{
	struct uart u;
	bool is_fb;

	if (!parse_item(s, end, &u, &is_fb, err, len))
		return false;
	if (is_fb) {
		if (out->fb) {
			fmt_snprintf(err, len, "console=%s: 'fb' is already in the list; name it once", text);
			return false;
		}
		out->fb = true;
		return true;
	}
	for (unsigned int i = 0; i < out->nr; i++) {
		if (out->uart[i].kind == u.kind && out->uart[i].base == u.base) {
			fmt_snprintf(err, len, "console=%s: '%.*s' names a UART already in the list",
				     text, (int)(end - s), s);
			return false;
		}
	}
	if (out->nr == CONSOLE_MAX) {
		fmt_snprintf(err, len, "console=%s: at most %u UARTs (and fb)", text, CONSOLE_MAX);
		return false;
	}
	out->uart[out->nr++] = u;
	return true;
}

bool console_spec_parse(const char *text, struct console_spec *out, char *err, size_t len)
{
	const char *s = text, *end;

	out->nr = 0;
	out->fb = false;
	if (!*text) {
		out->uart[out->nr++] = (struct uart){ .kind = UART_IO, .base = 0x3f8,
						      .baud = UART_BASE_BAUD };
		return true;
	}
	for (;;) {
		end = s;
		while (*end && *end != '+')
			end++;
		if (end == s) {
			fmt_snprintf(err, len, "console=%s: an empty item: %s", text, SYNTAX);
			return false;
		}
		if (!add_item(out, text, s, end, err, len))
			return false;
		if (!*end)
			return true;
		s = end + 1;
	}
}

void console_spec_name(const struct uart *u, char *buf, size_t len)
{
	int n = 0;

	for (unsigned int i = 0; i < CONSOLE_MAX; i++)
		if (u->kind == UART_IO && u->base == com_ports[i])
			n = fmt_snprintf(buf, len, "com%u", i + 1);
	if (!n)
		n = fmt_snprintf(buf, len, "uart,%s=0x%lx", u->kind == UART_IO ? "io" :
				 u->kind == UART_MMIO ? "mmio" : "mmio32", (unsigned long)u->base);
	if (u->baud != UART_BASE_BAUD && n > 0 && (size_t)n < len)
		fmt_snprintf(buf + n, len - (size_t)n, ",baud=%u", u->baud);
}
