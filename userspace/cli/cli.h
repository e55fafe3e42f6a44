/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cli.h - vfio-migrate command line: parsing (cli_args.c) and the
 * commands (cli_cmds.c).  main.c only dispatches.
 */
#ifndef VFIOMIG_CLI_H
#define VFIOMIG_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "vfiomig_session.h"
#include "vfiomig_wire.h"

#define CLI_MAX_DEVS VFIOMIG_WIRE_MAX_DEVICES

enum cli_cmd { CLI_LOCAL, CLI_SEND, CLI_RECEIVE, CLI_INFO, CLI_PLOT };

struct cli_args {
	int cmd;
	struct vfiomig_opts o;
	const char *src[CLI_MAX_DEVS], *dst[CLI_MAX_DEVS];
	unsigned nsrc, ndst;
	const char *addr;
	const char *json;
	const char *port_file;
	const char *output;	/* plot: SVG path ("-" = stdout) */
	bool quiet;
	bool socket_transport;	/* local: socketpairs instead of memory */
	char *lists[2];		/* strdup'd --src/--dst lists, freed by cli_args_free() */
};

/* Exit statuses. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILED 1
#define CLI_EXIT_USAGE 2

/**
 * cli_parse() - parse argv (argv[0] is the program, argv[1] the command).
 * Returns 0, 1 when help was printed (exit 0), or -EINVAL with a one-line
 * reason in @err.
 */
int cli_parse(int argc, char **argv, struct cli_args *a, char *err,
	      size_t errlen);
void cli_args_free(struct cli_args *a);

/** cli_parse_size() - "4096", "64K", "1M", "2G" -> bytes; -EINVAL if malformed. */
int cli_parse_size(const char *s, unsigned long long *out);

/* Run a parsed command; returns an exit status. */
int cli_run(struct cli_args *a);

#endif /* VFIOMIG_CLI_H */
