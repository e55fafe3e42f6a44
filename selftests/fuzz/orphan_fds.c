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
 *
 * remove_while_open: removing a device that is still open must wait for
 * the user (after asking it through the REQ eventfd when one is
 * registered, and resetting the device), keep the device usable for the
 * ioctls the user still makes, and finish promptly once the device fd
 * is closed.
 */
#include "fuzz.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
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
	struct vm_precopy_info info = { .argsz = sizeof(info) };
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

struct remover {
	const char *uuid;
	atomic_int done;
	int ret;
};

static void *remove_fn(void *arg)
{
	struct remover *r = arg;

	r->ret = mockvf_remove(r->uuid);
	r->done = 1;
	return NULL;
}

static void remove_while_open(int with_req)
{
	static struct odev o;
	struct remover rm = { 0 };
	struct {
		struct vfio_irq_set set;
		int32_t fd;
	} irq = {
		.set.argsz = sizeof(irq),
		.set.flags = VFIO_IRQ_SET_DATA_EVENTFD |
			     VFIO_IRQ_SET_ACTION_TRIGGER,
		.set.index = VFIO_PCI_REQ_IRQ_INDEX,
		.set.count = 1,
	};
	struct pollfd p;
	pthread_t th;
	long ref0;
	double t0;
	int efd = -1, sfd, st;
	char c;

	mvt_require();
	ref0 = fuzz_mockvf_refcnt();
	odev_get(&o);
	if (with_req) {
		efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ASSERT_GE(efd, 0);
		irq.fd = efd;
		ASSERT_EQ(0, ioctl(o.d.fd, VFIO_DEVICE_SET_IRQS, &irq));
	}
	ASSERT_EQ(0, vfio_dev_set_state(&o.d, MT_STOP_COPY, &sfd));

	rm.uuid = o.uuid;
	ASSERT_EQ(0, pthread_create(&th, NULL, remove_fn, &rm));
	if (with_req) {
		/* the request reaches the user */
		p.fd = efd;
		p.events = POLLIN;
		EXPECT_EQ(1, poll(&p, 1, 5000));
	} else {
		usleep(300000);
	}
	/* removal waits for the user, who can still talk to the device */
	EXPECT_EQ(0, rm.done);
	EXPECT_EQ(0, vfio_dev_get_state(&o.d, &st));
	if (with_req)
		EXPECT_EQ(MT_RUNNING, st);	/* the request reset it */
	EXPECT_EQ(-1, read(sfd, &c, 1));
	if (with_req)
		EXPECT_EQ(ENODEV, errno);
	vfio_dev_set_state(&o.d, MT_STOP, NULL);
	vfio_dev_reset(&o.d);
	EXPECT_EQ(0, rm.done);

	/* the user lets go: removal completes */
	t0 = fuzz_now();
	vfio_dev_close(&o.d);
	o.opened = 0;
	while (!rm.done && fuzz_now() - t0 < PROMPT_S)
		usleep(10000);
	EXPECT_EQ(1, rm.done);
	if (!rm.done) {
		mt_log("removal still blocked %.1f s after the close", PROMPT_S);
		mt_abort_test();
	}
	pthread_join(th, NULL);
	EXPECT_EQ(0, rm.ret);
	o.created = 0;
	EXPECT_EQ(-1, read(sfd, &c, 1));
	EXPECT_EQ(ENODEV, errno);
	close(sfd);
	if (efd >= 0)
		close(efd);
	if (ref0 >= 0)
		ASSERT_EQ(ref0, fuzz_wait_refcnt(ref0));
}

TEST_TIMEOUT(remove_while_open_req, 60)
{
	remove_while_open(1);
}

TEST_TIMEOUT(remove_while_open_no_req, 60)
{
	remove_while_open(0);
}

TEST_MAIN()
