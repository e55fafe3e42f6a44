// SPDX-License-Identifier: GPL-2.0
/*
 * test_state_plan - the planner walks only allowed arcs, never puts a
 * saving-group state inside a path, refuses the arcs the uAPI forbids, and
 * adapts to devices without P2P or PRE_COPY.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vfiomig.h"

#define ALL (VFIOMIG_FLAG_STOP_COPY | VFIOMIG_FLAG_P2P | VFIOMIG_FLAG_PRE_COPY)
#define NOPRE (VFIOMIG_FLAG_STOP_COPY | VFIOMIG_FLAG_P2P)
#define NOP2P (VFIOMIG_FLAG_STOP_COPY | VFIOMIG_FLAG_PRE_COPY)
#define BASIC VFIOMIG_FLAG_STOP_COPY

static void expect(uint64_t flags, int from, int to, const int *want, size_t n)
{
	int path[VFIOMIG_NR_STATES];
	size_t got;

	assert_int_equal(0, vfiomig_plan(flags, from, to, path, VFIOMIG_NR_STATES, &got));
	assert_int_equal(n, got);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(want[i], path[i]);
	/* Every step is a single allowed arc. */
	int cur = from;
	for (size_t i = 0; i < got; i++) {
		assert_true(vfiomig_arc_allowed(flags, cur, path[i]));
		cur = path[i];
	}
}

static void source_paths(void **state)
{
	(void)state;
	expect(ALL, VFIOMIG_RUNNING, VFIOMIG_PRE_COPY, (int[]){ VFIOMIG_PRE_COPY }, 1);
	expect(ALL, VFIOMIG_PRE_COPY, VFIOMIG_PRE_COPY_P2P, (int[]){ VFIOMIG_PRE_COPY_P2P }, 1);
	expect(ALL, VFIOMIG_PRE_COPY_P2P, VFIOMIG_STOP_COPY, (int[]){ VFIOMIG_STOP_COPY }, 1);
	expect(ALL, VFIOMIG_STOP_COPY, VFIOMIG_STOP, (int[]){ VFIOMIG_STOP }, 1);
	expect(ALL, VFIOMIG_RUNNING_P2P, VFIOMIG_STOP_COPY,
	       (int[]){ VFIOMIG_STOP, VFIOMIG_STOP_COPY }, 2);
	/* Recovery from STOP_COPY goes through STOP and RUNNING_P2P. */
	expect(ALL, VFIOMIG_STOP_COPY, VFIOMIG_RUNNING,
	       (int[]){ VFIOMIG_STOP, VFIOMIG_RUNNING_P2P, VFIOMIG_RUNNING }, 3);
	expect(ALL, VFIOMIG_PRE_COPY_P2P, VFIOMIG_RUNNING,
	       (int[]){ VFIOMIG_RUNNING_P2P, VFIOMIG_RUNNING }, 2);
}

static void destination_paths(void **state)
{
	(void)state;
	expect(ALL, VFIOMIG_RUNNING, VFIOMIG_RESUMING,
	       (int[]){ VFIOMIG_RUNNING_P2P, VFIOMIG_STOP, VFIOMIG_RESUMING }, 3);
	expect(ALL, VFIOMIG_RESUMING, VFIOMIG_RUNNING_P2P,
	       (int[]){ VFIOMIG_STOP, VFIOMIG_RUNNING_P2P }, 2);
	expect(ALL, VFIOMIG_RUNNING_P2P, VFIOMIG_RUNNING, (int[]){ VFIOMIG_RUNNING }, 1);
	expect(ALL, VFIOMIG_RUNNING, VFIOMIG_RUNNING, NULL, 0);
}

