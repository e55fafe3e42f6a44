// SPDX-License-Identifier: GPL-2.0
/*
 * fidelity - where mockvf behaves like mlx5_vfio_pci (the cx7 profile's
 * default) and where a per-device knob keeps the mock's original
 * behaviour (the other profiles' default).  One test per row of the
 * fidelity table in docs/mockvf.md; each runs both modes on tiny devices
 * with the knob set explicitly.
 */
#include "harness.h"
#include "vfio_dev.h"

#include <stdlib.h>
#include <unistd.h>

#define HDR 24
#define END_BYTES (24 + 16 + 4096)	/* digest, count, BAR0 */

static const char *const knobs[] = {
	"resume_strict", "load_at_stop", "data_size_left",
	"precopy_info_eager", "precopy_read_wait", "error_on_fail",
	"reset_keeps_state",
};
#define NKNOBS (sizeof(knobs) / sizeof(knobs[0]))

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Offsets of the records of @b (up to @max); returns how many. */
static int records(const struct mbuf *b, size_t *off, int max)
{
	size_t pos = 0;
	int n = 0;

	while (pos + HDR <= b->len && n < max) {
		off[n++] = pos;
		pos += HDR + le32(b->p + pos + 12);
	}
	return n;
}

static uint64_t image_bytes(uint64_t size)
{
	uint64_t chunks = (size + 262143) / 262144;

	return 24 + 16 + chunks * (24 + 8) + size;
}

static struct vm_precopy_info query(int fd)
{
	struct vm_precopy_info info = { 0 };

	ASSERT_EQ(0, vfio_dev_precopy_info(fd, &info));
	return info;
}

/* The STOP_COPY stream of a fresh tiny source of @size bytes. */
static void stopcopy_stream(const char *size, struct mbuf *b, char *digest)
{
	char u[MOCKVF_UUID_LEN];
	struct vfio_dev *d;
	int fd;

	mvt_create("tiny", u);
	mvt_set(u, "state_size", size);
	d = mvt_open(u);
	fd = mvt_goto(d, MT_STOP_COPY);
	snprintf(digest, 17, "%s", mvt_attr(u, "digest"));
	memset(b, 0, sizeof(*b));
	ASSERT_EQ(0, vfio_read_stream(fd, b));
	close(fd);
}

TEST(profile_defaults_and_bad_values)
{
	static const char *const bad[] = { "2", "-1", "x", "1 1", "01x" };
	static const char *const other[] = { "tiny", "nopre", "nop2p" };
	char u[MOCKVF_UUID_LEN];

	mvt_require();
	mvt_create("cx7", u);
	for (size_t i = 0; i < NKNOBS; i++) {
		mt_log("cx7 %s = %s", knobs[i], mvt_attr(u, knobs[i]));
		ASSERT_STREQ("0", mvt_attr(u, knobs[i]));
	}
	for (size_t p = 0; p < 3; p++) {
		mvt_create(other[p], u);
		for (size_t i = 0; i < NKNOBS; i++)
			ASSERT_STREQ("1", mvt_attr(u, knobs[i]));
	}
	for (size_t i = 0; i < NKNOBS; i++) {
		for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++)
			EXPECT_EQ(-EINVAL, mockvf_attr_write(u, knobs[i], bad[j]));
		mvt_set(u, knobs[i], "0");
		ASSERT_STREQ("0", mvt_attr(u, knobs[i]));
		mvt_set(u, knobs[i], "1");
		ASSERT_STREQ("1", mvt_attr(u, knobs[i]));
	}
}

