// SPDX-License-Identifier: GPL-2.0
/*
 * lifecycle - module and device life cycle: load/create/destroy/unload
 * cycles through the libkmod loader, available_instances, unload refused
 * while devices exist, removing an open device (REQ eventfd, no hang).
 */
#include "harness.h"
#include "modload.h"
#include "vfio_dev.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define TYPES "/sys/class/mdev_bus/mockvf/mdev_supported_types"

static long avail(const char *profile)
{
	char path[256], buf[32] = "";
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), TYPES "/mockvf-%s/available_instances",
		 profile);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atol(buf) : -EIO;
}

static const char *mvt_dev_path(const char *u)
{
	static char path[128];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s", u);
	return path;
}

static int loaded(void)
{
	struct modload *ml;
	int ret;

	if (modload_new(NULL, &ml))
		return -1;
	ret = modload_is_loaded(ml, "mockvf");
	modload_free(ml);
	return ret;
}

static int count_devices(void)
{
	DIR *d = opendir("/sys/bus/mdev/devices");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

TEST_TIMEOUT(load_create_destroy_unload_x20, 300)
{
	char u1[MOCKVF_UUID_LEN], u2[MOCKVF_UUID_LEN];

	mvt_require();
	if (count_devices())
		SKIP("mdev devices exist already; cannot unload mockvf");
	for (int i = 0; i < 20; i++) {
		struct vfio_dev d;
		int ret = mockvf_load();

		ASSERT_EQ(0, ret);
		ASSERT_EQ(1, loaded());
		ASSERT_EQ(0, mockvf_create("tiny", u1));
		ASSERT_EQ(0, mockvf_create("cx7", u2));
		/* use one a little */
		ASSERT_EQ(0, vfio_dev_open(u1, &d));
		ASSERT_EQ(0, vfio_dev_set_state(&d, MT_STOP, NULL));
		vfio_dev_close(&d);
		ASSERT_STREQ("RUNNING", mvt_attr(u1, "state"));
		ASSERT_EQ(0, mockvf_remove(u1));
		ASSERT_EQ(0, mockvf_remove(u2));
		ret = mockvf_unload();
		if (ret)
			mt_log("cycle %d: unload: %s", i, strerror(-ret));
		ASSERT_EQ(0, ret);
		ASSERT_EQ(0, loaded());
		ASSERT_EQ(-1, access("/sys/class/mdev_bus/mockvf", F_OK));
	}
	ASSERT_EQ(0, mockvf_load());
}

TEST(unload_refused_while_devices_exist)
{
	char u[MOCKVF_UUID_LEN];
	int ret;

	mvt_require();
	ASSERT_EQ(0, mockvf_create("tiny", u));
	ret = mockvf_unload();
	EXPECT_TRUE(ret == -EBUSY || ret == -EAGAIN || ret == -EWOULDBLOCK);
	ASSERT_EQ(1, loaded());
	ASSERT_STREQ("RUNNING", mvt_attr(u, "state"));
	ASSERT_EQ(0, mockvf_remove(u));
}

TEST(available_instances)
{
	static char uu[128][MOCKVF_UUID_LEN];
	long start, n = 0;
	int ret = 0;

	mvt_require();
	start = avail("tiny");
	ASSERT_GT(start, 16);
	ASSERT_LE(start, 128);
	ASSERT_EQ(start, avail("cx7"));		/* one pool for all */
	ASSERT_EQ(0, mockvf_create("nopre", uu[n++]));
	ASSERT_EQ(start - 1, avail("tiny"));
	ASSERT_EQ(start - 1, avail("nop2p"));
	while (n < 128) {
		ret = mockvf_create("tiny", uu[n]);
		if (ret)
			break;
		n++;
	}
	mt_log("created %ld devices, then: %s", n, strerror(-ret));
	EXPECT_EQ(start, n);
	EXPECT_NE(0, ret);
	EXPECT_EQ(0, avail("tiny"));
	for (long i = 0; i < n; i++)
		EXPECT_EQ(0, mockvf_remove(uu[i]));
	ASSERT_EQ(start, avail("tiny"));
}

TEST(duplicate_and_bad_uuid)
{
	char u[MOCKVF_UUID_LEN];
	int fd;

	mvt_require();
	mvt_create("tiny", u);
	fd = open(TYPES "/mockvf-tiny/create", O_WRONLY);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(-1, write(fd, u, strlen(u)));	/* exists */
	EXPECT_EQ(-1, write(fd, "not-a-uuid", 10));
	close(fd);
}

/* Removing an open device: the REQ eventfd asks us to let go. */
TEST_TIMEOUT(remove_open_device_with_request, 60)
{
	struct vfio_irq_set *irq;
	char u[MOCKVF_UUID_LEN], buf[sizeof(*irq) + sizeof(int32_t)];
	struct vfio_dev d;
	struct pollfd pfd;
	int efd, sfd, status;
	pid_t pid;
	char c;

	mvt_require();
	ASSERT_EQ(0, mockvf_create("tiny", u));
	ASSERT_EQ(0, vfio_dev_open(u, &d));
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(efd, 0);
	irq = (struct vfio_irq_set *)buf;
	irq->argsz = sizeof(buf);
	irq->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	irq->index = VFIO_PCI_REQ_IRQ_INDEX;
	irq->start = 0;
	irq->count = 1;
	memcpy(irq->data, &efd, sizeof(int32_t));
	ASSERT_EQ(0, ioctl(d.fd, VFIO_DEVICE_SET_IRQS, irq));
	ASSERT_EQ(0, vfio_dev_set_state(&d, MT_PRE_COPY, &sfd));

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		/* the child must not hold the device itself */
		vfio_dev_close(&d);
		close(sfd);
		_exit(mockvf_remove(u) ? 1 : 0);
	}
	pfd.fd = efd;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	/* the request also reset the device: its data_fd is dead */
	ASSERT_EQ(-1, read(sfd, &c, 1));
	ASSERT_EQ(ENODEV, errno);
	close(sfd);
	vfio_dev_close(&d);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	snprintf(buf, sizeof(buf), "%.8s", u);
	ASSERT_EQ(-1, access(mvt_dev_path(u), F_OK));
	close(efd);
}

