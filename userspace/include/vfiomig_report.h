/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfiomig_report.h - what a migration measured (schema in docs/engine.md).
 */
#ifndef VFIOMIG_REPORT_H
#define VFIOMIG_REPORT_H

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

/** vfiomig_report_print() - human summary. */
void vfiomig_report_print(const struct vfiomig_report *r, FILE *f);

/** vfiomig_report_write_json() - the versioned JSON report; 0 or -errno. */
int vfiomig_report_write_json(const struct vfiomig_report *r, FILE *f);

#ifdef __cplusplus
}
#endif

#endif /* VFIOMIG_REPORT_H */
