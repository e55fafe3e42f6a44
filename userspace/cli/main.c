// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - vfio-migrate entry point: parse, run, exit status.
 */
#include <stdio.h>

#include "cli.h"

int main(int argc, char **argv)
{
	struct cli_args a;
	char err[256];
	int ret = cli_parse(argc, argv, &a, err, sizeof(err));

	if (ret == 1) {
		cli_args_free(&a);
		return CLI_EXIT_OK;
	}
	if (ret) {
		fprintf(stderr, "vfio-migrate: %s\n", err);
		cli_args_free(&a);
		return CLI_EXIT_USAGE;
	}
	ret = cli_run(&a);
	cli_args_free(&a);
	return ret;
}
