// SPDX-License-Identifier: GPL-2.0
/*
 * roundtrip - save on one device, resume on another: the destination's
 * digest equals the source's digest at STOP_COPY, for every profile, with
 * and without PRE_COPY, with a workload dirtying the source.
 */
#include "harness.h"
#include "vfio_dev.h"

#include <stdlib.h>
#include <unistd.h>

static void roundtrip(const char *profile, int precopy)
{
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN];
	char before[17], at_stop[17];
	struct vfio_dev *src, *dst;

	mvt_require();
	mvt_create(profile, us);
	mvt_create(profile, ud);
	src = mvt_open(us);
	dst = mvt_open(ud);

	snprintf(before, sizeof(before), "%s", mvt_attr(ud, "digest"));
	/* devices start with different random contents */
	ASSERT_TRUE(strcmp(before, mvt_attr(us, "digest")) != 0);
	mvt_migrate(src, dst, precopy, at_stop);
	ASSERT_STREQ(at_stop, mvt_attr(ud, "digest"));
	ASSERT_STREQ("RUNNING", mvt_attr(ud, "state"));
	ASSERT_STREQ("STOP", mvt_attr(us, "state"));
	/* the source did not change while stopped */
	ASSERT_STREQ(at_stop, mvt_attr(us, "digest"));
}

/*
 * saved_digest keeps what the STOP_COPY stream carried after the source is
 * closed, returns to RUNNING and its workload changes the live digest.
 */
TEST(saved_digest_outlives_the_source)
{
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN], at_stop[17];
	struct vfio_dev *src, *dst;

	mvt_require();
	mvt_create("tiny", us);
	mvt_create("tiny", ud);
	mvt_set(us, "dirty_rate", "4194304");
	src = mvt_open(us);
	dst = mvt_open(ud);
	mvt_migrate(src, dst, 1, at_stop);
	ASSERT_STREQ(at_stop, mvt_attr(us, "saved_digest"));
	ASSERT_STREQ(at_stop, mvt_attr(ud, "digest"));
	vfio_dev_close(src);
	ASSERT_STREQ("RUNNING", mvt_attr(us, "state"));
	usleep(200000);
	ASSERT_TRUE(strcmp(at_stop, mvt_attr(us, "digest")) != 0);
	ASSERT_STREQ(at_stop, mvt_attr(us, "saved_digest"));
}

TEST(tiny_precopy) { roundtrip("tiny", 1); }
TEST(tiny_stopcopy) { roundtrip("tiny", 0); }
TEST(nopre_stopcopy) { roundtrip("nopre", 0); }
TEST(nop2p_precopy)
{
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN], d[17];
	struct vfio_dev *src, *dst;
	struct mbuf b = { 0 };
	int fd;

	/* no P2P: PRE_COPY -> STOP_COPY directly */
	mvt_require();
	mvt_create("nop2p", us);
	mvt_create("nop2p", ud);
	src = mvt_open(us);
	dst = mvt_open(ud);
	fd = mvt_goto(src, MT_PRE_COPY);
	ASSERT_EQ(-ENOMSG, vfio_read_stream(fd, &b));
	ASSERT_EQ(-1, mvt_goto(src, MT_STOP_COPY));
	snprintf(d, sizeof(d), "%s", mvt_attr(us, "digest"));
	ASSERT_EQ(0, vfio_read_stream(fd, &b));
	close(fd);
	fd = mvt_goto(dst, MT_RESUMING);
	ASSERT_EQ(0, vfio_write_all(fd, b.p, b.len, 4096));
	close(fd);
	ASSERT_EQ(-1, mvt_goto(dst, MT_RUNNING));
	ASSERT_STREQ(d, mvt_attr(ud, "digest"));
	mbuf_free(&b);
}
TEST(nop2p_stopcopy) { roundtrip("nop2p", 0); }
TEST_TIMEOUT(cx7_precopy, 120) { roundtrip("cx7", 1); }
TEST_TIMEOUT(cx7_stopcopy, 120) { roundtrip("cx7", 0); }

/* A busy source: pages dirtied during PRE_COPY reach the destination. */
TEST_TIMEOUT(tiny_precopy_dirtying, 60)
{
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN], d[17];
	struct vfio_dev *src, *dst;
	struct vm_precopy_info info;
	struct mbuf b = { 0 };
	int fd, i, rfd;

	mvt_require();
	mvt_create("tiny", us);
	mvt_create("tiny", ud);
	mvt_set(us, "state_size", "262144");
	mvt_set(us, "dirty_rate", "4000000");
	src = mvt_open(us);
	dst = mvt_open(ud);
	fd = mvt_goto(src, MT_PRE_COPY);
	/* a few precopy rounds: read, then query (which queues dirt) */
	for (i = 0; i < 5; i++) {
		int ret = vfio_read_stream(fd, &b);

		ASSERT_EQ(-ENOMSG, ret);
		usleep(50000);
		memset(&info, 0, sizeof(info));
		ASSERT_EQ(0, vfio_dev_precopy_info(fd, &info));
	}
	ASSERT_EQ(-1, mvt_goto(src, MT_PRE_COPY_P2P));
	ASSERT_EQ(-1, mvt_goto(src, MT_STOP_COPY));
	snprintf(d, sizeof(d), "%s", mvt_attr(us, "digest"));
	ASSERT_EQ(0, vfio_read_stream(fd, &b));
	close(fd);
	/* more than one full image went over: dirty pages were resent */
	EXPECT_GT(b.len, 262144 + 1024);
	rfd = mvt_goto(dst, MT_RESUMING);
	ASSERT_EQ(0, vfio_write_all(rfd, b.p, b.len, 3000));
	close(rfd);
	ASSERT_EQ(-1, mvt_goto(dst, MT_RUNNING));
	/* the destination adopted the source's state size */
	ASSERT_EQ(262144, mvt_attr_u64(ud, "state_size"));
	ASSERT_STREQ(d, mvt_attr(ud, "digest"));
	mbuf_free(&b);
}

/* Migrating back and forth keeps the state. */
TEST(ping_pong)
{
	char ua[MOCKVF_UUID_LEN], ub[MOCKVF_UUID_LEN], d1[17], d2[17];
	struct vfio_dev *a, *b;

	mvt_require();
	mvt_create("tiny", ua);
	mvt_create("tiny", ub);
	a = mvt_open(ua);
	b = mvt_open(ub);
	mvt_migrate(a, b, 1, d1);
	ASSERT_EQ(0, vfio_dev_reset(a));
	mvt_migrate(b, a, 1, d2);
	ASSERT_STREQ(d1, d2);
	ASSERT_STREQ(d1, mvt_attr(ua, "digest"));
}

TEST_MAIN()
