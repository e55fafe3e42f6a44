// SPDX-License-Identifier: GPL-2.0
/*
 * selected_devices - migration behaviour of the devices chosen by devsel.h:
 * mock devices by default, real VFs on a lab host
 * (VFIO_MIGTEST_DEVICES=SRC=DST,...).  A device without a feature a test
 * needs makes that test SKIP naming the missing flag; a device without
 * migration support makes every test SKIP saying so.
 */
#define _GNU_SOURCE
#include "devsel.h"
#include "harness.h"
#include "mockvf_dev.h"
#include "vfiomig.h"
#include "vfiomig_session.h"

#include <pthread.h>
#include <stdlib.h>

struct fixture {
	struct devsel ds;
	struct vfiomig_ctx *ctx;
};

static void release(void *p)
{
	struct fixture *fx = p;

	vfiomig_ctx_free(fx->ctx);
	devsel_release(&fx->ds);
	free(fx);
}

static struct fixture *setup(int pairs)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char why[512];

	ASSERT_TRUE(fx != NULL);
	if (devsel_get(pairs, "tiny", &fx->ds, why, sizeof(why))) {
		free(fx);
		SKIP("%s", why);
	}
	mt_log("devices from %s", fx->ds.origin);
	ASSERT_EQ(0, vfiomig_ctx_new(&fx->ctx));
	mt_defer(release, fx);
	return fx;
}

static void close_dev(void *p)
{
	vfiomig_device_close(p);
}

/* Open @name for migration, or SKIP when it has none. */
static struct vfiomig_device *open_dev(struct fixture *fx, const char *name)
{
	struct vfiomig_device *dev;
	int ret = vfiomig_device_open(fx->ctx, name, &dev);

	if (ret == -EOPNOTSUPP)
		SKIP("device %s has no VFIO migration support (%s)", name,
		     vfiomig_ctx_errmsg(fx->ctx));
	if (ret)
		mt_log("%s", vfiomig_ctx_errmsg(fx->ctx));
	ASSERT_EQ(0, ret);
	mt_defer(close_dev, dev);
	return dev;
}

static void need(struct vfiomig_device *dev, uint64_t flag, const char *what)
{
	if (!(vfiomig_device_flags(dev) & flag))
		SKIP("device %s lacks %s", vfiomig_device_name(dev), what);
}

static void expect_state(struct vfiomig_device *dev, int want)
{
	int state = -1;

	ASSERT_EQ(0, vfiomig_device_get_state(dev, &state));
	if (state != want)
		mt_log("%s: in %s, expected %s", vfiomig_device_name(dev),
		       vfiomig_state_name(state), vfiomig_state_name(want));
	ASSERT_EQ(want, state);
}

TEST(stop_copy_is_supported)
{
	struct fixture *fx = setup(1);
	struct vfiomig_device *dev = open_dev(fx, fx->ds.dev[0]);
	char flags[64];

	mt_log("%s: %s", fx->ds.dev[0],
	       vfiomig_flags_str(vfiomig_device_flags(dev), flags, sizeof(flags)));
	ASSERT_TRUE(vfiomig_device_flags(dev) & VFIOMIG_FLAG_STOP_COPY);
	expect_state(dev, VFIOMIG_RUNNING);
}

TEST(stop_and_resume_round_trip)
{
	struct fixture *fx = setup(1);
	struct vfiomig_device *dev = open_dev(fx, fx->ds.dev[0]);

	ASSERT_EQ(0, vfiomig_device_goto(dev, VFIOMIG_STOP));
	expect_state(dev, VFIOMIG_STOP);
	ASSERT_EQ(0, vfiomig_device_goto(dev, VFIOMIG_RUNNING));
	expect_state(dev, VFIOMIG_RUNNING);
}

TEST(p2p_states)
{
	struct fixture *fx = setup(1);
	struct vfiomig_device *dev = open_dev(fx, fx->ds.dev[0]);

	need(dev, VFIOMIG_FLAG_P2P, "P2P (VFIO_MIGRATION_P2P)");
	ASSERT_EQ(0, vfiomig_device_goto(dev, VFIOMIG_RUNNING_P2P));
	expect_state(dev, VFIOMIG_RUNNING_P2P);
	ASSERT_EQ(0, vfiomig_device_goto(dev, VFIOMIG_STOP));
	ASSERT_EQ(0, vfiomig_device_goto(dev, VFIOMIG_RUNNING_P2P));
	ASSERT_EQ(0, vfiomig_device_goto(dev, VFIOMIG_RUNNING));
	expect_state(dev, VFIOMIG_RUNNING);
}

