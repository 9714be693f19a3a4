// SPDX-License-Identifier: MIT
/* console= parsing (arch/x86/console_spec.c): the lists it takes, the names it gives, its errors. */
#include <string.h>

#include "arch/x86/console_spec.h"
#include "tests/host/check.h"

static char err[384];

/* text parses; the UARTs, named by console_spec_name(), then fb if it is there, joined by '+', are want. */
static void parses_as(const char *text, const char *want)
{
	struct console_spec spec;
	char got[256] = "", name[64];

	err[0] = 0;
	if (!console_spec_parse(text, &spec, err, sizeof(err))) {
		fprintf(stderr, "  console=%s: refused: %s\n", text, err);
		CHECK(!"a good console= list was refused");
		return;
	}
	for (unsigned int i = 0; i < spec.nr; i++) {
		console_spec_name(&spec.uart[i], name, sizeof(name));
		if (i)
			strcat(got, "+");
		strcat(got, name);
	}
	if (spec.fb)
		strcat(got, spec.nr ? "+fb" : "fb");
	if (strcmp(got, want)) {
		fprintf(stderr, "  console=%s: got %s, want %s\n", text, got, want);
		CHECK(!"parsed to the wrong UARTs");
	}
}

/* text is refused with an error that contains want. */
static void refused(const char *text, const char *want)
{
	struct console_spec spec;

	err[0] = 0;
	if (console_spec_parse(text, &spec, err, sizeof(err))) {
		fprintf(stderr, "  console=%s: taken, want an error with '%s'\n", text, want);
		CHECK(!"a bad console= list was taken");
		return;
	}
	if (!strstr(err, want)) {
		fprintf(stderr, "  console=%s: error '%s' lacks '%s'\n", text, err, want);
		CHECK(!"the error does not say what is wrong");
	}
}

static void test_lists(void)
{
	struct console_spec spec;

	parses_as("", "com1");
	parses_as("com2", "com2");
	parses_as("com1+com2+com3+com4", "com1+com2+com3+com4");
	parses_as("com2,baud=9600", "com2,baud=9600");
	parses_as("uart,io=0x2f8", "com2"); /* the same port, by its PC name */
	parses_as("uart,io=0x3000,baud=57600", "uart,io=0x3000,baud=57600");
	parses_as("uart,mmio=0xfe032000", "uart,mmio=0xfe032000");
	parses_as("uart,mmio32=4261617664+com1", "uart,mmio32=0xfe032000+com1");
	CHECK(console_spec_parse("uart,mmio32=0xfe032000,baud=115200", &spec, err, sizeof(err)));
	CHECK(spec.nr == 1 && spec.uart[0].kind == UART_MMIO32 && spec.uart[0].base == 0xfe032000 &&
	      spec.uart[0].baud == 115200 && !spec.uart[0].present);
	CHECK(console_spec_parse("com4", &spec, err, sizeof(err)));
	CHECK(spec.uart[0].kind == UART_IO && spec.uart[0].base == 0x2e8 && !spec.fb);
}

static void test_framebuffer(void)
{
	struct console_spec spec;

	parses_as("fb", "fb");
	parses_as("com1+fb", "com1+fb");
	parses_as("fb+com2", "com2+fb"); /* fb is a flag: it is named last */
	parses_as("com1+com2+com3+com4+fb", "com1+com2+com3+com4+fb");
	CHECK(console_spec_parse("fb", &spec, err, sizeof(err)));
	CHECK(spec.fb && spec.nr == 0);
	CHECK(console_spec_parse("", &spec, err, sizeof(err)));
	CHECK(!spec.fb && spec.nr == 1);
	refused("fb+fb", "console=fb+fb: 'fb' is already in the list");
	refused("com1+fb+com2+fb", "'fb' is already in the list");
	refused("fb,baud=9600", "'fb,baud=9600': fb takes no options");
	refused("fbx", "unknown console 'fbx'");
	refused("fb+", "an empty item");
	refused("FB", "unknown console 'FB'");
}

static void test_errors(void)
{
	refused("com5", "unknown console 'com5': use com1..com4");
	refused("com1+", "an empty item");
	refused("+com1", "an empty item");
	refused("com12", "unknown console 'com12'");
	refused("COM1", "unknown console 'COM1'");
	refused("uart", "unknown console 'uart'");
	refused("uart,", "a uart needs io=PORT, mmio=ADDR or mmio32=ADDR");
	refused("uart,io=", "the port must be a number");
	refused("uart,io=0x10000", "the port must be a number");
	refused("uart,io=12z", "the port must be a number");
	refused("uart,mmio=0x100000000", "below 4 GiB");
	refused("uart,mmio=0", "below 4 GiB");
	refused("com1,baud=7", "baud must divide 115200");
	refused("com1,baud=230400", "baud must divide 115200");
	refused("com1,baud=0", "baud must divide 115200");
	refused("com1,speed=9600", "only ,baud=N may follow");
	refused("com1,baud=9600,baud=9600", "baud must divide 115200");
	refused("com1+com1", "'com1' names a UART already in the list");
	refused("com2+uart,io=0x2f8", "names a UART already in the list");
	refused("com1+com2+com3+com4+uart,io=0x3000", "at most 4 UARTs (and fb)");
	refused("uart,io=99999999999999999999999", "the port must be a number");
}

int main(void)
{
	RUN_TEST(test_lists);
	RUN_TEST(test_framebuffer);
	RUN_TEST(test_errors);
	return check_summary("test_console_spec");
}
