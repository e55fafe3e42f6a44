// SPDX-License-Identifier: GPL-2.0
/*
 * bench_datapath.c - table 3 of docs/benchmarks.md: how close the engine's
 * stop-copy transfer comes to the fastest possible one, a plain read/write
 * loop from a source's save fd into a destination's resume fd in the same
 * VM.  Both use a no-PRE_COPY mock whose firmware model is instantaneous,
 * so all of the state moves in STOP_COPY and only the data path is timed.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "mockvf_dev.h"
#include "vfiomig.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATAPATH_PROFILE "nopre"
#define DATAPATH_STATE "67108864"	/* 64 MiB */
#define RAW_CHUNK (1 << 20)

/* Every firmware latency 0, bandwidth unlimited, a state of @size. */
static int instant_firmware_size(struct bench_devs *d, const char *size)
{
	char path[256];
	struct dirent *e;
	DIR *dir;
	int ret = bench_devs_set(d, "state_size", size, true);

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/mockvf/timing",
		 d->src[0]);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while (!ret && (e = readdir(dir))) {
		char attr[300];

		if (e->d_name[0] == '.')
			continue;
		snprintf(attr, sizeof(attr), "timing/%s", e->d_name);
		ret = bench_devs_set(d, attr, "0", true);
	}
	closedir(dir);
	return ret;
}

static int instant_firmware(struct bench_devs *d)
{
	return instant_firmware_size(d, DATAPATH_STATE);
}

/* One plain copy of @d's first pair; returns MB/s, or < 0 on error. */
static double raw_copy(struct bench_devs *d)
{
	struct vfiomig_device *src = NULL, *dst = NULL;
	struct vfiomig_ctx *ctx = NULL;
	double t0, t1, mbps = -1;
	uint64_t bytes = 0;
	char *buf = malloc(RAW_CHUNK);
	int ret;

	ret = buf ? vfiomig_ctx_new(&ctx) : -ENOMEM;
	if (!ret)
		ret = vfiomig_device_open(ctx, d->src[0], &src);
	if (!ret)
		ret = vfiomig_device_open(ctx, d->dst[0], &dst);
	if (ret) {
		fprintf(stderr, "vfio-migbench: raw copy: %s\n",
			ctx ? vfiomig_ctx_errmsg(ctx) : strerror(-ret));
		goto out;
	}
	ret = vfiomig_device_goto(dst, VFIOMIG_RESUMING);
	if (!ret)
		ret = vfiomig_device_goto(src, VFIOMIG_STOP_COPY);
	t0 = vfiomig_now_ns() / 1e9;
	while (!ret) {
		size_t got;

		ret = vfiomig_device_read(src, buf, RAW_CHUNK, &got);
		if (ret || !got)
			break;
		ret = vfiomig_device_write(dst, buf, got);
		bytes += got;
	}
	t1 = vfiomig_now_ns() / 1e9;
	if (!ret)
		ret = vfiomig_device_goto(dst, VFIOMIG_RUNNING);
	if (ret) {
		fprintf(stderr, "vfio-migbench: raw copy: %s / %s\n",
			vfiomig_device_errmsg(src), vfiomig_device_errmsg(dst));
		goto out;
	}
	vfiomig_device_goto(src, VFIOMIG_STOP);
	mbps = bytes / 1e6 / (t1 - t0);
out:
	vfiomig_device_close(src);
	vfiomig_device_close(dst);
	vfiomig_ctx_free(ctx);
	free(buf);
	if (mbps > 0 && !bench_digests_equal(d))
		mbps = -1;
	return mbps;
}

/* One engine run over @transport ("memory" or "socket"): MB/s, < 0 on error. */
static double engine_copy(const struct bench_cfg *cfg, const char *transport,
			  int rep)
{
	const char *const opts[] = { "--transitions", "parallel",
				     "--transport", transport, NULL };
	struct bench_result res;
	struct bench_devs d;
	char json[512];
	int ret;

	ret = bench_devs_create(&d, 1, DATAPATH_PROFILE);
	if (ret)
		return -1;
	ret = instant_firmware(&d);
	snprintf(json, sizeof(json), "%s/raw/datapath-%s-%d.json", cfg->outdir,
		 transport, rep);
	if (!ret)
		ret = bench_migrate(cfg, &d, opts, json, &res);
	bench_devs_remove(&d);
	if (ret || res.xfer_ms <= 0)
		return -1;
	return res.stopcopy_bytes[0] / 1e6 / (res.xfer_ms / 1e3);
}

double bench_raw_copy_mbps(const char *size)
{
	struct bench_devs d;
	double mbps;
	int ret = bench_devs_create(&d, 1, DATAPATH_PROFILE);

	if (ret)
		return -1;
	ret = instant_firmware_size(&d, size);
	mbps = ret ? -1 : raw_copy(&d);
	bench_devs_remove(&d);
	return mbps;
}

/*
 * A repetition takes about a second, and one copy's speed depends on
 * where the scheduler puts the device's save worker (the raw copy ranges
 * over 1.7x in one run): three times the other tables' repetitions.
 */
static int datapath_reps(const struct bench_cfg *cfg)
{
	return cfg->reps * 3 < BENCH_MAX_REPS ? cfg->reps * 3 : BENCH_MAX_REPS;
}

int bench_datapath(const struct bench_cfg *cfg)
{
	double raw[BENCH_MAX_REPS], mem[BENCH_MAX_REPS], sock[BENCH_MAX_REPS];
	int reps = datapath_reps(cfg);
	struct bench_stat r, m, k;

	/* Interleaved, so a busy host slows every row alike. */
	for (int i = 0; i < reps; i++) {
		struct bench_devs d;
		int ret;

		ret = bench_devs_create(&d, 1, DATAPATH_PROFILE);
		if (ret)
			return ret;
		ret = instant_firmware(&d);
		raw[i] = ret ? -1 : raw_copy(&d);
		bench_devs_remove(&d);
		mem[i] = engine_copy(cfg, "memory", i);
		sock[i] = engine_copy(cfg, "socket", i);
		if (raw[i] < 0 || mem[i] < 0 || sock[i] < 0)
			return -EIO;
	}
	r = bench_stat_of(raw, reps);
	m = bench_stat_of(mem, reps);
	k = bench_stat_of(sock, reps);
	printf("\nTable 3: stop-copy data path, %s profile, 64 MiB, MB/s, "
	       "median [min-max] of %d\n", DATAPATH_PROFILE, reps);
	bench_print_row("raw save-fd -> resume-fd copy", r, 0);
	bench_print_row("engine, in-memory transport", m, 0);
	bench_print_row("engine, socketpair transport", k, 0);
	printf("engine / raw: in-memory %.2f (target >= 0.80), socket %.2f\n",
	       m.median / r.median, k.median / r.median);
	return bench_transition_overhead(cfg);
}
