// SPDX-License-Identifier: MIT
#include "arch/x86/console.h"
#include "arch/x86/shutdown.h"
#include "boot/options.h"
#include "stress/result.h"

static atomic_bool done_printed;
static char done_keys[96]; /* the control CPU's: keys the scenario adds to DONE */

void result_done_keys(const char *keys)
{
	size_t i = 0;

	for (; keys[i] && i + 1 < sizeof(done_keys); i++)
		done_keys[i] = keys[i];
	done_keys[i] = '\0';
}

void result_print_done(int status, const char *reason)
{
	const char *scenario = option_choice_name(OPTION_SCENARIO);

	if (!atomic_exchange(&done_printed, true)) {
		if (status == EXIT_PASS)
			kprintf("DONE scenario=%s status=pass%s%s\n", scenario,
				done_keys[0] ? " " : "", done_keys);
		else
			kprintf("DONE scenario=%s status=fail reason=%s%s%s\n", scenario,
				reason ? reason : "unknown", done_keys[0] ? " " : "", done_keys);
	}
}

_Noreturn void result_done(int status, const char *reason)
{
	result_print_done(status, reason);
	machine_exit(status);
}
