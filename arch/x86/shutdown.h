// SPDX-License-Identifier: MIT
#pragma once

#include <stdbool.h>

/* The exit status of a boot; a result line's DONE names it (stress/result.h). */
enum exit_status {
	EXIT_PASS = 0,
	EXIT_FAIL = 1,   /* a scenario's correctness check failed */
	EXIT_CONFIG = 2, /* bad boot option, boot information or missing feature */
	EXIT_PANIC = 3,  /* panic or fatal exception */
};

/* What machine_exit does after the exit status line (end=). */
enum machine_end_mode { END_POWEROFF, END_REBOOT, END_HALT };
/* Set once on the BSP after the options, before the APs start (default END_POWEROFF). */
void machine_set_end_mode(enum machine_end_mode mode);

/*
 * Leave with an exit status a harness can read: QEMU's isa-debug-exit
 * (port 0xf4: QEMU exits with (status << 1) | 1), then the Bochs shutdown
 * port, then ACPI S5 for hardware; if all fail, say so and halt. With
 * end=reboot: reset through the FADT's reset register, then port 0xcf9, then
 * the keyboard controller, then a triple fault (an emulator run with
 * -no-reboot exits with 0). With end=halt: halt with the console as it is.
 */
_Noreturn void machine_exit(int status);

/*
 * The last words before the exit: whoever runs the boot (init/main.c) hands
 * the function that prints its final line, so that a panic or a failed
 * boot step ends with it too. Set once on the BSP, before the APs start.
 */
typedef void (*last_words_fn)(int status, const char *reason);
void machine_set_last_words(last_words_fn fn);
/* Say the last words (if any were handed over), then machine_exit(status). */
_Noreturn void machine_end(int status, const char *reason);
/* A boot step failed on bad input: "mmuvisor: error: <what to do>", then EXIT_CONFIG. */
_Noreturn void machine_fail_config(const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
