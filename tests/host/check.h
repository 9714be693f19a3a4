// SPDX-License-Identifier: MIT
/*
 * A minimal host test harness. Each test binary calls RUN_TEST() for each
 * test function and ends with check_summary(), whose closing line is the
 * plain "N passed, N failed" that CI reads. A CHECK failure marks the
 * current test failed, prints the expression and its location, and goes on.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed, check_failed, check_current_failed;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__,      \
				__LINE__, #cond);                            \
			check_current_failed = 1;                            \
		}                                                            \
	} while (0)

#define CHECK_EQ_U(a, b)                                                     \
	do {                                                                 \
		unsigned long long check_a_ = (a), check_b_ = (b);           \
		if (check_a_ != check_b_) {                                  \
			fprintf(stderr, "  FAIL %s:%d: %s == %s (%llu != %llu)\n", \
				__FILE__, __LINE__, #a, #b, check_a_, check_b_); \
			check_current_failed = 1;                            \
		}                                                            \
	} while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                      \
	do {                                                                 \
		const char *check_h_ = (hay), *check_n_ = (needle);          \
		if (!check_h_ || !strstr(check_h_, check_n_)) {              \
			fprintf(stderr, "  FAIL %s:%d: \"%s\" does not contain \"%s\"\n", \
				__FILE__, __LINE__, check_h_ ? check_h_ : "(null)", \
				check_n_);                                   \
			check_current_failed = 1;                            \
		}                                                            \
	} while (0)

#define RUN_TEST(fn)                                                         \
	do {                                                                 \
		check_current_failed = 0;                                    \
		fn();                                                        \
		if (check_current_failed) {                                  \
			check_failed++;                                      \
			fprintf(stderr, "not ok  %s\n", #fn);                \
		} else {                                                     \
			check_passed++;                                      \
			printf("ok      %s\n", #fn);                         \
		}                                                            \
	} while (0)

static inline int check_summary(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
	return check_failed ? 1 : 0;
}