TEST(knobs_busy)
{
	char u[MOCKVF_UUID_LEN];
	struct vfio_dev *d;
	int fd;

	mvt_require();
	mvt_create("tiny", u);
	d = mvt_open(u);
	fd = mvt_goto(d, MT_RESUMING);
	EXPECT_EQ(-EBUSY, mockvf_attr_write(u, "resume_strict", "0"));
	EXPECT_EQ(-EBUSY, mockvf_attr_write(u, "load_at_stop", "0"));
	EXPECT_EQ(0, mockvf_attr_write(u, "precopy_read_wait", "0"));
	close(fd);
	ASSERT_EQ(0, vfio_dev_reset(d));
	fd = mvt_goto(d, MT_PRE_COPY);
	EXPECT_EQ(-EBUSY, mockvf_attr_write(u, "precopy_info_eager", "0"));
	EXPECT_EQ(-EBUSY, mockvf_attr_write(u, "precopy_read_wait", "1"));
	EXPECT_EQ(0, mockvf_attr_write(u, "resume_strict", "0"));
	EXPECT_EQ(0, mockvf_attr_write(u, "data_size_left", "0"));
	EXPECT_EQ(0, mockvf_attr_write(u, "reset_keeps_state", "0"));
	close(fd);
	mvt_set(u, "fault", "fail STOP 1 5");
	ASSERT_EQ(-EIO, vfio_dev_set_state(d, MT_STOP, NULL));
	ASSERT_EQ(MT_ERROR, mvt_state(d));
	EXPECT_EQ(-EBUSY, mockvf_attr_write(u, "error_on_fail", "0"));
	ASSERT_EQ(0, vfio_dev_reset(d));
	EXPECT_EQ(0, mockvf_attr_write(u, "error_on_fail", "0"));
}

/*
 * Item 1, mlx5vf_resume_write(): each complete image is loaded inside
 * write(); RESUMING->STOP only closes the file, so a truncated stream
 * resumes "successfully" with what was loaded.  resume_strict=1 keeps the
 * commit at RESUMING->STOP with the END and digest checks.
 */
TEST(resume_loads_in_write)
{
	char ud[MOCKVF_UUID_LEN], sd[17], old[17];
	struct vfio_dev *dst;
	struct mbuf s;
	size_t off[16];
	int fd, n;

	mvt_require();
	stopcopy_stream("1048576", &s, sd);
	n = records(&s, off, 16);
	ASSERT_EQ(6, n);		/* INFO, 4 DATA, END */
	mvt_create("tiny", ud);
	mvt_set(ud, "resume_strict", "0");
	mvt_set(ud, "reset_keeps_state", "1");
	dst = mvt_open(ud);
	snprintf(old, sizeof(old), "%s", mvt_attr(ud, "digest"));

	/* the whole image but no END: loaded by the write, STOP succeeds */
	fd = mvt_goto(dst, MT_RESUMING);
	ASSERT_EQ(0, vfio_write_all(fd, s.p, off[5], 65536));
	ASSERT_STREQ(sd, mvt_attr(ud, "digest"));	/* before STOP */
	ASSERT_EQ(0, vfio_dev_set_state(dst, MT_STOP, NULL));
	close(fd);
	ASSERT_STREQ("STOP", mvt_attr(ud, "state"));
	ASSERT_STREQ(sd, mvt_attr(ud, "digest"));
	ASSERT_EQ(0, vfio_dev_reset(dst));

	/* cut inside the image: nothing loaded, STOP still succeeds */
	mvt_set(ud, "state_size", "16384");
	snprintf(old, sizeof(old), "%s", mvt_attr(ud, "digest"));
	fd = mvt_goto(dst, MT_RESUMING);
	ASSERT_EQ(0, vfio_write_all(fd, s.p, off[3] + HDR + 10, 65536));
	ASSERT_STREQ(old, mvt_attr(ud, "digest"));
	ASSERT_EQ(0, vfio_dev_set_state(dst, MT_STOP, NULL));
	close(fd);
	ASSERT_STREQ(old, mvt_attr(ud, "digest"));
	ASSERT_EQ(0, vfio_dev_reset(dst));

	/* strict: the same cut before END fails RESUMING->STOP */
	mvt_set(ud, "resume_strict", "1");
	mvt_set(ud, "error_on_fail", "1");
	fd = mvt_goto(dst, MT_RESUMING);
	ASSERT_EQ(0, vfio_write_all(fd, s.p, off[5], 65536));
	ASSERT_STREQ(old, mvt_attr(ud, "digest"));	/* shadow only */
	ASSERT_EQ(-EINVAL, vfio_dev_set_state(dst, MT_STOP, NULL));
	close(fd);
	ASSERT_EQ(MT_ERROR, mvt_state(dst));
	ASSERT_STREQ(old, mvt_attr(ud, "digest"));
	ASSERT_EQ(0, vfio_dev_reset(dst));
	mbuf_free(&s);
}

