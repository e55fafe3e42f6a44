// SPDX-License-Identifier: GPL-2.0
/*
 * state_names.c - printable names of states and flags, and the clock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vfiomig.h"

static const char *const names[VFIOMIG_NR_STATES] = {
	[VFIOMIG_ERROR] = "ERROR",
	[VFIOMIG_STOP] = "STOP",
	[VFIOMIG_RUNNING] = "RUNNING",
	[VFIOMIG_STOP_COPY] = "STOP_COPY",
	[VFIOMIG_RESUMING] = "RESUMING",
	[VFIOMIG_RUNNING_P2P] = "RUNNING_P2P",
	[VFIOMIG_PRE_COPY] = "PRE_COPY",
	[VFIOMIG_PRE_COPY_P2P] = "PRE_COPY_P2P",
};

const char *vfiomig_state_name(int state)
{
	if (state < 0 || state >= VFIOMIG_NR_STATES)
		return "?";
	return names[state];
}

int vfiomig_state_parse(const char *name)
{
	for (int i = 0; i < VFIOMIG_NR_STATES; i++)
		if (!strcmp(name, names[i]))
			return i;
	return -EINVAL;
}

const char *vfiomig_flags_str(uint64_t flags, char *buf, size_t len)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} bits[] = {
		{ VFIOMIG_FLAG_STOP_COPY, "STOP_COPY" },
		{ VFIOMIG_FLAG_P2P, "P2P" },
		{ VFIOMIG_FLAG_PRE_COPY, "PRE_COPY" },
	};
	size_t off = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		if (!(flags & bits[i].bit))
			continue;
		int n = snprintf(buf + off, len - off, "%s%s", off ? "|" : "",
				 bits[i].name);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
	if (!off)
		snprintf(buf, len, "none");
	return buf;
}

uint64_t vfiomig_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
