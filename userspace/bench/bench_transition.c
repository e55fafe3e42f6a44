// SPDX-License-Identifier: GPL-2.0
/*
 * bench_transition.c - the second half of table 3: what libvfiomig adds to
 * one state transition.  On the zero-latency `tiny` profile an arc costs
 * only the kernel's work, so RUNNING <-> RUNNING_P2P through
 * vfiomig_device_set_arc() (planner check, error text, observer, cached
 * state) is timed against the same arcs as bare VFIO_DEVICE_FEATURE
 * ioctls on the same device fd.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "vfiomig.h"

#include <errno.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#define PAIRS 200

static int bare_arc(int fd, uint32_t state)
{
	struct {
		struct vfio_device_feature f;
		struct vfio_device_feature_mig_state st;
	} __attribute__((packed)) req = {
		.f.argsz = sizeof(req),
		.f.flags = VFIO_DEVICE_FEATURE_SET |
			   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
		.st.device_state = state,
	};

	return ioctl(fd, VFIO_DEVICE_FEATURE, &req) ? -errno : 0;
}

/* Mean µs per arc over PAIRS round trips, or < 0 on error. */
static double time_arcs(struct vfiomig_device *dev, bool bare)
{
	int fd = vfiomig_device_fd(dev);
	uint64_t t0 = vfiomig_now_ns();
	int ret = 0;

	for (int i = 0; i < PAIRS && !ret; i++) {
		if (bare) {
			ret = bare_arc(fd, VFIO_DEVICE_STATE_RUNNING_P2P);
			if (!ret)
				ret = bare_arc(fd, VFIO_DEVICE_STATE_RUNNING);
		} else {
			ret = vfiomig_device_set_arc(dev, VFIOMIG_RUNNING_P2P);
			if (!ret)
				ret = vfiomig_device_set_arc(dev, VFIOMIG_RUNNING);
		}
	}
	if (ret) {
		fprintf(stderr, "vfio-migbench: %s arcs on %s: %s\n",
			bare ? "bare" : "libvfiomig", vfiomig_device_name(dev),
			bare ? strerror(-ret) : vfiomig_device_errmsg(dev));
		return -1;
	}
	return (vfiomig_now_ns() - t0) / 1e3 / (2.0 * PAIRS);
}

/* One measurement of both on a fresh tiny device. */
static int measure(double *bare, double *lib)
{
	struct vfiomig_device *dev = NULL;
	struct vfiomig_ctx *ctx = NULL;
	struct bench_devs d;
	int state, ret;

	ret = bench_devs_create(&d, 1, "tiny");
	if (ret)
		return ret;
	ret = vfiomig_ctx_new(&ctx);
	if (!ret)
		ret = vfiomig_device_open(ctx, d.src[0], &dev);
	if (ret) {
		fprintf(stderr, "vfio-migbench: open %s: %s\n", d.src[0],
			ctx ? vfiomig_ctx_errmsg(ctx) : strerror(-ret));
		goto out;
	}
	*bare = time_arcs(dev, true);
	/* the library must learn what the bare ioctls did */
	ret = *bare < 0 ? -EIO : vfiomig_device_get_state(dev, &state);
	if (!ret)
		*lib = time_arcs(dev, false);
	if (!ret && *lib < 0)
		ret = -EIO;
out:
	vfiomig_device_close(dev);
	vfiomig_ctx_free(ctx);
	bench_devs_remove(&d);
	return ret;
}

int bench_transition_overhead(const struct bench_cfg *cfg)
{
	double bare[BENCH_MAX_REPS], lib[BENCH_MAX_REPS];
	struct bench_stat b, l;

	for (int i = 0; i < cfg->reps; i++) {
		int ret = measure(&bare[i], &lib[i]);

		if (ret)
			return ret;
	}
	b = bench_stat_of(bare, cfg->reps);
	l = bench_stat_of(lib, cfg->reps);
	printf("\nper transition, tiny profile (RUNNING <-> RUNNING_P2P, %d "
	       "pairs), us, median [min-max] of %d\n", PAIRS, cfg->reps);
	bench_print_row("bare VFIO_DEVICE_FEATURE ioctl", b, 1);
	bench_print_row("vfiomig_device_set_arc()", l, 1);
	printf("engine overhead per transition: %+.1f us (%+.0f%%)\n",
	       l.median - b.median, 100 * (l.median / b.median - 1));
	return 0;
}