/*
 * Item 1: a precopy stream cut among its dirty-page records leaves a
 * partly loaded device (neither the old state nor the source's).
 */
TEST(truncated_precopy_stream_partly_loaded)
{
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN], old[17], saved[17];
	struct vfio_dev *src, *dst;
	struct mbuf s = { 0 };
	size_t off[512];
	int fd, n;

	mvt_require();
	mvt_create("tiny", us);
	mvt_create("tiny", ud);
	mvt_set(us, "state_size", "1048576");
	mvt_set(ud, "resume_strict", "0");
	src = mvt_open(us);
	dst = mvt_open(ud);
	snprintf(old, sizeof(old), "%s", mvt_attr(ud, "digest"));
	fd = mvt_goto(src, MT_PRE_COPY);
	ASSERT_EQ(-ENOMSG, vfio_read_stream(fd, &s));
	ASSERT_EQ(image_bytes(1048576), s.len);
	mvt_set(us, "dirty_rate", "40000000");
	usleep(200000);
	mvt_set(us, "dirty_rate", "0");
	ASSERT_EQ(0, vfio_dev_set_state(src, MT_PRE_COPY_P2P, NULL));
	ASSERT_EQ(0, vfio_dev_set_state(src, MT_STOP_COPY, NULL));
	ASSERT_EQ(0, vfio_read_stream(fd, &s));
	close(fd);
	snprintf(saved, sizeof(saved), "%s", mvt_attr(us, "saved_digest"));
	n = records(&s, off, 512);
	mt_log("%d records, %d of dirty pages", n, n - 6);
	ASSERT_GE(n, 7);

	/* drop the last dirty record and END */
	fd = mvt_goto(dst, MT_RESUMING);
	ASSERT_EQ(0, vfio_write_all(fd, s.p, off[n - 2], 65536));
	ASSERT_EQ(0, vfio_dev_set_state(dst, MT_STOP, NULL));
	close(fd);
	ASSERT_STREQ("STOP", mvt_attr(ud, "state"));
	EXPECT_TRUE(strcmp(old, mvt_attr(ud, "digest")) != 0);
	EXPECT_TRUE(strcmp(saved, mvt_attr(ud, "digest")) != 0);
	ASSERT_EQ(0, vfio_dev_reset(dst));

	/* the whole stream: the source's state */
	fd = mvt_goto(dst, MT_RESUMING);
	ASSERT_EQ(0, vfio_write_all(fd, s.p, s.len, 65536));
	ASSERT_EQ(0, vfio_dev_set_state(dst, MT_STOP, NULL));
	close(fd);
	ASSERT_STREQ(saved, mvt_attr(ud, "digest"));
	mbuf_free(&s);
}

/*
 * Item 2: the load cost is paid by the write() that completes an image
 * (mlx5 LOADs there), not by RESUMING->STOP; load_at_stop=1 keeps the
 * original placement.
 */
