/* SPDX-License-Identifier: GPL-2.0 */
/*
 * timeline.h - a migration report as lanes of states over time, and its
 * rendering as SVG (vfio-migrate plot).
 *
 * timeline_load() reads an engine JSON report (docs/engine.md);
 * timeline_write_svg() draws one lane per device (sources above,
 * destinations below) coloured by migration state, the downtime window as
 * a band, and events (ack requests, acks, REINIT, switchover) as marks.
 */
#ifndef VFIO_MIGTEST_TIMELINE_H
#define VFIO_MIGTEST_TIMELINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TL_MAX_LANES 64
#define TL_MAX_SEGS 256
#define TL_MAX_EVENTS 1024
#define TL_NAME_LEN 80

struct tl_seg {
	uint64_t t;		/* the lane enters @state at @t (ns) */
	int state;		/* enum vfiomig_state values, -1 = unknown */
};

struct tl_lane {
	char name[TL_NAME_LEN];
	char side;		/* 'S' source, 'D' destination */
	int nseg;
	struct tl_seg seg[TL_MAX_SEGS];
};

struct tl_event {
	uint64_t t;
	int lane;		/* -1: the whole session */
	char type[32];
	char detail[96];
};

struct timeline {
	uint64_t t0, t1;		/* drawn range, ns */
	uint64_t down_start, down_end;	/* 0, 0 when unknown */
	int ok;
	char title[160];
	int nlanes;
	struct tl_lane lane[TL_MAX_LANES];
	int nevents;
	struct tl_event event[TL_MAX_EVENTS];
};

/*
 * timeline_load() - parse the report at @path into @tl (caller-allocated;
 * it is large).  0, or -EINVAL/-errno with a one-line reason in @err: not
 * JSON, not a vfiomig report, an unsupported schema version, fields of the
 * wrong type.
 */
int timeline_load(const char *path, struct timeline *tl, char *err,
		  size_t errlen);

/* timeline_write_svg() - draw @tl; 0 or -errno (write error). */
int timeline_write_svg(const struct timeline *tl, FILE *f);

/*
 * timeline_plot() - load @json_path, write @svg_path ("-" = stdout).
 * 0, or -errno with a one-line reason in @err.
 */
int timeline_plot(const char *json_path, const char *svg_path, char *err,
		  size_t errlen);

#endif /* VFIO_MIGTEST_TIMELINE_H */
