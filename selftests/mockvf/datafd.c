// SPDX-License-Identifier: GPL-2.0
/*
 * datafd - mockvf's data_fd beyond the uAPI (conformance/data_fd has the
 * device-agnostic contract): the whole image before ENOMSG, poll() at a
 * temporary end, poll() and O_NONBLOCK (EAGAIN) while the modelled
 * firmware produces data slowly, ENODEV after reset.
 */
#include "harness.h"
#include "vfio_dev.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * What docs/mockvf.md promises beyond vfio.h (the rest is in
 * conformance/data_fd): the whole initial image before the first ENOMSG,
 * poll() readable at a temporary end, ENODEV once the file is disabled.
 */
TEST(mock_image_poll_and_enodev)
{
	char u[MOCKVF_UUID_LEN];
	struct vfio_dev *d;
	struct mbuf b = { 0 };
	struct pollfd pfd;
	char c;
	int fd;

	mvt_require();
	mvt_create("tiny", u);
	d = mvt_open(u);
	fd = mvt_goto(d, MT_PRE_COPY);
	ASSERT_EQ(-ENOMSG, vfio_read_stream(fd, &b));
	ASSERT_GT(b.len, 16384);	/* the full initial image */
	/* idle device: still nothing, and still ENOMSG, not EOF */
	ASSERT_EQ(-1, read(fd, &c, 1));
	ASSERT_EQ(ENOMSG, errno);
	/* poll must not block at a temporary end (read would not) */
	pfd.fd = fd;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 1000));
	ASSERT_TRUE(pfd.revents & POLLIN);
	/* PRE_COPY_P2P: same */
	ASSERT_EQ(-1, mvt_goto(d, MT_PRE_COPY_P2P));
	ASSERT_EQ(-1, read(fd, &c, 1));
	ASSERT_EQ(ENOMSG, errno);
	ASSERT_EQ(-1, mvt_goto(d, MT_STOP_COPY));
	b.len = 0;
	ASSERT_EQ(0, vfio_read_stream(fd, &b));
	/* after leaving STOP_COPY the file is dead, with ENODEV */
	ASSERT_EQ(-1, mvt_goto(d, MT_STOP));
	ASSERT_EQ(-1, read(fd, &c, 1));
	ASSERT_EQ(ENODEV, errno);
	close(fd);
	mbuf_free(&b);
}

/* With a slow modelled firmware the data is produced asynchronously. */
TEST_TIMEOUT(nonblock_and_poll, 60)
{
	char u[MOCKVF_UUID_LEN];
	struct vfio_dev *d;
	struct pollfd pfd;
	char buf[8192];
	uint64_t t0;
	ssize_t n;
	int fd, fl;

	mvt_require();
	mvt_create("tiny", u);
	/* 1 KiB/s, one page: INFO after ~40 ms, the page after ~4 s */
	mvt_set(u, "state_size", "4096");
	mvt_set(u, "timing/save_bw_kbps", "1");
	d = mvt_open(u);
	fd = mvt_goto(d, MT_STOP_COPY);
	fl = fcntl(fd, F_GETFL);
	ASSERT_EQ(0, fcntl(fd, F_SETFL, fl | O_NONBLOCK));
	/*
	 * Nothing is there yet, or only the INFO record (40 bytes, ~40 ms):
	 * then EAGAIN (not ENOMSG, not 0) while the page is being produced.
	 */
	n = read(fd, buf, sizeof(buf));
	if (n > 0) {
		ASSERT_EQ(40, n);
		n = read(fd, buf, sizeof(buf));
	}
	ASSERT_EQ(-1, n);
	ASSERT_EQ(EAGAIN, errno);
	pfd.fd = fd;
	pfd.events = POLLIN;
	ASSERT_EQ(0, poll(&pfd, 1, 0));
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	ASSERT_TRUE(pfd.revents & POLLIN);
	n = read(fd, buf, sizeof(buf));
	ASSERT_GT(n, 0);
	/* blocking reads wait for the producer, then reach EOF */
	ASSERT_EQ(0, fcntl(fd, F_SETFL, fl));
	t0 = vfio_now_ns();
	do {
		n = read(fd, buf, sizeof(buf));
	} while (n > 0);
	ASSERT_EQ(0, n);
	/* 4 KiB at 1 KiB/s: the model took its time */
	EXPECT_GT(vfio_now_ns() - t0, 1000000000ull);
	close(fd);
}

/* A reset while a reader is blocked wakes it with ENODEV. */
TEST_TIMEOUT(reset_wakes_reader, 30)
{
	char u[MOCKVF_UUID_LEN];
	struct vfio_dev *d;
	char buf[65536];
	ssize_t n;
	int fd;
	pid_t pid;

	mvt_require();
	mvt_create("tiny", u);
	mvt_set(u, "timing/save_bw_kbps", "1");
	d = mvt_open(u);
	fd = mvt_goto(d, MT_STOP_COPY);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		usleep(300000);
		_exit(vfio_dev_reset(d) ? 1 : 0);
	}
	n = read(fd, buf, sizeof(buf));	/* INFO record arrives first */
	if (n > 0)
		n = read(fd, buf, sizeof(buf));
	ASSERT_EQ(-1, n);
	ASSERT_EQ(ENODEV, errno);
	ASSERT_EQ(MT_RUNNING, mvt_state(d));
	close(fd);
}

TEST_MAIN()
