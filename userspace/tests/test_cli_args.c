// SPDX-License-Identifier: GPL-2.0
/*
 * test_cli_args - vfio-migrate argument parsing: defaults, every option,
 * and the one-line errors for bad input.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../cli/cli.h"

static int parse(struct cli_args *a, char *err, const char *const *argv, int argc)
{
	return cli_parse(argc, (char **)argv, a, err, 256);
}

#define ARGS(...) ((const char *const[]){ "vfio-migrate", __VA_ARGS__ })
#define NARGS(...) ((int)(sizeof((const char *const[]){ "x", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(a, err, ...) parse(a, err, ARGS(__VA_ARGS__), NARGS(__VA_ARGS__))

static void local_defaults(void **state)
{
	struct cli_args a;
	char err[256];

	(void)state;
	assert_int_equal(0, PARSE(&a, err, "local", "--src", "a,b", "--dst", "c,d"));
	assert_int_equal(CLI_LOCAL, a.cmd);
	assert_int_equal(2, a.nsrc);
	assert_int_equal(2, a.ndst);
	assert_string_equal("b", a.src[1]);
	assert_string_equal("c", a.dst[0]);
	assert_int_equal(VFIOMIG_TRANSITIONS_PARALLEL, a.o.transitions);
	assert_int_equal(64ULL << 20, a.o.max_queued);
	assert_int_equal(VFIOMIG_ACK_AUTO, a.o.ack_mode);
	assert_true(a.o.reinit);
	assert_true(a.o.reset_stopped);
	assert_false(a.socket_transport);	/* in memory by default */
	cli_args_free(&a);
	assert_int_equal(0, PARSE(&a, err, "local", "--src", "a", "--dst", "c",
				  "--transport", "socket"));
	assert_true(a.socket_transport);
	cli_args_free(&a);
	assert_int_equal(0, PARSE(&a, err, "local", "--src", "a", "--dst", "c",
				  "--transport", "socket", "--transport", "memory"));
	assert_false(a.socket_transport);
	cli_args_free(&a);
}

static void every_option(void **state)
{
	struct cli_args a;
	char err[256];

	(void)state;
	assert_int_equal(0, PARSE(&a, err, "send", "--to", "unix:/x", "--transitions",
				  "sequential", "--channels", "3", "--max-queued", "2M",
				  "--max-rounds", "5", "--threshold", "1K",
				  "--switchover-ack", "legacy", "--no-reinit",
				  "--final-retries", "0", "--timeout", "1000", "--chunk",
				  "64K", "--json", "/r.json", "--quiet", "--inject",
				  "ack-after-stop", "--min-precopy-ms", "10", "dev1", "dev2"));
	assert_int_equal(CLI_SEND, a.cmd);
	assert_string_equal("unix:/x", a.addr);
	assert_int_equal(VFIOMIG_TRANSITIONS_SEQUENTIAL, a.o.transitions);
	assert_int_equal(3, a.o.channels);
	assert_int_equal(2 << 20, a.o.max_queued);
	assert_int_equal(5, a.o.max_rounds);
	assert_int_equal(1024, a.o.threshold);
	assert_int_equal(VFIOMIG_ACK_LEGACY, a.o.ack_mode);
	assert_false(a.o.reinit);
	assert_int_equal(0, a.o.final_retries);
	assert_int_equal(1000, a.o.io_timeout_ms);
	assert_int_equal(65536, a.o.chunk);
	assert_string_equal("/r.json", a.json);
	assert_true(a.quiet);
	assert_int_equal(VFIOMIG_INJECT_ACK_AFTER_STOP, a.o.inject);
	assert_int_equal(10, a.o.min_precopy_ms);
	assert_int_equal(2, a.nsrc);
	assert_string_equal("dev2", a.src[1]);
	cli_args_free(&a);
}

static void receive_and_plot(void **state)
{
	struct cli_args a;
	char err[256];

	(void)state;
	assert_int_equal(0, PARSE(&a, err, "receive", "dev", "--listen", "127.0.0.1:0",
				  "--port-file", "/p"));
	assert_int_equal(CLI_RECEIVE, a.cmd);
	assert_string_equal("/p", a.port_file);
	cli_args_free(&a);
	assert_int_equal(0, PARSE(&a, err, "plot", "r.json", "-o", "r.svg"));
	assert_string_equal("r.svg", a.output);
	assert_string_equal("r.json", a.src[0]);
	cli_args_free(&a);
	assert_int_equal(0, PARSE(&a, err, "plot", "r.json"));
	assert_string_equal("-", a.output);
	cli_args_free(&a);
}

static void no_reset_and_help_by_command(void **state)
{
	struct cli_args a;
	char err[256];

	(void)state;
	assert_int_equal(0, PARSE(&a, err, "receive", "--listen", "h:1", "--no-reset", "X"));
	assert_false(a.o.reset_stopped);
	cli_args_free(&a);
	/* Help is generated per command: info's lists no migration options. */
	char *buf = NULL;
	size_t len = 0;
	FILE *saved = stdout;
	stdout = open_memstream(&buf, &len);
	assert_int_equal(1, PARSE(&a, err, "info", "--help"));
	fclose(stdout);
	stdout = saved;
	assert_null(strstr(buf, "--min-precopy-ms"));
	assert_non_null(strstr(buf, "--help"));
	free(buf);
	buf = NULL;
	stdout = open_memstream(&buf, &len);
	assert_int_equal(1, PARSE(&a, err, "send", "--help"));
	fclose(stdout);
	stdout = saved;
	assert_non_null(strstr(buf, "1..16"));
	assert_null(strstr(buf, "max 8"));
	assert_non_null(strstr(buf, "--no-reset"));
	assert_null(strstr(buf, "--listen"));
	free(buf);
}

