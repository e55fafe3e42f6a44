// SPDX-License-Identifier: GPL-2.0
/*
 * precopy - VFIO_MIG_GET_PRECOPY_INFO under a workload, MIG_DATA_SIZE,
 * and PRECOPY_INFOv2 / REINIT: reported only after the opt-in, once per
 * re-configuration; without it the caller's flags are echoed.
 */
#include "harness.h"
#include "vfio_dev.h"

#include <stdlib.h>
#include <unistd.h>

/* Stream bytes of a full image: INFO record, DATA records of 256 KiB. */
static uint64_t image_bytes(uint64_t size)
{
	uint64_t chunks = (size + 262143) / 262144;

	return 24 + 16 + chunks * (24 + 8) + size;
}

#define END_BYTES (24 + 16 + 4096)	/* digest, count, BAR0 */

static struct vm_precopy_info query(int fd, uint32_t flags_in)
{
	struct vm_precopy_info info = { .flags = flags_in };

	ASSERT_EQ(0, vfio_dev_precopy_info(fd, &info));
	return info;
}

TEST(initial_bytes_fall_as_read)
{
	char u[MOCKVF_UUID_LEN];
	struct vm_precopy_info info;
	struct vfio_dev *d;
	struct mbuf b = { 0 };
	uint64_t total = image_bytes(16384), got = 0, sz;
	char buf[1000];
	ssize_t n;
	int fd;

	mvt_require();
	mvt_create("tiny", u);
	d = mvt_open(u);
	ASSERT_EQ(0, vfio_dev_data_size(d, &sz));
	ASSERT_EQ(total + END_BYTES, sz);
	fd = mvt_goto(d, MT_PRE_COPY);
	info = query(fd, 0);
	ASSERT_EQ(total, info.initial_bytes);
	ASSERT_EQ(0, info.dirty_bytes);
	while (got < total) {
		n = read(fd, buf, sizeof(buf));
		ASSERT_GT(n, 0);
		got += n;
		info = query(fd, 0);
		ASSERT_EQ(total - got, info.initial_bytes);
	}
	ASSERT_EQ(total, got);
	ASSERT_EQ(-ENOMSG, vfio_read_stream(fd, &b));
	ASSERT_EQ(0, b.len);
	info = query(fd, 0);
	ASSERT_EQ(0, info.initial_bytes);
	ASSERT_EQ(0, info.dirty_bytes);
	/* what STOP_COPY still has to send: the END record */
	ASSERT_EQ(0, vfio_dev_data_size(d, &sz));
	ASSERT_EQ(END_BYTES, sz);
	/* leaving PRE_COPY kills the file; the ioctl says EINVAL */
	ASSERT_EQ(-1, mvt_goto(d, MT_RUNNING));
	{
		struct vm_precopy_info i2 = { 0 };

		ASSERT_EQ(-EINVAL, vfio_dev_precopy_info(fd, &i2));
	}
	close(fd);
}

TEST_TIMEOUT(dirty_bytes_follow_workload, 60)
{
	char u[MOCKVF_UUID_LEN];
	struct vm_precopy_info i1, i2, i3;
	struct vfio_dev *d;
	struct mbuf b = { 0 };
	int fd;

	mvt_require();
	mvt_create("tiny", u);
	mvt_set(u, "state_size", "1048576");
	d = mvt_open(u);
	fd = mvt_goto(d, MT_PRE_COPY);
	ASSERT_EQ(-ENOMSG, vfio_read_stream(fd, &b));
	i1 = query(fd, 0);
	ASSERT_EQ(0, i1.initial_bytes);
	ASSERT_EQ(0, i1.dirty_bytes);	/* idle */

	mvt_set(u, "dirty_rate", "2000000");
	usleep(200000);
	i1 = query(fd, 0);
	usleep(300000);
	i2 = query(fd, 0);
	EXPECT_GT(i1.dirty_bytes, 0);
	EXPECT_GT(i2.dirty_bytes, i1.dirty_bytes);
	EXPECT_EQ(0, i2.initial_bytes);
	/* the data behind dirty_bytes is readable (the query queued it) */
	b.len = 0;
	ASSERT_EQ(-ENOMSG, vfio_read_stream(fd, &b));
	EXPECT_GT(b.len, 4096);

	/* quiesced: no more growth */
	ASSERT_EQ(-1, mvt_goto(d, MT_PRE_COPY_P2P));
	i2 = query(fd, 0);
	usleep(200000);
	i3 = query(fd, 0);
	EXPECT_LE(i3.dirty_bytes, i2.dirty_bytes);
	close(fd);
	mbuf_free(&b);
}

