// SPDX-License-Identifier: GPL-2.0
/*
 * data_fd - the migration data_fd contract of vfio.h on every selected
 * device: sequential reads to a permanent end of stream in STOP_COPY
 * (read() == 0 again and again, poll() readable, never ENOMSG); ENOMSG at
 * the temporary end of PRE_COPY data; one session across the saving group
 * (no second fd on PRE_COPY -> STOP_COPY); O_NONBLOCK reads that never
 * block; lseek/pread/pwrite refused; the fd dies when its session ends,
 * and a new session's fd does not revive the old one.
 */
#define _GNU_SOURCE
#include "cf_suite.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Devices of a mock set are identical: the first one is enough. */
static int ndevs(void)
{
	return cf.profile && cf_ndevices() ? 1 : cf_ndevices();
}

/* Bound on what a test reads from one session (lab devices: a few GB). */
#define MAX_STREAM (8ull << 30)

static void expect_end_of_stream(struct cf_dev *d, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	/* vfio.h: "read() always returning 0 and poll always returning readable" */
	for (int i = 0; i < 3; i++) {
		ssize_t n = read(fd, &c, 1);

		if (n != 0)
			mt_fail_here(__FILE__, __LINE__, "dev %s: STOP_COPY "
				     "read %d after the end gave %zd (%s)",
				     d->name, i, n, n < 0 ? cf_errname(errno) :
				     "data");
	}
	if (poll(&p, 1, 1000) != 1 || !(p.revents & POLLIN))
		mt_fail_here(__FILE__, __LINE__, "dev %s: STOP_COPY poll() at "
			     "the end of stream: revents 0x%x, expected POLLIN",
			     d->name, p.revents);
}

TEST_TIMEOUT(stop_copy_reads_to_permanent_end, 120)
{
	for (int i = 0; i < ndevs(); i++) {
		struct cf_dev *d = cf_use(cf_device(i));
		struct mbuf b = { 0 };
		int fd = cf_must(d, MT_STOP_COPY), ret;

		ASSERT_GE(fd, 0);
		ret = cf_read_all(fd, &b, MAX_STREAM);
		if (ret)
			mt_log("dev %s: STOP_COPY read: %s (%d)%s", d->name,
			       strerror(-ret), ret, ret == -ENOMSG ?
			       " - vfio.h: ENOMSG may not be returned in "
			       "STOP_COPY" : "");
		ASSERT_EQ(0, ret);
		mt_log("dev %s: STOP_COPY stream %zu bytes", d->name, b.len);
		/* A stream with no bytes cannot carry any state to resume. */
		EXPECT_GT(b.len, 0);
		expect_end_of_stream(d, fd);
		close(fd);
		mbuf_free(&b);
		cf_must_reset(d);
	}
}

TEST_TIMEOUT(pre_copy_temporary_end_then_stop_copy, 120)
{
	for (int i = 0; i < ndevs(); i++) {
		struct cf_dev *d = cf_use(cf_device(i));
		struct mbuf b = { 0 };
		int fd, nfd = -2, ret;
		size_t pre;

		cf_need(d, VFIO_MIGRATION_PRE_COPY, "PRE_COPY");
		fd = cf_must(d, MT_PRE_COPY);
		ASSERT_GE(fd, 0);
		ret = cf_read_all(fd, &b, MAX_STREAM);
		if (ret != -ENOMSG)
			mt_fail_here(__FILE__, __LINE__, "dev %s: PRE_COPY "
				     "reads ended with %s (%d) after %zu bytes, "
				     "expected ENOMSG at the temporary end",
				     d->name, ret ? strerror(-ret) : "0 (EOF)",
				     ret, b.len);
		pre = b.len;
		/* The saving group shares the session: no second fd. */
		if (d->flags & VFIO_MIGRATION_P2P) {
			ASSERT_EQ(0, cf_go(d, MT_PRE_COPY_P2P, &nfd));
			EXPECT_EQ(-1, nfd);
		}
		ASSERT_EQ(0, cf_go(d, MT_STOP_COPY, &nfd));
		if (nfd != -1)
			mt_fail_here(__FILE__, __LINE__, "dev %s: ->STOP_COPY "
				     "from the saving group returned data_fd %d, "
				     "expected -1 (same session)", d->name, nfd);
		ret = cf_read_all(fd, &b, MAX_STREAM);
		if (ret)
			mt_log("dev %s: STOP_COPY read on the PRE_COPY fd: "
			       "%s (%d)", d->name, strerror(-ret), ret);
		ASSERT_EQ(0, ret);
		mt_log("dev %s: %zu bytes in PRE_COPY, %zu in STOP_COPY",
		       d->name, pre, b.len - pre);
		expect_end_of_stream(d, fd);
		close(fd);
		if (nfd >= 0)
			close(nfd);
		mbuf_free(&b);
		cf_must_reset(d);
	}
}

/* Each O_NONBLOCK read returns at once: data, EAGAIN, ENOMSG or 0. */
static int nonblock_drain(struct cf_dev *d, int fd, const char *st,
			  size_t *total)
{
	static char buf[1 << 16];
	uint64_t deadline = vfio_now_ns() + 60000000000ull;

	while (vfio_now_ns() < deadline) {
		uint64_t t0 = vfio_now_ns();
		ssize_t n = read(fd, buf, sizeof(buf));
		int e = errno;
		uint64_t dt = vfio_now_ns() - t0;

		if (dt > 1000000000ull)
			mt_fail_here(__FILE__, __LINE__, "dev %s: O_NONBLOCK "
				     "read in %s took %.3f s", d->name, st,
				     dt / 1e9);
		if (n > 0) {
			*total += n;
			continue;
		}
		if (n == 0)
			return 0;
		if (e == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			poll(&p, 1, 100);
			continue;
		}
		return -e;
	}
	return -ETIMEDOUT;
}

