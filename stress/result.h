// SPDX-License-Identifier: MIT
/*
 * Result lines (docs/DESIGN.md, "Result lines"): RESULT lines per measured
 * phase, then exactly one DONE line, then the exit status follows it.
 */
#pragma once

#include "arch/x86/shutdown.h"

/* Print "DONE scenario=<name> status=pass|fail[ reason=<reason>]", the first time only. */
void result_print_done(int status, const char *reason);
/* Keys ("guest_status=1") for the DONE line to carry after the status. */
void result_done_keys(const char *keys);
/* The same, then exit with status. */
_Noreturn void result_done(int status, const char *reason);
