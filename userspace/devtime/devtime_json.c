// SPDX-License-Identifier: GPL-2.0
/*
 * devtime_json.c - the report as JSON, schema "vfio-devtime" version 1
 * (docs/qemu.md).  Times are integers in ns (CLOCK_MONOTONIC instants or
 * durations); a phase that did not happen is null.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "devtime.h"

static json_t *ns(uint64_t v)
{
	return v == DT_NONE ? json_null() : json_integer((json_int_t)v);
}

static json_t *arc(const struct dt_step *s)
{
	char buf[40];

	snprintf(buf, sizeof(buf), "%s->%s", dt_state_name(s->from),
		 dt_state_name(s->to));
	return json_string(buf);
}

static json_t *failed_json(const struct dt_failed *f)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < f->n && i < DT_MAX_FAILED; i++) {
		const struct dt_step *s = &f->step[i];

		json_array_append_new(a, json_pack("{s:i, s:s, s:s, s:i, s:s, s:o, s:o}",
			"line", (int)s->line, "from", dt_state_name(s->from),
			"to", dt_state_name(s->to), "ret", s->ret, "tag", s->tag,
			"start_ns", ns(s->start_ns), "end_ns", ns(s->end_ns)));
	}
	return a;
}

static json_t *source_json(const struct dt_pair *p)
{
	const struct dt_source *s = &p->src;
	json_t *o = json_pack("{s:s, s:b}", "name", p->src_name, "ok", p->src_ok);

	if (!p->src_ok) {
		json_object_set_new(o, "error", json_string(p->src_err));
		return o;
	}
	json_object_set_new(o, "precopy", json_boolean(s->precopy));
	json_object_set_new(o, "precopy_entry_ns", ns(s->precopy_entry_ns));
	json_object_set_new(o, "precopy_ns",
			    s->precopy_entry_ns == DT_NONE ? json_null() :
			    ns(s->stop.start_ns - s->precopy_entry_ns));
	json_object_set_new(o, "stop_arc", arc(&s->stop));
	json_object_set_new(o, "stop_start_ns", ns(s->stop.start_ns));
	json_object_set_new(o, "stop_end_ns", ns(s->stop.end_ns));
	json_object_set_new(o, "p2p_ns", ns(s->p2p_ns));
	json_object_set_new(o, "stop_copy_arc", arc(&s->stop_copy));
	json_object_set_new(o, "stop_copy_start_ns", ns(s->stop_copy.start_ns));
	json_object_set_new(o, "stop_copy_end_ns", ns(s->stop_copy.end_ns));
	json_object_set_new(o, "stop_copy_arc_ns",
			    ns(s->stop_copy.end_ns - s->stop_copy.start_ns));
	json_object_set_new(o, "stop_copy_left_ns", ns(s->stop_copy_left_ns));
	json_object_set_new(o, "in_stop_copy_ns",
			    s->stop_copy_left_ns == DT_NONE ? json_null() :
			    ns(s->stop_copy_left_ns - s->stop_copy.end_ns));
	json_object_set_new(o, "after_stop_copy",
			    s->after_stop_copy == DT_NSTATES ? json_null() :
			    json_string(dt_state_name(s->after_stop_copy)));
	json_object_set_new(o, "failed_steps", failed_json(&s->failed));
	return o;
}

static json_t *dest_json(const struct dt_pair *p)
{
	const struct dt_dest *d = &p->dst;
	json_t *o = json_pack("{s:s, s:b}", "name", p->dst_name, "ok", p->dst_ok);

	if (!p->dst_ok) {
		json_object_set_new(o, "error", json_string(p->dst_err));
		return o;
	}
	json_object_set_new(o, "resuming_entry_ns", ns(d->resuming.end_ns));
	json_object_set_new(o, "resuming_end_ns", ns(d->load.start_ns));
	json_object_set_new(o, "load_ns", ns(d->load.end_ns - d->load.start_ns));
	json_object_set_new(o, "stop_ns", ns(d->load.end_ns));
	if (d->p2p.start_ns != DT_NONE) {
		json_object_set_new(o, "p2p_arc", arc(&d->p2p));
		json_object_set_new(o, "p2p_ns", ns(d->p2p.end_ns - d->p2p.start_ns));
		json_object_set_new(o, "p2p_end_ns", ns(d->p2p.end_ns));
	} else {
		json_object_set_new(o, "p2p_arc", json_null());
		json_object_set_new(o, "p2p_ns", json_null());
		json_object_set_new(o, "p2p_end_ns", json_null());
	}
	json_object_set_new(o, "running_arc", arc(&d->running));
	json_object_set_new(o, "running_ns",
			    ns(d->running.end_ns - d->running.start_ns));
	json_object_set_new(o, "running_end_ns", ns(d->running.end_ns));
	json_object_set_new(o, "failed_steps", failed_json(&d->failed));
	return o;
}

int dt_write_json(const char *path, const struct dt_result *r,
		  char *err, size_t errlen)
{
	json_t *devs = json_array();

	for (size_t i = 0; i < r->npairs; i++)
		json_array_append_new(devs, json_pack("{s:o, s:o}",
			"source", source_json(&r->pairs[i]),
			"destination", dest_json(&r->pairs[i])));
	json_t *doc = json_pack("{s:s, s:i, s:b, s:o, s:o, s:o, s:o, s:o, s:o}",
		"schema", "vfio-devtime", "version", 1, "ok", r->ok,
		"error", r->err[0] ? json_string(r->err) : json_null(),
		"downtime_ns", r->have_downtime ? ns(r->downtime_ns) : json_null(),
		"downtime_ms", r->have_downtime ?
			json_real((double)r->downtime_ns / 1e6) : json_null(),
		"start_ns", r->have_downtime ? ns(r->start_ns) : json_null(),
		"end_ns", r->have_downtime ? ns(r->end_ns) : json_null(),
		"devices", devs);

	if (!doc) {
		snprintf(err, errlen, "%s: building the JSON report failed", path);
		return -ENOMEM;
	}
	errno = 0;
	if (json_dump_file(doc, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) {
		int e = errno ? errno : EIO;

		snprintf(err, errlen, "writing %s: %s (errno %d)", path,
			 strerror(e), e);
		json_decref(doc);
		return -e;
	}
	json_decref(doc);
	return 0;
}