static void load_cost(bool at_stop)
{
	char ud[MOCKVF_UUID_LEN], sd[17];
	struct vfio_dev *dst;
	uint64_t t0, tw0, tw, ts, img;
	struct mbuf s;
	int fd;

	mvt_require();
	stopcopy_stream("65536", &s, sd);
	mvt_create("tiny", ud);
	mvt_set(ud, "timing/load_us", "300000");
	mvt_set(ud, "load_at_stop", at_stop ? "1" : "0");
	dst = mvt_open(ud);
	fd = mvt_goto(dst, MT_RESUMING);
	tw0 = vfio_now_ns();
	ASSERT_EQ(0, vfio_write_all(fd, s.p, s.len, s.len));
	tw = vfio_now_ns() - tw0;
	img = mvt_attr_u64(ud, "resume_image_ns");
	t0 = vfio_now_ns();
	ASSERT_EQ(0, vfio_dev_set_state(dst, MT_STOP, NULL));
	ts = vfio_now_ns() - t0;
	close(fd);
	mt_log("load_at_stop=%d: write %llu ms, RESUMING->STOP %llu ms",
	       at_stop, (unsigned long long)tw / 1000000,
	       (unsigned long long)ts / 1000000);
	ASSERT_STREQ(sd, mvt_attr(ud, "digest"));
	ASSERT_GT(img, 0);
	if (at_stop) {
		EXPECT_LT(tw, 200000000ull);
		EXPECT_GE(ts, 290000000ull);
	} else {
		EXPECT_GE(tw, 290000000ull);
		EXPECT_LT(ts, 200000000ull);
		/* the image counts as there once it was loaded */
		EXPECT_GE(img, tw0 + 290000000ull);
	}
	mbuf_free(&s);
}

TEST(load_cost_in_write) { load_cost(false); }
TEST(load_cost_at_stop) { load_cost(true); }

/*
 * resume_image_ns marks the first full image the destination received.
 * A source re-configured while its first image streams sends part of that
 * image, then a new INFO and the whole new image: the new image is the
 * one a switchover-ack waits for, and the one that sets resume_image_ns.
 */
static void image_after_cut_image(bool strict)
{
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN], dg[17];
	const size_t part = 300 << 10;	/* of a 4 MiB image, queue 1 MiB */
	struct vfio_dev *src, *dst;
	struct mbuf b = { 0 };
	uint8_t *buf = malloc(part);
	size_t got = 0;
	int fd, rfd;

	ASSERT_TRUE(buf != NULL);
	mvt_require();
	mvt_create("tiny", us);
	mvt_create("tiny", ud);
	mvt_set(us, "state_size", "4194304");
	mvt_set(ud, "state_size", "4194304");
	mvt_set(ud, "resume_strict", strict ? "1" : "0");
	src = mvt_open(us);
	dst = mvt_open(ud);
	fd = mvt_goto(src, MT_PRE_COPY);
	rfd = mvt_goto(dst, MT_RESUMING);
	while (got < part) {
		ssize_t n = read(fd, buf + got, part - got);

		ASSERT_GT(n, 0);
		got += (size_t)n;
	}
	ASSERT_EQ(0, vfio_write_all(rfd, buf, got, 65536));
	ASSERT_EQ(0, mvt_attr_u64(ud, "resume_image_ns"));

	mvt_set(us, "reconfig", "1");
	ASSERT_EQ(0, vfio_dev_set_state(src, MT_STOP_COPY, NULL));
	ASSERT_EQ(0, vfio_read_stream(fd, &b));
	snprintf(dg, sizeof(dg), "%s", mvt_attr(us, "digest"));
	uint64_t t0 = vfio_now_ns();

	ASSERT_EQ(0, vfio_write_all(rfd, b.p, b.len, 65536));
	uint64_t img = mvt_attr_u64(ud, "resume_image_ns");

	mt_log("strict=%d: %zu bytes of the cut image, then %zu; image at +%lld us",
	       strict, got, b.len, (long long)(img - t0) / 1000);
	ASSERT_GE(img, t0);
	ASSERT_EQ(0, vfio_dev_set_state(dst, MT_STOP, NULL));
	close(rfd);
	close(fd);
	ASSERT_STREQ(dg, mvt_attr(ud, "digest"));
	mbuf_free(&b);
	free(buf);
}

TEST(image_after_cut_image_loaded) { image_after_cut_image(false); }
TEST(image_after_cut_image_strict) { image_after_cut_image(true); }

/*
 * Item 3, mlx5vf_pci_get_data_size(): MIG_DATA_SIZE is the full image in
 * every state; data_size_left=1 reports what is left to read.
 */
