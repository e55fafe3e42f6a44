// SPDX-License-Identifier: GPL-2.0
/*
 * bench_report.c - the figures a benchmark needs, from an engine report.
 *
 * A device's share of the downtime is measured from its first source arc
 * out of RUNNING/PRE_COPY into a P2P or stop state, to the last arc that
 * brought its destination peer (same index) to RUNNING.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static double ns_field(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (double)json_integer_value(v) : 0;
}

static bool leaves_running(const char *from, const char *to)
{
	return (!strcmp(from, "RUNNING") || !strcmp(from, "PRE_COPY")) &&
	       (!strcmp(to, "RUNNING_P2P") || !strcmp(to, "PRE_COPY_P2P") ||
		!strcmp(to, "STOP") || !strcmp(to, "STOP_COPY"));
}

int bench_read_report(const char *path, struct bench_result *res, char *err,
		      size_t errlen)
{
	double leave[BENCH_MAX_DEVS] = { 0 }, run[BENCH_MAX_DEVS] = { 0 };
	double in_stopcopy = 0, loaded = 0;
	json_t *root, *src, *dst, *devs, *t;
	json_error_t jerr;
	size_t i;

	memset(res, 0, sizeof(*res));
	root = json_load_file(path, 0, &jerr);
	if (!root) {
		snprintf(err, errlen, "%s: %s", path, jerr.text);
		return -EINVAL;
	}
	src = json_object_get(root, "source");
	dst = json_object_get(root, "destination");
	devs = json_object_get(src, "devices");
	if (!json_is_object(src) || !json_is_object(dst) || !json_is_array(devs)) {
		snprintf(err, errlen, "%s: not a local-mode engine report", path);
		json_decref(root);
		return -EINVAL;
	}
	res->ok = json_is_true(json_object_get(root, "ok"));
	res->downtime_ms = ns_field(root, "downtime_ns") / 1e6;
	res->ndev = json_array_size(devs);
	if (res->ndev > BENCH_MAX_DEVS)
		res->ndev = BENCH_MAX_DEVS;
	json_array_foreach(devs, i, t) {
		if ((int)i >= res->ndev)
			break;
		res->stopcopy_bytes[i] = ns_field(t, "stopcopy_bytes");
		res->stopcopy_ms[i] = (ns_field(t, "read_ns") +
				       ns_field(t, "send_ns")) / 1e6;
	}
	for (int side = 0; side < 2; side++) {
		json_t *log = json_object_get(side ? dst : src, "transitions_log");

		json_array_foreach(log, i, t) {
			const char *from = json_string_value(json_object_get(t, "from"));
			const char *to = json_string_value(json_object_get(t, "to"));
			json_int_t dev = json_integer_value(json_object_get(t, "dev"));
			double s = ns_field(t, "start_ns"), e = ns_field(t, "end_ns");

			if (!from || !to || dev < 0 || dev >= res->ndev)
				continue;
			res->arc_ms_sum += (e - s) / 1e6;
			res->narcs++;
			if (!side && leaves_running(from, to) && !leave[dev])
				leave[dev] = s;
			if (!side && !dev && !strcmp(to, "PRE_COPY") &&
			    !res->precopy_ns)
				res->precopy_ns = e;
			if (side && !strcmp(to, "RUNNING"))
				run[dev] = e;
			/* Data moves between these two arcs. */
			if (!side && !strcmp(to, "STOP_COPY") &&
			    (!in_stopcopy || e < in_stopcopy))
				in_stopcopy = e;
			if (side && !strcmp(from, "RESUMING") && s > loaded)
				loaded = s;
		}
	}
	for (int d = 0; d < res->ndev; d++)
		res->dev_ms[d] = leave[d] && run[d] > leave[d] ?
				 (run[d] - leave[d]) / 1e6 : 0;
	res->xfer_ms = in_stopcopy && loaded > in_stopcopy ?
		       (loaded - in_stopcopy) / 1e6 : 0;
	json_decref(root);
	return 0;
}
