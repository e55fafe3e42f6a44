// SPDX-License-Identifier: GPL-2.0
/*
 * precopy - VFIO_MIG_GET_PRECOPY_INFO, PRECOPY_INFOv2 and MIG_DATA_SIZE on
 * every selected device: the query is refused outside PRE_COPY states;
 * initial_bytes starts non-zero and only falls as data is read, reaching
 * 0 at the temporary end; flags stay 0 without the opt-in; with the opt-in
 * (when accepted) flags carry at most REINIT and initial_bytes only falls
 * between REINITs; devices without PRE_COPY refuse the opt-in; and
 * MIG_DATA_SIZE bounds what STOP_COPY then delivers.
 */
#define _GNU_SOURCE
#include "cf_suite.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_STREAM (8ull << 30)

static int ndevs(void)
{
	return cf.profile && cf_ndevices() ? 1 : cf_ndevices();
}

static struct vm_precopy_info query(struct cf_dev *d, int fd, const char *st)
{
	struct vm_precopy_info info = { .flags = 0 };
	int ret = cf_precopy_info(fd, &info);

	if (ret) {
		mt_fail_here(__FILE__, __LINE__, "dev %s: "
			     "VFIO_MIG_GET_PRECOPY_INFO in %s: %s (%d)",
			     d->name, st, strerror(-ret), ret);
		mt_abort_test();
	}
	return info;
}

TEST(precopy_info_refused_outside_pre_copy)
{
	for (int i = 0; i < ndevs(); i++) {
		struct cf_dev *d = cf_use(cf_device(i));
		struct vm_precopy_info info;
		int fd, ret;

		cf_need(d, VFIO_MIGRATION_PRE_COPY, "PRE_COPY");
		fd = cf_must(d, MT_STOP_COPY);
		ret = cf_precopy_info(fd, &info);
		if (ret != -EINVAL)
			mt_fail_here(__FILE__, __LINE__, "dev %s: "
				     "VFIO_MIG_GET_PRECOPY_INFO in STOP_COPY: "
				     "%s (%d), expected EINVAL", d->name,
				     ret ? strerror(-ret) : "success", ret);
		close(fd);
		cf_must_reset(d);
		/* A PRE_COPY fd after PRE_COPY->RUNNING: the session is over. */
		fd = cf_must(d, MT_PRE_COPY);
		cf_must(d, MT_RUNNING);
		ret = cf_precopy_info(fd, &info);
		if (!ret)
			mt_fail_here(__FILE__, __LINE__, "dev %s: "
				     "VFIO_MIG_GET_PRECOPY_INFO answers on a "
				     "PRE_COPY fd after PRE_COPY->RUNNING",
				     d->name);
		close(fd);
		cf_must_reset(d);
	}
}

/*
 * Read @fd in small pieces to the temporary end, querying after each:
 * initial_bytes never grows unless @v2 and REINIT is reported.  Returns
 * the number of REINITs seen.
 */
static int read_and_watch(struct cf_dev *d, int fd, bool v2)
{
	static char buf[4096];
	struct vm_precopy_info info = query(d, fd, "PRE_COPY");
	uint64_t last = info.initial_bytes, total = 0;
	int reinits = 0;

	mt_log("dev %s: PRE_COPY initial %llu dirty %llu flags 0x%x", d->name,
	       (unsigned long long)info.initial_bytes,
	       (unsigned long long)info.dirty_bytes, info.flags);
	/* vfio.h: "should have a non-zero initial value" */
	EXPECT_GT(info.initial_bytes, 0);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0 || errno != ENOMSG)
				mt_fail_here(__FILE__, __LINE__, "dev %s: "
					     "PRE_COPY read ended with %s",
					     d->name, n ? cf_errname(errno) :
					     "0 (EOF)");
			break;
		}
		total += n;
		if (total > MAX_STREAM) {
			mt_fail_here(__FILE__, __LINE__, "dev %s: no temporary "
				     "end in %llu bytes", d->name,
				     (unsigned long long)total);
			break;
		}
		info = query(d, fd, "PRE_COPY");
		if (info.flags & ~(uint32_t)VFIO_PRECOPY_INFO_REINIT ||
		    (!v2 && info.flags))
			mt_fail_here(__FILE__, __LINE__, "dev %s: precopy info "
				     "flags 0x%x (%s opt-in)", d->name,
				     info.flags, v2 ? "undefined bits with" :
				     "non-zero without");
		if (info.flags & VFIO_PRECOPY_INFO_REINIT) {
			reinits++;
		} else if (info.initial_bytes > last) {
			mt_fail_here(__FILE__, __LINE__, "dev %s: initial_bytes "
				     "grew from %llu to %llu after reading "
				     "%zd bytes, without REINIT", d->name,
				     (unsigned long long)last,
				     (unsigned long long)info.initial_bytes, n);
		}
		last = info.initial_bytes;
	}
	/* The temporary end is reached when both fields are zero (vfio.h). */
	info = query(d, fd, "PRE_COPY at the temporary end");
	if (info.initial_bytes)
		mt_fail_here(__FILE__, __LINE__, "dev %s: ENOMSG with "
			     "initial_bytes %llu still to read", d->name,
			     (unsigned long long)info.initial_bytes);
	mt_log("dev %s: read %llu bytes to the temporary end, %d REINITs",
	       d->name, (unsigned long long)total, reinits);
	return reinits;
}

