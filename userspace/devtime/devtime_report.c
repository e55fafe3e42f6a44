// SPDX-License-Identifier: GPL-2.0
/*
 * devtime_report.c - the human-readable report: one line per device, the
 * failed steps, and "device downtime: N.N ms" last.
 *
 * Instants are printed relative to the downtime start (the first source
 * stop), durations as they are, both in ms.
 */
#define _GNU_SOURCE
#include <stdio.h>

#include "devtime.h"

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* An instant relative to @t0, in ms; negative before it. */
static double rel(uint64_t t, uint64_t t0)
{
	return t >= t0 ? ms(t - t0) : -ms(t0 - t);
}

static void print_failed(FILE *f, const char *name, const struct dt_failed *fl)
{
	for (unsigned i = 0; i < fl->n && i < DT_MAX_FAILED; i++) {
		const struct dt_step *s = &fl->step[i];

		fprintf(f, "failed step: %s line %u: %s->%s ret %d%s%s\n", name,
			s->line, dt_state_name(s->from), dt_state_name(s->to),
			s->ret, s->tag[0] ? " " : "", s->tag);
	}
	if (fl->n > DT_MAX_FAILED)
		fprintf(f, "failed step: %s: %u more\n", name, fl->n - DT_MAX_FAILED);
}

static void print_source(FILE *f, const struct dt_pair *p, uint64_t t0)
{
	const struct dt_source *s = &p->src;

	fprintf(f, "source %s: %s->%s at %+.3f ms", p->src_name,
		dt_state_name(s->stop.from), dt_state_name(s->stop.to),
		rel(s->stop.start_ns, t0));
	if (s->p2p_ns != DT_NONE)
		fprintf(f, " (P2P %.3f ms)", ms(s->p2p_ns));
	if (s->precopy && s->precopy_entry_ns != DT_NONE)
		fprintf(f, ", precopy %.3f ms",
			ms(s->stop.start_ns - s->precopy_entry_ns));
	else if (!s->precopy)
		fprintf(f, ", no precopy");
	fprintf(f, "; %s->STOP_COPY %.3f ms", dt_state_name(s->stop_copy.from),
		ms(s->stop_copy.end_ns - s->stop_copy.start_ns));
	if (s->stop_copy_left_ns != DT_NONE)
		fprintf(f, "; in STOP_COPY %.3f ms until %s",
			ms(s->stop_copy_left_ns - s->stop_copy.end_ns),
			dt_state_name(s->after_stop_copy));
	else
		fprintf(f, "; still in STOP_COPY at the end of the log");
	fputc('\n', f);
}

static void print_dest(FILE *f, const struct dt_pair *p, uint64_t t0)
{
	const struct dt_dest *d = &p->dst;

	fprintf(f, "destination %s: RESUMING ended at %+.3f ms, RESUMING->STOP %.3f ms",
		p->dst_name, rel(d->load.start_ns, t0),
		ms(d->load.end_ns - d->load.start_ns));
	if (d->p2p.start_ns != DT_NONE)
		fprintf(f, "; %s->RUNNING_P2P %.3f ms at %+.3f ms",
			dt_state_name(d->p2p.from),
			ms(d->p2p.end_ns - d->p2p.start_ns), rel(d->p2p.end_ns, t0));
	fprintf(f, "; %s->RUNNING %.3f ms at %+.3f ms\n",
		dt_state_name(d->running.from),
		ms(d->running.end_ns - d->running.start_ns),
		rel(d->running.end_ns, t0));
}

void dt_print(FILE *f, const struct dt_result *r)
{
	uint64_t t0 = r->start_ns == DT_NONE ? 0 : r->start_ns;

	for (size_t i = 0; i < r->npairs; i++) {
		const struct dt_pair *p = &r->pairs[i];

		if (p->src_ok)
			print_source(f, p, t0);
		else
			fprintf(f, "source %s: error: %s\n", p->src_name, p->src_err);
		if (p->dst_ok)
			print_dest(f, p, t0);
		else
			fprintf(f, "destination %s: error: %s\n", p->dst_name,
				p->dst_err);
	}
	for (size_t i = 0; i < r->npairs; i++) {
		print_failed(f, r->pairs[i].src_name, &r->pairs[i].src.failed);
		print_failed(f, r->pairs[i].dst_name, &r->pairs[i].dst.failed);
	}
	if (r->have_downtime)
		fprintf(f, "device downtime: %.1f ms\n", ms(r->downtime_ns));
	else
		fprintf(f, "device downtime: unknown (%s)\n", r->err);
}
