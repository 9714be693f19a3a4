// SPDX-License-Identifier: MIT
/* The typed command-line parser, the real boot option table, and fmt_snprintf. */
#include <stdint.h>

#include "boot/options.h"
#include "lib/cmdline.h"
#include "lib/printf.h"
#include "tests/host/check.h"

static const char *const colours[] = { "red", "green", "blue", NULL };

enum { T_COLOUR, T_COUNT, T_MEM, T_VERBOSE, T_NR };

static const struct opt_desc table[T_NR] = {
	[T_COLOUR] = { .name = "colour", .type = OPT_ENUM, .choices = colours, .def = 1 },
	[T_COUNT] = { .name = "count", .type = OPT_UINT, .min = 1, .max = 100, .def = 7 },
	[T_MEM] = { .name = "mem", .type = OPT_SIZE, .min = 4096, .max = 1ull << 40,
		    .def = 1 << 20 },
	[T_VERBOSE] = { .name = "verbose", .type = OPT_BOOL, .def = 0 },
};

static uint64_t v[T_NR];
static char err[256];

static bool parse(const char *line)
{
	err[0] = '\0';
	return cmdline_parse(line, table, T_NR, v, err, sizeof(err));
}

static void test_defaults(void)
{
	CHECK(parse(""));
	CHECK_EQ_U(v[T_COLOUR], 1);
	CHECK_EQ_U(v[T_COUNT], 7);
	CHECK_EQ_U(v[T_MEM], 1 << 20);
	CHECK_EQ_U(v[T_VERBOSE], 0);
	CHECK(parse("   \t  "));
}

static void test_each_type(void)
{
	CHECK(parse("colour=blue count=0x10 mem=64M verbose"));
	CHECK_EQ_U(v[T_COLOUR], 2);
	CHECK_EQ_U(v[T_COUNT], 16);
	CHECK_EQ_U(v[T_MEM], 64ull << 20);
	CHECK_EQ_U(v[T_VERBOSE], 1);
	CHECK(parse("mem=2g verbose=off count=100"));
	CHECK_EQ_U(v[T_MEM], 2ull << 30);
	CHECK_EQ_U(v[T_VERBOSE], 0);
	CHECK_EQ_U(v[T_COUNT], 100);
	CHECK(parse("mem=8k verbose=yes"));
	CHECK_EQ_U(v[T_MEM], 8192);
	CHECK(parse("count=3 count=4")); /* the last one wins */
	CHECK_EQ_U(v[T_COUNT], 4);
}

static void test_errors_name_the_option_and_the_choices(void)
{
	CHECK(!parse("bogus=1"));
	CHECK(strcmp(err, "unknown option 'bogus'; valid options: colour count mem verbose") == 0);
	CHECK(!parse("colour=banana"));
	CHECK(strcmp(err, "bad value 'banana' for colour; choose one of: red green blue") == 0);
	CHECK(!parse("count=101"));
	CHECK_STR_CONTAINS(err, "bad value '101' for count; expected an integer from 1 to 100");
	CHECK(!parse("count=0"));
	CHECK(!parse("count=12abc"));
	CHECK(!parse("count=99999999999999999999999"));
	CHECK(!parse("count="));
	CHECK(!parse("count"));
	CHECK_STR_CONTAINS(err, "needs a value");
	CHECK(!parse("mem=12q"));
	CHECK_STR_CONTAINS(err, "K, M, G suffixes");
	CHECK(!parse("mem=1024")); /* below min */
	CHECK(!parse("verbose=maybe"));
	CHECK_STR_CONTAINS(err, "choose one of: on off");
}

static void test_first_error_wins_and_valid_tokens_still_apply(void)
{
	CHECK(!parse("count=5 nope=1 colour=zzz colour=red"));
	CHECK_STR_CONTAINS(err, "unknown option 'nope'");
	CHECK_EQ_U(v[T_COUNT], 5);
	CHECK_EQ_U(v[T_COLOUR], 0);
}

static void test_overlong_token(void)
{
	char line[400];

	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	CHECK(!parse(line));
	CHECK_STR_CONTAINS(err, "longer than");
}

static void test_format(void)
{
	char buf[256];

	CHECK(parse("colour=red mem=4096 verbose=on"));
	cmdline_format(table, T_NR, v, buf, sizeof(buf));
	CHECK(strcmp(buf, "colour=red count=7 mem=4096 verbose=on") == 0);
	cmdline_format(table, T_NR, v, buf, 10); /* truncates, stays terminated */
	CHECK_EQ_U(strlen(buf), 9);
}