TEST(flags_echoed_without_optin)
{
	char u[MOCKVF_UUID_LEN];
	struct vm_precopy_info i;
	struct vfio_dev *d;
	struct mbuf b = { 0 };
	uint64_t total = image_bytes(16384);
	int fd;

	mvt_require();
	mvt_create("tiny", u);
	d = mvt_open(u);
	ASSERT_STREQ("0", mvt_attr(u, "precopy_info_v2"));
	fd = mvt_goto(d, MT_PRE_COPY);
	i = query(fd, 0xdead0000u | VFIO_PRECOPY_INFO_REINIT);
	ASSERT_EQ(0xdead0000u | VFIO_PRECOPY_INFO_REINIT, i.flags);
	i = query(fd, 0);
	ASSERT_EQ(0, i.flags);
	ASSERT_EQ(-ENOMSG, vfio_read_stream(fd, &b));

	/* a re-configuration: new data, but initial_bytes stays monotonic */
	mvt_set(u, "reconfig", "1");
	i = query(fd, 0x1234u);
	ASSERT_EQ(0x1234u, i.flags);
	ASSERT_EQ(0, i.initial_bytes);
	ASSERT_GE(i.dirty_bytes, total);
	i = query(fd, 0);
	ASSERT_EQ(0, i.flags);
	close(fd);
	mbuf_free(&b);
}

TEST(reinit_after_optin)
{
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN], dg[17];
	struct vm_precopy_info i;
	struct vfio_dev *d, *dst;
	struct mbuf b = { 0 };
	uint64_t total = image_bytes(16384);
	size_t before;
	int fd, rfd;

	mvt_require();
	mvt_create("tiny", us);
	mvt_create("tiny", ud);
	d = mvt_open(us);
	dst = mvt_open(ud);
	ASSERT_EQ(0, vfio_dev_precopy_v2(d));
	ASSERT_STREQ("1", mvt_attr(us, "precopy_info_v2"));
	fd = mvt_goto(d, MT_PRE_COPY);
	/* flags are output now: input bits are not echoed */
	i = query(fd, 0xffff0000u);
	ASSERT_EQ(0, i.flags);
	ASSERT_EQ(total, i.initial_bytes);
	ASSERT_EQ(-ENOMSG, vfio_read_stream(fd, &b));
	i = query(fd, 0);
	ASSERT_EQ(0, i.flags);
	ASSERT_EQ(0, i.initial_bytes);

	mvt_set(us, "reconfig", "1");
	i = query(fd, 0);
	ASSERT_EQ(VFIO_PRECOPY_INFO_REINIT, i.flags);
	ASSERT_EQ(total, i.initial_bytes);	/* a whole new image */
	ASSERT_EQ(0, i.dirty_bytes);
	/* reported once */
	i = query(fd, 0);
	ASSERT_EQ(0, i.flags);
	ASSERT_EQ(total, i.initial_bytes);
	before = b.len;
	ASSERT_EQ(-ENOMSG, vfio_read_stream(fd, &b));
	ASSERT_EQ(total, b.len - before);
	i = query(fd, 0);
	ASSERT_EQ(0, i.initial_bytes);
	ASSERT_EQ(0, i.flags);

	/* the stream with two images still resumes to the right state */
	ASSERT_EQ(-1, mvt_goto(d, MT_PRE_COPY_P2P));
	ASSERT_EQ(-1, mvt_goto(d, MT_STOP_COPY));
	snprintf(dg, sizeof(dg), "%s", mvt_attr(us, "digest"));
	ASSERT_EQ(0, vfio_read_stream(fd, &b));
	close(fd);
	rfd = mvt_goto(dst, MT_RESUMING);
	ASSERT_EQ(0, vfio_write_all(rfd, b.p, b.len, 5000));
	close(rfd);
	ASSERT_EQ(-1, mvt_goto(dst, MT_RUNNING));
	ASSERT_STREQ(dg, mvt_attr(ud, "digest"));
	mbuf_free(&b);

	/* the opt-in belongs to the open: gone after close */
	vfio_dev_close(d);
	ASSERT_STREQ("0", mvt_attr(us, "precopy_info_v2"));
	ASSERT_EQ(0, vfio_dev_open(us, d));
	ASSERT_STREQ("0", mvt_attr(us, "precopy_info_v2"));
}