TEST(data_size_is_full_image)
{
	char u[MOCKVF_UUID_LEN];
	uint64_t full = image_bytes(1048576) + END_BYTES, sz;
	struct vfio_dev *d;
	struct mbuf b = { 0 };
	int fd;

	mvt_require();
	mvt_create("tiny", u);
	mvt_set(u, "state_size", "1048576");
	mvt_set(u, "data_size_left", "0");
	d = mvt_open(u);
	ASSERT_EQ(0, vfio_dev_data_size(d, &sz));
	ASSERT_EQ(full, sz);
	fd = mvt_goto(d, MT_PRE_COPY);
	ASSERT_EQ(-ENOMSG, vfio_read_stream(fd, &b));
	ASSERT_EQ(image_bytes(1048576), b.len);
	ASSERT_EQ(0, vfio_dev_data_size(d, &sz));
	ASSERT_EQ(full, sz);		/* did not shrink */
	mvt_set(u, "data_size_left", "1");
	ASSERT_EQ(0, vfio_dev_data_size(d, &sz));
	mt_log("left: %llu of %llu", (unsigned long long)sz,
	       (unsigned long long)full);
	ASSERT_LT(sz, full / 2);
	close(fd);
	mbuf_free(&b);
}

/*
 * Item 4: in PRE_COPY, PRECOPY_INFO waits for an in-flight SAVE (mlx5
 * queries the firmware first); precopy_info_eager=1 never waits.
 */
static uint64_t first_query_ns(bool eager)
{
	char u[MOCKVF_UUID_LEN];
	struct vm_precopy_info info;
	struct vfio_dev *d;
	uint64_t t0, dt;
	int fd;

	mvt_create("tiny", u);
	mvt_set(u, "state_size", "1048576");
	mvt_set(u, "timing/save_bw_kbps", "2048");	/* ~0.5 s image */
	mvt_set(u, "precopy_info_eager", eager ? "1" : "0");
	d = mvt_open(u);
	fd = mvt_goto(d, MT_PRE_COPY);
	t0 = vfio_now_ns();
	info = query(fd);
	dt = vfio_now_ns() - t0;
	mt_log("eager=%d: PRECOPY_INFO took %llu ms, initial %llu", eager,
	       (unsigned long long)dt / 1000000,
	       (unsigned long long)info.initial_bytes);
	EXPECT_EQ(image_bytes(1048576), info.initial_bytes);
	close(fd);
	return dt;
}

TEST(precopy_info_waits_for_save)
{
	mvt_require();
	EXPECT_GE(first_query_ns(false), 300000000ull);
	EXPECT_LT(first_query_ns(true), 150000000ull);
}

/* Item 4: dirty_bytes stays 0 until the initial region was read past. */
TEST(dirty_bytes_after_initial)
{
	char u[MOCKVF_UUID_LEN];
	struct vm_precopy_info info;
	struct vfio_dev *d;
	struct mbuf b = { 0 };
	int fd;

	mvt_require();
	mvt_create("tiny", u);
	mvt_set(u, "state_size", "65536");
	mvt_set(u, "precopy_info_eager", "0");
	d = mvt_open(u);
	fd = mvt_goto(d, MT_PRE_COPY);
	mvt_set(u, "dirty_rate", "10000000");
	usleep(100000);
	info = query(fd);
	mt_log("unread: initial %llu dirty %llu",
	       (unsigned long long)info.initial_bytes,
	       (unsigned long long)info.dirty_bytes);
	EXPECT_GT(info.initial_bytes, 0);
	EXPECT_EQ(0, info.dirty_bytes);
	ASSERT_EQ(-ENOMSG, vfio_read_stream(fd, &b));
	usleep(50000);
	info = query(fd);
	mt_log("read: initial %llu dirty %llu",
	       (unsigned long long)info.initial_bytes,
	       (unsigned long long)info.dirty_bytes);
	EXPECT_EQ(0, info.initial_bytes);
	EXPECT_GT(info.dirty_bytes, 0);
	close(fd);
	ASSERT_EQ(0, vfio_dev_reset(d));

	/* eager: dirty pages show while the initial data is unread */
	mvt_set(u, "precopy_info_eager", "1");
	fd = mvt_goto(d, MT_PRE_COPY);
	usleep(100000);
	info = query(fd);
	EXPECT_GT(info.initial_bytes, 0);
	EXPECT_GT(info.dirty_bytes, 0);
	mvt_set(u, "dirty_rate", "0");
	close(fd);
	mbuf_free(&b);
}

