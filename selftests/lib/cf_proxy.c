// SPDX-License-Identifier: GPL-2.0
/*
 * cf_proxy.c - the relay of cf_proxy.h: one thread, poll() over the
 * listening socket and up to CF_MAX_CONN connection pairs.
 */
#define _GNU_SOURCE
#include "cf_proxy.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CF_MAX_CONN 16

static int unix_addr(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
	return 0;
}

static int connect_back(struct cf_proxy *p)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	unix_addr(p->back, &a);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool forward(struct cf_proxy *p, int from, int to, bool src_side)
{
	static char buf[1 << 16];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n <= 0)
		return false;
	if (src_side && p->mode != CF_PROXY_CLEAN &&
	    p->forwarded <= p->at && p->at < p->forwarded + n) {
		size_t off = p->at - p->forwarded;

		if (p->mode == CF_PROXY_TRUNCATE) {
			if (off && send(to, buf, off, MSG_NOSIGNAL) < 0)
				return false;
			p->forwarded += off;
			/* Both ends see the stream stop mid-way. */
			return false;
		}
		buf[off] ^= 0x5a;
	}
	for (ssize_t done = 0; done < n;) {
		/* A peer that gave up must not kill the test with SIGPIPE. */
		ssize_t w = send(to, buf + done, n - done, MSG_NOSIGNAL);

		if (w <= 0)
			return false;
		done += w;
	}
	if (src_side)
		p->forwarded += n;
	return true;
}

static void *relay(void *arg)
{
	struct cf_proxy *p = arg;
	int src[CF_MAX_CONN], dst[CF_MAX_CONN], n = 0, open = 0;
	bool accepted = false, cut = false;

	for (;;) {
		struct pollfd pf[1 + 2 * CF_MAX_CONN];
		int k = 0;

		pf[k++] = (struct pollfd){ .fd = p->lfd, .events = POLLIN };
		for (int i = 0; i < n; i++) {
			pf[k++] = (struct pollfd){ .fd = src[i], .events = POLLIN };
			pf[k++] = (struct pollfd){ .fd = dst[i], .events = POLLIN };
		}
		/* Done when every relayed connection has closed. */
		if (accepted && !open)
			break;
		if (poll(pf, k, 30000) <= 0)
			break;
		if (pf[0].revents & POLLIN && n < CF_MAX_CONN && !cut) {
			int s = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
			int d = s >= 0 ? connect_back(p) : -1;

			if (d >= 0) {
				src[n] = s;
				dst[n++] = d;
				open++;
				accepted = true;
			} else if (s >= 0) {
				close(s);
			}
		}
		for (int i = 0; i < n; i++) {
			bool ok = true;

			if (src[i] < 0)
				continue;
			if (pf[1 + 2 * i].revents)
				ok = forward(p, src[i], dst[i], true);
			if (ok && pf[2 + 2 * i].revents)
				ok = forward(p, dst[i], src[i], false);
			if (p->mode == CF_PROXY_TRUNCATE &&
			    p->forwarded >= p->at)
				cut = true;
			if (!ok || cut) {
				close(src[i]);
				close(dst[i]);
				src[i] = dst[i] = -1;
				open--;
			}
		}
	}
	for (int i = 0; i < n; i++)
		if (src[i] >= 0) {
			close(src[i]);
			close(dst[i]);
		}
	return NULL;
}

int cf_proxy_start(struct cf_proxy *p)
{
	struct sockaddr_un a;

	p->forwarded = 0;
	unlink(p->front);
	p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->lfd < 0)
		return -errno;
	unix_addr(p->front, &a);
	if (bind(p->lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(p->lfd, CF_MAX_CONN)) {
		int ret = -errno;

		close(p->lfd);
		return ret;
	}
	if (pthread_create(&p->th, NULL, relay, p)) {
		close(p->lfd);
		return -EAGAIN;
	}
	return 0;
}

void cf_proxy_stop(struct cf_proxy *p)
{
	pthread_join(p->th, NULL);
	close(p->lfd);
	unlink(p->front);
}
