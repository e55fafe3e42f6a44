/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfiomig_report.h - what a migration measured (schema in docs/engine.md).
 */
#ifndef VFIOMIG_REPORT_H
#define VFIOMIG_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VFIOMIG_REPORT_SCHEMA "vfiomig-report"
#define VFIOMIG_REPORT_VERSION 1

struct vfiomig_report;

/** vfiomig_report_free() - NULL is allowed. */
void vfiomig_report_free(struct vfiomig_report *r);

/** vfiomig_report_ok() - whether the endpoint completed the migration. */
int vfiomig_report_ok(const struct vfiomig_report *r);

/**
 * vfiomig_report_downtime_ns() - downtime seen by this report: on a source,
 * first device leaving RUNNING/PRE_COPY to the destination's last device in
 * RUNNING (needs comparable clocks, see docs/engine.md), else 0.
 */
uint64_t vfiomig_report_downtime_ns(const struct vfiomig_report *r);

/**
 * vfiomig_report_merge_dest() - give a source report the destination's
 * report of the same session (local mode), so the downtime and the JSON
 * cover both ends.  The source report takes ownership of @dst.
 */
void vfiomig_report_merge_dest(struct vfiomig_report *src,
			       struct vfiomig_report *dst);

/* One entry of the report's event list (see docs/engine.md, "events"). */
struct vfiomig_event {
	uint64_t ts_ns;		/* CLOCK_MONOTONIC */
	char type[24];		/* "ack-request", "ack", "reinit", "switchover", ... */
	int dev;		/* device index, -1 for the session */
	uint64_t value;		/* type-specific: request id, bytes, round */
	char detail[64];
};

/** vfiomig_report_nevents() - number of events recorded by this endpoint. */
size_t vfiomig_report_nevents(const struct vfiomig_report *r);

/**
 * vfiomig_report_events_dropped() - events not kept because the list is
 * bounded (a few thousand per endpoint; session events have reserved room).
 */
uint64_t vfiomig_report_events_dropped(const struct vfiomig_report *r);

/** vfiomig_report_event() - copy event @i (0-based, in time order); -ERANGE past the end. */
int vfiomig_report_event(const struct vfiomig_report *r, size_t i,
			 struct vfiomig_event *out);

/**
 * vfiomig_report_peer() - the destination report merged into a source
 * report by vfiomig_report_merge_dest(), or NULL.
 */
const struct vfiomig_report *vfiomig_report_peer(const struct vfiomig_report *r);

/** vfiomig_report_print() - human summary. */
void vfiomig_report_print(const struct vfiomig_report *r, FILE *f);

/** vfiomig_report_write_json() - the versioned JSON report; 0 or -errno. */
int vfiomig_report_write_json(const struct vfiomig_report *r, FILE *f);

#ifdef __cplusplus
}
#endif

#endif /* VFIOMIG_REPORT_H */