TEST_TIMEOUT(nonblocking_reads_never_block, 150)
{
	for (int i = 0; i < ndevs(); i++) {
		struct cf_dev *d = cf_use(cf_device(i));
		size_t total = 0;
		int fd, ret;

		if (d->flags & VFIO_MIGRATION_PRE_COPY) {
			fd = cf_must(d, MT_PRE_COPY);
			ASSERT_EQ(0, fcntl(fd, F_SETFL, O_NONBLOCK));
			ret = nonblock_drain(d, fd, "PRE_COPY", &total);
			if (ret != -ENOMSG)
				mt_fail_here(__FILE__, __LINE__, "dev %s: "
					     "O_NONBLOCK PRE_COPY reads ended "
					     "with %d, expected ENOMSG",
					     d->name, ret);
			close(fd);
			cf_must_reset(d);
		}
		fd = cf_must(d, MT_STOP_COPY);
		ASSERT_EQ(0, fcntl(fd, F_SETFL, O_NONBLOCK));
		total = 0;
		ret = nonblock_drain(d, fd, "STOP_COPY", &total);
		if (ret)
			mt_log("dev %s: O_NONBLOCK STOP_COPY reads: %s (%d)",
			       d->name, strerror(-ret), ret);
		EXPECT_EQ(0, ret);
		EXPECT_GT(total, 0);
		close(fd);
		cf_must_reset(d);
	}
}

static void refused_io(struct cf_dev *d, int fd, const char *st, bool wr)
{
	char c = 0;

	errno = 0;
	if (lseek(fd, 0, SEEK_SET) != -1)
		mt_fail_here(__FILE__, __LINE__, "dev %s: lseek on the %s "
			     "data_fd succeeded", d->name, st);
	else
		mt_log("dev %s: %s lseek: %s", d->name, st, cf_errname(errno));
	if ((wr ? pwrite(fd, &c, 1, 0) : pread(fd, &c, 1, 0)) != -1)
		mt_fail_here(__FILE__, __LINE__, "dev %s: %s on the %s data_fd "
			     "succeeded", d->name, wr ? "pwrite" : "pread", st);
	else
		mt_log("dev %s: %s %s: %s", d->name, st, wr ? "pwrite" :
		       "pread", cf_errname(errno));
}

TEST(seek_and_positional_io_refused)
{
	for (int i = 0; i < ndevs(); i++) {
		struct cf_dev *d = cf_use(cf_device(i));
		int fd = cf_must(d, MT_STOP_COPY);

		refused_io(d, fd, "STOP_COPY", false);
		close(fd);
		cf_must_reset(d);
		fd = cf_must(d, MT_RESUMING);
		refused_io(d, fd, "RESUMING", true);
		close(fd);
		cf_must_reset(d);
	}
}

static void expect_no_data(struct cf_dev *d, int fd, const char *how)
{
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n > 0)
		mt_fail_here(__FILE__, __LINE__, "dev %s: data_fd still gives "
			     "%zd bytes after %s", d->name, n, how);
}

TEST_TIMEOUT(fd_dies_with_its_session, 120)
{
	for (int i = 0; i < ndevs(); i++) {
		struct cf_dev *d = cf_use(cf_device(i));
		struct mbuf img = { 0 };
		int fd, fd2;
		char c = 0;

		/* STOP_COPY -> STOP ends the session (vfio.h). */
		fd = cf_must(d, MT_STOP_COPY);
		ASSERT_EQ(0, cf_read_all(fd, &img, MAX_STREAM));
		cf_must(d, MT_STOP);
		expect_no_data(d, fd, "STOP_COPY->STOP");
		close(fd);
		cf_must_reset(d);

		/* RESUMING -> STOP ends it too: no more writes accepted. */
		fd = cf_must(d, MT_RESUMING);
		ASSERT_EQ(0, vfio_write_all(fd, img.p, img.len, 1 << 20));
		cf_must(d, MT_STOP);
		if (write(fd, &c, 1) >= 0)
			mt_fail_here(__FILE__, __LINE__, "dev %s: RESUMING "
				     "data_fd takes writes after "
				     "RESUMING->STOP", d->name);
		close(fd);
		cf_must_reset(d);
		mbuf_free(&img);

		if (!(d->flags & VFIO_MIGRATION_PRE_COPY))
			continue;
		/*
		 * PRE_COPY -> RUNNING ends the session; the next PRE_COPY
		 * gives a new fd and the old one stays dead.
		 */
		fd = cf_must(d, MT_PRE_COPY);
		cf_must(d, MT_RUNNING);
		expect_no_data(d, fd, "PRE_COPY->RUNNING");
		fd2 = cf_must(d, MT_PRE_COPY);
		ASSERT_GE(fd2, 0);
		expect_no_data(d, fd, "a second PRE_COPY session");
		{
			struct mbuf b = { 0 };
			int ret = cf_read_all(fd2, &b, MAX_STREAM);

			if (ret != -ENOMSG)
				mt_fail_here(__FILE__, __LINE__, "dev %s: the "
					     "second PRE_COPY fd ended with %d "
					     "after %zu bytes, expected ENOMSG",
					     d->name, ret, b.len);
			EXPECT_GT(b.len, 0);
			mbuf_free(&b);
		}
		close(fd);
		close(fd2);
		cf_must_reset(d);
	}
}

CONFORMANCE_PROGRAM()
TEST_MAIN()
