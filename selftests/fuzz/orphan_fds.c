// SPDX-License-Identifier: GPL-2.0
/*
 * orphan_fds - data_fds that outlive their device fd, their device and an
 * attempt to unload the module.
 *
 * A saving fd (STOP_COPY, nothing read yet, producer possibly still busy),
 * a PRE_COPY saving fd and a resuming fd with half a stream written are
 * kept open while the device fds are closed and the devices removed.  I/O
 * on them must fail cleanly (ENODEV, poll reports an error, ioctls fail)
 * rather than touch freed memory (run with slub_debug/KFENCE to be sure),
 * removal must not hang, the open files must keep the module loaded
 * (unload refused, not a crash later), and once they are closed every
 * reference must be gone.
 */
#include "fuzz.h"

#include <poll.h>
#include <sys/ioctl.h>

#define PROMPT_S 5.0

struct odev {
	char uuid[MOCKVF_UUID_LEN];
	struct vfio_dev d;
	int created, opened;
};

static void odev_put(void *p)
{
	struct odev *o = p;

	if (o->opened)
		vfio_dev_close(&o->d);
	o->opened = 0;
	if (o->created)
		fuzz_remove_dev(strdup(o->uuid));
	o->created = 0;
}

static void odev_get(struct odev *o)
{
	ASSERT_EQ(0, mockvf_create("tiny", o->uuid));
	o->created = 1;
	mt_defer(odev_put, o);
	ASSERT_EQ(0, vfio_dev_open(o->uuid, &o->d));
	o->opened = 1;
}

static int fds[3] = { -1, -1, -1 };

static void close_fds(void *p)
{
	(void)p;
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	fds[0] = fds[1] = fds[2] = -1;
}

/* Every kind of I/O on the orphans fails, and promptly. */
static void poke(const char *when)
{
	struct mt_precopy_info info = { .argsz = sizeof(info) };
	struct pollfd p[2] = {
		{ .fd = fds[0], .events = POLLIN },
		{ .fd = fds[1], .events = POLLIN },
	};
	uint8_t buf[256] = { 0 };
	double t0 = fuzz_now();

	for (int i = 0; i < 2; i++) {
		errno = 0;
		EXPECT_EQ(-1, read(fds[i], buf, sizeof(buf)));
		if (errno != ENODEV)
			mt_log("%s: read on saving fd %d: %s", when, i,
			       strerror(errno));
		EXPECT_EQ(ENODEV, errno);
		EXPECT_EQ(-1, ioctl(fds[i], VFIO_MIG_GET_PRECOPY_INFO, &info));
	}
	EXPECT_EQ(2, poll(p, 2, 1000));
	EXPECT_TRUE(p[0].revents & (POLLERR | POLLHUP));
	EXPECT_TRUE(p[1].revents & (POLLERR | POLLHUP));
	EXPECT_EQ(-1, write(fds[2], buf, sizeof(buf)));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_LT(fuzz_now() - t0, PROMPT_S);
}

TEST_TIMEOUT(orphan_data_fds, 60)
{
	static struct odev a, b, c;
	struct mbuf s = { 0 };
	long ref0, ref;
	double t0;
	int ret;

	mvt_require();
	ref0 = fuzz_mockvf_refcnt();
	mt_defer(close_fds, NULL);
	odev_get(&a);
	odev_get(&b);
	odev_get(&c);

	/* a full stream for c, to write half of it */
	ASSERT_EQ(0, vfio_dev_set_state(&c.d, MT_STOP_COPY, &fds[2]));
	ASSERT_EQ(0, vfio_read_stream(fds[2], &s));
	close(fds[2]);
	fds[2] = -1;
	ASSERT_EQ(0, vfio_dev_reset(&c.d));

	/* a: STOP_COPY, nothing read; b: PRE_COPY; c: RESUMING, half written */
	ASSERT_EQ(0, mockvf_attr_write(a.uuid, "timing/save_bw_kbps", "4"));
	ASSERT_EQ(0, vfio_dev_set_state(&a.d, MT_STOP_COPY, &fds[0]));
	ASSERT_EQ(0, mockvf_attr_write(b.uuid, "dirty_rate", "10000000"));
	ASSERT_EQ(0, vfio_dev_set_state(&b.d, MT_PRE_COPY, &fds[1]));
	ASSERT_EQ(0, vfio_dev_set_state(&c.d, MT_RESUMING, &fds[2]));
	ASSERT_EQ(0, vfio_write_all(fds[2], s.p, s.len / 2, 4096));
	mbuf_free(&s);

	/* the device fds go: close_device must disable the files */
	t0 = fuzz_now();
	vfio_dev_close(&a.d);
	vfio_dev_close(&b.d);
	vfio_dev_close(&c.d);
	a.opened = b.opened = c.opened = 0;
	EXPECT_LT(fuzz_now() - t0, PROMPT_S);
	poke("device fds closed");

	/* the devices go: removal must not wait for the orphans */
	t0 = fuzz_now();
	ret = mockvf_remove(a.uuid);
	EXPECT_EQ(0, ret);
	a.created = !!ret;
	ret = mockvf_remove(b.uuid);
	EXPECT_EQ(0, ret);
	b.created = !!ret;
	ret = mockvf_remove(c.uuid);
	EXPECT_EQ(0, ret);
	c.created = !!ret;
	EXPECT_LT(fuzz_now() - t0, PROMPT_S);
	poke("devices removed");

	/* the open files pin the module: unload is refused, cleanly */
	ref = fuzz_mockvf_refcnt();
	mt_log("module refcount %ld before, %ld with 3 orphan fds", ref0, ref);
	if (ref0 >= 0)
		EXPECT_GT(ref, ref0);
	ret = mockvf_unload();
	EXPECT_NE(0, ret);
	EXPECT_EQ(0, access("/sys/module/mockvf", F_OK));
	poke("unload refused");

	close_fds(NULL);
	if (ref0 >= 0)
		ASSERT_EQ(ref0, fuzz_wait_refcnt(ref0));
}

TEST_MAIN()
