// SPDX-License-Identifier: GPL-2.0
/*
 * harness.c - fork-per-test KTAP runner behind harness.h.
 *
 * The parent forks one child per test, waits for it with a deadline, and
 * turns its exit status into a KTAP result.  A child that outlives its
 * timeout is killed with its whole process group, so helpers it started
 * (threads, forked peers) cannot keep the program alive.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MT_MAX_DEFERRED 64
#define MT_SKIP_REASON_MAX 512

static struct mt_test *mt_head, **mt_tail = &mt_head;
static char **mt_argv_rest;
static int mt_argc_rest;

/* Child-side state: only meaningful inside the forked test process. */
static bool mt_failed;
static struct {
	void (*fn)(void *);
	void *arg;
} mt_deferred[MT_MAX_DEFERRED];
static int mt_ndeferred;
static int mt_skip_fd = -1;

char **mt_args(void)
{
	return mt_argv_rest;
}

int mt_nargs(void)
{
	return mt_argc_rest;
}

void mt_register(struct mt_test *t)
{
	*mt_tail = t;
	mt_tail = &t->next;
}

void mt_log(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("# %s\n", buf);
	fflush(stdout);
}

void mt_fail_here(const char *file, int line, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("# %s:%d: %s\n", file, line, buf);
	fflush(stdout);
	mt_failed = true;
}

void mt_defer(void (*fn)(void *), void *arg)
{
	if (mt_ndeferred == MT_MAX_DEFERRED) {
		mt_fail_here(__FILE__, __LINE__, "too many deferred cleanups");
		return;
	}
	mt_deferred[mt_ndeferred].fn = fn;
	mt_deferred[mt_ndeferred].arg = arg;
	mt_ndeferred++;
}

static void mt_run_deferred(void)
{
	while (mt_ndeferred > 0) {
		mt_ndeferred--;
		mt_deferred[mt_ndeferred].fn(mt_deferred[mt_ndeferred].arg);
	}
}

void mt_abort_test(void)
{
	mt_run_deferred();
	fflush(stdout);
	_exit(KSFT_FAIL);
}

void mt_skip(const char *fmt, ...)
{
	char buf[MT_SKIP_REASON_MAX];
	va_list ap;
	ssize_t n;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* KTAP descriptions must not carry '#' or newlines. */
	for (char *p = buf; *p; p++)
		if (*p == '#' || *p == '\n')
			*p = ' ';
	n = write(mt_skip_fd, buf, strlen(buf));
	(void)n;
	mt_run_deferred();
	fflush(stdout);
	_exit(mt_failed ? KSFT_FAIL : KSFT_SKIP);
}

static double mt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Wait for @pid until @timeout_s passes; returns its wait status, or -1 if it
 * was killed for timing out.
 */
static int mt_wait_deadline(pid_t pid, int timeout_s)
{
	double deadline = mt_now() + timeout_s;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return 0;
		if (mt_now() > deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		usleep(10000);
	}
}

static int mt_run_one(struct mt_test *t, int num, char *skip_reason,
		      size_t reason_len)
{
	int pipefd[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe(pipefd))
		return KSFT_FAIL;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		mt_log("%s: fork: %s", t->name, strerror(errno));
		return KSFT_FAIL;
	}
	if (pid == 0) {
		setpgid(0, 0);
		close(pipefd[0]);
		mt_skip_fd = pipefd[1];
		t->fn();
		mt_run_deferred();
		fflush(stdout);
		_exit(mt_failed ? KSFT_FAIL : KSFT_PASS);
	}
	close(pipefd[1]);
	status = mt_wait_deadline(pid, t->timeout_s);
	n = read(pipefd[0], skip_reason, reason_len - 1);
	skip_reason[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);

	if (status == -1) {
		mt_log("%s: timed out after %d s", t->name, t->timeout_s);
		return KSFT_FAIL;
	}
	if (WIFSIGNALED(status)) {
		mt_log("%s: killed by signal %d (%s)", t->name,
		       WTERMSIG(status), strsignal(WTERMSIG(status)));
		return KSFT_FAIL;
	}
	(void)num;
	return WEXITSTATUS(status);
}

static bool mt_selected(const char *name, char **only, int nonly)
{
	if (!nonly)
		return true;
	for (int i = 0; i < nonly; i++)
		if (!strcmp(only[i], name))
			return true;
	return false;
}

/*
 * A program may define mt_precheck() to refuse to run at all (bad device
 * list): it returns 0 to go on, KSFT_SKIP with @why set to skip the whole
 * program (what it needs is missing), anything else to bail out.
 */
__attribute__((weak)) int mt_precheck(char *why, size_t len)
{
	(void)why;
	(void)len;
	return 0;
}

/*
 * A program may define mt_banner() to print diagnostics (a capability
 * table) after the plan, where KTAP allows them, before any test runs.
 */
__attribute__((weak)) void mt_banner(void)
{
}

int mt_main(int argc, char **argv)
{
	int npass = 0, nfail = 0, nskip = 0, nplan = 0, num = 0, opt;
	char *only[64];
	int nonly = 0;

	while ((opt = getopt(argc, argv, "lt:h")) != -1) {
		switch (opt) {
		case 'l':
			for (struct mt_test *t = mt_head; t; t = t->next)
				printf("%s\n", t->name);
			return KSFT_PASS;
		case 't':
			if (nonly < 64)
				only[nonly++] = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s [-l] [-t TEST]... [DEVICE|SRC=DST...]\n",
				argv[0]);
			return KSFT_FAIL;
		}
	}

	mt_argv_rest = argv + optind;
	mt_argc_rest = argc - optind;
	setvbuf(stdout, NULL, _IOLBF, 0);
	{
		char why[512] = "";

		int pre = mt_precheck(why, sizeof(why));

		if (pre == KSFT_SKIP) {
			printf("TAP version 13\n1..0 # SKIP %s\n", why);
			return KSFT_SKIP;
		}
		if (pre) {
			printf("TAP version 13\n1..0\nBail out! %s\n", why);
			return KSFT_FAIL;
		}
	}
	for (struct mt_test *t = mt_head; t; t = t->next)
		if (mt_selected(t->name, only, nonly))
			nplan++;
	printf("TAP version 13\n1..%d\n", nplan);
	mt_banner();
	fflush(stdout);

	for (struct mt_test *t = mt_head; t; t = t->next) {
		char reason[MT_SKIP_REASON_MAX];
		int rc;

		if (!mt_selected(t->name, only, nonly))
			continue;
		num++;
		rc = mt_run_one(t, num, reason, sizeof(reason));
		if (rc == KSFT_PASS) {
			printf("ok %d %s\n", num, t->name);
			npass++;
		} else if (rc == KSFT_SKIP) {
			printf("ok %d %s # SKIP %s\n", num, t->name, reason);
			nskip++;
		} else {
			printf("not ok %d %s\n", num, t->name);
			nfail++;
		}
	}
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       npass, nfail, nskip);
	if (nfail)
		return KSFT_FAIL;
	if (!npass && nskip)
		return KSFT_SKIP;
	return KSFT_PASS;
}
