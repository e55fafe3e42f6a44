// SPDX-License-Identifier: GPL-2.0
/*
 * bench_qemu.c - Table 1c of docs/benchmarks.md: QEMU as a peer.  On the
 * same cx7 mock devices, in the same run as the engine's rows: QEMU's own
 * "downtime" (query-migrate), the downtime the devices saw (vfio-devtime's
 * rule over the mock's transition logs), the engine's parallel migration
 * measured by the same device-side rule, and their ratio.
 *
 * QEMU stops its downtime clock when the source has sent everything, before
 * the destination has loaded and started its devices; the device-side
 * figure runs from the first source device stopping to the last
 * destination device RUNNING, so it is the one to compare across engines.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "devtime.h"
#include "mockvf_dev.h"
#include "qemu_vm.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QEMU_MIGRATE_TIMEOUT_MS 120000
/*
 * See qvm_set_downtime_limit(): the nested rig needs a high limit.  Such a
 * limit alone lets QEMU switch over in its first iteration, with most of
 * every device's initial image still unread, which then moves inside the
 * downtime (+40% over the seed in the rig).  The seed's QEMU switched on a
 * 100GbE link whose budget covered the images too; what kept their data
 * out of the downtime is switchover-ack, which waits until each
 * destination device received its initial image: so the rows set it.
 */
#define QEMU_DOWNTIME_LIMIT_MS 30000
static const char *const qemu_caps[] = { "return-path", "switchover-ack",
					 NULL };

/* Seed 002's rows: QEMU with sequential (Disabled) and parallel transitions. */
static const struct {
	int ndev;
	double seq, par;
} seed002_qemu[] = { { 1, 497, 493 }, { 2, 758, 653 }, { 4, 1385, 986 } };

/*
 * Both engines' rows model a switchover that waited for every initial
 * image (switchover-ack): one that did not would time the images' transfer
 * as downtime and say nothing about the calibration.  0, or -1 with @err
 * naming the device.
 */
static int images_before_downtime(const struct bench_devs *d,
				  uint64_t start_ns, char *err, size_t errlen)
{
	for (int i = 0; i < d->n; i++) {
		unsigned long long t_img = 0;
		int ret = mockvf_attr_u64(d->dst[i], "resume_image_ns", &t_img);

		if (ret) {
			snprintf(err, errlen, "%s: resume_image_ns: %s",
				 d->dst[i], strerror(-ret));
			return -1;
		}
		if (!t_img || t_img > start_ns) {
			snprintf(err, errlen,
				 "%s: initial image not across before the downtime began (at %llu ns, downtime from %llu ns)",
				 d->dst[i], t_img, (unsigned long long)start_ns);
			return -1;
		}
	}
	return 0;
}

static int device_downtime(const struct bench_devs *d, double *ms, char *err,
			   size_t errlen)
{
	struct dt_log src[BENCH_MAX_DEVS] = { 0 }, dst[BENCH_MAX_DEVS] = { 0 };
	struct dt_pair pairs[BENCH_MAX_DEVS];
	struct dt_result r = { .pairs = pairs };
	char path[128];
	int ret = 0, i;

	for (i = 0; i < d->n && !ret; i++) {
		snprintf(path, sizeof(path),
			 "/sys/bus/mdev/devices/%s/mockvf/log", d->src[i]);
		ret = dt_log_read(&src[i], path, err, errlen);
		snprintf(path, sizeof(path),
			 "/sys/bus/mdev/devices/%s/mockvf/log", d->dst[i]);
		if (!ret)
			ret = dt_log_read(&dst[i], path, err, errlen);
	}
	if (!ret) {
		ret = dt_compute(src, dst, d->n, &r);
		if (ret || !r.ok)
			snprintf(err, errlen, "%s", r.err);
		else
			*ms = r.downtime_ns / 1e6;
		if (!ret && !r.ok)
			ret = -1;
	}
	if (!ret)
		ret = images_before_downtime(d, r.start_ns, err, errlen);
	for (i = 0; i < d->n; i++) {
		dt_log_free(&src[i]);
		dt_log_free(&dst[i]);
	}
	return ret;
}

/* One QEMU migration of @d: QEMU's downtime and the device-side one. */
static int qemu_run(struct bench_devs *d, double *qemu_ms, double *dev_ms)
{
	const char *src[BENCH_MAX_DEVS], *dst[BENCH_MAX_DEVS];
	struct qvm_opts in = { .incoming = true };
	struct qvm *s = NULL, *t = NULL;
	json_t *final = NULL;
	char err[1024];
	int ret = -1;

	for (int i = 0; i < d->n; i++) {
		src[i] = d->src[i];
		dst[i] = d->dst[i];
	}
	t = qvm_start("dst", dst, d->n, &in, err, sizeof(err));
	if (t && qvm_set_caps(t, qemu_caps, err, sizeof(err))) {
		qvm_destroy(t);
		t = NULL;
	}
	if (t)
		s = qvm_start("src", src, d->n, NULL, err, sizeof(err));
	if (s && (qvm_set_caps(s, qemu_caps, err, sizeof(err)) ||
		  qvm_set_downtime_limit(s, QEMU_DOWNTIME_LIMIT_MS, err,
					 sizeof(err)))) {
		qvm_destroy(s);
		s = NULL;
	}
	if (s && !qvm_migrate(s, t, QEMU_MIGRATE_TIMEOUT_MS, &final, err,
			      sizeof(err))) {
		*qemu_ms = json_number_value(json_object_get(final, "downtime"));
		/* The destination starts its devices after the source is done. */
		for (int i = 0; i < 500; i++) {
			if (qvm_running(t, NULL, 0, err, sizeof(err)) != 0)
				break;
			usleep(20000);
		}
		ret = 0;
	}
	json_decref(final);
	if (!ret && !bench_digests_equal(d)) {
		snprintf(err, sizeof(err), "a destination digest differs");
		ret = -1;
	}
	if (!ret)
		ret = device_downtime(d, dev_ms, err, sizeof(err));
	if (ret)
		fprintf(stderr, "vfio-migbench: QEMU run: %s\n", err);
	qvm_destroy(s);
	qvm_destroy(t);
	return ret;
}