/* Quotes and backslashes, as GRUB may hand them over, and a string too long for its buffer. */
static void test_string_options(void)
{
	CHECK(options_parse("scenario=guest guest=a,b guest_args=\"x y  z\" \"guest_modules=m 1\"",
			    err, sizeof(err)));
	CHECK(strcmp(option_str(OPTION_GUEST), "a,b") == 0);
	CHECK(strcmp(option_str(OPTION_GUEST_ARGS), "x y  z") == 0);
	CHECK(strcmp(option_str(OPTION_GUEST_MODULES), "m 1") == 0);
	CHECK_EQ_U(option(OPTION_SCENARIO), SCENARIO_GUEST);
	CHECK(options_parse("guest_args=a\\ b\\\"c'd e' guest=x'y z'", err, sizeof(err)));
	CHECK(strcmp(option_str(OPTION_GUEST_ARGS), "a b\"cd e") == 0);
	CHECK(strcmp(option_str(OPTION_GUEST), "xy z") == 0);
	/* A later parse starts from empty strings. */
	CHECK(options_parse("mem=64M", err, sizeof(err)));
	CHECK(strcmp(option_str(OPTION_GUEST), "") == 0);
	CHECK_EQ_U(option(OPTION_MEM), 64ull << 20);
	CHECK(!options_parse("guest=0123456789012345678901234567890123456789012345678901234567890123456789"
			     "0123456789012345678901234567890123456789012345678901234567890123456789",
			     err, sizeof(err)));
	CHECK_STR_CONTAINS(err, "the value of guest is longer than 127 characters");
}

static void test_boot_options(void)
{
	char buf[640];

	CHECK(options_parse("", err, sizeof(err)));
	options_format(buf, sizeof(buf));
	CHECK(strcmp(buf, "scenario=none cpus=1024 apic=auto crash=none duration_ms=1000 plant=none "
			  "virt=auto vcpus=0 mem_per_vcpu=4194304 mmu_lock=shared flush=batched "
			  "fault=wild overlap=off iterations=10 manual_protect=on mmu=tdp seed=1 "
			  "rounds=20 long_ms=1000 guest=\"\" guest_args=\"\" guest_modules=\"\" mem=268435456 "
			  "io=pc guest_timeout_ms=120000 beside=none console=\"\" end=poweroff numa=local " "pin=off timeslice_us=2000 vms=0 placement=shared kick=auto") == 0);
	CHECK(options_parse("apic=xapic cpus=2", err, sizeof(err)));
	CHECK_EQ_U(option(OPTION_APIC), APIC_MODE_XAPIC);
	CHECK_EQ_U(option(OPTION_CPUS), 2);
	CHECK(strcmp(option_choice_name(OPTION_SCENARIO), "none") == 0);
	CHECK(options_parse("cpus=1024", err, sizeof(err)));
	CHECK(!options_parse("cpus=1025", err, sizeof(err)));
	CHECK(!options_parse("scenario=none bogus=1", err, sizeof(err)));
	CHECK_STR_CONTAINS(err, "unknown option 'bogus'; valid options: scenario cpus apic crash duration_ms "
				 "plant virt vcpus mem_per_vcpu mmu_lock flush fault overlap "
				 "iterations manual_protect mmu seed rounds");
	CHECK(!options_parse("apic=banana", err, sizeof(err)));
	CHECK_STR_CONTAINS(err, "bad value 'banana' for apic; choose one of: auto xapic x2apic");
}

static void test_printf(void)
{
	char buf[64];

	CHECK_EQ_U(fmt_snprintf(buf, sizeof(buf), "%d %i %u", -42, 7, 4000000000u), 16);
	CHECK(strcmp(buf, "-42 7 4000000000") == 0);
	fmt_snprintf(buf, sizeof(buf), "%lx %016lx %X", 0xdeadbeefUL, 0x1234UL, 0xabcU);
	CHECK(strcmp(buf, "deadbeef 0000000000001234 ABC") == 0);
	fmt_snprintf(buf, sizeof(buf), "[%5s|%-5s|%.2s]", "ab", "cd", "xyz");
	CHECK(strcmp(buf, "[   ab|cd   |xy]") == 0);
	fmt_snprintf(buf, sizeof(buf), "%05d %c %% %zu %p", -12, 'q', (size_t)99, (void *)0x10);
	CHECK(strcmp(buf, "-0012 q % 99 0x10") == 0);
	fmt_snprintf(buf, sizeof(buf), "%ld %lu", (long)INT64_MIN, (unsigned long)UINT64_MAX);
	CHECK(strcmp(buf, "-9223372036854775808 18446744073709551615") == 0);
	CHECK_EQ_U(fmt_snprintf(buf, 4, "abcdef"), 6);
	CHECK(strcmp(buf, "abc") == 0);
	{
		const char *volatile none = NULL; /* hidden from -Wformat-overflow */

		fmt_snprintf(buf, sizeof(buf), "%s", none);
	}
	CHECK(strcmp(buf, "(null)") == 0);
}

int main(void)
{
	RUN_TEST(test_defaults);
	RUN_TEST(test_each_type);
	RUN_TEST(test_errors_name_the_option_and_the_choices);
	RUN_TEST(test_first_error_wins_and_valid_tokens_still_apply);
	RUN_TEST(test_overlong_token);
	RUN_TEST(test_string_options);
	RUN_TEST(test_format);
	RUN_TEST(test_boot_options);
	RUN_TEST(test_printf);
	return check_summary("cmdline");
}
