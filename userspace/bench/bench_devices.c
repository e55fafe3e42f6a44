// SPDX-License-Identifier: GPL-2.0
/*
 * bench_devices.c - mock device pairs for the benchmarks, and one
 * migration of them through the real CLI, "vfio-migrate local".
 */
#define _GNU_SOURCE
#include "bench.h"
#include "mockvf_dev.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int bench_devs_create(struct bench_devs *d, int n, const char *profile)
{
	int ret;

	memset(d, 0, sizeof(*d));
	for (int i = 0; i < n; i++) {
		ret = mockvf_create(profile, d->src[i]);
		if (!ret) {
			ret = mockvf_create(profile, d->dst[i]);
			if (ret)
				mockvf_remove(d->src[i]);
		}
		if (ret) {
			fprintf(stderr, "vfio-migbench: creating mockvf-%s device "
				"%d of %d: %s\n", profile, i + 1, n, strerror(-ret));
			bench_devs_remove(d);
			return ret;
		}
		d->n++;
	}
	return 0;
}

void bench_devs_remove(struct bench_devs *d)
{
	for (int i = 0; i < d->n; i++) {
		mockvf_remove(d->src[i]);
		mockvf_remove(d->dst[i]);
	}
	d->n = 0;
}

int bench_devs_set(struct bench_devs *d, const char *attr, const char *val,
		   bool dests_too)
{
	for (int i = 0; i < d->n; i++) {
		int ret = mockvf_attr_write(d->src[i], attr, val);

		if (!ret && dests_too)
			ret = mockvf_attr_write(d->dst[i], attr, val);
		if (ret) {
			fprintf(stderr, "vfio-migbench: %s <- %s: %s\n", attr, val,
				strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/*
 * The source's state at its final save is what must arrive: once
 * vfio-migrate exits, the source is closed, returns to RUNNING and a busy
 * device's workload changes its live digest again.  saved_digest keeps the
 * digest its last STOP_COPY stream carried.
 */
bool bench_digests_equal(const struct bench_devs *d)
{
	for (int i = 0; i < d->n; i++) {
		char a[64], b[64];

		if (mockvf_attr_read(d->src[i], "saved_digest", a, sizeof(a)) ||
		    mockvf_attr_read(d->dst[i], "digest", b, sizeof(b)) ||
		    strcmp(a, b)) {
			fprintf(stderr, "vfio-migbench: digest of %s differs from "
				"its source %s\n", d->dst[i], d->src[i]);
			return false;
		}
	}
	return true;
}

static void join_names(char *out, size_t len, char names[][40], int n)
{
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; i < n; i++)
		used += snprintf(out + used, len - used, "%s%s", i ? "," : "",
				 names[i]);
}

int bench_migrate(const struct bench_cfg *cfg, struct bench_devs *d,
		  const char *const *extra, const char *json,
		  struct bench_result *res)
{
	char srcs[BENCH_MAX_DEVS * 40], dsts[BENCH_MAX_DEVS * 40], err[256];
	const char *argv[48];
	int argc = 0, status;
	pid_t pid;

	join_names(srcs, sizeof(srcs), d->src, d->n);
	join_names(dsts, sizeof(dsts), d->dst, d->n);
	argv[argc++] = cfg->migrate;
	argv[argc++] = "local";
	argv[argc++] = "--src";
	argv[argc++] = srcs;
	argv[argc++] = "--dst";
	argv[argc++] = dsts;
	argv[argc++] = "--json";
	argv[argc++] = json;
	for (; extra && *extra && argc < 46; extra++)
		argv[argc++] = *extra;
	argv[argc] = NULL;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* The engine's own summary would drown the tables. */
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execv(cfg->migrate, (char **)argv);
		fprintf(stderr, "vfio-migbench: %s: %s\n", cfg->migrate,
			strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "vfio-migbench: vfio-migrate local failed "
			"(status %d); report: %s\n", status, json);
		return -EIO;
	}
	if (bench_read_report(json, res, err, sizeof(err))) {
		fprintf(stderr, "vfio-migbench: %s\n", err);
		return -EINVAL;
	}
	if (!res->ok) {
		fprintf(stderr, "vfio-migbench: report says the migration failed: %s\n",
			json);
		return -EIO;
	}
	return bench_digests_equal(d) ? 0 : -EIO;
}
