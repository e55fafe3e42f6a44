// SPDX-License-Identifier: GPL-2.0
/*
 * bench_scenarios.c - tables 1 (parallel transitions against the QEMU
 * sequential reference) and 2 (REINIT and switchover-ack, one busy
 * device) of docs/benchmarks.md.
 *
 * Every run uses fresh devices: after a migration the sources are in STOP,
 * and a benchmark that reset them would measure a different device.  The
 * report of the run closest to each median is kept as
 * <outdir>/<figure>.json with its timeline <outdir>/<figure>.svg.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "mockvf_dev.h"
#include "timeline.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FW_LIMIT "/sys/module/mockvf/parameters/fw_max_concurrent"

/* Reference: QEMU on ConnectX-7 VFs, sequential transitions (ms). */
static const struct {
	int ndev;
	double seq, par;
} seed002[] = { { 1, 497, 493 }, { 2, 758, 653 }, { 4, 1385, 986 } };

/* Reference: 4 VFs, one busy; total and busy device's downtime (ms). */
#define SEED004_OFF_TOTAL 2352.0
#define SEED004_ON_TOTAL 1335.0
#define SEED004_OFF_BUSY 1600.0
#define SEED004_ON_BUSY 520.0

static int write_sysfs(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int ret = 0;

	if (!f)
		return -errno;
	if (fputs(val, f) < 0)
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

/* Keep run @keep of @reps as <figure>.json and draw its timeline. */
static void keep_run(const struct bench_cfg *cfg, const char *figure,
		     int keep)
{
	char from[512], json[512], svg[512], err[256];

	snprintf(from, sizeof(from), "%s/raw/%s-%d.json", cfg->outdir, figure,
		 keep);
	snprintf(json, sizeof(json), "%s/%s.json", cfg->outdir, figure);
	snprintf(svg, sizeof(svg), "%s/%s.svg", cfg->outdir, figure);
	if (rename(from, json)) {
		fprintf(stderr, "vfio-migbench: keeping %s: %s\n", from,
			strerror(errno));
		return;
	}
	if (timeline_plot(json, svg, err, sizeof(err)))
		fprintf(stderr, "vfio-migbench: timeline: %s\n", err);
}

static int closest(const double *v, int n, double target)
{
	int best = 0;

	for (int i = 1; i < n; i++)
		if (fabs(v[i] - target) < fabs(v[best] - target))
			best = i;
	return best;
}

/*
 * figure() - @reps migrations of @n fresh @profile pairs with @extra
 * engine options; @setup (may be NULL) steers the devices first.  Fills
 * @total (downtime) and, if non-NULL, @dev0 (device 0's share).
 */
static int figure(const struct bench_cfg *cfg, const char *name, int n,
		  const char *profile, const char *const *extra,
		  int (*setup)(struct bench_devs *), struct bench_stat *total,
		  struct bench_stat *dev0)
{
	double down[BENCH_MAX_REPS], share[BENCH_MAX_REPS];
	char json[512];

	for (int r = 0; r < cfg->reps; r++) {
		struct bench_result res;
		struct bench_devs d;
		int ret;

		ret = bench_devs_create(&d, n, profile);
		if (ret)
			return ret;
		ret = setup ? setup(&d) : 0;
		snprintf(json, sizeof(json), "%s/raw/%s-%d.json", cfg->outdir,
			 name, r);
		if (!ret)
			ret = bench_migrate(cfg, &d, extra, json, &res);
		bench_devs_remove(&d);
		if (ret) {
			fprintf(stderr, "vfio-migbench: %s run %d failed\n", name,
				r + 1);
			return ret;
		}
		down[r] = res.downtime_ms;
		share[r] = res.dev_ms[0];
	}
	*total = bench_stat_of(down, cfg->reps);
	if (dev0)
		*dev0 = bench_stat_of(share, cfg->reps);
	keep_run(cfg, name, closest(down, cfg->reps, total->median));
	return 0;
}

static void print_stat(struct bench_stat s)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.0f [%.0f-%.0f]", s.median, s.min, s.max);
	printf(" %-18s", buf);
}

static const char *const seq_opts[] = { "--transitions", "sequential", NULL };
static const char *const par_opts[] = { "--transitions", "parallel", NULL };

static int table_rows(const struct bench_cfg *cfg, const int *counts, int n,
		      const char *tag, double *ratio4)
{
	for (int i = 0; i < n; i++) {
		struct bench_stat seq, par;
		char name[64];
		int ret;

		snprintf(name, sizeof(name), "parallel%s-seq-%ddev", tag, counts[i]);
		ret = figure(cfg, name, counts[i], "cx7", seq_opts, NULL, &seq, NULL);
		if (ret)
			return ret;
		snprintf(name, sizeof(name), "parallel%s-par-%ddev", tag, counts[i]);
		ret = figure(cfg, name, counts[i], "cx7", par_opts, NULL, &par, NULL);
		if (ret)
			return ret;
		printf("%4d |", counts[i]);
		print_stat(seq);
		print_stat(par);
		printf(" %5.2f  %5.0f%% |", par.median / seq.median,
		       100 * (1 - par.median / seq.median));
		for (size_t k = 0; k < sizeof(seed002) / sizeof(seed002[0]); k++)
			if (seed002[k].ndev == counts[i])
				printf(" %5.0f %5.0f  %5.2f  (seq %+.0f%%)",
				       seed002[k].seq, seed002[k].par,
				       seed002[k].par / seed002[k].seq,
				       100 * (seq.median / seed002[k].seq - 1));
		printf("\n");
		fflush(stdout);
		if (counts[i] == 4 && ratio4)
			*ratio4 = par.median / seq.median;
	}
	return 0;
}