/*
 * Item 4, 6.12's mlx5vf_save_read(): the first read waits for the initial
 * SAVE; after that, in PRE_COPY a read with no buffer queued returns
 * ENOMSG even while a later SAVE is in flight (here the new full image
 * of a re-configuration, 125 ms a record).  precopy_read_wait=1 (7.1)
 * waits for that SAVE too.
 */
static void read_during_later_save(bool wait)
{
	char u[MOCKVF_UUID_LEN];
	static char buf[1 << 20];
	struct vm_precopy_info info;
	struct vfio_dev *d;
	struct mbuf b = { 0 };
	uint64_t t0, dt;
	ssize_t n;
	int fd, err;

	mvt_create("tiny", u);
	mvt_set(u, "state_size", "1048576");
	mvt_set(u, "timing/save_bw_kbps", "2048");	/* 125 ms a record */
	mvt_set(u, "precopy_info_eager", "1");
	mvt_set(u, "precopy_read_wait", wait ? "1" : "0");
	d = mvt_open(u);
	fd = mvt_goto(d, MT_PRE_COPY);
	/* the initial SAVE is waited for in both modes */
	ASSERT_EQ(-ENOMSG, vfio_read_stream(fd, &b));
	ASSERT_EQ(image_bytes(1048576), b.len);
	/* a re-configuration: a later SAVE, a new full image */
	mvt_set(u, "reconfig", "1");
	usleep(30000);
	n = read(fd, buf, sizeof(buf));
	ASSERT_EQ(40, n);		/* its INFO record, then DATA in flight */
	t0 = vfio_now_ns();
	n = read(fd, buf, sizeof(buf));
	err = errno;
	dt = vfio_now_ns() - t0;
	info = query(fd);
	mt_log("read_wait=%d: read %zd (%s) after %llu ms, %llu bytes to come",
	       wait, n, n < 0 ? strerror(err) : "data",
	       (unsigned long long)dt / 1000000,
	       (unsigned long long)info.dirty_bytes);
	if (wait) {
		EXPECT_GT(n, 0);
		EXPECT_GE(dt, 50000000ull);
	} else {
		EXPECT_EQ(-1, n);
		EXPECT_EQ(ENOMSG, err);
		EXPECT_GT(info.dirty_bytes, 1000000);	/* the SAVE goes on */
	}
	close(fd);
	mbuf_free(&b);
}

TEST(precopy_read_enomsg_with_save_in_flight)
{
	mvt_require();
	read_during_later_save(false);
	read_during_later_save(true);
}

/*
 * Item 5: a failed step leaves the device in the last state it reached,
 * with its data_fd (mlx5 never enters ERROR); error_on_fail=1 enters
 * ERROR.  The recover state QEMU tries next (RUNNING) then works without
 * a reset.
 */
