// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-devtime - device-side downtime of the last migration, from mockvf
 * transition logs.
 *
 *	vfio-devtime [--json FILE] SRC=DST ...
 *
 * SRC and DST are mdev UUIDs (their /sys/bus/mdev/devices/UUID/mockvf/log
 * is read) or paths to files holding such a log.  Exit status: 0 when the
 * downtime was computed and no step failed, 1 otherwise, 2 on usage
 * errors.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devtime.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vfio-devtime [--json FILE] SRC=DST ...\n"
		"  SRC, DST: an mdev UUID (reads /sys/bus/mdev/devices/UUID/mockvf/log)\n"
		"            or the path of a file holding a mockvf transition log\n");
}

/* 8-4-4-4-12 hex digits.  A file named like that can be given as ./NAME. */
static int is_uuid(const char *s)
{
	static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(s) != sizeof(pat) - 1)
		return 0;
	for (size_t i = 0; pat[i]; i++)
		if (pat[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static int load(struct dt_log *log, const char *what, char *err, size_t errlen)
{
	char path[256];

	if (!is_uuid(what))
		return dt_log_read(log, what, err, errlen);
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/mockvf/log", what);
	int ret = dt_log_read(log, path, err, errlen);

	/* Messages name the device as the user did. */
	if (!ret)
		snprintf(log->name, sizeof(log->name), "%s", what);
	return ret;
}

int main(int argc, char **argv)
{
	const char *json = NULL;
	int first = 1;

	while (first < argc && argv[first][0] == '-') {
		if (!strcmp(argv[first], "--json") && first + 1 < argc) {
			json = argv[first + 1];
			first += 2;
		} else if (!strcmp(argv[first], "-h") || !strcmp(argv[first], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[first], "--")) {
			first++;
			break;
		} else {
			fprintf(stderr, "vfio-devtime: unknown option '%s'\n", argv[first]);
			usage(stderr);
			return 2;
		}
	}
	size_t n = (size_t)(argc - first);

	if (!n) {
		fprintf(stderr, "vfio-devtime: no SRC=DST pairs\n");
		usage(stderr);
		return 2;
	}
	struct dt_log *src = calloc(n, sizeof(*src));
	struct dt_log *dst = calloc(n, sizeof(*dst));
	struct dt_pair *pairs = calloc(n, sizeof(*pairs));
	int status = 1;
	char err[512];

	if (!src || !dst || !pairs) {
		fprintf(stderr, "vfio-devtime: %s (errno %d)\n", strerror(ENOMEM), ENOMEM);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char *arg = argv[first + (int)i];
		char *eq = strchr(arg, '=');

		if (!eq || eq == arg || !eq[1]) {
			fprintf(stderr, "vfio-devtime: '%s' is not SRC=DST\n", arg);
			usage(stderr);
			status = 2;
			goto out;
		}
		*eq = '\0';
		if (load(&src[i], arg, err, sizeof(err)) ||
		    load(&dst[i], eq + 1, err, sizeof(err))) {
			fprintf(stderr, "vfio-devtime: %s\n", err);
			goto out;
		}
	}

	struct dt_result r = { .pairs = pairs };

	dt_compute(src, dst, n, &r);
	dt_print(stdout, &r);
	if (json && dt_write_json(json, &r, err, sizeof(err))) {
		fprintf(stderr, "vfio-devtime: %s\n", err);
		goto out;
	}
	status = r.ok ? 0 : 1;
out:
	for (size_t i = 0; src && dst && i < n; i++) {
		dt_log_free(&src[i]);
		dt_log_free(&dst[i]);
	}
	free(src);
	free(dst);
	free(pairs);
	return status;
}
