/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cf_engine.h - libvfiomig migrations of the conformance suite's pairs,
 * judged from the outside: the return codes, the devices' states read
 * back through the engine's uAPI calls, and the engine's JSON report.
 *
 * The suite resets every device itself (VFIO_DEVICE_RESET on the engine's
 * device fd) before a migration and never relies on the engine doing so.
 */
#ifndef VFIO_MIGTEST_CF_ENGINE_H
#define VFIO_MIGTEST_CF_ENGINE_H

#include <jansson.h>

#include "cf_suite.h"
#include "vfiomig_session.h"

struct cf_side {
	unsigned n;
	struct vfiomig_ctx *ctx;
	struct vfiomig_device *dev[DEVSEL_MAX];
};

/* Open the pairs' sources (@dst false) or destinations, for this test. */
struct cf_side *cf_side_open(bool dst);
/* VFIO_DEVICE_RESET every device and check it reads back RUNNING. */
void cf_side_reset(struct cf_side *s);
/* Every device of @s reads back @state. */
void cf_side_expect(struct cf_side *s, int state, const char *why);

struct cf_run {
	int sret, dret;
	char serr[512], derr[512];
	json_t *rep;			/* the JSON report (merged in local mode) */
	uint64_t downtime_ns;
};

/* Options the suite uses: engine defaults with a 10 s I/O timeout. */
void cf_opts(struct vfiomig_opts *o);

/*
 * Migrate @src to @dst in this process (two threads) over @ls/@ld, or
 * over an in-process link pair when both are NULL.
 */
void cf_migrate_local(struct cf_side *src, struct cf_side *dst,
		      const struct vfiomig_opts *so,
		      const struct vfiomig_opts *dopt,
		      struct vfiomig_link *ls, struct vfiomig_link *ld,
		      struct cf_run *r);

/* @rep as JSON, freed when the test ends. */
json_t *cf_report_json(const struct vfiomig_report *rep);

/* The run succeeded on both ends; logs both errors otherwise. */
void cf_expect_ok(const struct cf_run *r);

/* report["source"|"destination"], or NULL. */
json_t *cf_endpoint(const struct cf_run *r, const char *role);

/*
 * Record the run's downtime as a KTAP diagnostic and in the lab report
 * file ($VFIO_MIGTEST_DOWNTIME_JSON, default
 * /tmp/vfio-migtest-downtimes.json).
 */
void cf_record_downtime(const char *mode, const struct cf_run *r);
/* Start an empty downtime file (once per program, before the tests). */
void cf_downtime_init(void);

#endif /* VFIO_MIGTEST_CF_ENGINE_H */