static const char *const par_opts[] = { "--transitions", "parallel", NULL };

/* One engine migration (parallel), with its device-side downtime. */
static int engine_run(const struct bench_cfg *cfg, struct bench_devs *d,
		      int rep, double *rep_ms, double *dev_ms)
{
	struct bench_result res;
	char json[512], err[512];
	int ret;

	snprintf(json, sizeof(json), "%s/raw/qemu-peer-engine-%ddev-%d.json",
		 cfg->outdir, d->n, rep);
	ret = bench_migrate(cfg, d, par_opts, json, &res);
	if (ret)
		return ret;
	*rep_ms = res.downtime_ms;
	ret = device_downtime(d, dev_ms, err, sizeof(err));
	if (ret)
		fprintf(stderr, "vfio-migbench: engine run: %s\n", err);
	return ret;
}

static void add_row(json_t *rows, int n, const char *who, const char *what,
		    struct bench_stat s)
{
	json_array_append_new(rows, json_pack("{s:i,s:s,s:s,s:f,s:f,s:f,s:i}",
					      "devices", n, "engine", who,
					      "measure", what, "median_ms",
					      s.median, "min_ms", s.min,
					      "max_ms", s.max, "runs", s.n));
}

static void cell(struct bench_stat s)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.0f [%.0f-%.0f]", s.median, s.min, s.max);
	printf(" %-16s", buf);
}

int bench_qemu(const struct bench_cfg *cfg)
{
	static const int counts[] = { 1, 2, 4 };
	int reps = cfg->reps < 3 ? cfg->reps : 3;
	json_t *doc, *rows;
	char why[512], path[512];
	const char *qemu;
	int ret = 0;

	printf("\nTable 1c: QEMU as a peer on the same cx7 devices, downtime ms, "
	       "median [min-max] of %d\n", reps);
	qemu = qvm_find_qemu(why, sizeof(why));
	if (!qemu) {
		printf("skipped: %s\n", why);
		return 0;
	}
	printf("QEMU: %s\n", qemu);
	printf("devs | %-16s %-16s | %-16s %-16s | engine/QEMU | seed seq (QEMU vs it) | seed par (engine vs it)\n",
	       "QEMU reported", "QEMU dev-side", "engine par rep", "engine dev-side");
	rows = json_array();
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]) && !ret; c++) {
		double q[BENCH_MAX_REPS], qd[BENCH_MAX_REPS];
		double e[BENCH_MAX_REPS], ed[BENCH_MAX_REPS];
		struct bench_stat sq, sqd, se, sed;
		int n = counts[c];

		for (int r = 0; r < reps && !ret; r++) {
			struct bench_devs d;

			ret = bench_devs_create(&d, n, "cx7");
			if (!ret)
				ret = qemu_run(&d, &q[r], &qd[r]);
			bench_devs_remove(&d);
			if (!ret)
				ret = bench_devs_create(&d, n, "cx7");
			if (!ret)
				ret = engine_run(cfg, &d, r, &e[r], &ed[r]);
			bench_devs_remove(&d);
		}
		if (ret)
			break;
		sq = bench_stat_of(q, reps);
		sqd = bench_stat_of(qd, reps);
		se = bench_stat_of(e, reps);
		sed = bench_stat_of(ed, reps);
		printf("%4d |", n);
		cell(sq);
		cell(sqd);
		printf(" |");
		cell(se);
		cell(sed);
		printf(" | %11.2f |", sed.median / sqd.median);
		for (size_t k = 0; k < sizeof(seed002_qemu) / sizeof(seed002_qemu[0]); k++)
			if (seed002_qemu[k].ndev == n)
				printf(" %5.0f (%+4.0f%%)            | %5.0f (%+4.0f%%)",
				       seed002_qemu[k].seq,
				       100 * (sq.median / seed002_qemu[k].seq - 1),
				       seed002_qemu[k].par,
				       100 * (sed.median / seed002_qemu[k].par - 1));
		printf("\n");
		fflush(stdout);
		add_row(rows, n, "qemu", "qemu-reported", sq);
		add_row(rows, n, "qemu", "device-side", sqd);
		add_row(rows, n, "engine-parallel", "engine-reported", se);
		add_row(rows, n, "engine-parallel", "device-side", sed);
	}
	if (!ret)
		printf("engine/QEMU: the engine's parallel device-side downtime "
		       "over QEMU's device-side downtime (< 1: the engine is "
		       "faster); the cx7 model is calibrated so that QEMU's "
		       "reported downtime is within 20%% of the seed's "
		       "sequential (Disabled) row\n");
	doc = json_pack("{s:s,s:s,s:o}", "table", "1c", "qemu", qemu, "rows",
			rows);
	snprintf(path, sizeof(path), "%s/qemu-peer.json", cfg->outdir);
	if (json_dump_file(doc, path, JSON_INDENT(2)))
		fprintf(stderr, "vfio-migbench: cannot write %s\n", path);
	json_decref(doc);
	return ret ? -1 : 0;
}
