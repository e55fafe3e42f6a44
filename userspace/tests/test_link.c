// SPDX-License-Identifier: GPL-2.0
/*
 * test_link - where channels come from: a unix listener removes only a
 * stale socket at its path (never another file), and a connect to a
 * listener that does not accept ends at the caller's timeout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "../lib/session_internal.h"

static void tmp_path(char *buf, size_t len, const char *what)
{
	snprintf(buf, len, "/tmp/vfiomig-test-link-%d-%s", (int)getpid(), what);
	unlink(buf);
}

static void listener_keeps_other_files(void **state)
{
	char path[108], addr[120];
	struct vfiomig_link *l = NULL;
	struct stat st;

	(void)state;
	tmp_path(path, sizeof(path), "file");
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(5, write(fd, "keep\n", 5));
	close(fd);
	snprintf(addr, sizeof(addr), "unix:%s", path);
	assert_int_equal(-EADDRINUSE, vfiomig_link_listen(addr, &l));
	assert_int_equal(0, stat(path, &st));
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(5, st.st_size);
	unlink(path);
}

static void listener_replaces_stale_socket(void **state)
{
	char path[108], addr[120];
	struct vfiomig_link *l = NULL;
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	(void)state;
	tmp_path(path, sizeof(path), "sock");
	/* A socket bound and closed without unlink: what a crash leaves. */
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	assert_int_equal(0, bind(s, (struct sockaddr *)&un, sizeof(un)));
	close(s);
	snprintf(addr, sizeof(addr), "unix:%s", path);
	assert_int_equal(0, vfiomig_link_listen(addr, &l));
	vfiomig_link_free(l);
}

static void connect_honours_timeout(void **state)
{
	char path[108], addr[120];
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct vfiomig_link *l = NULL;
	struct vm_conn conn;
	int fill[8], nfill = 0;

	(void)state;
	tmp_path(path, sizeof(path), "full");
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	assert_int_equal(0, bind(lfd, (struct sockaddr *)&un, sizeof(un)));
	assert_int_equal(0, listen(lfd, 0));
	/* Fill the backlog: nobody accepts, so the next connect would block. */
	while (nfill < 8) {
		int c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(c, (struct sockaddr *)&un, sizeof(un))) {
			close(c);
			break;
		}
		fill[nfill++] = c;
	}
	snprintf(addr, sizeof(addr), "unix:%s", path);
	/* Channel 0 connects at once; it fits only after we drain one. */
	int a = accept(lfd, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(0, vfiomig_link_connect(addr, &l));
	/* A hang here fails the test instead of blocking the suite. */
	alarm(10);
	uint64_t t0 = vfiomig_now_ns();
	assert_int_equal(-ETIMEDOUT, vm_link_channel(l, 1, 300, &conn));
	uint64_t ms = (vfiomig_now_ns() - t0) / 1000000;
	alarm(0);
	assert_true(ms >= 250 && ms < 5000);
	vfiomig_link_free(l);
	close(a);
	for (int i = 0; i < nfill; i++)
		close(fill[i]);
	close(lfd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(listener_keeps_other_files),
		cmocka_unit_test(listener_replaces_stale_socket),
		cmocka_unit_test(connect_honours_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
