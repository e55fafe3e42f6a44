/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qmp_internal.h - the bounded line transport under the QMP client.
 *
 * Times are CLOCK_MONOTONIC milliseconds; a deadline is an absolute time
 * on that clock.  Functions return 0 or a negative errno and describe a
 * failure in err (without the context, which the caller adds).
 */
#ifndef VFIO_MIGTEST_QMP_INTERNAL_H
#define VFIO_MIGTEST_QMP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct qmp_line {
	int fd;
	char *buf;	/* received bytes: [0, len) */
	size_t len;
	size_t cap;
	size_t scanned;	/* [0, scanned) holds no '\n' */
	size_t consumed;	/* the last returned line, dropped on the next read */
};

int64_t qmp_now_ms(void);

/* The time left until @deadline, never negative, clamped to int. */
int qmp_left_ms(int64_t deadline);

void qmp_line_init(struct qmp_line *l, int fd);
void qmp_line_free(struct qmp_line *l);

/*
 * Read the next line (without "\r\n"), NUL-terminated, into *line; it stays
 * valid until the next call.  -ETIMEDOUT when @deadline passes first,
 * -ECONNRESET when the peer closes, -EMSGSIZE when a line exceeds
 * QMP_MAX_LINE bytes.
 */
int qmp_line_read(struct qmp_line *l, int64_t deadline, char **line,
		  char *err, size_t errlen);

/* Write all of @buf before @deadline; -ECONNRESET if the peer is gone. */
int qmp_line_write(struct qmp_line *l, const char *buf, size_t len,
		   int64_t deadline, char *err, size_t errlen);

#endif