TEST(failed_step_keeps_state)
{
	char u[MOCKVF_UUID_LEN];
	struct vm_precopy_info info;
	struct vfio_dev *d;
	char *log;
	int fd;

	mvt_require();
	mvt_create("tiny", u);
	mvt_set(u, "error_on_fail", "0");
	d = mvt_open(u);

	/* multi-step RUNNING -> STOP_COPY failing at STOP */
	mvt_set(u, "fault", "fail STOP 1 5");
	ASSERT_EQ(-EIO, vfio_dev_set_state(d, MT_STOP_COPY, NULL));
	ASSERT_EQ(MT_RUNNING_P2P, mvt_state(d));
	ASSERT_STREQ("RUNNING_P2P", mvt_attr(u, "state"));
	log = mvt_read_log(u);
	EXPECT_TRUE(strstr(log, "RUNNING_P2P STOP -5 fault") != NULL);
	free(log);
	ASSERT_EQ(-1, mvt_goto(d, MT_RUNNING));	/* recover, no reset */

	/* PRE_COPY -> PRE_COPY_P2P fails: still PRE_COPY, fd alive */
	fd = mvt_goto(d, MT_PRE_COPY);
	mvt_set(u, "fault", "fail PRE_COPY_P2P 1 16");
	ASSERT_EQ(-EBUSY, vfio_dev_set_state(d, MT_PRE_COPY_P2P, NULL));
	ASSERT_EQ(MT_PRE_COPY, mvt_state(d));
	info = query(fd);
	EXPECT_GT(info.initial_bytes, 0);
	ASSERT_EQ(0, vfio_dev_set_state(d, MT_PRE_COPY_P2P, NULL));
	close(fd);
	ASSERT_EQ(-1, mvt_goto(d, MT_RUNNING));

	/* RESUMING -> STOP fails: still RESUMING with a writable file */
	fd = mvt_goto(d, MT_RESUMING);
	mvt_set(u, "fault", "fail STOP 1 71");
	ASSERT_EQ(-EPROTO, vfio_dev_set_state(d, MT_STOP, NULL));
	ASSERT_EQ(MT_RESUMING, mvt_state(d));
	ASSERT_EQ(0, vfio_dev_set_state(d, MT_STOP, NULL));
	close(fd);

	/* error_on_fail: the same failure enters ERROR, fd dead */
	mvt_set(u, "error_on_fail", "1");
	fd = mvt_goto(d, MT_PRE_COPY);
	mvt_set(u, "fault", "fail PRE_COPY_P2P 1 16");
	ASSERT_EQ(-EBUSY, vfio_dev_set_state(d, MT_PRE_COPY_P2P, NULL));
	ASSERT_EQ(MT_ERROR, mvt_state(d));
	EXPECT_EQ(-1, vfio_dev_precopy_info(fd, &info) ? -1 : 0);
	close(fd);
	ASSERT_EQ(-EINVAL, vfio_dev_set_state(d, MT_RUNNING, NULL));
	ASSERT_EQ(0, vfio_dev_reset(d));
	ASSERT_EQ(MT_RUNNING, mvt_state(d));
}

/*
 * Item 6: VFIO_DEVICE_RESET is a function level reset: the state is lost
 * (re-randomised) and data_fds die; reset_keeps_state=1 keeps the state.
 */
TEST(reset_loses_state)
{
	char u[MOCKVF_UUID_LEN], d1[17];
	struct vfio_dev *d;
	char c;
	int fd;

	mvt_require();
	mvt_create("tiny", u);
	mvt_set(u, "state_size", "65536");
	mvt_set(u, "reset_keeps_state", "0");
	d = mvt_open(u);
	snprintf(d1, sizeof(d1), "%s", mvt_attr(u, "digest"));
	fd = mvt_goto(d, MT_PRE_COPY);
	ASSERT_EQ(0, vfio_dev_reset(d));
	ASSERT_EQ(-1, read(fd, &c, 1));
	ASSERT_EQ(ENODEV, errno);
	close(fd);
	ASSERT_EQ(MT_RUNNING, mvt_state(d));
	ASSERT_TRUE(strcmp(d1, mvt_attr(u, "digest")) != 0);
	ASSERT_EQ(65536, mvt_attr_u64(u, "state_size"));

	mvt_set(u, "reset_keeps_state", "1");
	snprintf(d1, sizeof(d1), "%s", mvt_attr(u, "digest"));
	ASSERT_EQ(0, vfio_dev_reset(d));
	ASSERT_STREQ(d1, mvt_attr(u, "digest"));
}

TEST_MAIN()
