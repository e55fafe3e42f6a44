// SPDX-License-Identifier: GPL-2.0
/*
 * devtime.c - find the last migration in each device's log and the
 * device-side downtime of a set of devices (rules in devtime.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devtime.h"

/* The state a step left the device in: a failed step leaves it in ERROR. */
static enum dt_state after(const struct dt_step *s)
{
	return s->ret ? DT_ERROR : s->to;
}

static int is_stopped(enum dt_state s)
{
	return s == DT_RUNNING_P2P || s == DT_PRE_COPY_P2P || s == DT_STOP ||
	       s == DT_STOP_COPY;
}

static int is_precopy(enum dt_state s)
{
	return s == DT_PRE_COPY || s == DT_PRE_COPY_P2P;
}

/*
 * Where precopy began: a step into PRE_COPY or PRE_COPY_P2P from outside
 * them (it creates the save stream).  Leaving a pause, PRE_COPY_P2P ->
 * PRE_COPY, is the same precopy going on.
 */
static int starts_precopy(const struct dt_step *s)
{
	return !s->ret && is_precopy(s->to) && !is_precopy(s->from);
}

static void collect_failed(const struct dt_log *log, size_t from,
			   struct dt_failed *f)
{
	for (size_t i = from; i < log->n; i++) {
		if (!log->steps[i].ret)
			continue;
		if (f->n < DT_MAX_FAILED)
			f->step[f->n] = log->steps[i];
		f->n++;
	}
}

int dt_source_analyze(const struct dt_log *log, struct dt_source *out,
		      char *err, size_t errlen)
{
	const struct dt_step *st = log->steps;
	size_t k = 0, c, i;
	int found = 0;

	memset(out, 0, sizeof(*out));
	out->precopy_entry_ns = out->p2p_ns = out->stop_copy_left_ns = DT_NONE;
	out->after_stop_copy = DT_NSTATES;
	for (i = 0; i < log->n; i++) {
		if (!st[i].ret && st[i].to == DT_STOP_COPY) {
			k = i;
			found = 1;
		}
	}
	if (!found) {
		snprintf(err, errlen,
			 "%s: no complete migration (no successful step into STOP_COPY)",
			 log->name);
		return -ENOENT;
	}
	/* A later migration that never got as far as STOP_COPY is the last one. */
	for (i = k + 1; i < log->n; i++) {
		if (starts_precopy(&st[i])) {
			snprintf(err, errlen,
				 "%s: the last migration (%s at line %u) never reached STOP_COPY",
				 log->name, dt_state_name(st[i].to), st[i].line);
			return -ENOENT;
		}
		if (st[i].ret && st[i].to == DT_STOP_COPY) {
			snprintf(err, errlen,
				 "%s: the last migration failed at line %u: %s->STOP_COPY ret %d",
				 log->name, st[i].line, dt_state_name(st[i].from),
				 st[i].ret);
			return -ENOENT;
		}
	}

	/* Back from K over the unbroken stopped chain to where it left running. */
	for (c = k; st[c].from != DT_RUNNING && st[c].from != DT_PRE_COPY; c--) {
		if (c == 0 || st[c - 1].ret || st[c - 1].to != st[c].from ||
		    !is_stopped(st[c - 1].to)) {
			snprintf(err, errlen,
				 "%s: STOP_COPY at line %u is not reached from RUNNING or PRE_COPY in the log (chain starts at line %u with %s->%s)",
				 log->name, st[k].line, st[c].line,
				 dt_state_name(st[c].from), dt_state_name(st[c].to));
			return -ENOENT;
		}
	}
	out->stop = st[c];
	out->stop_copy = st[k];
	if (st[c].to == DT_RUNNING_P2P || st[c].to == DT_PRE_COPY_P2P)
		out->p2p_ns = st[c].end_ns - st[c].start_ns;

	size_t window = c;

	if (st[c].from == DT_PRE_COPY) {
		out->precopy = 1;
		for (i = c; i-- > 0; ) {
			if (starts_precopy(&st[i])) {
				out->precopy_entry_ns = st[i].end_ns;
				window = i;
				break;
			}
		}
	}
	for (i = k + 1; i < log->n; i++) {
		if (st[i].from == DT_STOP_COPY) {
			out->stop_copy_left_ns = st[i].start_ns;
			out->after_stop_copy = after(&st[i]);
			break;
		}
	}
	collect_failed(log, window, &out->failed);
	return 0;
}

