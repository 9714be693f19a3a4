// SPDX-License-Identifier: MIT
/*
 * expect_panic(fn, message): run fn in a forked child and CHECK that it
 * panics (platform_panic() aborts) with message in its output. For testing
 * the MM_DEBUG checks without ending the test binary.
 */
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/host/check.h"

static inline void expect_panic(void (*fn)(void), const char *message)
{
	char out[512] = "";
	int fds[2], status = 0;
	ssize_t n, got = 0;
	pid_t pid;

	fflush(NULL);
	if (pipe(fds))
		abort();
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		fn();
		_exit(0);
	}
	close(fds[1]);
	while (got < (ssize_t)sizeof(out) - 1 &&
	       (n = read(fds[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += n;
	out[got] = 0;
	close(fds[0]);
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	CHECK_STR_CONTAINS(out, message);
}