static void forbidden(void **state)
{
	int path[VFIOMIG_NR_STATES];
	size_t n;

	(void)state;
	/* STOP_COPY -> PRE_COPY(_P2P) would need a saving state inside the path. */
	assert_int_equal(-EINVAL, vfiomig_plan(ALL, VFIOMIG_STOP_COPY, VFIOMIG_PRE_COPY,
					       path, VFIOMIG_NR_STATES, &n));
	assert_int_equal(-EINVAL, vfiomig_plan(ALL, VFIOMIG_STOP_COPY, VFIOMIG_PRE_COPY_P2P,
					       path, VFIOMIG_NR_STATES, &n));
	assert_false(vfiomig_arc_allowed(ALL, VFIOMIG_STOP_COPY, VFIOMIG_PRE_COPY));
	assert_false(vfiomig_arc_allowed(ALL, VFIOMIG_STOP_COPY, VFIOMIG_PRE_COPY_P2P));
	/* ERROR is never a target, RESUMING only from STOP. */
	assert_int_equal(-EINVAL, vfiomig_plan(ALL, VFIOMIG_RUNNING, VFIOMIG_ERROR,
					       path, VFIOMIG_NR_STATES, &n));
	assert_false(vfiomig_arc_allowed(ALL, VFIOMIG_RUNNING, VFIOMIG_RESUMING));
	assert_false(vfiomig_arc_allowed(ALL, VFIOMIG_RUNNING, VFIOMIG_RUNNING));
	/* With P2P, RUNNING -> STOP is a combination, not an arc. */
	assert_false(vfiomig_arc_allowed(ALL, VFIOMIG_RUNNING, VFIOMIG_STOP));
	/* Too small a buffer. */
	assert_int_equal(-ENOSPC, vfiomig_plan(ALL, VFIOMIG_STOP_COPY, VFIOMIG_RUNNING,
					       path, 2, &n));
}

static void no_saving_state_inside(void **state)
{
	int path[VFIOMIG_NR_STATES];
	size_t n;
	uint64_t fl[] = { ALL, NOPRE, NOP2P, BASIC };

	(void)state;
	for (size_t f = 0; f < 4; f++)
		for (int a = 1; a < VFIOMIG_NR_STATES; a++)
			for (int b = 1; b < VFIOMIG_NR_STATES; b++) {
				if (vfiomig_plan(fl[f], a, b, path, VFIOMIG_NR_STATES, &n))
					continue;
				for (size_t i = 0; i + 1 < n; i++)
					assert_true(path[i] != VFIOMIG_PRE_COPY &&
						    path[i] != VFIOMIG_PRE_COPY_P2P &&
						    path[i] != VFIOMIG_STOP_COPY);
			}
}

static void optional_states(void **state)
{
	int path[VFIOMIG_NR_STATES];
	size_t n;

	(void)state;
	/* nopre: no PRE_COPY states at all. */
	assert_int_equal(-EINVAL, vfiomig_plan(NOPRE, VFIOMIG_RUNNING, VFIOMIG_PRE_COPY,
					       path, VFIOMIG_NR_STATES, &n));
	expect(NOPRE, VFIOMIG_RUNNING, VFIOMIG_STOP_COPY,
	       (int[]){ VFIOMIG_RUNNING_P2P, VFIOMIG_STOP, VFIOMIG_STOP_COPY }, 3);
	/* nop2p: RUNNING->STOP and PRE_COPY->STOP_COPY are single arcs. */
	assert_int_equal(-EINVAL, vfiomig_plan(NOP2P, VFIOMIG_RUNNING, VFIOMIG_RUNNING_P2P,
					       path, VFIOMIG_NR_STATES, &n));
	expect(NOP2P, VFIOMIG_PRE_COPY, VFIOMIG_STOP_COPY, (int[]){ VFIOMIG_STOP_COPY }, 1);
	expect(NOP2P, VFIOMIG_RESUMING, VFIOMIG_RUNNING,
	       (int[]){ VFIOMIG_STOP, VFIOMIG_RUNNING }, 2);
	expect(BASIC, VFIOMIG_RUNNING, VFIOMIG_RESUMING,
	       (int[]){ VFIOMIG_STOP, VFIOMIG_RESUMING }, 2);
	/* No STOP_COPY flag: nothing is supported. */
	assert_int_equal(-EINVAL, vfiomig_plan(0, VFIOMIG_RUNNING, VFIOMIG_STOP,
					       path, VFIOMIG_NR_STATES, &n));
}

static void names(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal("PRE_COPY_P2P", vfiomig_state_name(VFIOMIG_PRE_COPY_P2P));
	assert_string_equal("?", vfiomig_state_name(42));
	assert_int_equal(VFIOMIG_STOP_COPY, vfiomig_state_parse("STOP_COPY"));
	assert_int_equal(-EINVAL, vfiomig_state_parse("FOO"));
	assert_string_equal("STOP_COPY|P2P|PRE_COPY", vfiomig_flags_str(ALL, buf, sizeof(buf)));
	assert_string_equal("none", vfiomig_flags_str(0, buf, sizeof(buf)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(source_paths),
		cmocka_unit_test(destination_paths),
		cmocka_unit_test(forbidden),
		cmocka_unit_test(no_saving_state_inside),
		cmocka_unit_test(optional_states),
		cmocka_unit_test(names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
