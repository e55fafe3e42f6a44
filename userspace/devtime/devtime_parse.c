// SPDX-License-Identifier: GPL-2.0
/*
 * devtime_parse.c - mockvf transition logs from text or a file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devtime.h"

/* mockvf keeps 4096 entries of well under 100 bytes; this is generous. */
#define MAX_LOG_BYTES (16u << 20)

static const char *const names[DT_NSTATES] = {
	[DT_STOP] = "STOP", [DT_RUNNING] = "RUNNING",
	[DT_STOP_COPY] = "STOP_COPY", [DT_RESUMING] = "RESUMING",
	[DT_RUNNING_P2P] = "RUNNING_P2P", [DT_PRE_COPY] = "PRE_COPY",
	[DT_PRE_COPY_P2P] = "PRE_COPY_P2P", [DT_ERROR] = "ERROR",
};

const char *dt_state_name(enum dt_state s)
{
	return (unsigned)s < DT_NSTATES ? names[s] : "unknown";
}

int dt_state_parse(const char *name)
{
	for (int i = 0; i < DT_NSTATES; i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);

	if (errno || *end)
		return -1;
	*v = x;
	return 0;
}

/* One line, already split at whitespace into @f[0..nf). */
static int parse_fields(char **f, int nf, struct dt_step *st,
			char *why, size_t whylen)
{
	if (nf < 5 || nf > 6) {
		snprintf(why, whylen, "expected '<start_ns> <end_ns> <FROM> <TO> <ret>[ <tag>]', got %s%d fields",
			 nf > 6 ? "more than " : "", nf > 6 ? 6 : nf);
		return -1;
	}
	if (parse_u64(f[0], &st->start_ns) || parse_u64(f[1], &st->end_ns)) {
		snprintf(why, whylen, "bad timestamp '%s %s'", f[0], f[1]);
		return -1;
	}
	if (st->end_ns < st->start_ns) {
		snprintf(why, whylen, "end_ns %" PRIu64 " is before start_ns %" PRIu64,
			 st->end_ns, st->start_ns);
		return -1;
	}
	int from = dt_state_parse(f[2]), to = dt_state_parse(f[3]);

	if (from < 0 || to < 0) {
		snprintf(why, whylen, "unknown state '%s'", from < 0 ? f[2] : f[3]);
		return -1;
	}
	st->from = from;
	st->to = to;
	char *end;

	errno = 0;
	long ret = strtol(f[4], &end, 10);

	if (errno || *end || end == f[4] || ret > 0 || ret < -4095) {
		snprintf(why, whylen, "bad ret '%s' (0 or a negative errno)", f[4]);
		return -1;
	}
	st->ret = (int)ret;
	st->tag[0] = '\0';
	if (nf == 6) {
		if (strlen(f[5]) >= sizeof(st->tag)) {
			snprintf(why, whylen, "tag '%.20s' too long", f[5]);
			return -1;
		}
		strcpy(st->tag, f[5]);
	}
	return 0;
}

int dt_log_parse(struct dt_log *log, const char *name, const char *text,
		 size_t len, char *err, size_t errlen)
{
	size_t cap = 0;
	unsigned lineno = 0;

	memset(log, 0, sizeof(*log));
	snprintf(log->name, sizeof(log->name), "%s", name);
	for (size_t pos = 0; pos < len; ) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char buf[256], why[160], *f[8];
		int nf = 0;

		lineno++;
		if (n >= sizeof(buf)) {
			snprintf(err, errlen, "%s:%u: line longer than %zu bytes",
				 name, lineno, sizeof(buf) - 1);
			goto bad;
		}
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		pos += n + (nl ? 1 : 0);
		if (memchr(buf, '\0', n)) {
			snprintf(err, errlen, "%s:%u: NUL byte in the line", name, lineno);
			goto bad;
		}
		for (char *save, *tok = strtok_r(buf, " \t\r", &save); tok;
		     tok = strtok_r(NULL, " \t\r", &save)) {
			if (nf == 7)
				break;
			f[nf++] = tok;
		}
		if (!nf)
			continue;	/* blank line */
		if (log->n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct dt_step *s = realloc(log->steps, ncap * sizeof(*s));

			if (!s) {
				snprintf(err, errlen, "%s: %s (errno %d)", name,
					 strerror(ENOMEM), ENOMEM);
				dt_log_free(log);
				return -ENOMEM;
			}
			log->steps = s;
			cap = ncap;
		}
		struct dt_step *st = &log->steps[log->n];

		if (parse_fields(f, nf, st, why, sizeof(why))) {
			snprintf(err, errlen, "%s:%u: %s", name, lineno, why);
			goto bad;
		}
		st->line = lineno;
		log->n++;
	}
	return 0;
bad:
	dt_log_free(log);
	return -EINVAL;
}

int dt_log_read(struct dt_log *log, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(log, 0, sizeof(*log));
	if (fd < 0) {
		int e = errno;

		snprintf(err, errlen, "open %s: %s (errno %d)", path, strerror(e), e);
		return -e;
	}
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);

	for (;;) {
		if (!buf) {
			snprintf(err, errlen, "reading %s: %s (errno %d)", path,
				 strerror(ENOMEM), ENOMEM);
			close(fd);
			return -ENOMEM;
		}
		/* A sysfs binary attribute: read until EOF, it may exceed a page. */
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			snprintf(err, errlen, "read %s: %s (errno %d)", path,
				 strerror(e), e);
			free(buf);
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			if (cap >= MAX_LOG_BYTES) {
				snprintf(err, errlen, "%s: longer than %u bytes, not a mockvf log",
					 path, MAX_LOG_BYTES);
				free(buf);
				close(fd);
				return -EFBIG;
			}
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				free(buf);
			buf = nb;
			cap *= 2;
		}
	}
	close(fd);
	int ret = dt_log_parse(log, path, buf, len, err, errlen);

	free(buf);
	return ret;
}

void dt_log_free(struct dt_log *log)
{
	free(log->steps);
	log->steps = NULL;
	log->n = 0;
}
