// SPDX-License-Identifier: GPL-2.0
/*
 * dest_stream_fail.c - the reason a destination gives when a channel's
 * stream breaks (cut short, corrupt, out of order, silent): which device
 * was still owed data on that channel, in which phase, and the errno.
 *
 * A stream that ends early is the one failure a destination device may
 * not notice by itself: an mlx5-like device loads whatever it is given
 * and leaves RESUMING whatever the stream was.  So the message says what
 * the engine knows was missing, and the session never resumes a device
 * whose DEV_END (with its byte count) did not arrive.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dest_internal.h"

int dst_stream_fail(struct dst *s, unsigned c, int ret)
{
	unsigned first = s->n, more = 0;

	pthread_mutex_lock(&s->ss.lock);
	bool stopcopy = s->switchover;
	for (unsigned i = 0; i < s->n; i++) {
		/* Before SWITCHOVER channel 0 carries every device's precopy data. */
		bool owed = stopcopy ? s->d[i].chan == c && !s->d[i].end_received : c == 0;

		if (!owed)
			continue;
		if (first == s->n)
			first = i;
		else
			more++;
	}
	pthread_mutex_unlock(&s->ss.lock);

	const char *phase = stopcopy ? "stop-copy" : "precopy";
	const char *what = vfiomig_wire_strerror(ret);

	if (first == s->n)
		return vm_fail(&s->ss, ret, "channel %u (%s): %s: %s (%d)", c, phase,
			       what, strerror(-ret), ret);
	char others[32] = "";

	if (more)
		snprintf(others, sizeof(others), " and %u more", more);
	return vm_fail(&s->ss, ret,
		       "dev %s%s (RESUMING, %s): channel %u: %s before %s: %s (%d)",
		       vfiomig_device_name(s->d[first].dev), others, phase, c, what,
		       stopcopy ? "its DEV_END" : "SWITCHOVER", strerror(-ret), ret);
}