TEST(optin_refused)
{
	char u1[MOCKVF_UUID_LEN], u2[MOCKVF_UUID_LEN];
	struct vfio_device_feature f = { .argsz = sizeof(f) };
	struct vfio_dev *d;

	mvt_require();
	mvt_create("tiny", u1);
	d = mvt_open(u1);
	/* PROBE for SET works, GET is not supported */
	f.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
		  VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2;
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_FEATURE, &f));
	ASSERT_STREQ("0", mvt_attr(u1, "precopy_info_v2"));
	f.flags = VFIO_DEVICE_FEATURE_GET |
		  VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2;
	ASSERT_EQ(-1, ioctl(d->fd, VFIO_DEVICE_FEATURE, &f));
	ASSERT_EQ(EINVAL, errno);
	/* a device that is not REINIT capable refuses */
	mvt_set(u1, "reinit_capable", "0");
	ASSERT_EQ(-EINVAL, vfio_dev_precopy_v2(d));
	ASSERT_STREQ("0", mvt_attr(u1, "precopy_info_v2"));
	mvt_set(u1, "reinit_capable", "1");
	ASSERT_EQ(0, vfio_dev_precopy_v2(d));
	/* cannot withdraw the capability under an opted-in user */
	ASSERT_EQ(-EBUSY, mockvf_attr_write(u1, "reinit_capable", "0"));

	/* no PRE_COPY, no opt-in */
	mvt_create("nopre", u2);
	d = mvt_open(u2);
	ASSERT_EQ(-EINVAL, vfio_dev_precopy_v2(d));
	ASSERT_EQ(-EINVAL, mockvf_attr_write(u2, "reinit_capable", "1"));
	/* an unknown feature index is not ours either */
	f.flags = VFIO_DEVICE_FEATURE_SET | 13;
	ASSERT_EQ(-1, ioctl(d->fd, VFIO_DEVICE_FEATURE, &f));
}

TEST_TIMEOUT(reconfig_timer_reinits, 60)
{
	char u[MOCKVF_UUID_LEN];
	struct vm_precopy_info i;
	struct vfio_dev *d;
	struct mbuf b = { 0 };
	int fd, k, seen = 0;

	mvt_require();
	mvt_create("tiny", u);
	d = mvt_open(u);
	ASSERT_EQ(0, vfio_dev_precopy_v2(d));
	fd = mvt_goto(d, MT_PRE_COPY);
	ASSERT_EQ(-ENOMSG, vfio_read_stream(fd, &b));
	mvt_set(u, "reconfig_interval_ms", "200");
	for (k = 0; k < 100 && seen < 2; k++) {
		usleep(20000);
		i = query(fd, 0);
		if (i.flags & VFIO_PRECOPY_INFO_REINIT) {
			seen++;
			EXPECT_GE(i.initial_bytes, image_bytes(16384));
			EXPECT_EQ(0, i.dirty_bytes);
			/* drain so the next REINIT is measured afresh */
			EXPECT_EQ(-ENOMSG, vfio_read_stream(fd, &b));
		}
	}
	ASSERT_EQ(2, seen);
	mvt_set(u, "reconfig_interval_ms", "0");
	close(fd);
	mbuf_free(&b);
}

