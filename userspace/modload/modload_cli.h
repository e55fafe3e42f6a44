/* SPDX-License-Identifier: GPL-2.0 */
/* modload_cli.h - argument parsing of vfio-modload, split out for tests. */
#ifndef VFIO_MIGTEST_MODLOAD_CLI_H
#define VFIO_MIGTEST_MODLOAD_CLI_H

#include <stddef.h>

enum modload_cmd {
	MODLOAD_CMD_NONE,
	MODLOAD_CMD_HELP,
	MODLOAD_CMD_LOAD,
	MODLOAD_CMD_UNLOAD,
	MODLOAD_CMD_STATUS,
	MODLOAD_CMD_CHECK,
};

struct modload_cli_args {
	enum modload_cmd cmd;
	const char *moddir;	/* -d */
	const char *module;	/* name or path */
	const char *release;	/* check: kernel release to compare with */
	char params[1024];	/* load: "a=1 b=2" */
};

/*
 * modload_cli_parse() - parse argv into @a.  Returns 0, or -1 with a
 * one-line reason in @err.
 */
int modload_cli_parse(int argc, char **argv, struct modload_cli_args *a,
		      char *err, size_t errlen);

#endif /* VFIO_MIGTEST_MODLOAD_CLI_H */
