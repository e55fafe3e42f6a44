// SPDX-License-Identifier: GPL-2.0
/* Unit tests for vfio-modload's argument handling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "modload_cli.h"


static int parse(int argc, char **argv, struct modload_cli_args *a,
		 char *err)
{
	return modload_cli_parse(argc, argv, a, err, 256);
}

static void load_with_params(void **state)
{
	char *argv[] = { "vfio-modload", "-d", "/m", "load", "mockvf",
			 "a=1", "b=two", NULL };
	struct modload_cli_args a;
	char err[256];

	(void)state;
	assert_int_equal(parse(7, argv, &a, err), 0);
	assert_int_equal(a.cmd, MODLOAD_CMD_LOAD);
	assert_string_equal(a.moddir, "/m");
	assert_string_equal(a.module, "mockvf");
	assert_string_equal(a.params, "a=1 b=two");
}

static void unload_and_status(void **state)
{
	char *u[] = { "vfio-modload", "unload", "vfio", NULL };
	char *s[] = { "vfio-modload", "status", "mdev", NULL };
	struct modload_cli_args a;
	char err[256];

	(void)state;
	assert_int_equal(parse(3, u, &a, err), 0);
	assert_int_equal(a.cmd, MODLOAD_CMD_UNLOAD);
	assert_string_equal(a.module, "vfio");
	assert_int_equal(parse(3, s, &a, err), 0);
	assert_int_equal(a.cmd, MODLOAD_CMD_STATUS);
	assert_null(a.moddir);
}

static void check_with_release(void **state)
{
	char *argv[] = { "vfio-modload", "check", "x.ko", "6.12.1", NULL };
	struct modload_cli_args a;
	char err[256];

	(void)state;
	assert_int_equal(parse(4, argv, &a, err), 0);
	assert_int_equal(a.cmd, MODLOAD_CMD_CHECK);
	assert_string_equal(a.release, "6.12.1");
}

static void rejects_bad_input(void **state)
{
	static char *const cases[][5] = {
		{ "vfio-modload", NULL },			/* no command */
		{ "vfio-modload", "frob", "x", NULL },		/* bad command */
		{ "vfio-modload", "load", NULL },		/* no module */
		{ "vfio-modload", "load", "", NULL },		/* empty module */
		{ "vfio-modload", "load", "m", "noequals", NULL },
		{ "vfio-modload", "unload", "m", "extra", NULL },
		{ "vfio-modload", "-x", "load", "m", NULL },	/* bad option */
		{ "vfio-modload", "-d", NULL },			/* -d no arg */
	};
	struct modload_cli_args a;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int argc = 0;

		while (cases[i][argc])
			argc++;
		err[0] = '\0';
		assert_int_equal(parse(argc, (char **)cases[i], &a, err), -1);
		assert_true(strlen(err) > 0);
	}
}

static void params_overflow_rejected(void **state)
{
	static char big[900];
	char *argv[] = { "vfio-modload", "load", "m", big, big, NULL };
	struct modload_cli_args a;
	char err[256];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[0] = 'p';
	big[1] = '=';
	assert_int_equal(parse(5, argv, &a, err), -1);
	assert_non_null(strstr(err, "too long"));
}

static void help(void **state)
{
	char *argv[] = { "vfio-modload", "--help", NULL };
	struct modload_cli_args a;
	char err[256];

	(void)state;
	assert_int_equal(parse(2, argv, &a, err), 0);
	assert_int_equal(a.cmd, MODLOAD_CMD_HELP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(load_with_params),
		cmocka_unit_test(unload_and_status),
		cmocka_unit_test(check_with_release),
		cmocka_unit_test(rejects_bad_input),
		cmocka_unit_test(params_overflow_rejected),
		cmocka_unit_test(help),
	};

	return cmocka_run_group_tests_name("modload_cli", tests, NULL, NULL);
}
