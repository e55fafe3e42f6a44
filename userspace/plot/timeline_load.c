// SPDX-License-Identifier: GPL-2.0
/*
 * timeline_load.c - engine JSON report -> struct timeline, with jansson.
 * Every field is type-checked: a report from another tool, or a damaged
 * one, gives one clear line rather than a wrong picture.
 */
#define _GNU_SOURCE
#include "timeline.h"
#include "vfiomig.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <string.h>

#define REPORT_SCHEMA "vfiomig-report"
#define REPORT_MAX_VERSION 1

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* An unsigned integer member, or @def when absent; -1 on a wrong type. */
static int get_u64(json_t *obj, const char *key, uint64_t def, uint64_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static void widen(struct timeline *tl, uint64_t t)
{
	if (!t)
		return;
	if (!tl->t0 || t < tl->t0)
		tl->t0 = t;
	if (t > tl->t1)
		tl->t1 = t;
}

static int load_side(json_t *side, char tag, const char *what,
		     struct timeline *tl, char *err, size_t errlen)
{
	json_t *devs = json_object_get(side, "devices");
	json_t *log = json_object_get(side, "transitions_log");
	json_t *events = json_object_get(side, "events");
	int base = tl->nlanes;
	uint64_t t_start;
	size_t i;
	json_t *v;

	if (!json_is_array(devs))
		return fail(err, errlen, "%s: \"devices\" is not an array", what);
	if (log && !json_is_array(log))
		return fail(err, errlen, "%s: \"transitions_log\" is not an array", what);
	if (events && !json_is_array(events))
		return fail(err, errlen, "%s: \"events\" is not an array", what);
	if (get_u64(side, "t_start_ns", 0, &t_start))
		return fail(err, errlen, "%s: \"t_start_ns\" is not a number", what);
	widen(tl, t_start);

	json_array_foreach(devs, i, v) {
		struct tl_lane *l;
		const char *name;

		if (tl->nlanes == TL_MAX_LANES)
			return fail(err, errlen, "more than %d devices", TL_MAX_LANES);
		name = json_string_value(json_object_get(v, "name"));
		if (!json_is_object(v) || !name)
			return fail(err, errlen, "%s: device %zu has no name", what, i);
		l = &tl->lane[tl->nlanes++];
		snprintf(l->name, sizeof(l->name), "%s", name);
		l->side = tag;
		/* Devices start RUNNING on both ends. */
		l->seg[0].t = t_start;
		l->seg[0].state = VFIOMIG_RUNNING;
		l->nseg = 1;
	}

	json_array_foreach(log, i, v) {
		uint64_t dev, end, start;
		const char *to = json_string_value(json_object_get(v, "to"));
		json_t *ret = json_object_get(v, "ret");
		struct tl_lane *l;
		int state;

		if (!json_is_object(v) || get_u64(v, "dev", UINT64_MAX, &dev) ||
		    get_u64(v, "end_ns", 0, &end) ||
		    get_u64(v, "start_ns", 0, &start) || !to ||
		    !json_is_integer(ret))
			return fail(err, errlen, "%s: transition %zu is malformed",
				    what, i);
		if (dev >= (uint64_t)(tl->nlanes - base))
			return fail(err, errlen,
				    "%s: transition %zu names device %llu of %d",
				    what, i, (unsigned long long)dev,
				    tl->nlanes - base);
		state = vfiomig_state_parse(to);
		if (state < 0)
			return fail(err, errlen, "%s: transition %zu: unknown state '%s'",
				    what, i, to);
		widen(tl, start);
		widen(tl, end);
		if (json_integer_value(ret))
			continue;	/* a failed arc does not change the state */
		l = &tl->lane[base + dev];
		if (l->nseg < TL_MAX_SEGS) {
			l->seg[l->nseg].t = end;
			l->seg[l->nseg].state = state;
			l->nseg++;
		}
	}

	json_array_foreach(events, i, v) {
		const char *type = json_string_value(json_object_get(v, "type"));
		const char *detail = json_string_value(json_object_get(v, "detail"));
		json_t *dev = json_object_get(v, "dev");
		struct tl_event *e;
		uint64_t ts;

		if (!json_is_object(v) || !type || get_u64(v, "ts_ns", 0, &ts) ||
		    (dev && !json_is_integer(dev)))
			return fail(err, errlen, "%s: event %zu is malformed", what, i);
		if (tl->nevents == TL_MAX_EVENTS)
			break;
		e = &tl->event[tl->nevents++];
		e->t = ts;
		e->lane = -1;
		if (dev && json_integer_value(dev) >= 0 &&
		    json_integer_value(dev) < tl->nlanes - base)
			e->lane = base + (int)json_integer_value(dev);
		snprintf(e->type, sizeof(e->type), "%s", type);
		snprintf(e->detail, sizeof(e->detail), "%s", detail ? detail : "");
		widen(tl, ts);
	}
	return 0;
}

int timeline_load(const char *path, struct timeline *tl, char *err,
		  size_t errlen)
{
	json_t *root, *src, *dst, *schema;
	json_error_t jerr;
	uint64_t version = 0, downtime = 0;
	int ret = 0;

	memset(tl, 0, sizeof(*tl));
	root = json_load_file(path, 0, &jerr);
	if (!root) {
		if (jerr.line < 0 || !strncmp(jerr.text, "unable to open", 14))
			return fail(err, errlen, "%s: %s", path, jerr.text);
		return fail(err, errlen, "%s: not JSON: %s (line %d, column %d)",
			    path, jerr.text, jerr.line, jerr.column);
	}
	schema = json_object_get(root, "schema");
	if (!json_is_object(root) || !json_is_string(schema) ||
	    strcmp(json_string_value(schema), REPORT_SCHEMA)) {
		ret = fail(err, errlen, "%s: not a vfio-migrate report (no "
			   "\"schema\": \"" REPORT_SCHEMA "\")", path);
		goto out;
	}
	if (get_u64(root, "version", 0, &version) || version < 1 ||
	    version > REPORT_MAX_VERSION) {
		ret = fail(err, errlen, "%s: report version %llu is not supported "
			   "(this vfio-migrate reads 1..%d)", path,
			   (unsigned long long)version, REPORT_MAX_VERSION);
		goto out;
	}
	src = json_object_get(root, "source");
	dst = json_object_get(root, "destination");
	if (!json_is_object(src) && !json_is_object(dst)) {
		ret = fail(err, errlen, "%s: neither a source nor a destination "
			   "report inside", path);
		goto out;
	}
	if (json_is_object(src))
		ret = load_side(src, 'S', "source", tl, err, errlen);
	if (!ret && json_is_object(dst))
		ret = load_side(dst, 'D', "destination", tl, err, errlen);
	if (ret)
		goto out;

	tl->ok = json_is_true(json_object_get(root, "ok"));
	if (get_u64(root, "downtime_ns", 0, &downtime)) {
		ret = fail(err, errlen, "%s: \"downtime_ns\" is not a number", path);
		goto out;
	}
	if (json_is_object(src) && downtime &&
	    !get_u64(src, "t_first_leave_ns", 0, &tl->down_start) &&
	    tl->down_start) {
		tl->down_end = tl->down_start + downtime;
		widen(tl, tl->down_end);
	} else {
		tl->down_start = 0;
	}
	{
		json_t *side = json_is_object(src) ? src : dst;
		const char *tr = json_string_value(json_object_get(side, "transitions"));
		const char *ack = json_string_value(json_object_get(side, "switchover_ack"));

		snprintf(tl->title, sizeof(tl->title),
			 "%d device(s), %s transitions, switchover-ack %s: %s",
			 json_is_object(src) ? (int)json_array_size(
				json_object_get(src, "devices")) : tl->nlanes,
			 tr ? tr : "?", ack && *ack ? ack : "-",
			 tl->ok ? "ok" : "FAILED");
	}
	if (tl->t1 <= tl->t0)
		tl->t1 = tl->t0 + 1;
out:
	json_decref(root);
	return ret;
}