TEST(precopy_info_in_pre_copy)
{
	struct fixture *fx = setup(1);
	struct vfiomig_device *dev = open_dev(fx, fx->ds.dev[0]);
	struct vfiomig_precopy_info info;

	need(dev, VFIOMIG_FLAG_PRE_COPY, "PRE_COPY (VFIO_MIGRATION_PRE_COPY)");
	/* Outside PRE_COPY states the query is refused. */
	ASSERT_NE(0, vfiomig_device_precopy_info(dev, &info));
	ASSERT_EQ(0, vfiomig_device_goto(dev, VFIOMIG_PRE_COPY));
	ASSERT_EQ(0, vfiomig_device_precopy_info(dev, &info));
	mt_log("initial %llu dirty %llu",
	       (unsigned long long)info.initial_bytes,
	       (unsigned long long)info.dirty_bytes);
	ASSERT_EQ(0, vfiomig_device_goto(dev, VFIOMIG_RUNNING));
	expect_state(dev, VFIOMIG_RUNNING);
}

TEST(reinit_opt_in)
{
	struct fixture *fx = setup(1);
	struct vfiomig_device *dev = open_dev(fx, fx->ds.dev[0]);
	int ret;

	need(dev, VFIOMIG_FLAG_PRE_COPY, "PRE_COPY (VFIO_MIGRATION_PRE_COPY)");
	ret = vfiomig_device_precopy_v2(dev);
	if (ret)
		SKIP("device %s refuses VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 "
		     "(no REINIT): %s", fx->ds.dev[0], strerror(-ret));
	ASSERT_TRUE(vfiomig_device_precopy_v2_enabled(dev));
}

struct dest_args {
	struct vfiomig_device **devs;
	unsigned n;
	struct vfiomig_link *link;
	struct vfiomig_opts *opts;
	struct vfiomig_report *rep;
	char err[256];
	int ret;
};

static void *run_dest(void *p)
{
	struct dest_args *a = p;

	a->ret = vfiomig_migrate_dest(a->devs, a->n, a->link, a->opts, &a->rep,
				      a->err, sizeof(a->err));
	return NULL;
}

TEST_TIMEOUT(local_migration_of_pairs, 300)
{
	struct fixture *fx = setup(2);
	struct vfiomig_device *src[DEVSEL_MAX], *dst[DEVSEL_MAX];
	struct vfiomig_link *ls, *ld;
	struct vfiomig_report *rep = NULL;
	struct vfiomig_opts opts;
	struct dest_args da;
	char before[DEVSEL_MAX][64], err[256];
	unsigned n = 0;
	pthread_t th;
	int ret;

	for (int i = 0; i < fx->ds.ndevs; i++) {
		if (!fx->ds.peer[i][0])
			continue;
		src[n] = open_dev(fx, fx->ds.dev[i]);
		dst[n] = open_dev(fx, fx->ds.peer[i]);
		if (fx->ds.mock)
			ASSERT_EQ(0, mockvf_attr_read(fx->ds.dev[i], "digest",
						      before[n], 64));
		n++;
	}
	if (!n)
		SKIP("no SRC=DST pairs among the selected devices");
	vfiomig_opts_init(&opts);
	ASSERT_EQ(0, vfiomig_link_pair(&ls, &ld));
	memset(&da, 0, sizeof(da));
	da.devs = dst;
	da.n = n;
	da.link = ld;
	da.opts = &opts;
	ASSERT_EQ(0, pthread_create(&th, NULL, run_dest, &da));
	ret = vfiomig_migrate_source(src, n, ls, &opts, &rep, err, sizeof(err));
	pthread_join(th, NULL);
	if (ret)
		mt_log("source: %s", err);
	if (da.ret)
		mt_log("destination: %s", da.err);
	if (rep) {
		mt_log("downtime %.3f ms",
		       vfiomig_report_downtime_ns(rep) / 1e6);
		vfiomig_report_free(rep);
	}
	vfiomig_report_free(da.rep);
	vfiomig_link_free(ls);
	vfiomig_link_free(ld);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, da.ret);
	for (unsigned i = 0; i < n; i++) {
		expect_state(dst[i], VFIOMIG_RUNNING);
		expect_state(src[i], VFIOMIG_STOP);
	}
	if (!fx->ds.mock)
		return;
	for (int i = 0, k = 0; i < fx->ds.ndevs; i++) {
		char after[64];

		if (!fx->ds.peer[i][0])
			continue;
		ASSERT_EQ(0, mockvf_attr_read(fx->ds.peer[i], "digest", after,
					      sizeof(after)));
		ASSERT_STREQ(before[k], after);
		k++;
	}
}

DEVSEL_PROGRAM()
TEST_MAIN()
