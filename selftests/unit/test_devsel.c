// SPDX-License-Identifier: GPL-2.0
/* Unit tests for the selftests' device-list parsing (devsel.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devsel.h"

#define UUID_A "6f3c1f2a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
#define UUID_B "00000000-0000-4000-8000-000000000001"

static void single_and_pairs(void **state)
{
	struct devsel ds;
	char err[256];

	(void)state;
	assert_int_equal(0, devsel_parse("0000:3b:00.1=0000:3b:00.2,"
					 UUID_A "," "3b:01.0", &ds, err,
					 sizeof(err)));
	assert_int_equal(3, ds.ndevs);
	assert_string_equal("0000:3b:00.1", ds.dev[0]);
	assert_string_equal("0000:3b:00.2", ds.peer[0]);
	assert_string_equal(UUID_A, ds.dev[1]);
	assert_string_equal("", ds.peer[1]);
	assert_string_equal("3b:01.0", ds.dev[2]);
}

static void names(void **state)
{
	(void)state;
	assert_true(devsel_is_device_name("00:03.0"));
	assert_true(devsel_is_device_name("abcd:ef:1f.7"));
	assert_true(devsel_is_device_name(UUID_B));
	assert_false(devsel_is_device_name("00:03.8"));
	assert_false(devsel_is_device_name("0:03.0"));
	assert_false(devsel_is_device_name("zz:zz.z"));
	assert_false(devsel_is_device_name("6f3c1f2a-1b2c-4d5e-8f90-a1b2c3d4e5f"));
	assert_false(devsel_is_device_name("6f3c1f2a1b2c4d5e8f90a1b2c3d4e5f6xxxx"));
	assert_false(devsel_is_device_name(""));
}

static void rejects_nonsense(void **state)
{
	static const char *const bad[] = {
		"", "nonsense", "00:03.0,", ",00:03.0", "00:03.0=",
		"=00:03.0", "00:03.0==00:04.0", "00:03.0=bogus",
		"00:03.0,,00:04.0",
	};
	struct devsel ds;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(-EINVAL, devsel_parse(bad[i], &ds, err,
						       sizeof(err)));
		assert_true(strlen(err) > 0);
	}
}

static void error_names_the_entry(void **state)
{
	struct devsel ds;
	char err[256];

	(void)state;
	assert_int_equal(-EINVAL, devsel_parse("00:03.0,eth0", &ds, err,
					       sizeof(err)));
	assert_non_null(strstr(err, "'eth0'"));
}

static void too_many(void **state)
{
	char list[DEVSEL_MAX * 9 + 16] = "";
	struct devsel ds;
	char err[256];

	(void)state;
	for (int i = 0; i <= DEVSEL_MAX; i++)
		sprintf(list + strlen(list), "%s00:%02x.0", i ? "," : "", i);
	assert_int_equal(-EINVAL, devsel_parse(list, &ds, err, sizeof(err)));
	assert_non_null(strstr(err, "more than"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(single_and_pairs),
		cmocka_unit_test(names),
		cmocka_unit_test(rejects_nonsense),
		cmocka_unit_test(error_names_the_entry),
		cmocka_unit_test(too_many),
	};

	return cmocka_run_group_tests_name("devsel", tests, NULL, NULL);
}
