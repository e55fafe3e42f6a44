// SPDX-License-Identifier: GPL-2.0
/*
 * test_report - the report's event list is bounded whatever a peer makes
 * us record (one event per ack request), keeps room for the session
 * events that say how it ended, and counts what it dropped in the JSON.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../lib/session_internal.h"

static void event_list_is_bounded(void **state)
{
	struct vfiomig_report *r = vm_report_new("destination", 0, NULL);
	struct vfiomig_event ev;
	const unsigned flood = 100000;

	(void)state;
	assert_non_null(r);
	for (unsigned i = 0; i < flood; i++)
		vm_report_event(r, "ack-request", 0, i, NULL);
	vm_report_event(r, "abort", -1, 71, "source aborted");
	size_t n = vfiomig_report_nevents(r);
	assert_true(n <= VM_REPORT_MAX_EVENTS);
	assert_int_equal(flood + 1 - n, vfiomig_report_events_dropped(r));
	/* How the session ended is never dropped. */
	assert_int_equal(0, vfiomig_report_event(r, n - 1, &ev));
	assert_string_equal("abort", ev.type);
	/* The first events are kept in order. */
	assert_int_equal(0, vfiomig_report_event(r, 0, &ev));
	assert_int_equal(0, ev.value);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(0, vfiomig_report_write_json(r, f));
	fclose(f);
	char want[64];
	snprintf(want, sizeof(want), "\"events_dropped\":%llu",
		 (unsigned long long)(flood + 1 - n));
	assert_non_null(strstr(buf, want));
	free(buf);
	vfiomig_report_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(event_list_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
