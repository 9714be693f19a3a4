// SPDX-License-Identifier: MIT
/*
 * Result lines (../shared/DESIGN.md, "Scenarios"): RESULT lines per measured
 * phase, then exactly one DONE line, then the exit status follows it.
 */
#pragma once

enum exit_status {
	EXIT_PASS = 0,
	EXIT_FAIL = 1,   /* a scenario's correctness check failed */
	EXIT_CONFIG = 2, /* bad boot option, boot information or missing feature */
	EXIT_PANIC = 3,  /* panic or fatal exception */
};

/* Print "DONE scenario=<name> status=pass|fail[ reason=<reason>]" once, then exit. */
_Noreturn void result_done(int status, const char *reason);