int dt_dest_analyze(const struct dt_log *log, struct dt_dest *out,
		    char *err, size_t errlen)
{
	const struct dt_step *st = log->steps;
	size_t q = 0, i;
	int found = 0;

	memset(out, 0, sizeof(*out));
	out->p2p.start_ns = out->p2p.end_ns = DT_NONE;
	for (i = 0; i < log->n; i++) {
		if (!st[i].ret && st[i].to == DT_RESUMING) {
			q = i;
			found = 1;
		}
	}
	if (!found) {
		snprintf(err, errlen,
			 "%s: no complete migration (no successful step into RESUMING)",
			 log->name);
		return -ENOENT;
	}
	for (i = q + 1; i < log->n; i++) {
		if (st[i].ret && st[i].to == DT_RESUMING) {
			snprintf(err, errlen,
				 "%s: the last migration failed at line %u: %s->RESUMING ret %d",
				 log->name, st[i].line, dt_state_name(st[i].from),
				 st[i].ret);
			return -ENOENT;
		}
	}
	out->resuming = st[q];
	collect_failed(log, q, &out->failed);

	size_t e = q + 1;

	if (e >= log->n) {
		snprintf(err, errlen,
			 "%s: still RESUMING at the end of the log (entered at line %u)",
			 log->name, st[q].line);
		return -ENOENT;
	}
	if (st[e].from != DT_RESUMING || st[e].ret || st[e].to != DT_STOP) {
		snprintf(err, errlen,
			 "%s: the load did not complete: line %u is %s->%s ret %d%s%s, not RESUMING->STOP ret 0",
			 log->name, st[e].line, dt_state_name(st[e].from),
			 dt_state_name(st[e].to), st[e].ret,
			 st[e].tag[0] ? " " : "", st[e].tag);
		return -ENOENT;
	}
	out->load = st[e];
	for (i = e + 1; i < log->n; i++) {
		const struct dt_step *s = &st[i];

		/* A reset reaches RUNNING too, but it is not a resume. */
		if (s->ret || s->from != after(&st[i - 1]) ||
		    !strcmp(s->tag, "reset") ||
		    (s->to != DT_STOP && s->to != DT_RUNNING_P2P &&
		     s->to != DT_RUNNING))
			break;
		if (s->to == DT_RUNNING_P2P)
			out->p2p = *s;
		if (s->to == DT_RUNNING) {
			out->running = *s;
			return 0;
		}
	}
	if (i < log->n)
		snprintf(err, errlen,
			 "%s: never reached RUNNING after the load at line %u (line %u: %s->%s ret %d%s%s)",
			 log->name, st[e].line, st[i].line,
			 dt_state_name(st[i].from), dt_state_name(st[i].to),
			 st[i].ret, st[i].tag[0] ? " " : "", st[i].tag);
	else
		snprintf(err, errlen,
			 "%s: never reached RUNNING after the load at line %u (end of the log)",
			 log->name, st[e].line);
	return -ENOENT;
}

static void first_err(struct dt_result *r, const char *msg)
{
	if (!r->err[0])
		snprintf(r->err, sizeof(r->err), "%s", msg);
}

int dt_compute(const struct dt_log *src, const struct dt_log *dst, size_t n,
	       struct dt_result *out)
{
	int ret = 0;

	out->npairs = n;
	out->ok = 1;
	out->have_downtime = 0;
	out->start_ns = DT_NONE;
	out->end_ns = 0;
	out->downtime_ns = DT_NONE;
	out->err[0] = '\0';
	if (!n) {
		snprintf(out->err, sizeof(out->err), "no devices");
		out->ok = 0;
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		struct dt_pair *p = &out->pairs[i];
		int r;

		memset(p, 0, sizeof(*p));
		snprintf(p->src_name, sizeof(p->src_name), "%s", src[i].name);
		snprintf(p->dst_name, sizeof(p->dst_name), "%s", dst[i].name);
		r = dt_source_analyze(&src[i], &p->src, p->src_err,
				      sizeof(p->src_err));
		p->src_ok = !r;
		if (r) {
			first_err(out, p->src_err);
			ret = ret ? ret : r;
		} else if (p->src.stop.start_ns < out->start_ns) {
			out->start_ns = p->src.stop.start_ns;
		}
		r = dt_dest_analyze(&dst[i], &p->dst, p->dst_err,
				    sizeof(p->dst_err));
		p->dst_ok = !r;
		if (r) {
			first_err(out, p->dst_err);
			ret = ret ? ret : r;
		} else if (p->dst.running.end_ns > out->end_ns) {
			out->end_ns = p->dst.running.end_ns;
		}
	}
	if (ret) {
		out->ok = 0;
		return ret;
	}
	for (size_t i = 0; i < n; i++) {
		struct dt_pair *p = &out->pairs[i];

		if (p->dst.running.end_ns < out->start_ns) {
			snprintf(p->dst_err, sizeof(p->dst_err),
				 "%s: reached RUNNING (line %u) before the first source stopped: not the same migration",
				 p->dst_name, p->dst.running.line);
			p->dst_ok = 0;
			first_err(out, p->dst_err);
			out->ok = 0;
			return -EINVAL;
		}
	}
	out->have_downtime = 1;
	out->downtime_ns = out->end_ns - out->start_ns;

	unsigned nfailed = 0;
	char msg[400] = "";

	for (size_t i = 0; i < n; i++) {
		const struct dt_pair *p = &out->pairs[i];
		const struct dt_failed *f[2] = { &p->src.failed, &p->dst.failed };
		const char *names[2] = { p->src_name, p->dst_name };

		for (int side = 0; side < 2; side++) {
			if (f[side]->n && !msg[0])
				snprintf(msg, sizeof(msg), "%s line %u: %s->%s ret %d",
					 names[side], f[side]->step[0].line,
					 dt_state_name(f[side]->step[0].from),
					 dt_state_name(f[side]->step[0].to),
					 f[side]->step[0].ret);
			nfailed += f[side]->n;
		}
	}
	if (nfailed) {
		out->ok = 0;
		snprintf(out->err, sizeof(out->err), "%u failed step%s, the first: %s",
			 nfailed, nfailed == 1 ? "" : "s", msg);
	}
	return 0;
}
