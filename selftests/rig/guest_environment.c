// SPDX-License-Identifier: GPL-2.0
/*
 * guest_environment - what the rig promises the tests inside the guest:
 * loopback networking, writable scratch directories, the host's work
 * tree visible at the same path, and a hung-task detector that reports
 * within 30 s (ci/vmtest sets kernel.hung_task_timeout_secs).
 */
#define _GNU_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef VFIO_MIGTEST_TOP
#define VFIO_MIGTEST_TOP "."
#endif

TEST(loopback_tcp_connects)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int l, c, s;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(l, 0);
	ASSERT_EQ(0, bind(l, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_EQ(0, listen(l, 1));
	ASSERT_EQ(0, getsockname(l, (struct sockaddr *)&a, &len));
	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(c, 0);
	ASSERT_EQ(0, connect(c, (struct sockaddr *)&a, sizeof(a)));
	s = accept(l, NULL, NULL);
	ASSERT_GE(s, 0);
	ASSERT_EQ(5, write(c, "hello", 5));
	{
		char buf[8] = "";

		ASSERT_EQ(5, read(s, buf, sizeof(buf)));
		ASSERT_STREQ("hello", buf);
	}
	close(s);
	close(c);
	close(l);
}

TEST(scratch_directories_are_writable)
{
	static const char *const dirs[] = { "/tmp", "/var/tmp", "/run", "/root" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[64];
		int fd;

		snprintf(path, sizeof(path), "%s/vmtest.XXXXXX", dirs[i]);
		fd = mkstemp(path);
		if (fd < 0)
			mt_log("%s: %s", dirs[i], strerror(errno));
		ASSERT_GE(fd, 0);
		close(fd);
		ASSERT_EQ(0, unlink(path));
	}
}

TEST(work_tree_is_visible)
{
	ASSERT_EQ(0, access(VFIO_MIGTEST_TOP "/Makefile", R_OK));
	ASSERT_EQ(0, access(VFIO_MIGTEST_TOP "/build/bin/vfio-modload", X_OK));
}

/* A hang fails fast: the task's stack is in the log after 30 s. */
TEST(hung_task_timeout_is_short)
{
	FILE *f = fopen("/proc/sys/kernel/hung_task_timeout_secs", "r");
	unsigned long secs = 0;

	if (!f)
		SKIP("no hung task detector in this kernel");
	ASSERT_EQ(1, fscanf(f, "%lu", &secs));
	fclose(f);
	ASSERT_GT(secs, 0);
	ASSERT_LE(secs, 30);
}

TEST_MAIN()
