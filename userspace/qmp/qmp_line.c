// SPDX-License-Identifier: GPL-2.0
/*
 * qmp_line.c - newline-delimited messages on a non-blocking socket, every
 * wait bounded by a deadline and every line by QMP_MAX_LINE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"
#include "qmp_internal.h"

/* Bytes asked of the kernel per read. */
#define READ_CHUNK 65536
/* A full line, its "\r\n" and one read's worth of what follows it. */
#define BUF_MAX (QMP_MAX_LINE + 2 + READ_CHUNK)

int64_t qmp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int qmp_left_ms(int64_t deadline)
{
	int64_t left = deadline - qmp_now_ms();

	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

void qmp_line_init(struct qmp_line *l, int fd)
{
	memset(l, 0, sizeof(*l));
	l->fd = fd;
}

void qmp_line_free(struct qmp_line *l)
{
	free(l->buf);
	l->buf = NULL;
	l->len = l->cap = l->scanned = l->consumed = 0;
}

/* Wait until @fd is ready for @events or the deadline passes. */
static int wait_fd(int fd, short events, int64_t deadline,
		   char *err, size_t errlen)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, qmp_left_ms(deadline));

		if (n > 0)
			return 0;
		if (n == 0) {
			snprintf(err, errlen, "timed out");
			return -ETIMEDOUT;
		}
		if (errno != EINTR) {
			int e = errno;

			snprintf(err, errlen, "poll: %s (errno %d)",
				 strerror(e), e);
			return -e;
		}
	}
}

static void drop_consumed(struct qmp_line *l)
{
	if (!l->consumed)
		return;
	memmove(l->buf, l->buf + l->consumed, l->len - l->consumed);
	l->len -= l->consumed;
	l->consumed = 0;
	l->scanned = 0;
}

int qmp_line_read(struct qmp_line *l, int64_t deadline, char **line,
		  char *err, size_t errlen)
{
	drop_consumed(l);
	for (;;) {
		char *nl = l->len > l->scanned ?
			memchr(l->buf + l->scanned, '\n', l->len - l->scanned) :
			NULL;

		if (nl) {
			size_t n = (size_t)(nl - l->buf);

			l->consumed = n + 1;
			if (n > 0 && l->buf[n - 1] == '\r')
				n--;
			if (n > QMP_MAX_LINE)
				goto too_long;
			l->buf[n] = '\0';
			*line = l->buf;
			return 0;
		}
		l->scanned = l->len;
		/* No line end yet: a line may still end with '\r' right here. */
		if (l->len > QMP_MAX_LINE + 1)
			goto too_long;

		if (!l->buf) {
			l->buf = malloc(BUF_MAX);
			if (!l->buf) {
				snprintf(err, errlen,
					 "allocating the %d-byte receive buffer: %s (errno %d)",
					 BUF_MAX, strerror(ENOMEM), ENOMEM);
				return -ENOMEM;
			}
			l->cap = BUF_MAX;
		}

		int ret = wait_fd(l->fd, POLLIN, deadline, err, errlen);

		if (ret)
			return ret;
		ssize_t got = recv(l->fd, l->buf + l->len, l->cap - l->len, 0);

		if (got == 0) {
			if (l->len)
				snprintf(err, errlen,
					 "connection closed by the peer in the middle of a message (%zu bytes without a line end)",
					 l->len);
			else
				snprintf(err, errlen, "connection closed by the peer");
			return -ECONNRESET;
		}
		if (got < 0) {
			int e = errno;

			if (e == EINTR || e == EAGAIN || e == EWOULDBLOCK)
				continue;
			snprintf(err, errlen, "recv: %s (errno %d)", strerror(e), e);
			return e == EPIPE ? -ECONNRESET : -e;
		}
		l->len += (size_t)got;
	}

too_long:
	snprintf(err, errlen, "message longer than %d bytes", QMP_MAX_LINE);
	return -EMSGSIZE;
}

int qmp_line_write(struct qmp_line *l, const char *buf, size_t len,
		   int64_t deadline, char *err, size_t errlen)
{
	while (len) {
		/* MSG_NOSIGNAL: a dead QEMU must give EPIPE, not kill the test. */
		ssize_t n = send(l->fd, buf, len, MSG_NOSIGNAL);

		if (n >= 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		int e = errno;

		if (e == EINTR)
			continue;
		if (e == EAGAIN || e == EWOULDBLOCK) {
			int ret = wait_fd(l->fd, POLLOUT, deadline, err, errlen);

			if (ret)
				return ret;
			continue;
		}
		snprintf(err, errlen, "send: %s (errno %d)", strerror(e), e);
		return (e == EPIPE || e == ECONNRESET) ? -ECONNRESET : -e;
	}
	return 0;
}
