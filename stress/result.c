// SPDX-License-Identifier: MIT
#include "arch/x86/console.h"
#include "arch/x86/shutdown.h"
#include "boot/options.h"
#include "stress/result.h"

static atomic_bool done_printed;

void result_print_done(int status, const char *reason)
{
	const char *scenario = option_choice_name(OPTION_SCENARIO);

	if (!atomic_exchange(&done_printed, true)) {
		if (status == EXIT_PASS)
			kprintf("DONE scenario=%s status=pass\n", scenario);
		else
			kprintf("DONE scenario=%s status=fail reason=%s\n", scenario,
				reason ? reason : "unknown");
	}
}

_Noreturn void result_done(int status, const char *reason)
{
	result_print_done(status, reason);
	machine_exit(status);
}