static void errors(void **state)
{
	struct cli_args a;
	char err[256];
	struct {
		int argc;
		const char *const *argv;
		const char *msg;
	} cases[] = {
		{ 1, ARGS(NULL), "missing command" },
		{ NARGS("nope"), ARGS("nope"), "unknown command" },
		{ NARGS("local"), ARGS("local"), "--src and --dst are required" },
		{ NARGS("local", "--src", "a,b", "--dst", "c"), ARGS("local", "--src", "a,b", "--dst", "c"),
		  "2 source device(s) but 1" },
		{ NARGS("local", "--src", "a", "--dst", "a"), ARGS("local", "--src", "a", "--dst", "a"),
		  "both source and destination" },
		{ NARGS("local", "--src", ",", "--dst", "a"), ARGS("local", "--src", ",", "--dst", "a"),
		  "empty device list" },
		{ NARGS("send", "x"), ARGS("send", "x"), "--to" },
		{ NARGS("send", "--to", "h:1"), ARGS("send", "--to", "h:1"), "no devices" },
		{ NARGS("send", "--to", "h:1", "a", "a"), ARGS("send", "--to", "h:1", "a", "a"),
		  "listed twice" },
		{ NARGS("send", "--to", "h:1", "--chunk", "2M", "a"),
		  ARGS("send", "--to", "h:1", "--chunk", "2M", "a"), "--chunk" },
		{ NARGS("send", "--to", "h:1", "--threshold", "1X", "a"),
		  ARGS("send", "--to", "h:1", "--threshold", "1X", "a"), "--threshold" },
		{ NARGS("send", "--to", "h:1", "--timeout", "5", "a"),
		  ARGS("send", "--to", "h:1", "--timeout", "5", "a"), "--timeout" },
		{ NARGS("send", "--listen", "h:1", "a"), ARGS("send", "--listen", "h:1", "a"),
		  "only for 'receive'" },
		{ NARGS("info", "--json", "x", "a"), ARGS("info", "--json", "x", "a"),
		  "no migration options" },
		{ NARGS("send", "--to"), ARGS("send", "--to"), "needs a value" },
		{ NARGS("plot"), ARGS("plot"), "exactly one" },
		/* Option validity is by command, not by a range of option ids. */
		{ NARGS("info", "--min-precopy-ms", "5", "X"),
		  ARGS("info", "--min-precopy-ms", "5", "X"), "info: takes no migration options (--min-precopy-ms)" },
		{ NARGS("plot", "--min-precopy-ms", "5", "r.json"),
		  ARGS("plot", "--min-precopy-ms", "5", "r.json"), "plot: takes no migration options" },
		{ NARGS("plot", "--no-reset", "r.json"),
		  ARGS("plot", "--no-reset", "r.json"), "plot: takes no migration options" },
		{ NARGS("info", "-o", "x.svg", "X"), ARGS("info", "-o", "x.svg", "X"),
		  "info: --output is only for 'plot'" },
		{ NARGS("receive", "--src", "a", "X"), ARGS("receive", "--src", "a", "X"),
		  "receive: --src is only for 'local'" },
		{ NARGS("send", "--to", "h:1", "--transport", "memory", "a"),
		  ARGS("send", "--to", "h:1", "--transport", "memory", "a"),
		  "send: --transport is only for 'local'" },
		{ NARGS("local", "--src", "a", "--dst", "b", "--transport", "pipe"),
		  ARGS("local", "--src", "a", "--dst", "b", "--transport", "pipe"),
		  "--transport: 'pipe' is not memory or socket" },
		{ NARGS("send", "--to", "h:1", "--channels", "17", "a"),
		  ARGS("send", "--to", "h:1", "--channels", "17", "a"), "--channels: '17' is not 1..16" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		int ret = parse(&a, err, cases[i].argv, cases[i].argc);
		cli_args_free(&a);
		if (ret != -EINVAL || !strstr(err, cases[i].msg))
			fail_msg("case %zu: ret %d, err '%s', want '%s'", i, ret, err,
				 cases[i].msg);
		assert_null(strchr(err, '\n'));
	}
}

static void sizes(void **state)
{
	unsigned long long v;

	(void)state;
	assert_int_equal(0, cli_parse_size("4096", &v));
	assert_int_equal(4096, v);
	assert_int_equal(0, cli_parse_size("3k", &v));
	assert_int_equal(3072, v);
	assert_int_equal(0, cli_parse_size("1G", &v));
	assert_int_equal(1ULL << 30, v);
	assert_int_equal(0, cli_parse_size("0x10", &v));
	assert_int_equal(16, v);
	assert_int_equal(-EINVAL, cli_parse_size("", &v));
	assert_int_equal(-EINVAL, cli_parse_size("-1", &v));
	assert_int_equal(-EINVAL, cli_parse_size("1MB", &v));
	assert_int_equal(-EINVAL, cli_parse_size("99999999999999999999", &v));
	assert_int_equal(-EINVAL, cli_parse_size("17179869184G", &v));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(local_defaults),
		cmocka_unit_test(every_option),
		cmocka_unit_test(receive_and_plot),
		cmocka_unit_test(errors),
		cmocka_unit_test(no_reset_and_help_by_command),
		cmocka_unit_test(sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