/* A re-configuration while the initial image is still being produced. */
TEST_TIMEOUT(reinit_during_initial_image, 60)
{
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN], dg[17];
	struct vm_precopy_info i;
	struct vfio_dev *d, *dst;
	struct mbuf b = { 0 };
	uint64_t total = image_bytes(1048576);
	size_t pos, infos = 0;
	int fd, rfd;

	mvt_require();
	mvt_create("tiny", us);
	mvt_create("tiny", ud);
	mvt_set(us, "state_size", "1048576");
	/* ~1 s for the initial image */
	mvt_set(us, "timing/save_bw_kbps", "1024");
	d = mvt_open(us);
	dst = mvt_open(ud);
	ASSERT_EQ(0, vfio_dev_precopy_v2(d));
	fd = mvt_goto(d, MT_PRE_COPY);
	usleep(300000);
	i = query(fd, 0);
	ASSERT_EQ(0, i.flags);
	ASSERT_EQ(total, i.initial_bytes);
	mvt_set(us, "reconfig", "1");
	i = query(fd, 0);
	ASSERT_EQ(VFIO_PRECOPY_INFO_REINIT, i.flags);
	/* what was produced of the old image + a whole new one */
	ASSERT_GT(i.initial_bytes, total);
	ASSERT_LT(i.initial_bytes, 2 * total);
	mvt_set(us, "timing/save_bw_kbps", "0");
	ASSERT_EQ(-ENOMSG, vfio_read_stream(fd, &b));
	ASSERT_EQ(i.initial_bytes, b.len);
	/* two INFO records: the abandoned image and the new one */
	for (pos = 0; pos + 24 <= b.len;) {
		uint32_t len = b.p[pos + 12] | b.p[pos + 13] << 8 |
			       b.p[pos + 14] << 16 | (uint32_t)b.p[pos + 15] << 24;

		if (b.p[pos + 6] == 1)
			infos++;
		pos += 24 + len;
	}
	ASSERT_EQ(b.len, pos);
	ASSERT_EQ(2, infos);
	ASSERT_EQ(-1, mvt_goto(d, MT_PRE_COPY_P2P));
	ASSERT_EQ(-1, mvt_goto(d, MT_STOP_COPY));
	snprintf(dg, sizeof(dg), "%s", mvt_attr(us, "digest"));
	ASSERT_EQ(0, vfio_read_stream(fd, &b));
	close(fd);
	rfd = mvt_goto(dst, MT_RESUMING);
	ASSERT_EQ(0, vfio_write_all(rfd, b.p, b.len, 65536));
	close(rfd);
	ASSERT_EQ(-1, mvt_goto(dst, MT_RUNNING));
	ASSERT_STREQ(dg, mvt_attr(ud, "digest"));
	mbuf_free(&b);
}

TEST(data_size_tracks_state_size)
{
	char u[MOCKVF_UUID_LEN];
	struct vfio_dev *d;
	uint64_t sz;

	mvt_require();
	mvt_create("tiny", u);
	d = mvt_open(u);
	mvt_set(u, "state_size", "1048576");
	ASSERT_EQ(0, vfio_dev_data_size(d, &sz));
	ASSERT_EQ(image_bytes(1048576) + END_BYTES, sz);
	ASSERT_EQ(-1, mvt_goto(d, MT_STOP));
	ASSERT_EQ(0, vfio_dev_data_size(d, &sz));
	ASSERT_EQ(image_bytes(1048576) + END_BYTES, sz);
}

TEST_MAIN()
