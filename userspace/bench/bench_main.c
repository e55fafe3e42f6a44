// SPDX-License-Identifier: GPL-2.0
/*
 * bench_main.c - vfio-migbench [--reps N] [--out DIR] [--quick]
 *                [--migrate PATH] [parallel|qemu|scaling|reinit|datapath|all]...
 *
 * Runs inside the VM (make bench does that), loads mockvf, and prints the
 * tables.  Exit 0 only if every migration succeeded with equal digests.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "mockvf_dev.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: vfio-migbench [--reps N] [--out DIR] [--quick] [--migrate PATH]\n"
	"                     [parallel|qemu|scaling|reinit|datapath|all]...\n";

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "reps", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "quick", no_argument, NULL, 'q' },
		{ "migrate", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench_cfg cfg = { .reps = 5, .outdir = "build/bench" };
	char migrate[PATH_MAX], raw[PATH_MAX + 8];
	int opt, ret = 0, ran = 0;
	ssize_t n;

	/* vfio-migrate sits beside this binary. */
	n = readlink("/proc/self/exe", migrate, sizeof(migrate) - 20);
	if (n > 0) {
		migrate[n] = '\0';
		strcat(dirname(migrate), "/vfio-migrate");
	}
	cfg.migrate = migrate;
	while ((opt = getopt_long(argc, argv, "r:o:qm:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			cfg.reps = atoi(optarg);
			if (cfg.reps < 1 || cfg.reps > BENCH_MAX_REPS) {
				fprintf(stderr, "vfio-migbench: --reps must be 1..%d\n",
					BENCH_MAX_REPS);
				return 2;
			}
			break;
		case 'o':
			cfg.outdir = optarg;
			break;
		case 'q':
			cfg.quick = true;
			break;
		case 'm':
			cfg.migrate = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (access(cfg.migrate, X_OK)) {
		fprintf(stderr, "vfio-migbench: %s: %s (run make)\n", cfg.migrate,
			strerror(errno));
		return 2;
	}
	snprintf(raw, sizeof(raw), "%s/raw", cfg.outdir);
	mkdir(cfg.outdir, 0755);
	if (mkdir(raw, 0755) && errno != EEXIST) {
		fprintf(stderr, "vfio-migbench: %s: %s\n", raw, strerror(errno));
		return 2;
	}
	ret = mockvf_load();
	if (ret) {
		fprintf(stderr, "vfio-migbench: cannot load mockvf (%s): %s\n",
			mockvf_ko_path(), strerror(-ret));
		return 1;
	}
	for (int i = optind; i < argc || (!ran && i == argc); i++) {
		const char *what = i < argc ? argv[i] : "all";
		bool all = !strcmp(what, "all");
		int r = 0;

		if (!all && strcmp(what, "parallel") && strcmp(what, "reinit") &&
		    strcmp(what, "datapath") && strcmp(what, "qemu") &&
		    strcmp(what, "scaling")) {
			fprintf(stderr, "vfio-migbench: unknown benchmark '%s'\n%s",
				what, usage);
			return 2;
		}
		if (all || !strcmp(what, "parallel"))
			r |= bench_parallel(&cfg);
		if (all || !strcmp(what, "qemu"))
			r |= bench_qemu(&cfg);
		/* 16 devices: not part of the 1-2-4 --quick set */
		if ((all && !cfg.quick) || !strcmp(what, "scaling"))
			r |= bench_scaling(&cfg);
		if (all || !strcmp(what, "reinit"))
			r |= bench_reinit(&cfg);
		if (all || !strcmp(what, "datapath"))
			r |= bench_datapath(&cfg);
		ret |= r;
		ran = 1;
		if (i == argc)
			break;
	}
	printf("\nreports and timelines: %s/*.json, %s/*.svg\n", cfg.outdir,
	       cfg.outdir);
	if (ret)
		fprintf(stderr, "vfio-migbench: FAILED: a migration failed or a "
			"digest differed\n");
	return ret ? 1 : 0;
}