int bench_parallel(const struct bench_cfg *cfg)
{
	static const int all[] = { 1, 2, 4, 8, 16 }, quick[] = { 1, 2, 4 };
	const int *counts = cfg->quick ? quick : all;
	int n = cfg->quick ? 3 : 5, ret;
	double ratio = 0, ratio_fw1 = 0;

	printf("\nTable 1: parallel device state transitions (seed 002), cx7, "
	       "downtime ms, median [min-max] of %d\n", cfg->reps);
	printf("devs | %-18s %-18s ratio  gain  | seed: seq   par  ratio\n",
	       "sequential", "parallel");
	ret = write_sysfs(FW_LIMIT, "0");
	if (!ret)
		ret = table_rows(cfg, counts, n, "", &ratio);
	if (ret)
		return ret;
	printf("parallel/sequential at 4 devices: %.2f (target <= 0.40, "
	       "seed 0.71)\n", ratio);

	printf("\nTable 1b: the same with the firmware serialising commands "
	       "(fw_max_concurrent=1)\n");
	ret = write_sysfs(FW_LIMIT, "1");
	if (!ret)
		ret = table_rows(cfg, quick, 3, "-fw1", &ratio_fw1);
	write_sysfs(FW_LIMIT, "0");
	if (!ret)
		printf("parallel/sequential at 4 devices, firmware limit 1: %.2f\n",
		       ratio_fw1);
	return ret;
}

/*
 * One busy device (0) and 3 idle cx7 devices.  The reference's busy VF holds
 * 1 GB of device data that its firmware moves at about 1 GB/s; the mock
 * keeps at most 64 MiB, so the busy device gets 64 MiB at 64 MiB/s (save
 * and load): an image costs the same second.  It dirties 8 MiB/s and
 * re-configures itself BUSY_RECONFIG_MS after it is opened: after its
 * first image went across (about 1.3 s in) and before the switchover,
 * which --min-precopy-ms holds until about 1.7 s (precopy starts some
 * 400 ms in, after four save_start commands).  Without REINIT the engine
 * cannot know that the new image is initial data: it switches over with
 * most of it unread and the image lands in the downtime, as in the seed.
 * With REINIT the image is re-sent and acked first; the next
 * re-configuration comes after that.
 */
#define BUSY_STATE "67108864"
#define BUSY_BW_KBPS "65536"
#define BUSY_RECONFIG_MS "1500"
#define BUSY_MIN_PRECOPY_MS "1300"

static int busy_first(struct bench_devs *d, bool reinit)
{
	int ret = mockvf_attr_write(d->src[0], "state_size", BUSY_STATE);

	if (!ret)
		ret = mockvf_attr_write(d->dst[0], "state_size", BUSY_STATE);
	if (!ret)
		ret = mockvf_attr_write(d->src[0], "timing/save_bw_kbps",
					BUSY_BW_KBPS);
	if (!ret)
		ret = mockvf_attr_write(d->dst[0], "timing/load_bw_kbps",
					BUSY_BW_KBPS);
	if (!ret)
		ret = mockvf_attr_write(d->src[0], "dirty_rate", "8388608");
	for (int i = 0; i < d->n && !ret; i++)
		ret = mockvf_attr_write(d->src[i], "reinit_capable",
					reinit ? "1" : "0");
	if (!ret)
		ret = mockvf_attr_write(d->src[0], "reconfig_interval_ms",
					BUSY_RECONFIG_MS);
	return ret;
}

static const char *const busy_opts[] = {
	"--transitions", "parallel", "--min-precopy-ms", BUSY_MIN_PRECOPY_MS,
	NULL
};

static int busy_without_reinit(struct bench_devs *d)
{
	return busy_first(d, false);
}

static int busy_with_reinit(struct bench_devs *d)
{
	return busy_first(d, true);
}

int bench_reinit(const struct bench_cfg *cfg)
{
	struct bench_stat off, on, off_busy, on_busy;
	int ret;

	printf("\nTable 2: REINIT and per-device switchover-ack (seed 004): 4 cx7 "
	       "devices, device 0 busy, downtime ms, median [min-max] of %d\n",
	       cfg->reps);
	ret = figure(cfg, "reinit-off", 4, "cx7", busy_opts, busy_without_reinit,
		     &off, &off_busy);
	if (!ret)
		ret = figure(cfg, "reinit-on", 4, "cx7", busy_opts,
			     busy_with_reinit, &on, &on_busy);
	if (ret)
		return ret;
	printf("REINIT | %-18s %-18s | seed: total  busy\n", "total", "busy device");
	printf("off    |");
	print_stat(off);
	print_stat(off_busy);
	printf(" |       %5.0f  %5.0f\n", SEED004_OFF_TOTAL, SEED004_OFF_BUSY);
	printf("on     |");
	print_stat(on);
	print_stat(on_busy);
	printf(" |       %5.0f  %5.0f\n", SEED004_ON_TOTAL, SEED004_ON_BUSY);
	printf("REINIT cuts total downtime by %.0f%% (target >= 60%%, seed 43%%), "
	       "the busy device's by %.0f%% (seed 67%%)\n",
	       100 * (1 - on.median / off.median),
	       100 * (1 - on_busy.median / off_busy.median));
	return 0;
}
