// SPDX-License-Identifier: GPL-2.0
/*
 * qmp_migrate.c - wait for a migration to end by polling query-migrate.
 *
 * Polling rather than the MIGRATION event: the event can be emitted before
 * the caller starts waiting (or be disabled by migrate-set-capabilities),
 * while query-migrate always tells the current status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "qmp.h"
#include "qmp_internal.h"

#define POLL_INTERVAL_MS 20


int qmp_wait_migration(struct qmp *q, int timeout_ms, json_t **final,
		       char *err, size_t errlen)
{
	int64_t deadline = qmp_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	char last[64] = "none";
	json_t *reply = NULL;
	char why[256];

	if (final)
		*final = NULL;
	for (;;) {
		json_t *r = qmp_command(q, "query-migrate", NULL,
					qmp_left_ms(deadline), why, sizeof(why));

		if (!r) {
			int e = errno;

			if (e == ETIMEDOUT)
				snprintf(err, errlen,
					 "migration not finished after %d ms (last status '%s')",
					 timeout_ms, last);
			else
				snprintf(err, errlen, "%s (last migration status '%s')",
					 why, last);
			errno = e;
			break;
		}
		json_decref(reply);
		reply = r;
		/* Before any migration QEMU answers {} (no status). */
		const char *st = json_string_value(json_object_get(r, "status"));

		snprintf(last, sizeof(last), "%s", st ? st : "none");
		if (st && !strcmp(st, "completed")) {
			if (final)
				*final = reply;
			else
				json_decref(reply);
			return 0;
		}
		if (st && (!strcmp(st, "failed") || !strcmp(st, "cancelled"))) {
			const char *desc =
				json_string_value(json_object_get(r, "error-desc"));

			snprintf(err, errlen, "migration %s%s%s", st,
				 desc ? ": " : "", desc ? desc : "");
			if (final)
				*final = reply;
			else
				json_decref(reply);
			errno = ECANCELED;
			return -1;
		}
		int left = qmp_left_ms(deadline);

		if (!left) {
			snprintf(err, errlen,
				 "migration not finished after %d ms (last status '%s')",
				 timeout_ms, last);
			errno = ETIMEDOUT;
			break;
		}
		struct timespec ts = { 0, (long)(left < POLL_INTERVAL_MS ?
						 left : POLL_INTERVAL_MS) * 1000000L };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	int e = errno;

	if (final)
		*final = reply;
	else
		json_decref(reply);
	errno = e;
	return -1;
}