/* Without a request channel the removal waits for the close, no longer. */
TEST_TIMEOUT(remove_open_device_waits_for_close, 60)
{
	char u[MOCKVF_UUID_LEN], path[128];
	struct vfio_dev d;
	int status;
	pid_t pid;

	mvt_require();
	ASSERT_EQ(0, mockvf_create("tiny", u));
	ASSERT_EQ(0, vfio_dev_open(u, &d));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		vfio_dev_close(&d);
		_exit(mockvf_remove(u) ? 1 : 0);
	}
	usleep(500000);
	ASSERT_EQ(0, waitpid(pid, &status, WNOHANG));	/* still waiting */
	vfio_dev_close(&d);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s", u);
	ASSERT_EQ(-1, access(path, F_OK));
}

/* A data_fd that outlives its device stays safe and pins the module. */
TEST_TIMEOUT(data_fd_outlives_device, 60)
{
	char u[MOCKVF_UUID_LEN], c;
	struct vfio_dev d;
	int sfd, ret;

	mvt_require();
	ASSERT_EQ(0, mockvf_create("tiny", u));
	ASSERT_EQ(0, vfio_dev_open(u, &d));
	ASSERT_EQ(0, vfio_dev_set_state(&d, MT_PRE_COPY, &sfd));
	ASSERT_GE(sfd, 0);
	vfio_dev_close(&d);
	ASSERT_EQ(0, mockvf_remove(u));
	ASSERT_EQ(-1, read(sfd, &c, 1));
	ASSERT_EQ(ENODEV, errno);
	{
		struct vm_precopy_info info = { 0 };

		ASSERT_EQ(-EINVAL, vfio_dev_precopy_info(sfd, &info));
	}
	if (!count_devices()) {
		ret = mockvf_unload();
		EXPECT_NE(0, ret);	/* the open file holds the module */
		ASSERT_EQ(1, loaded());
	}
	close(sfd);
}

TEST_MAIN()
