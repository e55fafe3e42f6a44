/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench.h - vfio-migbench: the downtime experiments of the seeds, run on
 * mockvf with the real engine (vfio-migrate), reported as tables of
 * median [min, max] over repeated runs.  See docs/benchmarks.md.
 */
#ifndef VFIO_MIGTEST_BENCH_H
#define VFIO_MIGTEST_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_MAX_DEVS 16
#define BENCH_MAX_REPS 32

struct bench_cfg {
	int reps;		/* runs per figure (median of these) */
	const char *outdir;	/* build/bench: reports and timelines */
	const char *migrate;	/* path of vfio-migrate */
	bool quick;		/* fewer device counts, for smoke tests */
};

/* What one migration measured, read back from its JSON report. */
struct bench_result {
	bool ok;
	double downtime_ms;
	/* Per source device: from leaving PRE_COPY/RUNNING to its peer RUNNING. */
	int ndev;
	double dev_ms[BENCH_MAX_DEVS];
	double stopcopy_bytes[BENCH_MAX_DEVS];
	double stopcopy_ms[BENCH_MAX_DEVS];	/* read + send of stop-copy data */
	double xfer_ms;		/* source in STOP_COPY -> destination done writing */
	double precopy_ns;	/* source device 0 in PRE_COPY (its clock), 0: never */
	double arc_ms_sum;			/* all arcs, both ends */
	int narcs;
};

struct bench_stat {
	double median, min, max;
	int n;
};

/* bench_stat_of() - median/min/max of @n values (sorts a copy). */
struct bench_stat bench_stat_of(const double *v, int n);
/* bench_print_row() - "label | median [min-max]" with @decimals digits. */
void bench_print_row(const char *label, struct bench_stat s, int decimals);

/*
 * bench_read_report() - fill @res from an engine JSON report.  0, or
 * -EINVAL with the reason in @err.
 */
int bench_read_report(const char *path, struct bench_result *res, char *err,
		      size_t errlen);

/* A set of mock source/destination pairs. */
struct bench_devs {
	int n;
	char src[BENCH_MAX_DEVS][40];
	char dst[BENCH_MAX_DEVS][40];
};

/* bench_devs_create() - @n pairs of mockvf @profile; 0 or -errno. */
int bench_devs_create(struct bench_devs *d, int n, const char *profile);
void bench_devs_remove(struct bench_devs *d);

/* bench_devs_set() - write @val to knob @attr of every source (and dest). */
int bench_devs_set(struct bench_devs *d, const char *attr, const char *val,
		   bool dests_too);

/* bench_digests_equal() - every destination digest equals its source's. */
bool bench_digests_equal(const struct bench_devs *d);

/*
 * bench_migrate() - run "vfio-migrate local" on @d with @extra options
 * (NULL-terminated), writing the report to @json.  0 when the migration
 * succeeded, the report was read into @res and the digests match.
 */
int bench_migrate(const struct bench_cfg *cfg, struct bench_devs *d,
		  const char *const *extra, const char *json,
		  struct bench_result *res);

/* The tables of docs/benchmarks.md; each returns 0 or -1. */
int bench_parallel(const struct bench_cfg *cfg);
int bench_reinit(const struct bench_cfg *cfg);
int bench_datapath(const struct bench_cfg *cfg);
/* Table 1c: QEMU ($VFIO_MIGTEST_QEMU) beside the engine on cx7 devices. */
int bench_qemu(const struct bench_cfg *cfg);
/* Table 1d: 16 devices against one with the firmware's SAVEs unlimited. */
int bench_scaling(const struct bench_cfg *cfg);
/*
 * bench_raw_copy_mbps() - MB/s of one plain save-fd -> resume-fd copy of a
 * @size byte state (nopre, instant firmware): what the rig's CPUs move
 * through mockvf without a firmware model; < 0 on error.
 */
double bench_raw_copy_mbps(const char *size);
/* Table 3, second half: libvfiomig vs the bare ioctl per transition. */
int bench_transition_overhead(const struct bench_cfg *cfg);

#endif /* VFIO_MIGTEST_BENCH_H */
