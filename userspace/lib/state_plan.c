// SPDX-License-Identifier: GPL-2.0
/*
 * state_plan.c - which single FSM arcs a device accepts, and the shortest
 * legal path between two states.
 *
 * The engine walks paths one arc at a time instead of letting the kernel
 * expand combination transitions, so that every step is timed, every
 * failure names its exact arc, and a request the uAPI forbids (e.g.
 * STOP_COPY -> PRE_COPY) is refused here without reaching the kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "vfiomig.h"

static bool state_supported(uint64_t flags, int s)
{
	switch (s) {
	case VFIOMIG_STOP:
	case VFIOMIG_RUNNING:
	case VFIOMIG_STOP_COPY:
	case VFIOMIG_RESUMING:
		return flags & VFIOMIG_FLAG_STOP_COPY;
	case VFIOMIG_RUNNING_P2P:
		return (flags & VFIOMIG_FLAG_STOP_COPY) &&
		       (flags & VFIOMIG_FLAG_P2P);
	case VFIOMIG_PRE_COPY:
		return (flags & VFIOMIG_FLAG_STOP_COPY) &&
		       (flags & VFIOMIG_FLAG_PRE_COPY);
	case VFIOMIG_PRE_COPY_P2P:
		return (flags & VFIOMIG_FLAG_STOP_COPY) &&
		       (flags & VFIOMIG_FLAG_PRE_COPY) &&
		       (flags & VFIOMIG_FLAG_P2P);
	default:
		return false;
	}
}

static bool saving_group(int s)
{
	return s == VFIOMIG_PRE_COPY || s == VFIOMIG_PRE_COPY_P2P ||
	       s == VFIOMIG_STOP_COPY;
}

bool vfiomig_arc_allowed(uint64_t flags, int from, int to)
{
	bool p2p = flags & VFIOMIG_FLAG_P2P;

	if (from == to || !state_supported(flags, from) ||
	    !state_supported(flags, to))
		return false;

	switch (from) {
	case VFIOMIG_RUNNING:
		/* Without P2P the kernel skips RUNNING_P2P: RUNNING->STOP is one step. */
		return to == VFIOMIG_RUNNING_P2P || to == VFIOMIG_PRE_COPY ||
		       (!p2p && to == VFIOMIG_STOP);
	case VFIOMIG_RUNNING_P2P:
		return to == VFIOMIG_STOP || to == VFIOMIG_RUNNING ||
		       to == VFIOMIG_PRE_COPY_P2P;
	case VFIOMIG_STOP:
		return to == VFIOMIG_RUNNING_P2P || to == VFIOMIG_STOP_COPY ||
		       to == VFIOMIG_RESUMING || (!p2p && to == VFIOMIG_RUNNING);
	case VFIOMIG_STOP_COPY:
		return to == VFIOMIG_STOP;
	case VFIOMIG_RESUMING:
		return to == VFIOMIG_STOP;
	case VFIOMIG_PRE_COPY:
		return to == VFIOMIG_RUNNING || to == VFIOMIG_PRE_COPY_P2P ||
		       (!p2p && to == VFIOMIG_STOP_COPY);
	case VFIOMIG_PRE_COPY_P2P:
		return to == VFIOMIG_PRE_COPY || to == VFIOMIG_RUNNING_P2P ||
		       to == VFIOMIG_STOP_COPY;
	default:
		return false;
	}
}

int vfiomig_plan(uint64_t flags, int from, int to, int *path, size_t max,
		 size_t *n)
{
	int prev[VFIOMIG_NR_STATES], queue[VFIOMIG_NR_STATES];
	bool seen[VFIOMIG_NR_STATES] = { false };
	int head = 0, tail = 0;

	*n = 0;
	if (!state_supported(flags, from) || !state_supported(flags, to))
		return -EINVAL;
	if (from == to)
		return 0;
	/*
	 * The uAPI forbids these outright (a new precopy session cannot be
	 * started from the end of a stop-copy one), even though a path through
	 * STOP and RUNNING exists in the graph.
	 */
	if (from == VFIOMIG_STOP_COPY &&
	    (to == VFIOMIG_PRE_COPY || to == VFIOMIG_PRE_COPY_P2P))
		return -EINVAL;

	/* Breadth-first search gives the shortest path. */
	seen[from] = true;
	prev[from] = -1;
	queue[tail++] = from;
	while (head < tail) {
		int s = queue[head++];

		/* A saving-group state may start or end a path, never be inside it. */
		if (s != from && saving_group(s))
			continue;
		for (int t = 1; t < VFIOMIG_NR_STATES; t++) {
			if (seen[t] || !vfiomig_arc_allowed(flags, s, t))
				continue;
			seen[t] = true;
			prev[t] = s;
			queue[tail++] = t;
		}
	}
	if (!seen[to])
		return -EINVAL;

	size_t len = 0;
	for (int s = to; s != from; s = prev[s])
		len++;
	if (len > max)
		return -ENOSPC;
	size_t i = len;
	for (int s = to; s != from; s = prev[s])
		path[--i] = s;
	*n = len;
	return 0;
}