TEST_TIMEOUT(initial_bytes_fall_as_read, 120)
{
	for (int i = 0; i < ndevs(); i++) {
		struct cf_dev *d = cf_use(cf_device(i));
		int fd;

		cf_need(d, VFIO_MIGRATION_PRE_COPY, "PRE_COPY");
		fd = cf_must(d, MT_PRE_COPY);
		read_and_watch(d, fd, false);
		if (d->flags & VFIO_MIGRATION_P2P) {
			cf_must(d, MT_PRE_COPY_P2P);
			query(d, fd, "PRE_COPY_P2P");
		}
		close(fd);
		cf_must_reset(d);
	}
}

TEST_TIMEOUT(precopy_v2_opt_in, 120)
{
	for (int i = 0; i < ndevs(); i++) {
		struct cf_dev *d = cf_use(cf_device(i));
		int fd, ret;

		cf_need(d, VFIO_MIGRATION_PRE_COPY, "PRE_COPY");
		ret = cf_precopy_v2(d, VFIO_DEVICE_FEATURE_SET);
		if (ret)
			SKIP("device %s refuses VFIO_DEVICE_FEATURE_MIG_PRECOPY_"
			     "INFOv2: %s (no REINIT)", d->name, cf_errname(ret));
		/* The feature is SET only. */
		ret = cf_precopy_v2(d, VFIO_DEVICE_FEATURE_GET);
		if (!ret)
			mt_fail_here(__FILE__, __LINE__, "dev %s: GET of "
				     "MIG_PRECOPY_INFOv2 succeeded", d->name);
		fd = cf_must(d, MT_PRE_COPY);
		read_and_watch(d, fd, true);
		close(fd);
		cf_must_reset(d);
	}
}

TEST(precopy_v2_refused_without_pre_copy)
{
	int tested = 0;

	for (int i = 0; i < cf_ndevices(); i++) {
		struct cf_dev *d;
		int ret;

		if (cf_device_flags(i) == CF_NO_MIGRATION ||
		    cf_device_flags(i) & VFIO_MIGRATION_PRE_COPY)
			continue;
		d = cf_use(cf_device(i));
		ret = cf_precopy_v2(d, VFIO_DEVICE_FEATURE_SET);
		if (!ret)
			mt_fail_here(__FILE__, __LINE__, "dev %s: no PRE_COPY "
				     "but MIG_PRECOPY_INFOv2 accepted", d->name);
		tested++;
	}
	if (!tested)
		SKIP("every selected device has PRE_COPY (or no migration)");
}

/*
 * The estimate in a state, then the stream STOP_COPY delivers from there.
 * Tolerance (docs/hardware.md): the stream may exceed the estimate by
 * framing (S/4 + 64 KiB), the estimate may exceed the stream by 4x + 16 MiB
 * (mlx5 rounds up to its chunk size).
 */
static void check_bound(struct cf_dev *d, uint64_t est, uint64_t got,
			const char *where, bool tight)
{
	mt_log("dev %s: MIG_DATA_SIZE %s %llu, STOP_COPY delivered %llu",
	       d->name, where, (unsigned long long)est,
	       (unsigned long long)got);
	if (got > est + est / 4 + 65536)
		mt_fail_here(__FILE__, __LINE__, "dev %s: STOP_COPY delivered "
			     "%llu bytes, MIG_DATA_SIZE %s said %llu", d->name,
			     (unsigned long long)got, where,
			     (unsigned long long)est);
	/* After precopy a driver may still report the full image (mlx5). */
	if (tight && est > 4 * got + (16ull << 20))
		mt_fail_here(__FILE__, __LINE__, "dev %s: MIG_DATA_SIZE %s "
			     "%llu is no bound on %llu bytes", d->name, where,
			     (unsigned long long)est, (unsigned long long)got);
}

TEST_TIMEOUT(mig_data_size_bounds_stop_copy, 120)
{
	for (int i = 0; i < ndevs(); i++) {
		struct cf_dev *d = cf_use(cf_device(i));
		struct mbuf b = { 0 };
		uint64_t est;
		int fd, ret = cf_data_size(d, &est);

		if (ret)
			SKIP("device %s: VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: %s "
			     "(not supported)", d->name, cf_errname(ret));
		/* vfio.h: "Can be called on each device state." */
		cf_must(d, MT_STOP);
		ASSERT_EQ(0, cf_data_size(d, &est));
		fd = cf_must(d, MT_STOP_COPY);
		ASSERT_EQ(0, cf_read_all(fd, &b, MAX_STREAM));
		check_bound(d, est, b.len, "in STOP", true);
		close(fd);
		mbuf_free(&b);
		cf_must_reset(d);
		if (!(d->flags & VFIO_MIGRATION_PRE_COPY))
			continue;
		fd = cf_must(d, MT_PRE_COPY);
		ret = cf_read_all(fd, &b, MAX_STREAM);
		ASSERT_EQ(-ENOMSG, ret);
		mbuf_free(&b);
		if (d->flags & VFIO_MIGRATION_P2P)
			cf_must(d, MT_PRE_COPY_P2P);
		ASSERT_EQ(0, cf_data_size(d, &est));
		cf_must(d, MT_STOP_COPY);
		ASSERT_EQ(0, cf_read_all(fd, &b, MAX_STREAM));
		check_bound(d, est, b.len, "after precopy", false);
		close(fd);
		mbuf_free(&b);
		cf_must_reset(d);
	}
}

CONFORMANCE_PROGRAM()
TEST_MAIN()
